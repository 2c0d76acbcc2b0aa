//! The `t1651_cloud_audit` modular input: collects Azure Activity Log and AWS CloudTrail events
//! of cloud administration commands from the cloud APIs and streams them to splunkd.
//!
//! * [`run`]: the splunkd contract (`--scheme`, `--validate-arguments`, normal run).
//! * [`xml_in`] / [`xml_out`] / [`scheme`]: the XML documents of that contract.
//! * [`config`] / [`timespec`]: typed, validated stanza parameters.
//! * [`collect`] / [`checkpoint`]: sources × slices, de-duplication, crash-safe progress.
//! * [`azure`] / [`aws`]: the two cloud APIs; [`http`] / [`passwords`] / [`secret`] / [`log`]: plumbing.
//!
//! Trust boundaries: the secret is read by exact name from this app's storage/passwords only
//! ([`passwords`]) and goes only to the cloud's own hosts: endpoint overrides must name a known
//! host of the configured Azure environment or AWS partition ([`config`]); loopback is accepted
//! only when splunkd's environment sets the test-only switch
//! `T1651_MODINPUT_TEST_ONLY_ALLOW_LOOPBACK=1` (off by default; never set it in production).
//! Every remote value is bounded: paging loops and page counts (`max_pages`), run time
//! (`max_run_time`), token lifetimes (checked arithmetic), one unreadable element (set aside
//! and counted, the rest delivered).
//!
//! Late events: each run reads up to `now - settle_lag` and re-reads `overlap` (default 60 m)
//! before where the previous run stopped; once an hour each source also re-reads `late_window`
//! (default 6 h) and sends what arrived later than the overlap, with a WARN naming each id.
//! An event delivered later than `late_window` is not collected (and cannot be seen).
//!
//! AWS accounts and regions: one account per stanza, or with `aws_organization_role` every
//! ACTIVE account Organizations lists (a role assumed in each; one refused account is an ERROR,
//! counted, and does not stop the others); named regions, or `regions = all` (EC2
//! DescribeRegions once per account and run, names checked against the partition) ([`aws`]).
//!
//! Delivery: at least once, with every event already sent remembered (by `eventDataId` /
//! `eventID`) for the longer of the overlap and the late window (bounded per source). After a kill at any instant nothing is lost, and an event
//! is written twice only if the kill lands between the event's `write(2)` to stdout and the
//! adjacent `write(2)` of its journal line — at most one duplicate per crash, the last event
//! the dying process wrote ([`checkpoint`] states the guarantee exactly).
//!
//! Internal knobs (environment, for tests and diagnosis; not part of the stanza):
//! `T1651_MODINPUT_BACKOFF_MS` (retry backoff base, default 500), `T1651_MODINPUT_TIMEOUT_MS`
//! (per request, default 60000), `T1651_MODINPUT_SLICE_SECS` (checkpointed slice, default 3600),
//! `T1651_MODINPUT_AWS_PACING_MS` (LookupEvents spacing per account and region, default 500),
//! `T1651_MODINPUT_DEBUG` (DEBUG lines), `T1651_MODINPUT_NOW` (the run's "now", RFC 3339: lets
//! tests replay hours of late deliveries in seconds).
//!
//! Depends on `crate::detect::operations` only (the default operation lists).

pub mod aws;
pub mod azure;
pub mod checkpoint;
pub mod collect;
pub mod config;
pub mod error;
pub mod http;
pub mod log;
pub mod passwords;
pub mod run;
pub mod scheme;
pub mod secret;
pub mod timespec;
pub mod xml_in;
pub mod xml_out;

pub use error::ModinputError;
pub use run::main_with_args;
