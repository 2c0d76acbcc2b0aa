//! `t1651detect scan [OPTIONS] <PATHS>...`: argument parsing and the scan driver.
//!
//! The detection options map 1:1 onto the Splunk command's options and are handed to the
//! detection engine as the same `(name, value)` string pairs Splunk would send
//! ([`ScanArgs::option_pairs`]), so the engine's option parser stays the one place that
//! validates them. Only presentation options (`--format`, `--layout`, `--columns`, `--width`,
//! `--fail-on-findings`, `--quiet`) are the scanner's own.
//!
//! Exit codes:
//! * `0`: the scan ran (whether or not it found anything, and even if some input was
//!   malformed: that is reported on stderr and counted in the summary);
//! * `1`: with `--fail-on-findings`, at least one row is a finding
//!   (`multi_vm_targeting=TRUE` or `cross_tenant=TRUE`, see [`render::is_finding`]);
//! * `2`: usage error (bad arguments, an option the engine rejects, a path that does not
//!   exist) or output error.

use std::ffi::OsString;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::detect::row::OutputRow;
use crate::scan::input::{self, Event, Problem, ReadStats, Sink};
use crate::scan::render::{self, Format, Layout, TableOptions};

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
Reads Azure portal / `az monitor activity-log list` JSON arrays, storage-account PT1H.json \
files, Event Hub {\"records\":[...]} messages, CloudTrail {\"Records\":[...]} files, bare JSON \
objects and JSON lines, gzip-compressed or not. Directories are read recursively (files named \
*.json, *.jsonl, *.ndjson, optionally .gz).

Exit status: 0 when the scan ran, 1 with --fail-on-findings when a row has \
multi_vm_targeting=TRUE or cross_tenant=TRUE, 2 on usage or input-path errors.")]
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

    /// Print no summary or input warnings on stderr.
    #[arg(long, short)]
    pub quiet: bool,
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
    /// Takes one event (raw JSON of one object; see [`Event`]).
    fn push(&mut self, event: &Event<'_>);
    /// Ends the run and returns the rows.
    fn finish(self: Box<Self>) -> EngineOutput;
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
    let mut sink = EngineSink {
        engine,
        stderr: &mut *stderr,
        quiet: args.quiet,
        shown: 0,
    };
    let stats = match input::read_paths(&args.paths, &mut sink) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(stderr, "t1651detect scan: error: {e}");
            return EXIT_ERROR;
        }
    };
    let EngineSink { engine, shown, .. } = sink;
    let out = engine.finish();
    if !args.quiet {
        if let Some(w) = &out.warning {
            let _ = writeln!(stderr, "t1651detect scan: warning: {w}");
        }
        let total = stats.problem_count();
        if total > shown as u64 {
            let _ = writeln!(
                stderr,
                "t1651detect scan: warning: {} more input problems not shown",
                total - shown as u64
            );
        }
    }

    let table = TableOptions {
        width: args.width.unwrap_or_else(render::terminal_width),
        columns: args.columns.clone(),
        layout: args.layout,
        // `stdout` may be any writer (tests); colour follows the process's real stdout.
        color: render::use_color(io::IsTerminal::is_terminal(&io::stdout())),
    };
    let mut w = BufWriter::new(stdout);
    let written =
        render::write_rows(&mut w, &out.rows, args.format, &table).and_then(|()| w.flush());
    if let Err(e) = written {
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
            render::summary_line(&stats, &out.skipped, &out.rows)
        );
    }
    exit_code(args, &stats, &out.rows)
}

fn exit_code(args: &ScanArgs, _stats: &ReadStats, rows: &[OutputRow]) -> i32 {
    if args.fail_on_findings && rows.iter().any(render::is_finding) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// Feeds events to the engine and prints the first input problems on stderr.
struct EngineSink<'w> {
    engine: Box<dyn Engine>,
    stderr: &'w mut dyn Write,
    quiet: bool,
    shown: usize,
}

impl Sink for EngineSink<'_> {
    fn event(&mut self, event: &Event<'_>) {
        self.engine.push(event);
    }

    fn problem(&mut self, problem: &Problem) {
        if !self.quiet && self.shown < MAX_PROBLEMS_SHOWN {
            self.shown += 1;
            let _ = writeln!(self.stderr, "t1651detect scan: warning: {problem}");
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
