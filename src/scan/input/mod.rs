//! Reading exported audit logs: files, directories and standard input in, raw JSON records
//! out.
//!
//! # Pipeline
//!
//! The reading pipeline runs one way, each stage knowing only the next one's input:
//!
//! 1. [`mod@walk`] expands the named paths (files, directories, `-` for standard input) into
//!    the inputs to read, and the entries it skipped with their reason;
//! 2. `format` opens an input and decides its format **from its content** (gzip, Avro
//!    object container, JSON text, UTF-16, other text, binary), whatever its name;
//! 3. `json` and `avro` decode records from a stream of that format and hand them to a
//!    [`Sink`] (Avro: Event Hubs Capture; each message `Body` goes back through `format`
//!    and `json`);
//! 4. the sink (the scan driver) feeds the detection engine.
//!
//! # Shapes
//!
//! Every JSON export shape we know of reduces to "a stream of top-level JSON values", where
//! a value is an event object (JSON lines, `PT1H.json`, a bare object), an array of event
//! objects (portal / `az monitor activity-log list` exports), or a wrapper object whose
//! **first** key is `records` (Event Hub message) or `Records` (CloudTrail file) holding an
//! array of event objects. Azure Event Hubs Capture files are Avro containers whose
//! messages' `Body` holds such a wrapper.
//!
//! # Streaming and memory
//!
//! Records are found by a structural scan of a bounded buffer and handed to the sink one at
//! a time; no document is ever held whole. Memory is bounded by the read buffer plus the
//! largest record ([`MAX_RECORD_LEN`]), whatever the size of the input.
//!
//! # Bad input
//!
//! Nothing is dropped silently, nothing panics, and no malformed record loses another:
//! every problem is reported to the sink as a [`Problem`] (file, line, column, byte offset,
//! reason) and counted in [`ReadStats`]; reading resumes at the next record (see the `json` module
//! for how). A record cut short is handed to the engine as incomplete
//! ([`Event::complete`]) so that the engine's truncation rules decide what is kept.
//! Whether the scan could read every input to its end is [`ReadStats::inputs_failed`].

mod avro;
mod ctx;
mod format;
mod json;
pub mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use walk::{walk, Input, SkipReason, Skipped, WalkOptions, Walked};

/// Longest record (one event object) the reader holds in memory. A longer one is reported
/// and skipped; this bounds the reader's memory whatever the input.
pub const MAX_RECORD_LEN: usize = 64 * 1024 * 1024;

/// Where an event came from: the file (`<stdin>` for standard input), the 1-based message
/// number inside an Avro Capture file (if any), the 1-based line of the event's first byte
/// (inside the message body for Avro), and its 0-based index in its enclosing array or
/// `records` wrapper (if any).
///
/// Displays as `path:line`, `path:line[index]` or `path:message N:line[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    pub file: &'a Path,
    pub message: Option<u64>,
    pub line: u64,
    pub index: Option<u64>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if let Some(m) = self.message {
            write!(f, "message {m}:")?;
        }
        write!(f, "{}", self.line)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

/// One record: the raw JSON text of one object, exactly as it appears in the input
/// (whitespace included), and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    text: &'a str,
    /// False when the record was cut short (the input or its line ended inside it): `text`
    /// is then the record's beginning, for the engine's truncation rules.
    pub complete: bool,
    pub location: Location<'a>,
}

impl<'a> Event<'a> {
    /// The record's JSON text as bytes. Invariant: valid UTF-8 whose first byte is `{`;
    /// well-formed JSON of one object when [`Event::complete`] (except for an event
    /// [offered](Sink::offer) unchecked: brackets and strings balance, nothing more is known).
    pub fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The record's JSON text.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Why input was not read. The `Display` form is the stable reason name used in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    /// A file or directory could not be opened, listed or read (permission denied, I/O
    /// error, no such file).
    Unreadable,
    /// A gzip stream is corrupt or truncated.
    BadGzip,
    /// An Avro (Event Hubs Capture) container is corrupt or truncated, or a message does
    /// not have the Capture schema.
    BadAvro,
    /// Not UTF-8 text (e.g. UTF-16 from PowerShell redirection, or a bad byte in a record).
    BadEncoding,
    /// The content is neither JSON text, gzip nor Avro (e.g. a binary file).
    UnknownFormat,
    /// A record or line is not well-formed JSON.
    BadJson,
    /// A record was cut short; it was handed to the engine as incomplete.
    Truncated,
    /// A top-level value or array element is well-formed JSON but not an object.
    NotAnObject,
    /// A record longer than [`MAX_RECORD_LEN`].
    TooLarge,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::BadGzip => "bad_gzip",
            ProblemKind::BadAvro => "bad_avro",
            ProblemKind::BadEncoding => "bad_encoding",
            ProblemKind::UnknownFormat => "unknown_format",
            ProblemKind::BadJson => "bad_json",
            ProblemKind::Truncated => "truncated_record",
            ProblemKind::NotAnObject => "not_an_object",
            ProblemKind::TooLarge => "record_too_large",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of input that was not read, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}: {detail}", self.position())]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based message number inside an Avro Capture file.
    pub message: Option<u64>,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column (in bytes), when known.
    pub column: Option<u64>,
    /// Array element index, when the problem is one element of an array or wrapper.
    pub index: Option<u64>,
    /// 0-based byte offset in the (decompressed) stream, when known.
    pub offset: Option<u64>,
    pub kind: ProblemKind,
    /// Whether the problem stopped the input from being read to its end (or from being
    /// read at all), as opposed to one malformed record inside a readable input.
    pub input_failed: bool,
    /// Human-readable reason, naming what was wrong.
    pub detail: String,
}

