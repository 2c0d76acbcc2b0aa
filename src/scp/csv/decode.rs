//! Body decoder: CSV bytes → [`RecordBatch`].
//!
//! Tolerances: quoted or bare header names and values, LF or CRLF, a last row without a
//! terminator, a body of only line breaks (= empty), invalid UTF-8 (replaced by U+FFFD before
//! parsing, so it never panics), text after a closing quote (kept literally, like Python's csv),
//! fields up to [`DecodeLimits::max_field_bytes`]. Errors: rows whose field count differs from
//! the header's ([`CsvError::RaggedRow`]), unclosed quotes ([`CsvError::UnterminatedQuote`]) and
//! fields over the size limit ([`CsvError::FieldTooLarge`]).
//!
//! Cost: linear in the body size for every input (no rescans of the remaining text per row).

use std::collections::HashMap;

use crate::scp::error::CsvError;
use crate::scp::limits::Limit;
use crate::scp::record::{Column, RecordBatch, Span, EXTRA_BIT};

/// Default [`DecodeLimits::max_field_bytes`]: 64 MiB, far above splunklib's 10 MB field cap.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 64 << 20;

/// Limits applied while decoding a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest accepted field (header name or value, measured after unquoting), in bytes.
    pub max_field_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
        }
    }
}

/// Decodes a body into a new batch, with the default [`DecodeLimits`].
pub fn decode(body: Vec<u8>) -> Result<RecordBatch, CsvError> {
    decode_with(body, &DecodeLimits::default())
}

/// Decodes a body into a new batch under `limits`.
pub fn decode_with(body: Vec<u8>, limits: &DecodeLimits) -> Result<RecordBatch, CsvError> {
    let mut batch = RecordBatch::new();
    decode_into_with(&mut batch, body, limits)?;
    Ok(batch)
}

/// Decodes a body into `batch`, reusing its allocations, with the default [`DecodeLimits`].
/// On error the batch is left empty.
pub fn decode_into(batch: &mut RecordBatch, body: Vec<u8>) -> Result<(), CsvError> {
    decode_into_with(batch, body, &DecodeLimits::default())
}

/// Decodes a body into `batch` under `limits`, reusing its allocations. On error the batch is
/// left empty.
pub fn decode_into_with(
    batch: &mut RecordBatch,
    body: Vec<u8>,
    limits: &DecodeLimits,
) -> Result<(), CsvError> {
    batch.recycle();
    if body.len() >= EXTRA_BIT as usize {
        return Err(CsvError::BodyTooLarge(body.len()));
    }
    batch.text = match String::from_utf8(body) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    // U+FFFD replacement can grow the text (1 invalid byte -> 3 bytes).
    if batch.text.len() >= EXTRA_BIT as usize {
        let n = batch.text.len();
        batch.recycle();
        return Err(CsvError::BodyTooLarge(n));
    }
    let r = parse(batch, limits);
    if r.is_err() {
        batch.recycle();
    }
    r
}

fn parse(batch: &mut RecordBatch, limits: &DecodeLimits) -> Result<(), CsvError> {
    let text = std::mem::take(&mut batch.text);
    let result = parse_text(&text, batch, limits);
    batch.text = text;
    result
}

