//! Reading one decoded stream: gzip detection, byte order marks, line mode (each line on
//! its own, from memory up to [`MAX_LINE_IN_MEMORY`]) and document mode (values spanning
//! lines). Every problem found is reported through [`FileCtx`].

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::bufread::MultiGzDecoder;
use serde_json::value::RawValue;

use super::readers::{DocReader, LineReader};
use super::walk::{parse_value, LineSrc, SliceLines};
use super::{Event, Location, Problem, ProblemKind, ReadStats, Sink, MAX_LINE_IN_MEMORY};

/// How many bytes of a value are looked at to recognise a `records` wrapper. Enough for
/// `{ "Records" : [` with generous pretty-printing whitespace.
const SNIFF_LEN: usize = 64;

/// Reads one stream (gzip recognised by its magic bytes) as the file `name`. Never fails:
/// every problem is reported to the sink and counted.
pub(super) fn read_stream<R: Read, S: Sink>(
    name: &Path,
    reader: R,
    sink: &mut S,
    stats: &mut ReadStats,
) {
    read_stream_capped(name, reader, sink, stats, MAX_LINE_IN_MEMORY)
}

/// [`read_stream`] with another in-memory limit (tests use a tiny one to drive the
/// streaming paths).
fn read_stream_capped<R: Read, S: Sink>(
    name: &Path,
    reader: R,
    sink: &mut S,
    stats: &mut ReadStats,
    line_cap: usize,
) {
    let mut ctx = FileCtx::new(name, sink, stats);
    ctx.line_cap = line_cap;
    let mut raw = BufReader::with_capacity(64 * 1024, reader);
    let magic = match raw.fill_buf() {
        Ok(b) => b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b,
        Err(e) => {
            ctx.problem(
                None,
                None,
                None,
                ProblemKind::Unreadable,
                format!("cannot read: {e}"),
            );
            return;
        }
    };
    if magic {
        ctx.gzip = true;
        let gz = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(raw));
        read_text(&mut ctx, gz);
    } else {
        read_text(&mut ctx, raw);
    }
}

/// Per-file state shared by the parsing code.
pub(super) struct FileCtx<'a, S> {
    file: &'a Path,
    sink: &'a mut S,
    stats: &'a mut ReadStats,
    gzip: bool,
    /// Elements (events or non-object problems) delivered since the start of the current
    /// top-level value: a value that delivered any cannot be re-read as a document.
    emitted_in_value: u64,
    /// Longest line or document parsed from memory; see [`MAX_LINE_IN_MEMORY`].
    line_cap: usize,
}

impl<'a, S: Sink> FileCtx<'a, S> {
    fn new(file: &'a Path, sink: &'a mut S, stats: &'a mut ReadStats) -> Self {
        FileCtx {
            file,
            sink,
            stats,
            gzip: false,
            emitted_in_value: 0,
            line_cap: MAX_LINE_IN_MEMORY,
        }
    }

