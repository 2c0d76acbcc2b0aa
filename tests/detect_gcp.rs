//! Google Cloud (issue 18): Cloud Audit Logs records through the engine, in every shape
//! (gcloud JSON, Logging API key order, Pub/Sub message with the LogEntry as an object or
//! base64, flattened Splunk fields), every operation, the script-key rule, every caller
//! type, de-duplication, truncation, and `mode=events`.

mod detect_support;

use detect_support::*;
use t1651::detect::engine::Engine;
use t1651::detect::fields::FieldMap;
use t1651::detect::normalize::{normalize_json, Normalized, SkipReason};
use t1651::detect::options::Options;
use t1651::detect::row::OutputRow;

const OP1: &str = "operation-1733460000000-62a1b2c3d4e5f-0a1b2c3d-4e5f6a7b";
const OP2: &str = "operation-1733460100000-62a1b2c3d4e60-0a1b2c3d-4e5f6a7c";
const T0: &str = "2024-12-06T05:00:00.512345Z";
const T1: &str = "2024-12-06T05:00:03.100000123Z";

fn rows(raws: &[String]) -> Vec<OutputRow> {
    run(Options::default(), raws).rows
}

fn pair(vm: &str, op: &str, keys: &[&str]) -> Vec<String> {
    let first = GcpRecord::set_metadata(vm, op, keys, T0);
    vec![first.json(), first.last(T1).json()]
}

#[test]
fn startup_script_on_an_instance_is_one_invocation() {
    let out = run(Options::default(), &pair("web-1", OP1, &["startup-script"]));
    assert_eq!(out.rows.len(), 1, "{:?}", out.rows);
    let r = &out.rows[0];
    assert_eq!(col(r, "cloud"), "gcp");
    assert_eq!(col(r, "operation_lower"), "compute.instances.setmetadata");
    assert_eq!(col(r, "caller_identity"), "mallory@example.com");
    assert_eq!(col(r, "caller_type"), "user");
    assert_eq!(col(r, "invocation_count"), "1");
    assert_eq!(col(r, "failed_count"), "0");
    assert_eq!(col(r, "subscription_id"), GCP_PROJECT);
    assert_eq!(col(r, "resource_group"), "us-central1-a");
    assert_eq!(multi(r, "targeted_vms"), ["web-1"]);
    assert_eq!(col(r, "vm_count"), "1");
    assert_eq!(multi(r, "documents"), ["startup-script"]);
    assert_eq!(multi(r, "source_ips"), ["203.0.113.50"]);
    assert_eq!(multi(r, "correlation_ids"), [OP1]);
    assert_eq!(col(r, "vendor_product"), "Google Cloud Compute Engine");
    assert_eq!(col(r, "multi_vm_targeting"), "FALSE");
    assert_eq!(col(r, "first_seen"), "1733461200.512345");
    assert_eq!(col(r, "last_seen"), "1733461203.1");
    assert!(out.warning.is_none(), "{:?}", out.warning);
}

#[test]
fn every_script_key_counts_and_other_keys_do_not() {
    for key in [
        "startup-script",
        "startup-script-url",
        "shutdown-script",
        "shutdown-script-url",
        "windows-startup-script-ps1",
        "windows-startup-script-cmd",
        "windows-startup-script-bat",
        "windows-startup-script-url",
        "windows-shutdown-script-ps1",
        "windows-shutdown-script-url",
        "sysprep-specialize-script-ps1",
        "sysprep-specialize-script-url",
        "Startup-Script",
    ] {
        let r = rows(&pair("web-1", OP1, &[key]));
        assert_eq!(r.len(), 1, "{key}");
        assert_eq!(multi(&r[0], "documents"), [key.to_ascii_lowercase()]);
    }
    for key in [
        "ssh-keys",
        "windows-keys",
        "enable-oslogin",
        "serial-port-enable",
        "startup-script-extra",
    ] {
        let out = run(Options::default(), &pair("web-1", OP1, &[key]));
        assert!(out.rows.is_empty(), "{key}: {:?}", out.rows);
        // Not a skip: a valid record of a selected operation that ran nothing.
        assert!(out.warning.is_none(), "{key}: {:?}", out.warning);
    }
}

