//! The `t1651detect` search command: a thin adapter from the SCP v2 runtime ([`splunk_scp`])
//! to the detection engine ([`crate::detect`]).
//!
//! * [`fields`]: [`crate::detect::fields::EventFields`] over protocol rows, zero-copy.
//! * [`t1651`]: [`T1651Command`], the [`splunk_scp::Command`] implementation.
//!
//! Which protocol type the command announces depends on its options (see [`T1651Command`]):
//!
//! | options | `type` | `required_fields` | output |
//! |---|---|---|---|
//! | `mode=summary` (default) | `reporting` | the detection's field list | summary rows on the last reply |
//! | … `distributed=true` | `reporting` + `streaming_preop` | same | same, from partial rows |
//! | `phase=map` | `streaming` | none (all fields) | partial-state rows per chunk |
//! | `mode=events` | `stateful` | the detection's field list | each recognised event + normalised fields |

pub mod fields;
pub mod t1651;

pub use t1651::T1651Command;
