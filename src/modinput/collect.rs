//! Cloud-independent collection loop: sources × time slices, de-duplication, checkpointing.
//!
//! For each source the window runs from `done_until - overlap` (or `start_from` for a new
//! source) to the run's start less `settle_lag`, cut into slices processed oldest first. Once
//! per `late_every` a source first re-reads `[done_until - late_window, done_until - overlap]`:
//! anything new there arrived later than the overlap and is sent with a WARN naming its id. A slice is
//! marked done in the checkpoint only after every page of it was fetched and every event of it
//! written, flushed and journalled. A failed slice (HTTP error after retries, malformed page)
//! is logged as an ERROR and the source stops there for this run: the checkpoint never moves
//! past events that were not delivered; the other sources still run. At `max_run_time`
//! ([`Budget`]) no new request starts and the next run continues from the checkpoint. Memory:
//! one page of events plus the ids remembered for the overlap and late window.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

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

/// Limits of one run that every query obeys.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most pages one query may take.
    pub max_pages: u32,
    /// No request is started after this instant.
    pub deadline: Instant,
}

impl Budget {
    /// `Err(Deadline)` once the run's time is up.
    pub fn check_deadline(&self, what: &str) -> Result<(), ModinputError> {
        if Instant::now() >= self.deadline {
            Err(ModinputError::Deadline {
                what: what.to_string(),
            })
        } else {
            Ok(())
        }
    }

    /// A paging guard for one query.
    pub fn pager(&self) -> Pager {
        Pager {
            budget: *self,
            seen: HashSet::new(),
            pages: 0,
        }
    }
}

/// Guards one query's paging: a link or token seen before is an error (a server that loops
/// would otherwise keep the input busy forever), as are more than `max_pages` pages, and the
/// run's deadline is checked before every page.
pub struct Pager {
    budget: Budget,
    seen: HashSet<String>,
    pages: u32,
}

impl Pager {
    /// Call before fetching each page; `link` is the `nextLink` / `NextToken` (None for the first).
    pub fn next_page(&mut self, what: &str, link: Option<&str>) -> Result<u32, ModinputError> {
        self.budget.check_deadline(what)?;
        if let Some(l) = link {
            if !self.seen.insert(l.to_string()) {
                return Err(ModinputError::Paging {
                    what: what.to_string(),
                    reason: format!(
                        "the service returned the same paging link/token again (`{}`); not following a loop",
                        super::error::excerpt(l)
                    ),
                });
            }
        }
        self.pages += 1;
        if self.pages > self.budget.max_pages {
            return Err(ModinputError::Paging {
                what: what.to_string(),
                reason: format!(
                    "more than max_pages = {} pages in one query; raise max_pages if this source really has that many",
                    self.budget.max_pages
                ),
            });
        }
        Ok(self.pages)
    }
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
    /// Returns `Err` if any page could not be fetched or parsed, or if `emit` failed. A single
    /// element that cannot be read is set aside (logged with its id or position, counted in
    /// [`Collector::set_aside`]) and does not fail the query.
    fn collect(
        &mut self,
        source: &Self::Source,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        emit: &mut Emit<'_>,
    ) -> Result<(), ModinputError>;
    /// Elements set aside so far because they could not be read.
    fn set_aside(&self) -> u64 {
        0
    }
    /// Accounts (AWS Organizations members) that [`Collector::sources`] could not reach this
    /// run (role not assumable, regions not listable): each logged as an ERROR with its id;
    /// their sources are missing from the list, the other accounts' are there.
    fn accounts_failed(&self) -> u64 {
        0
    }
}

/// Window settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start for sources without a checkpoint.
    pub start_from: DateTime<Utc>,
    /// Re-read this far before `done_until`.
    pub overlap: Duration,
    /// End of this run's window: the run's start less the settle lag.
    pub end: DateTime<Utc>,
    /// The run's start.
    pub now: DateTime<Utc>,
    /// Width of one checkpointed slice.
    pub slice: Duration,
    /// Oldest instant the APIs can serve (both keep 90 days).
    pub oldest: DateTime<Utc>,
    /// The hourly deep re-read reaches this far before `done_until` (zero: off).
    pub late_window: Duration,
    /// How often the deep re-read runs per source.
    pub late_every: Duration,
}

