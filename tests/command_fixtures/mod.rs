//! The scenario the command tests share: every log shape as splunkd would send it (see
//! `tests/command_shapes.rs` for the rows it must give).
#![allow(dead_code)]

use crate::command_support::{flat_event, json_event, raw_only, Event};
use crate::detect_support::{
    assumed_role, cloudtrail, iam_user, vm_id, Activity, EXT_WRITE, JOBS_WRITE, PARTNER, SUB,
};
use serde_json::json;

const VMSS_RC: &str = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action";
const ARC_RC: &str = "Microsoft.HybridCompute/machines/runCommands/write";

pub fn arm(rg: &str, rest: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/{rest}")
}

/// The three rows (Started, Accepted, Succeeded) of one Azure invocation.
pub fn three(a: &Activity) -> Vec<Activity> {
    ["Started", "Accepted", "Succeeded"]
        .iter()
        .map(|s| Activity {
            status: s,
            ..a.clone()
        })
        .collect()
}

/// Shape of an Azure activity as splunkd would send it.
#[derive(Clone, Copy)]
pub enum Shape {
    /// `mscs:azure:audit` REST JSON in `_raw` plus extracted fields.
    Rest,
    /// `mscs:azure:eventhub` record JSON in `_raw`.
    EventHub,
    /// REST facts as flattened fields only (`_raw` is not JSON).
    RestFlat,
    /// Event Hub facts as flattened fields only.
    EventHubFlat,
}

pub fn azure(a: &Activity, shape: Shape) -> Event {
    match shape {
        Shape::Rest => json_event(&a.rest(), "mscs:azure:audit", &a.time),
        Shape::EventHub => json_event(&a.eventhub(), "mscs:azure:eventhub", &a.time),
        Shape::RestFlat => flat_event(&a.rest(), "azure:audit", &a.time),
        Shape::EventHubFlat => flat_event(&a.eventhub(), "azure:activity", &a.time),
    }
}

pub fn ct(
    name: &str,
    identity: serde_json::Value,
    params: serde_json::Value,
    extra: serde_json::Value,
    time: &str,
    flat: bool,
) -> Event {
    let mut extra = extra;
    extra["eventTime"] = json!(time);
    let raw = cloudtrail(name, identity, params, extra);
    if flat {
        flat_event(&raw, "aws:cloudtrail", time)
    } else {
        json_event(&raw, "aws:cloudtrail", time)
    }
}

