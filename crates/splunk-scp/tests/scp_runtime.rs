//! The runtime driven in-process over byte buffers: every protocol behaviour of a session.

mod scp_emulator;

use std::io::{self, Cursor, Write};

use scp_emulator::{chunk, execute, getinfo, getinfo_with, parse_replies, Reply};
use splunk_scp::frame::FrameLimits;
use splunk_scp::{
    Args, Command, CommandError, CommandInfo, CommandType, Generator, GetInfo, Level, Output,
    Progress, RecordBatch, RecordSource, RunOutcome, Runtime,
};

/// A test command whose behaviour is chosen by its arguments.
#[derive(Default)]
struct Probe {
    kind: Option<CommandType>,
    panic_in: Option<String>,
    fail_in: Option<String>,
    chunks: usize,
    rows: usize,
    touched: bool,
}

impl Command for Probe {
    fn getinfo(&mut self, _info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        let kind = match o.choice("type", &["streaming", "stateful", "events", "reporting"])? {
            Some("stateful") => CommandType::Stateful,
            Some("events") => CommandType::Events,
            Some("reporting") => CommandType::Reporting,
            _ => CommandType::Streaming,
        };
        self.kind = Some(kind);
        self.panic_in = o.get("panic")?.map(str::to_owned);
        self.fail_in = o.get("fail")?.map(str::to_owned);
        let decline = o.flag("decline")?.unwrap_or(false);
        o.finish()?;
        if self.panic_in.as_deref() == Some("getinfo") {
            panic!("boom in getinfo");
        }
        let mut info = CommandInfo::new(kind)
            .required_fields(["_raw", "n"])
            .message(Level::Info, "configured");
        info.decline = decline;
        Ok(info)
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        self.touched = true;
        assert!(!batch.is_empty(), "process must never see an empty batch");
        self.chunks += 1;
        if self.panic_in.as_deref() == Some("process") {
            let v: Vec<u8> = Vec::new();
            let _ = v[batch.len()]; // index out of bounds
        }
        if self.fail_in.as_deref() == Some("process") {
            out.warn("partial work lost");
            return Err(CommandError::new("cannot process chunk"));
        }
        let n = batch.column("n");
        for row in batch.rows() {
            self.rows += 1;
            let mut r = out.passthrough(&row);
            r.set("len", row.raw().map_or(0, str::len));
            if let Some(n) = n {
                if row.get_id(n).as_str() == "late" {
                    r.set("late_key", "only here");
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        if self.panic_in.as_deref() == Some("finish") {
            panic!("boom in finish");
        }
        out.record()
            .set("summary", "done")
            .set("rows", self.rows)
            .set("chunks", self.chunks);
        out.warn(format!("skipped {} events", 7));
        Ok(())
    }
}

fn session(cmd: &mut Probe, input: &[u8]) -> (RunOutcome, Vec<Reply>, String) {
    session_rt(&Runtime::new(), cmd, input)
}

fn session_rt(rt: &Runtime, cmd: &mut Probe, input: &[u8]) -> (RunOutcome, Vec<Reply>, String) {
    let mut out = Vec::new();
    let mut log = Vec::new();
    let outcome = rt.run_io(cmd, Cursor::new(input.to_vec()), &mut out, &mut log);
    let (replies, rest) = parse_replies(&out);
    assert!(
        rest.is_empty(),
        "unparsable output after the replies: {rest:?}"
    );
    (outcome, replies, String::from_utf8(log).unwrap())
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

const BODY: &str = "\"_raw\",n,\"_chunked_idx\",\"__mv__raw\",\"__mv_n\",\"__mv__chunked_idx\"\n\"a,b\",1,0,,,\nxyz,\"1\n2\",1,,\"$1$;$2$\",\n";

#[test]
fn streaming_one_reply_per_chunk_preserving_chunked_idx() {
    let mut cmd = Probe::default();
    let input = cat(&[
        getinfo(&["type=stateful"]),
        execute(false, BODY),
        execute(false, ""),
        execute(true, BODY),
    ]);
    let (outcome, replies, log) = session(&mut cmd, &input);
    assert_eq!(outcome, RunOutcome::Completed);
    assert!(log.is_empty(), "{log}");
    assert_eq!(replies.len(), 4, "exactly one reply per request");
    assert_eq!(
        replies[0].raw_meta,
        r#"{"type":"stateful","required_fields":["_raw","n"],"inspector":{"messages":[["INFO","configured"]]}}"#
    );
    let r1 = &replies[1];
    assert_eq!(r1.finished(), Some(false));
    assert_eq!(r1.records().len(), 2);
    assert_eq!(r1.field(0, "_chunked_idx").as_deref(), Some("0"));
    assert_eq!(r1.field(1, "_chunked_idx").as_deref(), Some("1"));
    assert_eq!(r1.field(0, "len").as_deref(), Some("3"));
    // The multivalue survives the round trip with its __mv_ companion.
    let b = splunk_scp::csv::decode(r1.body.clone()).unwrap();
    let v = b.row(1).get("n").unwrap();
    assert_eq!(v.values().collect::<Vec<_>>(), ["1", "2"]);
    // empty chunk mid-stream: still exactly one (empty) reply
    assert_eq!(
        (replies[2].finished(), replies[2].body.len()),
        (Some(false), 0)
    );
    // last data chunk carries finished: its rows and finish()'s output in one reply
    let last = &replies[3];
    assert_eq!(last.finished(), Some(true));
    assert_eq!(last.records().len(), 3);
    assert_eq!(last.field(2, "summary").as_deref(), Some("done"));
    assert_eq!(
        last.messages(),
        [("WARN".to_owned(), "skipped 7 events".to_owned())]
    );
    assert_eq!(cmd.chunks, 2);
}

#[test]
fn union_of_keys_keeps_late_fields() {
    let mut cmd = Probe::default();
    let body = "_raw,n\nx,1\ny,late\n";
    let (_, replies, _) = session(&mut cmd, &cat(&[getinfo(&[]), execute(true, body)]));
    let recs = replies[1].records();
    assert_eq!(
        recs[0]
            .iter()
            .find(|(n, _)| n == "late_key")
            .map(|x| x.1.as_str()),
        Some("")
    );
    assert_eq!(
        recs[1]
            .iter()
            .find(|(n, _)| n == "late_key")
            .map(|x| x.1.as_str()),
        Some("only here")
    );
}

/// Rows emitted in `process` go with that chunk's reply for every type (as the SDK's
/// per-chunk `transform`/`reduce`): nothing is held in memory until the end (issue 15,
/// defect 3); what `finish` emits goes with the final reply.
#[test]
fn events_and_reporting_stream_process_output_per_chunk_in_both_styles() {
    for kind in ["reporting", "events"] {
        // 8.2 style: trailing header-only finished chunk
        let mut cmd = Probe::default();
        let arg = format!("type={kind}");
        let input = cat(&[
            getinfo(&[&arg]),
            execute(false, BODY),
            execute(false, BODY),
            execute(true, "\"_raw\",n\n"),
        ]);
        let (outcome, replies, _) = session(&mut cmd, &input);
        assert_eq!(outcome, RunOutcome::Completed);
        assert_eq!(replies.len(), 4);
        for r in &replies[1..3] {
            assert_eq!(
                (r.finished(), r.records().len()),
                (Some(false), 2),
                "{kind}"
            );
        }
        let last = &replies[3];
        assert_eq!(last.finished(), Some(true));
        assert_eq!(last.records().len(), 1, "{kind}: the summary");
        assert_eq!(last.field(0, "rows").as_deref(), Some("4"));

        // 6.3/8.0 style: one chunk with all rows and finished:true
        let mut cmd = Probe::default();
        let (_, replies, _) = session(&mut cmd, &cat(&[getinfo(&[&arg]), execute(true, BODY)]));
        assert_eq!(replies[1].records().len(), 3);
    }
}

#[test]
fn probe_runs_nothing_but_getinfo() {
    let mut cmd = Probe::default();
    let (outcome, replies, log) = session(&mut cmd, &getinfo(&[]));
    assert_eq!(outcome, RunOutcome::Probe);
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(replies.len(), 1);
    assert!(!cmd.touched);
    assert!(log.is_empty());
    let (outcome, replies, _) = session(&mut Probe::default(), b"");
    assert_eq!((outcome, replies.len()), (RunOutcome::NoInput, 0));
}

fn assert_fatal(outcome: &RunOutcome, replies: &[Reply], n: usize, want: &str) {
    assert_eq!(outcome.exit_code(), 1, "{outcome:?}");
    assert_eq!(
        replies.len(),
        n,
        "one reply per request, the last is the error"
    );
    let r = replies.last().unwrap();
    assert_eq!(r.finished(), Some(true));
    let err = r.error().unwrap();
    assert!(err.contains(want), "{err:?} should contain {want:?}");
    assert!(r.raw_meta.find("inspector").unwrap() < r.raw_meta.find("\"error\"").unwrap());
    assert_eq!(
        r.messages().last().unwrap(),
        &("ERROR".to_owned(), err.to_owned())
    );
    assert!(r.body.is_empty());
}

#[test]
fn panics_become_error_replies() {
    for (at, n, want) in [
        ("getinfo", 1, "boom in getinfo"),
        ("process", 2, "index out of bounds"),
        ("finish", 2, "boom in finish"),
    ] {
        let mut cmd = Probe::default();
        let arg = format!("panic={at}");
        let (outcome, replies, log) = session(
            &mut cmd,
            &cat(&[getinfo(&[&arg]), execute(true, BODY), execute(true, BODY)]),
        );
        assert_fatal(&outcome, &replies, n, want);
        assert!(log.contains(want), "{log}");
    }
}

#[test]
fn command_errors_keep_earlier_messages() {
    let mut cmd = Probe::default();
    let (outcome, replies, _) = session(
        &mut cmd,
        &cat(&[getinfo(&["fail=process"]), execute(false, BODY)]),
    );
    assert_fatal(&outcome, &replies, 2, "cannot process chunk");
    assert_eq!(
        replies[1].messages()[0],
        ("WARN".to_owned(), "partial work lost".to_owned())
    );
}

#[test]
fn protocol_faults_become_error_replies() {
    let cases: Vec<(Vec<u8>, usize, &str)> = vec![
        (execute(false, ""), 1, "expected action \"getinfo\""),
        (
            cat(&[getinfo(&[]), chunk(b"[1,2]", b"")]),
            2,
            "not valid protocol JSON",
        ),
        (
            cat(&[getinfo(&[]), chunk(br#"{"action":"getinfo"}"#, b"")]),
            2,
            "expected action \"execute\"",
        ),
        (
            cat(&[getinfo(&[]), execute(true, "a,b\n1,\"x\n")]),
            2,
            "quoted field in column 1 is not closed",
        ),
        (
            cat(&[getinfo(&[]), b"chunked 1.0,x,1\n".to_vec()]),
            2,
            "malformed chunk header",
        ),
        (
            cat(&[getinfo(&["nosuch=1"])]),
            1,
            "Unrecognized option: nosuch=1 (valid options: type, panic, fail, decline)",
        ),
    ];
    for (input, n, want) in cases {
        let (outcome, replies, _) = session(&mut Probe::default(), &input);
        assert_fatal(&outcome, &replies, n, want);
    }
}

#[test]
fn metadata_limit_is_configurable() {
    let rt = Runtime::new().limits(FrameLimits {
        max_metadata: 100,
        max_body: 10,
    });
    let (outcome, replies, _) = session_rt(&rt, &mut Probe::default(), &getinfo(&[]));
    assert_fatal(&outcome, &replies, 1, "chunk metadata length");
    let input = cat(&[getinfo_small(), execute(true, "_raw,n\n1,2\n")]);
    let (outcome, replies, _) = session_rt(&rt, &mut Probe::default(), &input);
    assert_fatal(
        &outcome,
        &replies,
        2,
        "chunk body length 11 bytes exceeds the limit of 10 bytes",
    );
}

fn getinfo_small() -> Vec<u8> {
    chunk(br#"{"action":"getinfo","searchinfo":{"args":[]}}"#, b"")
}

#[test]
fn oversized_reply_becomes_an_error_reply() {
    let rt = Runtime::new().max_reply_bytes(Some(200));
    let big = format!("_raw,n\n{},1\n", "x".repeat(500));
    let (outcome, replies, _) = session_rt(
        &rt,
        &mut Probe::default(),
        &cat(&[getinfo(&[]), execute(true, &big)]),
    );
    assert_fatal(
        &outcome,
        &replies,
        2,
        "exceeds the configured maximum chunk size (maxchunksize) of 200 bytes",
    );
}

#[test]
fn declined_command_answers_finished_to_everything() {
    let (outcome, replies, _) = session(
        &mut Probe::default(),
        &cat(&[
            getinfo(&["decline=t"]),
            execute(false, BODY),
            execute(true, ""),
        ]),
    );
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(replies[0].finished(), Some(true));
    assert!(replies[1..]
        .iter()
        .all(|r| r.finished() == Some(true) && r.body.is_empty()));
}

#[test]
fn empty_metadata_counts_as_execute() {
    let (_, replies, _) = session(
        &mut Probe::default(),
        &cat(&[getinfo(&[]), chunk(b"", b"_raw,n\na,1\n")]),
    );
    assert_eq!(replies[1].finished(), Some(false));
    assert_eq!(replies[1].records().len(), 1);
}

/// A writer whose reader goes away after `ok_writes` successful flushes.
struct ClosingPipe {
    ok_flushes: usize,
    data: Vec<u8>,
}

impl Write for ClosingPipe {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.ok_flushes == 0 {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
        }
        self.data.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.ok_flushes == 0 {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
        }
        self.ok_flushes -= 1;
        Ok(())
    }
}

#[test]
fn epipe_on_the_final_reply_is_quiet_but_mid_session_is_an_error() {
    let input = cat(&[getinfo(&[]), execute(true, BODY)]);
    let mut log = Vec::new();
    let pipe = ClosingPipe {
        ok_flushes: 1,
        data: Vec::new(),
    };
    let outcome = Runtime::new().run_io(&mut Probe::default(), Cursor::new(input), pipe, &mut log);
    assert_eq!(outcome, RunOutcome::Completed);
    assert!(log.is_empty());

    let input = cat(&[getinfo(&[]), execute(false, BODY), execute(true, BODY)]);
    let pipe = ClosingPipe {
        ok_flushes: 1,
        data: Vec::new(),
    };
    let outcome = Runtime::new().run_io(&mut Probe::default(), Cursor::new(input), pipe, &mut log);
    assert_eq!(outcome.exit_code(), 1);
}

struct Count {
    n: u64,
    next: u64,
    panic_at: Option<u64>,
}

impl Generator for Count {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        self.n = o.parse("n", "an integer")?.unwrap_or(0);
        self.panic_at = o.parse("panic_at", "an integer")?;
        o.finish()?;
        Ok(CommandInfo::new(CommandType::Streaming))
    }
    fn generate(&mut self, out: &mut Output, max_rows: usize) -> Result<Progress, CommandError> {
        for _ in 0..max_rows {
            if self.next >= self.n {
                return Ok(Progress::Done);
            }
            if Some(self.next) == self.panic_at {
                panic!("generator broke at {}", self.next);
            }
            out.record().set("i", self.next);
            self.next += 1;
        }
        Ok(if self.next >= self.n {
            Progress::Done
        } else {
            Progress::More
        })
    }
}

fn gen_session(args: &[&str], maxrows: u64, requests: usize) -> (RunOutcome, Vec<Reply>) {
    let mut g = Count {
        n: 0,
        next: 0,
        panic_at: None,
    };
    let mut input = getinfo_with(args, maxrows);
    for _ in 0..requests {
        // 8.2 sent finished:true with a header naming required fields; 6.3 an empty body.
        input.extend(execute(false, "\"_chunked_idx\"\n"));
    }
    let mut out = Vec::new();
    let outcome =
        Runtime::new().run_generator_io(&mut g, Cursor::new(input), &mut out, &mut io::sink());
    (outcome, parse_replies(&out).0)
}

#[test]
fn generator_pages_and_finishes() {
    let (outcome, replies) = gen_session(&["n=120"], 50, 3);
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(
        replies[0].raw_meta,
        r#"{"type":"streaming","generating":true}"#
    );
    let sizes: Vec<usize> = replies[1..].iter().map(|r| r.records().len()).collect();
    assert_eq!(sizes, [50, 50, 20]);
    let fin: Vec<_> = replies[1..].iter().map(|r| r.finished()).collect();
    assert_eq!(fin, [Some(false), Some(false), Some(true)]);
    // exactly at a page boundary
    let (_, replies) = gen_session(&["n=100"], 50, 2);
    let fin: Vec<_> = replies[1..].iter().map(|r| r.finished()).collect();
    assert_eq!(fin, [Some(false), Some(true)]);
    // nothing to generate
    let (_, replies) = gen_session(&["n=0"], 50, 1);
    assert_eq!(
        (replies[1].finished(), replies[1].body.len()),
        (Some(true), 0)
    );
}

#[test]
fn generator_panic_is_an_error_reply() {
    let (outcome, replies) = gen_session(&["n=120", "panic_at=70"], 50, 3);
    assert_fatal(&outcome, &replies, 3, "generator broke at 70");
}

#[test]
fn legacy_header_on_stdin_is_named() {
    let mut log = Vec::new();
    let mut out = Vec::new();
    let outcome = Runtime::new().run_io(
        &mut Probe::default(),
        Cursor::new(b"splunkVersion:6.5.1\n\n".to_vec()),
        &mut out,
        &mut log,
    );
    assert_eq!(outcome.exit_code(), 1);
    assert!(String::from_utf8(log)
        .unwrap()
        .contains("chunked = true is missing"));
    assert!(out.is_empty(), "a v1 peer gets no v2 reply");
    assert!(splunk_scp::runtime::check_argv(["__EXECUTE__"])
        .unwrap_err()
        .to_string()
        .contains("chunked = true is missing"));
    assert!(splunk_scp::runtime::check_argv(["--flag"]).is_ok());
}

/// Records how the runtime hands it rows: batch sizes, every row's `n` in order, and one
/// `end_request` per request (which answers with an extra record).
#[derive(Default)]
struct Batches {
    calls: Vec<usize>,
    seen: Vec<String>,
    ends: usize,
    fail_at_call: Option<usize>,
}

impl Command for Batches {
    fn getinfo(&mut self, _info: &GetInfo, _args: &Args) -> Result<CommandInfo, CommandError> {
        Ok(CommandInfo::new(CommandType::Stateful))
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        assert!(!batch.is_empty(), "process must never see an empty batch");
        self.calls.push(batch.len());
        if self.fail_at_call == Some(self.calls.len()) {
            return Err(CommandError::new("cannot process this batch"));
        }
        for row in batch.rows() {
            let n = row.str("n").unwrap_or_default().to_owned();
            out.passthrough(&row)
                .set("len", row.raw().map_or(0, str::len));
            self.seen.push(n);
        }
        Ok(())
    }

    fn end_request(&mut self, out: &mut Output) -> Result<(), CommandError> {
        self.ends += 1;
        out.extra_record().set("end_of_request", self.ends);
        Ok(())
    }
}

/// A body of `rows` rows of about 500 bytes of `_raw` JSON each (quotes doubled), so that
/// it arrives in several 256 KiB pieces.
fn big_body(rows: usize, ragged_at: Option<usize>) -> String {
    let mut body = String::from("\"_raw\",n,\"_chunked_idx\"\n");
    for i in 0..rows {
        let raw = format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x\\\"y".repeat(100));
        let extra = if ragged_at == Some(i) { ",extra" } else { "" };
        body.push_str(&format!(
            "\"{}\",{i},{i}{extra}\n",
            raw.replace('"', "\"\"")
        ));
    }
    body
}

fn batches_session(rt: &Runtime, cmd: &mut Batches, input: &[u8]) -> (RunOutcome, Vec<Reply>) {
    let mut out = Vec::new();
    let mut log = Vec::new();
    let outcome = rt.run_io(cmd, Cursor::new(input.to_vec()), &mut out, &mut log);
    let (replies, rest) = parse_replies(&out);
    assert!(rest.is_empty());
    (outcome, replies)
}

#[test]
fn batch_bytes_splits_requests_into_consecutive_batches_with_the_same_replies() {
    let input = cat(&[
        getinfo(&[]),
        execute(false, &big_body(2_000, None)),
        execute(false, ""),
        execute(true, &big_body(700, None)),
    ]);
    let mut whole = Batches::default();
    let (o1, r1) = batches_session(&Runtime::new(), &mut whole, &input);
    assert_eq!(o1, RunOutcome::Completed);
    assert_eq!(
        whole.calls,
        [2_000, 700],
        "one batch per request by default"
    );
    for (bytes, overlap) in [1usize, 100_000, 300_000]
        .into_iter()
        .flat_map(|b| [(b, true), (b, false)])
    {
        let mut split = Batches::default();
        let rt = Runtime::new()
            .batch_bytes(Some(bytes))
            .overlap_reading(overlap);
        let (o2, r2) = batches_session(&rt, &mut split, &input);
        assert_eq!(o2, RunOutcome::Completed);
        assert!(split.calls.len() > 2, "{bytes}: {:?}", split.calls);
        assert_eq!(split.calls.iter().sum::<usize>(), 2_700);
        assert_eq!(split.seen, whole.seen, "{bytes}: rows in the same order");
        assert_eq!(split.ends, 2, "one end_request per request with rows");
        assert_eq!(r2.len(), r1.len());
        for (a, b) in r1.iter().zip(&r2) {
            assert_eq!(a.raw_meta, b.raw_meta);
            assert_eq!(a.body, b.body, "{bytes}: same reply bodies");
        }
    }
}

#[test]
fn batch_bytes_keeps_errors_of_the_whole_request() {
    // A malformed row after several batches: the same error reply as without batches.
    let input = cat(&[getinfo(&[]), execute(true, &big_body(2_000, Some(1_500)))]);
    let (_, whole) = batches_session(&Runtime::new(), &mut Batches::default(), &input);
    for overlap in [true, false] {
        batch_errors(&input, &whole, overlap);
    }
}

fn batch_errors(input: &[u8], whole: &[Reply], overlap: bool) {
    let rt = Runtime::new().batch_bytes(Some(1)).overlap_reading(overlap);
    let mut split = Batches::default();
    let (outcome, replies) = batches_session(&rt, &mut split, input);
    assert!(matches!(outcome, RunOutcome::Failed(_)), "{outcome:?}");
    assert!(split.calls.len() > 1, "{:?}", split.calls);
    let e = replies[1].error().expect("error reply");
    assert_eq!(Some(e), whole[1].error());
    assert!(e.contains("row 1501"), "{e}");

    // A batch that fails mid-body: an error reply once the body is read, nothing after it.
    let input = cat(&[
        getinfo(&[]),
        execute(false, &big_body(2_000, None)),
        execute(true, BODY),
    ]);
    let mut cmd = Batches {
        fail_at_call: Some(2),
        ..Batches::default()
    };
    let (outcome, replies) = batches_session(&rt, &mut cmd, &input);
    assert!(matches!(outcome, RunOutcome::Failed(_)), "{outcome:?}");
    assert_eq!(cmd.calls.len(), 2, "no batch after the failing one");
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[1].error(), Some("cannot process this batch"));
}

#[test]
fn batch_bytes_body_cut_off_after_batches_is_a_truncation_error() {
    // splunkd dies mid-request: batches of the first 600 kB were processed already; the
    // session still ends with the frame error naming the body and its sizes, on both paths.
    let full = cat(&[getinfo(&[]), execute(true, &big_body(2_000, None))]);
    let cut = &full[..full.len() - 300_000];
    let (_, whole) = batches_session(&Runtime::new(), &mut Batches::default(), cut);
    for overlap in [true, false] {
        let rt = Runtime::new().batch_bytes(Some(1)).overlap_reading(overlap);
        let mut cmd = Batches::default();
        let (outcome, replies) = batches_session(&rt, &mut cmd, cut);
        let RunOutcome::Failed(text) = &outcome else {
            panic!("{overlap}: {outcome:?}");
        };
        assert!(text.contains("input ended inside a chunk body"), "{text}");
        assert!(!cmd.calls.is_empty(), "{overlap}: no batch before the cut");
        assert_eq!(cmd.ends, 0, "{overlap}: the request never ended");
        assert_eq!(replies.len(), 2, "{overlap}: getinfo + the error reply");
        assert_eq!(replies[1].error(), whole[1].error(), "{overlap}");
    }
}

/// A reporting command whose `finish` gives `n` records, held (`mode=hold`) or made on
/// demand (`mode=stream`), or a source that breaks the contract (`mode=liar`: other values
/// the second time; `mode=blank`: records without fields).
struct Summary {
    n: usize,
    mode: String,
}

impl Command for Summary {
    fn getinfo(&mut self, _info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        self.n = o.get("n")?.map_or(0, |v| v.parse().unwrap());
        self.mode = o.get("mode")?.unwrap_or("stream").to_owned();
        o.finish()?;
        Ok(CommandInfo::new(CommandType::Reporting))
    }

    fn process(&mut self, _: &RecordBatch, _: &mut Output) -> Result<(), CommandError> {
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        out.info("held message");
        // One held record first, then the rest.
        if self.n > 0 && self.mode != "blank" {
            summary_record(out, 0);
        }
        let source = Records {
            from: 1,
            n: self.n,
            mode: self.mode.clone(),
            calls: 0,
        };
        if self.mode == "hold" {
            let mut src = source;
            src.records(0..self.n.saturating_sub(1), out);
            src.finish(out);
        } else {
            if self.mode == "twice" {
                out.stream(Records {
                    from: 0,
                    n: 1,
                    mode: String::new(),
                    calls: 0,
                });
            }
            out.stream(source);
        }
        Ok(())
    }
}

fn summary_record(out: &mut Output, i: usize) {
    let mut r = out.record();
    r.set("i", i).set("name", format!("r,{i} \"q\"").as_str());
    if i.is_multiple_of(3) {
        r.set_multi("tags", [format!("t{i}"), "$x$".to_owned()]);
    }
    if i.is_multiple_of(7) {
        r.set("rare", "");
    }
}

struct Records {
    from: usize,
    n: usize,
    mode: String,
    calls: usize,
}

impl RecordSource for Records {
    fn len(&self) -> usize {
        self.n.saturating_sub(self.from)
    }
    fn records(&mut self, range: std::ops::Range<usize>, out: &mut Output) {
        self.calls += 1;
        for k in range {
            match self.mode.as_str() {
                "blank" => drop(out.record()),
                "panic" if k == 2 => panic!("source broke at {k}"),
                "liar" if self.calls > 1 => {
                    out.record().set("i", "another value");
                }
                _ => summary_record(out, self.from + k),
            }
        }
    }
    fn finish(&mut self, out: &mut Output) {
        out.warn(format!("made {} records", self.len()));
    }
}

fn summary_session(args: &[&str], maxrows: u64, rt: &Runtime) -> (RunOutcome, Vec<Reply>, String) {
    let mut c = Summary {
        n: 0,
        mode: String::new(),
    };
    let mut input = getinfo_with(args, maxrows);
    input.extend(execute(false, "x\n1\n"));
    for _ in 0..6 {
        input.extend(execute(true, "x\n"));
    }
    let (mut out, mut log) = (Vec::new(), Vec::new());
    let outcome = rt.run_io(&mut c, Cursor::new(input), &mut out, &mut log);
    let (replies, rest) = parse_replies(&out);
    // A source breaking its contract leaves a chunk whose length is wrong.
    assert!(
        rest.is_empty() || args.contains(&"mode=liar"),
        "bytes after the last reply"
    );
    (outcome, replies, String::from_utf8(log).unwrap())
}

/// Non-empty fields of every record of `replies`, in order.
fn nonempty(replies: &[Reply]) -> Vec<Vec<(String, String)>> {
    replies
        .iter()
        .flat_map(Reply::records)
        .map(|r| r.into_iter().filter(|(_, v)| !v.is_empty()).collect())
        .collect()
}

#[test]
fn streamed_records_are_the_held_records() {
    for (n, page) in [
        (1, 50),
        (700, 50_000),
        (700, 300),
        (600, 300),
        (1000, 256),
        // Pages of several of the runtime's steps (1,024 records each).
        (2500, 50_000),
        (2500, 1500),
        (5, 1),
    ] {
        let rt = Runtime::new();
        let (ho, held, _) = summary_session(&[&format!("n={n}"), "mode=hold"], page, &rt);
        let (so, streamed, log) = summary_session(&[&format!("n={n}")], page, &rt);
        assert_eq!(
            (&ho, &so),
            (&RunOutcome::Completed, &RunOutcome::Completed),
            "{log}"
        );
        assert_eq!(held.len(), streamed.len(), "n={n} page={page}: replies");
        assert_eq!(nonempty(&held), nonempty(&streamed), "n={n} page={page}");
        assert_eq!(nonempty(&streamed).len(), n);
        let fin = |r: &[Reply]| r.iter().map(|r| r.finished()).collect::<Vec<_>>();
        assert_eq!(fin(&held), fin(&streamed));
        if held.len() == 3 {
            // One page: byte for byte the reply of the held records.
            assert_eq!(held[2].body, streamed[2].body, "n={n}");
        }
        // The held message goes with the first page, the source's with its last records.
        let last = streamed
            .iter()
            .position(|r| r.finished() == Some(true))
            .unwrap();
        let msgs: Vec<_> = streamed.iter().map(Reply::messages).collect();
        assert_eq!(msgs[2][0], ("INFO".to_owned(), "held message".to_owned()));
        assert!(msgs[last].contains(&("WARN".to_owned(), format!("made {} records", n - 1))));
        assert_eq!(msgs.iter().flatten().count(), 2, "{msgs:?}");
    }
}

#[test]
fn a_streamed_reply_is_checked_before_it_is_written() {
    // Over the reply limit: refused as a held reply is, before any record is written.
    let rt = Runtime::new().max_reply_bytes(Some(2_000));
    let (outcome, replies, _) = summary_session(&["n=200"], 50_000, &rt);
    assert_eq!(outcome.exit_code(), 1);
    let last = replies.last().unwrap();
    assert!(last.error().unwrap().contains("2000"), "{:?}", last.error());
    assert!(last.body.is_empty());
    // Records without fields cannot be written.
    let (outcome, replies, _) = summary_session(&["n=4", "mode=blank"], 50_000, &Runtime::new());
    assert_eq!(outcome.exit_code(), 1);
    assert!(replies
        .last()
        .unwrap()
        .error()
        .unwrap()
        .contains("no fields"));
    // A panicking source is an error reply, as a panicking hook is.
    let (outcome, replies, _) = summary_session(&["n=9", "mode=panic"], 50_000, &Runtime::new());
    assert_eq!(outcome.exit_code(), 1);
    let e = replies.last().unwrap().error().unwrap().to_owned();
    assert!(e.contains("source broke at 2"), "{e}");
    // One source at a time.
    let (outcome, replies, _) = summary_session(&["n=4", "mode=twice"], 50_000, &Runtime::new());
    assert_eq!(outcome.exit_code(), 1);
    let e = replies.last().unwrap().error().unwrap().to_owned();
    assert!(e.contains("Output::stream was called again"), "{e}");
    // A source that gives other records the second time fails the command (the chunk's
    // header is out already) and says why.
    let (outcome, _, log) = summary_session(&["n=300", "mode=liar"], 50_000, &Runtime::new());
    assert_eq!(outcome.exit_code(), 1);
    assert!(
        log.contains("must give the same records every time"),
        "{log}"
    );
}
