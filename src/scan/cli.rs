//! `t1651detect scan [OPTIONS] <PATHS>...`: argument parsing and the scan driver.
//!
//! The detection options map 1:1 onto the Splunk command's options and are handed to the
//! detection engine as the same `(name, value)` string pairs Splunk would send
//! ([`ScanArgs::option_pairs`]), so the engine's option parser stays the one place that
//! validates them. Only presentation options (`--format`, `--layout`, `--columns`, `--width`,
//! `--fail-on-findings`, `--quiet`) are the scanner's own.
//!
//! Exit status (also in `--help` and the README):
//! * `0`: every input was read (malformed records inside readable files are reported on
//!   stderr and counted, and do not change the status unless `--strict`);
//! * `1`: with `--fail-on-findings`, at least one row is a finding
//!   (`multi_vm_targeting=TRUE` or `cross_tenant=TRUE`, see [`render::is_finding`]), and
//!   every input was read;
//! * `2`: usage error; or an input could not be opened or read to its end (permission
//!   denied, I/O error, truncated or corrupt compression), or is not empty yet yielded no
//!   record (a binary file); or, with `--strict`, any malformed record; or an output error.
//!   The rows found are printed in every case but a usage error.
//!
//! With `--mode events`, rows are written as they are found (CSV and JSON lines row by
//! row, the terminal table in blocks of [`TABLE_BLOCK`] rows), so memory does not grow
//! with the input.

use std::ffi::OsString;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::detect::row::OutputRow;
use crate::scan::input::{
    self, Event, Input, Offer, Problem, ReadOptions, ReadStats, Sink, Skipped, WalkOptions, Walked,
};
use crate::scan::render::{self, Format, Layout, RowCounts, TableOptions};

/// Exit code: the scan ran.
pub const EXIT_OK: i32 = 0;
/// Exit code: `--fail-on-findings` and there were findings.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit code: usage, input-path or output error.
pub const EXIT_ERROR: i32 = 2;

/// How many input problems are printed one by one on stderr before only counting them.
pub const MAX_PROBLEMS_SHOWN: usize = 20;

#[derive(Debug, Parser)]
#[command(
    name = "t1651detect",
    version,
    about = "Detect MITRE ATT&CK T1651 (Cloud Administration Command) in Azure Activity Log \
             and AWS CloudTrail exports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan exported audit logs (files or directories) and print the detection's table.
    Scan(ScanArgs),
}