/// The scenario: one event list covering every shape, with the expected rows below.
pub fn scenario() -> Vec<Event> {
    let mut ev = Vec::new();
    // Alice: Run Command on vm-1..vm-4, three rows each, each VM in another shape;
    // the VM name's case varies across rows of one invocation.
    let shapes = [
        Shape::Rest,
        Shape::EventHub,
        Shape::RestFlat,
        Shape::EventHubFlat,
    ];
    for (i, shape) in shapes.iter().enumerate() {
        let corr = format!("c0000000-0000-4000-8000-00000000000{i}");
        let a = Activity::run_command(
            &format!("vm-{}", i + 1),
            "Started",
            &corr,
            &format!("2026-03-14T02:1{i}:00Z"),
        );
        for (k, mut row) in three(&a).into_iter().enumerate() {
            if k == 2 {
                row.resource_id = vm_id("RG-Prod", &format!("VM-{}", i + 1));
                row.time = format!("2026-03-14T02:1{i}:0{}Z", k + 1);
            }
            ev.push(azure(&row, *shape));
        }
    }
    // Alice: a failed attempt on vm-5 (not counted, failed_count 1).
    let f = Activity::run_command(
        "vm-5",
        "Started",
        "c0000000-0000-4000-8000-0000000000f5",
        "2026-03-14T02:20:00Z",
    );
    ev.push(azure(&f, Shape::Rest));
    ev.push(azure(
        &Activity {
            status: "Failed",
            ..f.clone()
        },
        Shape::Rest,
    ));
    // Alice: VMSS instance, extension child of a VM, Arc machine run command.
    let mut v = Activity::run_command(
        "x",
        "Succeeded",
        "c1000000-0000-4000-8000-000000000001",
        "2026-03-14T02:30:00Z",
    );
    v.op = VMSS_RC.into();
    v.resource_id = arm(
        "RG-Prod",
        "Microsoft.Compute/virtualMachineScaleSets/VMSS-Web/virtualMachines/3",
    );
    ev.push(azure(&v, Shape::EventHub));
    let mut x = Activity::run_command(
        "x",
        "Succeeded",
        "c1000000-0000-4000-8000-000000000002",
        "2026-03-14T02:31:00Z",
    );
    x.op = EXT_WRITE.into();
    x.resource_id = arm(
        "RG-Prod",
        "Microsoft.Compute/virtualMachines/vm-9/extensions/CustomScriptExtension",
    );
    ev.push(azure(&x, Shape::RestFlat));
    let mut arc = Activity::run_command(
        "x",
        "Succeeded",
        "c1000000-0000-4000-8000-000000000003",
        "2026-03-14T02:32:00Z",
    );
    arc.op = ARC_RC.into();
    arc.resource_id = arm(
        "RG-Arc",
        "Microsoft.HybridCompute/machines/Arc-01/runCommands/rc1",
    );
    ev.push(azure(&arc, Shape::Rest));
    // Automation job by a runbook operator: targets the account (a resource, not a VM).
    let mut job = Activity::run_command(
        "x",
        "Started",
        "c1000000-0000-4000-8000-000000000004",
        "2026-03-14T05:02:00Z",
    );
    job.op = JOBS_WRITE.into();
    job.upn = Some("ops.runbook@contoso.example".into());
    job.resource_id = arm(
        "RG-Automation",
        "Microsoft.Automation/automationAccounts/AA-Ops/jobs/j-1",
    );
    ev.push(azure(&job, Shape::EventHub));
    ev.push(azure(
        &Activity {
            status: "Succeeded",
            ..job.clone()
        },
        Shape::EventHub,
    ));
    // A B2B guest: no upn, name claim, identity provider = partner tenant.
    let mut g = Activity::run_command(
        "vm-db-1",
        "Succeeded",
        "c2000000-0000-4000-8000-000000000001",
        "2026-03-14T04:30:00Z",
    );
    g.upn = None;
    g.idp = Some(format!("https://sts.windows.net/{PARTNER}/"));
    g.ip = Some("198.51.100.23".into());
    g.extra_claims = vec![(
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name".into(),
        "ops@northwind.example".into(),
    )];
    g.resource_id = vm_id("RG-Data", "vm-db-1");
    ev.push(azure(&g, Shape::Rest));
    // A service principal (appid, no upn, no client IP) in the records shape.
    let mut sp = Activity::run_command(
        "vm-1",
        "Succeeded",
        "c3000000-0000-4000-8000-000000000001",
        "2026-03-13T22:00:00Z",
    );
    sp.upn = None;
    sp.ip = None;
    sp.evidence_type = Some("ServicePrincipal".into());
    sp.extra_claims = vec![
        (
            "appid".into(),
            "eeee0000-1111-4222-8333-000000000005".into(),
        ),
        ("idtyp".into(), "app".into()),
    ];
    ev.push(azure(&sp, Shape::EventHub));
    // Cross-tenant (Lighthouse / AOBO): the token's tenant is the partner's.
    let mut l = Activity::run_command(
        "vm-db-2",
        "Succeeded",
        "c4000000-0000-4000-8000-000000000001",
        "2026-03-14T04:40:00Z",
    );
    l.upn = Some("tech@partner.example".into());
    l.tenant_claim = Some(PARTNER.into());
    l.resource_id = vm_id("RG-Data", "vm-db-2");
    ev.push(azure(&l, Shape::EventHubFlat));
    // AWS: IAM user SendCommand to 3 instances (JSON), and to 2 more as flattened fields
    // only (a `requestParameters.instanceIds{}` multivalue in `__mv_` encoding).
    let ids = |n: std::ops::RangeInclusive<u32>| {
        json!(n
            .map(|i| format!("i-0a1b2c3d4e5f6000{i}"))
            .collect::<Vec<_>>())
    };
    ev.push(ct(
        "SendCommand",
        iam_user("build-agent"),
        json!({"instanceIds": ids(1..=3), "documentName": "AWS-RunShellScript"}),
        json!({}),
        "2026-03-14T03:05:00Z",
        false,
    ));
    ev.push(ct(
        "SendCommand",
        iam_user("build-agent"),
        json!({"instanceIds": ids(4..=5), "documentName": "AWS-RunShellScript"}),
        json!({"requestID": "r-2"}),
        "2026-03-14T03:06:00Z",
        true,
    ));
    // Failed (AccessDenied): counted only in failed_count of its own group (no row).
    ev.push(ct(
        "SendCommand",
        iam_user("intern"),
        json!({"instanceIds": ids(6..=9)}),
        json!({"errorCode": "AccessDenied", "responseElements": null, "requestID": "r-3"}),
        "2026-03-14T03:07:00Z",
        false,
    ));
    // Assumed role: Session Manager (target), flattened.
    ev.push(ct(
        "StartSession",
        assumed_role("OpsAdmin", "jane.doe"),
        json!({"target": "i-0a1b2c3d4e5f60003"}),
        json!({"requestID": "r-4"}),
        "2026-03-14T03:12:00Z",
        true,
    ));
    // Assumed role: tag-targeted SendCommand (JSON; multivalue targets{} fields extracted).
    ev.push(ct("SendCommand", assumed_role("PatchAutomation", "i-0fedcba9876543210"), json!({"targets": [{"key": "tag:Environment", "values": ["prod"]}], "documentName": "AWS-RunPowerShellScript"}), json!({"requestID": "r-5"}), "2026-03-14T03:20:00Z", false));
    // Noise: another operation, an unrelated AWS call.
    let mut n = Activity::run_command(
        "vm-1",
        "Succeeded",
        "c5000000-0000-4000-8000-000000000001",
        "2026-03-14T02:00:00Z",
    );
    n.op = "Microsoft.Compute/virtualMachines/start/action".into();
    ev.push(azure(&n, Shape::Rest));
    ev.push(ct(
        "DescribeInstanceInformation",
        iam_user("build-agent"),
        json!({}),
        json!({"requestID": "r-6"}),
        "2026-03-14T03:01:00Z",
        false,
    ));
    ev
}

