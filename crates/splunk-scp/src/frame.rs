//! Transport framing: `chunked 1.0,<M>,<B>\n` followed by exactly M bytes of JSON metadata and
//! B bytes of CSV body. Nothing terminates the metadata or the body.
//!
//! Invariants:
//! * lengths are **byte** counts;
//! * the writer emits exactly `chunked 1.0,M,B\n` (no CR, no spaces, nothing after the body);
//! * the reader is tolerant (spaces around the numbers, CRLF, blank lines between chunks), never
//!   reads past the declared body, and never allocates more than it has actually received, so a
//!   header claiming 10 GB fails with [`FrameError::TooLarge`] and a truncated stream with
//!   [`FrameError::Truncated`].

use std::io::{BufRead, ErrorKind, Read, Write};

use crate::csv::StreamDecoder;
use crate::error::{ChunkPart, FrameError};
use crate::limits::Limit;

/// Bytes of a body read at a time: small enough to stay in cache until they are checked
/// (and, with [`FrameReader::decode_body`], parsed).
pub(crate) const PIECE: usize = 256 << 10;

/// The longest header line accepted. A valid header is at most ~55 bytes.
pub const MAX_HEADER_LINE: usize = 1024;

/// The declared sizes of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Byte length of the JSON metadata.
    pub metadata_len: usize,
    /// Byte length of the CSV body.
    pub body_len: usize,
}

impl ChunkHeader {
    /// Parses one header line (without or with its trailing `\n`/`\r\n`), tolerating whitespace
    /// around the tokens like splunklib's `chunked\s+1.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n`.
    pub fn parse(line: &[u8]) -> Result<(u64, u64), FrameError> {
        let bad = || FrameError::BadHeader {
            line: String::from_utf8_lossy(line).into_owned(),
        };
        let s = std::str::from_utf8(line).map_err(|_| bad())?;
        let s = s.trim();
        let rest = s.strip_prefix("chunked").ok_or_else(|| {
            if looks_like_v1(s) {
                FrameError::LegacyProtocol { line: s.to_owned() }
            } else {
                bad()
            }
        })?;
        if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
            return Err(bad());
        }
        let rest = rest.trim_start().strip_prefix("1.0").ok_or_else(bad)?;
        let mut parts = rest
            .trim_start()
            .strip_prefix(',')
            .ok_or_else(bad)?
            .split(',');
        let m = parse_len(parts.next(), &bad)?;
        let b = parse_len(parts.next(), &bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok((m, b))
    }

    /// Writes the canonical header line `chunked 1.0,M,B\n`.
    pub fn write_to<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        // `writeln!` appends exactly `\n` on every platform (never `\r\n`).
        writeln!(w, "chunked 1.0,{},{}", self.metadata_len, self.body_len)
    }
}

fn parse_len(tok: Option<&str>, bad: &dyn Fn() -> FrameError) -> Result<u64, FrameError> {
    let t = tok.ok_or_else(bad)?.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Overflowing u64 is certainly over any limit: saturate so the limit check reports it.
    Ok(t.parse::<u64>().unwrap_or(u64::MAX))
}

/// A v1 transport header line is `key:value` (e.g. `splunkVersion:6.5.1`).
fn looks_like_v1(s: &str) -> bool {
    match s.split_once(':') {
        Some((k, _)) => !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        None => false,
    }
}

/// The largest request body a session accepts (2 GiB, the documented `--max-chunk-bytes`
/// maximum); [`crate::Runtime::try_max_chunk_bytes`] refuses larger limits.
pub const MAX_CHUNK_BYTES: u64 = 1 << 31;

/// Upper bounds on declared lengths, checked before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Maximum metadata bytes (default 64 MiB; getinfo is ~1 KB).
    pub max_metadata: u64,
    /// Maximum body bytes (default 1 GiB; a 50,000-event chunk was 16 MB).
    pub max_body: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_metadata: 64 << 20,
            max_body: 1 << 30,
        }
    }
}

