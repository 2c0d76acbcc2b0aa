//! `t1651detect scan` over real-world mess (issue 11's semantics offline): a CloudTrail
//! record exported twice, a tag-targeted SendCommand, a record cut mid-caller, a service
//! acting on its own. The summary line counts copies and cut records; the cards say what a
//! selector is; rows are those of the clean data.

mod detect_support;
mod scan_support;

use detect_support::{assumed_role, cloudtrail, iam_user, Activity};
use scan_support::{tempdir, write};
use serde_json::{json, Value};
use std::process::Command;

fn scan(dir: &std::path::Path, args: &[&str]) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_t1651detect"))
        .arg("scan")
        .args(args)
        .arg(dir)
        .output()
        .expect("run t1651detect scan");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

#[test]
fn copies_cut_records_and_selectors_offline() {
    let dir = tempdir("scan_mess");
    let send = cloudtrail(
        "SendCommand",
        iam_user("build"),
        json!({"instanceIds": ["i-01", "i-02"]}),
        json!({}),
    );
    let tagged = cloudtrail(
        "SendCommand",
        assumed_role("Patch", "nightly"),
        json!({"targets": [{"key": "tag:Env", "values": ["prod"]}]}),
        json!({}),
    );
    let mut linked = assumed_role("AWSServiceRoleForAmazonSSM", "StateManagerService");
    linked["sessionContext"]["sessionIssuer"]["arn"] = json!(
        "arn:aws:iam::111122223333:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"
    );
    let service = cloudtrail(
        "SendCommand",
        linked,
        json!({"instanceIds": ["i-03"]}),
        json!({"sourceIPAddress": "ssm.amazonaws.com"}),
    );
    let rest = Activity::run_command(
        "vm-a",
        "Succeeded",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "2024-05-01T10:00:09Z",
    )
    .rest();
    let cut = &rest[..rest.find("\"caller\"").unwrap() + 12];
    // One JSON-lines export holding a copy and a cut line; the copy again in a second file.
    let lines = [
        send.as_str(),
        tagged.as_str(),
        service.as_str(),
        cut,
        send.as_str(),
    ]
    .join("\n");
    write(&dir.join("trail.jsonl"), lines.as_bytes());
    write(&dir.join("again.jsonl"), send.as_bytes());

    let (out, err, code) = scan(&dir, &["--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    let by = |caller: &str| {
        rows.iter()
            .find(|r| r["caller_identity"].as_str().unwrap().contains(caller))
            .unwrap_or_else(|| panic!("{caller} in {out}"))
    };
    assert_eq!(by("user/build")["invocation_count"], "1");
    assert_eq!(
        by("role/Patch")["target_selectors"],
        json!(["tag:Env=prod"])
    );
    assert_eq!(by("role/Patch")["multi_vm_targeting"], "TRUE");
    let svc = by("aws-service-role");
    assert_eq!(svc["caller_type"], "aws_service");
    assert_eq!(svc["invoked_by"], json!(["ssm.amazonaws.com"]));
    assert_eq!(svc["source_ips"], json!([]));
    assert!(
        err.contains("events not used (duplicate 2, truncated 1)"),
        "{err}"
    );

    // The cards say what a selector is and who acted for the service role.
    let (out, _, _) = scan(&dir, &["--layout", "cards", "--width", "120"]);
    assert!(
        out.contains("selectors")
            && out.contains("tag:Env=prod")
            && out.contains("via service")
            && !out.contains("first_seen_utc"),
        "{out}"
    );
}
