//! Azure Activity Log collection against the loopback emulators.

mod modinput_support;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use modinput_support::fixtures::azure_backlog;
use modinput_support::*;
use serde_json::Value;
use t1651::detect::operations::AZURE_DEFAULT_OPERATIONS;

fn wanted(ev: &Value) -> bool {
    let op = ev["operationName"]["value"].as_str().unwrap();
    AZURE_DEFAULT_OPERATIONS
        .iter()
        .any(|o| o.eq_ignore_ascii_case(op))
}

fn ids(events: &[OutEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.json()["eventDataId"].as_str().unwrap().to_string())
        .collect()
}

fn expected_ids(emu: &Shared) -> HashSet<String> {
    emu.lock()
        .unwrap()
        .azure_events
        .iter()
        .filter(|(_, e)| wanted(e))
        .map(|(_, e)| e["eventDataId"].as_str().unwrap().to_string())
        .collect()
}

fn load(emu: &Shared, seed: u64, n: usize, sub: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
    let evs = azure_backlog(seed, n, sub, TENANT, from, to);
    emu.lock()
        .unwrap()
        .azure_events
        .extend(evs.into_iter().map(|e| (sub.to_string(), e)));
}

fn run(emu: &Shared, cp: &str, stanza: &str, params: &[(String, String)]) -> RunOut {
    let base = emu.lock().unwrap().base_url.clone();
    let out = run_bin(
        &[],
        input_xml(&base, cp, stanza, &as_refs(params)).as_bytes(),
        &[],
    );
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("checkpoint", &dir_text(cp));
    out
}

fn assert_exactly_once(all: &[String], expected: &HashSet<String>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in all {
        *counts.entry(id).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
    let got: HashSet<String> = all.iter().cloned().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {} {:?}, extra {} {:?}",
        missing.len(),
        missing.iter().take(3).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(3).collect::<Vec<_>>()
    );
}

