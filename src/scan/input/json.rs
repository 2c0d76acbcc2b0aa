//! Stage 3 (JSON): records out of JSON text, streamed, resynchronising after damage.
//!
//! # How records are found
//!
//! A structural scan (brackets and strings only, vectorised search inside strings) finds
//! where each record begins and ends in a bounded buffer; each record is then handed on,
//! checked by serde_json first unless the sink's own parser checks it in the same pass
//! (see [`Sink::offer`](super::Sink::offer)). Top-level objects are records; the elements
//! of a top-level array, and of the `records`/`Records` array of a wrapper object (first
//! key), are records. Nothing else is held: a one-line 1 GB CloudTrail file streams like
//! JSON lines, at the same cost per byte.
//!
//! # Line mode and document mode
//!
//! The first non-blank line decides. If it is a lone `{`, starts with `[`, or opens a
//! `records` wrapper that it does not close, the input is a **document** (pretty-printed or
//! one-line array or wrapper, concatenated pretty objects): newlines are whitespace.
//! Otherwise it is **JSON lines**: every value must end on its line.
//!
//! # Damage
//!
//! * A record whose brackets balance but that is not well-formed JSON is reported
//!   (`bad_json`, with line, column and byte offset) and the next record is read normally.
//! * A record cut short: the line ends inside it (JSON lines), a raw newline appears inside
//!   one of its strings (which JSON never allows, so the record was cut there), a line
//!   starts a record at the container's record column while it is still open (document:
//!   pretty-printers indent every element alike, so only its own closing bracket may stand
//!   there), or the input ends inside it. Its beginning is handed to the engine as incomplete (the
//!   engine's truncation rules decide) and reported as `truncated_record`.
//! * After a cut or a bracket that closes the wrong thing, reading resumes: in JSON lines
//!   at the next line; in a document at the next line that starts a record at the same
//!   column as the container's first record did (pretty-printed exports indent every
//!   element alike). A one-line document has no next line: its rest is reported lost.
//!
//! Byte offsets count decompressed bytes from the start of the stream (after any byte
//! order mark is skipped, it is not counted).

use std::io::{self, Read};

use serde::de::IgnoredAny;

use super::ctx::{At, Ctx};
use super::{Offer, ProblemKind, Sink, MAX_RECORD_LEN};

/// Read size and initial buffer size.
const CHUNK: usize = 1024 * 1024;

/// How many bytes of a value are looked at to recognise a `records` wrapper. Enough for
/// `{ "Records" : [` with generous pretty-printing whitespace.
const SNIFF_LEN: usize = 64;

/// Whether newlines end values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lines,
    Document,
}

/// Where the reader is in the structure of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    /// Inside an array of records (a top-level array or a wrapper's `records`).
    Array {
        wrapper: bool,
        index: u64,
    },
    /// After a wrapper's `records` array, before the wrapper's closing `}`.
    WrapperTail,
}

/// The buffered input with line and offset bookkeeping.
struct Buf<R> {
    r: R,
    data: Vec<u8>,
    /// `data[pos..end]` is read but not consumed.
    pos: usize,
    end: usize,
    /// Stream offset of `data[0]`.
    base: u64,
    eof: bool,
    /// A read error that ended the stream.
    error: Option<io::Error>,
    /// Newlines are counted up to `data[counted]`; `line` is the 1-based line there and
    /// `line_start` the stream offset where that line begins.
    counted: usize,
    line: u64,
    line_start: u64,
}

