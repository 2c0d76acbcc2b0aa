//! `t1651detect`: the Splunk search command, and an offline scanner.
//!
//! * no arguments: one SCP v2 session on stdin/stdout (how splunkd runs it with
//!   `chunked = true`; the command's options arrive in the getinfo request, not in argv);
//! * `scan …`: the offline scan of exported log files (`t1651detect scan --help`);
//! * `--version`, `--help`: short text;
//! * anything else: an SCP session too, because commands.conf `command.arg.<N>` may add
//!   arguments. The runtime rejects v1 argv (`__GETINFO__`/`__EXECUTE__`) with
//!   "chunked = true is missing".

use std::io::Write;
use std::process::ExitCode;

use t1651::command::T1651Command;
use t1651::scan;

const HELP: &str = "\
t1651detect: detect MITRE ATT&CK T1651 (Cloud Administration Command) in Azure Activity Log
and AWS CloudTrail events.

Usage:
  t1651detect                 run as a Splunk search command (SCP v2, chunked = true);
                              options come from the search: | t1651detect [name=value ...]
  t1651detect scan [OPTIONS] <PATHS>...
                              scan exported log files (see t1651detect scan --help)
  t1651detect --version | --help
";

fn main() -> ExitCode {
    let first = std::env::args_os().nth(1);
    match first.as_deref().and_then(|a| a.to_str()) {
        Some("scan") => {
            let mut out = std::io::stdout().lock();
            let mut err = std::io::stderr().lock();
            let code = scan::cli::run(
                std::env::args_os(),
                &mut out,
                &mut err,
                &scan::engine::factory,
            );
            let _ = out.flush();
            ExitCode::from(u8::try_from(code).unwrap_or(2))
        }
        Some("--version" | "-V") => {
            println!("t1651detect {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        _ => {
            widen_pipes();
            t1651::scp::run(T1651Command::new())
        }
    }
}

/// Asks for 1 MiB pipe buffers on stdin and stdout (Linux; best effort, errors ignored).
///
/// splunkd writes request chunks of 100 MB and more through a pipe; with the default 64 KiB
/// buffer every chunk costs thousands of reader/writer wake-ups, which on a busy search head
/// took a third of the command's time. 1 MiB is the unprivileged maximum
/// (`/proc/sys/fs/pipe-max-size`); on files, terminals or other systems this does nothing.
fn widen_pipes() {
    #[cfg(target_os = "linux")]
    for fd in [0, 1] {
        // SAFETY: fcntl on a standard descriptor with an integer argument has no memory
        // effects; on a non-pipe it fails with EBADF/EINVAL, which is ignored.
        unsafe {
            libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
        }
    }
}
