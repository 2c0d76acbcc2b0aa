//! `detect_normalize_fields`: arbitrary Splunk field maps (as the search command sees events
//! whose `_raw` is not JSON), under arbitrary command options.
//!
//! Field names are drawn mostly from the names the normaliser reads (`required_fields`), values
//! from the default operation names, plausible fragments and arbitrary text, with multivalues.
//!
//! Properties checked beyond "no panic, no hang":
//! * option parsing never panics; unknown or bad options are errors, not crashes;
//! * normalisation, ingestion, events-mode rows and finishing never panic;
//! * the distributed mode is exact: splitting the events at an arbitrary point, running the
//!   map phase on each part and reducing the partial-state rows gives the same rows and warning
//!   as one direct run (the engine's documented `reduce(map(p1), …, map(pn)) == direct`).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use t1651::detect::engine::Engine;
use t1651::detect::fields::{required_fields, FieldMap};
use t1651::detect::normalize::normalize_fields;
use t1651::detect::operations::{AWS_DEFAULT_EVENT_NAMES, AZURE_DEFAULT_OPERATIONS};
use t1651::detect::options::{Options, OPTION_NAMES};

/// Fragments that steer values towards the normaliser's branches.
const FRAGMENTS: &[&str] = &[
    "Succeeded",
    "Failed",
    "Started",
    "Accepted",
    "ssm.amazonaws.com",
    "AssumedRole",
    "IAMUser",
    "arn:aws:sts::111122223333:assumed-role/Admin/alice",
    "/subscriptions/0000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/rc",
    "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG1PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/SS/VIRTUALMACHINES/0/EXTENSIONS/X",
    "i-0123456789abcdef0",
    "2026-03-14T03:20:00.1234567Z",
    "1700000000.5",
    "11111111-2222-3333-4444-555555555555",
    "{\"a\":1}",
    "",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Operation(u8),
    Fragment(u8),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    options: Vec<(u8, Val)>,
    events: Vec<Vec<(Name, Vec<Val>)>>,
    split: u8,
}

fn value(v: &Val) -> String {
    match v {
        Val::Operation(i) => {
            let n = AZURE_DEFAULT_OPERATIONS.len() + AWS_DEFAULT_EVENT_NAMES.len();
            let i = *i as usize % n;
            AZURE_DEFAULT_OPERATIONS
                .get(i)
                .copied()
                .unwrap_or_else(|| AWS_DEFAULT_EVENT_NAMES[i - AZURE_DEFAULT_OPERATIONS.len()])
                .to_owned()
        }
        Val::Fragment(i) => FRAGMENTS[*i as usize % FRAGMENTS.len()].to_owned(),
        Val::Text(s) => s.clone(),
    }
}

fn run(opts: &Options, events: &[FieldMap]) -> t1651::detect::engine::Finished {
    let mut e = Engine::new(opts.clone());
    for ev in events {
        e.ingest_fields(ev);
    }
    e.finish()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let known = required_fields(&Options::default());
    let pairs: Vec<(&str, String)> = input
        .options
        .iter()
        .map(|(i, v)| (OPTION_NAMES[*i as usize % OPTION_NAMES.len()], value(v)))
        .collect();
    let opts = Options::parse(pairs.iter().map(|(n, v)| (*n, v.as_str()))).unwrap_or_default();
    let events: Vec<FieldMap> = input
        .events
        .iter()
        .map(|fields| {
            let mut m = FieldMap::new();
            for (name, vals) in fields {
                let name = match name {
                    Name::Known(i) => known[*i as usize % known.len()].clone(),
                    Name::Other(s) => s.clone(),
                };
                for v in vals {
                    m.push(name.clone(), value(v));
                }
            }
            m
        })
        .collect();

    for ev in &events {
        let _ = normalize_fields(ev, &opts);
    }
    let mut per_event = Engine::new(opts.clone());
    for ev in &events {
        let _ = per_event.event_row(ev);
    }
    let _ = per_event.finish();

    // Distributed exactness, for the summary mode without an explicit phase.
    let Ok(direct_opts) = Options::parse(
        pairs
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .filter(|(n, _)| *n != "phase" && *n != "mode"),
    ) else {
        return;
    };
    let direct = run(&direct_opts, &events);
    let map_pairs = pairs
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .filter(|(n, _)| *n != "phase" && *n != "mode")
        .chain([("phase", "map")]);
    let Ok(map_opts) = Options::parse(map_pairs) else {
        return;
    };
    let cut = if events.is_empty() {
        0
    } else {
        input.split as usize % (events.len() + 1)
    };
    let mut reducer = Engine::new(direct_opts.clone());
    for part in [&events[..cut], &events[cut..]] {
        for row in run(&map_opts, part).rows {
            reducer.ingest_fields(&row);
        }
    }
    let reduced = reducer.finish();
    assert_eq!(
        direct.rows, reduced.rows,
        "map/reduce differs from the direct run"
    );
    assert_eq!(
        direct.warning, reduced.warning,
        "map/reduce warning differs"
    );
});
