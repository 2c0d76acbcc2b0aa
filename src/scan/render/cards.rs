//! The card layout of the terminal output: one record per row, like `psql \x`, for when the
//! table would have to wrap its cells.
//!
//! ```text
//! ── 3 findings (multi-VM or cross-tenant) ─────────────────────────────────
//!
//! [MULTI-VM] it.admin@contoso.example  azure  microsoft.compute/virtualmachines/runcommand/action
//!   seen          2026-03-14T02:11:05Z → 02:14:59Z (3m 54s)
//!   invocations   6 succeeded, 1 failed (not counted)
//!   VMs (6)       vm-app-01, vm-app-02, vm-app-03, vm-app-04, vm-app-05, vm-app-06
//!   …
//! ```
//!
//! Invariants:
//! * Findings ([`super::is_finding`]) come first under their own heading, then the other
//!   rows under theirs; within each section the engine's order is kept.
//! * No value is shortened: long values wrap (lists between values, single values after
//!   `/ . @ : - _`, hard-broken only when a piece is wider than the line). Every line fits
//!   the width, except when the width is narrower than a label (then labels stack above
//!   their values, which still fit).
//! * Every value is sanitised ([`super::sanitize`]) before layout. Colour, when enabled, is
//!   only ever added around our own verdict tag and headings, never around log content.
//! * Columns that only repeat another one (the CIM aliases `user`, `src`, `dest`,
//!   `vendor_account`, `vendor_product`; `_time`, `event_time`, `duration_seconds` when the
//!   seen line shows them) are not repeated; correlation IDs are left to `--format json`
//!   and `--columns`; any other column the card does not know is shown
//!   under its own name, so new engine columns are never silently dropped.

use std::io::{self, Write};

use super::{
    break_pieces, flag, is_finding, sanitize, split_at_width, truncate_middle, width, TableOptions,
};
use crate::detect::row::{OutValue, OutputRow};

/// Indent of the body lines.
const INDENT: usize = 2;
/// Space between a label and its value.
const LABEL_GAP: usize = 2;
/// Narrowest value column before labels are stacked above their values.
const MIN_VALUE_WIDTH: usize = 20;
/// Space between the header's fields.
const HEADER_SEP: &str = "  ";

/// Columns shown in the header line.
const HEADER_COLUMNS: &[&str] = &["caller_identity", "cloud", "operation_lower"];

/// Columns that repeat another column (CIM aliases) and are never shown in a card.
const ALIASES: &[&str] = &["user", "src", "dest", "vendor_account", "vendor_product"];

const BOLD_RED: &str = "\x1b[1;31m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// One row as a card, before layout: sanitised text only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Card {
    /// `[MULTI-VM]`, `[CROSS-TENANT]`, both, or `None` for rows that are not findings.
    pub tag: Option<String>,
    /// Header fields (caller, cloud, operation), in that order.
    pub header: Vec<String>,
    /// The operation, when the header is to show it (it moves to the body when the header
    /// does not fit on one line).
    pub operation: Option<String>,
    /// Body fields, in display order.
    pub fields: Vec<Field>,
}

/// One `label  value` line (or lines) of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    pub label: String,
    /// One value, or the values of a list (joined with `", "` and wrapped between values).
    pub values: Vec<String>,
}

impl Field {
    fn new(label: impl Into<String>, values: Vec<String>) -> Field {
        Field {
            label: label.into(),
            values,
        }
    }
}

/// A row and its position in the engine's output.
type Indexed<'a> = (usize, &'a OutputRow);