    fn problem(
        &mut self,
        line: Option<u64>,
        column: Option<u64>,
        index: Option<u64>,
        kind: ProblemKind,
        detail: String,
    ) {
        let p = Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            index,
            kind,
            detail,
        };
        *self.stats.problems.entry(kind).or_default() += 1;
        self.sink.problem(&p);
    }

    /// Delivers one array element or top-level value if it is an object.
    pub(super) fn emit(&mut self, raw: &RawValue, line: u64, index: Option<u64>) {
        let text = raw.get();
        self.emitted_in_value += 1;
        if text.trim_start().starts_with('{') {
            self.stats.events += 1;
            let ev = Event {
                json: raw,
                location: Location {
                    file: self.file,
                    line,
                    index,
                },
            };
            self.sink.event(&ev);
        } else {
            self.problem(
                Some(line),
                None,
                index,
                ProblemKind::NotAnObject,
                format!("expected a JSON object, found {}", json_kind(text)),
            );
        }
    }

    /// A scalar between the values of a multi-line document: where one value ends and the
    /// next begins is no longer reliable (a number swallows the byte after it), so the rest
    /// of the file is skipped.
    fn stray_scalar(&mut self, line: u64, prefix: &[u8]) {
        let text = String::from_utf8_lossy(prefix);
        self.problem(
            Some(line),
            None,
            None,
            ProblemKind::NotAnObject,
            format!(
                "expected a JSON object or array, found {}; rest of file skipped",
                json_kind(&text)
            ),
        );
    }

    /// Reports a parse error of the value that started on `start_line` (1-based) at
    /// `start_col` (1-based, 0 when unknown). Returns true when the error came from reading
    /// the stream itself (the rest of the file is unreadable).
    fn parse_error(
        &mut self,
        e: &serde_json::Error,
        start_line: u64,
        start_col: u64,
        suffix: &str,
    ) -> bool {
        if let Some(kind) = e.io_error_kind() {
            let (pk, what) = if self.gzip {
                (ProblemKind::BadGzip, "corrupt or truncated gzip data")
            } else if kind == io::ErrorKind::InvalidData {
                (ProblemKind::BadEncoding, "invalid data")
            } else {
                (ProblemKind::Unreadable, "read error")
            };
            self.problem(
                Some(start_line),
                None,
                None,
                pk,
                format!("{what} after line {start_line}: {e}; rest of file skipped"),
            );
            return true;
        }
        let line = start_line + e.line().saturating_sub(1) as u64;
        let col = if e.line() <= 1 && start_col > 0 {
            Some(start_col + e.column().saturating_sub(1) as u64)
        } else if e.line() > 1 {
            Some(e.column() as u64)
        } else {
            None
        };
        let msg = strip_position(&e.to_string());
        self.problem(
            Some(line),
            col,
            None,
            syntax_error_kind(&msg),
            format!("{msg}{suffix}"),
        );
        false
    }
}

/// Invalid UTF-8 is an encoding problem; any other syntax error is bad JSON.
fn syntax_error_kind(msg: &str) -> ProblemKind {
    if msg.contains("invalid unicode") || msg.contains("UTF-8") {
        ProblemKind::BadEncoding
    } else {
        ProblemKind::BadJson
    }
}

/// serde_json appends " at line L column C" (relative to the value); we print our own.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Decoded text stream: checks the byte order mark, then reads lines, switching to
/// document mode when the first line opens a multi-line value.
fn read_text<R: BufRead, S: Sink>(ctx: &mut FileCtx<'_, S>, mut r: R) {
    match r.fill_buf() {
        Ok([0xef, 0xbb, 0xbf, ..]) => r.consume(3),
        Ok(b) if b.starts_with(&[0xff, 0xfe]) || b.starts_with(&[0xfe, 0xff]) => {
            ctx.problem(
                None,
                None,
                None,
                ProblemKind::BadEncoding,
                "UTF-16 text (as written by PowerShell redirection); convert it to UTF-8 first"
                    .into(),
            );
            return;
        }
        Ok(_) => {}
        Err(e) => {
            let (kind, what) = if ctx.gzip {
                (ProblemKind::BadGzip, "corrupt gzip data")
            } else {
                (ProblemKind::Unreadable, "cannot read")
            };
            ctx.problem(None, None, None, kind, format!("{what}: {e}"));
            return;
        }
    }

    let mut line_no = 0u64;
    let mut seen_value = false;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        line_no += 1;
        buf.clear();
        let line = match read_line_capped(&mut r, &mut buf, ctx.line_cap) {
            Ok(l) => l,
            Err(e) => {
                ctx.parse_error(&serde_json::Error::io(e), line_no, 0, "");
                return;
            }
        };
        if line == LineEnd::EndOfInput && buf.is_empty() {
            return;
        }
        let mut lr = None;
        let outcome = if line == LineEnd::TooLong {
            // Stream the rest of an oversized line instead of holding it in memory.
            let lr = lr.insert(LineReader::new(&mut r));
            parse_line_streaming(ctx, &buf, lr, line_no)
        } else {
            parse_line_slice(ctx, &buf, line_no)
        };
        match outcome {
            LineOutcome::Blank => {}
            LineOutcome::Parsed => seen_value = true,
            LineOutcome::Failed(e, leading_ws) => {
                if !seen_value
                    && line != LineEnd::TooLong
                    && e.is_eof()
                    && ctx.emitted_in_value == 0
                {
                    // The first value spans lines (a pretty-printed export): re-read the
                    // file from this line as a document.
                    buf.push(b'\n');
                    let rest = Cursor::new(std::mem::take(&mut buf)).chain(r);
                    read_document(ctx, BufReader::new(rest), line_no - 1);
                    return;
                }
                seen_value = true;
                if ctx.parse_error(&e, line_no, leading_ws + 1, "") {
                    return;
                }
                if let Some(lr) = &mut lr {
                    if let Err(e) = lr.drain() {
                        ctx.parse_error(&serde_json::Error::io(e), line_no, 0, "");
                        return;
                    }
                }
            }
        }
        let at_end = match &lr {
            Some(lr) => lr.end_of_input,
            None => line == LineEnd::EndOfInput,
        };
        if at_end {
            return;
        }
    }
}