impl<R: Read> Buf<R> {
    fn new(r: R) -> Self {
        Buf {
            r,
            data: vec![0; CHUNK],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            error: None,
            counted: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Reads more input, keeping `data[keep..]`; returns how far the kept bytes moved left
    /// (callers subtract it from their indices), or `None` at the end of the input.
    fn more(&mut self, keep: usize) -> Option<usize> {
        if self.eof {
            return None;
        }
        self.count_to(keep);
        let shift = keep;
        if shift > 0 {
            self.data.copy_within(keep..self.end, 0);
            self.end -= shift;
            self.pos -= shift;
            self.counted -= shift;
            self.base += shift as u64;
        }
        if self.end == self.data.len() {
            let grown = (self.data.len() * 2).min(MAX_RECORD_LEN + CHUNK);
            if grown <= self.data.len() {
                // Only reached for a record over MAX_RECORD_LEN: the caller checks first.
                return None;
            }
            self.data.resize(grown, 0);
        }
        loop {
            match self.r.read(&mut self.data[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return if shift > 0 { Some(shift) } else { None };
                }
                Ok(n) => {
                    self.end += n;
                    return Some(shift);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.eof = true;
                    self.error = Some(e);
                    return if shift > 0 { Some(shift) } else { None };
                }
            }
        }
    }

    /// Counts newlines up to `data[i]` (which must not be before the last counted index).
    fn count_to(&mut self, i: usize) {
        if i <= self.counted {
            return;
        }
        let seg = &self.data[self.counted..i];
        let n = memchr::memchr_iter(b'\n', seg).count() as u64;
        if n > 0 {
            self.line += n;
            let last = memchr::memrchr(b'\n', seg).unwrap_or(0);
            self.line_start = self.base + (self.counted + last + 1) as u64;
        }
        self.counted = i;
    }

    /// Line, column and stream offset of `data[i]`.
    fn at(&mut self, i: usize) -> At {
        self.count_to(i);
        let offset = self.base + i as u64;
        At {
            line: Some(self.line),
            column: Some(offset - self.line_start + 1),
            index: None,
            offset: Some(offset),
        }
    }

    /// Skips whitespace (stopping at a newline in line mode when `stop_at_newline`);
    /// returns the next byte, or `None` at the end of the input.
    fn skip_ws(&mut self, stop_at_newline: bool) -> Option<u8> {
        loop {
            while self.pos < self.end {
                let b = self.data[self.pos];
                match b {
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b'\n' if !stop_at_newline => self.pos += 1,
                    _ => return Some(b),
                }
            }
            self.more(self.pos)?;
        }
    }

    /// Makes at least `n` bytes from `pos` available if the input has them.
    fn ensure(&mut self, n: usize) {
        while self.end - self.pos < n {
            if self.more(self.pos).is_none() {
                return;
            }
        }
    }

    /// Consumes through the next newline (or to the end of the input); returns false at
    /// the end.
    fn skip_line(&mut self) -> bool {
        loop {
            if let Some(k) = memchr::memchr(b'\n', &self.data[self.pos..self.end]) {
                self.pos += k + 1;
                return true;
            }
            self.pos = self.end;
            if self.more(self.pos).is_none() {
                return false;
            }
        }
    }
}

/// What a structural scan of one value found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// The value ends before this index.
    Done(usize),
    /// The buffer ends inside the value.
    NeedMore,
    /// A newline at this index cuts the value (inside a string, or anywhere in line mode).
    Cut(usize),
    /// A bracket at this index closes something that is not open.
    Mismatch(usize),
}

/// Scans the value starting at `b[0]` (`{` or `[`; or, with `open` non-empty, inside the
/// containers already opened) to its end. `stack` is scratch space.
///
/// `cut_col` (document mode, 0 for none): the 1-based column at which this container's
/// records start. A line that starts a record at that column while this value is still
/// open means the value was cut before it (in a pretty-printed document, only the value's
/// own closing bracket can stand at that column).
fn scan_value(b: &[u8], lines: bool, open: &[u8], stack: &mut Vec<u8>, cut_col: usize) -> Scan {
    stack.clear();
    stack.extend_from_slice(open);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    match memchr::memchr3(b'"', b'\\', b'\n', &b[i..]) {
                        None => return Scan::NeedMore,
                        Some(k) => {
                            let j = i + k;
                            match b[j] {
                                b'"' => {
                                    i = j + 1;
                                    break;
                                }
                                b'\\' => {
                                    if j + 2 > b.len() {
                                        return Scan::NeedMore;
                                    }
                                    i = j + 2;
                                }
                                _ => return Scan::Cut(j),
                            }
                        }
                    }
                }
                continue;
            }
            c @ (b'{' | b'[') => stack.push(c),
            c @ (b'}' | b']') => {
                let want = if c == b'}' { b'{' } else { b'[' };
                if stack.pop() != Some(want) {
                    return Scan::Mismatch(i);
                }
                if stack.is_empty() {
                    return Scan::Done(i + 1);
                }
            }
            b'\n' if lines => return Scan::Cut(i),
            b'\n' if cut_col > 0 => {
                let indent = b[i + 1..].iter().position(|&c| c != b' ' && c != b'\t');
                match indent {
                    None => return Scan::NeedMore,
                    Some(k) if k + 1 == cut_col && b[i + 1 + k] == b'{' => return Scan::Cut(i),
                    Some(_) => {}
                }
            }
            _ => {}
        }
        i += 1;
    }
    Scan::NeedMore
}

