//! AWS CloudTrail LookupEvents collection against the loopback emulators (SigV4 verified).

mod modinput_support;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use modinput_support::fixtures::aws_backlog;
use modinput_support::*;
use serde_json::Value;

fn load(emu: &Shared, seed: u64, n: usize, region: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
    let evs = aws_backlog(seed, n, region, from, to);
    emu.lock()
        .unwrap()
        .aws_events
        .extend(evs.into_iter().map(|e| (region.to_string(), e)));
}

fn ids(events: &[OutEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.json()["eventID"].as_str().unwrap().to_string())
        .collect()
}

fn expected(emu: &Shared, regions: &[&str], since: DateTime<Utc>) -> HashSet<String> {
    emu.lock()
        .unwrap()
        .aws_events
        .iter()
        .filter(|(r, e)| {
            regions.contains(&r.as_str())
                && DateTime::parse_from_rfc3339(e["eventTime"].as_str().unwrap()).unwrap() >= since
        })
        .map(|(_, e)| e["eventID"].as_str().unwrap().to_string())
        .collect()
}

fn assert_exactly_once(all: &[String], expected: &HashSet<String>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in all {
        *counts.entry(id).or_default() += 1;
    }
    assert!(counts.values().all(|n| *n == 1), "duplicates");
    let got: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "missing {:?}",
        expected.difference(&got).take(3).collect::<Vec<_>>()
    );
    assert_eq!(&got, expected);
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

#[test]
fn lookup_events_per_region_and_event_name_with_paging() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        1,
        400,
        "us-east-1",
        now - Duration::minutes(50),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        2,
        150,
        "eu-west-1",
        now - Duration::hours(10),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        3,
        50,
        "ap-south-1",
        now - Duration::hours(10),
        now - Duration::minutes(1),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("aws-paging");
    let out = run(&emu, &cp, "t1651_cloud_audit://aws", &aws_params(&base));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_exactly_once(
        &ids(&out.events),
        &expected(&emu, &["us-east-1", "eu-west-1"], now - Duration::hours(12)),
    );
    let records: BTreeMap<String, Value> = emu
        .lock()
        .unwrap()
        .aws_events
        .iter()
        .map(|(_, e)| (e["eventID"].as_str().unwrap().to_string(), e.clone()))
        .collect();
    for ev in &out.events {
        let j = ev.json();
        // The inner CloudTrailEvent string is the event, as returned.
        assert_eq!(ev.data, records[j["eventID"].as_str().unwrap()].to_string());
        assert_eq!(ev.sourcetype, "aws:cloudtrail");
        let t = DateTime::parse_from_rfc3339(j["eventTime"].as_str().unwrap()).unwrap();
        assert_eq!(
            ev.time.as_deref().unwrap(),
            format!("{}.000", t.timestamp())
        );
    }
    let log = emu.lock().unwrap().log.clone();
    let calls: Vec<Value> = log
        .iter()
        .filter(|r| r.header("x-amz-target").is_some())
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(
        calls.iter().any(|c| c["NextToken"].is_string()),
        "NextToken paging used"
    );
    let names: HashSet<String> = calls
        .iter()
        .map(|c| {
            c["LookupAttributes"][0]["AttributeValue"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        t1651::detect::operations::AWS_DEFAULT_EVENT_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert!(log.iter().all(|r| r.header("x-amz-target").is_none()
        || r.header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")));
    assert_eq!(emu.lock().unwrap().sts_calls, 0);

    // A second run re-reads the 15-minute overlap and writes nothing: events at every second
    // around the overlap boundary must all be remembered (no off-by-a-fraction re-read).
    let again = run(&emu, &cp, "t1651_cloud_audit://aws", &aws_params(&base));
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        again.events.is_empty(),
        "re-sent {} events",
        again.events.len()
    );
    assert!(again.stderr.contains("already sent"));
}

#[test]
fn overlap_boundary_seconds_are_not_resent() {
    let emu = start();
    let now = Utc::now();
    // One SendCommand every second from 17 to 13 minutes ago: the overlap boundary of the
    // second run falls in the middle of them, whatever the sub-second start time.
    let mut rng = modinput_support::fixtures::Rng::new(9);
    for s in (13 * 60)..(17 * 60) {
        let spec = modinput_support::fixtures::CloudTrailSpec {
            event_id: rng.guid(),
            time: now - Duration::seconds(s),
            event_name: "SendCommand".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            user: "alice".into(),
            instance_id: "i-0123456789abcdef0".into(),
            source_ip: "203.0.113.7".into(),
            request_id: rng.guid(),
            command_id: rng.guid(),
        };
        let rec = modinput_support::fixtures::cloudtrail_event(&spec);
        emu.lock()
            .unwrap()
            .aws_events
            .push(("us-east-1".into(), rec));
    }
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("aws-boundary");
    let mut params = aws_params(&base);
    params.retain(|(k, _)| k != "regions" && k != "operations");
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("operations".into(), "SendCommand".into()));
    let first = run(&emu, &cp, "t1651_cloud_audit://b", &params);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert_eq!(first.events.len(), 240);
    // Move the run's start (and so the boundary) by a fraction of a second, twice.
    for pause in [370, 810] {
        std::thread::sleep(std::time::Duration::from_millis(pause));
        let again = run(&emu, &cp, "t1651_cloud_audit://b", &params);
        assert_eq!(again.code, Some(0), "{}", again.stderr);
        assert!(
            again.events.is_empty(),
            "re-sent {} events",
            again.events.len()
        );
    }
}

#[test]
fn assume_role_and_refresh_on_expired_session() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        4,
        300,
        "us-east-1",
        now - Duration::hours(5),
        now - Duration::minutes(1),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("aws-role");
    let mut params = aws_params(&base);
    params.retain(|(k, _)| k != "regions");
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("role_arn".into(), ROLE_ARN.into()));
    // The 5th LookupEvents call finds the session expired.
    {
        let mut e = emu.lock().unwrap();
        for _ in 0..4 {
            e.faults.push_back(Fault::Pass);
        }
        e.faults.push_back(Fault::Expire);
    }
    let out = run(&emu, &cp, "t1651_cloud_audit://role", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_exactly_once(
        &ids(&out.events),
        &expected(&emu, &["us-east-1"], now - Duration::hours(12)),
    );
    assert_eq!(
        emu.lock().unwrap().sts_calls,
        2,
        "assumed once, then again after expiry"
    );
    assert!(
        out.stderr
            .contains("ExpiredTokenException; assuming the role again"),
        "{}",
        out.stderr
    );
    let log = emu.lock().unwrap().log.clone();
    assert!(log
        .iter()
        .filter(|r| r.header("x-amz-target").is_some())
        .all(|r| r.header("x-amz-security-token").is_some()));
}

#[test]
fn throttling_and_truncated_pages() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        5,
        200,
        "us-east-1",
        now - Duration::hours(1),
        now - Duration::minutes(1),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("aws-throttle");
    let mut params = aws_params(&base);
    params.retain(|(k, _)| k != "regions" && k != "operations");
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("operations".into(), "SendCommand".into()));
    {
        let mut e = emu.lock().unwrap();
        e.faults.push_back(Fault::RetryAfter(1));
        e.faults.push_back(Fault::Status(500));
        e.faults.push_back(Fault::Truncate);
    }
    let out = run(&emu, &cp, "t1651_cloud_audit://thr", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("ThrottlingException") && out.stderr.contains("malformed page"),
        "{}",
        out.stderr
    );
    let sendcommand = |emu: &Shared| -> HashSet<String> {
        emu.lock()
            .unwrap()
            .aws_events
            .iter()
            .filter(|(_, e)| e["eventName"] == "SendCommand")
            .map(|(_, e)| e["eventID"].as_str().unwrap().to_string())
            .collect()
    };
    let mut all = ids(&out.events);
    assert_exactly_once(&all, &sendcommand(&emu));

    let end1 = Utc::now();
    // New events end a second before the next run starts: its window ends at a whole second.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    load(
        &emu,
        6,
        400,
        "us-east-1",
        end1,
        Utc::now() - Duration::seconds(1),
    );
    emu.lock().unwrap().truncate_offsets.insert(50);
    let broken = run(&emu, &cp, "t1651_cloud_audit://thr", &params);
    assert_eq!(broken.code, Some(1));
    assert!(
        broken
            .stderr
            .lines()
            .any(|l| l.starts_with("ERROR ") && l.contains("malformed response")),
        "{}",
        broken.stderr
    );
    all.extend(ids(&broken.events));
    emu.lock().unwrap().truncate_offsets.clear();
    let fixed = run(&emu, &cp, "t1651_cloud_audit://thr", &params);
    assert_eq!(fixed.code, Some(0), "{}", fixed.stderr);
    all.extend(ids(&fixed.events));
    assert_exactly_once(&all, &sendcommand(&emu));
}

