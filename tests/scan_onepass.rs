//! The offline scan reads each record once (issue 16, lever 4): the reader offers every
//! structurally complete record to the detection engine unchecked, and serde_json reads a
//! record only when the engine's own scanner refused it. These tests hold the one-pass
//! scan to the two-pass one (serde_json checks every record, then the engine reads it):
//! for every class of malformed JSON, in every input shape and mode, the same rows, the
//! same problems (kind, position, message), the same summary counts and the same exit
//! status, byte for byte. The two-pass scan is the same engine behind a wrapper that
//! declines unchecked records ([`Engine::offer`]'s default).

mod scan_support;

use proptest::prelude::*;
use scan_support::{tempdir, write};
use serde::de::IgnoredAny;
use t1651::detect::raw::RawEvent;
use t1651::detect::row::OutputRow;
use t1651::scan::cli::{run, Engine, EngineOutput, OptionError};
use t1651::scan::engine::factory;
use t1651::scan::input::Event;

/// The detection engine with the reader's serde_json check in front (the two-pass scan).
struct TwoPass(Box<dyn Engine>);

impl Engine for TwoPass {
    fn push(&mut self, event: &Event<'_>) -> Option<OutputRow> {
        self.0.push(event)
    }
    fn finish(self: Box<Self>) -> EngineOutput {
        self.0.finish()
    }
    fn columns(&self) -> Vec<String> {
        self.0.columns()
    }
}

