//! Regression tests for the nine protocol defects of issue 15 (an audit against splunkd's and
//! the Splunk SDK for Python's behaviour). Each test names its defect.

mod scp_emulator;

use std::io::{BufReader, Cursor, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use scp_emulator::{chunk, execute, getinfo, getinfo_with, run_command, run_generator};
use splunk_scp::{
    Args, Command, CommandError, CommandInfo, CommandType, Generator, GetInfo, Output, Progress,
    RecordBatch, RunOutcome, Runtime,
};

/// Passes every row through (`passthrough`) or, with `mode=record`, builds a fresh record
/// per row with `out.record()`; `mode=extra` uses `out.extra_record()`, `mode=none` emits
/// nothing in `process`; `type=` selects the
/// command type; `finish_rows=N` emits N rows at finish; `set=<name>` sets that field too.
#[derive(Default)]
struct Cmd {
    mode: String,
    finish_rows: usize,
    set: Option<String>,
    empty: bool,
}

impl Command for Cmd {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        let kind = match o.choice("type", &["streaming", "stateful", "events", "reporting"])? {
            Some("stateful") => CommandType::Stateful,
            Some("events") => CommandType::Events,
            Some("reporting") => CommandType::Reporting,
            _ => CommandType::Streaming,
        };
        self.mode = o.get("mode")?.unwrap_or("passthrough").to_owned();
        self.finish_rows = o.parse("finish_rows", "a number")?.unwrap_or(0);
        self.set = o.get("set")?.map(str::to_owned);
        self.empty = o.flag("empty")?.unwrap_or(false);
        o.finish()?;
        Ok(CommandInfo::new(kind))
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        for row in batch.rows() {
            if self.mode == "none" {
                continue;
            }
            if self.empty {
                out.record();
                continue;
            }
            let mut r = match self.mode.as_str() {
                "record" => out.record(),
                "extra" => out.extra_record(),
                _ => out.passthrough(&row),
            };
            r.set("seen", 1u8);
            if let Some(name) = &self.set {
                r.set(name, "v");
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        for i in 0..self.finish_rows {
            out.record().set("i", i);
        }
        Ok(())
    }
}

fn rows_body(n: usize, start: usize) -> String {
    let mut s = String::from("x\n");
    for i in start..start + n {
        s.push_str(&format!("{i}\n"));
    }
    s
}

/// A reader that counts the bytes the runtime consumed.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicUsize>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k, Ordering::Relaxed);
        Ok(k)
    }
}

// ---- 1. Limit errors only after the declared body was read.

#[test]
fn d1_limit_error_is_sent_after_the_declared_body_was_discarded() {
    let big = execute(false, &"y".repeat(100_000));
    let input = [getinfo(&[]), big].concat();
    let total = input.len();
    let n = Arc::new(AtomicUsize::new(0));
    let reader = BufReader::with_capacity(
        4096,
        Counting {
            inner: Cursor::new(input),
            n: n.clone(),
        },
    );
    let mut out = Vec::new();
    let mut log = Vec::new();
    let outcome = Runtime::new().max_chunk_bytes(1000).run_io(
        &mut Cmd::default(),
        reader,
        &mut out,
        &mut log,
    );
    assert!(
        matches!(outcome, RunOutcome::Failed(ref t) if t.contains("1000")),
        "{outcome:?}"
    );
    assert_eq!(
        n.load(Ordering::Relaxed),
        total,
        "the runtime must read the whole declared request before replying with the error"
    );
    let (replies, rest) = scp_emulator::parse_replies(&out);
    assert!(rest.is_empty());
    assert_eq!(replies.len(), 2);
    assert!(replies[1].error().unwrap().contains("max_chunk_bytes"));
}

// ---- 2. --max-chunk-bytes=2147483648 works, larger values are refused.

