//! A map/reduce helper like the Splunk SDK's `ReportingCommand`.
//!
//! Implement [`Reporting`] (options declared once as an [`OptionSet`], a constructor, `map`,
//! `reduce`, `finish`) and run it with [`run_reporting`]. The helper:
//! * adds the option `phase=(map|reduce)` and parses/validates the declared options;
//! * in the reduce invocation (no `phase`) answers getinfo with `type=reporting`, the
//!   declared `required_fields` and, when [`Reporting::HAS_MAP`] is true, the
//!   `streaming_preop` `<command> phase="map" <given options> <fields>` (built from the
//!   options given, values JSON-quoted, as the SDK does);
//! * dispatches the invocation splunkd starts from that preop (`phase=map`) as a `streaming`
//!   command calling [`Reporting::map`] once per chunk; its records are partial aggregates
//!   (no `_chunked_idx` needed);
//! * in the reduce invocation feeds every chunk to [`Reporting::reduce`] (the map outputs, or
//!   raw events when splunkd skipped the map phase) and calls [`Reporting::finish`] once, on
//!   splunkd's last request: unlike the SDK's per-chunk `reduce`, the answer does not depend
//!   on how splunkd splits its input.
//!
//! See the `sum` example for a complete command.

use std::process::ExitCode;

use crate::args::Args;
use crate::metadata::{CommandType, GetInfo};
use crate::output::Output;
use crate::record::RecordBatch;
use crate::runtime::{Command, CommandError, CommandInfo, Runtime};
use crate::spec::{OptionSet, OptionSpec, OptionValues};

/// Which invocation a [`Reporting`] command runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The streaming pre-operation (`phase=map`), on indexers in a distributed search.
    Map,
    /// The reporting invocation on the search head.
    Reduce,
}

/// A reporting (transforming) command with an optional map phase.
pub trait Reporting: Sized {
    /// The command's SPL name, used in the map phase's SPL when splunkd does not say it
    /// (`searchinfo.command`, absent before Splunk 8).
    const NAME: &'static str;

    /// Whether the command has a map phase (announced as `streaming_preop`).
    const HAS_MAP: bool = true;

    /// The declared options (the helper adds `phase`).
    fn options() -> OptionSet;

    /// Builds the command from validated options, in getinfo (also in splunkd's probe
    /// processes: no side effects).
    fn new(options: &OptionValues, phase: Phase, info: &GetInfo) -> Result<Self, CommandError>;

    /// `required_fields` of the reduce invocation (`None`: splunkd's default).
    fn required_fields(&self) -> Option<Vec<String>> {
        None
    }

    /// Map phase: one chunk of events in, partial aggregates out (with [`Output::record`]).
    fn map(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        let _ = (batch, out);
        Err(CommandError::new(format!(
            "{} has no map phase",
            Self::NAME
        )))
    }

    /// Reduce phase: ingests one chunk (map outputs, or raw events if splunkd skipped the map).
    fn reduce(&mut self, batch: &RecordBatch) -> Result<(), CommandError>;

    /// Reduce phase, after splunkd's last request: emits the result.
    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError>;
}

/// Adapts a [`Reporting`] implementation to [`Command`].
#[derive(Debug)]
pub struct MapReduce<R> {
    inner: Option<R>,
    phase: Phase,
}

impl<R> Default for MapReduce<R> {
    fn default() -> Self {
        MapReduce {
            inner: None,
            phase: Phase::Reduce,
        }
    }
}

impl<R: Reporting> MapReduce<R> {
    /// The declared options with `phase` in front.
    pub fn options() -> OptionSet {
        R::options().with_first(
            OptionSpec::choice("phase", &["map", "reduce"])
                .help("set by the command itself in its map phase's SPL"),
        )
    }

    /// The wrapped command, once getinfo succeeded.
    pub fn inner(&self) -> Option<&R> {
        self.inner.as_ref()
    }

    fn inner_mut(&mut self) -> Result<&mut R, CommandError> {
        self.inner
            .as_mut()
            .ok_or_else(|| CommandError::new("execute request before a successful getinfo"))
    }
}

impl<R: Reporting> Command for MapReduce<R> {
    fn getinfo(&mut self, info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let values = Self::options().parse(args)?;
        self.phase = match values.str("phase") {
            Some("map") => Phase::Map,
            _ => Phase::Reduce,
        };
        let inner = R::new(&values, self.phase, info)?;
        let reply = match self.phase {
            Phase::Map => CommandInfo::new(CommandType::Streaming).aggregating(),
            Phase::Reduce => {
                let mut r = CommandInfo::new(CommandType::Reporting);
                if let Some(fields) = inner.required_fields() {
                    r = r.required_fields(fields);
                }
                if R::HAS_MAP {
                    let name = info.searchinfo.command.as_deref().unwrap_or(R::NAME);
                    let rest = values.to_spl();
                    let sep = if rest.is_empty() { "" } else { " " };
                    r = r.streaming_preop(format!("{name} phase=\"map\"{sep}{rest}"));
                }
                r
            }
        };
        self.inner = Some(inner);
        Ok(reply)
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        let phase = self.phase;
        let inner = self.inner_mut()?;
        match phase {
            Phase::Map => inner.map(batch, out),
            Phase::Reduce => inner.reduce(batch),
        }
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        match self.phase {
            Phase::Map => Ok(()),
            Phase::Reduce => self.inner_mut()?.finish(out),
        }
    }
}

/// Runs the [`Reporting`] command `R` on stdin/stdout; returns the process exit code.
pub fn run_reporting<R: Reporting>() -> ExitCode {
    Runtime::new().run(MapReduce::<R>::default())
}