/// Writes every row as a card, findings first (see the module doc).
pub(super) fn write_cards(
    w: &mut dyn Write,
    rows: &[OutputRow],
    opts: &TableOptions,
) -> io::Result<()> {
    let requested = opts.columns.as_deref();
    let (findings, others): (Vec<Indexed>, Vec<Indexed>) =
        rows.iter().enumerate().partition(|(_, r)| is_finding(r));
    let no_findings = findings.is_empty();
    let sections = [
        (
            findings.len(),
            format!(
                "{} finding{} (multi-VM or cross-tenant)",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            ),
            findings,
        ),
        (
            others.len(),
            format!(
                "{} {}row{}{}",
                others.len(),
                if no_findings { "" } else { "other " },
                if others.len() == 1 { "" } else { "s" },
                if no_findings {
                    ", no findings (multi-VM or cross-tenant)"
                } else {
                    ""
                }
            ),
            others,
        ),
    ];
    let cards: Vec<(String, Vec<Card>)> = sections
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(_, title, rows)| {
            let cards = rows
                .iter()
                .map(|(i, r)| build_card(r, *i, requested, opts.failed_in_count))
                .collect();
            (title, cards)
        })
        .collect();
    let label_width = cards
        .iter()
        .flat_map(|(_, c)| c)
        .flat_map(|c| &c.fields)
        .map(|f| width(&f.label))
        .chain(std::iter::once(width("operation")))
        .max()
        .unwrap_or(0);

    for (s, (title, section)) in cards.iter().enumerate() {
        if s > 0 {
            writeln!(w)?;
        }
        write_heading(w, title, opts.width, opts.color)?;
        for card in section {
            writeln!(w)?;
            for line in layout_card(card, opts.width, label_width, opts.color) {
                writeln!(w, "{line}")?;
            }
        }
    }
    Ok(())
}

/// Widest a section heading's rule is drawn.
const MAX_RULE: usize = 120;

/// `── title ─────…` filling the width (up to [`MAX_RULE`]).
fn write_heading(w: &mut dyn Write, title: &str, total: usize, color: bool) -> io::Result<()> {
    let total = total.min(MAX_RULE);
    let title = truncate_middle(title, total.saturating_sub(4));
    let used = 4 + width(&title);
    let line = format!(
        "── {title} {}",
        "─".repeat(total.saturating_sub(used).max(2))
    );
    let line = split_at_width(&line, total.max(1)).0.trim_end();
    if color {
        writeln!(w, "{BOLD}{line}{RESET}")
    } else {
        writeln!(w, "{line}")
    }
}

/// The verdict tag of a row, if it is a finding.
fn verdict(row: &OutputRow) -> Option<String> {
    match (flag(row, "multi_vm_targeting"), flag(row, "cross_tenant")) {
        (true, true) => Some("[MULTI-VM + CROSS-TENANT]".into()),
        (true, false) => Some("[MULTI-VM]".into()),
        (false, true) => Some("[CROSS-TENANT]".into()),
        (false, false) => None,
    }
}

