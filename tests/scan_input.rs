//! `scan::input` end to end on files: directory walking and skipping, content-sniffed
//! formats, resynchronisation after damage (JSON lines and documents), truncated gzip,
//! binary files, symbolic links, Event Hubs Capture Avro files, and the shipped samples.

use std::io::Write;
use std::path::{Path, PathBuf};

use t1651::scan::input::{
    read_paths, read_paths_with, Event, Problem, ProblemKind, ReadOptions, ReadStats, Sink,
    SkipReason, Skipped, WalkOptions,
};

mod scan_support;
use scan_support::{capture_avro, gzip, tempdir, write};

#[derive(Default)]
struct Collect {
    /// `file:line[index]` of each event, `~` appended when incomplete.
    events: Vec<String>,
    texts: Vec<String>,
    problems: Vec<Problem>,
    skipped: Vec<Skipped>,
}

impl Sink for Collect {
    fn event(&mut self, e: &Event<'_>) {
        assert!(e.bytes().starts_with(b"{"));
        if e.complete {
            serde_json::from_slice::<serde_json::Value>(e.bytes()).expect("complete is JSON");
        }
        let file = e.location.file.file_name().unwrap().to_string_lossy();
        let mut loc = e.location.to_string();
        loc = format!(
            "{file}{}",
            &loc[e.location.file.display().to_string().len()..]
        );
        if !e.complete {
            loc.push('~');
        }
        self.events.push(loc);
        self.texts.push(e.text().to_string());
    }
    fn problem(&mut self, p: &Problem) {
        self.problems.push(p.clone());
    }
    fn skipped(&mut self, s: &Skipped) {
        self.skipped.push(s.clone());
    }
}

fn scan(paths: &[PathBuf]) -> (Collect, ReadStats) {
    let mut c = Collect::default();
    let stats = read_paths(paths, &mut c);
    (c, stats)
}

fn scan_file(dir: &str, name: &str, bytes: &[u8]) -> (Collect, ReadStats) {
    let d = tempdir(dir);
    write(&d.join(name), bytes);
    scan(&[d.join(name)])
}

fn kinds(c: &Collect) -> Vec<ProblemKind> {
    c.problems.iter().map(|p| p.kind).collect()
}

