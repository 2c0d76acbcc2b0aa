//! Shared helpers of the app tests (tests/app_*.rs): a .conf parser, SPL reference
//! extraction, cron parsing, and the facts the app must agree with.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod check;
pub mod conf;
pub mod cron;
pub mod spl;

use std::path::{Path, PathBuf};

pub const APP_ID: &str = "t1651_cloud_admin_command";

/// The options `t1651detect` accepts: searchbnf.conf must document exactly these and the
/// shipped searches may use only these. One list in the project: the command's own.
#[allow(unused_imports)] // not every test crate that includes this module uses it
pub use t1651::detect::options::OPTION_NAMES;

/// Parameters of the t1651_cloud_audit modular input, as its `--scheme` declares them:
/// README/inputs.conf.spec must declare exactly these (one list in the project: the input's).
#[allow(dead_code)] // not every test crate that includes this module uses it
pub fn input_params() -> Vec<&'static str> {
    t1651::modinput::scheme::PARAMS
        .iter()
        .map(|p| p.name)
        .collect()
}

/// Sourcetypes the data-source macro must cover (issue 4; the modular input writes the
/// mscs:azure:audit and aws:cloudtrail ones).
pub const SOURCETYPES: &[&str] = &[
    "azure:activity",
    "azure:audit",
    "mscs:azure:activity",
    "mscs:azure:audit",
    "mscs:azure:eventhub",
    "azure:monitor:activity",
    "aws:cloudtrail",
    "google:gcp:pubsub:audit:admin_activity",
    "google:gcp:pubsub:audit:data_access",
    "google:gcp:pubsub:message",
];

/// Splunk built-in search commands the app's searches may use besides its own.
pub const BUILTIN_COMMANDS: &[&str] = &[
    "search",
    "where",
    "eval",
    "stats",
    "eventstats",
    "streamstats",
    "timechart",
    "chart",
    "table",
    "fields",
    "rename",
    "sort",
    "dedup",
    "head",
    "tail",
    "rex",
    "lookup",
    "inputlookup",
    "outputlookup",
    "fillnull",
    "convert",
    "mvexpand",
    "makemv",
    "bin",
    "top",
    "rare",
    "append",
    "appendcols",
    "iplocation",
    "tstats",
    "collect",
    "spath",
    "makeresults",
    "fieldformat",
];

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn app_dir() -> PathBuf {
    repo_root().join("app")
}

/// Parses app/<rel>, panicking with the parser's message (a test failure) when it is invalid.
pub fn app_conf(rel: &str) -> conf::Conf {
    let path = app_dir().join(rel);
    conf::parse_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