fn values(row: &OutputRow, name: &str) -> Vec<String> {
    row.get(name)
        .map(|v| {
            v.values()
                .into_iter()
                .map(sanitize)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn single(row: &OutputRow, name: &str) -> Option<String> {
    match row.get(name) {
        Some(OutValue::Single(s)) if !s.is_empty() => Some(sanitize(s)),
        _ => None,
    }
}

/// Builds the card of `row` (the `index`th row of the output, used only to name rows with
/// no header fields). With `requested` columns, the body shows exactly those (raw names).
pub(super) fn build_card(
    row: &OutputRow,
    index: usize,
    requested: Option<&[String]>,
    failed_in_count: bool,
) -> Card {
    let tag = verdict(row);
    let wanted = |c: &str| requested.is_none_or(|r| r.iter().any(|x| x.trim() == c));
    let mut used: Vec<&str> = ALIASES.to_vec();
    let mut header = Vec::new();
    for c in ["caller_identity", "cloud"] {
        if wanted(c) {
            header.extend(single(row, c));
        }
        used.push(c);
    }
    let operation = wanted("operation_lower")
        .then(|| single(row, "operation_lower"))
        .flatten();
    used.push("operation_lower");
    if header.is_empty() && operation.is_none() {
        header.push(format!("row {}", index + 1));
    }

    let mut fields = Vec::new();
    if let Some(req) = requested {
        for c in req.iter().map(|c| c.trim()) {
            if !c.is_empty() && !HEADER_COLUMNS.contains(&c) {
                fields.push(Field::new(sanitize(c), values(row, c)));
            }
        }
        fields.retain(|f| !f.values.is_empty());
        return Card {
            tag,
            header,
            operation,
            fields,
        };
    }

    // Known columns, in the order an analyst reads them: when, how much, against what,
    // from where, in which account, by whom.
    if let Some((text, consumed)) = seen(row) {
        fields.push(Field::new("seen", vec![text]));
        used.extend(consumed);
    } else if let Some(t) = single(row, "event_time") {
        fields.push(Field::new("time", vec![t]));
        used.push("event_time");
    }
    if let Some(n) = single(row, "invocation_count") {
        let failed = single(row, "failed_count").and_then(|f| f.parse::<u64>().ok());
        let count = n.parse::<u64>().ok();
        let text = match (count, failed) {
            (Some(c), Some(f)) if f > 0 && failed_in_count => {
                format!("{c} ({} succeeded, {f} failed)", c.saturating_sub(f))
            }
            (Some(c), Some(f)) if f > 0 => format!("{c} succeeded, {f} failed (not counted)"),
            _ => n,
        };
        fields.push(Field::new("invocations", vec![text]));
        used.extend(["invocation_count", "failed_count"]);
    }
    push(&mut fields, &mut used, row, "result_status", "result");
    let vms = values(row, "targeted_vms");
    let label = match single(row, "vm_count") {
        Some(n) => format!("VMs ({n})"),
        None => "VMs".into(),
    };
    if !vms.is_empty() {
        fields.push(Field::new(label, vms));
    }
    used.extend(["targeted_vms", "vm_count"]);
    // Targets that select machines (`InstanceIds=*`, a tag, a whole scale set): why a row
    // with few or no VMs is a finding.
    push(&mut fields, &mut used, row, "target_selectors", "selectors");
    push(
        &mut fields,
        &mut used,
        row,
        "targeted_resources",
        "resources",
    );
    push(&mut fields, &mut used, row, "documents", "documents");
    push(&mut fields, &mut used, row, "document", "document");
    push(&mut fields, &mut used, row, "source_ips", "source IPs");
    push(&mut fields, &mut used, row, "source_ip", "source IP");
    let account = if single(row, "cloud").as_deref() == Some("aws") {
        "account"
    } else {
        "subscription"
    };
    push(&mut fields, &mut used, row, "subscription_id", account);
    push(
        &mut fields,
        &mut used,
        row,
        "resource_group",
        "resource group",
    );
    push(&mut fields, &mut used, row, "vendor_region", "region");
    let caller = match (single(row, "caller_type"), single(row, "caller_tenant")) {
        (Some(t), Some(n)) => Some(format!("{t}, {} {n}", tenant_word(row))),
        (Some(t), None) => Some(t),
        (None, Some(n)) => Some(format!("{} {n}", tenant_word(row))),
        (None, None) => None,
    };
    fields.extend(caller.map(|c| Field::new("caller", vec![c])));
    used.extend(["caller_type", "caller_tenant"]);
    push(&mut fields, &mut used, row, "caller_session", "session");
    push(&mut fields, &mut used, row, "invoked_by", "via service");
    // Correlation IDs are for pivoting into the raw logs, which `--format json` serves;
    // in a card they would double its length.
    used.extend(["correlation_ids", "correlation_id"]);
    // The flags are the tag; anything else the engine adds is shown under its own name.
    used.extend(["multi_vm_targeting", "cross_tenant"]);
    for (name, _) in &row.columns {
        if !used.contains(name) {
            let v = values(row, name);
            if !v.is_empty() {
                fields.push(Field::new(sanitize(name), v));
            }
        }
    }
    Card {
        tag,
        header,
        operation,
        fields,
    }
}

fn tenant_word(row: &OutputRow) -> &'static str {
    if single(row, "cloud").as_deref() == Some("aws") {
        "account"
    } else {
        "tenant"
    }
}

/// Adds `column` under `label` when it has a value, and marks it shown.
fn push<'a>(
    fields: &mut Vec<Field>,
    used: &mut Vec<&'a str>,
    row: &OutputRow,
    column: &'a str,
    label: &str,
) {
    let v = values(row, column);
    if !v.is_empty() {
        fields.push(Field::new(label, v));
    }
    used.push(column);
}

/// The `seen` line from `first_seen`/`last_seen` (epoch seconds), e.g.
/// `2026-03-14T02:11:05Z → 02:14:59Z (3m 54s)`, and the columns it stands for. `None`
/// when the row has no parsable `first_seen`.
fn seen(row: &OutputRow) -> Option<(String, Vec<&'static str>)> {
    let epoch = |c: &str| {
        single(row, c)
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .and_then(|f| chrono::DateTime::from_timestamp(f.floor() as i64, 0))
    };
    let first = epoch("first_seen")?;
    let consumed = vec![
        "first_seen",
        "last_seen",
        "first_seen_utc",
        "last_seen_utc",
        "event_time",
        "_time",
        "duration_seconds",
    ];
    let iso = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let text = match epoch("last_seen") {
        Some(last) if last > first => {
            let end = if last.date_naive() == first.date_naive() {
                last.format("%H:%M:%SZ").to_string()
            } else {
                iso(&last)
            };
            let secs = (last - first).num_seconds();
            format!("{} → {end} ({})", iso(&first), duration(secs))
        }
        _ => iso(&first),
    };
    Some((text, consumed))
}

/// `45s`, `3m 54s`, `2h 05m`, `3d 04h`.
fn duration(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The lines of one card at `total` width, labels padded to `label_width`.
pub(super) fn layout_card(
    card: &Card,
    total: usize,
    label_width: usize,
    color: bool,
) -> Vec<String> {
    let total = total.max(1);
    let mut header: Vec<String> = card.tag.iter().cloned().collect();
    header.extend(card.header.iter().cloned());
    let mut fields: Vec<Field> = Vec::new();
    if let Some(op) = &card.operation {
        let one_line = header
            .iter()
            .chain(std::iter::once(op))
            .map(|s| width(s))
            .sum::<usize>()
            + HEADER_SEP.len() * header.len();
        if one_line <= total {
            header.push(op.clone());
        } else {
            fields.push(Field::new("operation", vec![op.clone()]));
        }
    }
    fields.extend(card.fields.iter().cloned());

    let mut lines = fill(
        &header,
        HEADER_SEP,
        total,
        total.saturating_sub(INDENT),
        INDENT,
    );
    if color {
        if let (Some(tag), Some(first)) = (&card.tag, lines.first_mut()) {
            if let Some(rest) = first.strip_prefix(tag.as_str()) {
                *first = format!("{BOLD_RED}{tag}{RESET}{rest}");
            }
        }
    }
    let value_col = INDENT + label_width + LABEL_GAP;
    let stacked = total < value_col + MIN_VALUE_WIDTH;
    for f in &fields {
        let tokens = list_tokens(&f.values);
        if stacked {
            // Too narrow for a label column: the label on its own line, values below.
            let label = truncate_middle(&f.label, total.saturating_sub(INDENT).max(1));
            lines.push(indent(&label, INDENT.min(total - width(&label))));
            let vw = total.saturating_sub(2 * INDENT).max(1);
            for l in fill(&tokens, " ", vw, vw, 0) {
                lines.push(indent(&l, (2 * INDENT).min(total - width(&l))));
            }
        } else {
            let vw = total - value_col;
            for (i, l) in fill(&tokens, " ", vw, vw, 0).into_iter().enumerate() {
                let label = if i == 0 { f.label.as_str() } else { "" };
                let pad = label_width - width(label) + LABEL_GAP;
                let mut line = " ".repeat(INDENT);
                if color && i == 0 {
                    line.push_str(&format!("{DIM}{label}{RESET}"));
                } else {
                    line.push_str(label);
                }
                line.push_str(&" ".repeat(pad));
                line.push_str(&l);
                lines.push(line);
            }
        }
    }
    lines
}

fn indent(s: &str, n: usize) -> String {
    format!("{}{s}", " ".repeat(n))
}

/// A list as wrap tokens: every value but the last followed by `,`.
fn list_tokens(values: &[String]) -> Vec<String> {
    let n = values.len();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i + 1 < n {
                format!("{v},")
            } else {
                v.clone()
            }
        })
        .collect()
}

