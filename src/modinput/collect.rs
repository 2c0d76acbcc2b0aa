//! Cloud-independent collection loop: sources × time slices, de-duplication, checkpointing.
//!
//! For each source the window runs from `done_until - overlap` (or `start_from` for a new
//! source) to the instant the run started, cut into slices processed oldest first. A slice is
//! marked done in the checkpoint only after every page of it was fetched and every event of it
//! written, flushed and journalled. A failed slice (HTTP error after retries, malformed page)
//! is logged as an ERROR and the source stops there for this run: the checkpoint never moves
//! past events that were not delivered. Memory: one page of events plus the ids of one slice
//! and the overlap.

use std::io::Write;

use chrono::{DateTime, Duration, Utc};

use super::checkpoint::{normalize_id, Checkpoint};
use super::error::ModinputError;
use super::log;
use super::xml_out::EventWriter;

/// One event as the API returned it.
#[derive(Debug, Clone)]
pub struct RawEvent<'a> {
    /// The API's unique id (Azure `eventDataId`, CloudTrail `eventID`), or a hash of the text.
    pub id: String,
    /// Event time (`_time`).
    pub time: Option<DateTime<Utc>>,
    /// The event JSON exactly as returned.
    pub data: &'a str,
}

/// Callback through which a collector hands over events.
pub type Emit<'e> = dyn FnMut(RawEvent<'_>) -> Result<(), ModinputError> + 'e;

/// A cloud API that can list its sources and page through one source's events in a window.
pub trait Collector {
    /// One independently checkpointed stream, e.g. a subscription × resource provider.
    type Source;
    /// The sources this run covers.
    fn sources(&mut self) -> Result<Vec<Self::Source>, ModinputError>;
    /// A stable key for the checkpoint (no tabs or newlines).
    fn key(&self, source: &Self::Source) -> String;
    /// Fetch every wanted event of `source` with event time in `[from, to]`, in page order.
    /// Returns `Err` if any page could not be fetched or parsed, or if `emit` failed.
    fn collect(
        &mut self,
        source: &Self::Source,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        emit: &mut Emit<'_>,
    ) -> Result<(), ModinputError>;
}

/// Window settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start for sources without a checkpoint.
    pub start_from: DateTime<Utc>,
    /// Re-read this far before `done_until`.
    pub overlap: Duration,
    /// End of this run's window (the run's start).
    pub end: DateTime<Utc>,
    /// Width of one checkpointed slice.
    pub slice: Duration,
    /// Oldest instant the APIs can serve (both keep 90 days).
    pub oldest: DateTime<Utc>,
}

/// `t` rounded down to a whole second. Every slice boundary is a whole second, because
/// CloudTrail takes whole seconds and its records carry second precision: a fractional boundary
/// would re-read events that the pruned checkpoint no longer remembers.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl Window {
    /// Defaults for a run starting at `now`; `T1651_MODINPUT_SLICE_SECS` sets the slice width.
    /// All instants are whole seconds (see [`whole_second`]); `overlap` comes from
    /// [`super::timespec::parse_span`], which yields whole seconds too.
    pub fn new(start_from: DateTime<Utc>, overlap: Duration, now: DateTime<Utc>) -> Self {
        let slice_secs = std::env::var("T1651_MODINPUT_SLICE_SECS")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(3600);
        let now = whole_second(now);
        Window {
            start_from: whole_second(start_from),
            overlap: Duration::seconds(overlap.num_seconds()),
            end: now,
            slice: Duration::seconds(slice_secs),
            oldest: now - Duration::days(89),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub written: u64,
    pub duplicates_skipped: u64,
    pub sources: u64,
    pub sources_failed: u64,
}

/// Errors that end the stanza's run: stdout or the checkpoint is unusable (continuing could
/// duplicate), or the credentials were refused (every other source would fail the same way).
fn is_fatal(e: &ModinputError) -> bool {
    matches!(
        e,
        ModinputError::Output(_) | ModinputError::Checkpoint { .. } | ModinputError::Auth { .. }
    )
}

/// Collect every source of `collector` into `out`.
pub fn collect_all<C: Collector, W: Write>(
    collector: &mut C,
    checkpoint: &mut Checkpoint,
    out: &mut EventWriter<W>,
    stanza: &str,
    sourcetype: &str,
    window: Window,
) -> Result<RunStats, ModinputError> {
    let mut stats = RunStats::default();
    let sources = collector.sources()?;
    for source in &sources {
        stats.sources += 1;
        let key = collector.key(source);
        let mut from = match checkpoint.done_until(&key) {
            Some(d) => d - window.overlap,
            None => window.start_from,
        };
        if from < window.oldest {
            log::warn(&format!(
                "{key}: start {} is older than the APIs keep; starting at {}",
                from.to_rfc3339(),
                window.oldest.to_rfc3339()
            ));
            from = window.oldest;
        }
        let mut failed = false;
        while from < window.end {
            let to = (from + window.slice).min(window.end);
            let mut emit = |ev: RawEvent<'_>| -> Result<(), ModinputError> {
                let id = normalize_id(&ev.id);
                if checkpoint.is_sent(&key, &id) {
                    stats.duplicates_skipped += 1;
                    return Ok(());
                }
                let entry = checkpoint.entry(&key, &id, ev.time);
                // One write(2) of the event, then one write(2) of its journal line, with nothing
                // but returning in between: the only instant at which a kill duplicates.
                out.write_event(stanza, ev.time, ev.data, sourcetype)?;
                checkpoint.record_sent(entry)?;
                stats.written += 1;
                Ok(())
            };
            match collector.collect(source, from, to, &mut emit) {
                Ok(()) => checkpoint.complete(&key, to)?,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => {
                    log::error(&format!(
                        "{key}: {e}; the checkpoint stays at {} and the next run retries from there",
                        checkpoint
                            .done_until(&key)
                            .map(|d| d.to_rfc3339())
                            .unwrap_or_else(|| "start_from".into())
                    ));
                    failed = true;
                    break;
                }
            }
            from = to;
        }
        if failed {
            stats.sources_failed += 1;
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_boundaries_are_whole_seconds() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.734Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = Window::new(
            now - Duration::milliseconds(86_400_123),
            Duration::minutes(15),
            now,
        );
        assert_eq!(w.end.timestamp_subsec_nanos(), 0);
        assert_eq!(w.start_from.timestamp_subsec_nanos(), 0);
        assert_eq!((w.end - w.overlap).timestamp_subsec_nanos(), 0);
    }
}