fn two_pass(options: &[(&'static str, String)]) -> Result<Box<dyn Engine>, OptionError> {
    Ok(Box::new(TwoPass(factory(options)?)))
}

/// `(exit status, stdout, stderr)` of `t1651detect scan ARGS PATH`.
fn scan_with(
    engine: &dyn t1651::scan::cli::EngineFactory,
    args: &[&str],
    path: &std::path::Path,
) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["t1651detect", "scan"];
    argv.extend_from_slice(args);
    let path = path.to_str().unwrap();
    argv.push(path);
    let code = run(argv, &mut out, &mut err, engine);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Scans `path` one-pass and two-pass with each argument set; asserts identical results
/// and returns the one-pass results.
fn same(path: &std::path::Path, arg_sets: &[&[&str]]) -> Vec<(i32, String, String)> {
    arg_sets
        .iter()
        .map(|args| {
            let one = scan_with(&factory, args, path);
            let two = scan_with(&two_pass, args, path);
            assert_eq!(one, two, "one-pass and two-pass scans differ for {args:?}");
            one
        })
        .collect()
}

const ARG_SETS: &[&[&str]] = &[
    &["--format", "csv", "--verbose"],
    &["--format", "json", "--verbose", "--strict"],
    &["--mode", "events", "--format", "csv", "--verbose"],
    &["--mode", "events", "--format", "json", "--strict"],
];

/// A well-formed Azure Activity Log run-command event the detection uses; `extra` is
/// spliced in as the last member (text, so it may be malformed).
fn azure(i: usize, extra: &str) -> String {
    format!(
        concat!(
            r#"{{"caller":"user{i}@contoso.example","correlationId":"d0000000-0000-4000-8000-{i:012}","#,
            r#""eventTimestamp":"2026-03-14T02:{m:02}:05.0000000Z","operationName":{{"value":"#,
            r#""Microsoft.Compute/virtualMachines/runCommand/action"}},"#,
            r#""status":{{"value":"Succeeded"}},"resourceGroupName":"rg-1","#,
            r#""resourceId":"/subscriptions/cccc0000-1111-4222-8333-000000000003/resourceGroups/rg-1/providers/"#,
            r#"Microsoft.Compute/virtualMachines/vm-{i}","subscriptionId":"cccc0000-1111-4222-8333-000000000003","#,
            r#""tenantId":"aaaa0000-1111-4222-8333-000000000001","claims":{{"ipaddr":"203.0.113.{i}"}},"#,
            r#""properties":{{"eventCategory":"Administrative","statusCode":"OK"}}{extra}}}"#
        ),
        i = i,
        m = i % 60,
        extra = extra
    )
}

/// A CloudTrail SendCommand record (a second shape, other keys read by the scanner).
fn cloudtrail(i: usize, extra: &str) -> String {
    format!(
        concat!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDA{i}","#,
            r#""arn":"arn:aws:iam::111122223333:user/build{i}","accountId":"111122223333","userName":"build{i}"}},"#,
            r#""eventTime":"2026-03-14T02:11:05Z","eventSource":"ssm.amazonaws.com","eventName":"SendCommand","#,
            r#""awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.9","#,
            r#""requestParameters":{{"instanceIds":["i-0{i}"],"documentName":"AWS-RunShellScript"}},"#,
            r#""requestID":"r-{i}","eventID":"e0000000-0000-4000-8000-{i:012}","recipientAccountId":"111122223333"{extra}}}"#
        ),
        i = i,
        extra = extra
    )
}

/// Malformed (or merely unusual) JSON, one class per entry: `(name, text spliced into a
/// record as its last member(s))`. Each class where serde_json's validation and the
/// engine's scanner could disagree: numbers, escapes, control characters, literals,
/// punctuation, surrogates (lone ones are well-formed to serde_json's validation but not
/// to its typed reading, which the scanner follows), nesting, numbers out of range.
const CLASSES: &[(&str, &str)] = &[
    ("ok", ""),
    ("leading zero", r#","x":01"#),
    ("bare minus", r#","x":-"#),
    ("dot without digits", r#","x":1."#),
    ("dot first", r#","x":.5"#),
    ("plus sign", r#","x":+1"#),
    ("exponent without digits", r#","x":1e"#),
    ("exponent sign only", r#","x":1e+"#),
    ("NaN", r#","x":NaN"#),
    ("Infinity", r#","x":-Infinity"#),
    ("hex number", r#","x":0x10"#),
    ("huge float skipped", r#","x":1e400"#),
    ("huge float in a read field", r#","resultType":1e400"#),
    (
        "huge integer skipped",
        r#","x":123456789012345678901234567890"#,
    ),
    (
        "huge integer read",
        r#","resultType":123456789012345678901234567890"#,
    ),
    ("negative zero", r#","x":-0.0e-0"#),
    ("bad escape", r#","x":"a\qb""#),
    ("bad escape in a key", r#","a\qb":1"#),
    ("bad escape in a read field", r#","resultType":"a\qb""#),
    (
        "short unicode escape, then a stray brace",
        r#","x":"\u12"}"#,
    ),
    ("non-hex unicode escape", r#","x":"\u12G4""#),
    ("unicode escape near the end", r#","x":"\uA""#),
    ("unicode escape cut at the end", r#","x":"\u""#),
    ("lone high surrogate skipped", r#","x":"\uD800""#),
    ("lone low surrogate skipped", r#","x":"\uDC00z""#),
    ("lone surrogate in a key", r#","\uD800":1"#),
    (
        "lone surrogate in a read field",
        r#","resultType":"\uDFFF""#,
    ),
    (
        "reversed surrogates in a read field",
        r#","resultType":"\uDC00\uD800""#,
    ),
    ("surrogate pair", r#","resultType":"\uD83D\uDE00""#),
    (
        "high surrogate then other escape",
        r#","resultType":"\uD800\n""#,
    ),
    ("raw tab in a string", ",\"x\":\"a\tb\""),
    ("raw control byte in a string", ",\"x\":\"a\u{1}b\""),
    ("raw control byte in a key", ",\"a\u{1f}\":1"),
    ("raw DEL in a string (allowed)", ",\"x\":\"a\u{7f}b\""),
    ("true misspelt", r#","x":tru"#),
    ("null misspelt", r#","x":nul"#),
    ("True capitalised", r#","x":True"#),
    ("literal with a tail", r#","x":falsey"#),
    ("missing comma", r#" "x":1"#),
    ("missing colon", r#","x" 1"#),
    ("double colon", r#","x"::1"#),
    ("trailing comma", r#","x":1,"#),
    ("trailing comma in an array", r#","x":[1,]"#),
    ("empty element", r#","x":[1,,2]"#),
    ("non-string key", r#",1:2"#),
    ("single quotes", r#",'x':'y'"#),
    ("bare word value", r#","x":hello"#),
    ("two values", r#","x":1 2"#),
    ("object where a key goes", r#",{"x":1}"#),
    ("array closed by a brace", r#","x":[1}]"#),
    ("duplicate key", r#","caller":"other@contoso.example""#),
    ("empty key", r#","":1"#),
    ("deep nesting", "DEEP"),
    (
        "whitespace everywhere",
        " ,\r\n\t\"x\" :\t[ 1 , { } , [ ] ] \r\n",
    ),
    ("escaped quote and backslash", r#","x":"a\"b\\","y":"\\""#),
    ("escape at the very end", r#","x":"\\""#),
    ("slash escape", r#","x":"\/""#),
    ("non-ASCII text", r#","x":"é€𝄞""#),
];

fn splice(extra: &str) -> String {
    if extra == "DEEP" {
        format!(",\"x\":{}1{}", "[".repeat(300), "]".repeat(300))
    } else {
        extra.to_string()
    }
}

/// Every class in every shape and mode: one-pass equals two-pass.
#[test]
fn every_class_of_malformed_json_is_reported_as_before() {
    let dir = tempdir("onepass_classes");
    let mut lines = String::new();
    let mut array = String::from("[\n");
    let mut wrapper = String::from("{\"Records\":[");
    for (i, (_, extra)) in CLASSES.iter().enumerate() {
        let extra = splice(extra);
        let (a, c) = (azure(i, &extra), cloudtrail(i, &extra));
        lines.push_str(&format!("{a}\n{c}\n"));
        let sep = if i == 0 { "" } else { ",\n" };
        array.push_str(&format!("{sep}  {a},\n  {c}"));
        wrapper.push_str(&format!("{}{a},{c}", if i == 0 { "" } else { "," }));
    }
    array.push_str("\n]\n");
    wrapper.push_str("]}");
    for (name, text) in [
        ("lines.jsonl", &lines),
        ("portal.json", &array),
        ("records.json", &wrapper),
    ] {
        let path = dir.join(name);
        write(&path, text.as_bytes());
        let results = same(&path, ARG_SETS);
        // The file is really mixed: something used, something reported.
        let (code, out, err) = &results[0];
        assert_eq!(*code, 0, "{name}: {err}");
        assert!(out.lines().count() > 1, "{name}: no rows\n{err}");
        assert!(err.contains("bad_json"), "{name}: {err}");
        assert_eq!(results[1].0, 2, "--strict with malformed records");
    }
}

/// Event Hubs Capture (Avro): each message body a `records` wrapper, read by the same JSON
/// stage; one message per class.
#[test]
fn every_class_inside_avro_capture_messages_is_reported_as_before() {
    let dir = tempdir("onepass_avro");
    let bodies: Vec<Vec<u8>> = CLASSES
        .iter()
        .enumerate()
        .map(|(i, (_, extra))| {
            format!("{{\"records\": [{}]}}", azure(i, &splice(extra))).into_bytes()
        })
        .collect();
    let path = dir.join("capture.avro");
    write(
        &path,
        &scan_support::capture_avro(&bodies, apache_avro::Codec::Null),
    );
    let r = same(&path, ARG_SETS);
    assert!(r[0].2.contains("message 2:"), "{}", r[0].2);
}

/// Each class alone in a file: the counts of the summary line say exactly what happened
/// to it (used, unusable to the engine, or reported by the reader), as before.
#[test]
fn each_class_alone_gives_the_same_summary() {
    let dir = tempdir("onepass_alone");
    for (i, (name, extra)) in CLASSES.iter().enumerate() {
        let extra = splice(extra);
        let path = dir.join(format!("c{i}.jsonl"));
        write(&path, format!("{}\n", azure(i, &extra)).as_bytes());
        same(
            &path,
            &[
                &["--format", "csv"],
                &["--mode", "events", "--format", "csv"],
            ],
        );
        let path = dir.join(format!("t{i}.json"));
        write(&path, format!("[{}]", cloudtrail(i, &extra)).as_bytes());
        let r = same(&path, &[&["--format", "json", "--verbose"]]);
        assert!(r[0].0 == 0 || r[0].0 == 2, "{name}: {:?}", r[0]);
    }
}

/// The case the engine must never see unchecked: a `\u` escape with fewer than four
/// characters before the end of a complete record looks *cut short* to the scanner, which
/// would use the record's beginning; serde_json reports it as malformed (`bad_json`).
#[test]
fn an_escape_cut_by_the_record_end_is_bad_json_not_a_truncated_event() {
    let dir = tempdir("onepass_tail_escape");
    for (i, tail) in [r#","x":"\uA""#, r#","x":"\u""#, r#","x":"\uAB""#]
        .iter()
        .enumerate()
    {
        let path = dir.join(format!("{i}.jsonl"));
        write(
            &path,
            format!("{}\n{}\n", azure(1, ""), azure(2, tail)).as_bytes(),
        );
        let r = same(
            &path,
            &[
                &["--format", "csv"],
                &["--mode", "events", "--format", "csv"],
            ],
        );
        for (code, out, err) in &r {
            assert_eq!(*code, 0, "{err}");
            assert!(err.contains("record starting at line 2"), "{err}");
            assert!(err.contains("bad_json"), "{err}");
            assert!(!err.contains("truncated"), "{err}");
            assert!(out.contains("vm-1") && !out.contains("vm-2"), "{out}");
        }
    }
}

/// The detection engine really takes records in one pass: a well-formed record is taken
/// unchecked; a malformed one is refused, then withdrawn (serde_json refuses it too) or
/// kept as the engine's `broken_json` (serde_json accepts it: a lone surrogate where the
/// scanner decodes); a record ending in a backslash region is checked first.
#[test]
fn the_engine_takes_refuses_and_declines_as_documented() {
    use t1651::scan::cli::Offered;
    use t1651::scan::input::{read_reader, Offer, ReadStats, Sink};

    struct Offers {
        engine: Box<dyn Engine>,
        log: Vec<&'static str>,
    }
    impl Sink for Offers {
        fn event(&mut self, e: &Event<'_>) {
            self.log.push("checked");
            self.engine.push(e);
        }
        fn offer(&mut self, e: &Event<'_>) -> Offer {
            match self.engine.offer(e) {
                Offered::CheckFirst => Offer::CheckFirst,
                Offered::Taken(_) => {
                    self.log.push("taken");
                    Offer::Taken
                }
                Offered::Refused => {
                    self.log.push("refused");
                    Offer::Refused
                }
            }
        }
        fn withdraw(&mut self) {
            self.log.push("withdrawn");
            self.engine.withdraw();
        }
    }
    let text = [
        azure(1, ""),
        azure(2, r#","resultType":"\uDFFF""#),
        azure(3, r#","x":01"#),
        azure(4, r#","x":"\n""#),
    ]
    .join("\n");
    let mut sink = Offers {
        engine: factory(&[]).unwrap(),
        log: Vec::new(),
    };
    let mut stats = ReadStats::default();
    read_reader(
        std::path::Path::new("mixed.jsonl"),
        text.as_bytes(),
        &mut sink,
        &mut stats,
    );
    assert_eq!(
        sink.log,
        ["taken", "refused", "refused", "withdrawn", "checked"]
    );
    assert_eq!(stats.events, 3);
    let out = sink.engine.finish();
    assert!(
        out.skipped.contains(&("broken_json".to_string(), 1)),
        "{:?}",
        out.skipped
    );
}

/// What the one-pass scan relies on, at the scanner itself: every text serde_json's
/// validation refuses, the engine's scanner refuses too (it may refuse more).
fn scanner_refuses_what_serde_refuses(text: &str) {
    let serde_ok = serde_json::from_str::<IgnoredAny>(text).is_ok();
    let mut ev = RawEvent::default();
    let scanner_ok = ev.fill_from_json(text.as_bytes()).is_ok();
    assert!(
        serde_ok || !scanner_ok,
        "the scanner accepts what serde_json refuses: {text:?}"
    );
}

#[test]
fn scanner_refuses_every_class_serde_refuses() {
    for (_, extra) in CLASSES {
        let extra = splice(extra);
        scanner_refuses_what_serde_refuses(&azure(3, &extra));
        scanner_refuses_what_serde_refuses(&cloudtrail(3, &extra));
    }
}

/// Pieces of text that matter to JSON's grammar (bytes, escapes, surrogates, literals), and
/// a few that do not.
fn json_piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "\\",
        "/",
        " ",
        "\t",
        "\r",
        "\n",
        "0",
        "1",
        "9",
        "-",
        "+",
        ".",
        "e",
        "E",
        "t",
        "u",
        "n",
        "true",
        "nul",
        "x",
        "A",
        "F",
        "\u{1}",
        "\u{1f}",
        "\u{7f}",
        "\\u",
        "\\u1",
        "\\u12",
        "\\u123",
        "\\uD800",
        "\\uDC00",
        "\\uD83D\\uDE00",
        "\\n",
        "\\\\",
        "\\\"",
        "1e400",
        "01",
        "-0.5E+3",
    ])
}

/// A record with a few pieces replacing a byte, inserted, or a byte deleted (anywhere, or in
/// its last 12 bytes, where an escape can run into the record's end).
fn mutated() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, json_piece()), 1..4),
    )
        .prop_map(|(aws, tail, edits)| {
            let base = if aws { cloudtrail(7, "") } else { azure(7, "") };
            let mut b = base.into_bytes();
            for (at, op, piece) in edits {
                if b.is_empty() {
                    break;
                }
                let i = if tail {
                    b.len() - 1 - at.index(12.min(b.len()))
                } else {
                    at.index(b.len())
                };
                match op {
                    0 => {
                        b.splice(i..i + 1, piece.bytes());
                    }
                    1 => {
                        b.splice(i..i, piece.bytes());
                    }
                    _ => {
                        b.remove(i);
                    }
                }
            }
            String::from_utf8(b).expect("ASCII edits of ASCII text")
        })
}

/// Whether `b` is exactly one value whose brackets and strings balance, as the reader's
/// structural scan (JSON lines) sees it: strings end at an unescaped `"` (a `\` hides the
/// next byte), no newline anywhere, the first bracket's partner is the last byte.
fn structurally_complete(b: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None | Some(b'\n') => return false,
                        Some(b'"') => break,
                        Some(b'\\') => i += 2,
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
                if depth == 0 {
                    return i + 1 == b.len();
                }
            }
            b'\n' => return false,
            _ => {}
        }
        i += 1;
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn scanner_refuses_mutations_serde_refuses(text in mutated()) {
        scanner_refuses_what_serde_refuses(&text);
    }

    /// The engine's tail guard is enough: a structurally complete record without a
    /// backslash in its last 6 bytes never looks cut short to the scanner (which would
    /// then use its beginning instead of refusing it).
    #[test]
    fn complete_records_never_look_truncated_outside_the_tail_guard(text in mutated()) {
        let b = text.as_bytes();
        let guarded = b[b.len().saturating_sub(6)..].contains(&b'\\');
        if b.first() == Some(&b'{') && structurally_complete(b) && !guarded {
            let mut ev = RawEvent::default();
            prop_assert_ne!(
                ev.fill_from_json(b),
                Err(t1651::detect::raw::JsonProblem::Truncated),
                "{:?}", text
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Files of mutated records (JSON lines and a pretty array): one-pass equals two-pass.
    #[test]
    fn mutated_files_scan_as_before(records in prop::collection::vec(mutated(), 1..6)) {
        let dir = tempdir("onepass_prop");
        let lines = dir.join("lines.jsonl");
        write(&lines, (records.join("\n") + "\n").as_bytes());
        same(&lines, &[&["--format", "csv", "--verbose"], &["--mode", "events", "--format", "json", "--verbose"]]);
        let array = dir.join("portal.json");
        write(&array, format!("[\n  {}\n]\n", records.join(",\n  ")).as_bytes());
        same(&array, &[&["--format", "json", "--verbose", "--strict"]]);
    }
}
