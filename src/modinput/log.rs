//! `LEVEL message` lines on stderr, which splunkd files under ExecProcessor in splunkd.log.
//!
//! Invariant: every line passes through [`redact`], which replaces any secret registered with
//! [`register_secret`] by `<redacted>`. Call sites never format secrets (they are
//! [`super::secret::Secret`]s); the registry is a second line of defence, e.g. against an API that
//! echoes a credential back in an error body that ends up in a message.

use std::io::Write;
use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Severity understood by splunkd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

/// Remember a secret so that no log line can ever contain it. Short values are ignored: they
/// would redact ordinary words and are not secrets worth the name.
pub fn register_secret(secret: &str) {
    if secret.len() >= 6 {
        if let Ok(mut s) = SECRETS.lock() {
            if !s.iter().any(|x| x == secret) {
                s.push(secret.to_string());
            }
        }
    }
}

/// Replace every registered secret in `text`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(s) = SECRETS.lock() {
        for secret in s.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "<redacted>");
            }
        }
    }
    out
}

/// Write one log line: the level, a space, the message folded onto one line.
pub fn log(level: Level, message: &str) {
    let one_line: String = message
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let line = format!("{} {}\n", level.as_str(), redact(&one_line));
    // stderr is unbuffered; one write per line keeps lines whole when splunkd reads them.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn debug(message: &str) {
    if std::env::var_os("T1651_MODINPUT_DEBUG").is_some() {
        log(Level::Debug, message);
    }
}
pub fn info(message: &str) {
    log(Level::Info, message);
}
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
pub fn error(message: &str) {
    log(Level::Error, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_redacted() {
        register_secret("S3cr3t-Value-123");
        assert_eq!(
            redact("token S3cr3t-Value-123 leaked"),
            "token <redacted> leaked"
        );
    }
}
