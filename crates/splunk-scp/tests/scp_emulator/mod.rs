//! The public splunkd emulator ([`splunk_scp::testing`]) plus this crate's example commands.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

pub use splunk_scp::testing::*;

/// Path of one of this crate's examples (built once per test process).
pub fn example(name: &str) -> PathBuf {
    examples_dir(env!("CARGO_MANIFEST_DIR")).join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Spawns one of this crate's examples.
pub fn spawn(name: &str) -> Proc {
    spawn_args(name, &[])
}

/// Spawns one of this crate's examples with `argv`.
pub fn spawn_args(name: &str, argv: &[&str]) -> Proc {
    Proc::spawn_exe(&example(name), argv)
}
