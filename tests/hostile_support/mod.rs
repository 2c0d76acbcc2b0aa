//! Hostile-input generator for `tests/harden_hostile.rs`: a seeded PRNG, templates of
//! audit records that can never collide with the good scenario (their own callers,
//! subscription [`HSUB`] and AWS account [`HACCT`], unique correlation and request ids),
//! and mutations of them. Every generated event carries how the command must classify it
//! in each front end ([`Hostile::summary`], [`Hostile::events`], [`Hostile::scan`]), so the
//! tests can demand exact skip counts.
//!
//! Invalid UTF-8 cannot live in a `String`: events carry [`INVALID`] (U+E000, never used
//! otherwise) where the byte `0xFF` must go; [`to_wire`] substitutes it when the request
//! body or the scan file is written, and [`decoded`] gives what the command sees after its
//! CSV decoder replaced the byte with U+FFFD.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::command_support::{body, epoch, Event};
use crate::scp_emulator::{chunk, execute, getinfo, parse_replies, Reply};

/// The hostile subscription: never used by the good scenario.
pub const HSUB: &str = "0badf00d-dead-4bad-8bad-00000000beef";
/// The hostile AWS account.
pub const HACCT: &str = "999900009999";
/// Stand-in for the invalid UTF-8 byte 0xFF.
pub const INVALID: char = '\u{E000}';
pub const RUN_COMMAND: &str = "Microsoft.Compute/virtualMachines/runCommand/action";
/// Characters that travel badly through CSV and the `__mv_` encoding.
pub const SPECIALS: &str = "$;\",\r\n$$;;'`\\";
const TIME: &str = "2026-05-01T10:00:00Z";

/// splitmix64: tiny, seeded, good enough to pick mutations reproducibly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// How one event must be classified by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// A selected T1651 event: counted (summary) or answered (events mode).
    Accepted,
    /// A valid record of another operation (`not_selected`; not in the WARN).
    NotSelected,
    /// Skipped, with the stable reason name of the WARN message.
    Skip(&'static str),
}

