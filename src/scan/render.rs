//! Rendering output rows: terminal output (default), CSV, or JSON lines; and the summary
//! line printed on stderr.
//!
//! * **terminal** (`--format table`), laid out per [`Layout`]: in `auto` (the default) the
//!   table below when every cell fits on one line at the width, else one card per row
//!   (module `cards`: findings first, labelled fields, values wrapped but never shortened).
//!   Colour, if the caller enables it ([`use_color`]), only marks the renderer's own text.
//! * **table**: a readable subset of the columns ([`TABLE_COLUMNS`], or `--columns`), fitted
//!   to the terminal width. Multivalues are joined with `", "` and wrapped at value
//!   boundaries over at most [`MAX_CELL_LINES`] lines; a single value that does not fit is
//!   shortened in the middle with `…` (both ends of ARNs, paths and operation names carry
//!   meaning). Control and bidirectional-override characters from the logs are replaced, so
//!   log content cannot move the cursor or recolour the terminal.
//! * **csv**: every column, header first; a multivalue is joined with `\n` inside one quoted
//!   field, as Splunk's own CSV export does (spreadsheets show it as a multi-line cell).
//! * **json**: JSON lines, one object per row, columns in row order; a multivalue is an
//!   array of strings, a single value a string (values are kept as the engine's strings,
//!   numbers included, exactly as Splunk would receive them).

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::detect::row::{OutValue, OutputRow};
use crate::scan::input::ReadStats;

mod cards;

/// The columns shown in the table by default, in this order (those present in the rows:
/// `result_status` and `source_ip` are the `mode=events` counterparts of the summary's
/// counts and `source_ips`).
pub const TABLE_COLUMNS: &[&str] = &[
    "event_time",
    "caller_identity",
    "cloud",
    "operation_lower",
    "result_status",
    "invocation_count",
    "vm_count",
    "multi_vm_targeting",
    "cross_tenant",
    "targeted_vms",
    "source_ips",
    "source_ip",
];

/// Most lines one table cell may take; further values are summarised as `(+N more)`.
pub const MAX_CELL_LINES: usize = 6;

/// Widest a multivalue cell asks to be to show its values on one line; a longer list is
/// shown one value per line.
const MAX_JOINED_WIDTH: usize = 32;

/// Table width when `COLUMNS` is not set or not a number.
pub const DEFAULT_WIDTH: usize = 120;

/// Space between table columns.
const GAP: &str = "  ";

/// Output format of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Readable terminal output of the main columns: a table or cards (see --layout).
    #[default]
    Table,
    /// CSV with every column; multivalues joined with newlines.
    Csv,
    /// JSON lines with every column; multivalues as arrays.
    Json,
}

/// The table width: `COLUMNS` when it holds a number of at least 20, else [`DEFAULT_WIDTH`].
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&w| w >= 20)
        .unwrap_or(DEFAULT_WIDTH)
}

/// How `--format table` lays rows out on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Layout {
    /// The table when every cell fits on one line, else cards.
    #[default]
    Auto,
    /// Always the table (cells wrap to fit the width).
    Table,
    /// One card per row (`psql \x` style), findings first.
    Cards,
}

/// Terminal output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// Total width in characters the output should fit in (it may exceed it only when even
    /// the narrowest layout does not fit).
    pub width: usize,
    /// Columns to show, in order; `None` for the default subset.
    pub columns: Option<Vec<String>>,
    /// Table, cards, or whichever reads better at this width.
    pub layout: Layout,
    /// Colour the verdict tags and headings (ANSI). Only ever around the renderer's own
    /// text, never around log content; the caller decides (terminal, `NO_COLOR`).
    pub color: bool,
    /// `invocation_count` includes failed invocations (`include_failed`): the cards then
    /// say how many of the count succeeded; otherwise the failed ones come on top.
    pub failed_in_count: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            width: DEFAULT_WIDTH,
            columns: None,
            layout: Layout::Auto,
            color: false,
            failed_in_count: false,
        }
    }
}

/// Whether colour should be used on a stream: it is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>).
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes rows in the given format.
pub fn write_rows(
    w: &mut dyn Write,
    rows: &[OutputRow],
    format: Format,
    table: &TableOptions,
) -> io::Result<()> {
    match format {
        Format::Table => write_table(w, rows, table),
        Format::Csv => write_csv(w, rows),
        Format::Json => write_json(w, rows),
    }
}

