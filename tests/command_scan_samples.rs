//! `t1651detect scan samples/` (the spawned binary) prints the findings samples/README.md
//! lists, with default options, `--include-failed` and `--threshold 6`; and the scan exposes
//! exactly the command's options minus the distributed-search ones.

mod command_support;
mod scp_emulator;

use std::process::Command;

use serde_json::Value;
use t1651::detect::options::OPTION_NAMES;
use t1651::scan::cli::SCAN_OPTION_NAMES;

const RC: &str = "microsoft.compute/virtualmachines/runcommand/action";
const VMSS_RC: &str = "microsoft.compute/virtualmachinescalesets/virtualmachines/runcommand/action";
const EXT: &str = "microsoft.compute/virtualmachines/extensions/write";
const JOBS: &str = "microsoft.automation/automationaccounts/jobs/write";
const SEND: &str = "ssm.amazonaws.com/sendcommand";
const SESSION: &str = "ssm.amazonaws.com/startsession";
const SET_METADATA: &str = "compute.instances.setmetadata";
const PROJECT_METADATA: &str = "compute.projects.setcommoninstancemetadata";
const PATCH_JOB: &str = "osconfig.executepatchjob";
const DEPLOYER: &str = "deployer@contoso-prod-4711.iam.gserviceaccount.com";

/// One expected row of samples/README.md.
struct Expect {
    caller: &'static str,
    caller_type: &'static str,
    op: &'static str,
    rg: &'static str,
    count: u64,
    vm_count: u64,
    failed: u64,
    multi: bool,
    cross: bool,
    ips: &'static [&'static str],
    first: &'static str,
    cloud: &'static str,
}

fn scan(extra: &[&str]) -> (Vec<Value>, String) {
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    command_support::scan_json(std::path::Path::new(samples), extra)
}

fn s<'a>(row: &'a Value, k: &str) -> &'a str {
    row[k]
        .as_str()
        .unwrap_or_else(|| panic!("{k} not a string in {row}"))
}

fn list(row: &Value, k: &str) -> Vec<String> {
    command_support::json_list(row, k, true)
}

fn find<'a>(rows: &'a [Value], caller: &str, op: &str, rg: &str) -> &'a Value {
    let hits: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            s(r, "caller_identity") == caller
                && s(r, "operation_lower") == op
                && s(r, "resource_group").eq_ignore_ascii_case(rg)
        })
        .collect();
    assert_eq!(hits.len(), 1, "rows for ({caller}, {op}, {rg}): {hits:?}");
    hits[0]
}

fn check(rows: &[Value], e: &Expect) {
    let r = find(rows, e.caller, e.op, e.rg);
    let ctx = format!("{} {}", e.caller, e.op);
    assert_eq!(s(r, "caller_type"), e.caller_type, "{ctx}");
    assert_eq!(s(r, "cloud"), e.cloud, "{ctx}");
    assert_eq!(s(r, "invocation_count"), e.count.to_string(), "{ctx}");
    assert_eq!(s(r, "vm_count"), e.vm_count.to_string(), "{ctx}");
    assert_eq!(list(r, "targeted_vms").len() as u64, e.vm_count, "{ctx}");
    assert_eq!(s(r, "failed_count"), e.failed.to_string(), "{ctx}");
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
    assert_eq!(s(r, "multi_vm_targeting"), flag(e.multi), "{ctx}");
    assert_eq!(s(r, "cross_tenant"), flag(e.cross), "{ctx}");
    assert_eq!(list(r, "source_ips"), e.ips, "{ctx}");
    assert_eq!(s(r, "event_time"), e.first, "{ctx}");
}