/// `t` rounded down to a whole second. Every slice boundary is a whole second, because
/// CloudTrail takes whole seconds and its records carry second precision: a fractional boundary
/// would re-read events that the pruned checkpoint no longer remembers.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl Window {
    /// Defaults for a run starting at `now`; `T1651_MODINPUT_SLICE_SECS` sets the slice width.
    /// All instants are whole seconds (see [`whole_second`]); spans come from
    /// [`super::timespec::parse_span`], which yields whole seconds too.
    pub fn new(
        start_from: DateTime<Utc>,
        overlap: Duration,
        settle_lag: Duration,
        late_window: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        let slice_secs = std::env::var("T1651_MODINPUT_SLICE_SECS")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(3600);
        let now = whole_second(now);
        Window {
            start_from: whole_second(start_from),
            overlap: Duration::seconds(overlap.num_seconds()),
            end: now - Duration::seconds(settle_lag.num_seconds()),
            now,
            slice: Duration::seconds(slice_secs),
            oldest: now - Duration::days(89),
            late_window: Duration::seconds(late_window.num_seconds()),
            late_every: Duration::hours(1),
        }
    }

    /// How long sent ids must be remembered: as far back as any later query re-reads.
    pub fn retention(&self) -> Duration {
        self.overlap.max(self.late_window)
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub written: u64,
    pub duplicates_skipped: u64,
    /// Events written whose time was before where the previous run stopped (caught by the overlap).
    pub late_in_overlap: u64,
    /// Events written by the deep re-read: later than the overlap (each also logged as a WARN).
    pub late_beyond_overlap: u64,
    /// Elements that could not be read, set aside (each logged as a WARN).
    pub set_aside: u64,
    pub sources: u64,
    pub sources_failed: u64,
    /// Accounts whose sources could not be listed (see [`Collector::accounts_failed`]).
    pub accounts_failed: u64,
    /// Sources not finished because `max_run_time` was reached.
    pub sources_unfinished: u64,
}

/// Errors that end the stanza's run: stdout or the checkpoint is unusable (continuing could
/// duplicate), or the credentials were refused (every other source would fail the same way).
fn is_fatal(e: &ModinputError) -> bool {
    matches!(
        e,
        ModinputError::Output(_) | ModinputError::Checkpoint { .. } | ModinputError::Auth { .. }
    )
}

/// How an event reached [`deliver`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The normal window `[done_until - overlap, end]`.
    Normal,
    /// The deep re-read before the overlap: anything new there arrived very late.
    Late,
}

/// What the concurrent workers share: the checkpoint, the event stream and the counters. One
/// lock around all three keeps the delivery invariant of [`super::checkpoint`]: an event's
/// `write(2)` and its journal line's `write(2)` are adjacent, with no other event in between.
struct Shared<'a, W: Write> {
    checkpoint: &'a mut Checkpoint,
    out: &'a mut EventWriter<W>,
    stats: RunStats,
}

/// The settings every worker reads.
#[derive(Clone, Copy)]
struct RunCtx<'a> {
    stanza: &'a str,
    sourcetype: &'a str,
    window: Window,
    budget: Budget,
}

fn lock<'m, T>(m: &'m Mutex<T>) -> std::sync::MutexGuard<'m, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Write one event unless its id was sent already; journal it.
fn deliver<W: Write>(
    ev: RawEvent<'_>,
    key: &str,
    pass: Pass,
    prev_done: Option<DateTime<Utc>>,
    ctx: &RunCtx<'_>,
    sh: &mut Shared<'_, W>,
) -> Result<(), ModinputError> {
    let id = normalize_id(&ev.id);
    if sh.checkpoint.is_sent(key, &id) {
        sh.stats.duplicates_skipped += 1;
        return Ok(());
    }
    let entry = sh.checkpoint.entry(key, &id, ev.time);
    // One write(2) of the event, then one write(2) of its journal line, with nothing
    // but returning in between: the only instant at which a kill duplicates.
    sh.out
        .write_event(ctx.stanza, ev.time, ev.data, ctx.sourcetype)?;
    sh.checkpoint.record_sent(entry)?;
    sh.stats.written += 1;
    match pass {
        Pass::Late => {
            sh.stats.late_beyond_overlap += 1;
            let age = ev
                .time
                .map(|t| format!("{} min", (ctx.window.now - t).num_minutes()))
                .unwrap_or_else(|| "unknown".into());
            log::warn(&format!(
                "{key}: event {id} (time {}, age {age}) arrived later than the overlap; sent now by the late re-read (raise overlap if this is frequent)",
                ev.time.map(|t| t.to_rfc3339()).unwrap_or_else(|| "none".into())
            ));
        }
        Pass::Normal => {
            if let (Some(t), Some(d)) = (ev.time, prev_done) {
                if t < d {
                    sh.stats.late_in_overlap += 1;
                }
            }
        }
    }
    Ok(())
}