#[test]
fn d2_documented_maximum_chunk_size_is_accepted_and_larger_refused() {
    assert_eq!(splunk_scp::frame::MAX_CHUNK_BYTES, 1 << 31);
    assert!(Runtime::new().try_max_chunk_bytes(1 << 31).is_ok());
    let e = Runtime::new()
        .try_max_chunk_bytes((1 << 31) + 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("2147483648"), "{e}");
    // The decoder's own bound no longer sits below the documented maximum.
    const { assert!(splunk_scp::csv::MAX_BODY_BYTES >= 1 << 31) };
    // A 2^31-byte declaration passes the frame limit: the only failure is the short input.
    let mut input = b"chunked 1.0,2,2147483648\n{}".to_vec();
    input.extend_from_slice(b"abc");
    let mut r = splunk_scp::frame::FrameReader::with_limits(
        Cursor::new(input),
        splunk_scp::frame::FrameLimits {
            max_metadata: 1 << 20,
            max_body: 1 << 31,
        },
    );
    let (mut m, mut b) = (Vec::new(), Vec::new());
    let e = r.read_chunk(&mut m, &mut b).unwrap_err().to_string();
    assert!(!e.contains("limit"), "{e}");
}

/// Decodes a real 2 GiB body (needs ~5 GiB of memory: `cargo test --release -- --ignored`).
#[test]
#[ignore]
fn d2_two_gib_body_decodes() {
    let row = "0123456789abcdef0123456789abcdef0123456789abcdef012345678901234\n"; // 64 B
    let mut body = String::with_capacity(1 << 31);
    body.push_str("f\n");
    while body.len() + row.len() <= 1 << 31 {
        body.push_str(row);
    }
    while body.len() < 1 << 31 {
        body.push('\n');
    }
    assert_eq!(body.len(), 1 << 31);
    let b = splunk_scp::csv::decode(body.into_bytes()).unwrap();
    let last = b.len() - 1;
    assert_eq!(b.row(last).str("f"), Some(""));
    assert_eq!(b.row(1).str("f"), Some(&row[..63]));
}

// ---- 3. events/reporting output paged at maxresultrows, streamed per chunk, never dropped.

#[test]
fn d3_events_output_is_streamed_per_chunk_and_paged() {
    let reqs = [
        getinfo_with(&["type=events"], 50),
        execute(false, &rows_body(40, 0)),
        execute(false, &rows_body(40, 40)),
        execute(true, &rows_body(40, 80)),
    ];
    let s = run_command(&Runtime::new(), &mut Cmd::default(), &reqs);
    assert_eq!(s.outcome, RunOutcome::Completed, "{}", s.log);
    let sizes: Vec<usize> = s.executes().iter().map(|r| r.records().len()).collect();
    assert_eq!(
        sizes,
        [40, 40, 40],
        "each chunk's output goes with its reply"
    );
    assert_eq!(s.executes().last().unwrap().finished(), Some(true));
}

