//! The T1651 detection domain. Knows nothing of the Splunk protocol.
//!
//! Flow: [`options::Options`] → per event [`normalize`] (JSON `_raw` or flattened
//! [`fields::EventFields`]) → [`engine::Engine`] (invocation collapse, aggregation,
//! map/reduce partial state) → [`row::OutputRow`]s and one warning text.

pub mod engine;
pub mod fields;
mod intern;
pub mod normalize;
pub mod operations;
pub mod options;
pub mod raw;
pub mod resource;
pub mod row;
pub mod time;
