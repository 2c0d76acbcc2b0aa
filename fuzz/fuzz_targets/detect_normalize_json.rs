//! `detect_normalize_json`: arbitrary bytes as a JSON audit record (`_raw`, or one record of an
//! exported file), with and without a Splunk `_time`.
//!
//! Properties checked beyond "no panic, no hang":
//! * the offline scan's door ([`normalize_json`]) and the search command's door
//!   ([`normalize_fields`] over `_raw`/`_time`) agree on every input that is valid UTF-8: the
//!   same record must give the same finding whichever front end reads it, broken JSON
//!   included (regression seed: `corpus/detect_normalize_json/regress_broken_json_doors`,
//!   which the doors once disagreed on);
//! * the engine ingests the result and finishes (summary and events modes) without panicking,
//!   with the same rows and warning through both doors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t1651::detect::engine::Engine;
use t1651::detect::fields::FieldMap;
use t1651::detect::normalize::{normalize_fields, normalize_json};
use t1651::detect::options::Options;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, raw)) = data.split_first() else {
        return;
    };
    // A plausible `_time` (or none): the fallback when the record has no timestamp.
    let time = match flags % 4 {
        0 => None,
        1 => Some("1700000000.123"),
        2 => Some("not a time"),
        _ => Some("-1e308"),
    };
    let opts = Options::default();
    let from_json = normalize_json(raw, time, &opts);

    let mut engine = Engine::new(Options::default());
    engine.ingest_json(raw, time);
    let direct = engine.finish();
    let mut events = Engine::new(Options::parse([("mode", "events")]).unwrap());
    let _ = events.event_row_json(raw, time);
    let _ = events.finish();

    let Ok(text) = std::str::from_utf8(raw) else {
        return;
    };
    let mut fields = FieldMap::new();
    fields.set("_raw", text);
    if let Some(t) = time {
        fields.set("_time", t);
    }
    let from_fields = normalize_fields(&fields, &opts);
    assert_eq!(
        from_json, from_fields,
        "scan (JSON) and command (fields) disagree on the same record"
    );
    let mut engine = Engine::new(Options::default());
    engine.ingest_fields(&fields);
    let via_fields = engine.finish();
    assert_eq!(direct.rows, via_fields.rows);
    assert_eq!(direct.warning, via_fields.warning);
});
