//! The Atomic Red Team validation events (samples/validation/atomic-*, docs/atomic-red-team.md)
//! are reported by both entry points: `t1651detect scan` (the spawned binary) and the search
//! command over the chunked protocol, fed the same events the way splunkd sends them. Also:
//! the automation hunt's `t1651_automation_operations` macro makes the command read the
//! runbook write and the job of the automation test.

mod app_support;
mod command_support;
mod scp_emulator;

use std::path::{Path, PathBuf};

use command_support::{get, json_event, one, session, Event, Finish, Record};
use serde_json::Value;

const RC: &str = "microsoft.compute/virtualmachines/runcommand/action";
const JOBS: &str = "microsoft.automation/automationaccounts/jobs/write";
const RUNBOOK_WRITE: &str = "microsoft.automation/automationaccounts/runbooks/write";
const SEND: &str = "ssm.amazonaws.com/sendcommand";

const USER: &str = "atomic.tester@contoso.example";
const SP_OBJECT_ID: &str = "f0000000-0000-4000-8000-0000000000f7";
const IAM_USER: &str = "arn:aws:iam::111122223333:user/atomic-tester";
const LAB_RG: &str = "rg-atomic-lab";
const LAB_IP: &str = "198.51.100.60";

fn validation_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/validation")
}

/// The four atomic files, by name; each name says it is an Atomic validation file.
fn atomic_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(validation_dir())
        .expect("samples/validation")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "atomic-aws-ssm-send-command.json",
            "atomic-azure-automation-runbook.json",
            "atomic-azure-run-command-az-cli.json",
            "atomic-azure-run-command-service-principal.jsonl",
        ]
    );
    files
}

/// One expected summary row: (caller, caller_type, operation, resource group, invocations,
/// targets, source IPs, first time).
struct Expect {
    caller: &'static str,
    caller_type: &'static str,
    op: &'static str,
    rg: &'static str,
    count: &'static str,
    vms: &'static [&'static str],
    selectors: &'static [&'static str],
    resources: &'static [&'static str],
    ips: &'static [&'static str],
    first: &'static str,
    multi: &'static str,
}

fn expected() -> Vec<Expect> {
    vec![
        // Test 1, as a user through the Azure CLI: three lifecycle rows, one invocation.
        Expect {
            caller: USER,
            caller_type: "user",
            op: RC,
            rg: LAB_RG,
            count: "1",
            vms: &["vm-atomic-win01"],
            selectors: &[],
            resources: &[],
            ips: &[LAB_IP],
            first: "2026-03-15T10:02:07Z",
            multi: "FALSE",
        },
        // Test 1, as a service principal: the caller is its object ID, no client IP.
        Expect {
            caller: SP_OBJECT_ID,
            caller_type: "service_principal",
            op: RC,
            rg: LAB_RG,
            count: "1",
            vms: &["vm-atomic-lnx01"],
            selectors: &[],
            resources: &[],
            ips: &[],
            first: "2026-03-15T10:09:31Z",
            multi: "FALSE",
        },
        // Test 2: T1651-1 (tag target) and the CLI variant (instanceIds). The tag target
        // selects every instance carrying the tag: a selector, so the row is a finding.
        Expect {
            caller: IAM_USER,
            caller_type: "iam_user",
            op: SEND,
            rg: "",
            count: "2",
            vms: &["i-0a7e57c0de0000001"],
            selectors: &["tag:AtomicTest=T1651-1"],
            resources: &[],
            ips: &[LAB_IP],
            first: "2026-03-15T10:20:44Z",
            multi: "TRUE",
        },
        // Test 3: the job (the runbook write and job read are not T1651 by default).
        Expect {
            caller: USER,
            caller_type: "user",
            op: JOBS,
            rg: LAB_RG,
            count: "1",
            vms: &[],
            selectors: &[],
            resources: &["aa-atomic-lab"],
            ips: &[LAB_IP],
            first: "2026-03-15T10:41:00Z",
            multi: "FALSE",
        },
    ]
}

/// A summary row with the columns the expectations compare, from either entry point.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    caller: String,
    caller_type: String,
    op: String,
    rg: String,
    count: String,
    vms: Vec<String>,
    selectors: Vec<String>,
    resources: Vec<String>,
    ips: Vec<String>,
    first: String,
    multi: String,
    cross: String,
    cloud: String,
}

