//! Offline scan of exported audit-log files.