/// Reads chunks from a buffered byte stream, one at a time, into reusable buffers.
pub struct FrameReader<R> {
    inner: R,
    limits: FrameLimits,
    line: Vec<u8>,
    /// Whether the body of the last chunk read is valid UTF-8 (see [`Self::body_is_utf8`]).
    body_is_utf8: bool,
}

impl<R: BufRead> FrameReader<R> {
    /// Wraps `inner` with the default [`FrameLimits`].
    pub fn new(inner: R) -> Self {
        Self::with_limits(inner, FrameLimits::default())
    }

    /// Wraps `inner` with explicit limits.
    pub fn with_limits(inner: R, limits: FrameLimits) -> Self {
        FrameReader {
            inner,
            limits,
            line: Vec::with_capacity(64),
            body_is_utf8: true,
        }
    }

    /// True when the body of the last chunk returned by [`Self::read_chunk`] is valid UTF-8.
    ///
    /// Invariant relied on by the runtime to skip a second validation (and to build a
    /// `String` without re-checking): it is true only if every byte of that body was
    /// checked by `std::str::from_utf8`, in pieces whose boundaries never split a character.
    pub fn body_is_utf8(&self) -> bool {
        self.body_is_utf8
    }

    /// Reads the next chunk into `metadata` and `body` (both cleared first).
    ///
    /// Returns `Ok(None)` on a clean end of input (EOF before the first byte of a header, blank
    /// lines excepted). Short reads are handled; EOF anywhere inside a chunk is
    /// [`FrameError::Truncated`].
    pub fn read_chunk(
        &mut self,
        metadata: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<Option<ChunkHeader>, FrameError> {
        body.clear();
        self.body_is_utf8 = false;
        let Some(head) = self.read_head(metadata)? else {
            return Ok(None);
        };
        self.read_body(head, body)?;
        Ok(Some(head))
    }

    /// Reads the next chunk's header line and its metadata into `metadata` (cleared first);
    /// the caller then reads its body with exactly one of [`Self::read_body`] and
    /// [`Self::decode_body`], before the next chunk.
    ///
    /// `Ok(None)`, limits and truncation as [`Self::read_chunk`]; a chunk over a limit is read
    /// and dropped whole before the error is returned.
    pub fn read_head(&mut self, metadata: &mut Vec<u8>) -> Result<Option<ChunkHeader>, FrameError> {
        metadata.clear();
        self.body_is_utf8 = false;
        if !self.read_header_line()? {
            return Ok(None);
        }
        let (m, b) = ChunkHeader::parse(&self.line)?;
        if m > self.limits.max_metadata || b > self.limits.max_body {
            // splunkd is still writing this chunk: read (and drop) all of it before the
            // caller replies, or the error reply races the rest of the request and splunkd
            // sees a broken pipe instead of the message. EOF or a read error ends the
            // discarding early; the limit error is reported either way.
            self.discard(m.saturating_add(b));
        }
        if m > self.limits.max_metadata {
            return Err(FrameError::TooLarge {
                part: ChunkPart::Metadata,
                declared: m,
                limit: self.limits.max_metadata,
                setting: Limit::MetadataBytes.default_setting().to_owned(),
            });
        }
        if b > self.limits.max_body {
            return Err(FrameError::TooLarge {
                part: ChunkPart::Body,
                declared: b,
                limit: self.limits.max_body,
                setting: Limit::ChunkBytes.default_setting().to_owned(),
            });
        }
        read_exactly(&mut self.inner, m, metadata, ChunkPart::Metadata)?;
        // Both lengths are within limits that fit in `usize` on every supported target.
        Ok(Some(ChunkHeader {
            metadata_len: m as usize,
            body_len: b as usize,
        }))
    }

    /// Reads the body of the chunk whose `head` [`Self::read_head`] returned into `body`
    /// (cleared first); [`Self::body_is_utf8`] then tells whether it is valid UTF-8.
    pub fn read_body(&mut self, head: ChunkHeader, body: &mut Vec<u8>) -> Result<(), FrameError> {
        body.clear();
        self.body_is_utf8 = read_body(&mut self.inner, head.body_len as u64, body)?;
        Ok(())
    }

    /// Reads the body of the chunk whose `head` [`Self::read_head`] returned into `decoder`
    /// (after [`StreamDecoder::begin`]), piece by piece: each piece is parsed right after it
    /// is read, while it is still in cache. The caller then calls [`StreamDecoder::finish`].
    pub fn decode_body(
        &mut self,
        head: ChunkHeader,
        decoder: &mut StreamDecoder,
    ) -> Result<(), FrameError> {
        self.decode_body_with(head, decoder, |_| Ok::<(), ()>(()))
            .map(|r| r.unwrap_or(()))
    }

    /// As [`Self::decode_body`], calling `each` after every piece (for instance to take the
    /// rows decoded so far with [`StreamDecoder::take_batch`]). Once `each` fails it is not
    /// called again and the rest of the body is read and dropped (the peer is still writing
    /// it), then its error is returned inside `Ok`.
    pub fn decode_body_with<E>(
        &mut self,
        head: ChunkHeader,
        decoder: &mut StreamDecoder,
        mut each: impl FnMut(&mut StreamDecoder) -> Result<(), E>,
    ) -> Result<Result<(), E>, FrameError> {
        let n = head.body_len as u64;
        let mut got = 0u64;
        let mut failed = None;
        while got < n {
            let want = (n - got).min(PIECE as u64) as usize;
            let k = if failed.is_some() {
                std::io::copy(
                    &mut (&mut self.inner).take(want as u64),
                    &mut std::io::sink(),
                )?
            } else {
                decoder.read_from(&mut self.inner, want)? as u64
            };
            got += k;
            if k < want as u64 {
                return Err(FrameError::Truncated {
                    part: ChunkPart::Body,
                    expected: n,
                    got,
                });
            }
            if failed.is_none() {
                if let Err(e) = each(decoder) {
                    failed = Some(e);
                }
            }
        }
        Ok(failed.map_or(Ok(()), Err))
    }

    /// Reads and drops up to `n` bytes (fewer at EOF or on a read error).
    fn discard(&mut self, mut n: u64) {
        while n > 0 {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if buf.is_empty() {
                return;
            }
            let k = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.inner.consume(k);
            n -= k as u64;
        }
    }

    /// Reads one header line into `self.line`, skipping blank lines. False on clean EOF.
    ///
    /// The outcome never depends on how the input is split into reads: a line whose content
    /// (without its `\n`) exceeds [`MAX_HEADER_LINE`] bytes fails the same way whether its
    /// newline arrived in the same read or not, blank lines included.
    fn read_header_line(&mut self) -> Result<bool, FrameError> {
        self.line.clear();
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if buf.is_empty() {
                if self.line.iter().all(|b| b.is_ascii_whitespace()) {
                    return Ok(false);
                }
                return Err(FrameError::Truncated {
                    part: ChunkPart::Header,
                    expected: self.line.len() as u64 + 1,
                    got: self.line.len() as u64,
                });
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            self.line.extend_from_slice(&buf[..take]);
            self.inner.consume(take);
            let content = self.line.len() - usize::from(done);
            if content > MAX_HEADER_LINE {
                return Err(self.too_long());
            }
            if done {
                // Blank lines between chunks (uncounted newlines of sloppy writers) are skipped.
                if self.line.iter().all(|b| b.is_ascii_whitespace()) {
                    self.line.clear();
                    continue;
                }
                return Ok(true);
            }
        }
    }

    /// The error for an over-long header line, judged on its first `MAX_HEADER_LINE + 1`
    /// bytes only (so it cannot depend on how much more has been read).
    fn too_long(&self) -> FrameError {
        let head = &self.line[..self.line.len().min(MAX_HEADER_LINE + 1)];
        let start = String::from_utf8_lossy(&head[..head.len().min(64)]).into_owned();
        if looks_like_v1_bytes(head) {
            FrameError::LegacyProtocol { line: start }
        } else {
            FrameError::HeaderTooLong {
                max: MAX_HEADER_LINE,
                start,
            }
        }
    }
}

/// [`looks_like_v1`] on bytes that may end inside a UTF-8 character: leading whitespace, then
/// a non-empty `[A-Za-z0-9_]+` key, then `:`.
fn looks_like_v1_bytes(line: &[u8]) -> bool {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let rest = &line[start..];
    match memchr::memchr(b':', rest) {
        Some(k) => {
            k > 0
                && rest[..k]
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

/// Reads a body of exactly `n` bytes into `out` (as [`read_exactly`]) and tells whether it is
/// valid UTF-8.
///
/// The check runs piece by piece right after each read, while the bytes are still in cache:
/// run afterwards, it was the first pass over a chunk of a hundred megabytes coming back from
/// memory, and it cost about a third of the command's time for a few percent of its
/// instructions.
fn read_body<R: Read>(r: &mut R, n: u64, out: &mut Vec<u8>) -> Result<bool, FrameError> {
    const INITIAL_RESERVE: u64 = 64 << 20;
    out.reserve(n.min(INITIAL_RESERVE) as usize);
    // `checked`: prefix of `out` known to be valid UTF-8; `valid` false once an invalid
    // sequence was seen (a character split across two pieces is only incomplete).
    let (mut checked, mut valid) = (0usize, true);
    let mut got = 0u64;
    while got < n {
        let want = (n - got).min(PIECE as u64);
        let k = r.by_ref().take(want).read_to_end(out)? as u64;
        got += k;
        if valid {
            match crate::utf8::valid_prefix(&out[checked..]) {
                Some(n) => checked += n,
                None => valid = false,
            }
        }
        if k < want {
            return Err(FrameError::Truncated {
                part: ChunkPart::Body,
                expected: n,
                got,
            });
        }
    }
    Ok(valid && checked == out.len())
}

/// Appends exactly `n` bytes to `out`. Memory grows with what actually arrives (capped initial
/// reservation), so a lying header cannot force a large allocation.
fn read_exactly<R: Read>(
    r: &mut R,
    n: u64,
    out: &mut Vec<u8>,
    part: ChunkPart,
) -> Result<(), FrameError> {
    const INITIAL_RESERVE: u64 = 64 << 20;
    out.reserve(n.min(INITIAL_RESERVE) as usize);
    let got = r.take(n).read_to_end(out)? as u64;
    if got < n {
        return Err(FrameError::Truncated {
            part,
            expected: n,
            got,
        });
    }
    Ok(())
}

/// Writes one chunk with the exact canonical header. Does not flush.
pub fn write_chunk<W: Write>(w: &mut W, metadata: &[u8], body: &[u8]) -> std::io::Result<()> {
    write_chunk_head(w, metadata, body.len())?;
    w.write_all(body)
}

/// Writes a chunk's header line and metadata; exactly `body_len` body bytes must follow.
pub fn write_chunk_head<W: Write>(
    w: &mut W,
    metadata: &[u8],
    body_len: usize,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(40 + metadata.len());
    ChunkHeader {
        metadata_len: metadata.len(),
        body_len,
    }
    .write_to(&mut head)?;
    head.extend_from_slice(metadata);
    w.write_all(&head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    type Chunks = Vec<(Vec<u8>, Vec<u8>)>;

    fn read_all(input: &[u8]) -> Result<Chunks, FrameError> {
        let mut r = FrameReader::new(Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        let (mut m, mut b) = (Vec::new(), Vec::new());
        while r.read_chunk(&mut m, &mut b)?.is_some() {
            out.push((m.clone(), b.clone()));
        }
        Ok(out)
    }

    #[test]
    fn canonical_and_tolerant_headers() {
        let got =
            read_all(b"chunked 1.0,2,3\n{}a,bchunked  1.0 , 2 , 0 \r\n{}\n\r\nchunked 1.0,0,0\n")
                .unwrap();
        assert_eq!(
            got,
            vec![
                (b"{}".to_vec(), b"a,b".to_vec()),
                (b"{}".to_vec(), vec![]),
                (vec![], vec![])
            ]
        );
    }

    #[test]
    fn writer_is_exact() {
        let mut out = Vec::new();
        write_chunk(&mut out, "{\"é\":1}".as_bytes(), "测试".as_bytes()).unwrap();
        assert_eq!(out, "chunked 1.0,8,6\n{\"é\":1}测试".as_bytes());
    }

    #[test]
    fn huge_header_is_refused_without_allocating() {
        let err = read_all(b"chunked 1.0,2,10737418240\n{}").unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                part: ChunkPart::Body,
                declared: 10737418240,
                ..
            }
        ));
        let err = read_all(b"chunked 1.0,99999999999999999999999,0\n").unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                part: ChunkPart::Metadata,
                ..
            }
        ));
        assert!(err.to_string().contains("exceeds the limit"));
        assert!(
            err.to_string()
                .contains("set max_metadata_bytes=<bytes> to raise it"),
            "{err}"
        );
    }

