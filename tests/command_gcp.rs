//! Google Cloud through the full protocol path (spawned `t1651detect`, splunkd-style CSV
//! chunks): the sourcetypes of the Splunk Add-on for Google Cloud Platform
//! (`google:gcp:pubsub:audit:admin_activity` / `data_access` holding the LogEntry,
//! `google:gcp:pubsub:message` holding a Pub/Sub message with the LogEntry under `data`, as
//! an object or base64), extracted fields without JSON `_raw`, several chunkings, and the
//! distributed map/reduce path.

mod command_support;
mod detect_support;
mod scp_emulator;

use command_support::{
    chunks, flat_event, get, json_event, one, preop_args, probe, records, session, Event, Finish,
    Record,
};
use detect_support::{GcpRecord, Keys, EXECUTE_PATCH_JOB, GCP_PROJECT, SET_PROJECT_METADATA};

const ADMIN: &str = "google:gcp:pubsub:audit:admin_activity";
const DATA_ACCESS: &str = "google:gcp:pubsub:audit:data_access";
const MESSAGE: &str = "google:gcp:pubsub:message";
const T0: &str = "2026-03-14T02:10:00.250Z";
const T1: &str = "2026-03-14T02:10:04.750Z";

fn op(n: u32) -> String {
    format!("operation-1773454200000-62a1b2c3d4e5{n}-0a1b2c3d-4e5f6a7b")
}

/// Every GCP shape, with a duplicate and a metadata write that runs nothing.
fn gcp_scenario() -> Vec<Event> {
    let mut ev = Vec::new();
    // web-1: LogEntry as indexed by the add-on's admin_activity sourcetype.
    let a = GcpRecord::set_metadata("web-1", &op(1), &["startup-script"], T0);
    ev.push(json_event(&a.json(), ADMIN, T0));
    ev.push(json_event(&a.last(T1).json(), ADMIN, T1));
    // web-2: Pub/Sub message with the LogEntry object, older `request` key list.
    let mut b = GcpRecord::set_metadata("web-2", &op(2), &[], T0);
    b.keys = Keys::Request {
        added: vec!["startup-script-url".into()],
        modified: vec![],
        deleted: vec![],
    };
    ev.push(json_event(&b.pubsub(), MESSAGE, T0));
    ev.push(json_event(&b.last(T1).pubsub(), MESSAGE, T1));
    // web-3: Pub/Sub message with base64 data (no extracted LogEntry fields).
    let c = GcpRecord::set_metadata("web-3", &op(3), &["startup-script"], T0);
    ev.push(json_event(&c.pubsub_base64(), MESSAGE, T0));
    ev.push(json_event(&c.last(T1).pubsub_base64(), MESSAGE, T1));
    // web-4: extracted fields only (`_raw` not JSON).
    let d = GcpRecord::set_metadata("web-4", &op(4), &["shutdown-script"], T0);
    ev.push(flat_event(&d.json(), ADMIN, T0));
    ev.push(flat_event(&d.last(T1).json(), ADMIN, T1));
    // web-5: ssh-keys only: not T1651.
    let e = GcpRecord::set_metadata("web-5", &op(5), &["ssh-keys"], T0);
    ev.push(json_event(&e.json(), ADMIN, T0));
    ev.push(json_event(&e.last(T1).json(), ADMIN, T1));
    // Project metadata by an impersonated service account.
    let mut f = GcpRecord::set_metadata("x", &op(6), &["startup-script"], T0);
    f.method = SET_PROJECT_METADATA.into();
    f.resource_name = format!("projects/{GCP_PROJECT}");
    f.principal = Some("deployer@acme-prod.iam.gserviceaccount.com".into());
    f.delegation = vec!["mallory@example.com".into()];
    ev.push(json_event(&f.json(), ADMIN, T0));
    ev.push(json_event(&f.last(T1).json(), ADMIN, T1));
    // A patch job by the OS Config service agent (Data Access log).
    let mut g = GcpRecord::osconfig(
        EXECUTE_PATCH_JOB,
        &format!("projects/{GCP_PROJECT}/patchJobs/pj-1"),
        T0,
    );
    g.principal = Some("service-123456789012@gcp-sa-osconfig.iam.gserviceaccount.com".into());
    ev.push(json_event(&g.json(), DATA_ACCESS, T0));
    // A permission denial naming a script key, no operation.
    let mut h = GcpRecord::set_metadata("web-9", &op(9), &["startup-script"], T0);
    h.operation = None;
    h.status_code = Some(7);
    h.severity = "ERROR";
    h.principal = Some("intern@example.com".into());
    ev.push(json_event(&h.json(), ADMIN, T0));
    // Double ingestion: web-1's first record again, through the Pub/Sub message sourcetype.
    ev.push(json_event(&a.pubsub(), MESSAGE, T0));
    ev
}

