//! `t1651detect`: the Splunk search command, and an offline scanner.
//!
//! * no arguments: one SCP v2 session on stdin/stdout (how splunkd runs it with
//!   `chunked = true`; the command's options arrive in the getinfo request, not in argv);
//! * `scan …`: the offline scan of exported log files (`t1651detect scan --help`);
//! * `--version`, `--help`: short text;
//! * anything else: an SCP session too, because commands.conf `command.arg.<N>` adds
//!   arguments: the protocol limits `--max-chunk-bytes=N`, `--max-metadata-bytes=N`,
//!   `--max-field-bytes=N` and `--max-reply-bytes=N` (set the last one to commands.conf
//!   `maxchunksize`), and `--batch-bytes=N` (rows handed to the command per step). Any other
//!   argument is reported as an error on the getinfo reply; the
//!   runtime rejects v1 argv (`__GETINFO__`/`__EXECUTE__`) with "chunked = true is missing".

use std::io::Write;
use std::process::ExitCode;

use splunk_scp::{
    Args, Command, CommandError, CommandInfo, GetInfo, Limit, Output, RecordBatch, Runtime,
};
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

Protocol limits (commands.conf [t1651detect] command.arg.<N>, e.g. command.arg.1 = --max-chunk-bytes=2147483648):
  --max-chunk-bytes=N      largest request chunk body (default 1 GiB, at most 2147483648)
  --max-metadata-bytes=N   largest request chunk metadata (default 64 MiB)
  --max-field-bytes=N      largest single field value (default 64 MiB)
  --max-reply-bytes=N      largest reply chunk; set it to commands.conf maxchunksize (default: none)
  --batch-bytes=N          decoded request text handled per step while a chunk arrives; bounds the
                           memory a chunk takes (default 1 MiB; with threads=N above 6, about
                           N/6 MiB lets every thread work on each batch)
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
            let argv: Vec<String> = std::env::args().skip(1).collect();
            match runtime_from_args(&argv) {
                Ok(rt) => rt.run(T1651Command::new()),
                // Reported on the getinfo reply, where splunkd shows it to the user.
                Err(e) => Runtime::new().run(RejectAtGetinfo(e)),
            }
        }
    }
}

/// The protocol limits flags, the [`Limit`] each sets, and how the error hints name them.
const LIMIT_FLAGS: [(&str, Limit); 4] = [
    ("--max-chunk-bytes", Limit::ChunkBytes),
    ("--max-metadata-bytes", Limit::MetadataBytes),
    ("--max-field-bytes", Limit::FieldBytes),
    ("--max-reply-bytes", Limit::ReplyBytes),
];

/// Decoded text per `process` call: a 50,000-event chunk of `_raw` (130 MB and more) is
/// handled in batches of this size as it arrives, so the command's memory does not grow with
/// splunkd's chunk size, and each batch is still in cache when it is scanned. About six
/// blocks of the engine's parallel work ([`t1651::parallel::BLOCK_ROWS`] rows of 2-3 KB): on
/// a 100k-event session batches of 0.5, 1, 2, 4 and 8 MiB took 0.50, 0.52, 0.54, 0.57 and
/// 0.59 s (two cores, with 256-row blocks) and peaked at 50 to 69 MB (`bench/README.md`).
/// With many `threads`, raise it (`--batch-bytes`) so that each batch holds blocks for every
/// thread.
const BATCH_BYTES: usize = 1 << 20;

/// Sets [`Runtime::batch_bytes`] (default [`BATCH_BYTES`]).
const BATCH_FLAG: &str = "--batch-bytes";

/// The runtime for an SCP session, with the limits given in argv (commands.conf
/// `command.arg.<N>`). Error hints name the commands.conf setting that raises each limit.
/// v1 markers (`__GETINFO__`) are left to the runtime, which explains them.
fn runtime_from_args(argv: &[String]) -> Result<Runtime, String> {
    let mut rt = Runtime::new().batch_bytes(Some(BATCH_BYTES));
    for (flag, limit) in LIMIT_FLAGS {
        rt = rt.limit_setting(
            limit,
            format!("commands.conf [t1651detect] command.arg.<N> = {flag}"),
        );
    }
    for arg in argv {
        if arg == "__GETINFO__" || arg == "__EXECUTE__" {
            continue;
        }
        let (flag, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        let limit = LIMIT_FLAGS
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|&(_, l)| l);
        if limit.is_none() && flag != BATCH_FLAG {
            return Err(format!(
                "t1651detect: unknown argument '{arg}' (from commands.conf command.arg.<N>); \
                 valid: {}=<bytes>, {BATCH_FLAG}=<bytes>",
                LIMIT_FLAGS.map(|(f, _)| f).join("=<bytes>, ")
            ));
        }
        let bytes: u64 = value.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            format!("t1651detect: {flag} needs a positive number of bytes, got '{value}'")
        })?;
        let Some(limit) = limit else {
            rt = rt.batch_bytes(Some(usize::try_from(bytes).unwrap_or(usize::MAX)));
            continue;
        };
        rt = match limit {
            Limit::ChunkBytes => rt
                .try_max_chunk_bytes(bytes)
                .map_err(|_| {
                    format!(
                        "t1651detect: {flag}={bytes} is above the supported maximum of {} bytes (2 GiB)",
                        splunk_scp::frame::MAX_CHUNK_BYTES
                    )
                })?,
            Limit::MetadataBytes => rt.max_metadata_bytes(bytes),
            Limit::FieldBytes => rt.max_field_bytes(usize::try_from(bytes).unwrap_or(usize::MAX)),
            Limit::ReplyBytes => {
                rt.max_reply_bytes(Some(usize::try_from(bytes).unwrap_or(usize::MAX)))
            }
        };
    }
    Ok(rt)
}

/// A session that fails its getinfo with a configuration error found before it started.
struct RejectAtGetinfo(String);

impl Command for RejectAtGetinfo {
    fn getinfo(&mut self, _: &GetInfo, _: &Args) -> Result<CommandInfo, CommandError> {
        Err(CommandError::new(self.0.clone()))
    }

    fn process(&mut self, _: &RecordBatch, _: &mut Output) -> Result<(), CommandError> {
        Err(CommandError::new(self.0.clone()))
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