    #[test]
    fn body_utf8_flag_is_exact_across_read_pieces() {
        // A three-byte character at every offset around the 256 KiB piece boundary, then an
        // invalid byte at the same places.
        let piece = 256 << 10;
        for shift in 0..4 {
            let mut body = "a".repeat(piece - 2 + shift).into_bytes();
            body.extend_from_slice("€tail".as_bytes());
            let mut input = format!("chunked 1.0,2,{}\n{{}}", body.len()).into_bytes();
            input.extend_from_slice(&body);
            let mut r = FrameReader::new(&input[..]);
            let (mut m, mut b) = (Vec::new(), Vec::new());
            r.read_chunk(&mut m, &mut b).unwrap().unwrap();
            assert_eq!(b, body);
            assert!(r.body_is_utf8(), "shift {shift}");

            let mut bad = body.clone();
            bad[piece - 2 + shift] = 0xff;
            let mut input = format!("chunked 1.0,2,{}\n{{}}", bad.len()).into_bytes();
            input.extend_from_slice(&bad);
            let mut r = FrameReader::new(&input[..]);
            r.read_chunk(&mut m, &mut b).unwrap().unwrap();
            assert!(!r.body_is_utf8(), "shift {shift}");
        }
        // A character cut by the end of the body is not valid.
        let mut input = b"chunked 1.0,2,2\n{}".to_vec();
        input.extend_from_slice(&"€".as_bytes()[..2]);
        let mut r = FrameReader::new(&input[..]);
        let (mut m, mut b) = (Vec::new(), Vec::new());
        r.read_chunk(&mut m, &mut b).unwrap().unwrap();
        assert!(!r.body_is_utf8());
    }