#[test]
fn mixed_directory_is_read_recursively_in_sorted_order_by_content() {
    let d = tempdir("mixed");
    write(
        &d.join("b/ct.json.gz"),
        &gzip(b"{\"Records\":[{\"eventName\":\"SendCommand\"},{\"eventName\":\"StartSession\"}]}"),
    );
    write(
        &d.join("a/PT1H.json"),
        b"{\"time\":\"1\"}\n{\"time\":\"2\"}\n",
    );
    write(&d.join("a/portal.json"), b"[\n  {\"caller\": \"x\"}\n]\n");
    write(
        &d.join("c/hub.jsonl"),
        b"{\"records\":[{\"time\":\"3\"}]}\n",
    );
    write(&d.join("c/notes.txt"), b"not a log\n");
    // A *.log of JSON lines is read: the content decides.
    write(&d.join("c/export.log"), b"{\"time\":\"5\"}\n");
    write(&d.join(".hidden/x.json"), b"{}");
    // gzip detected by magic bytes even without the .gz suffix.
    write(&d.join("c/zipped.ndjson"), &gzip(b"{\"time\":\"4\"}\n"));
    let (c, s) = scan(std::slice::from_ref(&d));
    assert_eq!(
        c.events,
        [
            "PT1H.json:1",
            "PT1H.json:2",
            "portal.json:2[0]",
            "ct.json.gz:1[0]",
            "ct.json.gz:1[1]",
            "export.log:1",
            "hub.jsonl:1[0]",
            "zipped.ndjson:1",
        ]
    );
    assert_eq!(s.files, 6);
    assert_eq!(s.skipped.get(&SkipReason::NotJson), Some(&1));
    assert_eq!(s.skipped.get(&SkipReason::Hidden), Some(&1));
    let skipped: Vec<_> = c
        .skipped
        .iter()
        .map(|s| (s.path.file_name().unwrap().to_owned(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (".hidden".into(), SkipReason::Hidden),
            ("notes.txt".into(), SkipReason::NotJson)
        ]
    );
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(s.inputs_failed, 0);
}

#[test]
fn json_lines_resynchronise_at_the_next_line() {
    // The first record was cut: every later line is still read.
    let (c, s) = scan_file(
        "lines",
        "x.jsonl",
        b"{\"a\":\"cut\n{\"a\":2}\n{\"a\":3,,}\n{\"a\":4} junk\n{\"a\":5}\n",
    );
    assert_eq!(
        c.events,
        ["x.jsonl:1~", "x.jsonl:2", "x.jsonl:4", "x.jsonl:5"]
    );
    assert_eq!(c.texts[0], "{\"a\":\"cut");
    assert_eq!(
        kinds(&c),
        [
            ProblemKind::Truncated,
            ProblemKind::BadJson,
            ProblemKind::BadJson
        ]
    );
    // The broken record on line 3: line, column and byte offset of the second comma.
    assert!(
        c.problems[1].position().ends_with("x.jsonl:3:8 (byte 25)"),
        "{}",
        c.problems[1].position()
    );
    assert_eq!(
        s.inputs_failed, 0,
        "malformed records do not fail the input"
    );
}

#[test]
fn broken_record_in_a_pretty_document_loses_no_other() {
    let text = b"[\n  {\"a\": 1},\n  {\"a\": 2,,},\n  {\"a\": 3, \"b\": \"cut\n  {\"a\": 4},\n  {\"a\": 5}\n]\n";
    let (c, s) = scan_file("doc", "portal.json", text);
    assert_eq!(
        c.events,
        [
            "portal.json:2[0]",
            "portal.json:4[2]~",
            "portal.json:5[3]",
            "portal.json:6[4]"
        ]
    );
    assert_eq!(kinds(&c), [ProblemKind::BadJson, ProblemKind::Truncated]);
    let p = &c.problems[0];
    assert_eq!((p.line, p.column, p.offset), (Some(3), Some(11), Some(24)));
    assert!(
        p.to_string()
            .contains("portal.json:3:11[1] (byte 24): bad_json"),
        "{p}"
    );
    assert_eq!(s.inputs_failed, 0);
}

#[test]
fn one_line_cloudtrail_file_keeps_records_after_a_broken_one() {
    let text = b"{\"Records\":[{\"n\":1},{\"n\":2,\"x\":tru},{\"n\":3}],\"other\":{\"k\":[1]}}";
    let (c, _) = scan_file("ct1", "ct.json", text);
    assert_eq!(c.events, ["ct.json:1[0]", "ct.json:1[2]"]);
    assert_eq!(kinds(&c), [ProblemKind::BadJson]);
    assert_eq!(
        c.problems[0].offset,
        Some(34),
        "the closing brace after `tru`"
    );
}

#[test]
fn one_line_document_broken_in_its_structure_says_what_was_skipped() {
    let text = b"[{\"n\":1},{\"n\":2]},{\"n\":3},{\"n\":4},{\"n\":5}]";
    let (c, s) = scan_file("ct2", "portal.json", text);
    assert_eq!(c.events, ["portal.json:1[0]"]);
    assert_eq!(kinds(&c), [ProblemKind::BadJson, ProblemKind::BadJson]);
    assert!(
        c.problems[0].detail.contains("unexpected `]`"),
        "{}",
        c.problems[0]
    );
    assert!(
        c.problems[1]
            .detail
            .contains("rest of the document (26 bytes from byte 16)"),
        "{}",
        c.problems[1]
    );
    assert_eq!(s.inputs_failed, 0);
}

#[test]
fn document_cut_at_the_end_keeps_every_complete_record() {
    let (c, s) = scan_file(
        "cut",
        "ct.json",
        b"{\n  \"Records\": [\n    {\"n\": 1},\n    {\"n\": 2, \"eventName\": \"Send",
    );
    assert_eq!(c.events, ["ct.json:3[0]", "ct.json:4[1]~"]);
    assert_eq!(kinds(&c), [ProblemKind::Truncated]);
    assert_eq!(s.inputs_failed, 0);
}

#[test]
fn large_documents_stream_across_buffer_boundaries_like_json_lines() {
    // Records crossing the 1 MiB read buffer many times, in every shape.
    let records: Vec<String> = (0..30_000)
        .map(|i| {
            format!(
                "{{\"n\":{i},\"pad\":\"{}\",\"q\":\"a\\\"b\\\\\"}}",
                "x".repeat(i % 90)
            )
        })
        .collect();
    let lines = records.join("\n");
    let array = format!("[{}]", records.join(","));
    let pretty = format!("[\n  {}\n]\n", records.join(",\n  "));
    let wrapper = format!("{{\"Records\":[{}]}}", records.join(","));
    let d = tempdir("large");
    for (name, text) in [
        ("lines.jsonl", &lines),
        ("array.json", &array),
        ("pretty.json", &pretty),
        ("wrapper.json", &wrapper),
    ] {
        write(&d.join(name), text.as_bytes());
        let (c, s) = scan(&[d.join(name)]);
        assert!(c.problems.is_empty(), "{name}: {:?}", c.problems);
        assert_eq!(s.events, records.len() as u64, "{name}");
        assert_eq!(c.texts, records, "{name}");
    }
}

#[test]
fn truncated_gzip_fails_the_input_but_keeps_what_was_read() {
    let mut text = Vec::new();
    for i in 0..3000 {
        writeln!(text, "{{\"a\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 50)).unwrap();
    }
    let gz = gzip(&text);
    let (c, s) = scan_file("gz", "x.json.gz", &gz[..gz.len() / 2]);
    assert!(s.events > 100 && s.events < 3000, "{s:?}");
    assert_eq!(
        s.problems.get(&ProblemKind::BadGzip),
        Some(&1),
        "{:?}",
        c.problems
    );
    assert_eq!(s.inputs_failed, 1);
    let p = c
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::BadGzip)
        .unwrap();
    assert!(p.input_failed && p.offset.is_some(), "{p:?}");
}

#[test]
fn binary_files_are_reported_not_read_as_json() {
    let mut bin = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    bin.extend((0..5000u32).map(|i| (i * 7 % 251) as u8));
    let (c, s) = scan_file("bin", "data.json", &bin);
    assert_eq!(kinds(&c), [ProblemKind::UnknownFormat]);
    assert_eq!(s.inputs_failed, 1);
    // In a directory too (it is not plain text, so it is not skipped).
    let d = tempdir("bin_dir");
    write(&d.join("x.bin"), &bin);
    let (c, s) = scan(&[d]);
    assert_eq!(kinds(&c), [ProblemKind::UnknownFormat]);
    assert_eq!(s.inputs_failed, 1);
}

#[test]
fn named_text_that_is_not_json_fails_and_utf16_is_named() {
    let (c, s) = scan_file("text", "notes.txt", b"hello\nworld\n");
    assert_eq!(kinds(&c), [ProblemKind::UnknownFormat]);
    assert_eq!(s.inputs_failed, 1);
    let (c, s) = scan_file("utf16", "ps.json", b"\xff\xfe[\x00{\x00}\x00]\x00");
    assert_eq!(kinds(&c), [ProblemKind::BadEncoding]);
    assert!(c.problems[0].detail.contains("UTF-16"));
    assert_eq!(s.inputs_failed, 1);
    // Only broken lines: not empty, yet nothing read.
    let (c, s) = scan_file("allbad", "x.json", b"{\"a\" 1}\n{\"b\" 2}\n");
    assert_eq!(s.inputs_failed, 1, "{:?}", c.problems);
    // Empty files are fine.
    let (_, s) = scan_file("empty", "x.json", b"\n\n");
    assert_eq!((s.inputs_failed, s.problem_count()), (0, 0));
}

#[test]
fn missing_paths_are_reported_and_the_others_read() {
    let d = tempdir("missing");
    write(&d.join("ok.json"), b"{\"a\":1}");
    let (c, s) = scan(&[d.join("nope"), d.join("ok.json")]);
    assert_eq!(c.events, ["ok.json:1"]);
    assert_eq!(s.inputs_failed, 1);
    assert!(
        c.problems[0]
            .to_string()
            .contains("nope: unreadable: no such file"),
        "{}",
        c.problems[0]
    );
}

#[cfg(unix)]
#[test]
fn symlinked_directories_are_skipped_or_followed_without_loops() {
    let d = tempdir("links");
    write(&d.join("real/x.json"), b"{\"a\":1}");
    write(&d.join("other/z.json"), b"{\"a\":2}");
    std::os::unix::fs::symlink(&d, d.join("real/loop")).unwrap();
    std::os::unix::fs::symlink(d.join("other"), d.join("real/link")).unwrap();
    std::os::unix::fs::symlink(d.join("real/x.json"), d.join("real/y.json")).unwrap();
    let (c, s) = scan(std::slice::from_ref(&d));
    assert_eq!(c.events, ["z.json:1", "x.json:1", "y.json:1"]);
    assert_eq!(s.skipped.get(&SkipReason::SymlinkedDirectory), Some(&2));

    let mut c = Collect::default();
    let opts = ReadOptions {
        walk: WalkOptions {
            follow_symlinks: true,
        },
        ..ReadOptions::default()
    };
    let s = read_paths_with(std::slice::from_ref(&d), &opts, &mut c);
    // `other` is read once (directly), `real/link` is the same directory, `real/loop` is
    // the root again: both skipped as already visited.
    assert_eq!(c.events, ["z.json:1", "x.json:1", "y.json:1"]);
    assert_eq!(s.skipped.get(&SkipReason::AlreadyVisited), Some(&2));
    assert_eq!(s.inputs_failed, 0);
}

#[test]
fn event_hubs_capture_avro_files_are_read_with_every_codec() {
    use apache_avro::Codec;
    let bodies = [
        br#"{"records":[{"operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION","n":1},{"n":2}]}"#.to_vec(),
        // A gzip-compressed body (some producers compress before sending).
        gzip(br#"{"records":[{"n":3}]}"#),
        br#"{"records":[{"n":4},{"n":5,,}]}"#.to_vec(),
    ];
    let d = tempdir("avro");
    for (name, codec) in [
        ("null.avro", Codec::Null),
        ("deflate.avro", Codec::Deflate(Default::default())),
        ("snappy.avro", Codec::Snappy),
    ] {
        write(&d.join(name), &capture_avro(&bodies, codec));
        let (c, s) = scan(&[d.join(name)]);
        assert_eq!(
            c.events,
            [
                format!("{name}:message 1:1[0]"),
                format!("{name}:message 1:1[1]"),
                format!("{name}:message 2:1[0]"),
                format!("{name}:message 3:1[0]"),
            ],
            "{name}"
        );
        assert!(c.texts[0].contains("RUNCOMMAND"));
        assert_eq!(kinds(&c), [ProblemKind::BadJson], "{name}");
        assert!(
            c.problems[0].position().contains(":message 3:1"),
            "{}",
            c.problems[0]
        );
        assert_eq!(s.inputs_failed, 0);
    }
    // A truncated container keeps the messages before the break and fails the input.
    let whole = capture_avro(&bodies, Codec::Null);
    let (c, s) = scan_file("avro_cut", "cut.avro", &whole[..whole.len() - 20]);
    assert_eq!(s.inputs_failed, 1, "{:?}", c.problems);
    assert!(kinds(&c).contains(&ProblemKind::BadAvro));
}

/// The shipped samples read cleanly: every file, every event, no problem.
#[test]
fn shipped_samples_read_without_problems() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let (c, s) = scan(&[samples]);
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(
        s.files, 11,
        "five log files, four Atomic validation files and two Google Cloud files"
    );
    assert_eq!(
        s.skipped.get(&SkipReason::NotJson),
        Some(&3),
        "README.md, make_samples.py and make_gcp_samples.py"
    );
    let per_file = |name: &str| c.events.iter().filter(|e| e.starts_with(name)).count();
    assert_eq!(per_file("az-monitor-activity-log-2026-03-14.json:"), 32);
    assert_eq!(
        per_file("111122223333_CloudTrail_us-east-1_20260314T0320Z_SampleFile0001.json.gz:"),
        10
    );
    assert_eq!(per_file("insights-activity-logs-capture.json:"), 5);
    assert_eq!(per_file("mscs_azure_audit.jsonl:"), 11);
    assert_eq!(per_file("PT1H.json:"), 7);
    for atomic in [
        "atomic-aws-ssm-send-command.json:",
        "atomic-azure-automation-runbook.json:",
        "atomic-azure-run-command-az-cli.json:",
        "atomic-azure-run-command-service-principal.jsonl:",
    ] {
        assert_eq!(per_file(atomic), 3, "{atomic}");
    }
    assert_eq!(per_file("gcloud-logging-read-2026-03-14.json:"), 14);
    assert_eq!(per_file("pubsub-messages-2026-03-14.jsonl:"), 4);
    assert_eq!(s.events, 95);
}

/// Deterministic fuzzing: mutated inputs of every shape never panic, every complete event
/// is a JSON object, counts agree with what was delivered, and in JSON lines a damaged line
/// never costs another line its event.
#[test]
fn mutated_inputs_never_panic_and_damage_stays_local() {
    use t1651::scan::input::read_reader;
    let seeds: [&[u8]; 7] = [
        b"[\n  {\"a\": 1, \"b\": [1, 2]},\n  {\"a\": \"x\\\"y\"}\n]\n",
        b"{\"records\":[{\"time\":\"t\"},{\"x\":{\"y\":null}}]}\n{\"records\":[]}\n",
        b"{\n  \"Records\": [\n    {\"eventName\": \"SendCommand\"},\n    {\"b\": 2}\n  ]\n}\n",
        b"{\"a\":1}\n{\"b\":[true,false]}\n\n{\"c\":\"\\u00e9\"}\n",
        b"\xef\xbb\xbf{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n",
        b"[{\"a\":1},2,\"s\",{\"b\":{}}]",
        b"{\"Records\":[{\"n\":1},{\"n\":2}],\"x\":{\"y\":[{}]}}",
    ];
    // xorshift64*: a fixed sequence, so failures reproduce.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    const ALPHABET: &[u8] = b"{}[]\",:\\ \n\r\tax0\xff\xc3";
    for round in 0..4000 {
        let seed = seeds[round % seeds.len()];
        let mut input = seed.to_vec();
        for _ in 0..1 + next() % 3 {
            let pos = (next() as usize) % (input.len() + 1);
            match next() % 4 {
                0 => input.truncate(pos),
                1 if pos < input.len() => {
                    input.remove(pos);
                }
                2 => input.insert(pos, ALPHABET[(next() as usize) % ALPHABET.len()]),
                _ if pos < input.len() => input[pos] = ALPHABET[(next() as usize) % ALPHABET.len()],
                _ => {}
            }
        }
        let mut c = Collect::default();
        let mut stats = ReadStats::default();
        read_reader(Path::new("f"), &input[..], &mut c, &mut stats);
        assert_eq!(stats.events, c.events.len() as u64, "round {round}");
        assert_eq!(
            stats.problem_count(),
            c.problems.len() as u64,
            "round {round}"
        );
    }
    // JSON lines: damage one line at a time; every other line is still read.
    let lines: Vec<String> = (0..20)
        .map(|i| format!("{{\"n\":{i},\"s\":\"v{i}\"}}"))
        .collect();
    for damaged in 0..lines.len() {
        for cut in [3usize, 7, 12] {
            let text: String = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if i == damaged {
                        format!("{}\n", &l[..cut.min(l.len() - 1)])
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let mut c = Collect::default();
            let mut stats = ReadStats::default();
            read_reader(Path::new("f"), text.as_bytes(), &mut c, &mut stats);
            let complete: Vec<&String> = c
                .texts
                .iter()
                .zip(&c.events)
                .filter(|(_, l)| !l.ends_with('~'))
                .map(|(t, _)| t)
                .collect();
            let expected: Vec<&String> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != damaged)
                .map(|(_, l)| l)
                .collect();
            assert_eq!(complete, expected, "line {damaged} cut at {cut}");
            assert_eq!(stats.inputs_failed, 0);
        }
    }
}

/// A pretty-printed export with one element cut at any byte: every other element is read.
#[test]
fn pretty_array_with_any_element_cut_keeps_every_other() {
    use t1651::scan::input::read_reader;
    let elems: Vec<String> = (0..8)
        .map(|i| format!("{{\"n\": {i}, \"s\": \"v{i}\", \"o\": {{\"k\": [1, 2]}}}}"))
        .collect();
    for damaged in 0..elems.len() {
        for cut in 1..elems[damaged].len() - 1 {
            let body: Vec<String> = elems
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if i == damaged {
                        e[..cut].to_string()
                    } else {
                        e.clone()
                    }
                })
                .collect();
            let text = format!("[\n  {}\n]\n", body.join(",\n  "));
            let mut c = Collect::default();
            let mut stats = ReadStats::default();
            read_reader(Path::new("f"), text.as_bytes(), &mut c, &mut stats);
            let complete: Vec<&String> = c
                .texts
                .iter()
                .zip(&c.events)
                .filter(|(_, l)| !l.ends_with('~'))
                .map(|(t, _)| t)
                .collect();
            let expected: Vec<&String> = elems
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != damaged)
                .map(|(_, e)| e)
                .collect();
            assert_eq!(
                complete, expected,
                "element {damaged} cut at {cut}:\n{text}"
            );
            assert!(stats.problem_count() >= 1);
        }
    }
}