/// The mode of a JSON text from its first bytes (see the module documentation).
fn mode_of(head: &[u8]) -> Mode {
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Mode::Lines;
    };
    let rest = &head[start..];
    let line = match memchr::memchr(b'\n', rest) {
        Some(n) => &rest[..n],
        None => rest,
    };
    let line = line.trim_ascii();
    if line.starts_with(b"[") || line == b"{" {
        return Mode::Document;
    }
    // `{"Records": [` alone on its line: a pretty-printed wrapper.
    if is_wrapper_prefix(line) && line.ends_with(b"[") {
        return Mode::Document;
    }
    Mode::Lines
}

/// `{ "records" : [` or `{ "Records" : [` with any JSON whitespace.
fn is_wrapper_prefix(b: &[u8]) -> bool {
    let mut i = 1;
    let skip = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    if b.first() != Some(&b'{') {
        return false;
    }
    skip(&mut i);
    let rest = &b[i..];
    if !(rest.starts_with(b"\"records\"") || rest.starts_with(b"\"Records\"")) {
        return false;
    }
    i += 9;
    skip(&mut i);
    if b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    skip(&mut i);
    b.get(i) == Some(&b'[')
}

/// Reads JSON text and delivers its records (see the module documentation).
pub(super) fn read<R: Read, S: Sink>(ctx: &mut Ctx<'_, S>, r: R) {
    let mut rd = Reader {
        buf: Buf::new(r),
        mode: Mode::Lines,
        state: State::Top,
        resync_col: None,
        top_col: None,
        lost_to_end: false,
        lost_from: None,
        stack: Vec::new(),
    };
    rd.buf.ensure(4096);
    rd.mode = mode_of(&rd.buf.data[rd.buf.pos..rd.buf.end]);
    rd.run(ctx);
}

struct Reader<R> {
    buf: Buf<R>,
    mode: Mode,
    state: State,
    /// Column of the current container's first record (document-mode resynchronisation).
    resync_col: Option<u64>,
    /// Column of the first top-level value.
    top_col: Option<u64>,
    /// A resynchronisation ran to the end of the input: the end is not reported again.
    lost_to_end: bool,
    /// Document mode: the stream offset where a resynchronisation that ran to the end of
    /// the input started (what follows it was not read).
    lost_from: Option<u64>,
    stack: Vec<u8>,
}

impl<R: Read> Reader<R> {
    fn lines(&self) -> bool {
        self.mode == Mode::Lines
    }

    /// The record column of the current container (document mode), else 0.
    fn cut_col(&self) -> usize {
        if self.lines() {
            return 0;
        }
        let col = match self.state {
            State::Array { .. } => self.resync_col,
            _ => self.top_col,
        };
        col.map_or(0, |c| c as usize)
    }

