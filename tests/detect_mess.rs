//! Findings that survive real-world mess (engine level, both normaliser doors): records cut by
//! Splunk's TRUNCATE at every byte offset, double ingestion, AWS services acting on their
//! own, fleet-wide selectors, non-address source IPs, and one semantics for both doors.

mod detect_support;

use detect_support::*;
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use t1651::detect::engine::{Disposition, Engine, Finished};
use t1651::detect::fields::FieldMap;
use t1651::detect::normalize::{
    normalize_fields, normalize_json, CallerType, Normalized, SkipReason,
};
use t1651::detect::options::Options;

/// Group key → (invocation_count, failed_count), and group key → targeted VMs.
type Accounting = BTreeMap<String, (String, String)>;

fn key(r: &t1651::detect::row::OutputRow) -> String {
    format!(
        "{}|{}|{}|{}",
        col(r, "caller_identity"),
        col(r, "subscription_id"),
        col(r, "resource_group"),
        col(r, "operation_lower")
    )
}

fn accounting(done: &Finished) -> Accounting {
    done.rows
        .iter()
        .map(|r| {
            (
                key(r),
                (
                    col(r, "invocation_count").to_owned(),
                    col(r, "failed_count").to_owned(),
                ),
            )
        })
        .collect()
}

fn vms(done: &Finished) -> BTreeSet<String> {
    done.rows
        .iter()
        .flat_map(|r| multi(r, "targeted_vms"))
        .collect()
}

fn raw_fields(raw: &str) -> FieldMap {
    let mut f = FieldMap::new();
    f.set("_raw", raw).set("_time", "1714557600");
    f
}

fn run_raw(records: &[String]) -> Finished {
    let mut e = Engine::new(Options::default());
    for r in records {
        e.ingest_fields(&raw_fields(r));
    }
    e.finish()
}

/// Alice (REST shape) and Bob (Event Hub shape) each run one Run Command (three lifecycle
/// rows each), a failed SendCommand and a successful one to three instances.
fn scenario() -> Vec<String> {
    let mut out = Vec::new();
    for (status, secs) in [("Started", 0), ("Accepted", 1), ("Succeeded", 9)] {
        let t = format!("2024-05-01T10:00:0{secs}Z");
        let mut a =
            Activity::run_command("vm-a", status, "aaaaaaaa-0000-4000-8000-000000000001", &t);
        // Many claims: a long record, as for a user in many groups.
        a.extra_claims = (0..40)
            .map(|i| {
                (
                    format!("groups{i}"),
                    format!("g-{i:04}-0000-4000-8000-000000000000"),
                )
            })
            .collect();
        out.push(a.rest());
        let mut b =
            Activity::run_command("vm-b", status, "bbbbbbbb-0000-4000-8000-000000000002", &t);
        b.upn = Some("bob@contoso.com".into());
        out.push(b.eventhub());
    }
    out.push(cloudtrail(
        "SendCommand",
        iam_user("build"),
        json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-01", "i-02", "i-03"]}),
        json!({}),
    ));
    out.push(cloudtrail(
        "SendCommand",
        assumed_role("Ops", "carol"),
        json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-04"]}),
        json!({"errorCode": "AccessDenied", "responseElements": null}),
    ));
    out
}

/// Every byte offset of every record: the cut record is either used whole or skipped as
/// `truncated`; no group gains or loses an invocation otherwise, no group appears that
/// the full data does not have, and no cut VM name is ever reported.
#[test]
fn a_record_cut_at_any_offset_never_changes_another_groups_count() {
    let records = scenario();
    let full = run_raw(&records);
    let full_acc = accounting(&full);
    let full_vms = vms(&full);
    assert_eq!(full_acc.len(), 3, "{full_acc:?}"); // the failed-only group has no row
    for (i, target) in records.iter().enumerate() {
        let mut without = records.clone();
        without.remove(i);
        let without_acc = accounting(&run_raw(&without));
        let mut last_skip = None;
        for cut in 1..target.len() {
            if !target.is_char_boundary(cut) {
                continue;
            }
            let mut set = records.clone();
            set[i] = target[..cut].to_owned();
            let done = run_raw(&set);
            let acc = accounting(&done);
            assert!(
                acc == full_acc || acc == without_acc,
                "record {i} cut at {cut}: {acc:?}\nfull {full_acc:?}\nwithout {without_acc:?}\n{}",
                &target[..cut]
            );
            assert!(vms(&done).is_subset(&full_vms), "record {i} cut at {cut}");
            last_skip = Some(done.stats.skipped[SkipReason::Truncated.index()]);
            // A cut record is never `broken_json`.
            assert_eq!(done.stats.skipped[SkipReason::BrokenJson.index()], 0);
        }
        // Cut just before the closing brace, some records are still skipped (the last key
        // may be essential) and some are used: either way, counted.
        assert!(last_skip.is_some());
    }
}