    #[test]
    fn truncation_is_typed() {
        let err = read_all(b"chunked 1.0,2,10\n{}abc").unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: ChunkPart::Body,
                expected: 10,
                got: 3
            }
        ));
        let err = read_all(b"chunked 1.0,5,0\n{}").unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: ChunkPart::Metadata,
                ..
            }
        ));
        let err = read_all(b"chunked 1.0,2").unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: ChunkPart::Header,
                ..
            }
        ));
    }

    #[test]
    fn bad_and_legacy_headers() {
        for bad in [
            &b"chunked 2.0,1,1\n"[..],
            b"chunked1.0,1,1\n",
            b"chunked 1.0,-1,1\n",
            b"chunked 1.0,1\n",
            b"chunked 1.0,1,2,3\n",
            b"hello\n",
        ] {
            assert!(
                matches!(read_all(bad).unwrap_err(), FrameError::BadHeader { .. }),
                "{bad:?}"
            );
        }
        let err = read_all(b"splunkVersion:6.5.1\nallowStream:1\n\n").unwrap_err();
        assert!(matches!(err, FrameError::LegacyProtocol { .. }));
        assert!(err.to_string().contains("chunked = true is missing"));
        let long = vec![b'x'; 5000];
        assert!(matches!(
            read_all(&long).unwrap_err(),
            FrameError::HeaderTooLong { .. }
        ));
    }

    #[test]
    fn empty_and_blank_input_is_clean_eof() {
        assert!(read_all(b"").unwrap().is_empty());
        assert!(read_all(b"\n\r\n").unwrap().is_empty());
    }
}
