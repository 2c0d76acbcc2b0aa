//! Every log shape through the full protocol path (spawned binary, splunkd-style CSV
//! chunks): REST, Event Hub records, flattened fields without JSON `_raw`, CloudTrail
//! (IAM user, assumed role, tag targeting, failures), VMSS / extension / Arc / Automation
//! resource IDs, guest / service-principal / cross-tenant callers; invocation collapse;
//! the WARN for broken input; both finish styles and several chunk sizes.

mod command_fixtures;
mod command_support;
mod detect_support;
mod scp_emulator;

use command_fixtures::{azure, bad_events, mess_events, scenario, three, Shape};
use command_support::{chunks, get, one, session, Event, Finish, Record};
use detect_support::{Activity, PARTNER, SUB, TENANT};

fn find<'a>(rows: &'a [Record], caller: &str, op: &str) -> &'a Record {
    let hits: Vec<&Record> = rows
        .iter()
        .filter(|r| one(r, "caller_identity") == caller && one(r, "operation_lower") == op)
        .collect();
    assert_eq!(hits.len(), 1, "({caller}, {op}) in {rows:#?}");
    hits[0]
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn check_scenario(rows: &[Record]) {
    let alice = "alice@contoso.com"; // callers are compared and shown in lower case
    let r = find(
        rows,
        alice,
        "microsoft.compute/virtualmachines/runcommand/action",
    );
    assert_eq!(
        one(r, "invocation_count"),
        "4",
        "12 rows collapse to 4 invocations"
    );
    assert_eq!(
        get(r, "targeted_vms"),
        sv(&["vm-1", "vm-2", "vm-3", "vm-4"])
    );
    assert_eq!(
        (one(r, "vm_count"), one(r, "multi_vm_targeting")),
        ("4", "TRUE")
    );
    assert_eq!(one(r, "failed_count"), "1");
    assert_eq!(one(r, "resource_group").to_lowercase(), "rg-prod");
    assert_eq!(one(r, "subscription_id"), SUB);
    assert_eq!(get(r, "source_ips"), sv(&["203.0.113.7"]));
    assert_eq!(
        (
            one(r, "caller_type"),
            one(r, "cross_tenant"),
            one(r, "cloud")
        ),
        ("user", "FALSE", "azure")
    );
    assert_eq!(one(r, "caller_tenant"), TENANT);
    assert_eq!(one(r, "event_time"), "2026-03-14T02:10:00Z");
    assert_eq!(one(r, "first_seen"), "1773454200");
    assert_eq!(get(r, "correlation_ids").len(), 4);
    assert_eq!(
        (one(r, "user"), one(r, "vendor_product")),
        (alice, "Azure Activity Log")
    );
    let r = find(
        rows,
        alice,
        "microsoft.compute/virtualmachinescalesets/virtualmachines/runcommand/action",
    );
    assert_eq!(
        (get(r, "targeted_vms"), one(r, "invocation_count")),
        (&sv(&["vmss-web/3"])[..], "1")
    );
    let r = find(
        rows,
        alice,
        "microsoft.compute/virtualmachines/extensions/write",
    );
    assert_eq!(get(r, "targeted_vms"), sv(&["vm-9"]));
    let r = find(
        rows,
        alice,
        "microsoft.hybridcompute/machines/runcommands/write",
    );
    assert_eq!(
        (
            get(r, "targeted_vms"),
            one(r, "resource_group").to_lowercase().as_str()
        ),
        (&sv(&["arc-01"])[..], "rg-arc")
    );
    let r = find(
        rows,
        "ops.runbook@contoso.example",
        "microsoft.automation/automationaccounts/jobs/write",
    );
    assert_eq!((one(r, "invocation_count"), one(r, "vm_count")), ("1", "0"));
    assert_eq!(get(r, "targeted_resources"), sv(&["aa-ops"]));
    let r = find(
        rows,
        "ops@northwind.example",
        "microsoft.compute/virtualmachines/runcommand/action",
    );
    assert_eq!(
        (one(r, "caller_type"), one(r, "cross_tenant")),
        ("guest", "TRUE")
    );
    assert_eq!(get(r, "targeted_vms"), sv(&["vm-db-1"]));
    let r = find(
        rows,
        "eeee0000-1111-4222-8333-000000000005",
        "microsoft.compute/virtualmachines/runcommand/action",
    );
    assert_eq!(one(r, "caller_type"), "service_principal");
    assert!(get(r, "source_ips").is_empty());
    let r = find(
        rows,
        "tech@partner.example",
        "microsoft.compute/virtualmachines/runcommand/action",
    );
    assert_eq!(
        (one(r, "cross_tenant"), one(r, "caller_tenant")),
        ("TRUE", PARTNER)
    );
    let r = find(
        rows,
        "arn:aws:iam::111122223333:user/build-agent",
        "ssm.amazonaws.com/sendcommand",
    );
    assert_eq!(
        (
            one(r, "invocation_count"),
            one(r, "vm_count"),
            one(r, "multi_vm_targeting")
        ),
        ("2", "5", "TRUE")
    );
    assert_eq!(
        (
            one(r, "cloud"),
            one(r, "subscription_id"),
            one(r, "resource_group")
        ),
        ("aws", "111122223333", "")
    );
    assert_eq!(
        (one(r, "caller_type"), one(r, "vendor_product")),
        ("iam_user", "AWS CloudTrail")
    );
    assert_eq!(get(r, "documents"), sv(&["AWS-RunShellScript"]));
    let r = find(
        rows,
        "arn:aws:iam::111122223333:role/OpsAdmin",
        "ssm.amazonaws.com/startsession",
    );
    assert_eq!(
        (one(r, "caller_type"), get(r, "caller_session")),
        ("assumed_role", &sv(&["jane.doe"])[..])
    );
    assert_eq!(get(r, "targeted_vms"), sv(&["i-0a1b2c3d4e5f60003"]));
    let r = find(
        rows,
        "arn:aws:iam::111122223333:role/PatchAutomation",
        "ssm.amazonaws.com/sendcommand",
    );
    assert!(get(r, "targeted_vms").is_empty());
    assert_eq!(get(r, "target_selectors"), sv(&["tag:Environment=prod"]));
    assert_eq!(
        (one(r, "vm_count"), one(r, "multi_vm_targeting")),
        ("0", "TRUE")
    );
    assert!(
        !rows
            .iter()
            .any(|r| one(r, "caller_identity").contains("intern")),
        "failed-only group has no row"
    );
    assert!(!rows
        .iter()
        .any(|r| one(r, "operation_lower").contains("start/action")));
    assert_eq!(rows.len(), 11, "{rows:#?}");
    let counts: Vec<u64> = rows
        .iter()
        .map(|r| one(r, "invocation_count").parse().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "sorted by invocation_count: {counts:?}"
    );
    for r in rows {
        assert!(!one(r, "event_time").is_empty() && !one(r, "_time").is_empty());
    }
}

