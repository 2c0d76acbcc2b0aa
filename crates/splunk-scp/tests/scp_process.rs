//! The examples as spawned processes, driven over real stdin/stdout by the splunkd emulator:
//! lock step, probes, EOF handling, fatal input faults, and no hangs (every wait has a timeout).

mod scp_emulator;

use scp_emulator::{chunk, execute, getinfo, getinfo_with, splunkd_body};

fn rows(n: usize, f: impl Fn(usize) -> Vec<String>) -> Vec<Vec<String>> {
    (0..n).map(f).collect()
}

#[test]
fn sum_reduce_getinfo_announces_map_phase() {
    let mut p = scp_emulator::spawn("sum");
    let r = p.exchange(&getinfo(&["total=total", "value1"]));
    assert_eq!(
        r.meta,
        serde_json::json!({"streaming_preop":"cmd phase=\"map\" total=\"total\" value1","type":"reporting"})
    );
    assert!(r.body.is_empty());
    let (code, trailing, _) = p.finish();
    assert_eq!((code, trailing.len()), (0, 0), "probe must exit 0 quietly");
}

#[test]
fn probe_with_getinfo_only_answers_and_exits_zero() {
    for (ex, args) in [
        ("sum", &["total=t"][..]),
        ("generatehello", &[][..]),
        ("echo", &[][..]),
    ] {
        let mut p = scp_emulator::spawn(ex);
        let r = p.exchange(&getinfo(args));
        assert!(r.meta.get("type").is_some(), "{ex}: {:?}", r.meta);
        assert!(r.error().is_none());
        let (code, trailing, stderr) = p.finish();
        assert_eq!(code, 0, "{ex}");
        assert!(trailing.is_empty(), "{ex} wrote after EOF");
        assert!(stderr.is_empty(), "{ex} logged during a probe: {stderr}");
    }
}

#[test]
fn getinfo_without_trailing_newline_does_not_block() {
    // The getinfo chunk has no terminating newline; a line-oriented reader would hang here.
    let mut p = scp_emulator::spawn("sum");
    let r = p.exchange(&getinfo(&["total=t", "phase=map", "x"]));
    assert_eq!(r.meta, serde_json::json!({"type":"streaming"}));
    // stdin stays open: the command must wait for the next request, not reply on its own.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let r = p.exchange(&execute(
        true,
        &splunkd_body(&["x"], &rows(3, |i| vec![format!("{}.5", i)])),
    ));
    assert_eq!(r.finished(), Some(true));
    assert_eq!(r.field(0, "t").as_deref(), Some("4.5"));
    let (code, trailing, _) = p.finish();
    assert_eq!((code, trailing.len()), (0, 0));
}

#[test]
fn map_phase_lock_step_per_chunk_with_trailing_empty_finish() {
    let mut p = scp_emulator::spawn("sum");
    p.exchange(&getinfo(&["total=total", "value1", "phase=map"]));
    let mut partials = Vec::new();
    for c in 0..5 {
        let body = splunkd_body(
            &["value1", "_raw"],
            &rows(100, |i| {
                vec![format!("{}", c * 100 + i), format!("ev \"{i}\",x")]
            }),
        );
        let r = p.exchange(&execute(false, &body));
        assert_eq!(r.finished(), Some(false));
        partials.push(r.field(0, "total").unwrap());
    }
    // 8.2 style: header-only final chunk.
    let r = p.exchange(&execute(true, &splunkd_body(&["value1", "_raw"], &[])));
    assert_eq!(r.finished(), Some(true));
    assert!(r.records().is_empty());
    let total: f64 = partials.iter().map(|s| s.parse::<f64>().unwrap()).sum();
    assert_eq!(total, (0..500).sum::<i32>() as f64);
    let (code, trailing, _) = p.finish();
    assert_eq!((code, trailing.len()), (0, 0));
}

