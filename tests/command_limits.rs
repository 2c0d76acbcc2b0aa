//! Protocol limits of the spawned `t1651detect`, set through argv as commands.conf
//! `command.arg.<N>` would: the error replies name the limit and the setting that raises it.

mod command_support;
mod scp_emulator;

use command_support::exe;
use scp_emulator::{execute, getinfo, Proc};

/// Sends getinfo then one execute chunk; returns (getinfo reply error, execute reply error,
/// exit code).
fn run(argv: &[&str], body: &str) -> (Option<String>, Option<String>, i32) {
    let mut p = Proc::spawn_exe(&exe(), argv);
    let info = p.exchange(&getinfo(&[]));
    let info_error = info.error().map(str::to_owned);
    if info_error.is_some() {
        let (code, _, _) = p.finish();
        return (info_error, None, code);
    }
    let r = p.exchange(&execute(true, body));
    let exec_error = r.error().map(str::to_owned);
    let (code, _, _) = p.finish();
    (None, exec_error, code)
}

#[test]
fn chunk_size_limit_names_the_commands_conf_setting() {
    let body = format!("_raw,_time\n\"{}\",1\n", "x".repeat(500));
    let (info, exec, code) = run(&["--max-chunk-bytes=100"], &body);
    assert_eq!(info, None);
    let e = exec.expect("an error reply to the oversized chunk");
    assert!(e.contains("exceeds the limit of 100 bytes"), "{e}");
    assert!(
        e.contains("commands.conf [t1651detect] command.arg.<N> = --max-chunk-bytes"),
        "{e}"
    );
    assert_ne!(code, 0);
}

#[test]
fn field_size_limit_names_the_field_and_the_setting() {
    let body = format!("_raw,_time\n\"{}\",1\n", "y".repeat(64));
    let (_, exec, code) = run(&["--max-field-bytes=32"], &body);
    let e = exec.expect("an error reply to the oversized field");
    assert!(e.contains("_raw"), "{e}");
    assert!(e.contains("limit of 32 bytes"), "{e}");
    assert!(e.contains("--max-field-bytes"), "{e}");
    assert_ne!(code, 0);
    // Within the limit the same chunk is accepted.
    let (_, exec, code) = run(&["--max-field-bytes=64"], &body);
    assert_eq!(exec, None);
    assert_eq!(code, 0);
}

#[test]
fn bad_arguments_fail_the_getinfo_with_a_message() {
    let (info, _, code) = run(&["--max-chunk-bytes=lots"], "");
    let e = info.expect("getinfo error");
    assert!(
        e.contains("--max-chunk-bytes needs a positive number of bytes"),
        "{e}"
    );
    assert_ne!(code, 0);
    let (info, _, code) = run(&["--frobnicate"], "");
    let e = info.expect("getinfo error");
    assert!(e.contains("unknown argument '--frobnicate'"), "{e}");
    assert!(e.contains("--max-reply-bytes=<bytes>"), "{e}");
    assert_ne!(code, 0);
}

/// Issue 15 defect 2: the documented maximum works, anything larger is refused at getinfo.
#[test]
fn documented_maximum_chunk_size_works_and_larger_is_refused() {
    let (info, exec, code) = run(&["--max-chunk-bytes=2147483648"], "_raw,_time\nx,1\n");
    assert_eq!((info, exec, code), (None, None, 0));
    let (info, _, code) = run(&["--max-chunk-bytes=2147483649"], "");
    let e = info.expect("refused on the getinfo reply");
    assert!(
        e.contains("above the supported maximum of 2147483648 bytes"),
        "{e}"
    );
    assert_ne!(code, 0);
}

/// Issue 15 defect 1: the limit error comes after the whole oversized request was read, so
/// splunkd (which writes the whole chunk first) sees the message, not a broken pipe.
#[test]
fn chunk_limit_error_is_replied_after_the_body_was_read() {
    let mut p = Proc::spawn_exe(&exe(), &["--max-chunk-bytes=1000"]);
    p.exchange(&getinfo(&[]));
    // 8 MiB: far more than any pipe buffer; `send` fails if the command replies (and exits)
    // before it read everything.
    let body = format!("_raw\n{}\n", "z".repeat(8 << 20));
    let r = p.exchange(&execute(true, &body));
    assert!(r
        .error()
        .unwrap()
        .contains("exceeds the limit of 1000 bytes"));
    assert_ne!(p.finish().0, 0);
}
