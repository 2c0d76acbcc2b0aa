//! The T1651 detection domain. Knows nothing of the Splunk protocol.

pub mod operations;
pub mod row;
