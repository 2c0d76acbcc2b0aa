//! The splunkd emulator of the protocol crate ([`splunk_scp::testing`]) plus its example
//! commands (`sum`, `generatehello`), for the product's tests.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

pub use splunk_scp::testing::*;

/// Path of an example of the protocol crate (built once per test process).
pub fn example(name: &str) -> PathBuf {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/splunk-scp");
    examples_dir(dir).join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