#[test]
fn reduce_buffers_until_finished_in_both_styles() {
    // 6.3/8.0 style: the last data chunk carries finished:true.
    let mut p = scp_emulator::spawn("sum");
    p.exchange(&getinfo(&["total=n"]));
    let r = p.exchange(&execute(
        false,
        &splunkd_body(&["n"], &rows(10, |i| vec![i.to_string()])),
    ));
    assert_eq!(r.finished(), Some(false));
    assert!(
        r.body.is_empty(),
        "reporting commands reply with empty bodies before the end"
    );
    // a header-only chunk mid-stream
    let r = p.exchange(&execute(false, &splunkd_body(&["n"], &[])));
    assert_eq!((r.finished(), r.body.len()), (Some(false), 0));
    let r = p.exchange(&execute(
        true,
        &splunkd_body(&["n"], &rows(10, |i| vec![(10 + i).to_string()])),
    ));
    assert_eq!(r.finished(), Some(true));
    assert_eq!(r.field(0, "n").as_deref(), Some("190.0"));
    assert_eq!(p.finish().0, 0);

    // 8.2 style: an empty final chunk (B = 0).
    let mut p = scp_emulator::spawn("sum");
    p.exchange(&getinfo(&["total=n"]));
    p.exchange(&execute(
        false,
        &splunkd_body(&["n"], &rows(4, |i| vec![i.to_string()])),
    ));
    let r = p.exchange(&execute(true, ""));
    assert_eq!(r.field(0, "n").as_deref(), Some("6.0"));
    assert_eq!(p.finish().0, 0);
}

#[test]
fn generator_pages_at_maxresultrows() {
    let mut p = scp_emulator::spawn("generatehello");
    let r = p.exchange(&getinfo_with(&["count=25"], 10));
    assert_eq!(
        r.meta,
        serde_json::json!({"generating":true,"type":"stateful"})
    );
    let mut seen = Vec::new();
    let mut replies = 0;
    loop {
        let r = p.exchange(&execute(false, ""));
        replies += 1;
        let recs = r.records();
        assert!(recs.len() <= 10);
        for rec in &recs {
            let names: Vec<&str> = rec.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["_time", "event_no", "_raw"]);
            assert!(rec[0].1.parse::<f64>().unwrap() > 1.6e9);
            assert_eq!(rec[2].1, format!("Hello World {}", rec[1].1));
            seen.push(rec[1].1.parse::<u64>().unwrap());
        }
        if r.finished() == Some(true) {
            break;
        }
        assert!(replies < 10, "generator never finished");
    }
    assert_eq!(replies, 3);
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
    let (code, trailing, _) = p.finish();
    assert_eq!((code, trailing.len()), (0, 0));
}

#[test]
fn requests_after_finished_still_get_exactly_one_reply() {
    let mut p = scp_emulator::spawn("generatehello");
    p.exchange(&getinfo(&["count=2"]));
    assert_eq!(p.exchange(&execute(false, "")).finished(), Some(true));
    let r = p.exchange(&execute(true, ""));
    assert_eq!((r.finished(), r.body.len()), (Some(true), 0));
    assert_eq!(p.finish().0, 0);
}

#[test]
fn eof_between_execute_chunks_exits_zero() {
    let mut p = scp_emulator::spawn("sum");
    p.exchange(&getinfo(&["total=n"]));
    p.exchange(&execute(false, "n\n1\n"));
    let (code, trailing, _) = p.finish();
    assert_eq!((code, trailing.len()), (0, 0));
}

/// Sends `bad` after a valid getinfo; expects one error reply and a non-zero exit.
fn expect_fatal(bad: &[u8], want: &str) {
    let mut p = scp_emulator::spawn("sum");
    p.exchange(&getinfo(&["total=n"]));
    let _ = p.send(bad);
    let (code, trailing, stderr) = p.finish();
    let (replies, rest) = scp_emulator::parse_replies(&trailing);
    assert!(rest.is_empty(), "garbage after the error reply: {rest:?}");
    assert_eq!(replies.len(), 1, "exactly one error reply for {want}");
    let r = &replies[0];
    assert_eq!(r.finished(), Some(true));
    let err = r.error().expect("error key");
    assert!(err.contains(want), "error {err:?} should mention {want:?}");
    assert_eq!(r.messages(), [("ERROR".to_owned(), err.to_owned())]);
    // inspector is serialised before error
    let meta = &r.raw_meta;
    assert!(meta.find("inspector").unwrap() < meta.find("\"error\"").unwrap());
    assert_ne!(code, 0, "fatal errors exit non-zero");
    assert!(stderr.contains(want), "stderr: {stderr}");
}

#[test]
fn truncated_stream_is_a_clear_error() {
    let mut req = execute(true, "n\n1\n2\n3\n");
    req.truncate(req.len() - 3);
    expect_fatal(&req, "input ended inside a chunk body");
}