/// Every column name of the rows, in order of first appearance.
pub fn all_columns(rows: &[OutputRow]) -> Vec<&'static str> {
    let mut cols: Vec<&'static str> = Vec::new();
    for row in rows {
        for (name, _) in &row.columns {
            if !cols.contains(name) {
                cols.push(name);
            }
        }
    }
    cols
}

/// Whether a row is a finding worth attention: multi-VM targeting or a cross-tenant caller.
/// This is what `--fail-on-findings` and the summary count.
pub fn is_finding(row: &OutputRow) -> bool {
    flag(row, "multi_vm_targeting") || flag(row, "cross_tenant")
}

fn flag(row: &OutputRow, name: &str) -> bool {
    matches!(row.get(name), Some(OutValue::Single(v)) if v.eq_ignore_ascii_case("true"))
}

// ---------------------------------------------------------------------------------------
// CSV and JSON

/// CSV, every column, header first (the header alone when there are no rows). Rows
/// lacking a column get an empty field.
pub fn write_csv(w: &mut dyn Write, rows: &[OutputRow]) -> io::Result<()> {
    let cols = all_columns(rows);
    write_csv_header(w, &cols)?;
    for row in rows {
        write_csv_row(w, &cols, row)?;
    }
    Ok(())
}

/// The CSV header line (nothing when `cols` is empty).
pub fn write_csv_header<C: AsRef<str>>(w: &mut dyn Write, cols: &[C]) -> io::Result<()> {
    if cols.is_empty() {
        return Ok(());
    }
    let mut out = csv::Writer::from_writer(w);
    out.write_record(cols.iter().map(|c| c.as_ref()))
        .map_err(csv_err)?;
    out.flush()
}

/// One CSV row with the fields of `cols`; a multivalue is joined with `\n`.
pub fn write_csv_row<C: AsRef<str>>(
    w: &mut dyn Write,
    cols: &[C],
    row: &OutputRow,
) -> io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let record = cols.iter().map(|c| match row.get(c.as_ref()) {
        None => String::new(),
        Some(OutValue::Single(s)) => s.clone(),
        Some(OutValue::Multi(v)) => v.join("\n"),
    });
    out.write_record(record).map_err(csv_err)?;
    out.flush()
}

fn csv_err(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// JSON lines: one object per row.
pub fn write_json(w: &mut dyn Write, rows: &[OutputRow]) -> io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *w, &JsonRow(row)).map_err(io::Error::other)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

struct JsonRow<'a>(&'a OutputRow);

impl Serialize for JsonRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.columns.len()))?;
        for (name, value) in &self.0.columns {
            match value {
                OutValue::Single(v) => map.serialize_entry(name, v)?,
                OutValue::Multi(v) => map.serialize_entry(name, v)?,
            }
        }
        map.end()
    }
}

// ---------------------------------------------------------------------------------------
// Table

/// The columns the table shows: the requested ones, else the default subset present in the
/// rows, else (when fewer than three of those are present, as for other row kinds) all.
pub fn table_columns(rows: &[OutputRow], requested: Option<&[String]>) -> Vec<String> {
    if let Some(req) = requested {
        return req
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
    }
    let present = all_columns(rows);
    let subset: Vec<String> = TABLE_COLUMNS
        .iter()
        .filter(|c| present.contains(c))
        .map(|c| c.to_string())
        .collect();
    if subset.len() >= 3 {
        subset
    } else {
        present.iter().map(|c| c.to_string()).collect()
    }
}

/// The terminal output: a table fitted to `opts.width`, or cards (see [`Layout`]: in
/// `auto`, the table only when every cell fits on one line). No rows: a single line saying
/// so.
pub fn write_table(w: &mut dyn Write, rows: &[OutputRow], opts: &TableOptions) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(w, "(no rows)");
    }
    let names = table_columns(rows, opts.columns.as_deref());
    let cols: Vec<Column> = names.iter().map(|n| Column::new(n, rows)).collect();
    let cards = match opts.layout {
        Layout::Table => false,
        Layout::Cards => true,
        Layout::Auto => !fits_on_one_line(&cols, opts.width),
    };
    if cards {
        return cards::write_cards(w, rows, opts);
    }
    let widths = fit_widths(&cols, opts.width);

    let header: Vec<Vec<String>> = cols
        .iter()
        .zip(&widths)
        .map(|(c, &w)| wrap_header(&c.name, w))
        .collect();
    write_line_group(w, &header, &widths, &vec![false; cols.len()])?;
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    writeln!(w, "{}", rule.join(GAP))?;

    let right: Vec<bool> = cols.iter().map(|c| c.numeric).collect();
    let cells: Vec<Vec<Vec<String>>> = (0..rows.len())
        .map(|r| {
            cols.iter()
                .zip(&widths)
                .map(|(c, &w)| layout_cell(&c.values[r], w))
                .collect()
        })
        .collect();
    let multi_line = cells.iter().any(|row| row.iter().any(|c| c.len() > 1));
    for (i, row) in cells.iter().enumerate() {
        if multi_line && i > 0 {
            writeln!(w)?;
        }
        write_line_group(w, row, &widths, &right)?;
    }
    Ok(())
}

