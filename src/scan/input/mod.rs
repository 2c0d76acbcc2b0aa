//! Reading exported audit logs: files and directories in, raw JSON events out.
//!
//! Every export shape we know of reduces to "a stream of top-level JSON values, one per line
//! or one per document", where a value is one of:
//!
//! * an event object (JSON lines, `PT1H.json` storage blobs, a bare object);
//! * an array of event objects (Azure portal / `az monitor activity-log list` / `Get-AzLog`
//!   exports, possibly pretty-printed over many lines);
//! * a wrapper object whose **first** key is `records` (Azure Event Hub message, possibly one
//!   per line) or `Records` (AWS CloudTrail file) holding an array of event objects.
//!
//! Files may be gzip-compressed (recognised by their magic bytes, whatever their name) and
//! may start with a UTF-8 byte order mark (PowerShell exports do).
//!
//! # Streaming
//!
//! Memory does not grow with the size of a file: events are handed to a [`Sink`] one at a
//! time as raw JSON text ([`RawValue`]); arrays and wrappers are walked element by element
//! with a serde visitor, never materialised as a whole (no `Value` tree is ever built).
//! A line, or a multi-line document, of up to [`MAX_LINE_IN_MEMORY`] bytes is read into
//! memory and parsed from there (fast); a longer one is parsed from the stream. Memory is
//! bounded by that buffer plus one event.
//!
//! # Line mode and document mode
//!
//! A file is first read in *line mode*: each line is parsed on its own, so a broken line is
//! reported (with its line number) and the next line is read normally. If the **first**
//! non-blank line is an unfinished value that yielded no event (`[` or `{` alone, as in a
//! pretty-printed export), the file is re-read from that line in *document mode*: values may
//! span lines, and a syntax error ends the file (a broken document cannot be resynchronised
//! reliably), after the events before the error were delivered. So does a bare scalar
//! between the values of a document.
//!
//! # Bad input
//!
//! Nothing is dropped silently and nothing panics: unreadable files, corrupt gzip, bad
//! encodings, malformed JSON and non-object array elements are reported to the sink as a
//! [`Problem`] (file, line, column, reason) and counted in [`ReadStats`]; the scan goes on
//! with the next line or file.

//!
//! # Layout
//!
//! `files` lists the files to read; `parse` reads one stream in line or document mode;
//! `walk` walks arrays and wrappers with serde visitors; `readers` holds the small `Read`
//! adapters the streaming paths use.

mod files;
mod parse;
mod readers;
mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;

pub use files::{collect_files, is_log_file_name, FileList};

/// Lines and multi-line documents up to this length are read into memory and parsed from
/// a slice (the fast path); a longer one (e.g. a huge one-line CloudTrail `{"Records":[…]}`
/// file) is streamed element by element. This bounds the reader's memory, whatever the
/// input.
pub const MAX_LINE_IN_MEMORY: usize = 8 * 1024 * 1024;

/// Where an event came from: file, 1-based line of the first byte of the event, and the
/// 0-based position in its enclosing array or `records` wrapper (if any).
///
/// Displays as `path:line` or `path:line[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    pub file: &'a Path,
    pub line: u64,
    pub index: Option<u64>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

/// One event: the raw JSON text of one object, exactly as it appears in the file
/// (whitespace included), and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub json: &'a RawValue,
    pub location: Location<'a>,
}

impl<'a> Event<'a> {
    /// The event's JSON text as bytes. Invariant: valid UTF-8 JSON whose first
    /// non-whitespace byte is `{`.
    pub fn bytes(&self) -> &'a [u8] {
        self.json.get().as_bytes()
    }
}

