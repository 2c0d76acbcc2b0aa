//! Optional cross-check against the public samples in the project's shared reference folder
//! (`../shared/data` next to the repository, or `$T1651_SHARED/data`). Skipped, with a
//! note, when the folder is absent: nothing essential depends on it.

mod detect_support;

use detect_support::{col, multi, opts};
use std::path::PathBuf;
use t1651::detect::engine::Engine;
use t1651::detect::options::Options;
use t1651::detect::raw::split_records;

fn data_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("T1651_SHARED").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .map(|p| p.join("data"))
        .find(|p| p.is_dir());
    if found.is_none() {
        eprintln!("shared sample data not found: skipping the optional sample checks");
    }
    found
}

fn lines(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn stratus_ssm_send_command_and_start_session() {
    let Some(d) = data_dir() else { return };
    let mut e = Engine::new(Options::default());
    for l in lines(&d.join("DataDog_stratus-red-team/aws.execution.ssm-send-command.jsonl")) {
        e.ingest_json(l.as_bytes(), None);
    }
    let done = e.finish();
    assert_eq!(
        done.rows.len(),
        1,
        "one SendCommand among the read-only noise"
    );
    let r = &done.rows[0];
    assert_eq!(col(r, "operation_lower"), "ssm.amazonaws.com/sendcommand");
    assert_eq!(col(r, "caller_type"), "iam_user");
    assert!(col(r, "caller_identity").ends_with(":user/christophe"));
    assert_eq!(col(r, "vm_count"), "3");
    assert_eq!(done.warning, None);

    let mut e = Engine::new(opts(&[("threshold", "2")]));
    for l in lines(&d.join("DataDog_stratus-red-team/aws.execution.ssm-start-session.jsonl")) {
        e.ingest_json(l.as_bytes(), None);
    }
    let done = e.finish();
    assert_eq!(done.rows.len(), 1);
    let r = &done.rows[0];
    assert_eq!(col(r, "invocation_count"), "3");
    assert_eq!(col(r, "vm_count"), "3");
    assert_eq!(
        col(r, "multi_vm_targeting"),
        "TRUE",
        "fan-out to 3 instances within a second"
    );
}

#[test]
fn panther_samples() {
    let Some(d) = data_dir() else { return };
    let mut e = Engine::new(Options::default());
    for l in lines(&d.join("panther-labs_panther-analysis/aws_ssm_distributed_command.tests.jsonl"))
    {
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        e.ingest_json(v["event"].to_string().as_bytes(), None);
    }
    let done = e.finish();
    assert!(!done.rows.is_empty());
    assert!(done.rows.iter().all(|r| col(r, "cloud") == "aws"));
    let role = done
        .rows
        .iter()
        .find(|r| col(r, "caller_type") == "assumed_role")
        .unwrap();
    assert!(col(role, "caller_identity").contains(":role/"));
    assert!(!multi(role, "caller_session").is_empty());

    let mut e = Engine::new(opts(&[("include_failed", "true")]));
    for l in lines(
        &d.join("panther-labs_panther-analysis/azure_activity_T1651_related.tests.SYNTHETIC.jsonl"),
    ) {
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        e.ingest_json(v["event"].to_string().as_bytes(), None);
    }
    let done = e.finish();
    let ops: Vec<&str> = done
        .rows
        .iter()
        .map(|r| col(r, "operation_lower"))
        .collect();
    assert!(ops.contains(&"microsoft.compute/virtualmachines/runcommand/action"));
    assert!(ops
        .contains(&"microsoft.compute/virtualmachinescalesets/virtualmachines/runcommand/action"));
    assert!(ops.contains(&"microsoft.automation/automationaccounts/jobs/write"));
    let vmss = done
        .rows
        .iter()
        .find(|r| col(r, "operation_lower").contains("scalesets"))
        .unwrap();
    assert_eq!(multi(vmss, "targeted_vms"), ["web-vmss/0"]);
    assert_eq!(done.warning, None, "{:?}", done.warning);
}

#[test]
fn microsoft_docs_and_escu_samples() {
    let Some(d) = data_dir() else { return };
    // Event Hub wrapper of a non-T1651 operation: split, parsed, ignored.
    let doc = std::fs::read(
        d.join("MicrosoftDocs_azure-monitor-docs/activity-log-schema.eventhub_records_sample.json"),
    )
    .unwrap();
    let recs = split_records(&doc).unwrap();
    assert_eq!(recs.len(), 1);
    let mut e = Engine::new(Options::default());
    for r in &recs {
        e.ingest_json(r, None);
    }
    // The whole wrapper as one Splunk event is a records_wrapper skip.
    e.ingest_json(&doc, None);
    let done = e.finish();
    assert_eq!(done.stats.ignored, 1);
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect skipped 1 event: 1 records_wrapper")
    );

    // ESCU webhook sample (guest MSA caller, malformed resourceGroup1providers path).
    let raw = std::fs::read(
        d.join("splunk_security_content/mscs_azure_audit__automationAccounts_webhooks_write.json"),
    )
    .unwrap();
    let mut e = Engine::new(opts(&[(
        "operations",
        "Microsoft.Automation/automationAccounts/webhooks/write",
    )]));
    e.ingest_json(&raw, None);
    let done = e.finish();
    let r = &done.rows[0];
    assert_eq!(col(r, "caller_identity"), "eviladmin@contoso.com");
    assert_eq!(col(r, "caller_type"), "guest");
    assert_eq!(col(r, "cross_tenant"), "TRUE");
    assert_eq!(col(r, "resource_group"), "resourcegroup1");
    assert_eq!(
        multi(r, "targeted_resources"),
        ["suspiciousautomationaccount"]
    );
    assert_eq!(multi(r, "source_ips"), ["190.0.0.1"]);

    // Stratus run-command sample (REST shape, no correlationId).
    let raw = std::fs::read(
        d.join("DataDog_stratus-red-team/azure.execution.vm-run-command.detection-sample.json"),
    )
    .unwrap();
    let mut e = Engine::new(Options::default());
    e.ingest_json(&raw, None);
    let done = e.finish();
    let r = &done.rows[0];
    assert_eq!(col(r, "caller_identity"), "you@domain.tld");
    assert_eq!(multi(r, "targeted_vms"), ["vm-4x3tj2hb"]);
    assert_eq!(col(r, "resource_group"), "rg-4x3tj2hb");
}