/// The issue's reproducer: a REST record cut inside `caller` used to fall back to a lower
/// identity and steal the invocation from the real caller's group.
#[test]
fn cut_caller_is_skipped_not_replaced() {
    let records = scenario();
    let full_acc = accounting(&run_raw(&records));
    let rest_succeeded = &records[4];
    let at = rest_succeeded.find("\"caller\":\"").unwrap() + 12;
    let mut set = records.clone();
    set[4] = rest_succeeded[..at].to_owned();
    let done = run_raw(&set);
    assert_eq!(accounting(&done), full_acc);
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect skipped 1 event: 1 truncated")
    );
}

/// Columns Splunk extracted are whole values: beside a cut `_raw` they win, so the answer
/// is the full answer at every offset.
#[test]
fn extracted_columns_win_over_a_cut_raw() {
    let a = Activity::run_command(
        "vm-a",
        "Succeeded",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "2024-05-01T10:00:09Z",
    );
    let raw = a.rest();
    let full = run_raw(std::slice::from_ref(&raw));
    for cut in (1..raw.len()).step_by(7) {
        let mut f = a.mscs_flattened();
        f.set("_raw", &raw[..cut]).set("_time", "1714557609");
        let mut e = Engine::new(Options::default());
        assert_eq!(e.ingest_fields(&f), Disposition::Accepted, "cut at {cut}");
        let done = e.finish();
        assert_eq!(accounting(&done), accounting(&full), "cut at {cut}");
        assert_eq!(col(&done.rows[0], "caller_identity"), "alice@contoso.com");
    }
}

#[test]
fn the_same_cloudtrail_record_twice_counts_once() {
    let ok = cloudtrail(
        "SendCommand",
        iam_user("build"),
        json!({"instanceIds": ["i-01"]}),
        json!({}),
    );
    let failed = cloudtrail(
        "SendCommand",
        iam_user("build"),
        json!({"instanceIds": ["i-02"]}),
        json!({"errorCode": "AccessDenied"}),
    );
    let records = [ok.clone(), failed.clone(), ok, failed];
    let done = run(opts(&[("include_failed", "true")]), &records);
    assert_eq!(done.rows.len(), 1);
    assert_eq!(col(&done.rows[0], "invocation_count"), "2");
    assert_eq!(col(&done.rows[0], "failed_count"), "1");
    assert_eq!(done.stats.duplicates, 2);
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect 2 duplicate events ignored (same eventID, or same Activity Log record)")
    );
    let mut e = Engine::new(Options::default());
    assert_eq!(
        e.ingest_json(records[0].as_bytes(), None),
        Disposition::Accepted
    );
    assert_eq!(
        e.ingest_json(records[0].as_bytes(), None),
        Disposition::Duplicate
    );
}

/// A REST copy and an Event Hub copy of one Activity Log entry are one record; a row without
/// correlationId has no identity and is never taken for a copy.
#[test]
fn activity_log_copies_across_shapes_count_once() {
    let a = Activity::run_command(
        "vm-a",
        "Succeeded",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "2024-05-01T10:00:09.1234567Z",
    );
    let done = run(Options::default(), &[a.rest(), a.eventhub(), a.rest()]);
    assert_eq!(done.stats.duplicates, 2);
    assert_eq!(col(&done.rows[0], "invocation_count"), "1");
    let mut b = a.clone();
    b.corr = None;
    let done = run(Options::default(), &[b.rest(), b.rest()]);
    assert_eq!(done.stats.duplicates, 0);
    assert_eq!(col(&done.rows[0], "invocation_count"), "2");
}

#[test]
fn event_id_memory_is_bounded_and_reported() {
    let recs: Vec<String> = (0..5)
        .map(|i| {
            cloudtrail(
                "SendCommand",
                iam_user("u"),
                json!({"instanceIds": [format!("i-{i}")]}),
                json!({}),
            )
        })
        .collect();
    let mut twice = recs.clone();
    twice.extend(recs.iter().cloned());
    let done = run(opts(&[("max_event_ids", "3")]), &twice);
    // Three ids remembered: their copies are caught; the other two and their copies are not.
    assert_eq!(done.stats.duplicates, 3);
    assert_eq!(done.stats.unchecked_for_duplicates, 4);
    let w = done.warning.unwrap();
    assert!(
        w.contains("max_event_ids=3 reached: 4 further events not checked for duplicates (raise it with max_event_ids=<n>)"),
        "{w}"
    );
}

