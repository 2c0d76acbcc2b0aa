//! SIGTERM reporting for commands running on stdio.
//!
//! splunkd stops a command with SIGTERM when a search is cancelled or finalised early, or when
//! it shuts down. The default action kills the process silently, leaving nothing in search.log
//! to tell a cancelled run from a crash. [`install_sigterm_reporter`] starts one watcher thread
//! that, on SIGTERM, writes one line to stderr naming what the runtime was doing and ends the
//! process immediately with status 143 (128 + 15), like the default action would.
//!
//! Invariants: the exit skips destructors and buffered stdout (`_exit`), so no partial reply
//! is flushed after the line; SIGPIPE is left as Rust sets it (ignored), so a closed stdout
//! shows up as an EPIPE write error that the runtime handles quietly.

use std::sync::atomic::{AtomicU8, Ordering};

/// What the runtime is doing, for the SIGTERM message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    Starting = 0,
    Reading = 1,
    Running = 2,
    Writing = 3,
    Exiting = 4,
}

static PHASE: AtomicU8 = AtomicU8::new(Phase::Starting as u8);

/// Records the current phase (a relaxed store: it only feeds a diagnostic line).
pub(crate) fn set_phase(p: Phase) {
    PHASE.store(p as u8, Ordering::Relaxed);
}

#[cfg_attr(not(unix), allow(dead_code))]
fn phase_text() -> &'static str {
    match PHASE.load(Ordering::Relaxed) {
        0 => "while starting",
        1 => "while waiting for or reading a request from splunkd",
        2 => "while the command was processing a request",
        3 => "while writing a reply to splunkd",
        _ => "while exiting",
    }
}

/// Installs the SIGTERM reporter once per process (later calls do nothing).
#[cfg(unix)]
pub(crate) fn install_sigterm_reporter() -> std::io::Result<()> {
    use std::io::Write;
    use std::sync::OnceLock;

    use signal_hook::consts::SIGTERM;
    use signal_hook::iterator::Signals;

    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let r = INSTALLED.get_or_init(|| {
        let mut signals = Signals::new([SIGTERM]).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("sigterm".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    // write_all, not eprintln!: a closed stderr must not panic this thread
                    // (the process would then never exit).
                    let line = format!(
                        "error: terminated by SIGTERM {} (search cancelled or splunkd stopping); exiting\n",
                        phase_text()
                    );
                    let _ = std::io::stderr().write_all(line.as_bytes());
                    signal_hook::low_level::exit(128 + SIGTERM);
                }
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    r.clone().map_err(std::io::Error::other)
}

/// No signal handling outside Unix.
#[cfg(not(unix))]
pub(crate) fn install_sigterm_reporter() -> std::io::Result<()> {
    Ok(())
}