#[test]
fn ten_gigabyte_header_is_refused() {
    expect_fatal(
        b"chunked 1.0,36,10737418240\n{\"action\":\"execute\",\"finished\":true}n\n1\n",
        "exceeds the limit",
    );
}

#[test]
fn non_json_metadata_is_a_clear_error() {
    expect_fatal(&chunk(b"{action: execute}", b""), "not valid protocol JSON");
}

#[test]
fn ragged_row_is_a_clear_error() {
    expect_fatal(
        &execute(true, "n,m\n1,2\n3,4,5\n"),
        "CSV row 2 has 3 fields but the header has 2",
    );
}

#[test]
fn bad_getinfo_options_name_the_option() {
    for (args, want) in [
        (
            &["total=t", "nosuch=1"][..],
            "Unrecognized option: nosuch=1 (valid options: phase, total)",
        ),
        (
            &["phase=maybe"][..],
            "Invalid value for phase: \"maybe\" (expected one of map, reduce)",
        ),
        (&["phase=map", "x"][..], "A value for \"total\" is required"),
    ] {
        let mut p = scp_emulator::spawn("sum");
        let r = p.exchange(&getinfo(args));
        assert_eq!(r.error(), Some(want));
        assert_eq!(r.finished(), Some(true));
        let (code, _, _) = p.finish();
        assert_eq!(code, 1);
    }
    let mut p = scp_emulator::spawn("generatehello");
    let r = p.exchange(&getinfo(&["count=-3"]));
    assert_eq!(
        r.error(),
        Some("Invalid value for count: \"-3\" (expected a non-negative integer)")
    );
    assert_eq!(p.finish().0, 1);
}

#[test]
fn v1_invocations_say_chunked_true_is_missing() {
    let p = scp_emulator::spawn_args("sum", &["__GETINFO__", "total=x"]);
    let (code, out, stderr) = p.finish();
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(stderr.contains("chunked = true is missing"), "{stderr}");

    let mut p = scp_emulator::spawn("sum");
    let _ = p.send(b"splunkVersion:6.5.1\nallowStream:1\n\nfield\nvalue\n");
    let (code, _, stderr) = p.finish();
    assert_eq!(code, 1);
    assert!(stderr.contains("chunked = true is missing"), "{stderr}");
}

#[test]
fn multibyte_and_big_fields_round_trip_through_a_process() {
    let mut p = scp_emulator::spawn("sum");
    p.exchange(&getinfo(&["total=total", "phase=map", "v"]));
    let big = "ท\",\n".repeat(2_000_000); // 12 MB field with quotes, commas, newlines
    let body = splunkd_body(
        &["_raw", "v"],
        &[vec![big, "1.25".into()], vec!["Zoë".into(), "2".into()]],
    );
    let r = p.exchange(&execute(true, &body));
    assert_eq!(r.field(0, "total").as_deref(), Some("3.25"));
    assert_eq!(p.finish().0, 0);
}

/// Defect 4: a `println!` inside `process` must not corrupt the protocol stream.
#[test]
fn println_in_process_goes_to_stderr_not_into_the_protocol() {
    let mut p = scp_emulator::spawn("echo");
    let r = p.exchange(&getinfo(&["debug=t"]));
    assert_eq!(r.meta["type"], "streaming");
    let r = p.exchange(&execute(true, "x\na\nb\n"));
    assert_eq!(r.finished(), Some(true));
    assert_eq!(r.records().len(), 2);
    assert_eq!(r.field(1, "echo_n").as_deref(), Some("1"));
    let (code, rest, stderr) = p.finish();
    assert_eq!((code, rest.as_slice()), (0, &b""[..]));
    assert!(stderr.contains("debug: row 0\ndebug: row 1\n"), "{stderr}");
}

/// The README's 30-line command, as a process.
#[test]
fn readme_command_upper() {
    let mut p = scp_emulator::spawn("upper");
    let r = p.exchange(&getinfo(&["field=x"]));
    assert_eq!(
        r.raw_meta,
        r#"{"type":"streaming","required_fields":["x"]}"#
    );
    p.exchange(&execute(false, "x,_chunked_idx\nab,0\n"));
    let r = p.exchange(&execute(true, "x,_chunked_idx\ncd,0\n"));
    assert_eq!(r.field(0, "x").as_deref(), Some("CD"));
    assert_eq!(r.field(0, "_chunked_idx").as_deref(), Some("0"));
    assert_eq!(p.finish().0, 0);
}