/// How a line read by [`read_line_capped`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    /// At a `\n` (consumed, not stored).
    Newline,
    /// At the end of the input.
    EndOfInput,
    /// The line is longer than the cap: the buffer holds its start, the rest is unread.
    TooLong,
}

/// Appends one line (without its `\n`) to `buf`, stopping once `buf` exceeds `cap`.
fn read_line_capped<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, cap: usize) -> io::Result<LineEnd> {
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(LineEnd::EndOfInput);
        }
        match memchr::memchr(b'\n', avail) {
            Some(i) => {
                buf.extend_from_slice(&avail[..i]);
                r.consume(i + 1);
                return Ok(LineEnd::Newline);
            }
            None => {
                let n = avail.len();
                buf.extend_from_slice(avail);
                r.consume(n);
                if buf.len() > cap {
                    return Ok(LineEnd::TooLong);
                }
            }
        }
    }
}

enum LineOutcome {
    Blank,
    Parsed,
    /// The error and the number of whitespace bytes before the value (for the column).
    Failed(serde_json::Error, u64),
}

/// Parses one whole line held in memory (the fast path).
fn parse_line_slice<S: Sink>(ctx: &mut FileCtx<'_, S>, line: &[u8], line_no: u64) -> LineOutcome {
    ctx.emitted_in_value = 0;
    let Some(start) = line.iter().position(|&b| !is_ws(b)) else {
        return LineOutcome::Blank;
    };
    let text = &line[start..];
    let shape = shape_of(&text[..text.len().min(SNIFF_LEN)]);
    let mut de = serde_json::Deserializer::from_slice(text);
    match parse_value(ctx, &mut de, shape, &LineSrc::Fixed(line_no)).and_then(|()| de.end()) {
        Ok(()) => LineOutcome::Parsed,
        Err(e) => LineOutcome::Failed(e, start as u64),
    }
}

/// Parses a line too long to hold: `head` is its start, `lr` yields the rest.
fn parse_line_streaming<R: BufRead, S: Sink>(
    ctx: &mut FileCtx<'_, S>,
    head: &[u8],
    lr: &mut LineReader<'_, R>,
    line_no: u64,
) -> LineOutcome {
    ctx.emitted_in_value = 0;
    let mut input = Cursor::new(head).chain(lr);
    let prefix = match sniff(&mut input) {
        Ok(Some(p)) => p,
        Ok(None) => return LineOutcome::Blank,
        Err(e) => return LineOutcome::Failed(serde_json::Error::io(e), 0),
    };
    let leading_ws = prefix.leading_ws;
    let shape = prefix.shape();
    let chained = Cursor::new(prefix.bytes).chain(input);
    let mut de = serde_json::Deserializer::from_reader(chained);
    match parse_value(ctx, &mut de, shape, &LineSrc::Fixed(line_no)).and_then(|()| de.end()) {
        Ok(()) => LineOutcome::Parsed,
        Err(e) => LineOutcome::Failed(e, leading_ws),
    }
}

/// Document mode: values may span lines; `lines_before` lines precede the stream.
/// A document that fits in [`MAX_LINE_IN_MEMORY`] bytes is parsed from memory, a larger
/// one from the stream.
fn read_document<R: BufRead, S: Sink>(ctx: &mut FileCtx<'_, S>, mut r: R, lines_before: u64) {
    let cap = ctx.line_cap;
    let mut buf = Vec::new();
    match (&mut r).take(cap as u64 + 1).read_to_end(&mut buf) {
        Ok(_) if buf.len() <= cap => parse_document_slice(ctx, &buf, lines_before, false),
        Ok(_) => read_document_stream(ctx, Cursor::new(buf).chain(r), lines_before),
        Err(e) => {
            // Deliver what was read before the stream broke, then say why it ended.
            parse_document_slice(ctx, &buf, lines_before, true);
            let line = lines_before + 1 + memchr::memchr_iter(b'\n', &buf).count() as u64;
            ctx.parse_error(&serde_json::Error::io(e), line, 0, "");
        }
    }
}

