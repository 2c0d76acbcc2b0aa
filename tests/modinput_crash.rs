//! Crash safety: the input is SIGKILLed at random points while draining a backlog and
//! restarted until done.
//!
//! What is guaranteed (see `src/modinput/checkpoint.rs`) and checked here exactly:
//! * zero loss: the union of all complete events written equals the backlog;
//! * an event is written twice only if the kill struck between the event's `write(2)` to stdout
//!   and the adjacent `write(2)` of its journal line — so at most one duplicate per kill, and the
//!   duplicated event is the last complete event the killed process wrote, written again by a
//!   later run. Any other duplicate fails the test.
//!
//! The number of duplicates is printed, never asserted to be zero: whether a kill lands in that
//! window — which spans the whole pipe `write(2)` of the event, since a kill arriving mid-syscall
//! lets it finish — is timing (about one mid-stream kill in ten on a 2-vCPU VM). Run with
//! `--nocapture` to see the figures; `T1651_CRASH_KILLS` and `T1651_CRASH_SEED` vary the run.

mod modinput_support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use modinput_support::fixtures::{aws_backlog, azure_backlog, Rng};
use modinput_support::*;
use t1651::detect::operations::AZURE_DEFAULT_OPERATIONS;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// What a drain with kills observed.
struct Drain {
    kills: usize,
    runs: usize,
    written: usize,
    duplicates: usize,
}

/// Run the input on `xml` again and again, SIGKILLing the first `kills` runs at random points,
/// until a run completes; check the guarantee against `expected` ids (`id_of` reads an event's id).
fn drain_with_kills(
    label: &str,
    xml: &str,
    cp: &str,
    expected: &HashSet<String>,
    kills_wanted: usize,
    id_of: fn(&serde_json::Value) -> String,
) -> Drain {
    let seed = env_or(
        "T1651_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    eprintln!("{label}: seed {seed} (set T1651_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let mut runs: Vec<(bool, Vec<String>)> = Vec::new(); // (killed, ids in order)
    let mut delivered: HashSet<String> = HashSet::new();
    let mut kills = 0;
    loop {
        let w = Watched::start(xml.as_bytes(), &[]);
        let kill = kills < kills_wanted;
        if kill {
            let remaining = expected.len().saturating_sub(delivered.len());
            match rng.below(3) {
                // Mid-stream: right after a random number of events was seen on stdout.
                0 => {
                    let spread = (2 * remaining / (kills_wanted + 1 - kills)).max(1) as u64;
                    let target = 1 + rng.below(spread) as usize;
                    let deadline = Instant::now() + StdDuration::from_secs(20);
                    while w.events_seen() < target && Instant::now() < deadline {
                        std::thread::sleep(StdDuration::from_micros(200));
                    }
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
        let ids: Vec<String> = out.events.iter().map(|e| id_of(&e.json())).collect();
        delivered.extend(ids.iter().cloned());
        let killed = out.code.is_none();
        if killed {
            kills += 1;
        } else {
            assert_eq!(out.code, Some(0), "{}", out.stderr);
        }
        runs.push((killed, ids));
        if !killed && kills >= kills_wanted {
            break;
        }
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
    assert_eq!(&union, expected);

    // Every duplicate is explained: the last event of a killed run, written once more by a
    // later run. `first_seen` maps an id to the run that wrote it first.
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dups: Vec<(&str, usize, usize)> = Vec::new(); // (id, first run, repeating run)
    for (i, (_, ids)) in runs.iter().enumerate() {
        let mut in_run: HashSet<&str> = HashSet::new();
        for id in ids {
            assert!(in_run.insert(id), "{id} written twice by run {i}");
            if let Some(&first) = first_seen.get(id.as_str()) {
                dups.push((id, first, i));
            } else {
                first_seen.insert(id, i);
            }
        }
    }
    let mut explained_runs: HashSet<usize> = HashSet::new();
    for &(id, first, again) in &dups {
        let (killed, ids) = &runs[first];
        assert!(
            *killed && ids.last().map(String::as_str) == Some(id),
            "{id} (run {first}, again in run {again}) duplicated but was not the last event of a killed run"
        );
        assert!(
            explained_runs.insert(first),
            "kill of run {first} duplicated more than one event"
        );
    }
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, _, _) in &dups {
        *times.entry(id).or_default() += 1;
    }
    for (id, n) in times {
        assert_eq!(n, 1, "{id} written {} times", n + 1);
    }
    assert!(
        dups.len() <= kills,
        "{} duplicates > {kills} kills",
        dups.len()
    );

    // Bounded state: only ids inside the overlap window (+ margin) survive in the checkpoint.
    let cp_file = std::fs::read_dir(cp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let cp_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cp_file).unwrap()).unwrap();
    let remembered: usize = cp_json["sources"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s["sent"].as_object().unwrap().len())
        .sum();
    assert!(
        remembered < expected.len() / 5,
        "checkpoint remembers {remembered} ids"
    );
    assert_no_secret("checkpoint", &dir_text(cp));
    Drain {
        kills,
        runs: runs.len(),
        written: all.len(),
        duplicates: dups.len(),
    }
}

#[test]
fn azure_10k_backlog_survives_20_sigkills() {
    let emu = start();
    let now = Utc::now();
    // 12 600 events of which ~10 700 are T1651 operations, spread over 10 hours (10 slices).
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
    let cp = checkpoint_dir("crash-azure");
    let xml = input_xml(
        &base,
        &cp,
        "t1651_cloud_audit://crash",
        &as_refs(&azure_params(&base)),
    );
    let started = Instant::now();
    let d = drain_with_kills(
        "azure crash test",
        &xml,
        &cp,
        &expected,
        env_or("T1651_CRASH_KILLS", 20),
        |j| j["eventDataId"].as_str().unwrap().to_string(),
    );
    println!(
        "azure crash test: {} T1651 events, {} SIGKILLs, {} runs, {} events written in all, {} duplicates (each the event in flight at a kill), {:.1} s",
        expected.len(),
        d.kills,
        d.runs,
        d.written,
        d.duplicates,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn aws_backlog_survives_sigkills() {
    let emu = start();
    let now = Utc::now();
    let backlog = aws_backlog(
        78,
        2_000,
        "us-east-1",
        now - Duration::hours(3),
        now - Duration::minutes(1),
    );
    let expected: HashSet<String> = backlog
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_string())
        .collect();
    emu.lock().unwrap().aws_events = backlog
        .into_iter()
        .map(|e| ("us-east-1".to_string(), e))
        .collect();
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("crash-aws");
    let mut params = aws_params(&base);
    params.retain(|(k, _)| k != "regions");
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("role_arn".into(), ROLE_ARN.into()));
    let xml = input_xml(
        &base,
        &cp,
        "t1651_cloud_audit://crash-aws",
        &as_refs(&params),
    );
    let d = drain_with_kills("aws crash test", &xml, &cp, &expected, 6, |j| {
        j["eventID"].as_str().unwrap().to_string()
    });
    println!(
        "aws crash test: {} events, {} SIGKILLs, {} runs, {} duplicates (each the event in flight at a kill)",
        expected.len(),
        d.kills,
        d.runs,
        d.duplicates
    );
}