/// How one source ended.
enum SourceEnd {
    Done,
    Failed,
    /// `max_run_time` was reached.
    Unfinished,
}

/// Collect one source: the late re-read when due, then the normal window slice by slice.
/// `Err` only for the fatal errors of [`is_fatal`].
fn collect_source<C: Collector, W: Write>(
    collector: &mut C,
    source: &C::Source,
    shared: &Mutex<Shared<'_, W>>,
    ctx: &RunCtx<'_>,
) -> Result<SourceEnd, ModinputError> {
    let window = ctx.window;
    let key = collector.key(source);
    if ctx.budget.check_deadline(&key).is_err() {
        return Ok(SourceEnd::Unfinished);
    }
    let (prev_done, swept_at, first_from) = {
        let sh = lock(shared);
        (
            sh.checkpoint.done_until(&key),
            sh.checkpoint.swept_at(&key),
            sh.checkpoint.first_from(&key),
        )
    };
    // The deep re-read for events later than the overlap, once per `late_every`.
    if let Some(done) = prev_done {
        let due = swept_at.is_none_or(|t| window.now - t >= window.late_every);
        let to = done - window.overlap;
        let from = (done - window.late_window)
            .max(window.oldest)
            .max(first_from.unwrap_or(window.oldest));
        if window.late_window > window.overlap && due && from < to {
            let mut emit =
                |ev: RawEvent<'_>| deliver(ev, &key, Pass::Late, prev_done, ctx, &mut lock(shared));
            match collector.collect(source, from, to, &mut emit) {
                Ok(()) => lock(shared).checkpoint.mark_swept(&key, window.now),
                Err(e) if is_fatal(&e) => return Err(e),
                Err(ModinputError::Deadline { .. }) => return Ok(SourceEnd::Unfinished),
                Err(e) => log::error(&format!(
                    "{key}: late re-read of {} .. {}: {e}; retried next run",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                )),
            }
        }
    }
    let mut from = match prev_done {
        Some(d) => d - window.overlap,
        None => {
            lock(shared)
                .checkpoint
                .note_first_from(&key, window.start_from);
            window.start_from
        }
    };
    if from < window.oldest {
        log::warn(&format!(
            "{key}: start {} is older than the APIs keep; starting at {}",
            from.to_rfc3339(),
            window.oldest.to_rfc3339()
        ));
        from = window.oldest;
    }
    while from < window.end {
        // A remainder no longer than slice + overlap is one query: a steady-state run (overlap
        // plus one interval) then costs one request per source, not two.
        let to = if window.end - from <= window.slice + window.overlap {
            window.end
        } else {
            from + window.slice
        };
        let mut emit =
            |ev: RawEvent<'_>| deliver(ev, &key, Pass::Normal, prev_done, ctx, &mut lock(shared));
        match collector.collect(source, from, to, &mut emit) {
            Ok(()) => lock(shared).checkpoint.complete(&key, to)?,
            Err(e) if is_fatal(&e) => return Err(e),
            Err(ModinputError::Deadline { .. }) => return Ok(SourceEnd::Unfinished),
            Err(e) => {
                let at = lock(shared).checkpoint.done_until(&key);
                log::error(&format!(
                    "{key}: {e}; the checkpoint stays at {} and the next run retries from there",
                    at.map(|d| d.to_rfc3339())
                        .unwrap_or_else(|| "start_from".into())
                ));
                return Ok(SourceEnd::Failed);
            }
        }
        from = to;
    }
    Ok(SourceEnd::Done)
}

