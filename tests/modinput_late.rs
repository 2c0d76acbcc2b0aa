//! Late-arriving events (issue 13, defect 2): the emulators reveal each event minutes after its
//! timestamp, the input runs every few (emulated) minutes, and across all runs every event is
//! delivered exactly once. The clock is emulated (`T1651_MODINPUT_NOW` for the input, `clock`
//! for the emulator), so hours of schedule replay in seconds.

mod modinput_support;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use modinput_support::fixtures::{aws_backlog, azure_backlog, Rng};
use modinput_support::*;
use t1651::detect::operations::AZURE_DEFAULT_OPERATIONS;

#[derive(Clone, Copy, PartialEq)]
enum Cloud {
    Azure,
    Aws,
}

struct Outcome {
    /// Every id written, in order, across all runs.
    written: Vec<String>,
    /// The ids each source should deliver.
    expected: HashSet<String>,
    /// id → how late it was revealed.
    delay: HashMap<String, Duration>,
    /// stderr of every run.
    stderr: String,
}

fn t0() -> DateTime<Utc> {
    // A fixed emulated epoch well inside the APIs' 90 days of the emulated clock.
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// When events appear and when the input runs.
#[derive(Clone, Copy)]
struct Schedule {
    /// Each event is revealed this many minutes (uniform, inclusive) after its time.
    delays: (u64, u64),
    /// The input runs every this many minutes...
    every: i64,
    /// ...until this long after t0.
    until: Duration,
}

/// Load `n` events over 4 h from t0, revealed late per `sched`, and run the input per `sched`.
fn replay(
    cloud: Cloud,
    name: &str,
    seed: u64,
    n: usize,
    sched: Schedule,
    extra: &[(&str, &str)],
) -> Outcome {
    let Schedule {
        delays,
        every,
        until,
    } = sched;
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    let t0 = t0();
    let mut rng = Rng::new(seed);
    let mut delay = HashMap::new();
    let mut expected = HashSet::new();
    {
        let mut e = emu.lock().unwrap();
        match cloud {
            Cloud::Azure => {
                for ev in azure_backlog(seed, n, SUB_A, TENANT, t0, t0 + Duration::hours(4)) {
                    let id = ev["eventDataId"].as_str().unwrap().to_string();
                    let time = DateTime::parse_from_rfc3339(ev["eventTimestamp"].as_str().unwrap())
                        .unwrap()
                        .with_timezone(&Utc);
                    let d =
                        Duration::minutes((delays.0 + rng.below(delays.1 - delays.0 + 1)) as i64);
                    e.reveal_at.insert(id.clone(), time + d);
                    delay.insert(id.clone(), d);
                    let op = ev["operationName"]["value"].as_str().unwrap();
                    if AZURE_DEFAULT_OPERATIONS
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(op))
                    {
                        expected.insert(id);
                    }
                    e.azure_events.push((SUB_A.to_string(), ev));
                }
            }
            Cloud::Aws => {
                for ev in aws_backlog(seed, n, "us-east-1", t0, t0 + Duration::hours(4)) {
                    let id = ev["eventID"].as_str().unwrap().to_string();
                    let time = DateTime::parse_from_rfc3339(ev["eventTime"].as_str().unwrap())
                        .unwrap()
                        .with_timezone(&Utc);
                    let d =
                        Duration::minutes((delays.0 + rng.below(delays.1 - delays.0 + 1)) as i64);
                    e.reveal_at.insert(id.clone(), time + d);
                    delay.insert(id.clone(), d);
                    expected.insert(id);
                    e.aws_events.push(("us-east-1".to_string(), ev));
                }
            }
        }
    }
    let mut params = match cloud {
        Cloud::Azure => azure_params(&base),
        Cloud::Aws => {
            let mut p = aws_params(&base);
            p.retain(|(k, _)| k != "regions");
            p.push(("regions".into(), "us-east-1".into()));
            p
        }
    };
    // The defaults under test: overlap, settle_lag and late_window unset unless `extra` sets them.
    params.retain(|(k, _)| !matches!(k.as_str(), "overlap" | "settle_lag" | "late_window"));
    params.push(("start_from".into(), t0.to_rfc3339()));
    for (k, v) in extra {
        params.push((k.to_string(), v.to_string()));
    }
    let cp = checkpoint_dir(name);
    let mut written = Vec::new();
    let mut stderr = String::new();
    let mut now = t0 + Duration::minutes(every);
    while now <= t0 + until {
        emu.lock().unwrap().clock = Some(now);
        let stamp = now.to_rfc3339();
        let out = run_bin(
            &[],
            input_xml(&base, &cp, "t1651_cloud_audit://late", &as_refs(&params)).as_bytes(),
            &[("T1651_MODINPUT_NOW", stamp.as_str())],
        );
        assert_eq!(out.code, Some(0), "run at {stamp}: {}", out.stderr);
        assert_no_secret("stderr", &out.stderr);
        for ev in &out.events {
            let j = ev.json();
            let id = match cloud {
                Cloud::Azure => j["eventDataId"].as_str().unwrap().to_string(),
                Cloud::Aws => j["eventID"].as_str().unwrap().to_string(),
            };
            written.push(id);
        }
        stderr.push_str(&out.stderr);
        now += Duration::minutes(every);
    }
    Outcome {
        written,
        expected,
        delay,
        stderr,
    }
}

