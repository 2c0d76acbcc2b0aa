//! Optional: replays the Splunk SDK recordings in /work/shared/scp with its reference driver.
//! Skipped (with a note) when the reference material or python3 is absent, so a fresh clone
//! never depends on it; the self-contained emulator tests cover the same behaviours.

mod scp_emulator;

use std::path::Path;
use std::process::Command;

const SHARED: &str = "/work/shared/scp";

fn driver(args: &[&str]) -> Option<(i32, String)> {
    let script = Path::new(SHARED).join("scp_driver.py");
    if !script.exists() {
        eprintln!("skipped: {} not present", script.display());
        return None;
    }
    let out = match Command::new("python3").arg(&script).args(args).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: cannot run python3: {e}");
            return None;
        }
    };
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn recordings_replay_and_match() {
    let sum = scp_emulator::example("sum");
    let hello = scp_emulator::example("generatehello");
    let echo = scp_emulator::example("echo");
    let (sum, hello, echo) = (
        sum.to_str().unwrap(),
        hello.to_str().unwrap(),
        echo.to_str().unwrap(),
    );
    let r = format!("{SHARED}/recordings/scpv2/Splunk-6.3");
    let mb = format!("{SHARED}/recordings/current_tests_data/custom_search/multibyte_input.gz");
    let cases: Vec<Vec<String>> = vec![
        vec![
            format!("--replay={r}/sum.map.input.gz"),
            format!("--expected={r}/sum.map.output.py3"),
            "--".into(),
            sum.into(),
        ],
        vec![
            format!("--replay={r}/sum.reduce.input.gz"),
            format!("--expected={r}/sum.reduce.output"),
            "--".into(),
            sum.into(),
        ],
        vec![
            format!("--replay={r}/generatehello.input.gz"),
            format!("--expected={r}/generatehello.output"),
            "--ignore-field=_time".into(),
            "--".into(),
            hello.into(),
        ],
        vec![format!("--replay={mb}"), "--".into(), echo.into()],
        vec![format!("--replay={mb}"), "--".into(), hello.into()],
        vec![
            "--probe-only".into(),
            "--arg".into(),
            "total=t".into(),
            "--".into(),
            sum.into(),
        ],
    ];
    for case in cases {
        let mut args: Vec<&str> = vec!["--show=0", "--timeout=30"];
        args.extend(case.iter().map(String::as_str));
        let Some((code, stderr)) = driver(&args) else {
            return;
        };
        assert_eq!(code, 0, "scp_driver {args:?} failed:\n{stderr}");
    }
}