/// The arguments of `t1651detect scan`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(after_help = "\
Input: files, directories (read recursively, every file whatever its name) and - for standard \
input. The content decides the format: JSON lines, Azure portal / `az monitor activity-log \
list` JSON arrays, storage-account PT1H.json files, Event Hub {\"records\":[...]} messages, \
CloudTrail {\"Records\":[...]} files and bare JSON objects, gzip-compressed or not, and Azure \
Event Hubs Capture Avro files. In directories, hidden entries, symbolic links to directories \
(unless --follow-symlinks) and plain text that is not JSON are skipped (counted; listed with \
--verbose). A malformed record never loses another: reading resumes at the next record.

Exit status:
  0  every input was read (malformed records are reported on stderr and counted)
  1  --fail-on-findings and a row has multi_vm_targeting=TRUE or cross_tenant=TRUE
  2  usage error; or an input could not be opened or read to its end (permission denied, \
I/O error, truncated or corrupt gzip/Avro) or is not empty yet yielded no record (a binary \
file); or, with --strict, any malformed record. The rows found are printed in every case.")]
pub struct ScanArgs {
    /// Files or directories of exported audit logs.
    #[arg(required = true, value_name = "PATHS")]
    pub paths: Vec<PathBuf>,

    /// Flag multi_vm_targeting=TRUE when a group targets more than N distinct VMs [default: 3].
    #[arg(long, value_name = "N")]
    pub threshold: Option<String>,

    /// Count failed invocations too (`--include-failed` or `--include-failed=true|false`).
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub include_failed: Option<String>,

    /// Also group by time bucket, e.g. 15m, 1h, 1d [default: no time buckets].
    #[arg(long, value_name = "SPAN")]
    pub span: Option<String>,

    /// Comma-separated home tenant IDs: callers from any other tenant are cross-tenant.
    #[arg(long, value_name = "T1,T2")]
    pub home_tenant: Option<String>,

    /// Comma-separated operations to detect instead of the default list.
    #[arg(long, value_name = "OP1,OP2")]
    pub operations: Option<String>,

    /// summary (one row per group) or events (one row per recognised event) [default: summary].
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,

    /// Cap on the values of each multivalue column.
    #[arg(long, value_name = "N")]
    pub max_values: Option<String>,

    /// Cap on the number of groups held in memory.
    #[arg(long, value_name = "N")]
    pub max_groups: Option<String>,

    /// Cap on the number of invocations held in memory.
    #[arg(long, value_name = "N")]
    pub max_invocations: Option<String>,

    /// Cap on the event ids remembered to ignore duplicate copies of a record.
    #[arg(long, value_name = "N")]
    pub max_event_ids: Option<String>,

    /// The search command's `threads=` option, 1 to 16, checked as there. The scan reads,
    /// normalises and summarises records on one thread, so it changes nothing here (it used
    /// to build the summary rows on that many threads, which cost more than it saved).
    #[arg(long, value_name = "N")]
    pub threads: Option<String>,

    /// Output format: table (main columns), csv or json (JSON lines; both with every column).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Comma-separated columns for the table or the cards' fields [default: event_time, caller_identity, cloud,
    /// operation_lower, invocation_count, vm_count, multi_vm_targeting, cross_tenant,
    /// targeted_vms, source_ips; with --mode events: result_status and source_ip instead of
    /// the counts and source_ips].
    #[arg(long, value_name = "C1,C2", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,

    /// Terminal layout: auto (the table when every cell fits on one line, else cards),
    /// table, or cards (one record per row, findings first).
    #[arg(long, value_enum, default_value_t = Layout::Auto)]
    pub layout: Layout,

    /// Table width in characters [default: $COLUMNS, else 120].
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// Exit with status 1 when any row is a finding (multi-VM or cross-tenant).
    #[arg(long)]
    pub fail_on_findings: bool,

    /// Print no summary, progress or input warnings on stderr (the exit status still
    /// says whether every input was read).
    #[arg(long, short)]
    pub quiet: bool,

    /// Exit with status 2 when any record is malformed (not only when an input cannot be
    /// read).
    #[arg(long)]
    pub strict: bool,

    /// List every skipped directory entry with its reason, and every input problem (not
    /// only the first 20).
    #[arg(long, short)]
    pub verbose: bool,

    /// Follow symbolic links to directories (each directory is read once: no loops).
    #[arg(long)]
    pub follow_symlinks: bool,
}

/// The Splunk command options the scan exposes (as `--name-with-dashes`), in the order of
/// [`ScanArgs::option_pairs`]: every option of `t1651detect` except the distributed-search
/// ones (`distributed`, `phase`), which mean nothing offline.
pub const SCAN_OPTION_NAMES: &[&str] = &[
    "threshold",
    "include_failed",
    "span",
    "home_tenant",
    "operations",
    "mode",
    "max_values",
    "max_groups",
    "max_invocations",
    "max_event_ids",
    "threads",
];

impl ScanArgs {
    /// The detection options the user gave, as the `(name, value)` pairs of the Splunk
    /// command's options, in the order of [`SCAN_OPTION_NAMES`]. Options not given are
    /// absent (the engine applies its defaults); values are passed through verbatim for
    /// the engine to validate.
    pub fn option_pairs(&self) -> Vec<(&'static str, String)> {
        let values = [
            &self.threshold,
            &self.include_failed,
            &self.span,
            &self.home_tenant,
            &self.operations,
            &self.mode,
            &self.max_values,
            &self.max_groups,
            &self.max_invocations,
            &self.max_event_ids,
            &self.threads,
        ];
        SCAN_OPTION_NAMES
            .iter()
            .zip(values)
            .filter_map(|(name, v)| v.clone().map(|v| (*name, v)))
            .collect()
    }
}

/// Parses a full command line (`t1651detect scan ...`, program name first).
pub fn parse<I, T>(args: I) -> Result<ScanArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let Command::Scan(a) = Cli::try_parse_from(args)?.command;
    Ok(a)
}