fn find<'a>(rows: &'a [Record], caller: &str, op: &str) -> &'a Record {
    let hits: Vec<&Record> = rows
        .iter()
        .filter(|r| one(r, "caller_identity") == caller && one(r, "operation_lower") == op)
        .collect();
    assert_eq!(hits.len(), 1, "({caller}, {op}) in {rows:#?}");
    hits[0]
}

fn check(rows: &[Record]) {
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let r = find(rows, "mallory@example.com", "compute.instances.setmetadata");
    assert_eq!(one(r, "invocation_count"), "4");
    assert_eq!(get(r, "targeted_vms"), ["web-1", "web-2", "web-3", "web-4"]);
    assert_eq!(
        (one(r, "vm_count"), one(r, "multi_vm_targeting")),
        ("4", "TRUE")
    );
    assert_eq!(
        get(r, "documents"),
        ["shutdown-script", "startup-script", "startup-script-url"]
    );
    assert_eq!(one(r, "cloud"), "gcp");
    assert_eq!(one(r, "subscription_id"), GCP_PROJECT);
    assert_eq!(one(r, "resource_group"), "us-central1-a");
    assert_eq!(one(r, "caller_type"), "user");
    assert_eq!(get(r, "source_ips"), ["203.0.113.50"]);
    assert_eq!(get(r, "correlation_ids").len(), 4);
    assert_eq!(one(r, "vendor_product"), "Google Cloud Compute Engine");
    let r = find(
        rows,
        "deployer@acme-prod.iam.gserviceaccount.com",
        "compute.projects.setcommoninstancemetadata",
    );
    assert_eq!(get(r, "target_selectors"), ["project-metadata=acme-prod"]);
    assert_eq!(get(r, "caller_session"), ["mallory@example.com"]);
    assert_eq!(
        (
            one(r, "caller_type"),
            one(r, "multi_vm_targeting"),
            one(r, "vm_count")
        ),
        ("service_account", "TRUE", "0")
    );
    let agent = "service-123456789012@gcp-sa-osconfig.iam.gserviceaccount.com";
    let r = find(rows, agent, "osconfig.executepatchjob");
    assert_eq!(one(r, "caller_type"), "google_service");
    assert_eq!(get(r, "invoked_by"), [agent]);
    assert_eq!(get(r, "target_selectors"), ["patchJob=pj-1"]);
    assert_eq!(one(r, "vendor_product"), "Google Cloud VM Manager");
}

#[test]
fn getinfo_asks_for_the_gcp_fields() {
    let (gi, code, _) = probe(&[]);
    assert_eq!(code, 0);
    let req: Vec<&str> = gi.meta["required_fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for f in [
        "protoPayload.methodName",
        "protoPayload.resourceName",
        "protoPayload.authenticationInfo.principalEmail",
        "protoPayload.metadata.instanceMetadataDelta.addedMetadataKeys{}",
        "protoPayload.request.Metadata Keys Added{}",
        "data.protoPayload.methodName",
        "data",
        "logName",
        "insertId",
        "operation.id",
        "severity",
    ] {
        assert!(req.contains(&f), "{f} not in {req:?}");
    }
}

