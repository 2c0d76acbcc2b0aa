//! `scan::cli::run` end to end with a test engine: option pairs reach the engine, events
//! reach it in order, rows are rendered in each format, exit codes and stderr messages.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use t1651::detect::row::{OutValue, OutputRow};
use t1651::scan::cli::{run, Engine, EngineOutput, OptionError, SCAN_OPTION_NAMES};
use t1651::scan::input::Event;

/// Groups events by file: one row per file with the event count, flagged multi-VM when
/// the count exceeds `threshold` (default 3) — enough to exercise every path of `run`.
struct PerFile {
    threshold: usize,
    files: Vec<(String, Vec<String>)>,
}

impl Engine for PerFile {
    fn push(&mut self, e: &Event<'_>) -> Option<OutputRow> {
        let file = e
            .location
            .file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let loc = e.location.to_string();
        match self.files.iter_mut().find(|(f, _)| *f == file) {
            Some((_, locs)) => locs.push(loc),
            None => self.files.push((file, vec![loc])),
        }
        None
    }

    fn finish(self: Box<Self>) -> EngineOutput {
        let rows = self
            .files
            .iter()
            .map(|(file, locs)| OutputRow {
                columns: vec![
                    ("caller_identity", OutValue::Single(file.clone())),
                    ("cloud", OutValue::Single("test".into())),
                    ("invocation_count", OutValue::Single(locs.len().to_string())),
                    (
                        "multi_vm_targeting",
                        OutValue::Single(
                            if locs.len() > self.threshold {
                                "TRUE"
                            } else {
                                "FALSE"
                            }
                            .into(),
                        ),
                    ),
                    ("cross_tenant", OutValue::Single("FALSE".into())),
                    (
                        "targeted_vms",
                        OutValue::Multi(locs.iter().take(2).cloned().collect()),
                    ),
                ],
            })
            .collect();
        EngineOutput {
            rows,
            skipped: vec![("test_reason".into(), 1)],
            warning: (self.threshold == 0).then(|| "threshold=0 flags every row".to_string()),
        }
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    options: Vec<(&'static str, String)>,
}

fn scan(args: &[&str]) -> Outcome {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let seen2 = Rc::clone(&seen);
    let factory = move |opts: &[(&'static str, String)]| -> Result<Box<dyn Engine>, OptionError> {
        seen2.borrow_mut().extend(opts.iter().cloned());
        let mut threshold = 3;
        for (k, v) in opts {
            if *k == "threshold" {
                threshold = v
                    .parse()
                    .map_err(|_| format!("invalid value \"{v}\" for option threshold: expected a non-negative integer"))?;
            }
        }
        Ok(Box::new(PerFile {
            threshold,
            files: Vec::new(),
        }))
    };
    let mut argv = vec!["t1651detect", "scan"];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(argv, &mut out, &mut err, &factory);
    let options = seen.borrow().clone();
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
        options,
    }
}

fn samples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .display()
        .to_string()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scan_cli_{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn samples_table_and_summary() {
    let o = scan(&["--width", "120", "--layout", "table", &samples()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.options.is_empty());
    let header = o.stdout.lines().next().unwrap();
    for col in [
        "caller_identity",
        "cloud",
        "invocation_",
        "multi_vm_",
        "cross_",
        "targeted_vms",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(o.stdout.contains("az-monitor-activity-log-2026-03-14.json"));
    assert!(o.stdout.lines().all(|l| l.chars().count() <= 120));
    // Eleven files (the night's five, the four Atomic validation files with 3 events each,
    // the two Google Cloud files), 95 events, 11 rows; the files with > 3 events are findings.
    assert_eq!(
        o.stderr.trim_end(),
        "scan: 11 files (3 skipped: not_json 3), 95 events, 1 event not used (test_reason 1), \
         11 rows, 7 findings (7 multi-VM, 0 cross-tenant)"
    );
}

#[test]
fn auto_layout_shows_cards_when_the_table_would_wrap() {
    // The test engine's VM lists are long file paths: the table cannot fit 100 columns.
    let o = scan(&["--width", "100", &samples()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .starts_with("── 7 findings (multi-VM or cross-tenant) ──"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.lines().all(|l| l.chars().count() <= 100));
    assert!(
        o.stdout
            .contains("[MULTI-VM]  az-monitor-activity-log-2026-03-14.json  test\n"),
        "{}",
        o.stdout
    );
    // The layout is presentation only: csv and json are the same whatever it is.
    for format in ["csv", "json"] {
        let plain = scan(&["--format", format, "-q", &samples()]).stdout;
        for layout in ["cards", "table", "auto"] {
            let o = scan(&["--format", format, "--layout", layout, "-q", &samples()]);
            assert_eq!(o.stdout, plain, "{format} {layout}");
        }
    }
    let o = scan(&["--layout", "grid", &samples()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("grid"), "{}", o.stderr);
}

#[test]
fn options_reach_the_engine_as_splunk_pairs() {
    let o = scan(&[
        "--threshold",
        "10",
        "--include-failed",
        "--span",
        "1h",
        "--home-tenant",
        "a,b",
        &samples(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.options,
        vec![
            ("threshold", "10".to_string()),
            ("include_failed", "true".to_string()),
            ("span", "1h".to_string()),
            ("home_tenant", "a,b".to_string()),
        ]
    );
    // threshold 10: only the 32-, 14- and 11-event files are multi-VM.
    assert!(
        o.stderr
            .ends_with("3 findings (3 multi-VM, 0 cross-tenant)\n"),
        "{}",
        o.stderr
    );
}

#[test]
fn csv_and_json_have_every_column() {
    let o = scan(&["--format", "csv", &samples()]);
    assert_eq!(o.code, 0);
    let mut rd = csv::Reader::from_reader(o.stdout.as_bytes());
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "caller_identity",
            "cloud",
            "invocation_count",
            "multi_vm_targeting",
            "cross_tenant",
            "targeted_vms"
        ]
    );
    let first = rd.records().next().unwrap().unwrap();
    assert_eq!(&first[0], "az-monitor-activity-log-2026-03-14.json");
    assert_eq!(
        first[5].lines().count(),
        2,
        "multivalue joined with a newline"
    );

    let o = scan(&["--format", "json", "-q", &samples()]);
    assert_eq!(o.stderr, "", "quiet");
    let rows: Vec<serde_json::Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[0]["invocation_count"], "32");
    assert!(rows[0]["targeted_vms"].is_array());
    // Event locations name file, line and array index: the portal export is pretty-printed.
    assert!(rows[0]["targeted_vms"][0]
        .as_str()
        .unwrap()
        .ends_with("az-monitor-activity-log-2026-03-14.json:2[0]"));
}

#[test]
fn engine_warning_is_printed_unless_quiet() {
    let o = scan(&["--threshold", "0", &samples()]);
    assert!(
        o.stderr
            .contains("t1651detect scan: warning: --threshold 0 flags every row\n"),
        "{}",
        o.stderr
    );
    let o = scan(&["--threshold", "0", "--quiet", &samples()]);
    assert_eq!(o.stderr, "");
}

#[test]
fn fail_on_findings_sets_exit_code_1() {
    assert_eq!(scan(&["--fail-on-findings", "-q", &samples()]).code, 1);
    assert_eq!(
        scan(&["--fail-on-findings", "--threshold", "100", "-q", &samples()]).code,
        0
    );
}

#[test]
fn engine_option_errors_are_usage_errors() {
    let o = scan(&["--threshold", "lots", &samples()]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stdout, "");
    assert!(
        o.stderr
            .contains("invalid value \"lots\" for option threshold"),
        "{}",
        o.stderr
    );
}

#[test]
fn usage_errors_and_help() {
    let o = scan(&[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("PATHS"), "{}", o.stderr);
    let o = scan(&["--format", "xml", "x"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("xml"), "{}", o.stderr);
    let o = scan(&["--help"]);
    assert_eq!(o.code, 0);
    // Every Splunk option the scan passes on is documented under its dashed name, and
    // reaches the engine under its Splunk name.
    for name in SCAN_OPTION_NAMES {
        let opt = format!("--{}", name.replace('_', "-"));
        assert!(o.stdout.contains(&opt), "help lacks {opt}:\n{}", o.stdout);
        let given = if *name == "include_failed" {
            scan(&["--include-failed=1", "-q", &samples()])
        } else {
            scan(&[&opt, "1", "-q", &samples()])
        };
        assert_eq!(given.options, vec![(*name, "1".to_string())], "{opt}");
    }
    for opt in [
        "--format",
        "--columns",
        "--width",
        "--layout",
        "--fail-on-findings",
        "--quiet",
    ] {
        assert!(o.stdout.contains(opt), "help lacks {opt}:\n{}", o.stdout);
    }
}

#[test]
fn missing_path_is_exit_2_naming_it_and_the_others_are_read() {
    let o = scan(&["/nonexistent/t1651/logs", &samples()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains(
            "t1651detect scan: error: /nonexistent/t1651/logs: unreadable: no such file or directory"
        ),
        "{}",
        o.stderr
    );
    assert!(
        o.stdout.contains("az-monitor-activity-log-2026-03-14.json"),
        "rows are printed in every case"
    );
    assert!(o.stderr.contains("1 input could not be read completely"));
}

#[test]
fn input_problems_are_warned_with_position_and_capped() {
    let d = tempdir("problems");
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&format!("{{\"ok\":{i}}}\n{{\"bad\":\n"));
    }
    std::fs::write(d.join("x.jsonl"), text).unwrap();
    let o = scan(&[d.to_str().unwrap()]);
    assert_eq!(o.code, 0);
    let warnings: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.contains("warning:"))
        .collect();
    assert_eq!(
        warnings.len(),
        21,
        "20 shown + 1 'more' line:\n{}",
        o.stderr
    );
    assert!(
        warnings[0].contains(
            "x.jsonl:2:8 (byte 16): truncated_record: record starting at line 2 is cut short"
        ),
        "{}",
        warnings[0]
    );
    assert!(warnings[20].contains("10 more input problems not shown"));
    // The cut records go to the engine too (its truncation rules decide).
    assert!(
        o.stderr
            .contains("60 events, 30 input problems (truncated_record 30)"),
        "{}",
        o.stderr
    );
    // --verbose shows every problem.
    let o = scan(&["--verbose", d.to_str().unwrap()]);
    assert_eq!(
        o.stderr.lines().filter(|l| l.contains("warning:")).count(),
        30
    );
    // --strict makes malformed records an error.
    let o = scan(&["--strict", d.to_str().unwrap()]);
    assert_eq!(o.code, 2);
}

#[test]
fn no_events_renders_no_rows() {
    let d = tempdir("empty");
    std::fs::write(d.join("empty.json"), "").unwrap();
    let o = scan(&[d.to_str().unwrap()]);
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, "(no rows)\n");
}

#[test]
fn unreadable_input_is_exit_2_even_with_findings_and_rows_are_printed() {
    let d = tempdir("binary");
    std::fs::write(
        d.join("ok.json"),
        "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n",
    )
    .unwrap();
    let mut bin = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bin.extend((0..300u32).map(|i| (i % 256) as u8));
    std::fs::write(d.join("tool.bin"), bin).unwrap();
    let o = scan(&["--fail-on-findings", d.to_str().unwrap()]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stdout.contains("ok.json"), "{}", o.stdout);
    assert!(
        o.stderr.contains("tool.bin: unknown_format: binary data"),
        "{}",
        o.stderr
    );
    // Without the binary file: findings give 1.
    std::fs::remove_file(d.join("tool.bin")).unwrap();
    assert_eq!(scan(&["--fail-on-findings", d.to_str().unwrap()]).code, 1);
    assert_eq!(scan(&[d.to_str().unwrap()]).code, 0);
}

#[test]
fn skipped_entries_are_counted_and_listed_with_verbose() {
    let o = scan(&[&samples()]);
    assert!(!o.stderr.contains("skipped samples"), "{}", o.stderr);
    assert!(o.stderr.contains("(3 skipped: not_json 3)"), "{}", o.stderr);
    let o = scan(&["--verbose", &samples()]);
    for name in ["README.md", "make_samples.py", "make_gcp_samples.py"] {
        assert!(
            o.stderr.contains(&format!("{name}: text that is not JSON")),
            "{}",
            o.stderr
        );
    }
}

#[test]
fn help_documents_exit_status_without_rustdoc_markup() {
    let o = scan(&["--help"]);
    assert_eq!(o.code, 0);
    for needle in [
        "Exit status:",
        "  0  every input was read",
        "  1  --fail-on-findings",
        "  2  usage error",
        "--strict",
        "--verbose",
        "--follow-symlinks",
        "Event Hubs Capture",
        "- for standard",
    ] {
        assert!(
            o.stdout.contains(needle),
            "help lacks {needle:?}:\n{}",
            o.stdout
        );
    }
    assert!(
        !o.stdout.contains("[`"),
        "rustdoc markup in help:\n{}",
        o.stdout
    );
}
