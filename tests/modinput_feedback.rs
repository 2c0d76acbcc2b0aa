//! Feedback check: the events the modular input writes, fed back through the detection,
//! produce the expected findings.
//!
//! The emulators serve a backlog holding known T1651 scenarios plus noise; the input binary
//! collects it (one Azure stanza, one AWS stanza); the `<data>` of every emitted event is
//! written to a JSON-lines file, which the real `t1651detect scan --format json` turns into
//! findings.
//! The findings are asserted exactly, so anything that changes an event on its way through
//! the input — a field dropped, JSON re-encoded wrongly, an event lost, doubled or let through
//! the operation filter — shows up as a wrong count here.

mod modinput_support;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use modinput_support::fixtures::{
    azure_event, cloudtrail_event, AzureEventSpec, CloudTrailSpec, Rng,
};
use modinput_support::*;
use serde_json::{json, Map, Value};

const ACCOUNT: &str = "123456789012";
const RUN_COMMAND: &str = "Microsoft.Compute/virtualMachines/runCommand/action";
const EXTENSION_WRITE: &str = "Microsoft.Compute/virtualMachines/extensions/write";

/// One Azure invocation: rows with the given statuses, one second apart, sharing a fresh
/// correlationId, each with its own eventDataId.
fn azure_invocation(
    rng: &mut Rng,
    at: DateTime<Utc>,
    operation: &str,
    caller: &str,
    ip: &str,
    vm: &str,
    statuses: &[&str],
) -> Vec<Value> {
    let correlation_id = rng.guid();
    statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            azure_event(&AzureEventSpec {
                event_data_id: rng.guid(),
                correlation_id: correlation_id.clone(),
                time: at + Duration::seconds(i as i64),
                operation: operation.to_string(),
                status: status.to_string(),
                subscription_id: SUB_A.to_string(),
                tenant_id: TENANT.to_string(),
                resource_group: "rg-prod-1".into(),
                vm: vm.to_string(),
                caller: caller.to_string(),
                caller_ip: ip.to_string(),
            })
        })
        .collect()
}

/// The Azure Activity Log of the scenario: (events, ids of those the input must not send).
fn azure_log(rng: &mut Rng, t0: DateTime<Utc>) -> (Vec<Value>, HashSet<String>) {
    let lifecycle = ["Started", "Accepted", "Succeeded"];
    let mut log = Vec::new();
    // The attack: one caller runs Run Command on five VMs within minutes.
    for i in 0..5 {
        log.extend(azure_invocation(
            rng,
            t0 + Duration::minutes(i),
            RUN_COMMAND,
            "mallory@contoso.com",
            "203.0.113.66",
            &format!("vm-app-{i:02}"),
            &lifecycle,
        ));
    }
    // Routine admin work: one Run Command on one VM.
    log.extend(azure_invocation(
        rng,
        t0 + Duration::minutes(20),
        RUN_COMMAND,
        "alice@contoso.com",
        "198.51.100.23",
        "vm-web-07",
        &lifecycle,
    ));
    // A pipeline installing an extension on two VMs (Started + Succeeded each).
    for vm in ["vm-db-01", "vm-db-02"] {
        log.extend(azure_invocation(
            rng,
            t0 + Duration::minutes(30),
            EXTENSION_WRITE,
            "deploy-pipeline@contoso.com",
            "2001:db8::42",
            vm,
            &["Started", "Succeeded"],
        ));
    }
    // A failed Run Command: collected, but not a finding (failed invocations are not counted).
    log.extend(azure_invocation(
        rng,
        t0 + Duration::minutes(40),
        RUN_COMMAND,
        "bob@contoso.com",
        "198.51.100.24",
        "vm-web-01",
        &["Started", "Failed"],
    ));
    // Noise of the same provider that the input's operation filter drops.
    let mut dropped = HashSet::new();
    for (i, op) in [
        "Microsoft.Compute/virtualMachines/write",
        "Microsoft.Compute/virtualMachines/start/action",
        "Microsoft.Compute/disks/write",
    ]
    .iter()
    .enumerate()
    {
        for ev in azure_invocation(
            rng,
            t0 + Duration::minutes(50 + i as i64),
            op,
            "mallory@contoso.com",
            "203.0.113.66",
            &format!("vm-app-{i:02}"),
            &["Started", "Succeeded"],
        ) {
            dropped.insert(ev["eventDataId"].as_str().unwrap().to_string());
            log.push(ev);
        }
    }
    (log, dropped)
}