#[test]
fn modified_keys_and_the_older_request_keys_count_deletions_do_not() {
    let mut first = GcpRecord::set_metadata("web-1", OP1, &[], T0);
    first.keys = Keys::Delta {
        added: vec![],
        modified: vec!["shutdown-script".into()],
        deleted: vec![],
    };
    assert_eq!(rows(&[first.json(), first.last(T1).json()]).len(), 1);
    first.keys = Keys::Request {
        added: vec!["startup-script-url".into()],
        modified: vec![],
        deleted: vec![],
    };
    let r = rows(&[first.json(), first.last(T1).json()]);
    assert_eq!(multi(&r[0], "documents"), ["startup-script-url"]);
    first.keys = Keys::Request {
        added: vec![],
        modified: vec!["windows-startup-script-ps1".into()],
        deleted: vec![],
    };
    assert_eq!(rows(&[first.json()]).len(), 1);
    // Deleting a script key runs nothing: not T1651 (documented).
    first.keys = Keys::Delta {
        added: vec![],
        modified: vec![],
        deleted: vec!["startup-script".into()],
    };
    assert!(rows(&[first.json(), first.last(T1).json()]).is_empty());
    first.keys = Keys::Request {
        added: vec![],
        modified: vec![],
        deleted: vec!["startup-script".into()],
    };
    assert!(rows(&[first.json(), first.last(T1).json()]).is_empty());
    // A deletion next to an addition: the addition counts.
    first.keys = Keys::Delta {
        added: vec!["startup-script".into()],
        modified: vec![],
        deleted: vec!["ssh-keys".into()],
    };
    assert_eq!(rows(&[first.json()]).len(), 1);
}

#[test]
fn beta_method_names_are_the_same_operation() {
    let mut first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let mut beta = GcpRecord::set_metadata("web-2", OP2, &["startup-script"], T0);
    beta.method = "beta.compute.instances.setMetadata".into();
    first.method = SET_METADATA.into();
    let r = rows(&[first.json(), beta.json()]);
    assert_eq!(r.len(), 1);
    assert_eq!(col(&r[0], "invocation_count"), "2");
    assert_eq!(multi(&r[0], "targeted_vms"), ["web-1", "web-2"]);
}

#[test]
fn the_key_list_may_be_on_either_record_of_the_operation() {
    let mut first = GcpRecord::set_metadata("web-1", OP1, &[], T0);
    first.keys = Keys::None;
    let mut last = first.last(T1);
    last.keys = Keys::added(&["startup-script"]);
    for order in [[first.json(), last.json()], [last.json(), first.json()]] {
        let r = rows(&order);
        assert_eq!(r.len(), 1);
        assert_eq!(col(&r[0], "invocation_count"), "1");
        assert_eq!(multi(&r[0], "documents"), ["startup-script"]);
    }
    // Neither names one: nothing.
    assert!(rows(&[first.json(), first.last(T1).json()]).is_empty());
}

#[test]
fn a_failed_operation_counts_in_failed_count_only() {
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let mut last = first.last(T1);
    last.status_code = Some(13);
    last.severity = "ERROR";
    let out = run(Options::default(), &[first.json(), last.json()]);
    assert!(out.rows.is_empty(), "{:?}", out.rows);
    let out = run(
        opts(&[("include_failed", "true")]),
        &[first.json(), last.json()],
    );
    assert_eq!(col(&out.rows[0], "failed_count"), "1");
    assert_eq!(col(&out.rows[0], "invocation_count"), "1");
    // Severity ERROR alone fails it too.
    let mut last = first.last(T1);
    last.severity = "ERROR";
    let out = run(
        opts(&[("include_failed", "true")]),
        &[first.json(), last.json()],
    );
    assert_eq!(col(&out.rows[0], "failed_count"), "1");
}

#[test]
fn a_permission_denial_without_operation_counts_only_with_a_script_key() {
    let mut denied = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    denied.operation = None;
    denied.status_code = Some(7);
    denied.severity = "ERROR";
    let out = run(opts(&[("include_failed", "true")]), &[denied.json()]);
    assert_eq!(out.rows.len(), 1);
    assert_eq!(col(&out.rows[0], "failed_count"), "1");
    assert_eq!(multi(&out.rows[0], "correlation_ids"), Vec::<String>::new());
    let out = run(Options::default(), &[denied.json()]);
    assert!(out.rows.is_empty());
    // Error records often carry no key list: ignored (one cannot tell what was set).
    denied.keys = Keys::None;
    let out = run(opts(&[("include_failed", "true")]), &[denied.json()]);
    assert!(out.rows.is_empty());
    assert_eq!(out.stats.ignored, 1);
    denied.keys = Keys::added(&["ssh-keys"]);
    assert!(run(opts(&[("include_failed", "true")]), &[denied.json()])
        .rows
        .is_empty());
}

