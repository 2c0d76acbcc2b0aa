//! The detection engine behind `t1651detect scan`: [`factory`] plugs
//! [`crate::detect::engine::Engine`] into [`crate::scan::cli::run`].
//!
//! Offline events carry no Splunk `_time`, so each record's own timestamp is used. The
//! scan reports events the engine did not use in its summary line (by reason, from
//! [`crate::detect::engine::Stats::unused_by_reason`]), so the warning handed back carries
//! only what that line does not: limits reached and multivalues cut.

use crate::detect::engine::{warning_text, Engine as Detect, Stats};
use crate::detect::options::{Mode, Options};
use crate::detect::row::OutputRow;
use crate::scan::cli::{Engine, EngineOutput, OptionError};
use crate::scan::input::Event;

/// A scan run: the detection engine and, in `mode=events`, the rows so far.
struct DetectEngine {
    engine: Detect,
    events_mode: bool,
    rows: Vec<OutputRow>,
}

impl Engine for DetectEngine {
    fn push(&mut self, event: &Event<'_>) {
        if self.events_mode {
            if let Some(r) = self.engine.event_row_json(event.bytes(), None) {
                self.rows.push(r);
            }
        } else {
            self.engine.ingest_json(event.bytes(), None);
        }
    }

    fn finish(self: Box<Self>) -> EngineOutput {
        let DetectEngine {
            engine, mut rows, ..
        } = *self;
        let opts = engine.options().clone();
        let done = engine.finish();
        rows.extend(done.rows);
        let skipped = done
            .stats
            .unused_by_reason()
            .into_iter()
            .map(|(r, n)| (r.to_owned(), n))
            .collect();
        // Skips are in the summary line already: warn only about the rest.
        let rest = Stats {
            skipped: Default::default(),
            ..done.stats
        };
        EngineOutput {
            rows,
            skipped,
            warning: warning_text(&rest, &opts),
        }
    }
}

/// Builds the engine from the scan's Splunk-style option pairs; the error names the option
/// and its valid values (the detection's own option parser).
pub fn factory(options: &[(&'static str, String)]) -> Result<Box<dyn Engine>, OptionError> {
    let opts = Options::parse(options.iter().map(|(n, v)| (*n, v.as_str())))?;
    Ok(Box::new(DetectEngine {
        events_mode: opts.mode == Mode::Events,
        engine: Detect::new(opts),
        rows: Vec::new(),
    }))
}