fn cloudtrail(rng: &mut Rng, at: DateTime<Utc>, name: &str, user: &str, instance: &str) -> Value {
    cloudtrail_event(&CloudTrailSpec {
        event_id: rng.guid(),
        time: at,
        event_name: name.to_string(),
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
        user: user.to_string(),
        instance_id: instance.to_string(),
        source_ip: "203.0.113.77".into(),
        request_id: rng.guid(),
        command_id: rng.guid(),
    })
}

/// The CloudTrail log of the scenario: (records, ids of those the input must not send).
fn aws_log(rng: &mut Rng, t0: DateTime<Utc>) -> (Vec<Value>, HashSet<String>) {
    let instances = [
        "i-0a1b2c3d4e5f60001",
        "i-0a1b2c3d4e5f60002",
        "i-0a1b2c3d4e5f60003",
        "i-0a1b2c3d4e5f60004",
    ];
    let assumed_role = json!({
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID0001:eve",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/OpsAutomation/eve"),
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLESESSION01",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID0001",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/OpsAutomation"),
                "accountId": ACCOUNT,
                "userName": "OpsAutomation"
            },
            "attributes": {"creationDate": "2024-05-01T07:00:00Z", "mfaAuthenticated": "false"}
        }
    });
    // The attack: one SendCommand to four instances by an assumed role.
    let mut send = cloudtrail(rng, t0, "SendCommand", "eve", instances[0]);
    send["userIdentity"] = assumed_role.clone();
    send["requestParameters"]["instanceIds"] = json!(instances);
    send["responseElements"]["command"]["instanceIds"] = json!(instances);
    send["responseElements"]["command"]["targetCount"] = json!(instances.len());
    // Routine: an IAM user opens a session on one instance.
    let session = cloudtrail(
        rng,
        t0 + Duration::minutes(10),
        "StartSession",
        "alice",
        "i-0fedcba987654321a",
    );
    // Noise: an SSM read call of the same role; the input never asks for this event name.
    let mut noise = cloudtrail(
        rng,
        t0 + Duration::minutes(1),
        "GetCommandInvocation",
        "eve",
        instances[0],
    );
    noise["userIdentity"] = assumed_role;
    let dropped = HashSet::from([noise["eventID"].as_str().unwrap().to_string()]);
    (vec![send, session, noise], dropped)
}

