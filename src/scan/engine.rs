//! The detection engine behind `t1651detect scan`: [`factory`] plugs
//! [`crate::detect::engine::Engine`] into [`crate::scan::cli::run`].
//!
//! Offline events carry no Splunk `_time`, so each record's own timestamp is used. The
//! scan reports events the engine did not use in its summary line (by reason, from
//! [`crate::detect::engine::Stats::unused_by_reason`]), so the warning handed back carries
//! only what that line does not: limits reached and multivalues cut.

use crate::detect::engine::{warning_text, Engine as Detect, Stats};
use crate::detect::normalize::SkipReason;
use crate::detect::options::{Mode, Options};
use crate::detect::row::{OutValue, OutputRow};
use crate::scan::cli::{Engine, EngineOutput, Offered, OptionError};
use crate::scan::input::Event;

/// A scan run: the detection engine. In `mode=events` its rows are streamed out as the
/// events arrive (nothing is kept).
///
/// # One pass
///
/// The reader [offers](Engine::offer) each structurally complete record before checking its
/// JSON, and the engine's own `_raw` scanner (which reads every byte of the record anyway)
/// is the check: a record it reads is taken; a record it finds broken was counted as
/// `broken_json` and nothing else, and is [`Offered::Refused`], so the reader checks it
/// with serde_json and, if serde_json refuses it too, reports it and withdraws it (the
/// count is undone in [`Engine::finish`]). This relies on the scanner refusing everything
/// serde_json refuses (it follows serde_json's typed deserialisation, which accepts less
/// than its validation: `tests/scan_onepass.rs` holds the two to that), and on a
/// structurally complete record never looking *cut short* to the scanner, which could
/// then use its beginning: the one way that can happen is a `\u` escape with fewer than
/// four characters after it before the record's end, so a record with a backslash in its
/// last [`TAIL_CHECKED`] bytes is declined and checked first.
struct DetectEngine {
    engine: Detect,
    events_mode: bool,
    /// Refused records the reader reported as malformed: not events.
    withdrawn: u64,
}

/// See [`DetectEngine`]: a `\u` escape needs four characters after the `u`, so a `\` at or
/// after `len - 5` could end the text inside an escape; one byte of margin.
const TAIL_CHECKED: usize = 6;

impl DetectEngine {
    fn broken(&self) -> u64 {
        self.engine.stats().skipped[SkipReason::BrokenJson.index()]
    }
}

impl Engine for DetectEngine {
    fn push(&mut self, event: &Event<'_>) -> Option<OutputRow> {
        if self.events_mode {
            self.engine.event_row_json(event.bytes(), None)
        } else {
            self.engine.ingest_json(event.bytes(), None);
            None
        }
    }

    fn offer(&mut self, event: &Event<'_>) -> Offered {
        let b = event.bytes();
        if memchr::memchr(b'\\', &b[b.len().saturating_sub(TAIL_CHECKED)..]).is_some() {
            return Offered::CheckFirst;
        }
        let before = self.broken();
        let row = self.push(event);
        if self.broken() != before {
            debug_assert!(row.is_none());
            Offered::Refused
        } else {
            Offered::Taken(row)
        }
    }

    fn withdraw(&mut self) {
        self.withdrawn += 1;
    }

    fn columns(&self) -> Vec<String> {
        header_columns(self.engine.options())
    }

    fn finish(self: Box<Self>) -> EngineOutput {
        let DetectEngine {
            engine, withdrawn, ..
        } = *self;
        let opts = engine.options().clone();
        let mut done = engine.finish();
        // Withdrawn records were reported by the reader as malformed: not events.
        done.stats.skipped[SkipReason::BrokenJson.index()] -= withdrawn;
        done.stats.events -= withdrawn;
        let rows = done.rows;
        let skipped = done
            .stats
            .unused_by_reason()
            .into_iter()
            .map(|(r, n)| (r.to_owned(), n))
            .collect();
        // Skips and duplicates are in the summary line already: warn only about the rest.
        let rest = Stats {
            skipped: Default::default(),
            duplicates: 0,
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
        withdrawn: 0,
    }))
}

/// The output columns for these options, found by running one well-formed Azure Run
/// Command event through a fresh engine (so the list can never drift from the engine's
/// rows), followed by the `<name>_truncated` flag column of each multivalue column (the
/// engine adds one to a row whose values were cut to `max_values`). Empty when the options
/// exclude that event (e.g. `--operations`).
fn header_columns(opts: &Options) -> Vec<String> {
    const PROBE: &[u8] = br#"{"time":"2026-01-01T00:00:00Z","resourceId":"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM","operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION","category":"Administrative","resultType":"Success","caller":"probe@example.com","correlationId":"00000000-0000-0000-0000-000000000001","tenantId":"00000000-0000-0000-0000-000000000002"}"#;
    let mut probe = Detect::new(opts.clone());
    let row = if opts.mode == Mode::Events {
        probe.event_row_json(PROBE, None)
    } else {
        probe.ingest_json(PROBE, None);
        probe.finish().rows.into_iter().next()
    };
    let Some(row) = row else {
        return Vec::new();
    };
    let mut cols: Vec<String> = row.columns.iter().map(|(n, _)| n.to_string()).collect();
    for (name, value) in &row.columns {
        let flag = format!("{name}_truncated");
        if matches!(value, OutValue::Multi(_)) && !cols.contains(&flag) {
            cols.push(flag);
        }
    }
    cols
}