fn default_rows() -> Vec<Expect> {
    let admin = "it.admin@contoso.example";
    let e =
        |caller, caller_type, op, rg, count, vm_count, multi, cross, ips, first, cloud| Expect {
            caller,
            caller_type,
            op,
            rg,
            count,
            vm_count,
            failed: 0,
            multi,
            cross,
            ips,
            first,
            cloud,
        };
    vec![
        Expect {
            failed: 1,
            ..e(
                admin,
                "user",
                RC,
                "rg-prod-app",
                6,
                6,
                true,
                false,
                &["203.0.113.45"],
                "2026-03-14T02:11:05Z",
                "azure",
            )
        },
        e(
            "arn:aws:iam::111122223333:user/build-agent",
            "iam_user",
            SEND,
            "",
            2,
            10,
            true,
            false,
            &["203.0.113.45"],
            "2026-03-14T03:05:12Z",
            "aws",
        ),
        e(
            "ops@northwind.example",
            "guest",
            RC,
            "rg-prod-data",
            2,
            2,
            false,
            true,
            &["198.51.100.23"],
            "2026-03-14T04:30:10Z",
            "azure",
        ),
        e(
            admin,
            "user",
            RC,
            "rg-prod-data",
            2,
            2,
            false,
            false,
            &["203.0.113.45"],
            "2026-03-14T02:16:40Z",
            "azure",
        ),
        e(
            admin,
            "user",
            VMSS_RC,
            "rg-prod-app",
            1,
            1,
            false,
            false,
            &["203.0.113.45"],
            "2026-03-14T02:15:48Z",
            "azure",
        ),
        Expect {
            failed: 1,
            ..e(
                admin,
                "user",
                EXT,
                "rg-prod-web",
                1,
                1,
                false,
                false,
                &["203.0.113.45"],
                "2026-03-14T03:14:40Z",
                "azure",
            )
        },
        e(
            "eeee0000-1111-4222-8333-000000000005",
            "service_principal",
            RC,
            "rg-prod-app",
            1,
            1,
            false,
            false,
            &[],
            "2026-03-13T22:00:04Z",
            "azure",
        ),
        e(
            "ops.runbook@contoso.example",
            "user",
            JOBS,
            "rg-automation",
            1,
            0,
            false,
            false,
            &["203.0.113.80"],
            "2026-03-14T05:02:11Z",
            "azure",
        ),
        e(
            "arn:aws:iam::111122223333:role/OpsAdmin",
            "assumed_role",
            SESSION,
            "",
            1,
            1,
            false,
            false,
            &["198.51.100.12"],
            "2026-03-14T03:12:44Z",
            "aws",
        ),
        e(
            "arn:aws:iam::111122223333:role/PatchAutomation",
            "assumed_role",
            SEND,
            "",
            1,
            0,
            true,
            false,
            &["198.51.100.200"],
            "2026-03-14T03:20:00Z",
            "aws",
        ),
        // The Atomic Red Team validation files (samples/validation/atomic-*): rows 11-14.
        e(
            "arn:aws:iam::111122223333:user/atomic-tester",
            "iam_user",
            SEND,
            "",
            2,
            1, // one named instance; the tag target is a selector
            true,
            false,
            &["198.51.100.60"],
            "2026-03-15T10:20:44Z",
            "aws",
        ),
        e(
            "atomic.tester@contoso.example",
            "user",
            RC,
            "rg-atomic-lab",
            1,
            1,
            false,
            false,
            &["198.51.100.60"],
            "2026-03-15T10:02:07Z",
            "azure",
        ),
        e(
            "f0000000-0000-4000-8000-0000000000f7",
            "service_principal",
            RC,
            "rg-atomic-lab",
            1,
            1,
            false,
            false,
            &[],
            "2026-03-15T10:09:31Z",
            "azure",
        ),
        e(
            "atomic.tester@contoso.example",
            "user",
            JOBS,
            "rg-atomic-lab",
            1,
            0,
            false,
            false,
            &["198.51.100.60"],
            "2026-03-15T10:41:00Z",
            "azure",
        ),
        // Google Cloud (samples/gcp)
        e(
            admin,
            "user",
            SET_METADATA,
            "europe-west1-b",
            4,
            4,
            true,
            false,
            &["203.0.113.45"],
            "2026-03-14T06:00:05Z",
            "gcp",
        ),
        e(
            DEPLOYER,
            "service_account",
            PROJECT_METADATA,
            "-",
            1,
            0,
            true,
            false,
            &["203.0.113.45"],
            "2026-03-14T06:10:00Z",
            "gcp",
        ),
        e(
            DEPLOYER,
            "service_account",
            PATCH_JOB,
            "-",
            1,
            0,
            true,
            false,
            &["203.0.113.45"],
            "2026-03-14T06:12:30Z",
            "gcp",
        ),
    ]
}