    fn run<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        loop {
            let more = match self.state {
                State::Top => self.top(ctx),
                State::Array { wrapper, index } => self.array(ctx, wrapper, index),
                State::WrapperTail => self.wrapper_tail(ctx),
            };
            if !more {
                break;
            }
        }
        if let Some(from) = self.lost_from {
            let end = self.buf.base + self.buf.end as u64;
            // More than a closing `]}` and whitespace was given up.
            if end.saturating_sub(from) > 16 {
                let at = self.buf.at(self.buf.end);
                ctx.record_problem(
                    At {
                        offset: Some(from),
                        ..at
                    },
                    ProblemKind::BadJson,
                    format!(
                        "no record could be found again after the damage: the rest of the \
                         document ({} bytes from byte {from}) was skipped",
                        end - from
                    ),
                );
            }
        }
        if let Some(e) = self.buf.error.take() {
            let at = self.buf.at(self.buf.end);
            let (kind, what) = if ctx.gzip {
                (ProblemKind::BadGzip, "corrupt or truncated gzip data")
            } else {
                (ProblemKind::Unreadable, "read error")
            };
            ctx.input_problem(
                at,
                kind,
                format!("{what}: {e}; the input could not be read to its end"),
            );
        }
    }

    /// At the top level; false at the end of the input.
    fn top<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) -> bool {
        let Some(b) = self.buf.skip_ws(false) else {
            return false;
        };
        let pos = self.buf.pos;
        if self.top_col.is_none() {
            self.top_col = self.buf.at(pos).column;
        }
        match b {
            b'[' => {
                self.buf.pos += 1;
                ctx.values += 1;
                self.enter_array(false);
            }
            b'{' => {
                self.buf.ensure(SNIFF_LEN);
                let pos = self.buf.pos;
                let head = &self.buf.data[pos..self.buf.end.min(pos + SNIFF_LEN)];
                if is_wrapper_prefix(head) {
                    let k = memchr::memchr(b'[', head).expect("prefix holds a [");
                    self.buf.pos += k + 1;
                    ctx.values += 1;
                    self.enter_array(true);
                } else {
                    self.record(ctx, None);
                }
            }
            _ => self.stray(ctx, None),
        }
        true
    }

    fn enter_array(&mut self, wrapper: bool) {
        self.state = State::Array { wrapper, index: 0 };
        self.resync_col = None;
    }

    /// Inside an array of records; false at the end of the input.
    fn array<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>, wrapper: bool, index: u64) -> bool {
        let Some(b) = self.buf.skip_ws(self.lines()) else {
            if !self.lost_to_end {
                let at = self.buf.at(self.buf.end);
                ctx.record_problem(
                    at,
                    ProblemKind::Truncated,
                    "the input ends inside an array, before its closing `]`".into(),
                );
            }
            return false;
        };
        match b {
            b'\n' => {
                // Line mode: the line ends inside the array.
                let at = self.buf.at(self.buf.pos);
                ctx.record_problem(
                    at,
                    ProblemKind::Truncated,
                    "the line ends inside an array, before its closing `]`".into(),
                );
                self.buf.pos += 1;
                self.state = State::Top;
            }
            b']' => {
                self.buf.pos += 1;
                self.state = if wrapper {
                    State::WrapperTail
                } else {
                    State::Top
                };
            }
            b',' => self.buf.pos += 1,
            b'{' => {
                if self.resync_col.is_none() {
                    self.resync_col = self.buf.at(self.buf.pos).column;
                }
                self.state = State::Array {
                    wrapper,
                    index: index + 1,
                };
                self.record(ctx, Some(index));
            }
            _ => {
                self.state = State::Array {
                    wrapper,
                    index: index + 1,
                };
                self.stray(ctx, Some(index));
            }
        }
        true
    }

    /// After a wrapper's array: skip the wrapper's other members to its `}`.
    fn wrapper_tail<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) -> bool {
        let start = self.buf.pos;
        let mut start_rel = start;
        loop {
            let scan = scan_value(
                &self.buf.data[start_rel..self.buf.end],
                self.lines(),
                b"{",
                &mut self.stack,
                0,
            );
            match scan {
                Scan::Done(n) => {
                    self.buf.pos = start_rel + n;
                    self.state = State::Top;
                    return true;
                }
                Scan::NeedMore => match self.buf.more(start_rel) {
                    Some(shift) => start_rel -= shift,
                    None => {
                        if !self.lost_to_end {
                            let at = self.buf.at(self.buf.end);
                            ctx.record_problem(
                                at,
                                ProblemKind::Truncated,
                                "the input ends inside a records wrapper, before its closing `}`"
                                    .into(),
                            );
                        }
                        return false;
                    }
                },
                Scan::Cut(k) | Scan::Mismatch(k) => {
                    let at = self.buf.at(start_rel + k);
                    ctx.record_problem(
                        at,
                        ProblemKind::BadJson,
                        "malformed records wrapper after its records array".into(),
                    );
                    self.buf.pos = start_rel + k;
                    self.state = State::Top;
                    return self.resync();
                }
            }
        }
    }

    /// Reads the record starting at `pos` (a `{`) and delivers it.
    fn record<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>, index: Option<u64>) {
        let mut start = self.buf.pos;
        let lines = self.lines();
        let cut_col = self.cut_col();
        let scan = loop {
            let s = scan_value(
                &self.buf.data[start..self.buf.end],
                lines,
                &[],
                &mut self.stack,
                cut_col,
            );
            if s != Scan::NeedMore {
                break s;
            }
            if self.buf.end - start > MAX_RECORD_LEN {
                let mut at = self.buf.at(start);
                at.index = index;
                ctx.record_problem(
                    at,
                    ProblemKind::TooLarge,
                    format!("record longer than {} MiB skipped", MAX_RECORD_LEN >> 20),
                );
                self.buf.pos = self.buf.end;
                self.resync();
                return;
            }
            match self.buf.more(start) {
                Some(shift) => start -= shift,
                None => break Scan::Cut(self.buf.end - start),
            }
        };
        let mut at = self.buf.at(start);
        at.index = index;
        let line = at.line.unwrap_or(1);
        match scan {
            Scan::Done(n) => {
                let end = start + n;
                self.buf.pos = end;
                self.check_and_emit(ctx, start, end, at, index);
                if lines {
                    self.rest_of_line(ctx);
                }
            }
            Scan::Cut(n) => {
                let end = start + n;
                // A syntax error before the cut makes the record broken, not truncated.
                let plen = self.buf.data[start..end].trim_ascii_end().len();
                let head = &self.buf.data[start..start + plen];
                if serde_json::from_slice::<IgnoredAny>(head).is_err_and(|e| !e.is_eof()) {
                    self.check_and_emit(ctx, start, start + plen, at, index);
                    self.buf.pos = end;
                    self.resync();
                    return;
                }
                let cut = self.buf.at(end);
                let partial = self.buf.data[start..end].trim_ascii_end();
                let text = match std::str::from_utf8(partial) {
                    Ok(t) => t,
                    Err(e) => std::str::from_utf8(&partial[..e.valid_up_to()]).unwrap_or(""),
                };
                let why = if end == self.buf.end {
                    "the input ends inside the record"
                } else if lines {
                    "the line ends inside the record"
                } else {
                    "a raw newline inside a string: the record was cut there"
                };
                ctx.record_problem(
                    At { index, ..cut },
                    ProblemKind::Truncated,
                    format!(
                        "record starting at line {line} is cut short ({why}); its complete \
                         values go to the detection's truncation rules"
                    ),
                );
                ctx.emit(text, false, line, index);
                self.buf.pos = end;
                self.resync();
            }
            Scan::Mismatch(n) => {
                let bad = self.buf.at(start + n);
                let c = self.buf.data[start + n] as char;
                ctx.record_problem(
                    At { index, ..bad },
                    ProblemKind::BadJson,
                    format!(
                        "unexpected `{c}` in the record starting at line {line}; reading \
                         resumes at the next record"
                    ),
                );
                self.buf.pos = start + n + 1;
                self.resync();
            }
            Scan::NeedMore => unreachable!("loop ends on any other outcome"),
        }
    }

    /// Delivers a structurally complete record if it is well-formed JSON, else reports it.
    ///
    /// One pass on the happy path: the record is [offered](Ctx::offer) to the sink
    /// unchecked, and serde_json reads it only when the sink declines unchecked records or
    /// refuses this one, so that what is reported (kind, position, serde_json's message)
    /// and counted is exactly what checking every record first would give.
    fn check_and_emit<S: Sink>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        start: usize,
        end: usize,
        at: At,
        index: Option<u64>,
    ) {
        let bytes = &self.buf.data[start..end];
        let line = at.line.unwrap_or(1);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let mut p = self.buf.at(start + e.valid_up_to());
                p.index = index;
                ctx.record_problem(
                    p,
                    ProblemKind::BadEncoding,
                    format!("invalid UTF-8 in the record starting at line {line}"),
                );
                return;
            }
        };
        let offer = ctx.offer(text, line, index);
        if offer == Offer::Taken {
            ctx.values += 1;
            return;
        }
        match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => {
                ctx.values += 1;
                if offer == Offer::CheckFirst {
                    ctx.emit(text, true, line, index);
                }
                // Refused: the sink's stricter verdict stands, as if checked first.
            }
            Err(e) => {
                if offer == Offer::Refused {
                    ctx.withdraw();
                }
                // serde_json positions are relative to the record: find the byte.
                let mut rel = 0usize;
                let mut nl = memchr::memchr_iter(b'\n', bytes);
                for _ in 1..e.line() {
                    rel = nl.next().map_or(bytes.len(), |k| k + 1);
                }
                let rel = (rel + e.column().saturating_sub(1)).min(bytes.len());
                let mut p = self.buf.at(start + rel);
                p.index = index;
                let msg = e.to_string();
                let msg = msg.rfind(" at line ").map_or(&msg[..], |i| &msg[..i]);
                ctx.record_problem(
                    p,
                    ProblemKind::BadJson,
                    format!("{msg} in the record starting at line {line}"),
                );
            }
        }
    }

    /// Line mode, after a value: only whitespace may follow on its line.
    fn rest_of_line<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>) {
        match self.buf.skip_ws(true) {
            None | Some(b'\n') => {}
            Some(_) if self.state != State::Top => {}
            Some(_) => {
                let at = self.buf.at(self.buf.pos);
                ctx.record_problem(
                    at,
                    ProblemKind::BadJson,
                    "trailing characters after the record; rest of the line skipped".into(),
                );
                self.buf.skip_line();
            }
        }
    }

    /// A value that is not an object where a record was expected: a well-formed scalar or
    /// array is `not_an_object`, anything else `bad_json`; either way reading goes on
    /// after it (in an array) or at the next line (top level).
    fn stray<S: Sink>(&mut self, ctx: &mut Ctx<'_, S>, index: Option<u64>) {
        let pos = self.buf.pos;
        let mut at = self.buf.at(pos);
        at.index = index;
        self.buf.ensure(SNIFF_LEN);
        let pos = self.buf.pos;
        let b = self.buf.data[pos];
        // The extent of the value: a nested array by structure, anything else up to the
        // next `,`, `]`, `}` or whitespace.
        let len = if b == b'[' || b == b'{' {
            let mut start = pos;
            loop {
                match scan_value(
                    &self.buf.data[start..self.buf.end],
                    self.lines(),
                    &[],
                    &mut self.stack,
                    0,
                ) {
                    Scan::Done(n) => break Some((start, n)),
                    Scan::NeedMore => match self.buf.more(start) {
                        Some(s) => start -= s,
                        None => break None,
                    },
                    _ => break None,
                }
            }
        } else if b == b'"' {
            let mut start = pos;
            loop {
                let s = &self.buf.data[start + 1..self.buf.end];
                match find_string_end(s) {
                    Some(e) if !s[..e].contains(&b'\n') => break Some((start, e + 2)),
                    Some(_) => break None,
                    None => match self.buf.more(start) {
                        Some(sh) => start -= sh,
                        None => break None,
                    },
                }
            }
        } else {
            let s = &self.buf.data[pos..self.buf.end];
            let n = s
                .iter()
                .position(|c| matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(s.len());
            Some((pos, n.max(1)))
        };
        match len {
            Some((start, n)) => {
                let text = &self.buf.data[start..start + n];
                let well_formed = serde_json::from_slice::<IgnoredAny>(text).is_ok();
                let (kind, detail) = if well_formed {
                    (
                        ProblemKind::NotAnObject,
                        format!("expected a JSON object, found {}", json_kind(text[0])),
                    )
                } else {
                    (
                        ProblemKind::BadJson,
                        format!(
                            "expected a JSON object, found `{}`",
                            String::from_utf8_lossy(&text[..text.len().min(20)])
                        ),
                    )
                };
                ctx.record_problem(at, kind, detail);
                self.buf.pos = start + n;
                if self.state == State::Top || !well_formed {
                    // At the top level (or after garbage) nothing says where the next value
                    // starts but a new line.
                    if self.lines() || self.state == State::Top {
                        self.buf.skip_line();
                    } else {
                        self.resync();
                    }
                }
            }
            None => {
                ctx.record_problem(
                    at,
                    ProblemKind::BadJson,
                    "expected a JSON object; the value is not well-formed".into(),
                );
                self.resync();
            }
        }
    }

    /// After damage at `pos`: resume at the next line (JSON lines), or at the next line
    /// that starts a record at the container's record column (document). Returns false
    /// at the end of the input.
    fn resync(&mut self) -> bool {
        if self.lines() {
            self.state = State::Top;
            if self.buf.pos < self.buf.end && self.buf.data[self.buf.pos] == b'\n' {
                self.buf.pos += 1;
                return true;
            }
            let more = self.buf.skip_line();
            if !more {
                self.lost_to_end = true;
            }
            return more;
        }
        let col = match self.state {
            State::Array { .. } => self.resync_col,
            _ => self.top_col,
        }
        .unwrap_or(1);
        let from = self.buf.base + self.buf.pos as u64;
        loop {
            if !self.buf.skip_line() {
                self.lost_to_end = true;
                self.lost_from = Some(from);
                return false;
            }
            // Look at the start of this line.
            let Some(b) = self.buf.skip_ws(true) else {
                self.lost_to_end = true;
                self.lost_from = Some(from);
                return false;
            };
            if b == b'{' && self.buf.at(self.buf.pos).column == Some(col) {
                return true;
            }
        }
    }
}

/// Index of the closing quote of a string whose body starts at `s[0]`.
fn find_string_end(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(k) = memchr::memchr2(b'"', b'\\', &s[i..]) {
        let j = i + k;
        if s[j] == b'"' {
            return Some(j);
        }
        i = j + 2;
        if i > s.len() {
            return None;
        }
    }
    None
}

fn json_kind(first: u8) -> &'static str {
    match first {
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}