/// Columns whose values are never shortened or wrapped (timestamps and flags read badly
/// in pieces); numeric columns are treated the same way.
const RIGID_COLUMNS: &[&str] = &[
    "event_time",
    "_time",
    "first_seen",
    "last_seen",
    "cloud",
    "multi_vm_targeting",
    "cross_tenant",
];

/// One table column: its name and every row's values, sanitised for the terminal.
struct Column {
    name: String,
    values: Vec<Vec<String>>,
    /// Width of the widest cell on one line (multivalues joined with `", "`).
    joined_width: usize,
    /// Width of the widest cell when long multivalues are shown one value per line.
    values_width: usize,
    /// Width of the longest `_`-separated piece of the header.
    header_min: usize,
    /// Values are kept whole: the column never gets narrower than `values_width`.
    rigid: bool,
    /// Every value is a number: right-aligned.
    numeric: bool,
}

impl Column {
    fn new(name: &str, rows: &[OutputRow]) -> Column {
        let values: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.get(name)
                    .map(|v| v.values().into_iter().map(sanitize).collect())
                    .unwrap_or_default()
            })
            .collect();
        let joined = |v: &Vec<String>| {
            v.iter().map(|s| width(s)).sum::<usize>() + 2 * v.len().saturating_sub(1)
        };
        // When space is short, a long multivalue is shown one value per line, so it asks
        // for the width of its widest value, not of the whole list.
        let compact = |v: &Vec<String>| {
            if v.len() <= 1 || joined(v) <= MAX_JOINED_WIDTH {
                joined(v)
            } else {
                v.iter().map(|s| width(s)).max().unwrap_or(0)
            }
        };
        let joined_width = values.iter().map(joined).max().unwrap_or(0);
        let values_width = values.iter().map(compact).max().unwrap_or(0);
        let header_min = header_pieces(name).map(width).max().unwrap_or(0);
        let numeric = values
            .iter()
            .all(|v| v.len() <= 1 && v.iter().all(|s| !s.is_empty() && s.parse::<f64>().is_ok()))
            && values.iter().any(|v| !v.is_empty());
        Column {
            name: name.to_string(),
            values,
            joined_width,
            values_width,
            header_min,
            rigid: numeric || RIGID_COLUMNS.contains(&name),
            numeric,
        }
    }

    /// Width with the header and every cell on one line.
    fn full(&self) -> usize {
        self.joined_width.max(width(&self.name))
    }

    /// Width with the header wrapped at `_` and every value whole.
    fn natural(&self) -> usize {
        self.values_width.max(self.header_min).max(1)
    }

    /// Narrowest width: rigid columns keep their values whole; others may wrap down to a
    /// few characters (but not below their header's longest piece).
    fn min(&self) -> usize {
        if self.rigid {
            self.natural()
        } else {
            self.header_min.max(6).min(self.natural())
        }
    }
}

/// Whether every header and cell fits on one line at this total width.
fn fits_on_one_line(cols: &[Column], total: usize) -> bool {
    let gaps = GAP.len() * cols.len().saturating_sub(1);
    cols.iter().map(Column::full).sum::<usize>() + gaps <= total
}

