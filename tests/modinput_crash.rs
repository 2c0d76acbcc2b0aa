//! Crash safety: the input is SIGKILLed at random points while draining a 10k-event backlog and
//! restarted until done.
//!
//! What is guaranteed (see `src/modinput/checkpoint.rs`) and measured here exactly:
//! * nothing is lost: the union of all complete events written equals the backlog;
//! * an event is written twice only if the kill struck between the event's write to stdout and
//!   its journal line — so at most one duplicate per kill, and the duplicated event is the last
//!   complete event the killed process wrote. Any other duplicate fails the test.

mod modinput_support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use modinput_support::*;
use t1651::detect::operations::AZURE_DEFAULT_OPERATIONS;
use t1651::modinput::fixtures::{azure_backlog, Rng};

fn kills_wanted() -> usize {
    std::env::var("T1651_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_duplicates_only_the_event_in_flight() {
    let seed = std::env::var("T1651_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed {seed} (set T1651_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let emu = start();
    let now = Utc::now();
    // 12 600 events of which ~10 000 are T1651 operations, spread over 10 hours (10 slices).
    let backlog = azure_backlog(
        77,
        12_600,
        SUB_A,
        TENANT,
        now - Duration::hours(10),
        now - Duration::minutes(1),
    );
    let expected: HashSet<String> = backlog
        .iter()
        .filter(|e| {
            AZURE_DEFAULT_OPERATIONS
                .iter()
                .any(|o| o.eq_ignore_ascii_case(e["operationName"]["value"].as_str().unwrap()))
        })
        .map(|e| e["eventDataId"].as_str().unwrap().to_string())
        .collect();
    assert!(
        expected.len() >= 10_000,
        "backlog of {} T1651 events",
        expected.len()
    );
    {
        let mut e = emu.lock().unwrap();
        e.azure_events = backlog
            .into_iter()
            .map(|ev| (SUB_A.to_string(), ev))
            .collect();
        e.azure_page_size = 200;
    }
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("crash");
    let xml = input_xml(
        &base,
        &cp,
        "t1651_cloud_audit://crash",
        &as_refs(&azure_params(&base)),
    );

    let started = Instant::now();
    let mut runs: Vec<(bool, Vec<String>)> = Vec::new(); // (killed, ids in order)
    let mut delivered: HashSet<String> = HashSet::new();
    let mut kills = 0;
    let mut finished = false;
    while !finished {
        let w = Watched::start(xml.as_bytes(), &[]);
        let kill = kills < kills_wanted();
        if kill {
            let remaining = expected.len().saturating_sub(delivered.len());
            let mode = rng.below(3);
            match mode {
                // Mid-stream: after a random number of events.
                0 => {
                    let target = 1 + rng
                        .below((2 * remaining / (kills_wanted() + 1 - kills)).max(1) as u64)
                        as usize;
                    let deadline = Instant::now() + StdDuration::from_secs(20);
                    while w.events_seen() < target && Instant::now() < deadline {
                        std::thread::sleep(StdDuration::from_micros(200));
                    }
                    // and a few microseconds more, to land anywhere in the per-event cycle
                    std::thread::sleep(StdDuration::from_micros(rng.below(500)));
                }
                // Anywhere in the first ~150 ms: start-up, credential, token, paging, checkpoint writes.
                1 => std::thread::sleep(StdDuration::from_micros(rng.below(150_000))),
                // Very early.
                _ => std::thread::sleep(StdDuration::from_micros(rng.below(15_000))),
            }
        }
        let out = w.finish(kill);
        assert_no_secret("stdout", &out.stdout);
        assert_no_secret("stderr", &out.stderr);
        let ids: Vec<String> = out
            .events
            .iter()
            .map(|e| e.json()["eventDataId"].as_str().unwrap().to_string())
            .collect();
        delivered.extend(ids.iter().cloned());
        let was_killed = out.code.is_none();
        if was_killed {
            kills += 1;
        } else {
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            // A run that ended on its own before being killed may leave work only if it was
            // cut short; the loop goes on until a run completes with everything delivered.
            finished = kills >= kills_wanted() || delivered.len() == expected.len();
        }
        runs.push((was_killed, ids));
        assert!(runs.len() < 200, "not converging");
    }

    // Union equals the backlog: nothing lost, nothing extra.
    let all: Vec<&String> = runs.iter().flat_map(|(_, ids)| ids.iter()).collect();
    let union: HashSet<String> = all.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        union.len(),
        expected.len(),
        "lost {} events",
        expected.difference(&union).count()
    );
    assert_eq!(union, expected);

    // Every duplicate is explained: the last event of a killed run, written again later, once.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &all {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let in_flight: HashSet<&str> = runs
        .iter()
        .filter(|(killed, _)| *killed)
        .filter_map(|(_, ids)| ids.last().map(String::as_str))
        .collect();
    let dups: Vec<(&str, usize)> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| (*k, *n))
        .collect();
    for (id, n) in &dups {
        assert_eq!(*n, 2, "{id} written {n} times");
        assert!(
            in_flight.contains(id),
            "{id} duplicated but was not in flight at a kill"
        );
    }
    assert!(dups.len() <= kills);
    let cp_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(&cp)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|x| x == "json"))
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    // Bounded memory: only ids inside the overlap window survive in the checkpoint.
    let remembered: usize = cp_json["sources"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s["sent"].as_object().unwrap().len())
        .sum();
    assert!(remembered < 1_000, "checkpoint remembers {remembered} ids");
    assert_no_secret("checkpoint", &dir_text(&cp));
    eprintln!(
        "crash test: {} T1651 events, {kills} SIGKILLs, {} runs, {} events written in all, {} duplicates (each the event in flight at a kill), {} ids left in the checkpoint, {:.1} s",
        expected.len(),
        runs.len(),
        all.len(),
        dups.len(),
        remembered,
        started.elapsed().as_secs_f64()
    );
}