#[test]
fn every_gcp_shape_at_every_chunking() {
    let events = gcp_scenario();
    for (size, finish) in [
        (events.len(), Finish::LastChunk),
        (1, Finish::HeaderOnly),
        (3, Finish::LastChunk),
        (5, Finish::HeaderOnly),
    ] {
        let s = session(&[], &chunks(&events, size), finish, false);
        assert_eq!(s.code, 0, "{}", s.stderr);
        check(&records(s.last()));
        let msgs = s.messages();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].1.contains("1 duplicate event ignored"), "{msgs:?}");
    }
    // include_failed: the permission denial is one failed invocation of its own group.
    let s = session(
        &["include_failed=true"],
        &[events],
        Finish::LastChunk,
        false,
    );
    let rows = records(s.last());
    let r = find(&rows, "intern@example.com", "compute.instances.setmetadata");
    assert_eq!(
        (one(r, "failed_count"), one(r, "invocation_count")),
        ("1", "1")
    );
}

#[test]
fn gcp_operation_names_in_the_operations_option() {
    let events = gcp_scenario();
    let s = session(
        &["operations=beta.compute.instances.setMetadata,osconfig.ExecutePatchJob"],
        &[events],
        Finish::LastChunk,
        false,
    );
    assert_eq!(s.code, 0, "{}", s.stderr);
    let rows = records(s.last());
    let ops: Vec<&str> = rows.iter().map(|r| one(r, "operation_lower")).collect();
    assert_eq!(
        ops,
        ["compute.instances.setmetadata", "osconfig.executepatchjob"]
    );
}

#[test]
fn events_mode_over_gcp() {
    let s = session(
        &["mode=events"],
        &[gcp_scenario()],
        Finish::LastChunk,
        false,
    );
    assert_eq!(s.code, 0, "{}", s.stderr);
    let rows = s.records();
    let gcp: Vec<&Record> = rows
        .iter()
        .filter(|r| r.get("cloud").is_some_and(|v| v == &["gcp"]))
        .collect();
    // First records naming a script key (web-1..4, project, web-1 copy), the patch job,
    // the denial.
    assert_eq!(gcp.len(), 8, "{gcp:#?}");
}

#[test]
fn distributed_gcp_equals_the_direct_run() {
    let input = gcp_scenario();
    for options in [vec!["threshold=3"], vec!["include_failed=true", "span=1h"]] {
        let direct = session(
            &options,
            std::slice::from_ref(&input),
            Finish::LastChunk,
            false,
        );
        let want = records(direct.last());
        let mut reduce_args = options.clone();
        reduce_args.push("distributed=true");
        let (gi, _, _) = probe(&reduce_args);
        let preop = gi.meta["streaming_preop"].as_str().unwrap().to_owned();
        let map_args = preop_args(&preop);
        let map_args: Vec<&str> = map_args.iter().map(String::as_str).collect();
        // Deterministic splits: round robin over 2 and 3 maps, and odd/even halves.
        for n in [2usize, 3] {
            for offset in 0..n {
                let mut shares: Vec<Vec<Event>> = vec![Vec::new(); n];
                for (i, e) in input.iter().enumerate() {
                    shares[(i + offset) % n].push(e.clone());
                }
                let mut partial = Vec::new();
                for share in &shares {
                    let s = session(&map_args, &chunks(share, 2), Finish::HeaderOnly, false);
                    assert_eq!(s.code, 0, "{}", s.stderr);
                    partial.extend(s.records());
                }
                partial.reverse();
                let reduce = session(&reduce_args, &chunks(&partial, 4), Finish::LastChunk, false);
                assert_eq!(
                    records(reduce.last()),
                    want,
                    "{options:?} n={n} offset={offset}"
                );
                assert_eq!(reduce.messages(), direct.messages());
            }
        }
    }
}