/// Column widths. Full widths (one-line headers) if they fit; else natural widths
/// (wrapped headers) if they fit; else every column gets `clamp(level, min, natural)` for
/// the largest `level` that fits — the widest columns shrink first and equally — and the
/// remainder goes one character at a time to shrunk columns.
fn fit_widths(cols: &[Column], total: usize) -> Vec<usize> {
    let gaps = GAP.len() * cols.len().saturating_sub(1);
    let avail = total.saturating_sub(gaps);
    let full: Vec<usize> = cols.iter().map(Column::full).collect();
    if full.iter().sum::<usize>() <= avail {
        return full;
    }
    let natural: Vec<usize> = cols.iter().map(Column::natural).collect();
    if natural.iter().sum::<usize>() <= avail {
        return natural;
    }
    let at = |level: usize| -> Vec<usize> {
        cols.iter()
            .map(|c| level.clamp(c.min(), c.natural()))
            .collect()
    };
    let max_level = natural.iter().copied().max().unwrap_or(0);
    // Largest level whose layout fits (the sum grows with the level).
    let (mut lo, mut hi) = (0usize, max_level);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if at(mid).iter().sum::<usize>() <= avail {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut widths = at(lo);
    let mut left = avail.saturating_sub(widths.iter().sum());
    for (w, c) in widths.iter_mut().zip(cols) {
        if left == 0 {
            break;
        }
        if *w < c.natural() {
            *w += 1;
            left -= 1;
        }
    }
    widths
}

/// Writes cells that may span several lines, padding each to its column width.
fn write_line_group(
    w: &mut dyn Write,
    cells: &[Vec<String>],
    widths: &[usize],
    right: &[bool],
) -> io::Result<()> {
    let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
    for l in 0..lines {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str(GAP);
            }
            let text = cell.get(l).map(String::as_str).unwrap_or("");
            let pad = widths[i].saturating_sub(width(text));
            if right[i] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(text);
            } else {
                line.push_str(text);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Display width in terminal columns (`unicode-width`: wide East Asian characters and
/// emoji take two, combining marks none). Only meaningful for [`sanitize`]d text.
fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Splits `s` after its longest prefix at most `w` columns wide, taking at least one
/// character when `w > 0` (so hard-breaking always progresses, even with a character wider
/// than the line).
pub(crate) fn split_at_width(s: &str, w: usize) -> (&str, &str) {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw > w && (i > 0 || w == 0) {
            return s.split_at(i);
        }
        used += cw;
    }
    (s, "")
}

/// The longest suffix of `s` at most `w` columns wide.
fn tail_of_width(s: &str, w: usize) -> &str {
    let mut used = 0;
    let mut start = s.len();
    for (i, c) in s.char_indices().rev() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw > w {
            break;
        }
        used += cw;
        start = i;
    }
    &s[start..]
}

/// Replaces characters that would disturb the terminal: C0/C1 controls (escape sequences,
/// newlines, tabs) and bidirectional overrides.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if c.is_control() => '?',
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '?',
            c => c,
        })
        .collect()
}

/// The header split after each `_`, so `multi_vm_targeting` can wrap as `multi_vm_` /
/// `targeting`.
fn header_pieces(name: &str) -> impl Iterator<Item = &str> {
    name.split_inclusive('_')
}