#[test]
fn pages_filters_and_writes_events_as_returned() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        11,
        700,
        SUB_A,
        now - Duration::hours(11),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        12,
        300,
        SUB_B,
        now - Duration::hours(11),
        now - Duration::minutes(1),
    );
    // Outside start_from: never requested.
    load(
        &emu,
        13,
        50,
        SUB_A,
        now - Duration::hours(30),
        now - Duration::hours(20),
    );
    emu.lock().unwrap().azure_page_size = 50;
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-paging");
    let mut params = azure_params(&base);
    params.retain(|(k, _)| k != "subscription_ids");
    params.push((
        "subscription_ids".into(),
        format!("{SUB_A}, {}", SUB_B.to_uppercase()),
    ));
    let out = run(&emu, &cp, "t1651_cloud_audit://paging", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let recent: HashSet<String> = emu
        .lock()
        .unwrap()
        .azure_events
        .iter()
        .filter(|(_, e)| {
            wanted(e)
                && e["eventTimestamp"].as_str().unwrap()
                    > (now - Duration::hours(12)).to_rfc3339().as_str()
        })
        .map(|(_, e)| e["eventDataId"].as_str().unwrap().to_string())
        .collect();
    assert!(
        recent.len() > 700,
        "fixture has T1651 events: {}",
        recent.len()
    );
    assert_exactly_once(&ids(&out.events), &recent);
    // Byte-for-byte as the API returned them, with _time from eventTimestamp.
    let by_id: BTreeMap<String, String> = emu
        .lock()
        .unwrap()
        .azure_events
        .iter()
        .map(|(_, e)| {
            (
                e["eventDataId"].as_str().unwrap().to_string(),
                e.to_string(),
            )
        })
        .collect();
    for ev in &out.events {
        let j = ev.json();
        assert_eq!(ev.data, by_id[j["eventDataId"].as_str().unwrap()]);
        assert_eq!(ev.sourcetype, "mscs:azure:audit");
        assert_eq!(ev.stanza, "t1651_cloud_audit://paging");
        let t = DateTime::parse_from_rfc3339(j["eventTimestamp"].as_str().unwrap()).unwrap();
        assert_eq!(
            ev.time.as_deref().unwrap(),
            format!("{}.{:03}", t.timestamp(), t.timestamp_subsec_millis())
        );
    }
    let log = &emu.lock().unwrap().log;
    assert!(
        log.iter().any(|r| r.target.contains("$skiptoken=")),
        "nextLink pages were followed"
    );
    assert!(
        !log.iter().any(|r| r.path() == "/subscriptions"),
        "explicit subscriptions: no listing"
    );
    let providers: HashSet<String> = log
        .iter()
        .filter_map(|r| r.query().get("$filter").cloned())
        .filter_map(|f| parse_filter(&f))
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(
        providers,
        [
            "Microsoft.Compute",
            "Microsoft.Automation",
            "Microsoft.HybridCompute"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    assert!(
        out.stderr
            .contains("INFO t1651_cloud_audit://paging: wrote"),
        "{}",
        out.stderr
    );
}

#[test]
fn lists_subscriptions_when_none_configured_and_honours_sourcetype_and_operations() {
    let emu = start();
    let now = Utc::now();
    emu.lock().unwrap().subscriptions = vec![SUB_A.into(), SUB_B.into()];
    load(
        &emu,
        21,
        200,
        SUB_A,
        now - Duration::hours(3),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        22,
        200,
        SUB_B,
        now - Duration::hours(3),
        now - Duration::minutes(1),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-allsubs");
    let mut params = azure_params(&base);
    params.retain(|(k, _)| k != "subscription_ids");
    params.push(("sourcetype".into(), "azure:audit:custom".into()));
    params.push((
        "operations".into(),
        "microsoft.compute/virtualmachines/runcommand/action".into(),
    ));
    let out = run(&emu, &cp, "t1651_cloud_audit://all", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let expected: HashSet<String> = emu
        .lock()
        .unwrap()
        .azure_events
        .iter()
        .filter(|(_, e)| {
            e["operationName"]["value"] == "Microsoft.Compute/virtualMachines/runCommand/action"
        })
        .map(|(_, e)| e["eventDataId"].as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty());
    assert_exactly_once(&ids(&out.events), &expected);
    assert!(out
        .events
        .iter()
        .all(|e| e.sourcetype == "azure:audit:custom"));
    let subs: HashSet<String> = out
        .events
        .iter()
        .map(|e| e.json()["subscriptionId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subs.len(), 2);
    assert!(emu
        .lock()
        .unwrap()
        .log
        .iter()
        .any(|r| r.path() == "/subscriptions"));
}

#[test]
fn restart_from_checkpoint_rereads_overlap_without_duplicates() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        31,
        400,
        SUB_A,
        now - Duration::hours(6),
        now - Duration::minutes(2),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-overlap");
    let params = azure_params(&base);
    let first = run(&emu, &cp, "t1651_cloud_audit://ov", &params);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let mut all = ids(&first.events);
    assert_exactly_once(&all, &expected_ids(&emu));
    let cp_files: Vec<_> = std::fs::read_dir(&cp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cp_files
            .iter()
            .any(|f| f.starts_with("t1651_") && f.ends_with(".json")),
        "{cp_files:?}"
    );
    let first_requests = emu.lock().unwrap().log.len();

    // Late arrivals stamped inside the overlap window before the first run's end, plus new events.
    let end1 = Utc::now();
    load(
        &emu,
        32,
        40,
        SUB_A,
        end1 - Duration::minutes(10),
        end1 - Duration::seconds(1),
    );
    // New events end a second before the next run starts: its window ends at a whole second.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    load(&emu, 33, 40, SUB_A, end1, Utc::now() - Duration::seconds(1));
    let second = run(&emu, &cp, "t1651_cloud_audit://ov", &params);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(second.stderr.contains("already sent"), "{}", second.stderr);
    all.extend(ids(&second.events));
    assert_exactly_once(&all, &expected_ids(&emu));
    assert!(
        second.events.len() < 100,
        "only the new and late events: {}",
        second.events.len()
    );

    // The second run started at done_until - 15m, not at start_from.
    let log = emu.lock().unwrap().log[first_requests..].to_vec();
    let earliest = log
        .iter()
        .filter_map(|r| r.query().get("$filter").cloned())
        .filter_map(|f| parse_filter(&f))
        .map(|(ge, _, _)| ge)
        .min()
        .unwrap();
    assert!(
        earliest > now - Duration::minutes(20) && earliest < end1 - Duration::minutes(14),
        "{earliest}"
    );

    // A third run with nothing new writes nothing.
    let third = run(&emu, &cp, "t1651_cloud_audit://ov", &params);
    assert_eq!(third.code, Some(0));
    assert!(third.events.is_empty());
}

#[test]
fn retry_after_and_server_error_storms() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        41,
        300,
        SUB_A,
        now - Duration::hours(2),
        now - Duration::minutes(1),
    );
    emu.lock().unwrap().azure_page_size = 60;
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-retry");
    let params = azure_params(&base);
    {
        let mut e = emu.lock().unwrap();
        e.faults.push_back(Fault::RetryAfter(1));
        for _ in 0..5 {
            e.faults.push_back(Fault::Status(500));
        }
        e.faults.push_back(Fault::Status(503));
    }
    let started = std::time::Instant::now();
    let out = run(&emu, &cp, "t1651_cloud_audit://retry", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert!(
        out.stderr.contains("WARN ")
            && out.stderr.contains("HTTP 429")
            && out.stderr.contains("in 1000 ms"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("HTTP 500"));
    let mut all = ids(&out.events);
    assert_exactly_once(&all, &expected_ids(&emu));

    // A storm longer than the retry budget: ERROR, exit 1, checkpoint unchanged, nothing lost later.
    let end1 = Utc::now();
    // New events end a second before the next run starts: its window ends at a whole second.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    load(
        &emu,
        42,
        200,
        SUB_A,
        end1,
        Utc::now() - Duration::seconds(1),
    );
    let cp_before = dir_text(&cp);
    {
        let mut e = emu.lock().unwrap();
        for _ in 0..100 {
            e.faults.push_back(Fault::Status(500));
        }
    }
    let stormy = run(&emu, &cp, "t1651_cloud_audit://retry", &params);
    assert_eq!(stormy.code, Some(1));
    assert!(
        stormy.stderr.contains("ERROR ") && stormy.stderr.contains("giving up after 8 attempts"),
        "{}",
        stormy.stderr
    );
    assert!(stormy.events.is_empty());
    assert_eq!(dir_text(&cp), cp_before, "checkpoint did not move");
    emu.lock().unwrap().faults.clear();
    let after = run(&emu, &cp, "t1651_cloud_audit://retry", &params);
    assert_eq!(after.code, Some(0), "{}", after.stderr);
    all.extend(ids(&after.events));
    assert_exactly_once(&all, &expected_ids(&emu));
}

#[test]
fn truncated_pages_are_retried_then_reported_without_moving_the_checkpoint() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        51,
        400,
        SUB_A,
        now - Duration::minutes(50),
        now - Duration::minutes(1),
    );
    emu.lock().unwrap().azure_page_size = 50;
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-trunc");
    let params = azure_params(&base);
    // One truncated response: fetched again, nothing lost.
    emu.lock().unwrap().faults.push_back(Fault::Truncate);
    let out = run(&emu, &cp, "t1651_cloud_audit://trunc", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("malformed page"), "{}", out.stderr);
    let mut all = ids(&out.events);
    assert_exactly_once(&all, &expected_ids(&emu));

    // The second page of new events is always truncated: ERROR, the first page is delivered,
    // the checkpoint does not move past the slice; once fixed, the rest arrives once.
    let end1 = Utc::now();
    // New events end a second before the next run starts: its window ends at a whole second.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    load(
        &emu,
        52,
        200,
        SUB_A,
        end1,
        Utc::now() - Duration::seconds(1),
    );
    emu.lock().unwrap().truncate_offsets.insert(50);
    let broken = run(&emu, &cp, "t1651_cloud_audit://trunc", &params);
    assert_eq!(broken.code, Some(1));
    let err = broken
        .stderr
        .lines()
        .find(|l| l.starts_with("ERROR "))
        .expect("ERROR line");
    assert!(
        err.contains("malformed response")
            && err.contains("page 2")
            && err.contains("checkpoint stays at"),
        "{err}"
    );
    assert!(
        !broken.events.is_empty(),
        "page 1 of the slice was delivered"
    );
    all.extend(ids(&broken.events));
    emu.lock().unwrap().truncate_offsets.clear();
    let fixed = run(&emu, &cp, "t1651_cloud_audit://trunc", &params);
    assert_eq!(fixed.code, Some(0), "{}", fixed.stderr);
    assert!(!fixed.events.is_empty());
    all.extend(ids(&fixed.events));
    assert_exactly_once(&all, &expected_ids(&emu));
}

#[test]
fn expired_token_is_refreshed_mid_run() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        61,
        600,
        SUB_A,
        now - Duration::hours(3),
        now - Duration::minutes(1),
    );
    {
        let mut e = emu.lock().unwrap();
        e.azure_page_size = 40;
        e.token_uses = Some(3);
    }
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-token");
    let out = run(&emu, &cp, "t1651_cloud_audit://tok", &azure_params(&base));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        emu.lock().unwrap().tokens_issued >= 3,
        "tokens: {}",
        emu.lock().unwrap().tokens_issued
    );
    assert!(out.stderr.contains("getting a new one"), "{}", out.stderr);
    assert_exactly_once(&ids(&out.events), &expected_ids(&emu));
    assert!(
        !out.stderr.contains("eyJ0eXAi"),
        "access tokens never logged"
    );
}