fn duplicates(written: &[String]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in written {
        *counts.entry(id).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id.to_string())
        .collect()
}

fn missing(o: &Outcome) -> Vec<String> {
    let got: HashSet<&String> = o.written.iter().collect();
    o.expected
        .iter()
        .filter(|id| !got.contains(id))
        .cloned()
        .collect()
}

#[test]
fn events_revealed_up_to_an_hour_late_are_delivered_once_by_the_default_overlap() {
    for cloud in [Cloud::Azure, Cloud::Aws] {
        // The late re-read is off: the default overlap (60m) and settle lag alone must suffice.
        let sched = Schedule {
            delays: (1, 60),
            every: 5,
            until: Duration::hours(5) + Duration::minutes(30),
        };
        let o = replay(
            cloud,
            "late-overlap",
            21,
            240,
            sched,
            &[("late_window", "0")],
        );
        assert!(duplicates(&o.written).is_empty(), "duplicates");
        let m = missing(&o);
        assert!(
            m.is_empty(),
            "lost {} events, e.g. {:?} (delay {:?})",
            m.len(),
            m.first(),
            m.first().map(|i| o.delay[i])
        );
        assert_eq!(o.written.len(), o.expected.len());
        let late_counted: u64 = o
            .stderr
            .lines()
            .filter_map(|l| {
                let i = l.find(" late within the overlap")?;
                l[..i].rsplit('(').next()?.parse::<u64>().ok()
            })
            .sum();
        assert!(
            late_counted > 0,
            "the run summaries count the late events caught"
        );
    }
}

#[test]
fn events_later_than_the_overlap_are_recovered_by_the_late_reread_with_a_warning() {
    let sched = Schedule {
        delays: (1, 180),
        every: 10,
        until: Duration::hours(8) + Duration::minutes(30),
    };
    // Control: with the late re-read off, events later than the overlap are lost (so this
    // scenario really exercises them).
    let control = replay(
        Cloud::Azure,
        "late-control",
        22,
        200,
        sched,
        &[("late_window", "0")],
    );
    assert!(duplicates(&control.written).is_empty());
    assert!(
        !missing(&control).is_empty(),
        "the scenario has events later than the overlap"
    );

    // Defaults: nothing lost, nothing duplicated, and each event the re-read recovered is
    // named in a WARN with its id and counted in the run summary.
    let o = replay(Cloud::Azure, "late-reread", 22, 200, sched, &[]);
    assert!(duplicates(&o.written).is_empty(), "duplicates");
    let m = missing(&o);
    assert!(
        m.is_empty(),
        "lost {} events, e.g. {:?}",
        m.len(),
        m.first()
    );
    let warned: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARN ") && l.contains("arrived later than the overlap"))
        .collect();
    assert!(!warned.is_empty());
    for id in missing(&control) {
        let line = warned.iter().find(|l| l.contains(&format!("event {id} ")));
        assert!(line.is_some(), "no WARN names {id}");
        assert!(
            o.delay[&id] > Duration::minutes(60),
            "{id}: {:?}",
            o.delay[&id]
        );
    }
    let counted: u64 = o
        .stderr
        .lines()
        .filter_map(|l| {
            let i = l.find(" later than the overlap)")?;
            l[..i].rsplit(' ').next()?.parse::<u64>().ok()
        })
        .sum();
    assert_eq!(
        counted as usize,
        warned.len(),
        "summary counts match the WARN lines"
    );
}