#[test]
fn project_metadata_is_a_selector_and_a_finding() {
    let mut first = GcpRecord::set_metadata("x", OP1, &["startup-script"], T0);
    first.method = SET_PROJECT_METADATA.into();
    first.resource_name = format!("projects/{GCP_PROJECT}");
    let r = rows(&[first.json(), first.last(T1).json()]);
    assert_eq!(r.len(), 1);
    let r = &r[0];
    assert_eq!(
        col(r, "operation_lower"),
        "compute.projects.setcommoninstancemetadata"
    );
    assert_eq!(
        multi(r, "target_selectors"),
        [format!("project-metadata={GCP_PROJECT}")]
    );
    assert_eq!(col(r, "vm_count"), "0");
    assert_eq!(multi(r, "targeted_vms"), Vec::<String>::new());
    assert_eq!(col(r, "multi_vm_targeting"), "TRUE");
    assert_eq!(col(r, "resource_group"), "-");
    // ssh-keys in project metadata: not T1651.
    first.keys = Keys::added(&["ssh-keys"]);
    assert!(rows(&[first.json(), first.last(T1).json()]).is_empty());
}

#[test]
fn os_config_operations_are_selectors_in_vm_manager() {
    let p = GCP_PROJECT;
    for (method, name, lower, selector) in [
        (
            EXECUTE_PATCH_JOB,
            format!("projects/{p}/patchJobs/job-1"),
            "osconfig.executepatchjob",
            "patchJob=job-1",
        ),
        (
            "google.cloud.osconfig.v1.OsConfigService.CreatePatchDeployment",
            format!("projects/{p}/patchDeployments/nightly"),
            "osconfig.createpatchdeployment",
            "patchDeployment=nightly",
        ),
        (
            "google.cloud.osconfig.v1.OsConfigService.UpdatePatchDeployment",
            format!("projects/{p}/patchDeployments/nightly"),
            "osconfig.updatepatchdeployment",
            "patchDeployment=nightly",
        ),
        (
            "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment",
            format!("projects/{p}/locations/us-central1-a/osPolicyAssignments/run-it"),
            "osconfig.createospolicyassignment",
            "osPolicyAssignment=run-it",
        ),
        (
            "google.cloud.osconfig.v1.OsConfigZonalService.UpdateOSPolicyAssignment",
            format!("projects/{p}/locations/us-central1-a/osPolicyAssignments/run-it"),
            "osconfig.updateospolicyassignment",
            "osPolicyAssignment=run-it",
        ),
        (
            "google.cloud.osconfig.v1beta.OsConfigService.CreateGuestPolicy",
            format!("projects/{p}/guestPolicies/gp"),
            "osconfig.createguestpolicy",
            "guestPolicy=gp",
        ),
        (
            "google.cloud.osconfig.v1beta.OsConfigService.UpdateGuestPolicy",
            format!("projects/{p}/guestPolicies/gp"),
            "osconfig.updateguestpolicy",
            "guestPolicy=gp",
        ),
        (
            "google.cloud.osconfig.v1beta.OsConfigService.ExecutePatchJob",
            format!("projects/{p}"),
            "osconfig.executepatchjob",
            "patchJob=projects/acme-prod",
        ),
    ] {
        let rec = GcpRecord::osconfig(method, &name, T0);
        let r = rows(&[rec.json()]);
        assert_eq!(r.len(), 1, "{method}");
        let r = &r[0];
        assert_eq!(col(r, "operation_lower"), lower);
        assert_eq!(multi(r, "target_selectors"), [selector], "{method}");
        assert_eq!(col(r, "multi_vm_targeting"), "TRUE");
        assert_eq!(col(r, "vendor_product"), "Google Cloud VM Manager");
        assert_eq!(col(r, "subscription_id"), GCP_PROJECT);
    }
}

