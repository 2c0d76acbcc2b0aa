//! Concurrent collection (issue 13, "Scale"): sources are collected `workers` at a time, the
//! LookupEvents rate per region holds across workers, and concurrency changes nothing about
//! exactly-once delivery. Timing figures live in bench/README.md (benches/modinput_scale.rs).

mod modinput_support;

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use modinput_support::fixtures::{aws_backlog, azure_backlog};
use modinput_support::*;

const RUN_COMMAND: &str = "Microsoft.Compute/virtualMachines/runCommand/action";

fn guid(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-{i:012x}")
}

#[test]
fn subscriptions_are_collected_concurrently_within_the_worker_bound() {
    let emu = start();
    let now = Utc::now();
    let subs: Vec<String> = (1..=24).map(guid).collect();
    {
        let mut e = emu.lock().unwrap();
        for (i, sub) in subs.iter().enumerate() {
            for ev in azure_backlog(
                100 + i as u64,
                20,
                sub,
                TENANT,
                now - Duration::hours(1),
                now - Duration::minutes(1),
            ) {
                e.azure_events.push((sub.clone(), ev));
            }
        }
        e.subscriptions = subs.clone();
        e.latency = StdDuration::from_millis(150);
    }
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = azure_params(&base);
    // Every subscription the principal can list, one resource provider each.
    params.retain(|(k, _)| k != "subscription_ids");
    params.push(("operations".into(), RUN_COMMAND.into()));
    params.push(("workers".into(), "4".into()));
    params.push(("start_from".into(), "-2h".into()));
    let cp = checkpoint_dir("scale-workers");
    let out = run_bin(
        &[],
        input_xml(&base, &cp, "t1651_cloud_audit://w", &as_refs(&params)).as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_no_secret("stderr", &out.stderr);
    let e = emu.lock().unwrap();
    assert!(
        (2..=4).contains(&e.max_in_flight),
        "at most `workers` requests at once, and more than one: {}",
        e.max_in_flight
    );
    // 24 sources x 2 slices x 150 ms = 7.2 s one at a time.
    assert!(
        out.elapsed < StdDuration::from_millis(24 * 2 * 150),
        "{:?}",
        out.elapsed
    );
    let expected: HashSet<String> = e
        .azure_events
        .iter()
        .filter(|(_, ev)| {
            ev["operationName"]["value"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(RUN_COMMAND)
        })
        .map(|(_, ev)| ev["eventDataId"].as_str().unwrap().to_string())
        .collect();
    let got: Vec<String> = out
        .events
        .iter()
        .map(|ev| ev.json()["eventDataId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), expected.len(), "no duplicates");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
}

#[test]
fn lookup_events_pacing_holds_across_workers() {
    let emu = start();
    let now = Utc::now();
    for ev in aws_backlog(
        7,
        400,
        "us-east-1",
        now - Duration::minutes(50),
        now - Duration::minutes(1),
    ) {
        emu.lock()
            .unwrap()
            .aws_events
            .push(("us-east-1".into(), ev));
    }
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = aws_params(&base);
    params.retain(|(k, _)| k != "regions");
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("workers".into(), "8".into()));
    let cp = checkpoint_dir("scale-pacing");
    let out = run_bin(
        &[],
        input_xml(&base, &cp, "t1651_cloud_audit://p", &as_refs(&params)).as_bytes(),
        &[("T1651_MODINPUT_AWS_PACING_MS", "200")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 400);
    let mut times: Vec<std::time::Instant> = emu
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|r| r.header("x-amz-target").is_some())
        .map(|r| r.at)
        .collect();
    times.sort();
    assert!(times.len() >= 8, "{} calls", times.len());
    let span = *times.last().unwrap() - times[0];
    // Calls leave the input at least 200 ms apart; arrival jitter is allowed a little.
    assert!(
        span >= StdDuration::from_millis(200 * (times.len() as u64 - 1) - 100),
        "{} calls in {span:?}",
        times.len()
    );
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= StdDuration::from_millis(120),
            "{:?}",
            w[1] - w[0]
        );
    }
}

#[test]
fn azure_read_budget_headers_slow_the_input_down() {
    let emu = start();
    let now = Utc::now();
    for ev in azure_backlog(
        9,
        60,
        SUB_A,
        TENANT,
        now - Duration::minutes(50),
        now - Duration::minutes(1),
    ) {
        emu.lock()
            .unwrap()
            .azure_events
            .push((SUB_A.to_string(), ev));
    }
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = azure_params(&base);
    params.push(("operations".into(), RUN_COMMAND.into()));
    let run = |name: &str| {
        run_bin(
            &[],
            input_xml(
                &base,
                &checkpoint_dir(name),
                "t1651_cloud_audit://rl",
                &as_refs(&params),
            )
            .as_bytes(),
            &[],
        )
    };
    emu.lock().unwrap().azure_page_size = 5;
    let plenty = run("scale-rl-plenty");
    assert_eq!(plenty.code, Some(0), "{}", plenty.stderr);
    assert!(!plenty.stderr.contains("reads remaining"));
    let pages = emu.lock().unwrap().data_requests;
    assert!(pages >= 3, "{pages} pages");
    // 10 reads left: 1 s between requests.
    emu.lock().unwrap().ratelimit_remaining = Some(10);
    let low = run("scale-rl-low");
    assert_eq!(low.code, Some(0), "{}", low.stderr);
    assert_eq!(low.events.len(), plenty.events.len());
    assert_eq!(
        low.stderr.matches("reads remaining").count(),
        1,
        "one WARN per run: {}",
        low.stderr
    );
    assert!(
        low.elapsed >= StdDuration::from_millis(1000 * pages as u64),
        "{pages} pages in {:?}",
        low.elapsed
    );
}
