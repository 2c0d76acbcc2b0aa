//! `t1651detect scan` over Google Cloud exports (issue 18): a `gcloud logging read
//! --format=json` array, JSON lines of LogEntries, JSON lines of Pub/Sub messages (the
//! LogEntry as an object or base64 in `data`), and the same gzip-compressed: every file
//! gives the same rows.

mod command_support;
mod detect_support;
mod scp_emulator;

use detect_support::{GcpRecord, Keys, GCP_PROJECT, SET_PROJECT_METADATA};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn records() -> Vec<GcpRecord> {
    let mut v = Vec::new();
    for (i, vm) in ["web-1", "web-2", "web-3", "web-4"].iter().enumerate() {
        let t0 = format!("2026-03-14T06:0{i}:00.100Z");
        let t1 = format!("2026-03-14T06:0{i}:04.200Z");
        let first =
            GcpRecord::set_metadata(vm, &format!("operation-{i}"), &["startup-script"], &t0);
        v.push(first.last(&t1));
        v.push(first);
    }
    let ssh = GcpRecord::set_metadata(
        "web-1",
        "operation-9",
        &["ssh-keys"],
        "2026-03-14T06:09:00Z",
    );
    v.push(ssh.last("2026-03-14T06:09:02Z"));
    v.push(ssh);
    let mut p = GcpRecord::set_metadata("x", "operation-p", &[], "2026-03-14T06:10:00Z");
    p.method = SET_PROJECT_METADATA.into();
    p.resource_name = format!("projects/{GCP_PROJECT}");
    p.keys = Keys::Request {
        added: vec![],
        modified: vec!["shutdown-script".into()],
        deleted: vec![],
    };
    v.push(p);
    v
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scan_gcp_{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn scan(path: &Path) -> (Vec<Value>, String) {
    command_support::scan_json(path, &[])
}

#[test]
fn every_gcp_export_shape_gives_the_same_rows() {
    let recs = records();
    let values: Vec<Value> = recs.iter().map(GcpRecord::value).collect();
    let array = serde_json::to_string_pretty(&values).unwrap();
    let lines: String = recs.iter().map(|r| r.api_order() + "\n").collect();
    let pubsub: String = recs
        .iter()
        .enumerate()
        .map(|(i, r)| if i % 2 == 0 { r.pubsub_base64() } else { r.pubsub() } + "\n")
        .collect();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("gcloud.json", array.clone().into_bytes()),
        ("entries.jsonl", lines.clone().into_bytes()),
        ("pubsub.ndjson", pubsub.clone().into_bytes()),
        ("gcloud.json.gz", gzip(array.as_bytes())),
        ("pubsub.jsonl.gz", gzip(pubsub.as_bytes())),
    ];
    let mut reference: Option<Vec<Value>> = None;
    for (name, data) in &files {
        let d = dir(name);
        std::fs::write(d.join(name), data).unwrap();
        let (rows, stderr) = scan(&d);
        assert!(stderr.contains("11 events"), "{name}: {stderr}");
        assert!(
            stderr.contains("2 rows, 2 findings (2 multi-VM, 0 cross-tenant)"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        // Event locations differ by file; compare what the detection says.
        let strip = |rows: &[Value]| -> Vec<Value> {
            rows.iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.as_object_mut().unwrap().retain(|k, _| {
                        !matches!(k.as_str(), "targeted_vms" | "dest" | "correlation_ids")
                    });
                    r
                })
                .collect()
        };
        match &reference {
            None => {
                let r = &rows[0];
                assert_eq!(r["operation_lower"], "compute.instances.setmetadata");
                assert_eq!(r["invocation_count"], "4");
                assert_eq!(r["vm_count"], "4");
                assert_eq!(r["cloud"], "gcp");
                let p = &rows[1];
                assert_eq!(
                    p["target_selectors"],
                    serde_json::json!(["project-metadata=acme-prod"])
                );
                assert_eq!(p["documents"], serde_json::json!(["shutdown-script"]));
                reference = Some(strip(&rows));
            }
            Some(want) => assert_eq!(&strip(&rows), want, "{name}"),
        }
        assert_eq!(
            rows[0]["targeted_vms"],
            serde_json::json!(["web-1", "web-2", "web-3", "web-4"]),
            "{name}"
        );
    }
    // All five files at once: every entry five times, counted once.
    let d = dir("all");
    for (name, data) in &files {
        std::fs::write(d.join(name), data).unwrap();
    }
    let (rows, stderr) = scan(&d);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["invocation_count"], "4");
    assert!(stderr.contains("(duplicate 44)"), "{stderr}");
}