#[test]
fn aws_services_acting_on_their_own_are_aws_service() {
    let o = Options::default();
    let ev = |raw: &str| match normalize_json(raw.as_bytes(), None, &o) {
        Normalized::Event(e) => e.caller_type,
        other => panic!("{other:?}"),
    };
    // State Manager running an association through its service-linked role.
    let mut linked = assumed_role("AWSServiceRoleForAmazonSSM", "StateManagerService");
    linked["sessionContext"]["sessionIssuer"]["arn"] = json!(
        "arn:aws:iam::111122223333:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"
    );
    let raw = cloudtrail(
        "SendCommand",
        linked,
        json!({"instanceIds": ["i-1"]}),
        json!({"sourceIPAddress": "ssm.amazonaws.com"}),
    );
    assert_eq!(ev(&raw), CallerType::AwsService);
    let done = run(Options::default(), &[raw]);
    let r = &done.rows[0];
    assert_eq!(
        col(r, "caller_identity"),
        "arn:aws:iam::111122223333:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"
    );
    assert_eq!(col(r, "caller_type"), "aws_service");
    assert_eq!(multi(r, "invoked_by"), ["ssm.amazonaws.com"]);
    assert_eq!(multi(r, "caller_session"), ["StateManagerService"]);
    assert!(multi(r, "source_ips").is_empty());
    // A role used by a service on the caller's behalf (`invokedBy`).
    let mut via = assumed_role("Ops", "s1");
    via["invokedBy"] = json!("ssm.amazonaws.com");
    let raw = cloudtrail(
        "SendCommand",
        via,
        json!({"instanceIds": ["i-1"]}),
        json!({}),
    );
    assert_eq!(ev(&raw), CallerType::AwsService);
    // A human's assumed role stays assumed_role.
    let raw = cloudtrail(
        "SendCommand",
        assumed_role("Ops", "s1"),
        json!({"instanceIds": ["i-1"]}),
        json!({}),
    );
    assert_eq!(ev(&raw), CallerType::AssumedRole);
}

#[test]
fn selectors_are_findings_not_vms() {
    let p = |params| cloudtrail("SendCommand", iam_user("u"), params, json!({}));
    let cases = [
        (p(json!({"instanceIds": ["*"]})), "InstanceIds=*"),
        (
            p(json!({"targets": [{"key": "InstanceIds", "values": ["*"]}]})),
            "InstanceIds=*",
        ),
        (
            p(json!({"targets": [{"key": "tag:Env", "values": ["prod"]}]})),
            "tag:Env=prod",
        ),
        (
            p(json!({"targets": [{"key": "resource-groups:Name", "values": ["web"]}]})),
            "resource-groups:Name=web",
        ),
    ];
    for (raw, sel) in cases {
        for o in [Options::default(), opts(&[("mode", "events")])] {
            let events = o.mode == t1651::detect::options::Mode::Events;
            let mut e = Engine::new(o);
            if events {
                let row = e.event_row_json(raw.as_bytes(), None).unwrap();
                assert_eq!(multi(&row, "target_selectors"), [sel]);
                assert!(multi(&row, "targeted_vms").is_empty());
                continue;
            }
            e.ingest_json(raw.as_bytes(), None);
            let done = e.finish();
            let r = &done.rows[0];
            assert_eq!(multi(r, "target_selectors"), [sel], "{raw}");
            assert_eq!(col(r, "vm_count"), "0");
            assert_eq!(col(r, "multi_vm_targeting"), "TRUE");
            assert!(multi(r, "dest").is_empty());
        }
    }
    // An extension written on a whole scale set reaches every instance.
    let mut a = Activity::run_command(
        "x",
        "Succeeded",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "2024-05-01T10:00:09Z",
    );
    a.op = "Microsoft.Compute/virtualMachineScaleSets/extensions/write".into();
    a.resource_id = format!(
        "/subscriptions/{SUB}/resourceGroups/RG-Prod/providers/Microsoft.Compute/virtualMachineScaleSets/Web-SS/extensions/CSE"
    );
    let done = run(Options::default(), &[a.rest(), a.eventhub()]);
    let r = &done.rows[0];
    assert_eq!(multi(r, "target_selectors"), ["scaleset=web-ss"]);
    assert_eq!(col(r, "vm_count"), "0");
    assert_eq!(col(r, "multi_vm_targeting"), "TRUE");
}