fn row_of(get: impl Fn(&str) -> Vec<String>) -> Row {
    let one = |k: &str| get(k).into_iter().next().unwrap_or_default();
    let sorted = |k: &str| {
        let mut v = get(k);
        v.sort();
        v
    };
    Row {
        caller: one("caller_identity"),
        caller_type: one("caller_type"),
        op: one("operation_lower"),
        rg: one("resource_group").to_ascii_lowercase(),
        count: one("invocation_count"),
        vms: sorted("targeted_vms"),
        selectors: sorted("target_selectors"),
        resources: sorted("targeted_resources"),
        ips: sorted("source_ips"),
        first: one("event_time"),
        multi: one("multi_vm_targeting"),
        cross: one("cross_tenant"),
        cloud: one("cloud"),
    }
}

fn check(rows: &[Row], ctx: &str) {
    assert_eq!(rows.len(), 4, "{ctx}: {rows:#?}");
    for e in expected() {
        let hits: Vec<&Row> = rows
            .iter()
            .filter(|r| r.caller == e.caller && r.op == e.op)
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{ctx}: ({}, {}) in {rows:#?}",
            e.caller,
            e.op
        );
        let r = hits[0];
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(r.caller_type, e.caller_type, "{ctx} {}", e.caller);
        assert_eq!(r.rg, e.rg, "{ctx} {}", e.caller);
        assert_eq!(r.count, e.count, "{ctx} {}", e.caller);
        assert_eq!(r.vms, want(e.vms), "{ctx} {}", e.caller);
        assert_eq!(r.selectors, want(e.selectors), "{ctx} {}", e.caller);
        assert_eq!(r.resources, want(e.resources), "{ctx} {}", e.caller);
        assert_eq!(r.ips, want(e.ips), "{ctx} {}", e.caller);
        assert_eq!(r.first, e.first, "{ctx} {}", e.caller);
        // One lab VM per test in the home tenant: reported, not a finding; except the tag
        // target, which can reach any number of instances.
        assert_eq!((r.multi.as_str(), r.cross.as_str()), (e.multi, "FALSE"));
    }
}

// ------------------------------------------------------------------ the offline scan

fn scan(args: &[&str]) -> (Vec<Value>, String) {
    command_support::scan_json(&validation_dir(), args)
}

fn json_values(v: &Value, k: &str) -> Vec<String> {
    command_support::json_list(v, k, false)
}

fn scan_rows() -> Vec<Row> {
    let (rows, stderr) = scan(&[]);
    assert!(
        stderr.contains("4 files")
            && stderr.contains("12 events")
            && stderr.contains("not_selected 3")
            && stderr.contains("4 rows, 1 finding (1 multi-VM, 0 cross-tenant)"),
        "{stderr}"
    );
    let mut out: Vec<Row> = rows.iter().map(|r| row_of(|k| json_values(r, k))).collect();
    out.sort();
    out
}

#[test]
fn scan_reports_each_atomic_test() {
    atomic_files();
    check(&scan_rows(), "scan");
}