#[test]
fn forbidden_subscription_is_reported_and_others_still_collected() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        71,
        100,
        SUB_A,
        now - Duration::hours(1),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        72,
        100,
        SUB_B,
        now - Duration::hours(1),
        now - Duration::minutes(1),
    );
    emu.lock().unwrap().forbidden_subs.insert(SUB_B.to_string());
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-forbidden");
    let mut params = azure_params(&base);
    params.retain(|(k, _)| k != "subscription_ids");
    params.push(("subscription_ids".into(), format!("{SUB_A},{SUB_B}")));
    let out = run(&emu, &cp, "t1651_cloud_audit://forbidden", &params);
    assert_eq!(out.code, Some(1));
    let expected: HashSet<String> = emu
        .lock()
        .unwrap()
        .azure_events
        .iter()
        .filter(|(s, e)| s == SUB_A && wanted(e))
        .map(|(_, e)| e["eventDataId"].as_str().unwrap().to_string())
        .collect();
    assert_exactly_once(&ids(&out.events), &expected);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ERROR "))
        .collect();
    assert_eq!(
        errors.len(),
        3,
        "one per provider of the forbidden subscription: {}",
        out.stderr
    );
    assert!(
        errors
            .iter()
            .all(|l| l.contains(SUB_B) && l.contains("access denied") && l.contains("Reader role")),
        "{errors:?}"
    );
}

