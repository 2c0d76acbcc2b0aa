//! The `t1651detect scan` binary as a responder runs it: standard input, permission
//! errors as an unprivileged user, progress only on a terminal, CSV header without rows,
//! `--max-values` in warnings, streamed `--mode events` rows, and the cards' wording.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod scan_support;
use scan_support::{gzip, tempdir, write};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_t1651detect")
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .arg("scan")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Activity Log run commands, as JSON lines: `n` VMs by one caller.
fn run_commands(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                concat!(
                    "{{\"time\":\"2026-03-14T02:1{m}:05Z\",\"resourceId\":\"/SUBSCRIPTIONS/CCCC0000-1111-4222-8333-000000000003",
                    "/RESOURCEGROUPS/RG-APP/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-{i}\",",
                    "\"operationName\":\"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION\",\"category\":\"Administrative\",",
                    "\"resultType\":\"Success\",\"caller\":\"it.admin@contoso.example\",\"callerIpAddress\":\"203.0.113.7\",",
                    "\"correlationId\":\"d0000000-0000-4000-8000-{i:012}\",\"tenantId\":\"aaaa0000-1111-4222-8333-000000000001\"}}\n"
                ),
                m = i % 10,
                i = i
            )
        })
        .collect()
}

#[test]
fn dash_reads_standard_input_plain_or_gzip() {
    let lines = run_commands(5);
    for input in [lines.as_bytes().to_vec(), gzip(lines.as_bytes())] {
        let out = run(&["--format", "json", "-"], &input);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let row: serde_json::Value =
            serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
        assert_eq!(row["invocation_count"], "5");
        assert_eq!(row["multi_vm_targeting"], "TRUE");
        assert!(
            text(&out.stderr).contains("scan: 1 file, 5 events"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn csv_has_a_header_even_without_rows() {
    let out = run(&["--format", "csv", "-"], b"");
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("caller_identity,") || stdout.contains(",caller_identity,"),
        "{stdout}"
    );
    let out = run(&["--format", "csv", "--mode", "events", "-"], b"");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("result_status"), "{stdout}");
}

#[test]
fn warnings_name_command_line_options() {
    let out = Command::new(bin())
        .args(["scan", "--max-values", "1", "--format", "json"])
        .arg(samples())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--max-values 1"), "{stderr}");
    assert!(
        stderr.contains("raise it with --max-values <n>"),
        "{stderr}"
    );
    assert!(!stderr.contains("max_values="), "{stderr}");
}

#[test]
fn events_mode_streams_rows_in_input_order() {
    let lines = run_commands(2500);
    let out = run(
        &["--mode", "events", "--format", "csv", "-"],
        lines.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2501, "header + one row per event");
    // The terminal table comes in blocks of 1000 rows, each with its header.
    let out = run(
        &[
            "--mode",
            "events",
            "--layout",
            "table",
            "--columns",
            "event_time,result_status",
            "-",
        ],
        lines.as_bytes(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("event_time").count(),
        3,
        "{}",
        &stdout[..300]
    );
}

#[test]
fn cards_say_how_many_succeeded_and_failed() {
    let out = Command::new(bin())
        .args(["scan", "--layout", "cards", "--width", "200"])
        .arg(samples())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("failed (not counted)"), "{stdout}");
    let out = Command::new(bin())
        .args([
            "scan",
            "--layout",
            "cards",
            "--width",
            "200",
            "--include-failed",
        ])
        .arg(samples())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains(" succeeded, 1 failed)"), "{stdout}");
    assert!(!stdout.contains("not counted"), "{stdout}");
}

/// Runs the binary as `nobody` (tests run as root here), or directly when already
/// unprivileged. `None` (with the reason printed) when neither is possible.
fn run_unprivileged(args: &[&Path]) -> Option<Output> {
    // SAFETY-free check of the effective user id through /proc.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("0")
        .to_string();
    let mut cmd = if uid == "0" {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()]);
        c
    } else {
        Command::new(bin())
    };
    cmd.arg("scan").args(args);
    match cmd.output() {
        Ok(o) if !text(&o.stderr).contains("setpriv:") => Some(o),
        Ok(o) => {
            eprintln!("skipped: cannot drop privileges: {}", text(&o.stderr));
            None
        }
        Err(e) => {
            eprintln!("skipped: setpriv unavailable to drop root privileges: {e}");
            None
        }
    }
}

#[test]
fn permission_denied_is_exit_2_for_an_unprivileged_user() {
    let d = tempdir("perm");
    write(&d.join("ok/a.json"), run_commands(1).as_bytes());
    write(&d.join("locked/b.json"), run_commands(1).as_bytes());
    write(&d.join("ok/secret.json"), run_commands(1).as_bytes());
    std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(
        d.join("ok/secret.json"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let Some(out) = run_unprivileged(&[&d]) else {
        return;
    };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("locked: unreadable: cannot list directory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("secret.json: unreadable: cannot open"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 inputs could not be read completely"),
        "{stderr}"
    );
    // The readable file's row is still printed.
    assert!(text(&out.stdout).contains("it.admin@contoso.example"));
    std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn truncated_gzip_is_exit_2() {
    let d = tempdir("bin_gz");
    let gz = gzip(run_commands(3000).as_bytes());
    write(&d.join("cut.json.gz"), &gz[..gz.len() / 2]);
    let out = Command::new(bin()).arg("scan").arg(&d).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad_gzip: corrupt or truncated gzip data"),
        "{stderr}"
    );
    // What was read before the break is used.
    assert!(text(&out.stdout).contains("it.admin@contoso.example"));
}

#[test]
fn progress_only_when_stderr_is_a_terminal() {
    let d = tempdir("progress");
    // Large enough that a debug build takes over a few tenths of a second.
    write(&d.join("big.jsonl"), run_commands(30_000).as_bytes());
    let out = Command::new(bin())
        .args(["scan", "--format", "csv"])
        .arg(&d)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    // Under a pseudo-terminal (util-linux `script`), the progress line appears.
    let cmd = format!("{} scan --format csv {} > /dev/null", bin(), d.display());
    let out = match Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: no `script` to provide a terminal: {e}");
            return;
        }
    };
    let tty = text(&out.stdout);
    assert!(tty.contains("scan: "), "{tty:?}");
    assert!(tty.contains("/s"), "a rate is shown: {tty:?}");
}

#[test]
fn streamed_csv_keeps_the_cut_flag_columns() {
    let out = Command::new(bin())
        .args([
            "scan",
            "--mode",
            "events",
            "--format",
            "csv",
            "--max-values",
            "1",
        ])
        .arg(samples())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let mut rd = csv::Reader::from_reader(stdout.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let at = header
        .iter()
        .position(|h| h == "targeted_vms_truncated")
        .expect("flag column in the header");
    let cut = rd
        .records()
        .filter(|r| r.as_ref().unwrap().get(at) == Some("TRUE"))
        .count();
    assert!(
        cut > 0,
        "a SendCommand to several instances is cut to one value:\n{stdout}"
    );
}