#[test]
fn every_shape_gives_the_expected_rows_in_one_chunk() {
    let s = session(&[], &[scenario()], Finish::LastChunk, false);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert!(s.replies.iter().all(|r| r.finished() == Some(true)));
    check_scenario(&s.last_records());
    assert!(
        s.messages().is_empty(),
        "clean input, no WARN: {:?}",
        s.messages()
    );
}

trait LastRecords {
    fn last_records(&self) -> Vec<Record>;
}
impl LastRecords for command_support::Session {
    fn last_records(&self) -> Vec<Record> {
        for r in &self.replies[..self.replies.len() - 1] {
            assert!(
                r.body.is_empty(),
                "a reporting command answers early chunks with empty bodies"
            );
            assert_eq!(r.finished(), Some(false));
        }
        command_support::records(self.last())
    }
}

#[test]
fn chunking_and_finish_style_do_not_change_the_result() {
    let events = scenario();
    let reference = session(
        &[],
        std::slice::from_ref(&events),
        Finish::HeaderOnly,
        false,
    )
    .last_records();
    check_scenario(&reference);
    for (size, finish) in [
        (1, Finish::LastChunk),
        (3, Finish::HeaderOnly),
        (7, Finish::LastChunk),
        (1000, Finish::HeaderOnly),
    ] {
        let s = session(&[], &chunks(&events, size), finish, false);
        assert_eq!(s.last_records(), reference, "chunk size {size}, {finish:?}");
    }
    // Reversed order: same rows (merges do not depend on arrival order).
    let mut rev = events.clone();
    rev.reverse();
    assert_eq!(
        session(&[], &chunks(&rev, 5), Finish::LastChunk, false).last_records(),
        reference
    );
}