#[test]
fn other_methods_are_not_selected() {
    let mut rec = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    rec.method = "v1.compute.instances.insert".into();
    let out = run(Options::default(), &[rec.json()]);
    assert!(out.rows.is_empty());
    assert_eq!(out.stats.ignored, 1);
    // ... unless selected with operations=.
    let out = run(
        opts(&[("operations", "v1.compute.instances.insert")]),
        &[rec.json()],
    );
    assert_eq!(out.rows.len(), 1);
    assert_eq!(
        col(&out.rows[0], "operation_lower"),
        "compute.instances.insert"
    );
    assert_eq!(multi(&out.rows[0], "targeted_vms"), ["web-1"]);
    // operations= with GCP names only: other clouds are not selected.
    let out = run(
        opts(&[("operations", "compute.instances.setMetadata")]),
        &pair("web-1", OP1, &["startup-script"]),
    );
    assert_eq!(out.rows.len(), 1);
}

#[test]
fn caller_types_impersonation_and_service_agents() {
    let with = |p: &str, deleg: &[&str]| {
        let mut r = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
        r.principal = Some(p.into());
        r.delegation = deleg.iter().map(|s| s.to_string()).collect();
        rows(&[r.json()])
    };
    let r = with("Mallory@Example.com", &[]);
    assert_eq!(col(&r[0], "caller_identity"), "mallory@example.com");
    assert_eq!(col(&r[0], "caller_type"), "user");
    let r = with("deployer@acme-prod.iam.gserviceaccount.com", &[]);
    assert_eq!(col(&r[0], "caller_type"), "service_account");
    assert_eq!(col(&r[0], "caller_tenant"), "acme-prod");
    assert_eq!(col(&r[0], "cross_tenant"), "FALSE");
    let r = with("ci@tools-proj.iam.gserviceaccount.com", &[]);
    assert_eq!(col(&r[0], "caller_tenant"), "tools-proj");
    assert_eq!(col(&r[0], "cross_tenant"), "TRUE");
    for sa in [
        "123456789012-compute@developer.gserviceaccount.com",
        "service-deployer@acme-prod.iam.gserviceaccount.com",
        "acme-prod@appspot.gserviceaccount.com",
    ] {
        let r = with(sa, &[]);
        assert_eq!(col(&r[0], "caller_type"), "service_account", "{sa}");
    }
    for agent in [
        "service-123456789012@gcp-sa-osconfig.iam.gserviceaccount.com",
        "123456789012@cloudservices.gserviceaccount.com",
        "service-123456789012@compute-system.iam.gserviceaccount.com",
    ] {
        let r = with(agent, &[]);
        assert_eq!(col(&r[0], "caller_type"), "google_service", "{agent}");
        assert_eq!(multi(&r[0], "invoked_by"), [agent], "{agent}");
    }
    // A user impersonating a service account: the account is the caller, the user is
    // reported like an AWS session.
    let r = with(
        "deployer@acme-prod.iam.gserviceaccount.com",
        &["Mallory@Example.com"],
    );
    assert_eq!(
        col(&r[0], "caller_identity"),
        "deployer@acme-prod.iam.gserviceaccount.com"
    );
    assert_eq!(multi(&r[0], "caller_session"), ["mallory@example.com"]);
    // Workforce identity: only a principal subject.
    let mut rec = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    rec.principal = None;
    let mut v = rec.value();
    v["protoPayload"]["authenticationInfo"]["principalSubject"] = serde_json::json!(
        "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/u1"
    );
    let r = rows(&[v.to_string()]);
    assert_eq!(col(&r[0], "caller_type"), "user");
    assert!(col(&r[0], "caller_identity").starts_with("principal://"));
}

#[test]
fn source_ips_are_addresses_only() {
    for (ip, want) in [
        ("203.0.113.9", vec!["203.0.113.9"]),
        ("2001:db8::7", vec!["2001:db8::7"]),
        ("gce-internal-ip", vec![]),
        ("private", vec![]),
    ] {
        let mut r = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
        r.caller_ip = Some(ip.into());
        let out = rows(&[r.json()]);
        assert_eq!(multi(&out[0], "source_ips"), want, "{ip}");
        assert_eq!(multi(&out[0], "src"), want, "{ip}");
    }
}