#[test]
fn scan_events_mode_lists_every_atomic_event() {
    let (rows, _) = scan(&["--mode", "events"]);
    // 3 + 3 lifecycle rows of the two Run Commands, 2 SendCommand calls, 1 job write.
    assert_eq!(rows.len(), 9, "{rows:#?}");
    let count = |op: &str| {
        rows.iter()
            .filter(|r| r["operation_lower"].as_str() == Some(op))
            .count()
    };
    assert_eq!((count(RC), count(SEND), count(JOBS)), (6, 2, 1));
    let send: Vec<&Value> = rows
        .iter()
        .filter(|r| r["operation_lower"] == SEND)
        .collect();
    assert!(send.iter().all(|r| r["document"] == "AWS-RunShellScript"));
    let statuses: Vec<&str> = rows
        .iter()
        .filter(|r| r["caller_identity"] == USER && r["operation_lower"] == RC)
        .map(|r| r["result_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["started", "accepted", "succeeded"]);
}

// ------------------------------------------------------------------ the search command

/// The events of one file as Splunk indexes them: one event per array element, CloudTrail
/// record, Event Hub record or line, with its sourcetype and `_time`.
fn splunk_events(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let values: Vec<Value> = if name.ends_with(".jsonl") {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    } else {
        match serde_json::from_str::<Value>(&text).unwrap() {
            Value::Array(a) => a,
            Value::Object(mut o) => match (o.remove("Records"), o.remove("records")) {
                (Some(Value::Array(a)), _) | (_, Some(Value::Array(a))) => a,
                _ => panic!("{name}: not a wrapper"),
            },
            other => panic!("{name}: {other}"),
        }
    };
    values
        .into_iter()
        .map(|v| {
            let (sourcetype, time) = if v.get("eventTime").is_some() {
                (
                    "aws:cloudtrail",
                    v["eventTime"].as_str().unwrap().to_owned(),
                )
            } else if v.get("eventTimestamp").is_some() {
                (
                    "mscs:azure:audit",
                    v["eventTimestamp"].as_str().unwrap().to_owned(),
                )
            } else {
                (
                    "azure:monitor:activity",
                    v["time"].as_str().unwrap().to_owned(),
                )
            };
            json_event(&v.to_string(), sourcetype, &time)
        })
        .collect()
}

fn all_events() -> Vec<Event> {
    atomic_files()
        .iter()
        .flat_map(|p| splunk_events(p))
        .collect()
}

/// The words of the app's `t1651_detect_options` macro, which every shipped search passes.
fn detect_options() -> Vec<String> {
    let macros = app_support::spl::macros(&app_support::app_conf("default/macros.conf"));
    let def = &macros
        .get("t1651_detect_options")
        .expect("macro t1651_detect_options")
        .definition;
    app_support::spl::words(def)
        .into_iter()
        .map(|w| w.replace('"', ""))
        .collect()
}

/// The command's rows for the app's options plus `args`, over all atomic events.
fn command_rows(args: &[&str]) -> Vec<Record> {
    let events = all_events();
    assert_eq!(events.len(), 12);
    let mut all = detect_options();
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let s = session(&all, &[events], Finish::LastChunk, false);
    assert_eq!(s.code, 0, "{}", s.stderr);
    s.records()
}

#[test]
fn command_reports_each_atomic_test_like_the_scan() {
    let mut rows: Vec<Row> = command_rows(&[])
        .iter()
        .map(|r| row_of(|k| get(r, k).to_vec()))
        .collect();
    rows.sort();
    check(&rows, "command");
    assert_eq!(rows, scan_rows(), "command and scan agree row for row");
}

#[test]
fn command_events_mode_lists_every_atomic_event() {
    let rows = command_rows(&["mode=events"]);
    assert_eq!(rows.len(), 9, "{rows:#?}");
    let ops: Vec<&str> = rows.iter().map(|r| one(r, "operation_lower")).collect();
    assert_eq!(ops.iter().filter(|o| **o == RC).count(), 6);
    assert_eq!(ops.iter().filter(|o| **o == SEND).count(), 2);
    assert_eq!(ops.iter().filter(|o| **o == JOBS).count(), 1);
    let sp: Vec<&Record> = rows
        .iter()
        .filter(|r| one(r, "caller_identity") == SP_OBJECT_ID)
        .collect();
    assert_eq!(sp.len(), 3);
    assert!(sp
        .iter()
        .all(|r| one(r, "caller_type") == "service_principal"));
}

/// The operations option of the automation hunt, read from the app's macros.conf.
fn automation_operations_option() -> String {
    let macros = app_support::spl::macros(&app_support::app_conf("default/macros.conf"));
    let def = &macros
        .get("t1651_automation_operations")
        .expect("macro t1651_automation_operations")
        .definition;
    let value = def
        .strip_prefix("operations=")
        .expect("operations=\"…\"")
        .trim_matches('"');
    format!("operations={value}")
}

#[test]
fn automation_hunt_operations_read_the_runbook_write_and_the_job() {
    let opt = automation_operations_option();
    let rows = command_rows(&["mode=events", &opt]);
    let ops: Vec<&str> = rows.iter().map(|r| one(r, "operation_lower")).collect();
    assert_eq!(ops, [RUNBOOK_WRITE, JOBS], "{rows:#?}");
    for r in &rows {
        assert_eq!(one(r, "caller_identity"), USER);
        assert_eq!(get(r, "targeted_resources"), ["aa-atomic-lab"]);
        assert_eq!(one(r, "result_status"), "succeeded");
    }
}