#[test]
fn d3_reporting_final_output_is_paged_at_maxresultrows() {
    let mut reqs = vec![
        getinfo_with(&["type=reporting", "finish_rows=120", "mode=none"], 50),
        execute(true, &rows_body(3, 0)),
    ];
    // splunkd keeps asking while the command answers finished:false.
    reqs.push(execute(true, ""));
    reqs.push(execute(true, ""));
    let s = run_command(&Runtime::new(), &mut Cmd::default(), &reqs);
    assert_eq!(s.outcome, RunOutcome::Completed, "{}", s.log);
    let pages: Vec<(usize, Option<bool>)> = s
        .executes()
        .iter()
        .map(|r| (r.records().len(), r.finished()))
        .collect();
    assert_eq!(
        pages,
        [(50, Some(false)), (50, Some(false)), (20, Some(true))]
    );
    let all: Vec<String> = s
        .records()
        .iter()
        .filter_map(|r| r.iter().find(|(n, _)| n == "i").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(all, (0..120).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn d3_buffered_rows_are_never_dropped_silently_at_eof() {
    // The final reply holds the first page; stdin closes with 70 rows still unsent.
    let reqs = [
        getinfo_with(&["type=reporting", "finish_rows=120", "mode=none"], 50),
        execute(true, &rows_body(3, 0)),
    ];
    let s = run_command(&Runtime::new(), &mut Cmd::default(), &reqs);
    match &s.outcome {
        RunOutcome::Failed(t) => assert!(t.contains("70"), "{t}"),
        o => panic!("unsent rows must fail the session, got {o:?}"),
    }
    assert!(s.log.contains("70 row"), "{}", s.log);
}

#[test]
fn d3_stdin_closed_without_finished_is_reported_with_the_row_count() {
    // A reporting command emitting in process: nothing is held back, but splunkd never said
    // finished, so `finish` never ran: the log says so.
    let reqs = [
        getinfo_with(&["type=reporting", "finish_rows=5"], 50),
        execute(false, &rows_body(3, 0)),
    ];
    let s = run_command(&Runtime::new(), &mut Cmd::default(), &reqs);
    assert!(
        s.log.contains("without finished=true") && s.log.contains("finish"),
        "{}",
        s.log
    );
}

// ---- 5. _chunked_idx kept, __mv_ collisions rejected, empty records explicit.

const IDX_BODY: &str = "x,_chunked_idx,__mv_x,__mv__chunked_idx\na,0,,\nb,1,,\n";

#[test]
fn d5_record_without_chunked_idx_in_a_stateful_command_is_an_error_naming_the_fix() {
    let s = run_command(
        &Runtime::new(),
        &mut Cmd::default(),
        &[
            getinfo(&["type=stateful", "mode=record"]),
            execute(true, IDX_BODY),
        ],
    );
    let e = s.executes()[0].error().expect("error reply").to_owned();
    assert!(
        e.contains("_chunked_idx") && e.contains("record_for"),
        "{e}"
    );
    // Passthrough keeps it; extra_record says explicitly the row is not derived.
    for mode in ["passthrough", "extra"] {
        let arg = format!("mode={mode}");
        let s = run_command(
            &Runtime::new(),
            &mut Cmd::default(),
            &[getinfo(&["type=stateful", &arg]), execute(true, IDX_BODY)],
        );
        assert_eq!(s.outcome, RunOutcome::Completed, "{mode}: {}", s.log);
    }
}

#[test]
fn d5_mv_companion_name_collision_is_rejected() {
    let s = run_command(
        &Runtime::new(),
        &mut Cmd::default(),
        &[getinfo(&["set=__mv_x"]), execute(true, "x\na\n")],
    );
    let e = s.executes()[0].error().expect("error reply").to_owned();
    assert!(e.contains("__mv_x"), "{e}");
}

#[test]
fn d5_empty_records_are_explicit() {
    // Only empty records: no column to write them under; an error says so.
    let s = run_command(
        &Runtime::new(),
        &mut Cmd::default(),
        &[getinfo(&["empty=t"]), execute(true, "x\na\nb\n")],
    );
    let e = s.executes()[0].error().expect("error reply").to_owned();
    assert!(e.contains("no fields"), "{e}");
    // An empty record beside others is a row of empty fields, never dropped.
    let mut out = Output::new();
    out.record().set("a", "1");
    out.record();
    let mut body = Vec::new();
    splunk_scp::csv::encode(&out, &mut body, splunk_scp::csv::LineEnding::Lf);
    let b = splunk_scp::csv::decode(body).unwrap();
    assert_eq!(b.len(), 2);
}

// ---- 6. CSV edge cases as the SDK's reader, or a clear error.

#[test]
fn d6_blank_lines_are_empty_records_like_the_sdk() {
    let b = splunk_scp::csv::decode(b"x\na\n\n\n".to_vec()).unwrap();
    assert_eq!(b.len(), 3);
    assert_eq!(b.row(1).str("x"), Some(""));
    let b = splunk_scp::csv::decode(b"a,b\n1,2\n\n3,4\n".to_vec()).unwrap();
    assert_eq!(b.len(), 3);
    assert_eq!(
        (b.row(1).str("a"), b.row(2).str("b")),
        (Some(""), Some("4"))
    );
    let b = splunk_scp::csv::decode(b"x\r\na\r\n\r\n".to_vec()).unwrap();
    assert_eq!(b.len(), 2);
}

#[test]
fn d6_short_rows_are_padded_and_long_rows_a_clear_error() {
    let b = splunk_scp::csv::decode(b"a,b,c\n1,2,3\n4\n".to_vec()).unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b.row(1).str("a"), b.row(1).str("c")),
        (Some("4"), Some(""))
    );
    let e = splunk_scp::csv::decode(b"a,b\n1,2,3\n".to_vec())
        .unwrap_err()
        .to_string();
    assert!(e.contains("3") && e.contains("2"), "{e}");
}

#[test]
fn d6_cr_only_line_endings_are_a_clear_error() {
    let e = splunk_scp::csv::decode(b"x\ra\rb\r".to_vec())
        .unwrap_err()
        .to_string();
    assert!(e.contains("CR"), "{e}");
    // A CR inside a quoted value is data.
    let b = splunk_scp::csv::decode(b"x\n\"a\rb\"\n".to_vec()).unwrap();
    assert_eq!(b.row(0).str("x"), Some("a\rb"));
}

// ---- 7. Arguments as the SDK: no second unquoting; `1x=2` is an unrecognised option.

#[test]
fn d7_values_are_not_unquoted_a_second_time() {
    let a = Args::parse(&["total=\"q\"", "\"value1\""]);
    assert_eq!(a.options(), [("total".to_owned(), "\"q\"".to_owned())]);
    assert_eq!(a.positional(), ["\"value1\""]);
}

#[test]
fn d7_invalid_option_names_are_unrecognised_options() {
    let a = Args::parse(&["1x=2"]);
    assert!(a.positional().is_empty());
    let o = a.checker();
    let e = o.finish().unwrap_err().to_string();
    assert!(e.starts_with("Unrecognized option: 1x=2"), "{e}");
}

// ---- 8. Metadata tolerance as the SDK.

#[test]
fn d8_metadata_is_as_tolerant_as_the_sdk() {
    let gi = br#"{"action":"getinfo","preview":0,"searchinfo":{"args":null,"maxresultrows":50000},"searchinfo":{"args":["type=streaming"]}}"#;
    let reqs = [
        chunk(gi, b""),
        chunk(br#"{"action":"execute","finished":"false"}"#, b"x\na\n"),
        chunk(
            br#"{"action":"execute","finished":"true","finished":"true"}"#,
            b"x\nb\n",
        ),
    ];
    let s = run_command(&Runtime::new(), &mut Cmd::default(), &reqs);
    assert_eq!(s.outcome, RunOutcome::Completed, "{}", s.log);
    assert_eq!(s.executes()[0].finished(), Some(false));
    assert_eq!(s.executes()[1].finished(), Some(true));
    let s = run_command(
        &Runtime::new(),
        &mut Cmd::default(),
        &[
            chunk(br#"{"action":"getinfo","searchinfo":{"args":null}}"#, b""),
            execute(true, "x\na\n"),
        ],
    );
    assert_eq!(s.outcome, RunOutcome::Completed, "{}", s.log);
}

// ---- 9. Generators asked with finished:true page correctly; the EOF message is right.

struct Gen {
    total: usize,
    next: usize,
}

impl Generator for Gen {
    fn getinfo(&mut self, _: &GetInfo, _: &Args) -> Result<CommandInfo, CommandError> {
        Ok(CommandInfo::new(CommandType::Stateful))
    }
    /// Ignores `max_rows` on purpose: the runtime must page what it is given.
    fn generate(&mut self, out: &mut Output, _max_rows: usize) -> Result<Progress, CommandError> {
        while self.next < self.total {
            out.record().set("i", self.next);
            self.next += 1;
        }
        Ok(Progress::Done)
    }
}

#[test]
fn d9_generator_asked_with_finished_true_pages_at_maxresultrows() {
    let reqs = [
        getinfo_with(&[], 50),
        execute(true, ""),
        execute(true, ""),
        execute(true, ""),
    ];
    let s = run_generator(
        &Runtime::new(),
        &mut Gen {
            total: 120,
            next: 0,
        },
        &reqs,
    );
    assert_eq!(s.outcome, RunOutcome::Completed, "{}", s.log);
    let pages: Vec<(usize, Option<bool>)> = s
        .executes()
        .iter()
        .map(|r| (r.records().len(), r.finished()))
        .collect();
    assert_eq!(
        pages,
        [(50, Some(false)), (50, Some(false)), (20, Some(true))]
    );
}

#[test]
fn d9_eof_while_the_generator_has_rows_says_so() {
    let reqs = [getinfo_with(&[], 50), execute(true, "")];
    let s = run_generator(
        &Runtime::new(),
        &mut Gen {
            total: 120,
            next: 0,
        },
        &reqs,
    );
    assert!(
        !s.log.contains("without finished=true"),
        "misleading: {}",
        s.log
    );
    assert!(s.log.contains("70 row"), "{}", s.log);
    assert!(matches!(s.outcome, RunOutcome::Failed(_)));
}
