//! Splunk's chunked custom search command protocol v2 (SCP v2), for writing Splunk search
//! commands in Rust. Depends on no application code.
//!
//! Layers, each usable on its own:
//! * [`frame`]: `chunked 1.0,<M>,<B>\n` framing with size limits;
//! * [`limits`]: the configurable limits and the setting names their errors suggest;
//! * [`metadata`]: getinfo/execute request and reply JSON (as tolerant as the Splunk SDK);
//! * [`csv`]: the body codec ([`RecordBatch`] in, [`Output`] out; rows as the SDK's reader);
//! * [`args`]: `searchinfo.args` parsing with errors that name the bad option;
//! * [`spec`]: options declared once (types, defaults, validation, help, searchbnf syntax);
//! * [`runtime`]: the lock-step command loop behind [`Command`], [`Generator`] and [`run`];
//! * [`mapreduce`]: a reporting command with a map phase ([`Reporting`], [`run_reporting`]),
//!   like the SDK's `ReportingCommand`;
//! * `testing` (feature `testing`): a splunkd emulator to test a command in a few lines.
//!
//! Writing a command: implement [`Command`] (or [`Generator`] for a generating command, or
//! [`Reporting`] for map/reduce) and call [`run`] from `main`. Lifecycle: `getinfo` once
//! (also in splunkd's probe processes: no side effects), `process` per execute chunk with ≥ 1
//! row (per batch of its rows under [`Runtime::batch_bytes`]), `end_request` after a chunk's
//! last `process`, `finish` once on splunkd's last request (or after
//! [`Output::finish_early`]). Fields
//! are read through [`Row`] (`get`, `str`, `raw`, `time`, multivalues via
//! [`Value::values`]); records are written through [`Output::record`],
//! [`Output::passthrough`]/[`Output::record_for`] (which keep `_chunked_idx`) and
//! [`Output::extra_record`], or made on demand while the reply is written
//! ([`Output::stream`] with a [`RecordSource`], for output too large to hold); messages
//! through [`Output::warn`]/[`Output::info`], metrics through [`Output::metric`]. See [`runtime`] for a complete example and the crate's
//! README for the guarantees.

#![warn(missing_docs)]

pub mod args;
pub mod csv;
pub mod error;
pub mod frame;
pub mod limits;
pub mod mapreduce;
pub mod metadata;
pub mod output;
pub mod record;
pub mod runtime;
mod signals;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
mod utf8;

pub use args::{ArgError, Args, Options};
pub use error::{CsvError, FrameError, MetadataError, ProtocolError};
pub use limits::Limit;
pub use mapreduce::{run_reporting, MapReduce, Reporting};
pub use metadata::{CommandType, GetInfo, Level, Message, SearchInfo};
pub use output::{FieldValue, Output, PyFloat, RecordBuilder, RecordSource};
pub use record::{ColumnId, MultiValue, RecordBatch, Row, Value, Values};
pub use runtime::{
    run, run_generator, Command, CommandError, CommandInfo, Generator, LimitTooHigh, Progress,
    RunOutcome, Runtime,
};
pub use spec::{OptionSet, OptionSpec, OptionValues};