/// What the detection engine returns at the end of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineOutput {
    /// Output rows, already sorted as they should be shown.
    pub rows: Vec<OutputRow>,
    /// Events the engine did not use, by reason (e.g. not a T1651 operation).
    pub skipped: Vec<(String, u64)>,
    /// The engine's message for the user (limits reached, values cut, …), if any; printed
    /// on stderr as a warning.
    pub warning: Option<String>,
}

/// A detection run over a stream of events.
pub trait Engine {
    /// Takes one event (raw JSON of one object, possibly cut short; see [`Event`]).
    /// Returns the row to output now, if the engine streams rows (`mode=events`); such a
    /// row is written at once and not kept.
    fn push(&mut self, event: &Event<'_>) -> Option<OutputRow>;
    /// Takes, in one pass, a structurally complete event whose JSON the reader has not
    /// checked (see [`Sink::offer`], whose contract this follows: use it only if the
    /// engine's own parser reads it as well-formed, and refuse everything serde_json
    /// refuses). The default declines ([`Offered::CheckFirst`]): the reader checks the
    /// event and then [pushes](Engine::push) it.
    fn offer(&mut self, event: &Event<'_>) -> Offered {
        let _ = event;
        Offered::CheckFirst
    }
    /// The event this engine last [refused](Offered::Refused) was malformed and is
    /// reported by the reader: undo its counting (it is not an event).
    fn withdraw(&mut self) {}
    /// Ends the run and returns the remaining rows.
    fn finish(self: Box<Self>) -> EngineOutput;
    /// The output columns (every column a row may have, in order), for the CSV header of
    /// streamed rows and of no rows; empty if unknown.
    fn columns(&self) -> Vec<String> {
        Vec::new()
    }
}

/// What an engine did with an event offered unchecked ([`Engine::offer`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Offered {
    /// Not taken: the reader checks the event first ([`Offer::CheckFirst`]).
    CheckFirst,
    /// Taken as well-formed, with the row to output now, if any ([`Offer::Taken`]).
    Taken(Option<OutputRow>),
    /// Taken but malformed to the engine's parser, counted as unusable ([`Offer::Refused`]).
    Refused,
}

/// Error of an engine's option parser, shown to the user as is.
pub type OptionError = Box<dyn std::error::Error + Send + Sync>;

