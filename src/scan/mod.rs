//! Offline scan of exported audit-log files: `t1651detect scan <files|dirs>`.
//!
//! * [`input`] reads exported logs (every Azure Activity Log and CloudTrail export shape,
//!   gzip or not) and streams each event as raw JSON, reporting bad input by position.
//! * [`render`] prints output rows as a terminal table, CSV or JSON lines, and the summary.
//! * [`cli`] parses the command line into the detection's `(name, value)` option pairs and
//!   drives a scan through an [`cli::EngineFactory`], the seam where the detection engine
//!   plugs in.
//! * [`engine`] is that seam's implementation over [`crate::detect`].

pub mod cli;
pub mod engine;
pub mod input;
pub mod render;
