//! Stage 2 of the reading pipeline: the format of an input, from its content.
//!
//! The first [`HEAD_LEN`] bytes decide, whatever the file's name:
//!
//! * gzip magic bytes: decompressed (every member of a multi-member file), and the
//!   decompressed content decided again;
//! * `Obj\x01`: an Avro object container (Azure Event Hubs Capture), see [`super::avro`];
//! * a UTF-16 byte order mark: reported (convert to UTF-8 first);
//! * JSON text (first non-blank byte `{` or `[`, or a line starting so within the head,
//!   a UTF-8 byte order mark allowed): [`super::json`];
//! * other text: skipped when found in a directory (a README), reported when named;
//! * anything else (NUL bytes, invalid UTF-8): reported as an unknown binary format.

use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::ctx::{At, Ctx};
use super::{avro, json, ProblemKind, ReadStats, Sink, SkipReason, Skipped};

/// How many bytes are looked at to decide the format.
pub(super) const HEAD_LEN: usize = 4096;

/// What the head of a stream says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Gzip,
    Avro,
    Utf16,
    /// JSON text; `bom` bytes of UTF-8 byte order mark to skip.
    Json {
        bom: usize,
    },
    Text,
    Binary,
}

fn kind_of(head: &[u8]) -> Kind {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    if head.starts_with(b"Obj\x01") {
        return Kind::Avro;
    }
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Kind::Utf16;
    }
    let bom = if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        3
    } else {
        0
    };
    let text = &head[bom..];
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Kind::Empty;
    };
    if matches!(text[first], b'{' | b'[') {
        return Kind::Json { bom };
    }
    // A cut multi-byte character at the end of the head is not invalid UTF-8.
    let valid = match std::str::from_utf8(text) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if !valid || text.contains(&0) {
        return Kind::Binary;
    }
    // A text whose later line starts a JSON object (a log with a header line) is JSON.
    let json_line = text
        .split(|&b| b == b'\n')
        .skip(1)
        .any(|l| l.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'));
    if json_line {
        Kind::Json { bom }
    } else {
        Kind::Text
    }
}

/// Reads up to `n` bytes (fewer only at the end of the stream).
fn read_head<R: Read>(r: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.by_ref().take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Reads one input stream as the file `name` and delivers its records. Never fails: every
/// problem is reported to the sink and counted. `in_directory`: found while walking a
/// directory (plain text is then skipped, not reported).
pub(super) fn read_stream<R: Read, S: Sink>(
    name: &Path,
    reader: R,
    in_directory: bool,
    sink: &mut S,
    stats: &mut ReadStats,
) {
    let mut ctx = Ctx::new(name, sink, stats);
    decode(&mut ctx, Box::new(reader), in_directory, false);
    ctx.finish();
}

/// Decodes a stream whose format is decided from its head. `inner`: already decompressed
/// (gzip is not nested).
pub(super) fn decode<S: Sink>(
    ctx: &mut Ctx<'_, S>,
    mut reader: Box<dyn Read + '_>,
    in_directory: bool,
    inner: bool,
) {
    let head = match read_head(&mut reader, HEAD_LEN) {
        Ok(h) => h,
        Err(e) => {
            let (kind, what) = if ctx.gzip {
                (ProblemKind::BadGzip, "corrupt gzip data")
            } else {
                (ProblemKind::Unreadable, "cannot read")
            };
            ctx.input_problem(At::default(), kind, format!("{what}: {e}"));
            return;
        }
    };
    let kind = kind_of(&head);
    if kind != Kind::Empty {
        ctx.nonempty = true;
    }
    let stream = Cursor::new(head).chain(reader);
    match kind {
        Kind::Empty => {}
        Kind::Gzip if !inner => {
            ctx.gzip = true;
            let gz = MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, stream));
            decode(ctx, Box::new(gz), in_directory, true);
        }
        Kind::Avro => avro::read(ctx, stream),
        Kind::Utf16 => ctx.input_problem(
            At::default(),
            ProblemKind::BadEncoding,
            "UTF-16 text (as written by PowerShell redirection); convert it to UTF-8 first".into(),
        ),
        Kind::Json { bom } => {
            let mut stream = stream;
            let mut skip = [0u8; 3];
            // The head is in front: skipping the mark cannot fail.
            let _ = stream.read_exact(&mut skip[..bom]);
            json::read(ctx, stream);
        }
        Kind::Text if in_directory => {
            let path = ctx.file.to_path_buf();
            ctx.skip(&Skipped {
                path,
                reason: SkipReason::NotJson,
            });
        }
        Kind::Text => ctx.input_problem(
            At::default(),
            ProblemKind::UnknownFormat,
            "text that is not JSON: expected JSON lines, a JSON document, gzip or an Avro \
             Event Hubs Capture file"
                .into(),
        ),
        Kind::Gzip | Kind::Binary => ctx.input_problem(
            At::default(),
            ProblemKind::UnknownFormat,
            "binary data that is not JSON, gzip or an Avro Event Hubs Capture file".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind_of(b""), Kind::Empty);
        assert_eq!(kind_of(b" \n"), Kind::Empty);
        assert_eq!(kind_of(b"\x1f\x8b\x08"), Kind::Gzip);
        assert_eq!(kind_of(b"Obj\x01\x04"), Kind::Avro);
        assert_eq!(kind_of(b"\xff\xfe[\x00"), Kind::Utf16);
        assert_eq!(kind_of(b"\xef\xbb\xbf[1]"), Kind::Json { bom: 3 });
        assert_eq!(kind_of(b"\n {\"a\":1}"), Kind::Json { bom: 0 });
        assert_eq!(kind_of(b"# export\n{\"a\":1}\n"), Kind::Json { bom: 0 });
        assert_eq!(kind_of(b"# Samples\n\nSome text.\n"), Kind::Text);
        assert_eq!(kind_of(b"\x7fELF\x02\x01\x01\x00\x00"), Kind::Binary);
        assert_eq!(kind_of(b"PK\x03\x04\x14\x00\xff\xfe"), Kind::Binary);
        // A multi-byte character cut at the end of the head is still text.
        assert_eq!(kind_of("caf\u{e9}".as_bytes()[..4].as_ref()), Kind::Text);
    }
}