/// Why input was skipped. The `Display` form is the stable reason name used in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    /// A file or directory could not be opened or read.
    Unreadable,
    /// A gzip stream is corrupt or truncated.
    BadGzip,
    /// The file is not UTF-8 (e.g. UTF-16 from PowerShell redirection).
    BadEncoding,
    /// A line or document is not well-formed JSON.
    BadJson,
    /// A top-level value or array element is well-formed JSON but not an object.
    NotAnObject,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable_file",
            ProblemKind::BadGzip => "bad_gzip",
            ProblemKind::BadEncoding => "bad_encoding",
            ProblemKind::BadJson => "bad_json",
            ProblemKind::NotAnObject => "not_an_object",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of input that was skipped, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}: {detail}", self.position())]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column (in bytes), when known.
    pub column: Option<u64>,
    /// Array element index, when the problem is one element of an array or wrapper.
    pub index: Option<u64>,
    pub kind: ProblemKind,
    /// Human-readable reason, naming what was wrong.
    pub detail: String,
}

impl Problem {
    /// `path`, `path:line`, `path:line:col` or `path:line[index]`.
    pub fn position(&self) -> String {
        let mut s = self.file.display().to_string();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        if let Some(i) = self.index {
            s.push_str(&format!("[{i}]"));
        }
        s
    }
}

/// Receives events and problems, in file order.
pub trait Sink {
    fn event(&mut self, event: &Event<'_>);
    /// Called for every skipped piece of input. The default ignores it (it is still counted
    /// in [`ReadStats`]).
    fn problem(&mut self, problem: &Problem) {
        let _ = problem;
    }
}

/// A closure is a sink that ignores problems.
impl<F: FnMut(&Event<'_>)> Sink for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// Counters over everything read. Invariant: `problems` holds one count per reported
/// [`Problem`], by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Files opened (whether or not they held events).
    pub files: u64,
    /// Files in directories skipped for their name (see [`collect_files`]).
    pub files_ignored: u64,
    /// Size of the files on disk (compressed size for gzip files).
    pub bytes: u64,
    /// Events delivered to the sink.
    pub events: u64,
    pub problems: BTreeMap<ProblemKind, u64>,
}

impl ReadStats {
    /// Total number of problems of every kind.
    pub fn problem_count(&self) -> u64 {
        self.problems.values().sum()
    }

    /// Adds another set of counters to this one.
    pub fn merge(&mut self, other: &ReadStats) {
        self.files += other.files;
        self.files_ignored += other.files_ignored;
        self.bytes += other.bytes;
        self.events += other.events;
        for (k, n) in &other.problems {
            *self.problems.entry(*k).or_default() += n;
        }
    }
}

/// A path named by the user that cannot be scanned at all. Unlike a [`Problem`], this is a
/// usage error: the user asked for something that is not there.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Reads every named file or directory (see [`collect_files`]) and delivers their events.
pub fn read_paths<P: AsRef<Path>, S: Sink>(
    paths: &[P],
    sink: &mut S,
) -> Result<ReadStats, InputError> {
    let list = collect_files(paths)?;
    let mut stats = ReadStats {
        files_ignored: list.ignored,
        ..ReadStats::default()
    };
    for p in &list.problems {
        *stats.problems.entry(p.kind).or_default() += 1;
        sink.problem(p);
    }
    for f in &list.files {
        read_file(f, sink, &mut stats);
    }
    Ok(stats)
}

/// Reads one file (gzip or not) and delivers its events; never fails: problems are
/// reported to the sink and counted in `stats`.
pub fn read_file<S: Sink>(path: &Path, sink: &mut S, stats: &mut ReadStats) {
    stats.files += 1;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let p = Problem {
                file: path.to_path_buf(),
                line: None,
                column: None,
                index: None,
                kind: ProblemKind::Unreadable,
                detail: format!("cannot open: {e}"),
            };
            *stats.problems.entry(p.kind).or_default() += 1;
            sink.problem(&p);
            return;
        }
    };
    if let Ok(m) = file.metadata() {
        stats.bytes += m.len();
    }
    parse::read_stream(path, file, sink, stats);
}

/// Reads one stream (gzip or not) as if it were the file `name`. For tests and for
/// callers that have the bytes elsewhere. Does not count a file in `stats.files`.
pub fn read_reader<R: Read, S: Sink>(name: &Path, reader: R, sink: &mut S, stats: &mut ReadStats) {
    parse::read_stream(name, reader, sink, stats)
}