#[test]
fn every_shape_gives_the_same_rows() {
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let last = first.last(T1);
    let want = rows(&[first.json(), last.json()]);
    assert_eq!(want.len(), 1);
    for shape in [
        [first.api_order(), last.api_order()],
        [first.pubsub(), last.pubsub()],
        [first.pubsub_base64(), last.pubsub_base64()],
        [first.pubsub(), last.pubsub_base64()],
    ] {
        assert_eq!(rows(&shape), want, "{shape:?}");
        // Through the fields door (Splunk event with `_raw`).
        let events: Vec<FieldMap> = shape
            .iter()
            .map(|r| FieldMap::from_pairs([("_raw", r.as_str()), ("_time", "1733461200")]))
            .collect();
        assert_eq!(run_fields(Options::default(), &events).rows, want);
    }
}

/// The fields door without JSON `_raw`: the columns Splunk extracts from a LogEntry
/// (plain, and under `data.` for a Pub/Sub message).
#[test]
fn extracted_columns_give_the_same_rows() {
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let want = rows(&[first.json(), first.last(T1).json()]);
    for prefix in ["", "data."] {
        let flat = |r: &GcpRecord, keys: bool| {
            let mut f = FieldMap::new();
            let p = |n: &str| format!("{prefix}{n}");
            f.set("_raw", "not json").set("_time", "1733461200");
            f.set(p("protoPayload.methodName"), r.method.as_str());
            f.set(p("protoPayload.serviceName"), "compute.googleapis.com");
            f.set(p("protoPayload.resourceName"), r.resource_name.as_str());
            f.set(
                p("protoPayload.authenticationInfo.principalEmail"),
                "mallory@example.com",
            );
            f.set(p("protoPayload.requestMetadata.callerIp"), "203.0.113.50");
            if keys {
                f.push(
                    p("protoPayload.metadata.instanceMetadataDelta.addedMetadataKeys{}"),
                    "startup-script",
                );
            }
            f.set(
                p("logName"),
                format!("projects/{GCP_PROJECT}/logs/cloudaudit.googleapis.com%2Factivity"),
            );
            f.set(p("timestamp"), r.time.as_str());
            f.set(p("insertId"), r.insert_id.clone().unwrap());
            f.set(p("severity"), "NOTICE");
            f.set(p("resource.labels.zone"), "us-central1-a");
            let (id, first, last) = r.operation.clone().unwrap();
            f.set(p("operation.id"), id);
            if first {
                f.set(p("operation.first"), "true");
            }
            if last {
                f.set(p("operation.last"), "true");
            }
            f
        };
        let got = run_fields(
            Options::default(),
            &[flat(&first, true), flat(&first.last(T1), false)],
        );
        assert_eq!(got.rows, want, "prefix {prefix:?}");
    }
}

#[test]
fn copies_of_one_entry_count_once() {
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let last = first.last(T1);
    let mut denied = GcpRecord::set_metadata("web-2", OP2, &["startup-script"], T0);
    denied.operation = None;
    denied.status_code = Some(7);
    let once = run(
        opts(&[("include_failed", "t")]),
        &[first.json(), last.json(), denied.json()],
    );
    let twice = run(
        opts(&[("include_failed", "t")]),
        &[
            first.json(),
            last.pubsub(),
            denied.json(),
            first.pubsub_base64(),
            last.json(),
            denied.api_order(),
        ],
    );
    assert_eq!(twice.rows, once.rows);
    assert_eq!(twice.stats.duplicates, 3);
    assert!(twice
        .warning
        .unwrap()
        .contains("3 duplicate events ignored"));
    // Same insertId in another log is another entry.
    let mut other = denied.clone();
    other.log = "data_access";
    let out = run(
        opts(&[("include_failed", "t")]),
        &[denied.json(), other.json()],
    );
    assert_eq!(out.stats.duplicates, 0);
    assert_eq!(col(&out.rows[0], "failed_count"), "2");
}

