//! Offline scan of exported audit-log files: `t1651detect scan <files|dirs>`.
//!
//! * [`input`] reads exported logs in a one-way pipeline (walk paths → decide each input's
//!   format from its content → decode records from JSON text or Event Hubs Capture Avro →
//!   the engine): every Azure Activity Log and CloudTrail export shape, gzip or not, from
//!   files, directories or standard input, streamed one record at a time; bad input is
//!   reported by position and never costs another record.
//! * [`render`] prints output rows as a terminal table, CSV or JSON lines, and the summary.
//! * [`cli`] parses the command line into the detection's `(name, value)` option pairs and
//!   drives a scan through an [`cli::EngineFactory`], the seam where the detection engine
//!   plugs in; it streams `mode=events` rows out as they come, shows progress on a
//!   terminal, and owns the exit-status table.
//! * [`engine`] is that seam's implementation over [`crate::detect`].

pub mod cli;
pub mod engine;
pub mod input;
pub mod render;