/// Log (INFO, one line) the checkpointed sources this run does not cover: a region no longer
/// enabled, an account no longer listed (or not reachable this run), an operation removed.
/// Their checkpoints are kept: a source that comes back resumes from where it stopped (at
/// most the 89 days the APIs keep), and its remembered ids still prevent duplicates.
fn note_absent_sources<C: Collector>(
    collector: &C,
    sources: &[C::Source],
    checkpoint: &Checkpoint,
) {
    let current: HashSet<String> = sources.iter().map(|s| collector.key(s)).collect();
    let absent: Vec<&str> = checkpoint
        .source_keys()
        .filter(|k| !current.contains(*k))
        .collect();
    if !absent.is_empty() {
        log::info(&format!(
            "{} checkpointed sources are not collected this run (region no longer enabled, account not listed or not reachable, or operation removed), e.g. {}; their checkpoints are kept and collection resumes from them if they return",
            absent.len(),
            absent.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        ));
    }
}

/// Collect every source of `collector` into `out`, `workers` sources at a time (each worker a
/// clone of `collector`; clones share tokens and rate limits). Memory: one page per worker plus
/// the remembered ids. A fatal error stops every worker after its current request.
#[allow(clippy::too_many_arguments)]
pub fn collect_all<C, W>(
    collector: &mut C,
    checkpoint: &mut Checkpoint,
    out: &mut EventWriter<W>,
    stanza: &str,
    sourcetype: &str,
    window: Window,
    budget: Budget,
    workers: usize,
) -> Result<RunStats, ModinputError>
where
    C: Collector + Clone + Send,
    C::Source: Sync,
    W: Write + Send,
{
    let sources = collector.sources()?;
    let accounts_failed = collector.accounts_failed();
    note_absent_sources(collector, &sources, checkpoint);
    let ctx = RunCtx {
        stanza,
        sourcetype,
        window,
        budget,
    };
    let shared = Mutex::new(Shared {
        checkpoint,
        out,
        stats: RunStats {
            sources: sources.len() as u64,
            accounts_failed,
            ..RunStats::default()
        },
    });
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let fatal: Mutex<Option<ModinputError>> = Mutex::new(None);
    let set_aside = AtomicU64::new(0);
    let (failed, unfinished) = (AtomicU64::new(0), AtomicU64::new(0));
    let n_workers = workers.clamp(1, sources.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..n_workers {
            let mut c = collector.clone();
            let (sources, shared, ctx) = (&sources, &shared, &ctx);
            let (next, stop, fatal, set_aside) = (&next, &stop, &fatal, &set_aside);
            let (failed, unfinished) = (&failed, &unfinished);
            scope.spawn(move || {
                let before = c.set_aside();
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(source) = sources.get(i) else { break };
                    match collect_source(&mut c, source, shared, ctx) {
                        Ok(SourceEnd::Done) => {}
                        Ok(SourceEnd::Failed) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(SourceEnd::Unfinished) => {
                            unfinished.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            lock(fatal).get_or_insert(e);
                        }
                    }
                }
                set_aside.fetch_add(c.set_aside() - before, Ordering::SeqCst);
            });
        }
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut stats = shared.into_inner().unwrap_or_else(|p| p.into_inner()).stats;
    // Workers count from their clone's start; the original holds what `sources` set aside.
    stats.set_aside = set_aside.into_inner() + collector.set_aside();
    stats.sources_failed = failed.into_inner();
    stats.sources_unfinished = unfinished.into_inner();
    if stats.sources_unfinished > 0 {
        log::warn(&format!(
            "max_run_time reached: {} of {} sources not finished this run; the next run continues from the checkpoint",
            stats.sources_unfinished, stats.sources
        ));
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
            Duration::minutes(5),
            Duration::hours(6),
            now,
        );
        assert_eq!(w.end.timestamp_subsec_nanos(), 0);
        assert_eq!(w.start_from.timestamp_subsec_nanos(), 0);
        assert_eq!((w.end - w.overlap).timestamp_subsec_nanos(), 0);
    }
}
