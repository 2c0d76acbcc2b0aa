//! Robustness: arbitrary input never panics (parsers, normaliser, partial-state decoder).

use proptest::prelude::*;
use t1651::detect::engine::Engine;
use t1651::detect::fields::FieldMap;
use t1651::detect::normalize::normalize_json;
use t1651::detect::options::Options;
use t1651::detect::{raw, resource, time};

/// Strings built from the tokens that matter to each parser, so the fuzzer reaches deep paths.
fn tokens(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(items), 0..24).prop_map(|v| v.concat())
}

const RID: &[&str] = &[
    "/",
    "//",
    "subscriptions",
    "resourceGroups",
    "RESOURCEGROUPS",
    "providers",
    "Microsoft.Compute",
    "microsoft.hybridcompute",
    "virtualMachines",
    "virtualMachineScaleSets",
    "machines",
    "extensions",
    "runCommands",
    "automationAccounts",
    "jobs",
    "x",
    "é",
    "rg1providers",
    " ",
    "ß",
];

const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u00e9",
    "\"operationName\"",
    "\"value\"",
    "\"status\"",
    "\"claims\"",
    "\"identity\"",
    "\"requestParameters\"",
    "\"instanceIds\"",
    "\"targets\"",
    "\"key\"",
    "\"values\"",
    "\"eventSource\"",
    "\"ssm.amazonaws.com\"",
    "\"eventName\"",
    "\"SendCommand\"",
    "\"time\"",
    "\"2024-05-01T10:00:00Z\"",
    "\"Microsoft.Compute/virtualMachines/runCommand/action\"",
    "\"correlationId\"",
    "\"resourceId\"",
    "null",
    "true",
    "12",
    "-1.5e3",
    "\"userIdentity\"",
    "\"type\"",
    "\"AssumedRole\"",
    "\"arn\"",
    "\"arn:aws:sts::1:assumed-role/R/s\"",
    "\"records\"",
];

const STATE: &[&str] = &[
    "{",
    "}",
    ",",
    ":",
    "\"t\"",
    "\"i\"",
    "\"g\"",
    "\"s\"",
    "\"v\"",
    "1",
    "2",
    "\"op\"",
    "\"ssm.amazonaws.com/sendcommand\"",
    "\"c\"",
    "\"tg\"",
    "\"tr\"",
    "true",
    "\"d\"",
    "\"\"",
    "\"p\"",
    "\"ca\"",
    "\"ct\"",
    "\"user\"",
    "\"tn\"",
    "\"ss\"",
    "\"rg\"",
    "\"sb\"",
    "\"ip\"",
    "\"f\"",
    "\"l\"",
    "\"fl\"",
    "\"b\"",
    "\"n\"",
    "\"fa\"",
    "\"vm\"",
    "[",
    "]",
    "\"co\"",
    "\"cc\"",
    "\"x\"",
    "false",
    "9223372036854775807",
    "-9223372036854775808",
    "0",
    "null",
    "\"sk\"",
    "\"ev\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn resource_parser_never_panics(id in tokens(RID), any_text in ".{0,64}") {
        let _ = resource::parse(&id);
        let _ = resource::parse(&any_text);
    }

    #[test]
    fn time_parsers_never_panic(s in ".{0,40}", n in any::<i64>()) {
        let _ = time::parse_iso(&s);
        let _ = time::parse_epoch(&s);
        let _ = time::format_iso(n);
        let _ = time::format_epoch(n);
    }

    #[test]
    fn normaliser_never_panics(doc in tokens(JSON), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let o = Options::default();
        let _ = normalize_json(doc.as_bytes(), Some("1"), &o);
        let _ = normalize_json(&bytes, None, &o);
        let _ = raw::split_records(doc.as_bytes());
        let mut f = FieldMap::new();
        f.set("_raw", doc.as_str()).set("operationName", doc.as_str()).set("resourceId", doc.as_str());
        let mut e = Engine::new(Options::default());
        e.ingest_fields(&f);
        e.ingest_json(doc.as_bytes(), None);
        let _ = e.finish();
    }

    #[test]
    fn partial_decoder_never_panics(state in tokens(STATE)) {
        for pairs in [vec![], vec![("span", "1h")]] {
            let mut e = Engine::new(Options::parse(pairs).unwrap());
            let mut f = FieldMap::new();
            f.set("t1651_state", state.as_str());
            e.ingest_fields(&f);
            let _ = e.finish();
        }
    }
}

#[test]
fn extreme_partial_times_are_rejected_not_overflowed() {
    let state = |f: &str, l: &str| {
        format!(
            r#"{{"t":"g","v":2,"op":"ssm.amazonaws.com/sendcommand","ca":"a","rg":"","sb":"1","b":null,"n":1,"fa":0,"f":{f},"l":{l},"vm":[],"rs":[],"ip":[],"dc":[],"ss":[],"co":[],"cc":false,"ct":"user","tn":"","x":false}}"#
        )
    };
    // A well-formed partial is accepted...
    let mut e = Engine::new(Options::default());
    let mut f = FieldMap::new();
    f.set("t1651_state", state("1714557600000000", "1714557601000000"));
    e.ingest_fields(&f);
    let done = e.finish();
    assert_eq!(done.rows.len(), 1);
    assert_eq!(
        done.rows[0].get("duration_seconds"),
        Some(&t1651::detect::row::OutValue::Single("1".into()))
    );
    // ... the same with times at the ends of i64 is not.
    let mut e = Engine::new(Options::default());
    f.set(
        "t1651_state",
        state("-9223372036854775808", "9223372036854775807"),
    );
    e.ingest_fields(&f);
    let done = e.finish();
    assert!(done.rows.is_empty());
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect skipped 1 event: 1 bad_partial_state")
    );
}

#[test]
fn deep_nesting_and_huge_values_are_handled() {
    let o = Options::default();
    let deep = format!(
        "{{\"properties\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(
        normalize_json(deep.as_bytes(), None, &o),
        t1651::detect::normalize::Normalized::Skip(_)
    ));
    let deep_obj = format!(
        "{{\"claims\":{}1{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    let _ = normalize_json(deep_obj.as_bytes(), None, &o);
    let huge = format!(
        "{{\"operationName\":\"Microsoft.Compute/virtualMachines/runCommand/action\",\"time\":\"2024-05-01T10:00:00Z\",\"caller\":\"{}\",\"resourceId\":\"/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/{}\"}}",
        "a".repeat(1 << 20),
        "v".repeat(1 << 20)
    );
    let mut e = Engine::new(o);
    e.ingest_json(huge.as_bytes(), None);
    let done = e.finish();
    assert_eq!(done.rows.len(), 1);
}