/// Parses a whole document held in memory. With `truncated`, the input ended early
/// because of a read error (reported by the caller), so running out of input is not
/// reported as bad JSON.
fn parse_document_slice<S: Sink>(
    ctx: &mut FileCtx<'_, S>,
    buf: &[u8],
    lines_before: u64,
    truncated: bool,
) {
    let positions = SliceLines {
        buf,
        lines_before,
        scanned: Cell::new(0),
        newlines: Cell::new(0),
    };
    let lines = LineSrc::Slice(&positions);
    let mut values = serde_json::Deserializer::from_slice(buf).into_iter::<&RawValue>();
    while let Some(value) = values.next() {
        ctx.emitted_in_value = 0;
        let raw = match value {
            Ok(raw) => raw,
            Err(e) => {
                // The value is broken: walk it element by element to deliver the events
                // before the break, and report the first error in that order (the same
                // one a stream would meet).
                let start = values.byte_offset();
                if let Some(ws) = buf[start..].iter().position(|&b| !is_ws(b)) {
                    let abs = start + ws;
                    let rest = &buf[abs..];
                    let shape = shape_of(&rest[..rest.len().min(SNIFF_LEN)]);
                    if matches!(shape, Shape::Array | Shape::Wrapper) {
                        let line = positions.line_at(rest.as_ptr());
                        let line_start = memchr::memrchr(b'\n', &buf[..abs]).map_or(0, |p| p + 1);
                        let col = (abs - line_start + 1) as u64;
                        let mut de = serde_json::Deserializer::from_slice(rest);
                        if let Err(walk) = parse_value(ctx, &mut de, shape, &lines) {
                            if !(truncated && walk.is_eof()) {
                                ctx.parse_error(&walk, line, col, "; rest of file skipped");
                            }
                            return;
                        }
                    }
                }
                if !(truncated && e.is_eof()) {
                    let err_line = lines_before + e.line() as u64;
                    let msg = strip_position(&e.to_string());
                    ctx.problem(
                        Some(err_line),
                        Some(e.column() as u64),
                        None,
                        syntax_error_kind(&msg),
                        format!("{msg}; rest of file skipped"),
                    );
                }
                return;
            }
        };
        let text = raw.get();
        let start_line = positions.line_at(text.as_ptr());
        let shape = shape_of(&text.as_bytes()[..text.len().min(SNIFF_LEN)]);
        if shape == Shape::Scalar {
            ctx.stray_scalar(start_line, text.as_bytes());
            return;
        }
        let mut de = serde_json::Deserializer::from_str(text);
        if let Err(e) = parse_value(ctx, &mut de, shape, &lines) {
            // The value is well-formed JSON (it was just skimmed), so this is not expected;
            // report it rather than lose it.
            ctx.parse_error(&e, start_line, 0, "; rest of file skipped");
            return;
        }
    }
}

/// Stream variant of document mode, for documents too large to hold in memory.
fn read_document_stream<R: Read, S: Sink>(ctx: &mut FileCtx<'_, S>, r: R, lines_before: u64) {
    let counter = Rc::new(Cell::new(lines_before));
    let mut doc = DocReader::new(r, Rc::clone(&counter));
    loop {
        ctx.emitted_in_value = 0;
        let (shape, stray) = match doc.skip_ws_and_peek(SNIFF_LEN) {
            Ok([]) => return,
            Ok(prefix) => (shape_of(prefix), prefix.to_vec()),
            Err(e) => {
                ctx.parse_error(&serde_json::Error::io(e), counter.get() + 1, 0, "");
                return;
            }
        };
        let start_line = counter.get() + 1;
        if shape == Shape::Scalar {
            // Either a well-formed scalar (not an object) or a syntax error: say which. As
            // raw text (invalid UTF-8 is caught) through a stream deserializer (a number
            // must end where a value may end), exactly as a document in memory is read.
            let mut values =
                serde_json::Deserializer::from_reader(&mut doc).into_iter::<Box<RawValue>>();
            match values.next() {
                Some(Err(e)) => {
                    ctx.parse_error(&e, start_line, 0, "; rest of file skipped");
                }
                _ => ctx.stray_scalar(start_line, &stray),
            }
            return;
        }
        let mut de = serde_json::Deserializer::from_reader(&mut doc);
        let lines = LineSrc::Counter(Rc::clone(&counter));
        if let Err(e) = parse_value(ctx, &mut de, shape, &lines) {
            // A document cannot be resynchronised reliably: the rest of the file is lost.
            ctx.parse_error(&e, start_line, 0, "; rest of file skipped");
            return;
        }
    }
}

