//! The default terminal output of `t1651detect scan` with the real detection engine: over
//! the shipped samples (cards at 80–120 columns, findings first, nothing lost) and over a
//! crafted log whose strings carry terminal control sequences.

use std::path::{Path, PathBuf};

use t1651::scan::{cli::run, engine::factory};

fn scan(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["t1651detect", "scan"];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(argv, &mut out, &mut err, &factory);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn samples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .display()
        .to_string()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scan_cards_{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The card headers (lines at column 0 that are not section headings), in output order.
fn headers(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("──"))
        .collect()
}

/// The text with line breaks and indentation removed, to look for wrapped values.
fn joined(text: &str) -> String {
    text.lines().map(str::trim).collect()
}

#[test]
fn samples_read_as_cards_with_findings_first() {
    let rows: Vec<serde_json::Value> = scan(&["--format", "json", "-q", &samples()])
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() >= 5, "{rows:?}");
    let is_finding =
        |r: &serde_json::Value| r["multi_vm_targeting"] == "TRUE" || r["cross_tenant"] == "TRUE";
    let findings = rows.iter().filter(|r| is_finding(r)).count();
    assert!(
        findings >= 2 && findings < rows.len(),
        "the samples have both kinds"
    );

    for width in ["80", "100", "120"] {
        let (code, text, _) = scan(&["--width", width, &samples()]);
        assert_eq!(code, 0);
        let w: usize = width.parse().unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= w, "{width}: {line:?}");
        }
        assert!(
            text.starts_with(&format!(
                "── {findings} findings (multi-VM or cross-tenant) ──"
            )),
            "{text}"
        );
        let others = format!("── {} other rows ──", rows.len() - findings);
        assert!(text.contains(&others), "{text}");

        // One card per row: findings first, each section in the engine's order.
        let hs = headers(&text);
        assert_eq!(hs.len(), rows.len(), "{text}");
        let order: Vec<&serde_json::Value> = rows
            .iter()
            .filter(|r| is_finding(r))
            .chain(rows.iter().filter(|r| !is_finding(r)))
            .collect();
        for (h, r) in hs.iter().zip(&order) {
            let caller = r["caller_identity"].as_str().unwrap();
            assert_eq!(h.starts_with('['), is_finding(r), "{h}");
            assert!(h.contains(caller), "{h} should name {caller}");
        }
        // Nothing the analyst needs is lost, however it wraps.
        let all = joined(&text);
        for r in &rows {
            for col in ["caller_identity", "operation_lower", "subscription_id"] {
                let v = r[col].as_str().unwrap();
                assert!(all.contains(v), "{width}: {col} {v} missing");
            }
            for col in ["targeted_vms", "source_ips"] {
                for v in r[col].as_array().unwrap() {
                    let v = v.as_str().unwrap();
                    assert!(all.contains(v), "{width}: {col} {v} missing");
                }
            }
        }
    }
    // The first finding at 120 columns: one header line, then aligned fields.
    let (_, text, _) = scan(&["--width", "120", &samples()]);
    assert!(
        text.contains(
            "\n[MULTI-VM]  it.admin@contoso.example  azure  \
             microsoft.compute/virtualmachines/runcommand/action\n  seen  "
        ),
        "{text}"
    );
    assert!(
        text.contains("vm-app-01, vm-app-02, vm-app-03, vm-app-04, vm-app-05, vm-app-06\n"),
        "{text}"
    );
}

#[test]
fn control_characters_from_logs_are_neutralised() {
    let d = tempdir("evil");
    // An Azure Activity Log record (JSON line) whose caller, VM name and IP carry an OSC
    // title sequence, a screen clear and a right-to-left override.
    let rec = serde_json::json!({
        "caller": "evil\u{1b}]0;pwned\u{7}\u{202e}gpj.exe@contoso.example",
        "operationName": {"value": "Microsoft.Compute/virtualMachines/runCommand/action"},
        "eventTimestamp": "2026-03-14T02:11:05Z",
        "resourceId": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm\u{1b}[2J",
        "resourceGroupName": "rg",
        "subscriptionId": "s1",
        "status": {"value": "Started"},
        "correlationId": "c1",
        "claims": {"ipaddr": "203.0.113.9\r\nFAKE"}
    });
    std::fs::write(d.join("evil.jsonl"), format!("{rec}\n")).unwrap();
    let (code, text, err) = scan(&["--width", "100", "--layout", "cards", d.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        headers(&text).len() == 1,
        "the record is detected:\n{text}\n{err}"
    );
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\r'] {
        assert!(
            !text.contains(bad),
            "{bad:?} reached the terminal: {text:?}"
        );
    }
    assert!(
        text.contains("evil?]0;pwned??gpj.exe@contoso.example"),
        "{text}"
    );
    assert!(!text.contains("\nFAKE"), "{text}");
}
