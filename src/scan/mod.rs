//! Offline scan of exported audit-log files: `t1651detect scan <files|dirs>`.
//!
//! * [`input`] reads exported logs (every Azure Activity Log and CloudTrail export shape,
//!   gzip or not) and streams each event as raw JSON.
//! * [`render`] prints output rows as a terminal table, CSV or JSON lines.
//! * [`cli`] parses the command line into the detection's option pairs and drives the scan.

pub mod cli;
pub mod input;
pub mod render;
