//! The spawned `t1651detect` at getinfo: the reply for each mode, option errors, probes,
//! and the argv front door (`--help`, `--version`, v1 argv).

mod command_support;
mod scp_emulator;

use std::process::{Command, Stdio};

use command_support::{exe, probe, session, Finish};
use serde_json::Value;
use t1651::detect::options::Options;

fn required(meta: &Value) -> Vec<String> {
    meta["required_fields"]
        .as_array()
        .expect("required_fields")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn detection_fields() -> Vec<String> {
    t1651::detect::fields::required_fields(&Options::default())
}

#[test]
fn summary_is_reporting_with_required_fields() {
    let (r, code, stderr) = probe(&[]);
    assert_eq!(r.meta["type"], "reporting");
    assert!(r.meta.get("streaming_preop").is_none());
    assert!(r.meta.get("finished").is_none() && r.error().is_none());
    assert_eq!(required(&r.meta), detection_fields());
    for f in [
        "_raw",
        "_time",
        "t1651_state",
        "operationName",
        "requestParameters.instanceIds{}",
    ] {
        assert!(required(&r.meta).iter().any(|x| x == f), "{f}");
    }
    assert_eq!(code, 0, "a probe exits 0");
    assert!(stderr.is_empty(), "a probe logs nothing: {stderr}");
}

#[test]
fn distributed_summary_announces_the_map_phase() {
    let (r, code, _) = probe(&[
        "distributed=true",
        "threshold=5",
        "span=1h",
        "include_failed=t",
    ]);
    assert_eq!(code, 0);
    assert_eq!(r.meta["type"], "reporting");
    assert_eq!(required(&r.meta), detection_fields());
    let preop = r.meta["streaming_preop"].as_str().expect("streaming_preop");
    assert!(preop.starts_with("t1651detect phase=map "), "{preop}");
    let args = command_support::preop_args(preop);
    for a in ["phase=map", "threshold=5", "span=1h", "include_failed=t"] {
        assert!(args.iter().any(|x| x == a), "{a} not in {args:?}");
    }
    assert!(
        !args.iter().any(|x| x.starts_with("distributed")),
        "{args:?}"
    );
    // The map invocation accepts its own arguments.
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (m, code, _) = probe(&argv);
    assert_eq!((m.meta["type"].as_str(), code), (Some("streaming"), 0));
}

#[test]
fn map_phase_is_streaming_without_required_fields() {
    let (r, code, _) = probe(&["phase=map"]);
    assert_eq!(r.meta, serde_json::json!({"type": "streaming"}));
    assert_eq!(code, 0);
}

#[test]
fn events_mode_is_stateful_with_required_fields() {
    let (r, code, _) = probe(&["mode=events", "threshold=2"]);
    assert_eq!(r.meta["type"], "stateful");
    assert_eq!(required(&r.meta), detection_fields());
    assert!(r.meta.get("streaming_preop").is_none());
    assert_eq!(code, 0);
    // distributed=true does not make the events mode distributed.
    let (r, _, _) = probe(&["mode=events", "distributed=true"]);
    assert_eq!(r.meta["type"], "stateful");
    assert!(r.meta.get("streaming_preop").is_none());
}

fn assert_error_reply(args: &[&str], needles: &[&str]) {
    let (r, code, stderr) = probe(args);
    let err = r
        .error()
        .unwrap_or_else(|| panic!("{args:?}: no error in {:?}", r.meta));
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err:?}");
    }
    assert_eq!(r.finished(), Some(true));
    assert!(r.messages().iter().any(|(l, t)| l == "ERROR" && t == err));
    assert_ne!(code, 0, "{args:?}: a rejected getinfo exits non-zero");
    assert!(
        stderr.contains(err),
        "the error is logged for search.log: {stderr}"
    );
}

#[test]
fn bad_options_fail_at_getinfo_naming_option_and_values() {
    assert_error_reply(&["threshold=many"], &["threshold", "many", "integer"]);
    assert_error_reply(&["mode=fast"], &["mode", "fast", "summary, events"]);
    assert_error_reply(
        &["include_failed=maybe"],
        &["include_failed", "true, false"],
    );
    assert_error_reply(&["span=1y"], &["span", "15m"]);
    assert_error_reply(&["home_tenant=acme"], &["home_tenant", "GUID"]);
    assert_error_reply(&["operations="], &["operations"]);
    assert_error_reply(
        &["nosuch=1"],
        &[
            "nosuch",
            "valid options are",
            "threshold",
            "max_invocations",
        ],
    );
    assert_error_reply(
        &["threshold=1", "threshold=2"],
        &["threshold", "more than once"],
    );
    assert_error_reply(&["phase=reduce"], &["phase", "reduce"]);
    assert_error_reply(&["phase=map", "mode=events"], &["phase", "mode=events"]);
}

#[test]
fn positional_arguments_are_rejected_by_name() {
    assert_error_reply(
        &["caller_identity"],
        &["'caller_identity'", "name=value", "threshold"],
    );
    assert_error_reply(&["threshold=3", "\"vm count\""], &["'vm count'"]);
}

#[test]
fn execute_after_probe_style_session_with_no_rows() {
    // getinfo, then only a header-only finished chunk: no rows, no WARN, exit 0.
    let s = session(&[], &[], Finish::HeaderOnly, false);
    assert_eq!(s.code, 0);
    assert!(s.records().is_empty());
    assert!(s.messages().is_empty(), "{:?}", s.messages());
}

#[test]
fn argv_front_door() {
    let out = Command::new(exe()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("t1651detect "));
    let out = Command::new(exe()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("scan") && help.contains("chunked = true"),
        "{help}"
    );
    // v1 invocation: refused with the commands.conf hint, before reading stdin.
    let out = Command::new(exe())
        .args(["__GETINFO__", "threshold=3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chunked = true is missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No stdin at all: nothing to do, exit 0.
    let out = Command::new(exe()).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}