/// The first bytes of a value, read ahead to recognise its shape.
struct Prefix {
    bytes: Vec<u8>,
    leading_ws: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Array,
    Wrapper,
    Object,
    Scalar,
}

impl Prefix {
    fn shape(&self) -> Shape {
        shape_of(&self.bytes)
    }
}

/// The shape of a value from its first bytes (starting at its first non-whitespace byte).
fn shape_of(prefix: &[u8]) -> Shape {
    match prefix.first() {
        Some(b'[') => Shape::Array,
        Some(b'{') if is_wrapper_prefix(prefix) => Shape::Wrapper,
        Some(b'{') => Shape::Object,
        _ => Shape::Scalar,
    }
}

/// `{ "records" : [` or `{ "Records" : [` with any JSON whitespace.
fn is_wrapper_prefix(b: &[u8]) -> bool {
    let mut i = 1;
    let skip = |i: &mut usize| {
        while *i < b.len() && is_ws(b[*i]) {
            *i += 1;
        }
    };
    skip(&mut i);
    let rest = &b[i..];
    let key_len = if rest.starts_with(b"\"records\"") || rest.starts_with(b"\"Records\"") {
        9
    } else {
        return false;
    };
    i += key_len;
    skip(&mut i);
    if b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    skip(&mut i);
    b.get(i) == Some(&b'[')
}