#[test]
fn next_link_to_another_host_is_not_followed() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        81,
        300,
        SUB_A,
        now - Duration::minutes(30),
        now - Duration::minutes(1),
    );
    {
        let mut e = emu.lock().unwrap();
        e.azure_page_size = 50;
        e.next_link_origin = Some("http://127.0.0.2:9".into());
    }
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-foreign-link");
    let out = run(
        &emu,
        &cp,
        "t1651_cloud_audit://foreign",
        &azure_params(&base),
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("ERROR ") && l.contains("not following it")),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("eyJ0eXAi"),
        "the token never went anywhere else"
    );
}

#[test]
fn timed_out_requests_are_retried() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        91,
        100,
        SUB_A,
        now - Duration::minutes(30),
        now - Duration::minutes(1),
    );
    emu.lock()
        .unwrap()
        .faults
        .push_back(Fault::Hang(std::time::Duration::from_millis(1500)));
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("az-timeout");
    let xml = input_xml(
        &base,
        &cp,
        "t1651_cloud_audit://timeout",
        &as_refs(&azure_params(&base)),
    );
    let out = run_bin(&[], xml.as_bytes(), &[("T1651_MODINPUT_TIMEOUT_MS", "400")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("WARN ") && out.stderr.contains("timed out"),
        "{}",
        out.stderr
    );
    assert_exactly_once(&ids(&out.events), &expected_ids(&emu));
}