fn parse_text(text: &str, batch: &mut RecordBatch, limits: &DecodeLimits) -> Result<(), CsvError> {
    let b = text.as_bytes();
    // Start of the run of line breaks that ends the body: rows starting there are not rows
    // (sloppy writers add blank lines). Computed once: rescanning the rest of the body at
    // every row that starts with a line break would be quadratic (a one-column body of blank
    // lines is valid).
    let tail = b
        .iter()
        .rposition(|&c| c != b'\n' && c != b'\r')
        .map_or(0, |i| i + 1);
    // A body of only line breaks (e.g. the truncated generatehello recording) holds nothing.
    if tail == 0 {
        return Ok(());
    }
    let mut p = Parser {
        text,
        b,
        pos: 0,
        extra: std::mem::take(&mut batch.extra),
        max_field: limits.max_field_bytes,
    };
    // Header row.
    let mut header: Vec<Span> = Vec::new();
    let mut row = 0usize;
    let end = p.row_into(&mut header, row).inspect_err(|_| {
        batch.extra = std::mem::take(&mut p.extra);
    })?;
    let ncols = header.len();
    batch.csv_names = header.iter().map(|&s| p.get(s).to_owned()).collect();
    let mut done = end;
    let mut fields = std::mem::take(&mut batch.fields);
    while !done {
        if p.pos >= tail {
            break;
        }
        row += 1;
        let before = fields.len();
        done = match p.row_into(&mut fields, row) {
            Ok(d) => d,
            Err(mut e) => {
                if let CsvError::FieldTooLarge { column, name, .. } = &mut e {
                    if let Some(n) = batch.csv_names.get(*column) {
                        name.clone_from(n);
                    }
                }
                batch.extra = p.extra;
                batch.fields = fields;
                return Err(e);
            }
        };
        let got = fields.len() - before;
        if got != ncols {
            batch.extra = p.extra;
            return Err(CsvError::RaggedRow {
                row,
                got,
                expected: ncols,
            });
        }
    }
    batch.rows = row;
    batch.fields = fields;
    batch.extra = p.extra;
    build_columns(batch);
    Ok(())
}

/// Folds `__mv_<f>` columns into logical columns, in first-appearance order.
fn build_columns(batch: &mut RecordBatch) {
    let mut by_name: HashMap<String, usize> = HashMap::with_capacity(batch.csv_names.len());
    let mut columns: Vec<Column> = Vec::with_capacity(batch.csv_names.len());
    for (i, name) in batch.csv_names.iter().enumerate() {
        let (logical, is_mv) = match name.strip_prefix("__mv_") {
            Some(f) => (f, true),
            None => (name.as_str(), false),
        };
        let idx = *by_name.entry(logical.to_owned()).or_insert_with(|| {
            columns.push(Column {
                name: logical.to_owned(),
                plain: None,
                mv: None,
            });
            columns.len() - 1
        });
        let slot = if is_mv {
            &mut columns[idx].mv
        } else {
            &mut columns[idx].plain
        };
        // Duplicate names: the first column wins.
        if slot.is_none() {
            *slot = Some(i as u32);
        }
    }
    batch.columns = columns;
    batch.by_name = by_name;
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    extra: String,
    max_field: usize,
}