/// Skips whitespace and reads up to [`SNIFF_LEN`]
/// bytes starting at the first non-whitespace byte. `None` at end of input.
fn sniff<R: Read>(r: &mut R) -> io::Result<Option<Prefix>> {
    let mut byte = [0u8; 1];
    let mut leading_ws = 0u64;
    loop {
        if read_byte(r, &mut byte)? == 0 {
            return Ok(None);
        }
        if is_ws(byte[0]) {
            leading_ws += 1;
        } else {
            break;
        }
    }
    let mut bytes = Vec::with_capacity(SNIFF_LEN);
    bytes.push(byte[0]);
    let mut buf = [0u8; SNIFF_LEN];
    while bytes.len() < SNIFF_LEN {
        let want = SNIFF_LEN - bytes.len();
        let n = loop {
            match r.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    Ok(Some(Prefix { bytes, leading_ws }))
}

fn read_byte<R: Read>(r: &mut R, byte: &mut [u8; 1]) -> io::Result<usize> {
    loop {
        match r.read(byte) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::input::read_reader;

    #[derive(Default)]
    struct Collect {
        events: Vec<(String, String)>,
        problems: Vec<Problem>,
    }

    impl Sink for Collect {
        fn event(&mut self, e: &Event<'_>) {
            self.events
                .push((e.location.to_string(), e.json.get().to_string()));
        }
        fn problem(&mut self, p: &Problem) {
            self.problems.push(p.clone());
        }
    }

    fn read(bytes: &[u8]) -> (Collect, ReadStats) {
        let mut c = Collect::default();
        let mut stats = ReadStats::default();
        read_reader(Path::new("f"), bytes, &mut c, &mut stats);
        (c, stats)
    }

    /// Reads with a tiny in-memory line cap, so that every line longer than 8 bytes takes
    /// the streaming path.
    fn read_streaming(bytes: &[u8]) -> (Collect, ReadStats) {
        let mut c = Collect::default();
        let mut stats = ReadStats::default();
        read_stream_capped(Path::new("f"), bytes, &mut c, &mut stats, 8);
        (c, stats)
    }

    #[test]
    fn oversized_lines_are_streamed_with_the_same_results() {
        let inputs: [&[u8]; 12] = [
            b"[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": 2\n  }\n]\n",
            b"\xef\xbb\xbf\n\n[\n {\"a\": 1},\n {\"a\": 2}\n]",
            b"{\n  \"Records\": [\n    {\"eventName\": \"SendCommand\"},\n    {\"b\": 2}\n  ]\n}\n",
            b"{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n",
            b"[\n  {\"a\": 1},\n  {\"a\": 2,,},\n  {\"a\": 3}\n]\n",
            b"[\n {\"a\": 1},\n 7,\n {\"a\": 2\n",
            b"{\"a\":1}\n\n{\"a\":2}\r\n  {\"a\" : 3}\n",
            b"{\"a\":1}\n{\"a\":\n{\"a\":3}\n{\"a\":4} x\n",
            b"{\"records\":[{\"a\":1},{\"a\":2}]}\n{\"records\": [ {\"a\":3} ]}\n",
            b"[{\"a\":1}, 2, \"x\", [3]]\n42\nnull\n",
            b"{\"a\":\"\xff\"}\n{\"a\":2}\n",
            b"{\"Records\":[{\"n\":1},{\"n\":2},{\"n\":3}]}",
        ];
        for input in inputs {
            let (fast, fs) = read(input);
            let (slow, ss) = read_streaming(input);
            assert_eq!(
                fast.events,
                slow.events,
                "{}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(fs, ss);
            let pos = |c: &Collect| {
                c.problems
                    .iter()
                    .map(|p| (p.position(), p.kind))
                    .collect::<Vec<_>>()
            };
            assert_eq!(pos(&fast), pos(&slow), "{}", String::from_utf8_lossy(input));
        }
    }

    fn locs(c: &Collect) -> Vec<&str> {
        c.events.iter().map(|(l, _)| l.as_str()).collect()
    }

    #[test]
    fn json_lines_one_event_per_line() {
        let (c, s) = read(b"{\"a\":1}\n\n{\"a\":2}\r\n  {\"a\" : 3}\n");
        assert_eq!(locs(&c), ["f:1", "f:3", "f:4"]);
        assert_eq!(c.events[2].1, "{\"a\" : 3}");
        assert_eq!(s.events, 3);
        assert!(c.problems.is_empty());
    }

    #[test]
    fn bad_line_is_reported_and_next_line_read() {
        let (c, s) = read(b"{\"a\":1}\n{\"a\":\n{\"a\":3}\n{\"a\":4} x\n");
        assert_eq!(locs(&c), ["f:1", "f:3", "f:4"]);
        assert_eq!(s.problems[&ProblemKind::BadJson], 2);
        assert_eq!(c.problems[0].line, Some(2));
        assert_eq!(c.problems[1].line, Some(4));
        assert!(
            c.problems[1].detail.contains("trailing"),
            "{:?}",
            c.problems[1]
        );
    }

    #[test]
    fn pretty_printed_array_is_streamed_as_document() {
        let text = b"[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": 2\n  }\n]\n";
        let (c, s) = read(text);
        assert_eq!(locs(&c), ["f:2[0]", "f:5[1]"]);
        assert_eq!(c.events[1].1, "{\n    \"a\": 2\n  }");
        assert_eq!(s.events, 2);
        assert!(c.problems.is_empty());
    }

    #[test]
    fn pretty_printed_array_after_blank_lines_and_bom() {
        let text = b"\xef\xbb\xbf\n\n[\n {\"a\": 1},\n {\"a\": 2}\n]";
        let (c, _) = read(text);
        assert_eq!(locs(&c), ["f:4[0]", "f:5[1]"]);
    }

    #[test]
    fn wrapper_records_per_line_and_cloudtrail_document() {
        let (c, _) = read(b"{\"records\":[{\"a\":1},{\"a\":2}]}\n{\"records\": [ {\"a\":3} ]}\n");
        assert_eq!(locs(&c), ["f:1[0]", "f:1[1]", "f:2[0]"]);
        let pretty =
            b"{\n  \"Records\": [\n    {\"eventName\": \"SendCommand\"},\n    {\"b\": 2}\n  ]\n}\n";
        let (c, _) = read(pretty);
        assert_eq!(locs(&c), ["f:3[0]", "f:4[1]"]);
        assert_eq!(c.events[0].1, "{\"eventName\": \"SendCommand\"}");
    }

    #[test]
    fn object_with_records_not_first_is_an_event() {
        // Only a wrapper whose first key is records/Records is unwrapped.
        let (c, _) = read(b"{\"time\":\"x\",\"records\":[1]}\n");
        assert_eq!(locs(&c), ["f:1"]);
    }

    #[test]
    fn concatenated_pretty_objects() {
        let (c, _) = read(b"{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n");
        assert_eq!(locs(&c), ["f:1", "f:4"]);
    }

    #[test]
    fn non_object_elements_and_values_are_reported() {
        let (c, s) = read(b"[{\"a\":1}, 2, \"x\", [3]]\n42\nnull\n");
        assert_eq!(locs(&c), ["f:1[0]"]);
        assert_eq!(s.problems[&ProblemKind::NotAnObject], 5);
        assert_eq!(c.problems[0].position(), "f:1[1]");
        assert!(c.problems[0].detail.contains("a number"));
        assert!(c.problems[2].detail.contains("an array"));
        assert_eq!(c.problems[4].line, Some(3));
    }

    #[test]
    fn broken_document_reports_line_and_keeps_earlier_events() {
        let text = b"[\n  {\"a\": 1},\n  {\"a\": 2,,},\n  {\"a\": 3}\n]\n";
        let (c, s) = read(text);
        assert_eq!(locs(&c), ["f:2[0]"]);
        assert_eq!(s.problems.get(&ProblemKind::BadJson), Some(&1));
        assert_eq!(c.problems[0].line, Some(3), "{:?}", c.problems);
        assert!(c.problems[0].detail.ends_with("rest of file skipped"));
    }

    #[test]
    fn truncated_document_is_reported() {
        let (c, s) = read(b"[\n {\"a\": 1},\n {\"a\": 2\n");
        assert_eq!(locs(&c), ["f:2[0]"]);
        assert!(s.problem_count() >= 1);
        assert!(c.problems[0].detail.contains("EOF"), "{:?}", c.problems);
    }

    #[test]
    fn corrupt_gzip_document_delivers_events_before_the_break() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        writeln!(enc, "[").unwrap();
        for i in 0..3000 {
            writeln!(
                enc,
                "  {{\"a\": {i}, \"pad\": \"{}\"}},",
                "x".repeat(i % 40)
            )
            .unwrap();
        }
        writeln!(enc, "  {{}}\n]").unwrap();
        let gz = enc.finish().unwrap();
        for (c, s) in [
            read(&gz[..gz.len() / 2]),
            read_streaming(&gz[..gz.len() / 2]),
        ] {
            assert!(s.events > 100 && s.events < 3000, "{s:?}");
            assert_eq!(c.events[0].0, "f:2[0]");
            assert_eq!(
                s.problems.get(&ProblemKind::BadGzip),
                Some(&1),
                "{:?}",
                c.problems
            );
            assert_eq!(s.problem_count(), 1, "{:?}", c.problems);
        }
    }

    #[test]
    fn gzip_by_magic_bytes() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        let mut gz = enc.finish().unwrap();
        // A second gzip member (concatenated .gz files) is read too.
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"a\":3}\n").unwrap();
        gz.extend(enc.finish().unwrap());
        let (c, s) = read(&gz);
        assert_eq!(locs(&c), ["f:1", "f:2", "f:3"]);
        assert_eq!(s.problem_count(), 0);
    }

    #[test]
    fn corrupt_gzip_is_reported_not_fatal() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..2000 {
            writeln!(enc, "{{\"a\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 50)).unwrap();
        }
        let gz = enc.finish().unwrap();
        let truncated = &gz[..gz.len() / 2];
        let (_, s) = read(truncated);
        assert_eq!(s.problems.get(&ProblemKind::BadGzip), Some(&1), "{s:?}");
        let mut garbage = gz.clone();
        for b in &mut garbage[20..60] {
            *b ^= 0x5a;
        }
        let (_, s) = read(&garbage);
        assert_eq!(s.problems.get(&ProblemKind::BadGzip), Some(&1), "{s:?}");
    }

    #[test]
    fn utf16_and_invalid_utf8_are_encoding_problems() {
        let (c, s) = read(b"\xff\xfe[\x00");
        assert_eq!(s.problems[&ProblemKind::BadEncoding], 1);
        assert!(c.problems[0].detail.contains("UTF-16"));
        let (c, s) = read(b"{\"a\":\"\xff\"}\n{\"a\":2}\n");
        assert_eq!(locs(&c), ["f:2"]);
        assert_eq!(
            s.problems.get(&ProblemKind::BadEncoding),
            Some(&1),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn empty_and_blank_input_yield_nothing() {
        for input in [&b""[..], b"\n\n  \n", b"\xef\xbb\xbf"] {
            let (c, s) = read(input);
            assert!(c.events.is_empty());
            assert_eq!(s.problem_count(), 0);
        }
    }

    #[test]
    fn long_single_line_wrapper_streams() {
        let mut text = String::from("{\"Records\":[");
        for i in 0..5000 {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("{{\"eventName\":\"SendCommand\",\"n\":{i}}}"));
        }
        text.push_str("]}");
        let (c, s) = read(text.as_bytes());
        assert_eq!(s.events, 5000);
        assert_eq!(c.events[4999].0, "f:1[4999]");
    }

    /// Deterministic fuzzing: mutated inputs of every shape never panic, every delivered
    /// event is an object, and the in-memory and streaming paths agree exactly.
    #[test]
    fn mutated_inputs_never_panic_and_both_paths_agree() {
        let seeds: [&[u8]; 6] = [
            b"[\n  {\"a\": 1, \"b\": [1, 2]},\n  {\"a\": \"x\\\"y\"}\n]\n",
            b"{\"records\":[{\"time\":\"t\"},{\"x\":{\"y\":null}}]}\n{\"records\":[]}\n",
            b"{\n  \"Records\": [\n    {\"eventName\": \"SendCommand\"},\n    {\"b\": 2}\n  ]\n}\n",
            b"{\"a\":1}\n{\"b\":[true,false]}\n\n{\"c\":\"\\u00e9\"}\n",
            b"\xef\xbb\xbf{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n",
            b"[{\"a\":1},2,\"s\",{\"b\":{}}]",
        ];
        // xorshift64*: a fixed sequence, so failures reproduce.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        const ALPHABET: &[u8] = b"{}[]\",:\\ \n\r\tax0\xff\xc3";
        for round in 0..3000 {
            let seed = seeds[round % seeds.len()];
            let mut input = seed.to_vec();
            for _ in 0..1 + next() % 3 {
                let pos = (next() as usize) % (input.len() + 1);
                match next() % 4 {
                    0 => input.truncate(pos),
                    1 if pos < input.len() => {
                        input.remove(pos);
                    }
                    2 => input.insert(pos, ALPHABET[(next() as usize) % ALPHABET.len()]),
                    _ if pos < input.len() => {
                        input[pos] = ALPHABET[(next() as usize) % ALPHABET.len()]
                    }
                    _ => {}
                }
            }
            let (fast, fs) = read(&input);
            let (slow, ss) = read_streaming(&input);
            let shown = String::from_utf8_lossy(&input);
            for (_, json) in fast.events.iter().chain(&slow.events) {
                assert!(json.trim_start().starts_with('{'), "{shown:?}");
                serde_json::from_str::<serde_json::Value>(json).expect("events are valid JSON");
            }
            assert_eq!(fast.events, slow.events, "round {round}: {shown:?}");
            assert_eq!(fs.events, ss.events, "round {round}: {shown:?}");
            // Lines may differ by one: serde_json places an error at a raw newline inside a
            // string on the next line when reading a stream, on the same line from a slice.
            let kinds = |c: &Collect| c.problems.iter().map(|p| p.kind).collect::<Vec<_>>();
            assert_eq!(kinds(&fast), kinds(&slow), "round {round}: {shown:?}");
            assert_eq!(fs.problem_count(), fast.problems.len() as u64);
            assert_eq!(ss.problem_count(), slow.problems.len() as u64);
        }
    }

    #[test]
    fn wrapper_prefix_recognition() {
        assert!(is_wrapper_prefix(b"{\"records\":["));
        assert!(is_wrapper_prefix(b"{ \n \"Records\" :\n [ {"));
        assert!(!is_wrapper_prefix(b"{\"records\": 1"));
        assert!(!is_wrapper_prefix(b"{\"recordsX\":["));
        assert!(!is_wrapper_prefix(b"{\"time\":\"x\"}"));
        assert!(!is_wrapper_prefix(b"{"));
    }
}