#[test]
fn default_scan_prints_the_readme_findings() {
    let (rows, stderr) = scan(&[]);
    assert_eq!(rows.len(), 17, "{rows:#?}");
    for e in default_rows() {
        check(&rows, &e);
    }
    // Sorted by invocation_count descending.
    let counts: Vec<u64> = rows
        .iter()
        .map(|r| s(r, "invocation_count").parse().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    // Details the table does not show.
    let sub = "cccc0000-1111-4222-8333-000000000003";
    let r = find(&rows, "it.admin@contoso.example", RC, "rg-prod-app");
    assert_eq!(
        list(r, "targeted_vms"),
        (1..=6).map(|i| format!("vm-app-0{i}")).collect::<Vec<_>>()
    );
    assert_eq!(s(r, "subscription_id"), sub);
    let r = find(&rows, "ops.runbook@contoso.example", JOBS, "rg-automation");
    assert_eq!(list(r, "targeted_resources"), ["aa-ops"]);
    let r = find(
        &rows,
        "arn:aws:iam::111122223333:role/OpsAdmin",
        SESSION,
        "",
    );
    assert_eq!(list(r, "caller_session"), ["jane.doe"]);
    assert_eq!(list(r, "targeted_vms"), ["i-0a1b2c3d4e5f60003"]);
    let r = find(
        &rows,
        "arn:aws:iam::111122223333:role/PatchAutomation",
        SEND,
        "",
    );
    assert_eq!(list(r, "caller_session"), ["i-0fedcba9876543210"]);
    assert!(list(r, "targeted_vms").is_empty());
    // A tag target selects every matching instance: not a VM, and a finding.
    assert_eq!(list(r, "target_selectors"), ["tag:Environment=prod"]);
    let r = find(
        &rows,
        "arn:aws:iam::111122223333:user/build-agent",
        SEND,
        "",
    );
    assert_eq!(s(r, "subscription_id"), "111122223333");
    // Google Cloud: script keys named, selectors, impersonation.
    let r = find(
        &rows,
        "it.admin@contoso.example",
        SET_METADATA,
        "europe-west1-b",
    );
    assert_eq!(
        list(r, "targeted_vms"),
        ["app-1", "app-2", "app-3", "app-4"]
    );
    assert_eq!(list(r, "documents"), ["startup-script"]);
    assert_eq!(s(r, "subscription_id"), "contoso-prod-4711");
    let r = find(&rows, DEPLOYER, PROJECT_METADATA, "-");
    assert_eq!(
        list(r, "target_selectors"),
        ["project-metadata=contoso-prod-4711"]
    );
    assert_eq!(list(r, "caller_session"), ["it.admin@contoso.example"]);
    assert_eq!(list(r, "documents"), ["startup-script-url"]);
    let r = find(&rows, DEPLOYER, PATCH_JOB, "-");
    assert_eq!(
        list(r, "target_selectors"),
        ["patchJob=9f3c2a1b-0000-4000-8000-000000000001"]
    );
    assert_eq!(s(r, "vendor_product"), "Google Cloud VM Manager");
    assert!(
        stderr.contains("95 events")
            && stderr.contains("not_selected 20")
            && stderr.contains("17 rows, 8 findings (7 multi-VM, 1 cross-tenant)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "clean samples give no warning: {stderr}"
    );
}

#[test]
fn include_failed_adds_the_failed_invocations() {
    let (rows, stderr) = scan(&["--include-failed"]);
    assert_eq!(rows.len(), 19);
    let admin = "it.admin@contoso.example";
    let r = find(&rows, admin, RC, "rg-prod-app");
    assert_eq!(
        (
            s(r, "invocation_count"),
            s(r, "vm_count"),
            s(r, "failed_count")
        ),
        ("7", "7", "1")
    );
    assert!(list(r, "targeted_vms").contains(&"vm-app-07".to_owned()));
    let r = find(&rows, admin, EXT, "rg-prod-web");
    assert_eq!(
        (
            s(r, "invocation_count"),
            s(r, "vm_count"),
            s(r, "multi_vm_targeting")
        ),
        ("2", "2", "FALSE")
    );
    check(
        &rows,
        &Expect {
            caller: "arn:aws:iam::111122223333:user/intern",
            caller_type: "iam_user",
            op: SEND,
            rg: "",
            count: 1,
            vm_count: 5,
            failed: 1,
            multi: true,
            cross: false,
            ips: &["198.51.100.77"],
            first: "2026-03-14T03:09:30Z",
            cloud: "aws",
        },
    );
    // The refused GCP setMetadata names a script key: one failed invocation.
    check(
        &rows,
        &Expect {
            caller: "intern@contoso.example",
            caller_type: "user",
            op: SET_METADATA,
            rg: "europe-west1-b",
            count: 1,
            vm_count: 1,
            failed: 1,
            multi: false,
            cross: false,
            ips: &["198.51.100.77"],
            first: "2026-03-14T06:07:30Z",
            cloud: "gcp",
        },
    );
    assert!(
        stderr.contains("19 rows, 9 findings (8 multi-VM, 1 cross-tenant)"),
        "{stderr}"
    );
}

#[test]
fn threshold_six_keeps_only_the_ten_instance_sweep() {
    let (rows, stderr) = scan(&["--threshold", "6"]);
    assert_eq!(rows.len(), 17);
    let multi: Vec<&str> = rows
        .iter()
        .filter(|r| s(r, "multi_vm_targeting") == "TRUE")
        .map(|r| s(r, "caller_identity"))
        .collect();
    // The tag-targeted SendCommand, the project-wide metadata write and the patch job
    // stay findings whatever the threshold.
    assert_eq!(
        multi,
        [
            "arn:aws:iam::111122223333:user/atomic-tester",
            "arn:aws:iam::111122223333:user/build-agent",
            "arn:aws:iam::111122223333:role/PatchAutomation",
            DEPLOYER,
            DEPLOYER
        ]
    );
    assert!(
        stderr.contains("17 rows, 6 findings (5 multi-VM, 1 cross-tenant)"),
        "{stderr}"
    );
}

#[test]
fn bad_option_is_a_usage_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_t1651detect"))
        .args(["scan", "--threshold", "many", "samples"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("threshold") && err.contains("integer"),
        "{err}"
    );
}

#[test]
fn scan_options_are_the_command_options_minus_distributed_ones() {
    let mut want: Vec<&str> = OPTION_NAMES
        .iter()
        .copied()
        .filter(|n| !matches!(*n, "distributed" | "phase"))
        .collect();
    let mut got = SCAN_OPTION_NAMES.to_vec();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
}