/// Cut every record at every byte offset: a cut record is either skipped as `truncated`
/// or gives exactly the event of the whole record (never another caller, target, status,
/// invocation key or script-key verdict).
#[test]
fn a_cut_record_is_whole_or_skipped() {
    let o = Options::default();
    let mut denied = GcpRecord::set_metadata("web-2", OP2, &["startup-script"], T0);
    denied.operation = None;
    denied.status_code = Some(7);
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let mut deleg = first.last(T1);
    deleg.principal = Some("deployer@acme-prod.iam.gserviceaccount.com".into());
    deleg.delegation = vec!["mallory@example.com".into()];
    for rec in [first.clone(), first.last(T1), denied, deleg] {
        for raw in [rec.json(), rec.api_order(), rec.pubsub()] {
            let whole = match normalize_json(raw.as_bytes(), Some("1733461200.512345"), &o) {
                Normalized::Event(e) => e,
                other => panic!("{other:?}"),
            };
            for cut in 1..raw.len() {
                match normalize_json(&raw.as_bytes()[..cut], Some("1733461200.512345"), &o) {
                    Normalized::Skip(SkipReason::Truncated) => {}
                    Normalized::Event(e) => {
                        fn key(e: &t1651::detect::normalize::NormalizedEvent<'_>) -> String {
                            format!(
                                "{:?}",
                                (
                                    &e.caller,
                                    &e.caller_session,
                                    &e.targets,
                                    e.status,
                                    &e.correlation_id,
                                    &e.subscription,
                                    &e.document,
                                    e.script_key,
                                    &e.src,
                                    &e.resource_group
                                )
                            )
                        }
                        assert_eq!(key(&e), key(&whole), "cut at {cut}: {}", &raw[..cut]);
                    }
                    other => panic!("cut at {cut}: {other:?} for {}", &raw[..cut]),
                }
            }
        }
    }
}

#[test]
fn truncated_records_with_extracted_columns_are_used() {
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let raw = first.json();
    let cut = &raw[..raw.find("\"protoPayload\"").unwrap() + 40];
    let f = FieldMap::from_pairs([("_raw", cut), ("_time", "1733461200")]);
    let out = run_fields(Options::default(), &[f]);
    assert_eq!(out.stats.skipped_total(), 1);
    let mut f = FieldMap::from_pairs([("_raw", cut), ("_time", "1733461200")]);
    f.set("protoPayload.methodName", SET_METADATA);
    f.set(
        "protoPayload.authenticationInfo.principalEmail",
        "mallory@example.com",
    );
    f.set("protoPayload.resourceName", first.resource_name.as_str());
    f.push(
        "protoPayload.metadata.instanceMetadataDelta.addedMetadataKeys{}",
        "startup-script",
    );
    f.set("operation.id", OP1);
    let out = run_fields(Options::default(), &[f]);
    assert_eq!(out.rows.len(), 1, "{:?}", out.warning);
    assert_eq!(multi(&out.rows[0], "targeted_vms"), ["web-1"]);
}

#[test]
fn bad_pubsub_data_is_counted() {
    for (raw, reason) in [
        (
            r#"{"data":"%%%not base64%%%","message_id":"1"}"#,
            "not_audit_record",
        ),
        (
            r#"{"data":"eyJwcm90b1BheWxvYWQiOnsi","message_id":"1"}"#,
            "truncated",
        ),
        (r#"{"data":"eyJhIjoxLH0=","message_id":"1"}"#, "broken_json"),
    ] {
        let out = run(Options::default(), &[raw.to_string()]);
        assert!(out.rows.is_empty());
        assert!(
            out.warning.as_deref().unwrap_or("").contains(reason),
            "{raw}: {:?}",
            out.warning
        );
    }
}

#[test]
fn events_mode_shows_records_that_run_something() {
    let first = GcpRecord::set_metadata("web-1", OP1, &["startup-script"], T0);
    let ssh = GcpRecord::set_metadata("web-2", OP2, &["ssh-keys"], T0);
    let patch = GcpRecord::osconfig(
        EXECUTE_PATCH_JOB,
        &format!("projects/{GCP_PROJECT}/patchJobs/j1"),
        T0,
    );
    let mut e = Engine::new(opts(&[("mode", "events")]));
    let got: Vec<OutputRow> = [
        first.json(),
        first.last(T1).json(),
        ssh.json(),
        patch.json(),
    ]
    .iter()
    .filter_map(|r| e.event_row_json(r.as_bytes(), None))
    .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(col(&got[0], "cloud"), "gcp");
    assert_eq!(col(&got[0], "document"), "startup-script");
    assert_eq!(col(&got[0], "correlation_id"), OP1);
    assert_eq!(col(&got[0], "result_status"), "started");
    assert_eq!(col(&got[0], "vendor_region"), "us-central1");
    assert_eq!(multi(&got[1], "target_selectors"), ["patchJob=j1"]);
    assert_eq!(e.finish().stats.ignored, 2);
}