impl Problem {
    /// A problem with the whole input `file` (nothing positioned inside it).
    pub fn input(file: &Path, kind: ProblemKind, detail: String) -> Problem {
        Problem {
            file: file.to_path_buf(),
            message: None,
            line: None,
            column: None,
            index: None,
            offset: None,
            kind,
            input_failed: true,
            detail,
        }
    }

    /// `path`, `path:line`, `path:line:col`, `path:line[index]`, with `message N:` before
    /// the line for Avro, and ` (byte B)` after.
    pub fn position(&self) -> String {
        let mut s = self.file.display().to_string();
        if let Some(m) = self.message {
            s.push_str(&format!(":message {m}"));
        }
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        if let Some(i) = self.index {
            s.push_str(&format!("[{i}]"));
        }
        if let Some(o) = self.offset {
            s.push_str(&format!(" (byte {o})"));
        }
        s
    }
}

/// What a sink did with a record offered to it unchecked ([`Sink::offer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The sink does not read unchecked JSON and took nothing: the reader checks the record
    /// and delivers it through [`Sink::event`] only if it is well-formed (two passes).
    CheckFirst,
    /// Taken: the sink's own parser read the record as well-formed JSON.
    Taken,
    /// Taken, but the sink's own parser found the record malformed, and counted it as an
    /// event it could not use; nothing else of it was kept. The reader then checks the
    /// record itself: if it is malformed, the reader reports it (as the two-pass reader
    /// would) and calls [`Sink::withdraw`], so it is no event at all; if the reader finds
    /// it well-formed (the sink's parser is stricter), the sink's verdict stands.
    Refused,
}

/// Receives events, problems and skipped entries, in input order.
///
/// A record whose brackets balance is first [offered](Sink::offer) unchecked: a sink whose
/// own parser reads every byte anyway (the detection engine) makes the happy path one pass
/// over the record, and the reader's JSON check runs only on records the sink refused, to
/// report them exactly as before. Whatever a sink answers, the problems reported, the
/// counts in [`ReadStats`] and the records that reach the sink as usable are those of a
/// reader that checks every record before delivering it.
pub trait Sink {
    /// Takes one record. Its text is well-formed JSON of one object when
    /// [`Event::complete`] (see [`Event::bytes`]).
    fn event(&mut self, event: &Event<'_>);
    /// Offers a structurally complete record (`event.complete`; brackets and strings
    /// balance) whose JSON the reader has **not** checked. The default declines
    /// ([`Offer::CheckFirst`]). A sink that takes it (answers [`Offer::Taken`] or
    /// [`Offer::Refused`]) must use it only if its own parser found it well-formed, and
    /// that parser must refuse every text serde_json refuses (it may refuse more).
    fn offer(&mut self, event: &Event<'_>) -> Offer {
        let _ = event;
        Offer::CheckFirst
    }
    /// The record this sink last [refused](Offer::Refused) is malformed and was reported
    /// as a problem: forget it (it is not an event).
    fn withdraw(&mut self) {}
    /// Called for every problem (it is counted in [`ReadStats`] whatever the sink does).
    fn problem(&mut self, problem: &Problem) {
        let _ = problem;
    }
    /// Called for every directory entry skipped (counted in [`ReadStats::skipped`]).
    fn skipped(&mut self, skipped: &Skipped) {
        let _ = skipped;
    }
}

/// A closure is a sink that ignores problems.
impl<F: FnMut(&Event<'_>)> Sink for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// Counters over everything read. Invariants: `problems` holds one count per reported
/// [`Problem`], by kind; `skipped` one count per [`Skipped`] entry, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Inputs opened (whether or not they held events).
    pub files: u64,
    /// Directory entries not read, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Size of the inputs as stored (compressed size for gzip; bytes read for stdin).
    pub bytes: u64,
    /// Events delivered to the sink (incomplete ones included).
    pub events: u64,
    pub problems: BTreeMap<ProblemKind, u64>,
    /// Inputs that could not be opened or read to their end, or that are not empty yet
    /// yielded nothing (see [`Problem::input_failed`]); each is named by a problem.
    pub inputs_failed: u64,
}

impl ReadStats {
    /// Total number of problems of every kind.
    pub fn problem_count(&self) -> u64 {
        self.problems.values().sum()
    }

