//! Error types of the protocol engine.
//!
//! Each layer has its own error enum so callers can tell a framing fault (the stream is no
//! longer trustworthy) from a body fault (one chunk was bad) from a command's own failure.

use thiserror::Error;

/// Which part of a chunk was being read when the input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkPart {
    /// The `chunked 1.0,M,B\n` header line.
    Header,
    /// The M bytes of JSON metadata.
    Metadata,
    /// The B bytes of CSV body.
    Body,
}

impl std::fmt::Display for ChunkPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChunkPart::Header => "header",
            ChunkPart::Metadata => "metadata",
            ChunkPart::Body => "body",
        })
    }
}

/// A fault in the transport framing (`chunked 1.0,<M>,<B>\n` + M + B bytes).
///
/// After any of these the byte stream cannot be resynchronised: the runtime reports it and exits.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The underlying reader or writer failed.
    #[error("I/O error on the protocol stream: {0}")]
    Io(#[from] std::io::Error),
    /// The input ended inside a chunk.
    #[error("input ended inside a chunk {part}: expected {expected} bytes, got {got}")]
    Truncated {
        /// The part being read.
        part: ChunkPart,
        /// Bytes the part should have had.
        expected: u64,
        /// Bytes read before the end.
        got: u64,
    },
    /// The header line is not `chunked 1.0,<M>,<B>`.
    #[error(
        "malformed chunk header {line:?}: expected 'chunked 1.0,<metadata bytes>,<body bytes>'"
    )]
    BadHeader {
        /// The line (bounded prefix).
        line: String,
    },
    /// The header line is longer than any valid header could be.
    #[error("chunk header line longer than {max} bytes without a newline: {start:?}")]
    HeaderTooLong {
        /// The longest valid header line.
        max: usize,
        /// The line's first bytes.
        start: String,
    },
    /// The peer speaks the legacy v1 protocol (`key:value` header lines).
    #[error("received a v1 (legacy) protocol header {line:?}: chunked = true is missing from this command's commands.conf stanza")]
    LegacyProtocol {
        /// The v1 line (bounded prefix).
        line: String,
    },
    /// A declared length exceeds the configured limit; nothing was allocated for it.
    /// `setting` names the option that raises the limit (see [`crate::Limit`]).
    #[error("chunk {part} length {declared} bytes exceeds the limit of {limit} bytes; set {setting}=<bytes> to raise it")]
    TooLarge {
        /// Metadata or body.
        part: ChunkPart,
        /// The length the header declared.
        declared: u64,
        /// The configured limit.
        limit: u64,
        /// The setting that raises the limit.
        setting: String,
    },
}

/// A fault in a chunk's JSON metadata.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("chunk metadata is not valid protocol JSON: {source}; metadata starts with {start:?}")]
    Json {
        /// The JSON error.
        source: serde_json::Error,
        /// The metadata's first bytes.
        start: String,
    },
    /// The first request was not a getinfo.
    #[error("expected action \"getinfo\" in the first chunk, got {0:?}")]
    NotGetinfo(String),
    /// A later request was not an execute.
    #[error("expected action \"execute\", got {0:?}")]
    NotExecute(String),
}

/// A fault in a chunk's CSV body.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsvError {
    /// A row has more fields than the header (shorter rows are padded with empty fields, as
    /// the SDK's reader leaves their fields out; extra values would be lost, so they are an
    /// error).
    #[error("CSV row {row} has {got} fields but the header has {expected}")]
    RaggedRow {
        /// Row number (1 = first data row).
        row: usize,
        /// Fields in the row.
        got: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A quoted field is not closed before the end of the body.
    #[error(
        "CSV row {row}: quoted field in column {column} is not closed before the end of the body"
    )]
    UnterminatedQuote {
        /// Row number (0 = header).
        row: usize,
        /// Column (0-based).
        column: usize,
    },
    /// A carriage return outside quotes that does not end a CRLF line break (CR-only line
    /// endings): Python's csv reader, and so the SDK, fails on it too.
    #[error(
        "CSV row {row}, column {column}: carriage return (CR) outside quotes without a line feed; \
         CR-only line endings are not supported (use LF or CRLF, or quote the value)"
    )]
    BareCr {
        /// Row number (0 = header).
        row: usize,
        /// Column (0-based).
        column: usize,
    },
    /// The body exceeds what the decoder's 32-bit offsets can address.
    #[error("CSV body of {0} bytes is too large for the decoder (limit 4 GiB - 1)")]
    BodyTooLarge(usize),
    /// One field (header name or value, after unquoting) is longer than the field size limit.
    /// `row` 0 is the header; `name` is the column's header name (empty for the header row);
    /// `setting` names the option that raises the limit (see [`crate::Limit`]).
    #[error("{}", field_too_large(*row, *column, name, *size, *limit, setting))]
    FieldTooLarge {
        /// Row number (0 = header).
        row: usize,
        /// Column (0-based).
        column: usize,
        /// The column's header name.
        name: String,
        /// The field's size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
        /// The setting that raises the limit.
        setting: String,
    },
}

fn field_too_large(
    row: usize,
    column: usize,
    name: &str,
    size: usize,
    limit: usize,
    setting: &str,
) -> String {
    let place = if row == 0 {
        format!("CSV header, column {column}")
    } else {
        // Header names are attacker-influenced and may be huge: show a bounded prefix.
        let shown: String = name.chars().take(64).collect();
        let more = if shown.len() < name.len() { "…" } else { "" };
        format!("CSV row {row}, field {shown:?}{more}")
    };
    format!(
        "{place}: value of {size} bytes exceeds the field size limit of {limit} bytes; set {setting}=<bytes> to raise it"
    )
}

/// Any error the runtime can end a session with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A framing fault.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A metadata fault.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// A body fault.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The command was started with v1 arguments (`__GETINFO__` / `__EXECUTE__`).
    #[error("started with legacy v1 argument {0:?}: chunked = true is missing from this command's commands.conf stanza")]
    LegacyArgv(String),
    /// The reply would exceed the configured maximum chunk size.
    /// `setting` names the option that raises the limit (see [`crate::Limit`]).
    #[error("reply of {size} bytes exceeds the configured maximum chunk size (maxchunksize) of {limit} bytes; set {setting}=<bytes> (and maxchunksize in commands.conf) to raise it")]
    ReplyTooLarge {
        /// The reply's size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
        /// The setting that raises the limit.
        setting: String,
    },
}