#[test]
fn three_rows_of_one_run_command_collapse_into_one_invocation() {
    let a = Activity::run_command(
        "vm-7",
        "Started",
        "d0000000-0000-4000-8000-000000000007",
        "2026-03-14T02:11:05Z",
    );
    for shape in [
        Shape::Rest,
        Shape::EventHub,
        Shape::RestFlat,
        Shape::EventHubFlat,
    ] {
        let ev: Vec<Event> = three(&a).iter().map(|x| azure(x, shape)).collect();
        let rows = session(&[], &chunks(&ev, 2), Finish::HeaderOnly, false).last_records();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (one(&rows[0], "invocation_count"), one(&rows[0], "vm_count")),
            ("1", "1")
        );
    }
    // Without a correlationId each row is its own invocation.
    let mut b = a.clone();
    b.corr = None;
    let ev: Vec<Event> = three(&b).iter().map(|x| azure(x, Shape::Rest)).collect();
    let rows = session(&[], &[ev], Finish::LastChunk, false).last_records();
    assert_eq!(one(&rows[0], "invocation_count"), "3");
}

#[test]
fn broken_input_is_counted_in_one_warn() {
    let mut events = scenario();
    events.extend(bad_events());
    let s = session(&[], &chunks(&events, 6), Finish::HeaderOnly, false);
    check_scenario(&s.last_records());
    let msgs = s.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let (level, text) = &msgs[0];
    assert_eq!(level, "WARN");
    assert!(text.contains("skipped 4 events"), "{text}");
    assert!(text.contains("2 broken_json"), "{text}");
    assert!(text.contains("1 truncated"), "{text}");
    assert!(text.contains("1 not_audit_record"), "{text}");
    assert!(
        s.last().messages().len() == 1,
        "the WARN is on the final reply"
    );
    assert_eq!(s.code, 0);
}

/// Copies (double ingestion) and cut records beside the scenario, at several chunkings:
/// the rows stay the scenario's, and the WARN counts what was ignored and why.
#[test]
fn duplicates_and_truncated_records_do_not_change_the_rows() {
    let mut events = scenario();
    events.extend(mess_events(&events));
    for size in [1, 4, 13, events.len()] {
        let s = session(&[], &chunks(&events, size), Finish::LastChunk, false);
        check_scenario(&s.last_records());
        let msgs = s.messages();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert_eq!(
            msgs[0].1,
            "t1651detect skipped 1 event: 1 truncated; 3 duplicate events ignored (same eventID, or same Activity Log record)",
            "chunks of {size}"
        );
    }
}

#[test]
fn include_failed_and_threshold_reach_the_engine() {
    let s = session(
        &["include_failed=true", "threshold=4"],
        &[scenario()],
        Finish::LastChunk,
        false,
    );
    let rows = s.last_records();
    let r = find(
        &rows,
        "alice@contoso.com",
        "microsoft.compute/virtualmachines/runcommand/action",
    );
    assert_eq!(
        (
            one(r, "invocation_count"),
            one(r, "vm_count"),
            one(r, "multi_vm_targeting")
        ),
        ("5", "5", "TRUE")
    );
    let r = find(
        &rows,
        "arn:aws:iam::111122223333:user/intern",
        "ssm.amazonaws.com/sendcommand",
    );
    assert_eq!(
        (
            one(r, "failed_count"),
            one(r, "vm_count"),
            one(r, "multi_vm_targeting")
        ),
        ("1", "4", "FALSE")
    );
}