/// Run the input once for `stanza` and return the `<data>` of every event it wrote.
fn collect(emu: &Shared, stanza: &str, params: &[(String, String)]) -> Vec<String> {
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir(&format!("feedback-{}", stanza.rsplit('/').next().unwrap()));
    let out = run_bin(
        &[],
        input_xml(&base, &cp, stanza, &as_refs(params)).as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    out.events.into_iter().map(|e| e.data).collect()
}

/// The detection binary under test.
const DETECT: &str = env!("CARGO_BIN_EXE_t1651detect");

/// `t1651detect scan --format json <file>` with default options (plus `extra` arguments):
/// (exit code, one object per output row, stderr).
fn scan(file: &Path, extra: &[&str]) -> (Option<i32>, Vec<Map<String, Value>>, String) {
    let out = Command::new(DETECT)
        .args(["scan", "--format", "json"])
        .args(extra)
        .arg(file)
        .output()
        .expect("run t1651detect scan");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let rows = stdout
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("not a JSON object row: {l} ({other:?})"),
        })
        .collect();
    (
        out.status.code(),
        rows,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The columns asserted, per finding: (caller_identity, operation_lower) → (vm_count,
/// multi_vm_targeting, invocation_count, cloud).
type Findings = BTreeMap<(String, String), (String, String, String, String)>;

fn findings(rows: &[Map<String, Value>]) -> Findings {
    let col = |r: &Map<String, Value>, name: &str| -> String {
        match r.get(name) {
            Some(Value::String(s)) => s.clone(),
            other => panic!("column {name} is {other:?} in {r:?}"),
        }
    };
    let mut f = Findings::new();
    for r in rows {
        let key = (col(r, "caller_identity"), col(r, "operation_lower"));
        let val = (
            col(r, "vm_count"),
            col(r, "multi_vm_targeting"),
            col(r, "invocation_count"),
            col(r, "cloud"),
        );
        assert!(f.insert(key.clone(), val).is_none(), "two rows for {key:?}");
    }
    f
}

fn finding(
    caller: &str,
    op: &str,
    vms: u32,
    multi: &str,
    invocations: u32,
    cloud: &str,
) -> ((String, String), (String, String, String, String)) {
    (
        (caller.into(), op.into()),
        (
            vms.to_string(),
            multi.into(),
            invocations.to_string(),
            cloud.into(),
        ),
    )
}

#[test]
fn collected_events_produce_the_expected_findings() {
    let emu = start();
    let now = Utc::now();
    let t0 = now - Duration::hours(2);
    let mut rng = Rng::new(5_1651);
    let (azure, azure_dropped) = azure_log(&mut rng, t0);
    let (aws, aws_dropped) = aws_log(&mut rng, t0);
    let azure_wanted = azure.len() - azure_dropped.len();
    let aws_wanted = aws.len() - aws_dropped.len();
    {
        let mut e = emu.lock().unwrap();
        e.azure_events = azure.into_iter().map(|v| (SUB_A.to_string(), v)).collect();
        e.aws_events = aws
            .into_iter()
            .map(|v| ("us-east-1".to_string(), v))
            .collect();
    }
    let base = emu.lock().unwrap().base_url.clone();

    let azure_data = collect(
        &emu,
        "t1651_cloud_audit://feedback-azure",
        &azure_params(&base),
    );
    let aws_data = collect(&emu, "t1651_cloud_audit://feedback-aws", &aws_params(&base));
    // The input itself: every wanted event once, no noise.
    let ids = |data: &[String], field: &str| -> HashSet<String> {
        data.iter()
            .map(|d| {
                let v: Value = serde_json::from_str(d).expect("event data is JSON");
                v[field].as_str().unwrap().to_string()
            })
            .collect()
    };
    let azure_ids = ids(&azure_data, "eventDataId");
    let aws_ids = ids(&aws_data, "eventID");
    assert_eq!(
        (azure_data.len(), azure_ids.len()),
        (azure_wanted, azure_wanted)
    );
    assert_eq!((aws_data.len(), aws_ids.len()), (aws_wanted, aws_wanted));
    assert!(azure_ids.is_disjoint(&azure_dropped) && aws_ids.is_disjoint(&aws_dropped));

    let mut all = azure_data;
    all.extend(aws_data);
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("modinput-feedback.json");
    {
        let mut f = std::fs::File::create(&file).unwrap();
        for d in &all {
            writeln!(f, "{d}").unwrap();
        }
    }
    let (code, rows, stderr) = scan(&file, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    // Every event the input wrote was read and used by the detection.
    assert!(
        stderr.contains(&format!("scan: 1 file, {} events", all.len())),
        "{stderr}"
    );
    assert!(
        !stderr.contains("input problem") && !stderr.contains("not used"),
        "{stderr}"
    );

    let expected: Findings = [
        finding(
            "mallory@contoso.com",
            "microsoft.compute/virtualmachines/runcommand/action",
            5,
            "TRUE",
            5,
            "azure",
        ),
        finding(
            "alice@contoso.com",
            "microsoft.compute/virtualmachines/runcommand/action",
            1,
            "FALSE",
            1,
            "azure",
        ),
        finding(
            "deploy-pipeline@contoso.com",
            "microsoft.compute/virtualmachines/extensions/write",
            2,
            "FALSE",
            2,
            "azure",
        ),
        finding(
            &format!("arn:aws:iam::{ACCOUNT}:role/OpsAutomation"),
            "ssm.amazonaws.com/sendcommand",
            4,
            "TRUE",
            1,
            "aws",
        ),
        finding(
            &format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            "ssm.amazonaws.com/startsession",
            1,
            "FALSE",
            1,
            "aws",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(findings(&rows), expected);
    // Rows come ordered by invocation_count, largest first: the attack leads.
    assert_eq!(rows[0]["caller_identity"], "mallory@contoso.com");
    assert_eq!(
        rows[0]["targeted_vms"],
        json!([
            "vm-app-00",
            "vm-app-01",
            "vm-app-02",
            "vm-app-03",
            "vm-app-04"
        ])
    );
    // And the scanner's CI switch sees the two multi-VM findings.
    let (code, _, stderr) = scan(&file, &["--fail-on-findings", "--quiet"]);
    assert_eq!(code, Some(1), "{stderr}");
}

/// An Activity Log REST event (what this input and the MSCS add-on's REST input index as
/// `mscs:azure:audit`) as the same event arrives through diagnostic settings → Event Hub →
/// the Microsoft Cloud Services add-on (`mscs:azure:eventhub`) or Data Manager: one record,
/// upper-case `operationName` and `resourceId`, `resultType`, claims and authorization under
/// `identity`, no `caller`, no `eventDataId`.
fn as_event_hub_record(rest: &Value) -> Value {
    let status = rest["status"]["value"].as_str().unwrap();
    let result_type = match status {
        "Started" => "Start",
        "Accepted" => "Accept",
        "Succeeded" => "Success",
        "Failed" => "Failure",
        other => other,
    };
    json!({
        "time": rest["eventTimestamp"],
        "resourceId": rest["resourceId"].as_str().unwrap().to_uppercase(),
        "operationName": rest["operationName"]["value"].as_str().unwrap().to_uppercase(),
        "category": "Administrative",
        "resultType": result_type,
        "resultSignature": format!("{status}."),
        "durationMs": 0,
        "callerIpAddress": rest["httpRequest"]["clientIpAddress"],
        "correlationId": rest["correlationId"],
        "identity": {"authorization": rest["authorization"], "claims": rest["claims"]},
        "level": "Information",
        "location": "global",
        "tenantId": rest["tenantId"],
        "properties": {"statusCode": rest["properties"]["statusCode"], "eventCategory": "Administrative"},
    })
}

fn write_lines(name: &str, lines: &[String]) -> std::path::PathBuf {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut f = std::fs::File::create(&file).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    file
}

/// Where this input sits among Splunk's collectors (README, "When to use this input"): the
/// detection reads the standard pipelines' shapes unchanged and finds the same thing.
/// * Azure: the same Activity Log through diagnostic settings → Event Hub → MSCS add-on
///   (`mscs:azure:eventhub` records) gives the findings of the input's REST events.
/// * AWS: an Organization trail → S3 → SQS read by the Splunk Add-on for AWS, and Firehose →
///   HEC, both index each CloudTrail record as one `aws:cloudtrail` event: the raw records
///   give the findings of the input's LookupEvents `CloudTrailEvent`s.
#[test]
fn standard_pipeline_shapes_give_the_same_findings() {
    let emu = start();
    let now = Utc::now();
    let t0 = now - Duration::hours(2);
    let mut rng = Rng::new(5_1651);
    let (azure, azure_dropped) = azure_log(&mut rng, t0);
    let (aws, aws_dropped) = aws_log(&mut rng, t0);
    {
        let mut e = emu.lock().unwrap();
        e.azure_events = azure
            .iter()
            .map(|v| (SUB_A.to_string(), v.clone()))
            .collect();
        e.aws_events = aws
            .iter()
            .map(|v| ("us-east-1".to_string(), v.clone()))
            .collect();
    }
    let base = emu.lock().unwrap().base_url.clone();
    let mut input = collect(
        &emu,
        "t1651_cloud_audit://pipes-azure",
        &azure_params(&base),
    );
    input.extend(collect(
        &emu,
        "t1651_cloud_audit://pipes-aws",
        &aws_params(&base),
    ));
    let (code, input_rows, stderr) = scan(&write_lines("pipes-input.json", &input), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let expected = findings(&input_rows);
    assert_eq!(expected.len(), 5, "{expected:?}");

    // The standard pipelines carry every event of the log (they do not filter by operation).
    let mut standard: Vec<String> = azure
        .iter()
        .map(|ev| as_event_hub_record(ev).to_string())
        .collect();
    standard.extend(aws.iter().map(|r| r.to_string()));
    assert!(!azure_dropped.is_empty() && !aws_dropped.is_empty());
    let (code, rows, stderr) = scan(&write_lines("pipes-standard.json", &standard), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("scan: 1 file, {} events", standard.len())),
        "{stderr}"
    );
    assert_eq!(findings(&rows), expected);
}