fn wrap_header(name: &str, w: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for piece in header_pieces(name) {
        if !cur.is_empty() && width(&cur) + width(piece) > w {
            lines.push(std::mem::take(&mut cur));
        }
        cur.push_str(piece);
        // A piece longer than the column is hard-broken.
        while width(&cur) > w && w > 0 {
            let (head, tail) = split_at_width(&cur, w);
            let (head, tail) = (head.to_string(), tail.to_string());
            lines.push(head);
            cur = tail;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Shortens `s` to `w` columns by replacing its middle with `…`.
pub fn truncate_middle(s: &str, w: usize) -> String {
    let n = width(s);
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let keep = w - 1;
    let tail = keep / 2;
    let head = keep - tail;
    let (first, rest) = split_at_width(s, head);
    // A wide character may not fit the head exactly: the tail gets what is left.
    let first = if width(first) > head { "" } else { first };
    let last = tail_of_width(rest, keep - width(first));
    format!("{first}…{last}")
}

/// Lays out the values of one cell in a column of width `w`, in at most
/// [`MAX_CELL_LINES`] lines. A single value that does not fit wraps after `/ . @ : - _`
/// (so ARNs, e-mail addresses and operation names break where they read well). Multiple
/// values are joined with `", "` when they fit on one line, else shown one per line as
/// Splunk does (each shortened in the middle to fit), with `(+N more)` when lines run out.
fn layout_cell(values: &[String], w: usize) -> Vec<String> {
    match values {
        [] => Vec::new(),
        [single] => wrap_value(single, w),
        _ => {
            let joined = values.join(", ");
            if width(&joined) <= w {
                return vec![joined];
            }
            if values.len() <= MAX_CELL_LINES {
                return values.iter().map(|v| truncate_middle(v, w)).collect();
            }
            let shown = MAX_CELL_LINES - 1;
            let mut lines: Vec<String> = values[..shown]
                .iter()
                .map(|v| truncate_middle(v, w))
                .collect();
            lines.push(truncate_middle(
                &format!("(+{} more)", values.len() - shown),
                w,
            ));
            lines
        }
    }
}

/// Splits after each run of break characters: `arn:aws:iam::1/x` gives `arn:`, `aws:`,
/// `iam::`, `1/`, `x`.
fn break_pieces(v: &str) -> Vec<&str> {
    let is_break = |c: char| matches!(c, '/' | '.' | '@' | ':' | '-' | '_' | ' ');
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = v.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_break = chars.peek().is_some_and(|&(_, n)| is_break(n));
        if is_break(c) && !next_is_break {
            let end = i + c.len_utf8();
            pieces.push(&v[start..end]);
            start = end;
        }
    }
    if start < v.len() {
        pieces.push(&v[start..]);
    }
    pieces
}

/// Wraps one value after break characters; a piece longer than `w` is broken anywhere.
/// Beyond [`MAX_CELL_LINES`] lines, the last line shows the end of the value after `…`.
fn wrap_value(v: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    if width(v) <= w {
        return vec![v.to_string()];
    }
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for piece in break_pieces(v) {
        if !cur.is_empty() && width(&cur) + width(piece) > w {
            lines.push(std::mem::take(&mut cur));
        }
        cur.push_str(piece);
        while width(&cur) > w {
            let (head, tail) = split_at_width(&cur, w);
            let (head, tail) = (head.to_string(), tail.to_string());
            lines.push(head);
            cur = tail;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > MAX_CELL_LINES {
        let rest: String = lines[MAX_CELL_LINES - 1..].concat();
        lines.truncate(MAX_CELL_LINES - 1);
        let tail = tail_of_width(&rest, w.saturating_sub(1));
        lines.push(if w > 1 {
            format!("…{tail}")
        } else {
            "…".into()
        });
    }
    lines
}

// ---------------------------------------------------------------------------------------
// Summary

/// The one-line summary printed on stderr after a scan, e.g.
/// `scan: 4 files, 83 events, 1 input problem (bad_json 1), 12 events not used
/// (other_operation 12), 9 rows, 3 findings (2 multi-VM, 1 cross-tenant)`.
///
/// `skipped` are the detection's own counts of events it did not use, by reason.
pub fn summary_line(stats: &ReadStats, skipped: &[(String, u64)], counts: &RowCounts) -> String {
    let mut s = format!(
        "scan: {} file{}",
        stats.files,
        if stats.files == 1 { "" } else { "s" }
    );
    let skipped_files = stats.skipped_count();
    if skipped_files > 0 {
        let by: Vec<String> = stats
            .skipped
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        s.push_str(&format!(" ({skipped_files} skipped: {})", by.join(", ")));
    }
    s.push_str(&format!(", {} event{}", stats.events, plural(stats.events)));
    let problems = stats.problem_count();
    if problems > 0 {
        let by: Vec<String> = stats
            .problems
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        s.push_str(&format!(
            ", {problems} input problem{} ({})",
            plural(problems),
            by.join(", ")
        ));
    }
    let not_used: u64 = skipped.iter().map(|(_, n)| n).sum();
    if not_used > 0 {
        let by: Vec<String> = skipped
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        s.push_str(&format!(
            ", {not_used} event{} not used ({})",
            plural(not_used),
            by.join(", ")
        ));
    }
    let RowCounts {
        rows,
        findings,
        multi_vm: multi,
        cross_tenant: cross,
    } = *counts;
    s.push_str(&format!(
        ", {} row{}, {} finding{}",
        rows,
        plural(rows),
        findings,
        plural(findings)
    ));
    if findings > 0 {
        s.push_str(&format!(" ({multi} multi-VM, {cross} cross-tenant)"));
    }
    s
}

/// Rows written and how many are findings, counted as rows stream out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub rows: u64,
    pub findings: u64,
    pub multi_vm: u64,
    pub cross_tenant: u64,
}

impl RowCounts {
    pub fn add(&mut self, row: &OutputRow) {
        self.rows += 1;
        self.findings += u64::from(is_finding(row));
        self.multi_vm += u64::from(flag(row, "multi_vm_targeting"));
        self.cross_tenant += u64::from(flag(row, "cross_tenant"));
    }

    pub fn of(rows: &[OutputRow]) -> RowCounts {
        let mut c = RowCounts::default();
        for r in rows {
            c.add(r);
        }
        c
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::input::ProblemKind;

    /// A row from `(column, values)` pairs: one value is single, several are a multivalue.
    pub(super) fn row(cols: &[(&'static str, &[&str])]) -> OutputRow {
        OutputRow {
            columns: cols
                .iter()
                .map(|(n, v)| {
                    let val = if v.len() == 1 {
                        OutValue::Single(v[0].to_string())
                    } else {
                        OutValue::Multi(v.iter().map(|s| s.to_string()).collect())
                    };
                    (*n, val)
                })
                .collect(),
        }
    }

    pub(super) fn sample_rows() -> Vec<OutputRow> {
        vec![
            row(&[
                ("event_time", &["2026-03-14T09:12:03Z"]),
                ("caller_identity", &["mallory@contoso.example"]),
                ("cloud", &["azure"]),
                (
                    "operation_lower",
                    &["microsoft.compute/virtualmachines/runcommand/action"],
                ),
                ("invocation_count", &["6"]),
                ("vm_count", &["6"]),
                ("multi_vm_targeting", &["TRUE"]),
                ("cross_tenant", &["FALSE"]),
                (
                    "targeted_vms",
                    &[
                        "vm-app-01",
                        "vm-app-02",
                        "vm-app-03",
                        "vm-app-04",
                        "vm-app-05",
                        "vm-app-06",
                    ],
                ),
                ("source_ips", &["203.0.113.45"]),
                ("first_seen", &["1773479523"]),
            ]),
            row(&[
                ("event_time", &["2026-03-14T10:00:00Z"]),
                (
                    "caller_identity",
                    &["arn:aws:iam::111122223333:user/deploy"],
                ),
                ("cloud", &["aws"]),
                ("operation_lower", &["ssm.amazonaws.com/sendcommand"]),
                ("invocation_count", &["1"]),
                ("vm_count", &["0"]),
                ("multi_vm_targeting", &["FALSE"]),
                ("cross_tenant", &["true"]),
                ("targeted_vms", &[]),
                ("source_ips", &["198.51.100.7", "2001:db8::5"]),
                ("first_seen", &["1773482400"]),
            ]),
        ]
    }

    fn render(rows: &[OutputRow], f: Format, width: usize) -> String {
        let mut out = Vec::new();
        let opts = TableOptions {
            width,
            layout: Layout::Table,
            ..TableOptions::default()
        };
        write_rows(&mut out, rows, f, &opts).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_has_every_column_and_newline_joined_multivalues() {
        let text = render(&sample_rows(), Format::Csv, 80);
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let headers = rd.headers().unwrap().clone();
        assert_eq!(headers.len(), 11);
        assert_eq!(&headers[10], "first_seen");
        let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            &recs[0][8],
            "vm-app-01\nvm-app-02\nvm-app-03\nvm-app-04\nvm-app-05\nvm-app-06"
        );
        assert_eq!(&recs[1][8], "");
        assert_eq!(&recs[1][9], "198.51.100.7\n2001:db8::5");
    }

    #[test]
    fn csv_of_rows_with_different_columns_fills_blanks() {
        let rows = vec![
            row(&[("a", &["1"])]),
            row(&[("b", &["x,y"]), ("a", &["2"])]),
        ];
        let text = render(&rows, Format::Csv, 80);
        assert_eq!(text, "a,b\n1,\n2,\"x,y\"\n");
        assert_eq!(render(&[], Format::Csv, 80), "");
    }

    #[test]
    fn json_lines_keep_order_and_arrays() {
        let text = render(&sample_rows(), Format::Json, 80);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("{\"event_time\":\"2026-03-14T09:12:03Z\",\"caller_identity\"")
        );
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(
            v["source_ips"],
            serde_json::json!(["198.51.100.7", "2001:db8::5"])
        );
        assert_eq!(v["invocation_count"], "1");
        // An empty multivalue stays an array.
        assert_eq!(v["targeted_vms"], serde_json::json!([]));
    }

    #[test]
    fn table_fits_width_and_shows_default_subset() {
        for width in [120usize, 160, 200] {
            let text = render(&sample_rows(), Format::Table, width);
            for line in text.lines() {
                assert!(
                    super::width(line) <= width,
                    "width {width}: {line:?} is {} columns",
                    super::width(line)
                );
            }
            assert!(!text.contains("first_seen"), "not a default column");
            assert!(text.contains("event_"));
        }
        let wide = render(&sample_rows(), Format::Table, 400);
        // At full width nothing is shortened and each row is one line.
        assert!(!wide.contains('…'));
        assert_eq!(wide.lines().count(), 4, "{wide}");
        assert!(wide.contains("vm-app-01, vm-app-02, vm-app-03, vm-app-04, vm-app-05, vm-app-06"));
        assert!(wide.contains("microsoft.compute/virtualmachines/runcommand/action"));
    }

    #[test]
    fn auto_layout_keeps_the_table_only_when_every_cell_fits_on_one_line() {
        let auto = |width: usize, columns: Option<Vec<String>>| {
            let mut out = Vec::new();
            let opts = TableOptions {
                width,
                columns,
                ..TableOptions::default()
            };
            write_rows(&mut out, &sample_rows(), Format::Table, &opts).unwrap();
            String::from_utf8(out).unwrap()
        };
        let wide = auto(400, None);
        assert_eq!(wide, render(&sample_rows(), Format::Table, 400));
        assert!(wide.starts_with("event_time"), "{wide}");
        for width in [80, 120, 200] {
            let text = auto(width, None);
            assert!(text.starts_with("── 2 findings"), "{width}: {text}");
        }
        // A narrow column choice fits at 80: the table stays.
        let cols = Some(vec!["cloud".to_string(), "vm_count".to_string()]);
        let text = auto(80, cols);
        assert_eq!(text.lines().next(), Some("cloud  vm_count"), "{text}");
    }

    #[test]
    fn narrow_table_wraps_values_at_natural_breaks() {
        let text = render(&sample_rows(), Format::Table, 120);
        // Short values such as IP addresses are kept whole, one per line.
        assert!(
            text.contains(" 198.51.100.7\n") && text.contains(" 2001:db8::5\n"),
            "{text}"
        );
        // The operation wraps after its `/` separators.
        assert!(text.contains(" compute/ "), "{text}");
        // Multivalues that do not fit on one line are shown one per line.
        assert!(text.contains(" vm-app-02\n"), "{text}");
        assert!(!text.contains("vm-app-01, vm-app-02"), "{text}");
        assert!(text.contains("multi_vm_"), "{text}");
    }

    #[test]
    fn any_width_renders_without_panicking() {
        let mut rows = sample_rows();
        rows.push(row(&[
            ("caller_identity", &["é\u{1b}x😀"]),
            ("targeted_vms", &[]),
        ]));
        for width in 0..140 {
            let text = render(&rows, Format::Table, width);
            assert!(text.lines().count() >= 4, "width {width}");
        }
    }

    #[test]
    fn numbers_are_right_aligned() {
        let rows = vec![
            row(&[
                ("caller_identity", &["a"]),
                ("cloud", &["x"]),
                ("vm_count", &["12"]),
            ]),
            row(&[
                ("caller_identity", &["b"]),
                ("cloud", &["y"]),
                ("vm_count", &["3"]),
            ]),
        ];
        let text = render(&rows, Format::Table, 80);
        let last = text.lines().last().unwrap();
        assert!(last.ends_with("       3"), "{text}");
    }

    #[test]
    fn layout_cell_overflow_counts_hidden_values() {
        let vals: Vec<String> = (0..20).map(|i| format!("vm-{i:02}")).collect();
        let lines = layout_cell(&vals, 12);
        assert_eq!(lines.len(), MAX_CELL_LINES);
        assert_eq!(lines[0], "vm-00");
        assert_eq!(
            lines[MAX_CELL_LINES - 1],
            format!("(+{} more)", 20 - (MAX_CELL_LINES - 1))
        );
        assert_eq!(layout_cell(&vals[..3], 30), ["vm-00, vm-01, vm-02"]);
        assert_eq!(layout_cell(&vals[..3], 10), ["vm-00", "vm-01", "vm-02"]);
        assert!(layout_cell(&[], 10).is_empty());
    }

    #[test]
    fn single_values_wrap_at_break_characters() {
        assert_eq!(
            wrap_value("microsoft.compute/virtualmachines/runcommand/action", 18),
            [
                "microsoft.compute/",
                "virtualmachines/",
                "runcommand/action"
            ]
        );
        assert_eq!(wrap_value("short", 18), ["short"]);
        assert_eq!(
            wrap_value("arn:aws:iam::111122223333:user/deploy", 14),
            ["arn:aws:iam::", "111122223333:", "user/deploy"]
        );
        let long = wrap_value(&"abcdefghij".repeat(10), 10);
        assert_eq!(long.len(), MAX_CELL_LINES);
        assert_eq!(long[MAX_CELL_LINES - 1], "…bcdefghij");
    }

    #[test]
    fn truncation_and_sanitising() {
        assert_eq!(truncate_middle("abcdefghij", 5), "ab…ij");
        assert_eq!(truncate_middle("abc", 5), "abc");
        assert_eq!(truncate_middle("abcdef", 1), "…");
        assert_eq!(sanitize("a\u{1b}[31mb\nc\u{202e}d"), "a?[31mb c?d");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        assert_eq!(width("vm-東京"), 7);
        assert_eq!(width("ok 👍"), 5);
        // Head and tail of the shortened value are measured in columns.
        assert_eq!(truncate_middle("東京大阪名古屋", 7), "東…古屋");
        assert!(width(&truncate_middle("東京大阪名古屋", 6)) <= 6);
        assert_eq!(split_at_width("東京", 1), ("東", "京"), "always progresses");
        let rows = vec![row(&[
            ("caller_identity", &["管理者@contoso.example"]),
            ("cloud", &["azure"]),
            (
                "targeted_vms",
                &["東京-vm-01", "大阪-vm-02", "名古屋-vm-03"],
            ),
            ("multi_vm_targeting", &["TRUE"]),
        ])];
        for (w, layout) in [
            (24, Layout::Cards),
            (40, Layout::Cards),
            (50, Layout::Table),
            (80, Layout::Table),
            (80, Layout::Auto),
        ] {
            {
                let mut out = Vec::new();
                let opts = TableOptions {
                    width: w,
                    layout,
                    ..TableOptions::default()
                };
                write_rows(&mut out, &rows, Format::Table, &opts).unwrap();
                let text = String::from_utf8(out).unwrap();
                for line in text.lines() {
                    assert!(width(line) <= w, "{layout:?} {w}: {line:?}");
                }
            }
        }
        // Columns line up: the table's rows are padded to the same display width.
        let mut out = Vec::new();
        let opts = TableOptions {
            width: 200,
            layout: Layout::Table,
            columns: Some(vec!["targeted_vms".into(), "cloud".into()]),
            ..TableOptions::default()
        };
        let two = vec![
            rows[0].clone(),
            row(&[("targeted_vms", &["vm"]), ("cloud", &["aws"])]),
        ];
        write_rows(&mut out, &two, Format::Table, &opts).unwrap();
        let text = String::from_utf8(out).unwrap();
        let at: Vec<usize> = text
            .lines()
            .filter(|l| l.contains("azure") || l.contains("aws"))
            .map(|l| width(&l[..l.find("az").or(l.find("aws")).unwrap()]))
            .collect();
        assert_eq!(at.len(), 2, "{text}");
        assert_eq!(at[0], at[1], "{text}");
    }

    #[test]
    fn header_wraps_on_underscores() {
        assert_eq!(
            wrap_header("multi_vm_targeting", 10),
            ["multi_vm_", "targeting"]
        );
        assert_eq!(wrap_header("cloud", 3), ["clo", "ud"]);
    }

    #[test]
    fn requested_columns_and_fallback_to_all() {
        let rows = vec![row(&[("x", &["1"]), ("y", &["2"])])];
        assert_eq!(table_columns(&rows, None), ["x", "y"]);
        let req = vec!["y".to_string(), " x ".to_string(), String::new()];
        assert_eq!(table_columns(&rows, Some(&req)), ["y", "x"]);
        assert_eq!(render(&[], Format::Table, 80), "(no rows)\n");
    }

    #[test]
    fn summary_counts_problems_skips_and_findings() {
        let mut stats = ReadStats {
            files: 3,
            events: 40,
            ..ReadStats::default()
        };
        stats.problems.insert(ProblemKind::BadJson, 2);
        let skipped = vec![("other_operation".to_string(), 30u64), ("x".to_string(), 0)];
        stats
            .skipped
            .insert(crate::scan::input::SkipReason::Hidden, 1);
        let line = summary_line(&stats, &skipped, &RowCounts::of(&sample_rows()));
        assert_eq!(
            line,
            "scan: 3 files (1 skipped: hidden 1), 40 events, 2 input problems (bad_json 2), \
             30 events not used (other_operation 30), 2 rows, 2 findings (1 multi-VM, 1 \
             cross-tenant)"
        );
        let line = summary_line(&ReadStats::default(), &[], &RowCounts::default());
        assert_eq!(line, "scan: 0 files, 0 events, 0 rows, 0 findings");
    }
}