impl Parser<'_> {
    fn get(&self, s: Span) -> &str {
        if s.start & EXTRA_BIT != 0 {
            let st = (s.start & !EXTRA_BIT) as usize;
            &self.extra[st..st + s.len as usize]
        } else {
            &self.text[s.start as usize..s.start as usize + s.len as usize]
        }
    }

    /// Parses one record starting at `self.pos`, appending its fields. Returns true when the
    /// body is exhausted after this record.
    #[inline]
    fn row_into(&mut self, out: &mut Vec<Span>, row: usize) -> Result<bool, CsvError> {
        let b = self.b;
        let n = b.len();
        let mut column = 0usize;
        loop {
            let span;
            let mut after;
            if self.pos < n && b[self.pos] == b'"' {
                let (s, a) = self.quoted(row, column)?;
                span = s;
                after = a;
            } else {
                let start = self.pos;
                match memchr::memchr2(b',', b'\n', &b[start..]) {
                    Some(k) => {
                        let d = start + k;
                        let mut e = d;
                        if b[d] == b'\n' && e > start && b[e - 1] == b'\r' {
                            e -= 1;
                        }
                        span = Span {
                            start: start as u32,
                            len: (e - start) as u32,
                        };
                        after = d;
                    }
                    None => {
                        let mut e = n;
                        if e > start && b[e - 1] == b'\r' {
                            e -= 1;
                        }
                        span = Span {
                            start: start as u32,
                            len: (e - start) as u32,
                        };
                        after = n;
                    }
                }
            }
            if span.len as usize > self.max_field {
                return Err(CsvError::FieldTooLarge {
                    row,
                    column,
                    name: String::new(),
                    size: span.len as usize,
                    limit: self.max_field,
                    setting: Limit::FieldBytes.default_setting().to_owned(),
                });
            }
            out.push(span);
            column += 1;
            if after >= n {
                self.pos = n;
                return Ok(true);
            }
            match b[after] {
                b',' => {
                    self.pos = after + 1;
                }
                b'\n' => {
                    self.pos = after + 1;
                    return Ok(self.pos >= n);
                }
                _ => {
                    // `\r` right after a closing quote: CRLF or a stray CR.
                    if b[after] == b'\r' && after + 1 < n && b[after + 1] == b'\n' {
                        self.pos = after + 2;
                        return Ok(self.pos >= n);
                    }
                    after += 1;
                    self.pos = after;
                    if after >= n {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Parses a quoted field at `self.pos` (which is `"`). Returns its span and the index of
    /// the delimiter (or end) that follows.
    #[inline]
    fn quoted(&mut self, row: usize, column: usize) -> Result<(Span, usize), CsvError> {
        let b = self.b;
        let n = b.len();
        let start = self.pos + 1;
        let mut seg = start;
        let mut escaped_from: Option<usize> = None;
        let mut i = start;
        let close = loop {
            let q = match memchr::memchr(b'"', &b[i..]) {
                Some(k) => i + k,
                None => return Err(CsvError::UnterminatedQuote { row, column }),
            };
            if q + 1 < n && b[q + 1] == b'"' {
                escaped_from.get_or_insert(self.extra.len());
                self.extra.push_str(&self.text[seg..=q]);
                i = q + 2;
                seg = i;
            } else {
                break q;
            }
        };
        let mut after = close + 1;
        // Text between the closing quote and the next delimiter is kept literally.
        let trailing_end = if after < n
            && b[after] != b','
            && b[after] != b'\n'
            && !(b[after] == b'\r' && (after + 1 == n || b[after + 1] == b'\n'))
        {
            let e = memchr::memchr2(b',', b'\n', &b[after..]).map_or(n, |k| after + k);
            let e2 = if e < n && b[e] == b'\n' && e > after && b[e - 1] == b'\r' {
                e - 1
            } else {
                e
            };
            Some((e2, e))
        } else {
            None
        };
        let span = match (escaped_from, trailing_end) {
            (None, None) => Span {
                start: start as u32,
                len: (close - start) as u32,
            },
            (esc, trailing) => {
                let from = esc.unwrap_or(self.extra.len());
                self.extra.push_str(&self.text[seg..close]);
                if let Some((e2, e)) = trailing {
                    self.extra.push_str(&self.text[after..e2]);
                    after = e;
                }
                Span {
                    start: from as u32 | EXTRA_BIT,
                    len: (self.extra.len() - from) as u32,
                }
            }
        };
        Ok((span, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp::record::Value;

    fn rows(body: &str) -> Vec<Vec<String>> {
        let b = decode(body.as_bytes().to_vec()).unwrap();
        b.rows()
            .map(|r| r.fields().map(|(_, v)| v.as_str().to_owned()).collect())
            .collect()
    }

    #[test]
    fn splunkd_style_body() {
        let body = "\"_time\",name,\"__mv__time\",\"__mv_name\"\n\"1627354345.934\",Zoë,,\n66,\"x\ny$z\",,\"$x$;$y$$z$\"\n";
        let b = decode(body.as_bytes().to_vec()).unwrap();
        assert_eq!(b.column_names().collect::<Vec<_>>(), ["_time", "name"]);
        assert_eq!(b.len(), 2);
        assert_eq!(b.row(0).str("_time"), Some("1627354345.934"));
        assert_eq!(b.row(0).time(), Some(1627354345.934));
        assert_eq!(b.row(0).get("name"), Some(Value::Single("Zoë")));
        let v = b.row(1).get("name").unwrap();
        assert!(v.is_multi());
        assert_eq!(v.as_str(), "x\ny$z");
        assert_eq!(v.values().collect::<Vec<_>>(), ["x", "y$z"]);
        assert_eq!(b.row(1).get("missing"), None);
    }

    #[test]
    fn crlf_quotes_and_no_trailing_newline() {
        assert_eq!(
            rows("a,b\r\n\"he said \"\"hi\"\"\",\"\"\r\n,\"x\r\ny\"\r\n3,4"),
            [
                vec!["he said \"hi\"", ""],
                vec!["", "x\r\ny"],
                vec!["3", "4"]
            ]
        );
        assert_eq!(rows("a,b\n1,\n"), [vec!["1", ""]]);
        assert_eq!(rows("a\n\n\"\"\n"), [vec![""], vec![""]]);
        assert_eq!(rows("a\n\"\"\n\n"), [vec![""]]);
        assert_eq!(rows("a,b\n\"x\"y,2\n"), [vec!["xy", "2"]]);
        // trailing blank lines are ignored, a blank line between rows is ragged
        assert_eq!(rows("a,b\n1,2\n\r\n\n"), [vec!["1", "2"]]);
        assert!(decode(b"a,b\n1,2\n\n3,4\n".to_vec()).is_err());
    }

    #[test]
    fn empty_header_only_and_blank() {
        for body in ["", "\n", "\r\n"] {
            let b = decode(body.as_bytes().to_vec()).unwrap();
            assert!(b.is_empty());
            assert_eq!(b.column_names().count(), 0);
        }
        let b = decode(b"\"_raw\",\"_chunked_idx\",\"__mv__raw\",\"__mv__chunked_idx\"\n".to_vec())
            .unwrap();
        assert!(b.is_empty());
        assert_eq!(
            b.column_names().collect::<Vec<_>>(),
            ["_raw", "_chunked_idx"]
        );
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(
            decode(b"a,b\n1,2\n3\n".to_vec()).unwrap_err(),
            CsvError::RaggedRow {
                row: 2,
                got: 1,
                expected: 2
            }
        );
        assert_eq!(
            decode(b"a,b\n1,2,3\n".to_vec()).unwrap_err(),
            CsvError::RaggedRow {
                row: 1,
                got: 3,
                expected: 2
            }
        );
        assert!(matches!(
            decode(b"a,b\n1,\"open\n".to_vec()).unwrap_err(),
            CsvError::UnterminatedQuote { row: 1, column: 1 }
        ));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let b = decode(b"a,b\n\xff\xfe,ok\n".to_vec()).unwrap();
        assert_eq!(b.row(0).str("a"), Some("\u{fffd}\u{fffd}"));
        assert_eq!(b.row(0).str("b"), Some("ok"));
    }

    #[test]
    fn mv_before_plain_and_mv_only() {
        let b = decode(b"__mv_a,a,__mv_z\n\"$1$;$2$\",\"1\n2\",$q$;$r$\n".to_vec()).unwrap();
        assert_eq!(
            b.row(0).get("a").unwrap().values().collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert_eq!(
            b.row(0).get("z").unwrap().values().collect::<Vec<_>>(),
            ["q", "r"]
        );
        assert_eq!(b.row(0).str("z"), Some(""));
    }

    #[test]
    fn large_field() {
        let big = "x\"".repeat(3_000_000);
        let body = format!("_raw,n\n\"{}\",1\n", big.replace('"', "\"\""));
        let b = decode(body.into_bytes()).unwrap();
        assert_eq!(b.row(0).raw(), Some(big.as_str()));
        assert_eq!(b.row(0).str("n"), Some("1"));
    }
}