#[test]
fn wrong_secret_key_fails_signature_check_without_leaking() {
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    emu.lock().unwrap().passwords[2].3 = "not-the-right-secret-key-0000".into();
    let cp = checkpoint_dir("aws-badsig");
    let out = run(&emu, &cp, "t1651_cloud_audit://bad", &aws_params(&base));
    assert_eq!(out.code, Some(1));
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ERROR "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "credential failures stop the stanza at once: {}",
        out.stderr
    );
    assert!(
        errors[0].contains("InvalidSignatureException")
            && errors[0].contains("authentication failed"),
        "{}",
        errors[0]
    );
    assert!(!out.stderr.contains("not-the-right-secret-key"));
}

#[test]
fn lookup_calls_are_paced_per_region() {
    let emu = start();
    let now = Utc::now();
    load(
        &emu,
        7,
        600,
        "us-east-1",
        now - Duration::minutes(50),
        now - Duration::minutes(1),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("aws-pacing");
    let mut params = aws_params(&base);
    params.retain(|(k, _)| k != "regions" && k != "operations");
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("operations".into(), "SendCommand".into()));
    let xml = input_xml(&base, &cp, "t1651_cloud_audit://pace", &as_refs(&params));
    let out = run_bin(
        &[],
        xml.as_bytes(),
        &[("T1651_MODINPUT_AWS_PACING_MS", "200")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let calls = emu
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|r| r.header("x-amz-target").is_some())
        .count();
    assert!(calls >= 3, "{calls} calls");
    assert!(
        out.elapsed >= std::time::Duration::from_millis(200 * (calls as u64 - 1)),
        "{calls} calls in {:?}",
        out.elapsed
    );
}