/// What `t1651detect scan` must do with the event written as one JSON line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanClass {
    /// The line is delivered to the engine, which classifies it so.
    Engine(Class),
    /// The reader reports the line as an input problem of this kind.
    Problem(&'static str),
    /// Both: the complete object before a syntax error is delivered (so classified), and
    /// the rest of the line is reported as a problem (`{…} junk`).
    EngineAndProblem(Class, &'static str),
    /// Not written to the scan file: flattened-field events (no JSON), partial-state rows,
    /// values with raw line breaks (a JSON-lines file cannot hold them on one line), record
    /// wrappers and arrays (the reader unwraps those by design, so they are not one event).
    Excluded,
}

/// One generated event and its expected fate in every front end.
#[derive(Debug, Clone)]
pub struct Hostile {
    pub kind: &'static str,
    pub event: Event,
    /// `mode=summary` through the protocol.
    pub summary: Class,
    /// `mode=events` through the protocol (partial-state rows are not read there).
    pub events: Class,
    pub scan: ScanClass,
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A record as ordered members: the operation key always comes **last**, so a cut or a
/// syntax error anywhere before it leaves the operation unread (`truncated` /
/// `broken_json` rather than a complemented event).
#[derive(Clone)]
struct Members(Vec<(String, String)>);

impl Members {
    fn text(&self) -> String {
        let inner: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{}:{v}", js(k)))
            .collect();
        format!("{{{}}}", inner.join(","))
    }
    /// Byte offset of the last member's key in [`Members::text`].
    fn last_key_at(&self) -> usize {
        self.text().len() - 1 - self.last_len()
    }
    fn last_len(&self) -> usize {
        let (k, v) = self.0.last().unwrap();
        js(k).len() + 1 + v.len()
    }
    fn set(&mut self, key: &str, value: String) {
        for (k, v) in &mut self.0 {
            if k == key {
                *v = value;
                return;
            }
        }
        panic!("no member {key}");
    }
}

fn hcorr(i: usize) -> String {
    format!("ee{:06x}-0000-4000-8000-{:012x}", i & 0xff_ffff, i)
}

fn hrid(i: usize) -> String {
    format!(
        "/subscriptions/{HSUB}/resourceGroups/rg-evil/providers/Microsoft.Compute/virtualMachines/vm-evil-{}",
        i % 50
    )
}

fn azure(i: usize) -> Members {
    let caller = format!("mallory{}@evil.example", i % 7);
    Members(vec![
        ("time".into(), js(TIME)),
        ("caller".into(), js(&caller)),
        ("correlationId".into(), js(&hcorr(i))),
        ("resourceId".into(), js(&hrid(i))),
        ("subscriptionId".into(), js(HSUB)),
        ("status".into(), r#"{"value":"Succeeded"}"#.into()),
        (
            "claims".into(),
            json!({"ipaddr": "192.0.2.9", "upn": caller}).to_string(),
        ),
        (
            "operationName".into(),
            json!({"value": RUN_COMMAND}).to_string(),
        ),
    ])
}

fn aws(i: usize, ids: usize) -> Members {
    let ids: Vec<String> = (0..ids).map(|k| format!("i-0e71{i:06}{k:06}")).collect();
    Members(vec![
        ("eventTime".into(), js(TIME)),
        ("awsRegion".into(), js("eu-south-9")),
        ("recipientAccountId".into(), js(HACCT)),
        (
            "userIdentity".into(),
            json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{HACCT}:user/mallory{}", i % 5), "accountId": HACCT})
                .to_string(),
        ),
        (
            "requestParameters".into(),
            json!({"instanceIds": ids, "documentName": "AWS-RunShellScript"}).to_string(),
        ),
        ("requestID".into(), js(&format!("hreq-{i}"))),
        ("sourceIPAddress".into(), js("192.0.2.10")),
        ("eventSource".into(), js("ssm.amazonaws.com")),
        ("eventName".into(), js("SendCommand")),
    ])
}

fn template(rng: &mut Rng, i: usize) -> (Members, &'static str) {
    if rng.below(2) == 0 {
        (azure(i), "time")
    } else {
        (aws(i, 3), "eventTime")
    }
}

/// An event as splunkd sends a JSON-sourcetype event whose `_raw` is `raw`.
fn raw_event(raw: String, time: Option<&str>) -> Event {
    let mut e = Event::new();
    e.insert("_raw".into(), vec![raw]);
    if let Some(t) = time {
        e.insert("_time".into(), vec![t.to_owned()]);
    }
    e.insert("sourcetype".into(), vec!["hostile:json".into()]);
    e
}

fn splunk_time() -> String {
    epoch(TIME)
}

/// Builds a raw-JSON hostile event with its classes (same in summary and events mode).
fn raw_h(
    kind: &'static str,
    raw: String,
    time: Option<&str>,
    c: Class,
    scan: ScanClass,
) -> Hostile {
    let scan = if raw.contains(['\n', '\r']) {
        ScanClass::Excluded
    } else {
        scan
    };
    Hostile {
        kind,
        event: raw_event(raw, time),
        summary: c,
        events: c,
        scan,
    }
}

const TRUNC: Class = Class::Skip("truncated");
const BROKEN: Class = Class::Skip("broken_json");
const NOT_AUDIT: Class = Class::Skip("not_audit_record");
const NO_OP: Class = Class::Skip("no_operation");
const NO_TIME: Class = Class::Skip("no_time");
const WRAPPER: Class = Class::Skip("records_wrapper");
const BAD_STATE: Class = Class::Skip("bad_partial_state");
const A: Class = Class::Accepted;
/// The trailing-garbage template has a valid time, so it is used offline too.
const NO_TIME_OR_A: Class = Class::Accepted;
/// Template keys whose presence makes a record without operation `no_operation` rather
/// than `not_audit_record` (the engine's audit markers).
const MARKER_KEYS: &[&str] = &[
    "caller",
    "correlationId",
    "resourceId",
    "status",
    "userIdentity",
    "eventSource",
];
const BAD_JSON: ScanClass = ScanClass::Problem("bad_json");
/// What the scan reader does with a line holding the byte 0xFF.
pub const SCAN_INVALID_UTF8: ScanClass = ScanClass::Problem("bad_encoding");

/// Every random mutation kind. Large inputs (10 MB strings, 100k-deep nesting, tens of
/// thousands of instance ids) are in [`specials`], a fixed few per run.
pub const KINDS: &[&str] = &[
    "truncated",
    "broken",
    "nul_raw_in_string",
    "tab_raw_in_string",
    "crlf_raw_in_string",
    "nul_escaped",
    "invalid_utf8_in_string",
    "op_number",
    "op_bool",
    "op_array",
    "op_null",
    "op_object_without_value",
    "op_value_number",
    "op_other",
    "resource_id_object",
    "resource_id_weird",
    "claims_string",
    "claims_array",
    "identity_string",
    "identity_array",
    "instance_ids_string",
    "instance_ids_nested",
    "time_garbage",
    "time_garbage_no_splunk_time",
    "specials_in_every_value",
    "trailing_garbage",
    "empty_everything",
    "not_audit_object",
    "not_an_object",
    "records_wrapper",
    "markers_only",
    "aws_source_garbage",
    "flat_specials_azure",
    "flat_specials_aws",
    "flat_empty",
    "flat_no_time",
    "flat_op_garbage",
    "partial_state_corrupt",
];

/// One random hostile event; `i` makes its ids unique.
pub fn mutate(rng: &mut Rng, i: usize) -> Hostile {
    let kind = *rng.pick(KINDS);
    let st = splunk_time();
    let t = Some(st.as_str());
    let (mut m, time_key) = template(rng, i);
    match kind {
        "truncated" => {
            // Any proper prefix that ends before the operation key: EOF inside the object.
            let text = m.text();
            let mut p = 1 + rng.below(m.last_key_at() - 1);
            while !text.is_char_boundary(p) {
                p -= 1;
            }
            // The scan reports the cut line and hands it to the engine, whose truncation
            // rules classify it (issue 12).
            raw_h(
                kind,
                text[..p].to_owned(),
                t,
                TRUNC,
                ScanClass::EngineAndProblem(TRUNC, "truncated_record"),
            )
        }
        "broken" => {
            let j = rng.below(m.0.len() - 1);
            let tokens = ["@", ",", "]", "}", "nope", "'x'", "\u{0}", ":", "{"];
            let tok = *rng.pick(&tokens);
            let head: Vec<String> = m.0[..j]
                .iter()
                .map(|(k, v)| format!("{}:{v}", js(k)))
                .collect();
            let tail: Vec<String> = m.0[j..]
                .iter()
                .map(|(k, v)| format!("{}:{v}", js(k)))
                .collect();
            let raw = format!("{{{}{tok},{}}}", head.join(","), tail.join(","));
            // Offline, `{…}}, …` is a complete object followed by junk: the object is
            // delivered (an audit record without operation if it holds a marker key).
            let scan = if tok == "}" {
                let marker = m.0[..j]
                    .iter()
                    .any(|(k, _)| MARKER_KEYS.contains(&k.as_str()));
                ScanClass::EngineAndProblem(if marker { NO_OP } else { NOT_AUDIT }, "bad_json")
            } else {
                BAD_JSON
            };
            raw_h(kind, raw, t, BROKEN, scan)
        }
        "nul_raw_in_string" | "tab_raw_in_string" | "crlf_raw_in_string" => {
            // Unescaped control characters inside a JSON string: a syntax error before the
            // operation key.
            let c = match kind {
                "nul_raw_in_string" => "\u{0}",
                "tab_raw_in_string" => "\t",
                _ => "\r\n",
            };
            let k = m.0[1].0.clone();
            m.set(&k, format!("\"mal{c}lory{i}\""));
            raw_h(kind, m.text(), t, BROKEN, BAD_JSON)
        }
        "nul_escaped" => {
            let k = m.0[1].0.clone();
            m.set(&k, js(&format!("mal\u{0}lory{i}@evil.example")));
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "invalid_utf8_in_string" => {
            // The CSV decoder turns the byte into U+FFFD inside a string: still a record.
            let k = m.0[1].0.clone();
            m.set(&k, format!("\"mal{INVALID}lory{i}@evil.example\""));
            raw_h(kind, m.text(), t, A, SCAN_INVALID_UTF8)
        }
        "op_number"
        | "op_bool"
        | "op_array"
        | "op_null"
        | "op_object_without_value"
        | "op_value_number"
        | "op_other" => {
            let (v, c): (&str, Class) = match kind {
                "op_number" => ("12345", Class::NotSelected),
                "op_bool" => ("true", Class::NotSelected),
                // Arrays and null carry no operation; the other keys make it an audit record.
                "op_array" => (r#"["SendCommand",{"value":"x"}]"#, NO_OP),
                "op_null" => ("null", NO_OP),
                "op_object_without_value" => (r#"{"localizedValue":"Run Command"}"#, NO_OP),
                "op_value_number" => (r#"{"value":7}"#, Class::NotSelected),
                _ => (
                    r#"{"value":"Microsoft.Compute/virtualMachines/start/action"}"#,
                    Class::NotSelected,
                ),
            };
            let key = m.0.last().unwrap().0.clone();
            let v = if kind == "op_other" && key == "eventName" {
                js("DescribeInstances")
            } else {
                v.to_owned()
            };
            m.set(&key, v);
            raw_h(kind, m.text(), t, c, ScanClass::Engine(c))
        }
        "resource_id_object" => {
            let mut m = azure(i);
            m.set(
                "resourceId",
                format!(r#"{{"subscriptions":"{HSUB}","n":[1,{{}}]}}"#),
            );
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "resource_id_weird" => {
            let mut m = azure(i);
            let long = "/a".repeat(500);
            let ids = [
                String::new(),
                "/".into(),
                "//////".into(),
                "/subscriptions".into(),
                "/subscriptions//resourceGroups//providers//virtualMachines/".into(),
                format!("/subscriptions/{HSUB}/subscriptions/x/resourceGroups/a/resourceGroups/b/providers/Microsoft.Compute/virtualMachines/v1/virtualMachines/v2"),
                format!("/subscriptions/{HSUB}/resourceGroups/rg1providersproviders/Microsoft.Compute/virtualMachines/x"),
                format!("/subscriptions/{HSUB}/resourceGroups/providers"),
                "/providers/providers/providers/providers".into(),
                format!("/subscriptions/{HSUB}{long}"),
                format!("/subscriptions/{HSUB}/resourceGroups/é/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines"),
                format!("/subscriptions/{HSUB}/resourceGroups/r/providers/Microsoft.Automation/automationAccounts"),
                format!("/SUBSCRIPTIONS/{HSUB}/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.HYBRIDCOMPUTE/MACHINES/M/RUNCOMMANDS/"),
                "subscriptions/resourceGroupsproviders".into(),
            ];
            let rid = rng.pick(&ids).clone();
            m.set("resourceId", js(&rid));
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "claims_string" | "claims_array" => {
            let mut m = azure(i);
            let v = if kind == "claims_string" {
                js("upn=mallory@evil.example")
            } else {
                r#"[{"upn":"x"},["y"],null,1]"#.into()
            };
            m.set("claims", v);
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "identity_string" | "identity_array" => {
            let mut m = azure(i);
            let v = if kind == "identity_string" {
                js("mallory-identity@evil.example")
            } else {
                r#"["a",{"claims":{"upn":"b"}},[[]]]"#.into()
            };
            m.0.insert(1, ("identity".into(), v));
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "instance_ids_string" | "instance_ids_nested" => {
            let mut m = aws(i, 0);
            let ids = if kind == "instance_ids_string" {
                js(&format!("i-0e71s{i}"))
            } else {
                format!(r#"[["i-nested{i}",["x"]],{{"a":"i-obj"}},5,null,true,"",[],"i-0e71n{i}"]"#)
            };
            m.set(
                "requestParameters",
                format!(r#"{{"instanceIds":{ids},"documentName":"AWS-RunShellScript"}}"#),
            );
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "time_garbage" | "time_garbage_no_splunk_time" => {
            let garbage = [
                js("not a time"),
                js("2026-13-45T99:00:00Z"),
                js(""),
                js("   "),
                "12345".into(),
                r#"{"x":"2026-05-01T10:00:00Z"}"#.into(),
                r#"["2026-05-01T10:00:00Z"]"#.into(),
                "null".into(),
                js("2026-05-01"),
                "1e300".into(),
                js("2026-05-01T10:00:00Q"),
            ];
            m.set(time_key, rng.pick(&garbage).clone());
            if kind == "time_garbage" {
                // `_time` is the fallback; offline (no `_time`) the record has no time.
                raw_h(kind, m.text(), t, A, ScanClass::Engine(NO_TIME))
            } else {
                let bad_t = [
                    "",
                    "garbage",
                    "1e9",
                    "-",
                    "1773454200.x",
                    "12345678901234567",
                ];
                let bt = *rng.pick(&bad_t);
                let tt = if bt.is_empty() && rng.below(2) == 0 {
                    None
                } else {
                    Some(bt)
                };
                raw_h(kind, m.text(), tt, NO_TIME, ScanClass::Engine(NO_TIME))
            }
        }
        "specials_in_every_value" => {
            // Every string value except the operation carries CSV/`__mv_` metacharacters.
            let s = SPECIALS;
            let mut m = if time_key == "time" {
                let mut m = azure(i);
                m.set("caller", js(&format!("mal{s}lory{i}@evil.example")));
                m.set("correlationId", js(&format!("{}{s}", hcorr(i))));
                m.set(
                    "resourceId",
                    js(&format!("/subscriptions/{HSUB}/resourceGroups/rg{s}/providers/Microsoft.Compute/virtualMachines/vm{s}{}", i % 3)),
                );
                m.set("subscriptionId", js(&format!("{HSUB}{s}")));
                m.set(
                    "status",
                    json!({ "value": format!("Succeeded{s}") }).to_string(),
                );
                m.set(
                    "claims",
                    json!({"ipaddr": format!("192.0.2.9{s}"), "upn": format!("u{s}")}).to_string(),
                );
                m
            } else {
                let mut m = aws(i, 0);
                m.set("awsRegion", js(&format!("eu{s}")));
                m.set(
                    "userIdentity",
                    json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{HACCT}:user/m{s}{i}"), "accountId": HACCT}).to_string(),
                );
                m.set(
                    "requestParameters",
                    json!({"instanceIds": [format!("i-{s}a"), "$", "$$", ";", format!("i-{i}{s}")], "documentName": format!("doc{s}")}).to_string(),
                );
                m.set("requestID", js(&format!("hreq-{i}{s}")));
                m.set("sourceIPAddress", js(&format!("192.0.2.10{s}")));
                m
            };
            m.0.insert(0, (format!("k{s}"), js(s)));
            raw_h(kind, m.text(), t, A, ScanClass::Engine(A))
        }
        "trailing_garbage" => {
            // Complete record + junk: a syntax error *after* the operation was read. Broken
            // JSON is never trusted, whatever was read before the error (both doors agree).
            // Offline, the reader delivers the object and reports the junk as a problem.
            let raw = format!("{} trailing junk", m.text());
            raw_h(
                kind,
                raw,
                t,
                BROKEN,
                ScanClass::EngineAndProblem(NO_TIME_OR_A, "bad_json"),
            )
        }
        "empty_everything" => {
            let keys: Vec<String> = m.0.iter().map(|(k, _)| k.clone()).collect();
            for k in keys {
                let v = match k.as_str() {
                    "status" | "operationName" => r#"{"value":""}"#.into(),
                    "claims" => r#"{"upn":"","ipaddr":""}"#.into(),
                    "userIdentity" => r#"{"type":"","arn":""}"#.into(),
                    "requestParameters" => r#"{"instanceIds":[""]}"#.into(),
                    _ => js(""),
                };
                m.set(&k, v);
            }
            raw_h(kind, m.text(), t, NOT_AUDIT, ScanClass::Engine(NOT_AUDIT))
        }
        "not_audit_object" => {
            let objs = [
                r#"{"hello":"world"}"#.to_owned(),
                "{}".into(),
                r#"{"a":[1,{"b":null}],"n":1.5e300,"s":"$;\""}"#.into(),
                // Key names are case-sensitive: these are not the record's keys.
                format!(r#"{{"operationname":"{RUN_COMMAND}","CALLER":"x"}}"#),
                format!(r#"{{"OperationName":{{"value":"{RUN_COMMAND}"}}}}"#),
                "  \t {\"x\":1}".into(),
            ];
            let raw = rng.pick(&objs).clone();
            raw_h(kind, raw, t, NOT_AUDIT, ScanClass::Engine(NOT_AUDIT))
        }
        "not_an_object" => {
            let scalars = [
                "42",
                "\"str\"",
                "null",
                "true",
                "-0.5e3",
                "\"{\\\"caller\\\":1}\"",
            ];
            let arrays = ["[1,2]", "[]", "[{\"caller\":\"x\"}]"];
            if rng.below(2) == 0 {
                let raw = (*rng.pick(&scalars)).to_owned();
                raw_h(kind, raw, t, NOT_AUDIT, ScanClass::Problem("not_an_object"))
            } else {
                let raw = (*rng.pick(&arrays)).to_owned();
                raw_h(kind, raw, t, NOT_AUDIT, ScanClass::Excluded)
            }
        }
        "records_wrapper" => {
            let key = if rng.below(2) == 0 {
                "records"
            } else {
                "Records"
            };
            let raw = format!("{{\"{key}\":[{}]}}", m.text());
            raw_h(kind, raw, t, WRAPPER, ScanClass::Excluded)
        }
        "markers_only" => {
            let raw = format!(
                r#"{{"caller":"mallory@evil.example","resultType":"Success","correlationId":"{}"}}"#,
                hcorr(i)
            );
            raw_h(kind, raw, t, NO_OP, ScanClass::Engine(NO_OP))
        }
        "aws_source_garbage" => {
            // An eventSource that is not AWS: the event name is not looked at, and there
            // is no Azure operation either.
            let mut m = aws(i, 2);
            m.set("eventSource", js("ssm.evil.example"));
            raw_h(kind, m.text(), t, NO_OP, ScanClass::Engine(NO_OP))
        }
        "flat_specials_azure" => flat_azure(i, kind, rng),
        "flat_specials_aws" => flat_aws(i, kind),
        "flat_empty" => {
            let mut e = Event::new();
            for k in [
                "_raw",
                "_time",
                "operationName",
                "caller",
                "resourceId",
                "correlationId",
                "eventSource",
                "eventName",
                "userIdentity.arn",
                "requestParameters.instanceIds{}",
            ] {
                e.insert(k.into(), vec![String::new()]);
            }
            flat_h(kind, e, NOT_AUDIT)
        }
        "flat_no_time" => {
            let mut e = flat_azure(i, kind, rng).event;
            for k in ["time", "eventTimestamp"] {
                e.remove(k);
            }
            e.insert("_time".into(), vec!["never".into()]);
            flat_h(kind, e, NO_TIME)
        }
        "flat_op_garbage" => {
            let mut e = flat_azure(i, kind, rng).event;
            e.insert(
                "operationName".into(),
                vec![format!("{RUN_COMMAND}{SPECIALS}")],
            );
            flat_h(kind, e, Class::NotSelected)
        }
        "partial_state_corrupt" => {
            let valid_inv = format!(
                r#"{{"t":"i","v":1,"op":"microsoft.compute/virtualmachines/runcommand/action","c":"{}","tg":"vm","tr":false,"d":"","p":{{"ca":"m","ct":"user","tn":"","ss":""}},"rg":"r","sb":"{HSUB}","ip":"","f":1,"l":2,"fl":2}}"#,
                hcorr(i)
            );
            let cut = 1 + rng.below(valid_inv.len() - 1);
            let states = [
                "x".to_owned(),
                "{".into(),
                "{}".into(),
                "[]".into(),
                "\"s\"".into(),
                " ".into(),
                "null".into(),
                r#"{"t":"i"}"#.into(),
                r#"{"t":"g","v":2}"#.into(),
                r#"{"t":"zz","v":1}"#.into(),
                valid_inv.replace("\"v\":1", "\"v\":99"),
                valid_inv.replace("runcommand", "notanop"),
                valid_inv.replace("\"f\":1", "\"f\":\"1\""),
                valid_inv[..cut].to_owned(),
                format!("{valid_inv}{SPECIALS}"),
                format!("\u{0}{INVALID}"),
                "[".repeat(5000),
            ];
            let mut e = Event::new();
            e.insert("t1651_state".into(), vec![rng.pick(&states).clone()]);
            Hostile {
                kind,
                event: e,
                summary: BAD_STATE,
                // mode=events does not read partial rows: an event with no fields at all.
                events: NOT_AUDIT,
                scan: ScanClass::Excluded,
            }
        }
        other => unreachable!("kind {other}"),
    }
}

fn flat_h(kind: &'static str, event: Event, c: Class) -> Hostile {
    Hostile {
        kind,
        event,
        summary: c,
        events: c,
        scan: ScanClass::Excluded,
    }
}

fn put(e: &mut Event, k: &str, v: impl Into<String>) {
    e.insert(k.into(), vec![v.into()]);
}

/// Azure facts as flattened fields (non-JSON `_raw`) with metacharacters, NUL and the
/// invalid byte in every value, and multivalue fields (`__mv_` with `$` to escape).
fn flat_azure(i: usize, kind: &'static str, rng: &mut Rng) -> Hostile {
    let s = SPECIALS;
    let mut e = Event::new();
    put(
        &mut e,
        "_raw",
        format!("operationName=run {s} {INVALID}\u{0} not json"),
    );
    put(&mut e, "_time", splunk_time());
    // A multivalue operation: the first value is the one read.
    e.insert(
        "operationName".into(),
        vec![RUN_COMMAND.into(), format!("x{s}"), "$".into()],
    );
    put(
        &mut e,
        "caller",
        format!("mal{s}{INVALID}\u{0}lory{i}@evil.example"),
    );
    put(
        &mut e,
        "resourceId",
        format!("/subscriptions/{HSUB}/resourceGroups/rg{s}/providers/Microsoft.Compute/virtualMachines/vm{INVALID}{}", i % 4),
    );
    put(&mut e, "subscriptionId", HSUB);
    put(&mut e, "correlationId", format!("{}{s}", hcorr(i)));
    put(&mut e, "resultType", format!("Success{s}"));
    e.insert(
        "claims.ipaddr".into(),
        vec![format!("192.0.2.{}", rng.below(9)), format!("{s}$$")],
    );
    put(&mut e, "time", TIME);
    e.insert(
        "junk{}".into(),
        vec!["$".into(), "$$".into(), s.into(), "a\nb".into()],
    );
    Hostile {
        kind,
        event: e,
        summary: A,
        events: A,
        scan: ScanClass::Excluded,
    }
}

/// CloudTrail facts as flattened fields, with a multivalue `instanceIds{}` full of `$`.
fn flat_aws(i: usize, kind: &'static str) -> Hostile {
    let s = SPECIALS;
    let mut e = Event::new();
    put(&mut e, "_raw", format!("eventName=SendCommand {s}"));
    put(&mut e, "_time", splunk_time());
    put(&mut e, "eventSource", "ssm.amazonaws.com");
    put(&mut e, "eventName", "SendCommand");
    put(&mut e, "eventTime", TIME);
    put(&mut e, "userIdentity.type", "IAMUser");
    put(
        &mut e,
        "userIdentity.arn",
        format!("arn:aws:iam::{HACCT}:user/flat{s}{INVALID}{}", i % 3),
    );
    put(&mut e, "recipientAccountId", HACCT);
    put(&mut e, "requestID", format!("hflat-{i}{s}"));
    e.insert(
        "requestParameters.instanceIds{}".into(),
        vec![
            format!("i-{s}a{i}"),
            "$".into(),
            "$$".into(),
            ";".into(),
            "$a$;$b$".into(),
            format!("i-{i}\r\n\"x\""),
            format!("i-{INVALID}{i}"),
        ],
    );
    Hostile {
        kind,
        event: e,
        summary: A,
        events: A,
        scan: ScanClass::Excluded,
    }
}

/// Instance ids in the "many ids" specials: far over `max_values`, but kept to a few
/// thousand because per-event target de-duplication is quadratic (see
/// `harden_hostile_limits.rs`, `instance_id_dedup_is_not_quadratic`).
pub const MANY_IDS: usize = 3000;

/// The large inputs, a fixed few per run: two 10 MB strings (a valid caller, a broken
/// `_raw`), 100k-deep nesting (arrays, objects, inside `claims`: skipped iteratively by the
/// JSON reader, so these records are used), and [`MANY_IDS`] instance ids in JSON and in a
/// flattened multivalue.
pub fn specials(base: usize) -> Vec<Hostile> {
    let st = splunk_time();
    let t = Some(st.as_str());
    let ten_mb = 10 << 20;
    let mut out = Vec::new();
    let mut m = azure(base);
    m.set(
        "caller",
        js(&format!("{}@evil.example", "m".repeat(ten_mb))),
    );
    out.push(raw_h("huge_caller", m.text(), t, A, ScanClass::Engine(A)));
    out.push(raw_h(
        "huge_broken",
        format!("{{{}", "x".repeat(ten_mb)),
        t,
        BROKEN,
        BAD_JSON,
    ));
    let n = 100_000;
    let arr = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let obj = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    for (kind, deep, id) in [
        ("deep_array", &arr, base + 1),
        ("deep_object", &obj, base + 5),
    ] {
        let mut m = azure(id);
        m.0.insert(0, ("deep".into(), deep.clone()));
        out.push(raw_h(kind, m.text(), t, A, ScanClass::Engine(A)));
    }
    let mut m = azure(base + 2);
    m.set("claims", arr.clone());
    out.push(raw_h(
        "deep_in_claims",
        m.text(),
        t,
        A,
        ScanClass::Engine(A),
    ));
    out.push(raw_h(
        "many_instance_ids",
        aws(base + 3, MANY_IDS).text(),
        t,
        A,
        ScanClass::Engine(A),
    ));
    let mut f = flat_aws(base + 4, "flat_many_instance_ids");
    f.event.insert(
        "requestParameters.instanceIds{}".into(),
        (0..MANY_IDS).map(|k| format!("i-f{k}${k}")).collect(),
    );
    out.push(f);
    out
}

/// `n` random hostile events plus the [`specials`], ids unique from `base`.
pub fn generate(seed: u64, n: usize) -> Vec<Hostile> {
    let mut rng = Rng::new(seed);
    let mut v: Vec<Hostile> = (0..n).map(|i| mutate(&mut rng, 1000 + i)).collect();
    v.extend(specials(1000 + n));
    v
}

// ------------------------------------------------------------------------- wire helpers

/// The bytes to send or write: every [`INVALID`] becomes the byte 0xFF.
pub fn to_wire(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    let mut last = 0;
    for (i, c) in s.char_indices() {
        if c == INVALID {
            out.extend_from_slice(&s.as_bytes()[last..i]);
            out.push(0xFF);
            last = i + c.encode_utf8(&mut buf).len();
        }
    }
    out.extend_from_slice(&s.as_bytes()[last..]);
    out
}

/// What the command sees of a value after its decoder replaced the invalid byte.
pub fn decoded(s: &str) -> String {
    s.replace(INVALID, "\u{FFFD}")
}

/// The result of one protocol session.
pub struct Run {
    pub replies: Vec<Reply>,
    pub code: i32,
    pub stderr: String,
}

impl Run {
    pub fn messages(&self) -> Vec<(String, String)> {
        self.replies.iter().flat_map(|r| r.messages()).collect()
    }
    pub fn last(&self) -> &Reply {
        self.replies.last().unwrap()
    }
}

/// How splunkd marks its last request (see `command_support::Finish`).
pub use crate::command_support::Finish;

/// A spawned command driven in lock step: one request, then exactly one reply (within
/// [`REPLY_TIMEOUT`], else the test fails as a hang). Unlike `scp_emulator::Proc` it does
/// not assert that the reply arrives after its writer thread reported the write done:
/// under load that check misfires (the command can read the last bytes, answer, and be
/// read back before the writer thread runs again), and reply timing is the protocol
/// tests' concern, not this suite's.
pub struct Driver {
    child: std::process::Child,
    stdin: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    stdout: std::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    eof: bool,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// How long one reply may take (generous: debug build, shared CPUs, 10 MB values).
pub const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Driver {
    pub fn spawn(exe: &std::path::Path) -> Driver {
        Self::spawn_args(exe, &[])
    }

    /// [`Driver::spawn`] with `argv` (e.g. commands.conf `command.arg.<N>` flags).
    pub fn spawn_args(exe: &std::path::Path, argv: &[&str]) -> Driver {
        use std::io::{Read, Write};
        use std::process::{Command, Stdio};
        let mut child = Command::new(exe)
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the command");
        let mut stdin = child.stdin.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            for data in rx {
                if stdin.write_all(&data).and_then(|_| stdin.flush()).is_err() {
                    return;
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let (otx, orx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut b = vec![0u8; 1 << 16];
            while let Ok(n) = out.read(&mut b) {
                if n == 0 || otx.send(b[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let mut se = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut b = vec![0u8; 4096];
            while let Ok(n) = se.read(&mut b) {
                if n == 0 {
                    return;
                }
                sink.lock().unwrap().extend_from_slice(&b[..n]);
            }
        });
        Driver {
            child,
            stdin: Some(tx),
            stdout: orx,
            buf: Vec::new(),
            eof: false,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Sends one request and returns the one reply it gets.
    pub fn exchange(&mut self, request: &[u8]) -> Reply {
        assert!(
            self.buf.is_empty(),
            "bytes before a request: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stdin.as_ref().unwrap().send(request.to_vec()).unwrap();
        let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            let (replies, _) = parse_replies(&self.buf);
            if let Some(r) = replies.into_iter().next() {
                // Keep what follows the first reply (nothing, in lock step).
                let first = chunk_len(&self.buf);
                self.buf.drain(..first);
                return r;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(d) => self.buf.extend_from_slice(&d),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no reply within {REPLY_TIMEOUT:?} (command hung)")
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    self.eof = true;
                    panic!(
                        "stdout closed without a complete reply; got {:?}; stderr: {}",
                        String::from_utf8_lossy(&self.buf[..self.buf.len().min(300)]),
                        self.stderr()
                    )
                }
            }
        }
    }

    /// Closes stdin and waits for exit: (exit code, bytes after the last reply, stderr).
    pub fn finish(mut self) -> (i32, Vec<u8>, String) {
        self.stdin = None;
        let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
        while !self.eof {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(d) => self.buf.extend_from_slice(&d),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => self.eof = true,
                Err(_) => panic!("command did not close stdout after EOF"),
            }
        }
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "command did not exit after EOF"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        (
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.buf),
            self.stderr(),
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Length of the first complete chunk at the start of `buf`.
fn chunk_len(buf: &[u8]) -> usize {
    let nl = buf.iter().position(|&b| b == b'\n').unwrap();
    let hdr = std::str::from_utf8(&buf[..nl]).unwrap();
    let (m, b) = hdr["chunked 1.0,".len()..].split_once(',').unwrap();
    nl + 1 + m.parse::<usize>().unwrap() + b.parse::<usize>().unwrap()
}

/// getinfo with `args`, one execute per chunk (bodies built the splunkd way, then
/// [`to_wire`]), the chosen finish style, EOF. Asserts lock step, no error reply, no bytes
/// after the last reply.
pub fn run_session(args: &[&str], chunks: &[Vec<Event>], finish: Finish, chunked_idx: bool) -> Run {
    let exe = crate::command_support::exe();
    let mut p = Driver::spawn(&exe);
    let gi = p.exchange(&getinfo(args));
    assert!(gi.error().is_none(), "getinfo failed: {:?}", gi.meta);
    let mut replies = Vec::new();
    let n = chunks.len();
    for (i, c) in chunks.iter().enumerate() {
        let last = i + 1 == n && finish == Finish::LastChunk;
        let b = to_wire(&body(c, &["_raw", "_time"], chunked_idx));
        let meta = format!("{{\"action\":\"execute\",\"finished\":{last}}}");
        let r = p.exchange(&chunk(meta.as_bytes(), &b));
        assert!(
            r.error().is_none(),
            "execute {i} failed: {:?}; stderr: {}",
            r.meta,
            p.stderr()
        );
        assert_eq!(r.finished(), Some(last), "reply {i} finished flag");
        replies.push(r);
    }
    if finish == Finish::HeaderOnly || n == 0 {
        let r = p.exchange(&execute(true, &body(&[], &["_raw", "_time"], chunked_idx)));
        assert!(r.error().is_none(), "final execute failed: {:?}", r.meta);
        assert_eq!(r.finished(), Some(true));
        replies.push(r);
    }
    let (code, trailing, stderr) = p.finish();
    assert!(trailing.is_empty(), "bytes after the last reply");
    Run {
        replies,
        code,
        stderr,
    }
}

/// Splits into chunks of random sizes in `1..=max`.
pub fn random_chunks<T: Clone>(rng: &mut Rng, items: &[T], max: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let n = 1 + rng.below(max);
        out.push(items[i..(i + n).min(items.len())].to_vec());
        i += n;
    }
    out
}

/// The parts of the command's one WARN message.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Warn {
    pub skipped_total: u64,
    pub skipped: BTreeMap<String, u64>,
    /// `multivalue columns cut to max_values=N in K rows`: (N, K).
    pub cut: Option<(u64, u64)>,
    /// Any other part (limits), verbatim.
    pub other: Vec<String>,
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// Parses `t1651detect skipped N events: a r1, b r2; multivalue columns cut …; …`.
pub fn parse_warn(text: &str) -> Warn {
    let rest = text
        .strip_prefix("t1651detect ")
        .unwrap_or_else(|| panic!("WARN does not start with the command name: {text}"));
    let mut w = Warn::default();
    for part in rest.split("; ") {
        if let Some(s) = part.strip_prefix("skipped ") {
            let (total, list) = s.split_once(": ").expect("skipped N events: list");
            let total = total
                .strip_suffix(" events")
                .or_else(|| total.strip_suffix(" event"))
                .expect("N event(s)");
            w.skipped_total = num(total);
            for item in list.split(", ") {
                let (n, reason) = item.split_once(' ').expect("count reason");
                let prev = w.skipped.insert(reason.to_owned(), num(n));
                assert!(prev.is_none(), "reason {reason} listed twice: {text}");
            }
        } else if let Some(s) = part.strip_prefix("multivalue columns cut to max_values=") {
            let (max, rest) = s.split_once(' ').unwrap();
            let k = rest
                .strip_prefix("in ")
                .and_then(|r| r.split(' ').next())
                .expect("in K rows");
            w.cut = Some((num(max), num(k)));
        } else {
            w.other.push(part.to_owned());
        }
    }
    w
}

/// Expected WARN skip counts for `classes`.
pub fn skip_counts(classes: impl IntoIterator<Item = Class>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for c in classes {
        if let Class::Skip(r) = c {
            *m.entry(r.to_owned()).or_insert(0) += 1;
        }
    }
    m
}

/// A decoded record without its empty columns (a reply's header is the union of every
/// row's columns, so a column another row needed is present and empty here).
pub fn non_empty(mut r: BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    r.retain(|_, v| !v.is_empty());
    r
}

/// Whether a decoded output record has any `<column>_truncated=TRUE` flag.
pub fn is_cut(r: &BTreeMap<String, Vec<String>>) -> bool {
    r.iter()
        .any(|(k, v)| k.ends_with("_truncated") && v.iter().any(|x| x == "TRUE"))
}

/// The group key of a summary row.
pub fn group_key(r: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    [
        "caller_identity",
        "subscription_id",
        "resource_group",
        "operation_lower",
    ]
    .iter()
    .map(|k| r.get(*k).map(|v| v.join("\n")).unwrap_or_default())
    .collect()
}

/// The group key of a scan JSON row.
pub fn json_group_key(r: &Value) -> Vec<String> {
    [
        "caller_identity",
        "subscription_id",
        "resource_group",
        "operation_lower",
    ]
    .iter()
    .map(|k| match &r[*k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    })
    .collect()
}
