//! T1651 "Cloud Administration Command" detection for Splunk.
//!
//! The crate is split into modules with one-way dependencies:
//!
//! * [`scp`]: Splunk's chunked custom search command protocol (SCP v2): framing, metadata,
//!   the CSV body codec and a command runtime. It is the workspace crate `splunk-scp`
//!   (`crates/splunk-scp`), re-exported here under its old path; it knows nothing of T1651.
//! * [`detect`]: the detection domain: event normalisation for every Azure Activity Log,
//!   AWS CloudTrail and Google Cloud audit log shape, invocation collapse, aggregation and
//!   mergeable partial state.
//!   It knows nothing of the protocol.
//! * [`scan`]: the offline front end: reads exported log files and runs [`detect`].
//! * [`command`]: the `t1651detect` search command, a thin adapter from [`scp`] to [`detect`].
//! * [`modinput`]: the modular input that collects control-plane audit events.
//! * [`parallel`]: the one concurrency primitive: per-row work on several threads, results
//!   consumed in row order (the normalisation of events uses it).
//!
//! The binaries in `src/bin/` are thin front ends over these modules.

pub mod command;
pub mod detect;
pub mod modinput;
pub mod parallel;
pub mod scan;
pub use splunk_scp as scp;