/// Bad input: broken JSON `_raw` (twice), JSON cut short (Splunk TRUNCATE) and a record
/// that is no audit record.
pub fn bad_events() -> Vec<Event> {
    vec![
        raw_only(
            "{\"operationName\": nope, \"resourceId\": \"/x\"}",
            "2026-03-14T02:00:00Z",
        ),
        raw_only(
            "{\"caller\": \"x\",, \"status\": 1}",
            "2026-03-14T02:00:01Z",
        ),
        raw_only(
            "{\"operationName\": {\"value\": \"Microsoft.Compute/virtual",
            "2026-03-14T02:00:03Z",
        ),
        raw_only("{\"hello\": \"world\"}", "2026-03-14T02:00:02Z"),
    ]
}

/// Real-world mess around [`scenario`]: copies of two of its records (double ingestion: a
/// CloudTrail JSON event and an Azure Event Hub row), a record cut by TRUNCATE with no
/// extracted columns (skipped as `truncated`), and a cut record of the build agent's
/// SendCommand whose extracted columns are whole (used: they win over the cut `_raw`, and
/// it is a copy of an existing record, so it counts as a duplicate). With them the rows
/// are exactly those of `all` (one [`scenario`]: each call makes new eventIDs).
pub fn mess_events(all: &[Event]) -> Vec<Event> {
    let is_json = |e: &&Event| e.get("_raw").is_some_and(|r| r[0].starts_with('{'));
    let ct = all
        .iter()
        .filter(is_json)
        .find(|e| {
            e.get("sourcetype")
                .is_some_and(|s| s[0] == "aws:cloudtrail")
        })
        .expect("a CloudTrail JSON event")
        .clone();
    let az = all
        .iter()
        .filter(is_json)
        .find(|e| {
            e.get("sourcetype")
                .is_some_and(|s| s[0] != "aws:cloudtrail")
        })
        .expect("an Azure JSON event")
        .clone();
    let mut cut_with_columns = ct.clone();
    let raw = ct["_raw"][0].clone();
    cut_with_columns.insert("_raw".into(), vec![raw[..raw.len() / 3].to_owned()]);
    let mut other = Activity::run_command(
        "vm-cut",
        "Succeeded",
        "cccccccc-0000-4000-8000-00000000cccc",
        "2026-03-14T05:00:00Z",
    );
    other.upn = Some("cut.user@contoso.example".into());
    let rest = other.rest();
    let cut = rest.find("\"caller\"").unwrap() + 14;
    vec![
        ct,
        az,
        cut_with_columns,
        raw_only(&rest[..cut], "2026-03-14T05:00:00Z"),
    ]
}