/// Builds an engine from the Splunk-style option pairs ([`ScanArgs::option_pairs`]),
/// validating them; the error should name the option and its valid values.
pub trait EngineFactory {
    fn build(&self, options: &[(&'static str, String)]) -> Result<Box<dyn Engine>, OptionError>;
}

impl<F> EngineFactory for F
where
    F: Fn(&[(&'static str, String)]) -> Result<Box<dyn Engine>, OptionError>,
{
    fn build(&self, options: &[(&'static str, String)]) -> Result<Box<dyn Engine>, OptionError> {
        self(options)
    }
}

/// Runs `t1651detect scan ...` (`args` is the whole command line, program name first):
/// parses the arguments, builds the engine, reads every path, renders the rows to
/// `stdout` and the summary and input warnings to `stderr`. Returns the exit code.
pub fn run<I, T>(
    args: I,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    engine: &dyn EngineFactory,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                stderr.write_all(text.as_bytes())
            } else {
                stdout.write_all(text.as_bytes())
            };
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    run_args(&args, stdout, stderr, engine)
}

/// Rows per block of the terminal table when rows are streamed (`mode=events`).
pub const TABLE_BLOCK: usize = 1000;

/// [`run`] with arguments already parsed.
pub fn run_args(
    args: &ScanArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    engine: &dyn EngineFactory,
) -> i32 {
    let engine = match engine.build(&args.option_pairs()) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(stderr, "t1651detect scan: error: {e}");
            return EXIT_ERROR;
        }
    };
    let walk_opts = WalkOptions {
        follow_symlinks: args.follow_symlinks,
    };
    let walked = input::walk(&args.paths, &walk_opts);
    let progress = (!args.quiet && io::stderr().is_terminal()).then(|| Progress::start(&walked));
    let table = TableOptions {
        width: args.width.unwrap_or_else(render::terminal_width),
        columns: args.columns.clone(),
        layout: args.layout,
        // `stdout` may be any writer (tests); colour follows the process's real stdout.
        color: render::use_color(io::stdout().is_terminal()),
        failed_in_count: crate::detect::options::Options::parse(
            args.option_pairs().iter().map(|(n, v)| (*n, v.as_str())),
        )
        .is_ok_and(|o| o.include_failed),
    };
    let header = engine.columns();
    let mut sink = EngineSink {
        engine,
        stderr: &mut *stderr,
        quiet: args.quiet,
        verbose: args.verbose,
        shown: 0,
        out: RowWriter::new(BufWriter::new(stdout), args.format, table, header),
        progress: progress
            .as_ref()
            .map(|p| (p.bar.clone(), Arc::clone(&p.bytes))),
        last_tick: Instant::now(),
    };
    let opts = ReadOptions {
        walk: walk_opts,
        progress: progress.as_ref().map(|p| Arc::clone(&p.bytes)),
    };
    let stats = input::read_walked(&walked, &opts, &mut sink);
    if let Some(p) = progress {
        p.stop();
    }
    let EngineSink {
        engine,
        shown,
        mut out,
        ..
    } = sink;
    let done = engine.finish();
    if !args.quiet {
        if let Some(w) = &done.warning {
            let _ = writeln!(stderr, "t1651detect scan: warning: {}", cli_option_names(w));
        }
        let total = stats.problem_count();
        if total > shown {
            let _ = writeln!(
                stderr,
                "t1651detect scan: warning: {} more input problems not shown (--verbose shows all)",
                total - shown
            );
        }
    }
    if let Err(e) = out.finish(done.rows) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(stderr, "t1651detect scan: error: writing output: {e}");
            return EXIT_ERROR;
        }
    }
    if !args.quiet {
        let _ = writeln!(
            stderr,
            "{}",
            render::summary_line(&stats, &done.skipped, &out.counts)
        );
        if stats.inputs_failed > 0 {
            let _ = writeln!(
                stderr,
                "t1651detect scan: error: {} input{} could not be read completely (see above); exit status 2",
                stats.inputs_failed,
                if stats.inputs_failed == 1 { "" } else { "s" }
            );
        }
    }
    exit_code(args, &stats, &out.counts)
}

/// The exit status from what was read and found (see the module documentation).
pub fn exit_code(args: &ScanArgs, stats: &ReadStats, counts: &RowCounts) -> i32 {
    if stats.inputs_failed > 0 || (args.strict && stats.problem_count() > 0) {
        EXIT_ERROR
    } else if args.fail_on_findings && counts.findings > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// The engine's messages name options the Splunk way (`max_values=<n>`); on the command
/// line they are `--max-values <n>`.
fn cli_option_names(text: &str) -> String {
    let mut s = text.to_string();
    for name in SCAN_OPTION_NAMES {
        let flag = format!("--{}", name.replace('_', "-"));
        s = s.replace(&format!("{name}=<n>"), &format!("{flag} <n>"));
        s = s.replace(&format!("{name}="), &format!("{flag} "));
    }
    s
}

/// Writes rows as they come (CSV and JSON lines at once; the table in blocks), counting
/// them and their findings.
struct RowWriter<'w> {
    w: BufWriter<&'w mut dyn Write>,
    format: Format,
    table: TableOptions,
    /// CSV columns: the engine's, else the first row's.
    header: Vec<String>,
    header_written: bool,
    /// Table rows not yet written.
    pending: Vec<OutputRow>,
    blocks: u64,
    counts: RowCounts,
    /// The first write error; later writes are skipped.
    error: Option<io::Error>,
}

impl<'w> RowWriter<'w> {
    fn new(
        w: BufWriter<&'w mut dyn Write>,
        format: Format,
        table: TableOptions,
        header: Vec<String>,
    ) -> Self {
        RowWriter {
            w,
            format,
            table,
            header,
            header_written: false,
            pending: Vec::new(),
            blocks: 0,
            counts: RowCounts::default(),
            error: None,
        }
    }

    /// One streamed row.
    fn row(&mut self, row: OutputRow) {
        self.counts.add(&row);
        if self.error.is_some() {
            return;
        }
        let r = match self.format {
            Format::Table => {
                self.pending.push(row);
                if self.pending.len() >= TABLE_BLOCK {
                    self.table_block()
                } else {
                    Ok(())
                }
            }
            Format::Csv => self.csv_row(&row),
            Format::Json => render::write_json(&mut self.w, std::slice::from_ref(&row)),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn table_block(&mut self) -> io::Result<()> {
        if self.blocks > 0 {
            self.w.write_all(b"\n")?;
        }
        self.blocks += 1;
        let rows = std::mem::take(&mut self.pending);
        render::write_rows(&mut self.w, &rows, Format::Table, &self.table)
    }

    fn csv_row(&mut self, row: &OutputRow) -> io::Result<()> {
        if !self.header_written {
            if self.header.is_empty() {
                self.header = row.columns.iter().map(|(n, _)| n.to_string()).collect();
            }
            render::write_csv_header(&mut self.w, &self.header)?;
            self.header_written = true;
        }
        render::write_csv_row(&mut self.w, &self.header, row)
    }

    /// Writes the rows the engine returned at the end, and flushes.
    fn finish(&mut self, rows: Vec<OutputRow>) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.format {
            Format::Table => {
                for r in &rows {
                    self.counts.add(r);
                }
                self.pending.extend(rows);
                if !self.pending.is_empty() || self.blocks == 0 {
                    self.table_block()?;
                }
            }
            Format::Csv => {
                if !self.header_written && rows.is_empty() {
                    render::write_csv_header(&mut self.w, &self.header)?;
                    self.header_written = true;
                }
                if !self.header_written {
                    // Every column of the rows, in order of first appearance.
                    let cols = render::all_columns(&rows);
                    if self.header.is_empty()
                        || cols.iter().any(|c| !self.header.iter().any(|h| h == c))
                    {
                        self.header = cols.iter().map(|c| c.to_string()).collect();
                    }
                }
                for r in rows {
                    self.counts.add(&r);
                    self.csv_row(&r)?;
                }
            }
            Format::Json => {
                for r in &rows {
                    self.counts.add(r);
                }
                render::write_json(&mut self.w, &rows)?;
            }
        }
        self.w.flush()
    }
}

/// A progress line on stderr (a terminal): bytes read of the total, and the rate.
///
/// Updated from the reading thread (see [`EngineSink::tick`]): the binary holds the stderr
/// lock for the whole scan, so a drawing thread of its own would wait for it forever.
struct Progress {
    bar: ProgressBar,
    bytes: Arc<AtomicU64>,
}

impl Progress {
    fn start(walked: &Walked) -> Progress {
        let total: u64 = walked
            .inputs
            .iter()
            .filter_map(|i| match i {
                Input::File { path, .. } => std::fs::metadata(path).ok().map(|m| m.len()),
                Input::Stdin => None,
            })
            .sum();
        let has_stdin = walked.inputs.iter().any(|i| matches!(i, Input::Stdin));
        let bar = ProgressBar::with_draw_target(
            (!has_stdin).then_some(total),
            ProgressDrawTarget::stderr(),
        );
        let template = if has_stdin {
            "scan: {bytes} read ({bytes_per_sec}) {elapsed}"
        } else {
            "scan: {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {wide_bar}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress {
            bar,
            bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    fn stop(self) {
        self.bar.finish_and_clear();
    }
}

/// Feeds events to the engine, writes streamed rows, and prints input problems (the first
/// [`MAX_PROBLEMS_SHOWN`], all with `--verbose`; inputs that could not be read always) and,
/// with `--verbose`, skipped entries.
struct EngineSink<'e, 'w> {
    engine: Box<dyn Engine>,
    stderr: &'e mut dyn Write,
    quiet: bool,
    verbose: bool,
    shown: u64,
    out: RowWriter<'w>,
    progress: Option<(ProgressBar, Arc<AtomicU64>)>,
    last_tick: Instant,
}

impl EngineSink<'_, '_> {
    /// Moves the progress bar, at most ten times a second.
    fn tick(&mut self) {
        if let Some((bar, bytes)) = &self.progress {
            if self.last_tick.elapsed() >= Duration::from_millis(100) {
                self.last_tick = Instant::now();
                bar.set_position(bytes.load(Ordering::Relaxed));
            }
        }
    }

    fn say(&mut self, line: String) {
        let stderr = &mut *self.stderr;
        match &self.progress {
            Some((bar, _)) => bar.suspend(|| writeln!(stderr, "{line}")),
            None => writeln!(stderr, "{line}"),
        }
        .ok();
    }
}

impl Sink for EngineSink<'_, '_> {
    fn event(&mut self, event: &Event<'_>) {
        if let Some(row) = self.engine.push(event) {
            self.out.row(row);
        }
        self.tick();
    }

    fn offer(&mut self, event: &Event<'_>) -> Offer {
        let offer = match self.engine.offer(event) {
            Offered::CheckFirst => Offer::CheckFirst,
            Offered::Taken(row) => {
                if let Some(row) = row {
                    self.out.row(row);
                }
                Offer::Taken
            }
            Offered::Refused => Offer::Refused,
        };
        self.tick();
        offer
    }

    fn withdraw(&mut self) {
        self.engine.withdraw();
    }

    fn problem(&mut self, problem: &Problem) {
        self.tick();
        let show = problem.input_failed || self.verbose || self.shown < MAX_PROBLEMS_SHOWN as u64;
        if !self.quiet && show {
            self.shown += 1;
            let level = if problem.input_failed {
                "error"
            } else {
                "warning"
            };
            self.say(format!("t1651detect scan: {level}: {problem}"));
        }
    }

    fn skipped(&mut self, skipped: &Skipped) {
        if self.verbose && !self.quiet {
            self.say(format!(
                "t1651detect scan: skipped {}: {}",
                skipped.path.display(),
                skipped.reason.explain()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_splunk_pairs_verbatim() {
        let a = parse([
            "t1651detect",
            "scan",
            "--threshold",
            "5",
            "--include-failed",
            "--span=1h",
            "--home-tenant",
            "t1,t2",
            "--operations",
            "a,b",
            "--mode",
            "events",
            "--max-values",
            "50",
            "--max-groups",
            "1000",
            "--max-invocations",
            "20000",
            "logs/",
        ])
        .unwrap();
        assert_eq!(
            a.option_pairs(),
            vec![
                ("threshold", "5".to_string()),
                ("include_failed", "true".to_string()),
                ("span", "1h".to_string()),
                ("home_tenant", "t1,t2".to_string()),
                ("operations", "a,b".to_string()),
                ("mode", "events".to_string()),
                ("max_values", "50".to_string()),
                ("max_groups", "1000".to_string()),
                ("max_invocations", "20000".to_string()),
            ]
        );
        assert_eq!(a.paths, [PathBuf::from("logs/")]);
    }

    #[test]
    fn include_failed_takes_an_explicit_value_only_with_equals() {
        // Without `=`, the next word is a path, not the flag's value.
        let a = parse(["t", "scan", "--include-failed", "x.json"]).unwrap();
        assert_eq!(a.paths, [PathBuf::from("x.json")]);
        assert_eq!(a.include_failed.as_deref(), Some("true"));
        let a = parse(["t", "scan", "--include-failed=false", "x.json"]).unwrap();
        assert_eq!(
            a.option_pairs(),
            vec![("include_failed", "false".to_string())]
        );
    }

    #[test]
    fn values_are_not_validated_here() {
        // The engine's option parser is the single source of truth.
        let a = parse(["t", "scan", "--threshold", "many", "--mode", "x", "p"]).unwrap();
        assert_eq!(a.option_pairs()[0], ("threshold", "many".to_string()));
    }

    #[test]
    fn defaults_and_presentation_options() {
        let a = parse(["t", "scan", "a", "b"]).unwrap();
        assert!(a.option_pairs().is_empty());
        assert_eq!(a.format, Format::Table);
        assert!(!a.fail_on_findings);
        let a = parse([
            "t",
            "scan",
            "--format",
            "json",
            "--columns",
            "cloud,vm_count",
            "--width",
            "90",
            "--fail-on-findings",
            "-q",
            "a",
        ])
        .unwrap();
        assert_eq!(a.format, Format::Json);
        assert_eq!(a.columns, Some(vec!["cloud".into(), "vm_count".into()]));
        assert_eq!(a.width, Some(90));
        assert!(a.fail_on_findings && a.quiet);
    }

    #[test]
    fn usage_errors() {
        assert!(parse(["t", "scan"]).is_err(), "paths are required");
        assert!(parse(["t", "scan", "--format", "xml", "a"]).is_err());
        assert!(parse(["t", "scan", "--bogus", "a"]).is_err());
        assert!(parse(["t"]).is_err());
    }
}