    /// Total number of skipped directory entries.
    pub fn skipped_count(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Adds another set of counters to this one.
    pub fn merge(&mut self, other: &ReadStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.events += other.events;
        self.inputs_failed += other.inputs_failed;
        for (k, n) in &other.skipped {
            *self.skipped.entry(*k).or_default() += n;
        }
        for (k, n) in &other.problems {
            *self.problems.entry(*k).or_default() += n;
        }
    }
}

/// How the reader runs.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub walk: WalkOptions,
    /// Incremented with the bytes read from each input as stored, for a progress display.
    pub progress: Option<Arc<AtomicU64>>,
}

/// Reads every named path (see [`walk()`]) and delivers their events. Never fails: problems
/// are reported to the sink and counted.
pub fn read_paths<P: AsRef<Path>, S: Sink>(paths: &[P], sink: &mut S) -> ReadStats {
    read_paths_with(paths, &ReadOptions::default(), sink)
}

/// [`read_paths`] with options.
pub fn read_paths_with<P: AsRef<Path>, S: Sink>(
    paths: &[P],
    opts: &ReadOptions,
    sink: &mut S,
) -> ReadStats {
    read_walked(&walk(paths, &opts.walk), opts, sink)
}

/// Reads the inputs of a walk (see [`walk()`]) and delivers their events.
pub fn read_walked<S: Sink>(walked: &Walked, opts: &ReadOptions, sink: &mut S) -> ReadStats {
    let mut stats = ReadStats::default();
    for s in &walked.skipped {
        *stats.skipped.entry(s.reason).or_default() += 1;
        sink.skipped(s);
    }
    for p in &walked.problems {
        report(&mut stats, sink, p);
    }
    for input in &walked.inputs {
        read_input(input, opts, sink, &mut stats);
    }
    stats
}

fn report<S: Sink>(stats: &mut ReadStats, sink: &mut S, p: &Problem) {
    *stats.problems.entry(p.kind).or_default() += 1;
    if p.input_failed {
        stats.inputs_failed += 1;
    }
    sink.problem(p);
}

/// Reads one input (a file or standard input) and delivers its events.
pub fn read_input<S: Sink>(input: &Input, opts: &ReadOptions, sink: &mut S, stats: &mut ReadStats) {
    stats.files += 1;
    match input {
        Input::Stdin => {
            let name = Path::new(walk::STDIN_NAME);
            let r = Counting::new(io::stdin().lock(), opts.progress.clone());
            let counted = r.count.clone();
            format::read_stream(name, r, input.in_directory(), sink, stats);
            stats.bytes += counted.load(Ordering::Relaxed);
        }
        Input::File { path, .. } => {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    let p =
                        Problem::input(path, ProblemKind::Unreadable, format!("cannot open: {e}"));
                    report(stats, sink, &p);
                    return;
                }
            };
            if let Ok(m) = file.metadata() {
                stats.bytes += m.len();
            }
            let r = Counting::new(file, opts.progress.clone());
            format::read_stream(path, r, input.in_directory(), sink, stats);
        }
    }
}

/// Reads one stream (any supported format) as if it were the file `name`. For tests and for
/// callers that have the bytes elsewhere. Does not count a file in `stats.files`.
pub fn read_reader<R: Read, S: Sink>(name: &Path, reader: R, sink: &mut S, stats: &mut ReadStats) {
    format::read_stream(name, reader, false, sink, stats)
}

/// Counts the bytes read through it (for `ReadStats::bytes` on stdin and for progress).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
    progress: Option<Arc<AtomicU64>>,
}

impl<R> Counting<R> {
    fn new(inner: R, progress: Option<Arc<AtomicU64>>) -> Self {
        Counting {
            inner,
            count: Arc::new(AtomicU64::new(0)),
            progress,
        }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}