#[test]
fn source_ips_hold_addresses_only() {
    let o = Options::default();
    let src = |ip: &str| {
        let raw = cloudtrail(
            "SendCommand",
            iam_user("u"),
            json!({"instanceIds": ["i-1"]}),
            json!({"sourceIPAddress": ip}),
        );
        match normalize_json(raw.as_bytes(), None, &o) {
            Normalized::Event(e) => e.src.map(|s| s.into_owned()),
            other => panic!("{other:?}"),
        }
    };
    for bad in [
        "ssm.amazonaws.com",
        "<Redacted>",
        "AWS Internal",
        "inspector2.amazonaws.com",
        "",
        "1.2.3",
        "300.1.1.1",
    ] {
        assert_eq!(src(bad), None, "{bad}");
    }
    assert_eq!(src("198.51.100.7").as_deref(), Some("198.51.100.7"));
    assert_eq!(src(" 2001:db8::1 ").as_deref(), Some("2001:db8::1"));
    assert_eq!(src("198.51.100.7:443").as_deref(), Some("198.51.100.7"));
    assert_eq!(src("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
    // Azure: a non-address callerIpAddress falls back to the next address field.
    let mut a = Activity::run_command("vm", "Succeeded", "c", "2024-05-01T10:00:00Z");
    a.ip = Some("<Redacted>".into());
    let mut raw: serde_json::Value = serde_json::from_str(&a.eventhub()).unwrap();
    raw["identity"]["claims"]["ipaddr"] = json!("203.0.113.9");
    match normalize_json(raw.to_string().as_bytes(), None, &o) {
        Normalized::Event(e) => assert_eq!(e.src.as_deref(), Some("203.0.113.9")),
        other => panic!("{other:?}"),
    }
}

/// Both doors give the same disposition and event for the same `_raw`, including the former
/// divergences: broken JSON after a usable prefix, and a complete record followed by junk.
#[test]
fn both_doors_agree_on_broken_and_trailing_junk() {
    let o = Options::default();
    let full = Activity::run_command("vm", "Succeeded", "c", "2024-05-01T10:00:00Z").eventhub();
    for raw in [
        r#"{"operationName":7""#.to_owned(),
        format!("{full} trailing junk"),
        format!("{full}}}"),
        full.replace("\"level\"", "@\"level\""),
    ] {
        let a = normalize_json(raw.as_bytes(), Some("1714557600"), &o);
        let f = raw_fields(&raw);
        let b = normalize_fields(&f, &o);
        assert_eq!(a, Normalized::Skip(SkipReason::BrokenJson), "{raw}");
        assert_eq!(a, b, "{raw}");
    }
}

const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "7",
    "x",
    " ",
    "\"operationName\"",
    "\"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION\"",
    "\"resultType\"",
    "\"Success\"",
    "\"correlationId\"",
    "\"c1\"",
    "\"caller\"",
    "\"a@b.c\"",
    "\"identity\"",
    "\"claims\"",
    "\"upn\"",
    "\"resourceId\"",
    "\"/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/v\"",
    "\"eventSource\"",
    "\"ssm.amazonaws.com\"",
    "\"eventName\"",
    "\"SendCommand\"",
    "\"userIdentity\"",
    "\"type\"",
    "\"IAMUser\"",
    "\"recipientAccountId\"",
    "\"1\"",
    "\"eventID\"",
    "\"time\"",
    "\"2024-05-01T10:00:00Z\"",
    // Google Cloud (issue 18)
    "\"protoPayload\"",
    "\"methodName\"",
    "\"v1.compute.instances.setMetadata\"",
    "\"authenticationInfo\"",
    "\"principalEmail\"",
    "\"metadata\"",
    "\"instanceMetadataDelta\"",
    "\"addedMetadataKeys\"",
    "\"startup-script\"",
    "\"operation\"",
    "\"id\"",
    "\"logName\"",
    "\"projects/p/logs/x\"",
    "\"receiveTimestamp\"",
    "\"timestamp\"",
    "\"data\"",
    "\"eyJwcm90b1BheWxvYWQiOnsibWV0aG9kTmFtZSI6InYxLmNvbXB1dGUuaW5zdGFuY2VzLnNldE1ldGFkYXRhIn19\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The differential property of the two doors, broken JSON included.
    #[test]
    fn doors_agree(parts in proptest::collection::vec(proptest::sample::select(JSON), 0..40), time in any::<bool>()) {
        let raw = parts.concat();
        let t = time.then_some("1714557600");
        let o = Options::default();
        let mut f = FieldMap::new();
        f.set("_raw", raw.as_str());
        if let Some(t) = t {
            f.set("_time", t);
        }
        prop_assert_eq!(normalize_json(raw.as_bytes(), t, &o), normalize_fields(&f, &o));
    }
}