/// Greedy fill of `tokens` separated by `sep`: the first line holds `first` characters,
/// the following ones `rest` characters and are indented by `rest_indent`. A token wider
/// than a whole line wraps after its break characters (`/ . @ : - _`) and, failing that,
/// anywhere. Every line fits its width.
pub(super) fn fill(
    tokens: &[String],
    sep: &str,
    first: usize,
    rest: usize,
    rest_indent: usize,
) -> Vec<String> {
    let (first, rest) = (first.max(1), rest.max(1));
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut avail = first;
    let mut newline = |cur: &mut String, avail: &mut usize| {
        let pad = if lines.is_empty() { 0 } else { rest_indent };
        lines.push(indent(cur.trim_end(), pad));
        cur.clear();
        *avail = rest;
    };
    for tok in tokens {
        if !cur.is_empty() {
            if width(&cur) + width(sep) + width(tok) <= avail {
                cur.push_str(sep);
                cur.push_str(tok);
                continue;
            }
            newline(&mut cur, &mut avail);
        }
        if width(tok) <= avail {
            cur.push_str(tok);
            continue;
        }
        for piece in break_pieces(tok) {
            if !cur.is_empty() && width(&cur) + width(piece) > avail {
                newline(&mut cur, &mut avail);
            }
            cur.push_str(piece);
            while width(&cur) > avail {
                let (head, tail) = split_at_width(&cur, avail);
                let (head, tail) = (head.to_string(), tail.to_string());
                cur = head;
                newline(&mut cur, &mut avail);
                cur = tail;
            }
        }
    }
    if !cur.is_empty() {
        newline(&mut cur, &mut avail);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::tests::{row, sample_rows};
    use super::*;
    use crate::scan::render::{write_rows, Format, Layout};

    fn cards(rows: &[OutputRow], width: usize, color: bool) -> String {
        let mut out = Vec::new();
        let opts = TableOptions {
            width,
            layout: Layout::Cards,
            color,
            ..TableOptions::default()
        };
        write_rows(&mut out, rows, Format::Table, &opts).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The text with line breaks and indentation removed, to look for wrapped values.
    fn joined(text: &str) -> String {
        text.lines().map(str::trim).collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fill_wraps_lists_between_values_and_long_values_at_breaks() {
        let vms = list_tokens(&strings(&["vm-app-01", "vm-app-02", "vm-app-03"]));
        assert_eq!(
            fill(&vms, " ", 22, 22, 0),
            ["vm-app-01, vm-app-02,", "vm-app-03"]
        );
        assert_eq!(
            fill(&vms, " ", 80, 80, 0),
            ["vm-app-01, vm-app-02, vm-app-03"]
        );
        let op = strings(&["microsoft.compute/virtualmachines/runcommand/action"]);
        assert_eq!(
            fill(&op, " ", 20, 20, 0),
            [
                "microsoft.compute/",
                "virtualmachines/",
                "runcommand/action"
            ]
        );
        // No break character: hard-broken, nothing lost.
        assert_eq!(
            fill(&strings(&["abcdefgh"]), " ", 3, 3, 0),
            ["abc", "def", "gh"]
        );
        // Header: continuation lines indented, each within its width.
        let h = strings(&["[MULTI-VM]", "someone@example.com", "azure"]);
        assert_eq!(
            fill(&h, HEADER_SEP, 32, 30, 2),
            ["[MULTI-VM]  someone@example.com", "  azure"]
        );
        assert_eq!(fill(&[], " ", 10, 10, 0), [""]);
    }

    #[test]
    fn durations_and_seen_line() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(234), "3m 54s");
        assert_eq!(duration(7_500), "2h 05m");
        assert_eq!(duration(273_600), "3d 04h");
        let r = row(&[
            ("first_seen", &["1773454265"]),
            ("last_seen", &["1773454499"]),
        ]);
        assert_eq!(
            seen(&r).unwrap().0,
            "2026-03-14T02:11:05Z → 02:14:59Z (3m 54s)"
        );
        // Across midnight both ends carry the date; equal ends are one time.
        let r = row(&[
            ("first_seen", &["1773446400"]),
            ("last_seen", &["1773532800.5"]),
        ]);
        assert_eq!(
            seen(&r).unwrap().0,
            "2026-03-14T00:00:00Z → 2026-03-15T00:00:00Z (1d 00h)"
        );
        let r = row(&[
            ("first_seen", &["1773446400"]),
            ("last_seen", &["1773446400"]),
        ]);
        assert_eq!(seen(&r).unwrap().0, "2026-03-14T00:00:00Z");
        assert!(seen(&row(&[("first_seen", &["soon"])])).is_none());
    }

    #[test]
    fn card_fields_follow_the_analyst_order_and_skip_aliases() {
        let mut r = sample_rows().remove(0);
        r.columns.extend([
            ("user", OutValue::Single("mallory@contoso.example".into())),
            ("failed_count", OutValue::Single("1".into())),
            ("last_seen", OutValue::Single("1773479600".into())),
            ("resource_group", OutValue::Single("rg-prod".into())),
            ("caller_type", OutValue::Single("user".into())),
            ("caller_tenant", OutValue::Single("t-1".into())),
            ("correlation_ids", OutValue::Multi(vec!["c1".into()])),
            ("brand_new", OutValue::Single("kept".into())),
            ("caller_session", OutValue::Multi(vec![])),
        ]);
        let card = build_card(&r, 0, None, false);
        assert_eq!(card.tag.as_deref(), Some("[MULTI-VM]"));
        assert_eq!(card.header, ["mallory@contoso.example", "azure"]);
        assert_eq!(
            card.operation.as_deref(),
            Some("microsoft.compute/virtualmachines/runcommand/action")
        );
        let labels: Vec<&str> = card.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "seen",
                "invocations",
                "VMs (6)",
                "source IPs",
                "resource group",
                "caller",
                "brand_new"
            ]
        );
        assert_eq!(
            card.fields[1].values,
            ["6 succeeded, 1 failed (not counted)"]
        );
        let counted = build_card(&r, 0, None, true);
        assert_eq!(counted.fields[1].values, ["6 (5 succeeded, 1 failed)"]);
        assert_eq!(card.fields[2].values.len(), 6);
        assert_eq!(card.fields[5].values, ["user, tenant t-1"]);

        let aws = build_card(&sample_rows()[1], 1, None, false);
        assert_eq!(aws.tag.as_deref(), Some("[CROSS-TENANT]"));
        // No VMs: no VMs line; the AWS account is called an account.
        assert!(aws.fields.iter().all(|f| !f.label.starts_with("VMs")));

        let req = strings(&["cloud", "vm_count", "first_seen"]);
        let card = build_card(&sample_rows()[1], 1, Some(&req), false);
        assert_eq!(card.header, ["aws"]);
        assert_eq!(card.operation, None);
        let labels: Vec<&str> = card.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(labels, ["vm_count", "first_seen"]);

        let bare = build_card(&row(&[("x", &["1"])]), 4, None, false);
        assert_eq!(bare.header, ["row 5"]);
        assert_eq!(bare.fields, [Field::new("x", strings(&["1"]))]);
    }

    /// Rows in engine order: plain, finding, plain, finding.
    fn mixed_rows() -> Vec<OutputRow> {
        let base = sample_rows();
        let named = |i: usize, caller: &str, multi: &str| {
            let mut r = base[i % 2].clone();
            for (n, v) in r.columns.iter_mut() {
                match *n {
                    "caller_identity" => *v = OutValue::Single(caller.into()),
                    "multi_vm_targeting" => *v = OutValue::Single(multi.into()),
                    "cross_tenant" => *v = OutValue::Single("FALSE".into()),
                    _ => {}
                }
            }
            r
        };
        vec![
            named(0, "plain-a", "FALSE"),
            named(1, "finding-b", "TRUE"),
            named(0, "plain-c", "FALSE"),
            named(0, "finding-d", "TRUE"),
        ]
    }

    #[test]
    fn findings_come_first_in_engine_order() {
        let text = cards(&mixed_rows(), 100, false);
        let pos = |s: &str| {
            text.find(s)
                .unwrap_or_else(|| panic!("{s} missing:\n{text}"))
        };
        assert!(text.starts_with("── 2 findings (multi-VM or cross-tenant) ──"));
        assert!(pos("[MULTI-VM]  finding-b") < pos("[MULTI-VM]  finding-d"));
        assert!(pos("finding-d") < pos("── 2 other rows ──"));
        assert!(pos("── 2 other rows ──") < pos("\nplain-a  "));
        assert!(pos("plain-a") < pos("plain-c"));
        // Only findings are tagged.
        assert_eq!(text.matches('[').count(), 2, "{text}");
        // Without findings, one section.
        let plain: Vec<OutputRow> = mixed_rows().into_iter().step_by(2).collect();
        let text = cards(&plain, 100, false);
        assert!(
            text.starts_with("── 2 rows, no findings (multi-VM or cross-tenant) ──"),
            "{text}"
        );
        assert!(!text.contains("finding-") && !text.contains('['), "{text}");
    }

    #[test]
    fn every_line_fits_and_nothing_is_lost_at_any_width() {
        let mut rows = mixed_rows();
        rows.extend(sample_rows());
        let long_op = "microsoft.compute/virtualmachinescalesets/virtualmachines/runcommand/action";
        rows[0].columns[3].1 = OutValue::Single(long_op.into());
        for total in 4..=200 {
            let text = cards(&rows, total, false);
            for line in text.lines() {
                assert!(
                    width(line) <= total,
                    "width {total}: {line:?} is {} chars",
                    width(line)
                );
            }
            if total >= 12 {
                let all = joined(&text);
                for r in &rows {
                    for col in ["caller_identity", "operation_lower", "targeted_vms"] {
                        for v in r.get(col).map(|v| v.values()).unwrap_or_default() {
                            assert!(all.contains(v), "width {total}: {v} missing:\n{text}");
                        }
                    }
                }
            }
        }
        // At 120 columns the header holds the operation; at 80 it moves to the body.
        let text = cards(&sample_rows(), 120, false);
        assert!(text.contains(
            "[MULTI-VM]  mallory@contoso.example  azure  \
             microsoft.compute/virtualmachines/runcommand/action\n"
        ));
        assert!(text.contains("\n  VMs (6)  "), "{text}");
        let text = cards(&sample_rows(), 80, false);
        assert!(
            text.contains("[MULTI-VM]  mallory@contoso.example  azure\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  operation    microsoft.compute/virtualmachines/runcommand/action\n"),
            "{text}"
        );
        // VM names are never split: a list wraps between values.
        let text = cards(&sample_rows(), 40, false);
        for i in 1..=6 {
            assert!(text.contains(&format!("vm-app-0{i}")), "{text}");
        }
    }

    #[test]
    fn log_content_cannot_reach_the_terminal_raw() {
        let evil = row(&[
            (
                "caller_identity",
                &["evil\u{1b}]0;pwned\u{7}\u{202e}gpj.exe"],
            ),
            ("cloud", &["azure"]),
            ("operation_lower", &["op\r\nFAKE LINE"]),
            ("multi_vm_targeting", &["TRUE"]),
            ("targeted_vms", &["vm\u{1b}[2J", "vm\u{2066}b"]),
            ("x\u{1b}[31m", &["y\u{9b}31m"]),
        ]);
        for color in [false, true] {
            let text = cards(std::slice::from_ref(&evil), 100, color);
            // Our own colour codes are the only escapes, and only with colour on.
            let ours = text
                .replace(BOLD_RED, "")
                .replace(DIM, "")
                .replace(BOLD, "")
                .replace(RESET, "");
            assert!(!ours.contains('\u{1b}'), "{ours:?}");
            assert!(!ours.contains('\u{202e}') && !ours.contains('\u{2066}'));
            assert!(!ours.contains('\u{9b}') && !ours.contains('\u{7}'));
            assert!(!ours.contains('\r'));
            assert!(!ours.contains("\nFAKE LINE"), "{ours}");
            assert!(ours.contains("evil?]0;pwned??gpj.exe"), "{ours}");
            assert_eq!(text.contains('\u{1b}'), color, "{text:?}");
        }
    }

    #[test]
    fn colour_wraps_only_the_tag_headings_and_labels() {
        let text = cards(&sample_rows(), 120, true);
        assert!(text.contains(&format!("{BOLD_RED}[MULTI-VM]{RESET}  mallory@")));
        assert!(text.contains(&format!("{BOLD}── 2 findings")));
        // Colour does not change the layout.
        let strip = |s: &str| {
            s.replace(BOLD_RED, "")
                .replace(DIM, "")
                .replace(BOLD, "")
                .replace(RESET, "")
        };
        assert_eq!(strip(&text), cards(&sample_rows(), 120, false));
    }
}
