//! Body decoder: CSV bytes → [`RecordBatch`].
//!
//! Rows as the Splunk SDK reads them (Python's `csv.reader`): every line after the header is a
//! row, so a blank line is a row of empty fields and a short row is padded with empty fields.
//!
//! Tolerances: quoted or bare header names and values, LF or CRLF, a last row without a
//! terminator, a body of only line breaks (= empty), invalid UTF-8 (replaced by U+FFFD before
//! parsing, so it never panics), text after a closing quote (kept literally, like Python's csv),
//! fields up to [`DecodeLimits::max_field_bytes`]. Errors: rows with more fields than the
//! header ([`CsvError::RaggedRow`]: the SDK would drop the extra values silently), a carriage
//! return outside quotes that is not part of CRLF ([`CsvError::BareCr`], CR-only line endings;
//! Python's reader fails too), unclosed quotes ([`CsvError::UnterminatedQuote`]) and fields
//! over the size limit ([`CsvError::FieldTooLarge`]).
//!
//! Cost: linear in the body size for every input (no rescans of the remaining text per row).

use std::collections::HashMap;

use crate::error::CsvError;
use crate::limits::Limit;
use crate::record::{Column, RecordBatch, Span};

/// Default [`DecodeLimits::max_field_bytes`]: 64 MiB, far above splunklib's 10 MB field cap.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 64 << 20;

/// Largest body the decoder accepts.
pub const MAX_BODY_BYTES: usize = u32::MAX as usize;

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
///
/// Quoted fields are unescaped **in place** (`""` → `"`, shifting the rest of the field
/// left inside its own bytes), so the batch holds one copy of the body: a 50k-row chunk of
/// JSON `_raw` (every `"` doubled) no longer needs a second, unescaped copy of itself.
pub fn decode_into_with(
    batch: &mut RecordBatch,
    body: Vec<u8>,
    limits: &DecodeLimits,
) -> Result<(), CsvError> {
    batch.recycle();
    if body.len() > MAX_BODY_BYTES {
        return Err(CsvError::BodyTooLarge(body.len()));
    }
    // Validate first: replacing invalid UTF-8 changes lengths, so it must precede the spans.
    let bytes = match String::from_utf8(body) {
        Ok(s) => s.into_bytes(),
        Err(e) => String::from_utf8_lossy(e.as_bytes())
            .into_owned()
            .into_bytes(),
    };
    // U+FFFD replacement can grow the text (1 invalid byte -> 3 bytes).
    if bytes.len() > MAX_BODY_BYTES {
        let n = bytes.len();
        batch.recycle();
        return Err(CsvError::BodyTooLarge(n));
    }
    parse_valid(batch, bytes, limits)
}

/// As [`decode_into_with`], for a body already known to be valid UTF-8 (the frame reader
/// checks it while reading): skips the validation pass.
pub fn decode_str_into_with(
    batch: &mut RecordBatch,
    body: String,
    limits: &DecodeLimits,
) -> Result<(), CsvError> {
    batch.recycle();
    if body.len() > MAX_BODY_BYTES {
        return Err(CsvError::BodyTooLarge(body.len()));
    }
    parse_valid(batch, body.into_bytes(), limits)
}

/// Parses `bytes`, which must be valid UTF-8, and stores them as the batch text.
fn parse_valid(
    batch: &mut RecordBatch,
    mut bytes: Vec<u8>,
    limits: &DecodeLimits,
) -> Result<(), CsvError> {
    if let Err(e) = parse_bytes(&mut bytes, batch, limits) {
        // An unterminated quote can stop a field mid-move: drop the bytes, never a `String`.
        batch.recycle();
        return Err(e);
    }
    debug_assert!(std::str::from_utf8(&bytes).is_ok());
    // SAFETY: `bytes` was valid UTF-8 before parsing (both callers guarantee it), and a
    // successful parse keeps it so ([`Parser::quoted`]): an unescaped field is its old bytes
    // minus dropped ASCII quotes (plus literal trailing text, which starts and ends at ASCII
    // bytes), i.e. whole characters, and every byte it vacates is overwritten with an ASCII
    // space. Skipping a second validation pass over the whole body saves ~5 % of the
    // command's time.
    batch.text = unsafe { String::from_utf8_unchecked(bytes) };
    Ok(())
}

fn parse_bytes(
    b: &mut [u8],
    batch: &mut RecordBatch,
    limits: &DecodeLimits,
) -> Result<(), CsvError> {
    // A body of only line breaks (e.g. the truncated generatehello recording) has no header
    // and holds nothing.
    if b.iter().all(|&c| c == b'\n' || c == b'\r') {
        return Ok(());
    }
    // CR is checked for only when the body holds one (splunkd writes LF).
    let has_cr = memchr::memchr(b'\r', b).is_some();
    let mut p = Parser {
        b,
        pos: 0,
        max_field: limits.max_field_bytes,
        has_cr,
    };
    // Header row.
    let mut header: Vec<Span> = Vec::new();
    let mut row = 0usize;
    let end = p.row_into(&mut header, row)?;
    let ncols = header.len();
    batch.csv_names = header.iter().map(|&s| p.get(s).into_owned()).collect();
    let mut done = end;
    let mut fields = std::mem::take(&mut batch.fields);
    // Every line after the header is a row, as in the SDK's reader (Python's csv): a blank
    // line is a row of empty fields, a short row is padded with empty fields; only a row
    // with more fields than the header (values that would be lost) is an error.
    while !done {
        row += 1;
        let before = fields.len();
        let closed = p
            .row_into(&mut fields, row)
            .map_err(|mut e| {
                name_column(&mut e, &batch.csv_names);
                e
            })
            .and_then(|d| close_row(&mut fields, before, ncols, row, p.pos).map(|()| d));
        done = match closed {
            Ok(d) => d,
            Err(e) => {
                batch.fields = fields;
                return Err(e);
            }
        };
    }
    batch.rows = row;
    batch.fields = fields;
    build_columns(batch);
    Ok(())
}

/// Ends data row `row`, whose fields start at `fields[before]`: a short row is padded with
/// empty fields (at `pos`, the row's end), as the SDK's reader leaves them out; a row with
/// more fields than the header's `ncols` is [`CsvError::RaggedRow`] (its values would be lost).
pub(super) fn close_row(
    fields: &mut Vec<Span>,
    before: usize,
    ncols: usize,
    row: usize,
    pos: usize,
) -> Result<(), CsvError> {
    let got = fields.len() - before;
    if got > ncols {
        return Err(CsvError::RaggedRow {
            row,
            got,
            expected: ncols,
        });
    }
    let empty = Span {
        start: pos.min(u32::MAX as usize) as u32,
        len: 0,
    };
    fields.resize(before + ncols, empty);
    Ok(())
}

/// Names the column of a [`CsvError::FieldTooLarge`] in a data row (the parser knows only
/// its position).
pub(super) fn name_column(e: &mut CsvError, names: &[String]) {
    if let CsvError::FieldTooLarge { column, name, .. } = e {
        if let Some(n) = names.get(*column) {
            name.clone_from(n);
        }
    }
}

/// Folds `__mv_<f>` columns into logical columns, in first-appearance order.
pub(super) fn build_columns(batch: &mut RecordBatch) {
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

pub(super) struct Parser<'a> {
    /// The body, unescaped in place as quoted fields are parsed.
    pub(super) b: &'a mut [u8],
    pub(super) pos: usize,
    /// [`DecodeLimits::max_field_bytes`].
    pub(super) max_field: usize,
    /// The body holds a `\r`: unquoted text is checked for bare CRs.
    pub(super) has_cr: bool,
}

impl Parser<'_> {
    /// A (header) field's text; lossy only if a span were to split a character, which the
    /// in-place unescaping never does.
    pub(super) fn get(&self, s: Span) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.b[s.start as usize..s.start as usize + s.len as usize])
    }

    /// Parses one record starting at `self.pos`, appending its fields. Returns true when the
    /// body is exhausted after this record.
    #[inline]
    pub(super) fn row_into(&mut self, out: &mut Vec<Span>, row: usize) -> Result<bool, CsvError> {
        let n = self.b.len();
        let mut column = 0usize;
        loop {
            let span;
            let mut after;
            if self.pos < n && self.b[self.pos] == b'"' {
                let (s, a) = self.quoted(row, column)?;
                span = s;
                after = a;
            } else {
                let b = &*self.b;
                let start = self.pos;
                if self.has_cr {
                    let end = memchr::memchr2(b',', b'\n', &b[start..]).map_or(n, |k| start + k);
                    let text = &b[start..end];
                    let text = text
                        .strip_suffix(b"\r")
                        .filter(|_| end < n && b[end] == b'\n' || end == n)
                        .unwrap_or(text);
                    if memchr::memchr(b'\r', text).is_some() {
                        return Err(CsvError::BareCr { row, column });
                    }
                }
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
            match self.b[after] {
                b',' => {
                    self.pos = after + 1;
                }
                b'\n' => {
                    self.pos = after + 1;
                    return Ok(self.pos >= n);
                }
                _ => {
                    // `\r` right after a closing quote: CRLF or a stray CR.
                    if self.b[after] == b'\r' && after + 1 < n && self.b[after + 1] == b'\n' {
                        self.pos = after + 2;
                        return Ok(self.pos >= n);
                    }
                    if self.b[after] == b'\r' && after + 1 < n {
                        return Err(CsvError::BareCr {
                            row,
                            column: column - 1,
                        });
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

    /// Parses a quoted field at `self.pos` (which is `"`), unescaping it in place. Returns
    /// its span and the index of the delimiter (or end) that follows.
    ///
    /// Invariant kept: the body stays valid UTF-8. The field's new text is its old text minus
    /// the dropped (ASCII) quotes, i.e. whole characters, and every byte it vacates becomes
    /// an ASCII space (no span covers them).
    #[inline]
    fn quoted(&mut self, row: usize, column: usize) -> Result<(Span, usize), CsvError> {
        let n = self.b.len();
        let start = self.pos + 1;
        let unterminated = || CsvError::UnterminatedQuote { row, column };
        let first = memchr::memchr(b'"', &self.b[start..])
            .map(|k| start + k)
            .ok_or_else(unterminated)?;
        // `w`: end of the unescaped text so far (`w < i` once a quote has been dropped).
        let (mut w, close) = if first + 1 < n && self.b[first + 1] == b'"' {
            // Escapes (JSON `_raw`: every few bytes): unescape a block at a time
            // ([`unescape_block`]), then eight, then one, instead of one search and one move
            // per escaped quote.
            let mut w = first + 1;
            let mut i = first + 2;
            let close = loop {
                let found = unescape_block(self.b, &mut w, &mut i);
                while !found && i + 8 <= n {
                    let word = u64::from_le_bytes(self.b[i..i + 8].try_into().expect("8 bytes"));
                    let x = word ^ 0x2222_2222_2222_2222;
                    // Exact for the lowest zero byte of `x`, i.e. the first quote.
                    let quotes = x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080;
                    if quotes != 0 {
                        let k = (quotes.trailing_zeros() / 8) as usize;
                        for j in 0..k {
                            self.b[w + j] = self.b[i + j];
                        }
                        w += k;
                        i += k;
                        break;
                    }
                    // The whole word is in a register: overwriting its own bytes is safe.
                    self.b[w..w + 8].copy_from_slice(&word.to_le_bytes());
                    w += 8;
                    i += 8;
                }
                while i < n && self.b[i] != b'"' {
                    self.b[w] = self.b[i];
                    w += 1;
                    i += 1;
                }
                if i >= n {
                    return Err(unterminated());
                }
                if i + 1 < n && self.b[i + 1] == b'"' {
                    self.b[w] = b'"';
                    w += 1;
                    i += 2;
                } else {
                    break i;
                }
            };
            (w, close)
        } else {
            (first, first)
        };
        let mut after = close + 1;
        let b = &*self.b;
        // Text between the closing quote and the next delimiter is kept literally.
        let vacated_end = if after < n
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
            if self.has_cr && memchr::memchr(b'\r', &b[after..e2]).is_some() {
                return Err(CsvError::BareCr { row, column });
            }
            self.b.copy_within(after..e2, w);
            w += e2 - after;
            after = e;
            e2
        } else {
            close
        };
        self.b[w..vacated_end].fill(b' ');
        Ok((
            Span {
                start: start as u32,
                len: (w - start) as u32,
            },
            after,
        ))
    }
}

/// The unescaping copy of [`Parser::quoted`], a block of bytes at a time: moves `b[i..]` to
/// `b[w..]` (`w <= i`), dropping the second quote of every `""` pair, up to the field's
/// closing quote, advancing both. Returns whether it stopped at a quote (`b[i] == b'"'`,
/// which the caller then handles: with SSSE3 a closing quote or the start of a run of a
/// whole block of quotes, left to the scalar code; without it, any quote); false when fewer
/// than 16 bytes are left.
///
/// Precondition: `b[i]` is not the second quote of a pair (the caller starts it right after
/// a pair or at a non-quote byte), so every run of quotes starting at or after `i` pairs up
/// from its own start.
///
/// Per block (64 bytes with AVX-512 VBMI2, then 16 with SSSE3), with `q` the quote bits:
/// runs of quotes that touch the end of the block are left for the next block (which
/// starts at their first quote); within the others, the second, fourth, … quote of each
/// run is dropped (`""` → `"`), and the last quote of an odd-length run is the closing
/// quote. The kept bytes are packed with `vpcompressb` (VBMI2) or `pshufb` (two eight-byte
/// lanes, shuffles from a 256-entry table, SSSE3); without SSSE3 (and off x86_64) only
/// quote-free blocks are copied here. Every path gives the same bytes (tested against each
/// other); the CPU's best is detected once.
#[inline(always)]
fn unescape_block(b: &mut [u8], w: &mut usize, i: &mut usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let level = simd::level();
        if level >= simd::VBMI2 {
            // SAFETY: AVX-512 F/BW/VBMI2 were detected at run time.
            if unsafe { simd::unescape_vbmi2(b, w, i) } {
                return true;
            }
            // Fewer than 64 bytes left: sixteen at a time.
        }
        if level >= simd::SSSE3 {
            // SAFETY: SSSE3 was detected at run time (VBMI2 implies it).
            return unsafe { simd::unescape_ssse3(b, w, i) };
        }
        simd::copy_to_quote_sse2(b, w, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (b, w, i);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::{
        __m128i, __m512i, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_mask_storeu_epi8,
        _mm512_maskz_compress_epi8, _mm512_set1_epi8, _mm512_storeu_si512, _mm_add_epi8,
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8, _mm_set_epi64x,
        _mm_shuffle_epi8, _mm_srli_si128, _mm_storel_epi64, _mm_storeu_si128,
    };
    use std::sync::atomic::{AtomicU8, Ordering};

    /// The best unescaping path of this CPU: 0 = not checked yet, then [`SSE2`] (the x86_64
    /// baseline), [`SSSE3`] or [`VBMI2`].
    static LEVEL: AtomicU8 = AtomicU8::new(0);
    pub(super) const SSE2: u8 = 1;
    pub(super) const SSSE3: u8 = 2;
    pub(super) const VBMI2: u8 = 3;

    #[inline(always)]
    pub(super) fn level() -> u8 {
        match LEVEL.load(Ordering::Relaxed) {
            0 => {
                let level = if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vbmi2")
                    && std::is_x86_feature_detected!("popcnt")
                    && std::is_x86_feature_detected!("ssse3")
                {
                    VBMI2
                } else if std::is_x86_feature_detected!("ssse3") {
                    SSSE3
                } else {
                    SSE2
                };
                LEVEL.store(level, Ordering::Relaxed);
                level
            }
            v => v,
        }
    }

    /// For each 8-bit keep mask: the shuffle that packs the kept bytes of an eight-byte
    /// lane to its front (unused positions repeat index 0; they are overwritten later or
    /// lie past the field's end).
    const PACK: [[u8; 8]; 256] = {
        let mut t = [[0u8; 8]; 256];
        let mut m = 0;
        while m < 256 {
            let (mut j, mut k) = (0, 0);
            while j < 8 {
                if m & (1 << j) != 0 {
                    t[m][k] = j as u8;
                    k += 1;
                }
                j += 1;
            }
            m += 1;
        }
        t
    };

    /// Bytes kept by each 8-bit keep mask.
    const KEPT: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut m = 0;
        while m < 256 {
            t[m] = (m as u32).count_ones() as u8;
            m += 1;
        }
        t
    };

    /// Tests: take at most the path of `level` (never one the CPU lacks); returns the level
    /// taken. `None` detects again.
    #[cfg(test)]
    pub(super) fn force_level(level: Option<u8>) -> u8 {
        LEVEL.store(0, Ordering::Relaxed);
        let best = self::level();
        let taken = level.map_or(best, |l| l.min(best));
        LEVEL.store(taken, Ordering::Relaxed);
        taken
    }

    const EVEN: u64 = 0x5555_5555_5555_5555;
    const ODD: u64 = 0xAAAA_AAAA_AAAA_AAAA;

    /// The low `n` bits set, `n <= 64`.
    #[inline(always)]
    fn low_bits(n: u32) -> u64 {
        if n >= 64 {
            u64::MAX
        } else {
            (1u64 << n) - 1
        }
    }

    /// The quotes to drop among quote bits `q` whose bit 63 is clear (so every run ends
    /// inside the word): the second, fourth, … of each run. The last quote of an odd run is
    /// kept here: it is the closing quote ([`closing`]).
    #[inline(always)]
    fn drop_bits(q: u64) -> u64 {
        // Bits of runs that start at an even position: adding the start carries through the
        // run and clears it (the carry stays inside the word: bit 63 is clear).
        let starts = q & !(q << 1);
        let even_runs = q & !(q.wrapping_add(starts & EVEN));
        (even_runs & ODD) | (q & !even_runs & EVEN)
    }

    /// The closing quote among quote bits `q` whose quotes to drop are `drop`
    /// ([`drop_bits`]): the last quote of an odd run (at most one bit is set).
    #[inline(always)]
    fn closing(q: u64, drop: u64) -> u64 {
        q & !(q >> 1) & !drop
    }

    /// The bytes to keep of a block of `width` bytes (16 or 64) whose quote bits `q` leave
    /// its last byte unquoted (no run continues in the next block) and close nothing: the
    /// whole block is consumed, a constant step. `None` otherwise (then [`plan`]). Taken
    /// apart from `plan` so that the next block's address is a constant step, not the end
    /// of this block's arithmetic (the loop then runs at the speed of its throughput, not
    /// its latency); most blocks of a JSON `_raw` are such blocks.
    #[inline(always)]
    fn keep_if_open(q: u64, width: u32) -> Option<u64> {
        if q >> (width - 1) != 0 {
            return None;
        }
        let drop = drop_bits(q);
        (closing(q, drop) == 0).then_some(!drop)
    }

    /// What to do with a block of `width` bytes (16 or 64) whose quote bits are `q` (not
    /// 0): `(keep, upto, closed)`, the bits of the bytes to keep, the bytes consumed, and
    /// whether the next byte is the field's closing quote. `None` when the block is all
    /// quotes (the scalar code pairs them).
    #[inline(always)]
    fn plan(mut q: u64, width: u32) -> Option<(u64, u32, bool)> {
        // A run touching the block's end continues in the next block: stop before it.
        let mut len = width;
        if (q >> (width - 1)) & 1 != 0 {
            len = width - (!(q << (64 - width))).leading_zeros();
            if len == 0 {
                return None;
            }
            q &= low_bits(len);
        }
        let drop = drop_bits(q);
        let close = closing(q, drop);
        let upto = if close != 0 {
            close.trailing_zeros()
        } else {
            len
        };
        Some((!drop & low_bits(upto), upto, close != 0))
    }

    /// See [`super::unescape_block`]: 64 bytes at a time; returns false (without touching
    /// the bytes left) when fewer than 64 are left.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VBMI2 and POPCNT.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    pub(super) unsafe fn unescape_vbmi2(b: &mut [u8], w: &mut usize, i: &mut usize) -> bool {
        let (n, p) = (b.len(), b.as_mut_ptr());
        let (mut r, mut o) = (*i, *w);
        debug_assert!(o <= r);
        let mut found = false;
        // SAFETY: loads read 64 bytes at `r` with `r + 64 <= n`. Stores write at `o <= r`
        // and never past the bytes consumed (`r + upto`), which are the only ones read: the
        // full store only when the block has no quote (it ends at `o + 64 <= r + 64`), else
        // a masked store of the `kept <= upto` packed bytes (masked-off bytes are neither
        // written nor faulted). The block is in a register before any store, so a store
        // that overlaps it changes nothing read later.
        unsafe {
            let quote = _mm512_set1_epi8(b'"' as i8);
            // Packs the bytes of `x` whose `keep` bits are set to `o` (a masked store of
            // the kept bytes only), advancing `o`.
            macro_rules! store_packed {
                ($x:expr, $keep:expr) => {{
                    let kept = $keep.count_ones();
                    let packed = _mm512_maskz_compress_epi8($keep, $x);
                    _mm512_mask_storeu_epi8(p.add(o) as *mut i8, low_bits(kept), packed);
                    o += kept as usize;
                }};
            }
            while r + 64 <= n {
                let x = _mm512_loadu_si512(p.add(r) as *const __m512i);
                let q: u64 = _mm512_cmpeq_epi8_mask(x, quote);
                if q == 0 {
                    _mm512_storeu_si512(p.add(o) as *mut __m512i, x);
                    o += 64;
                    r += 64;
                    continue;
                }
                if let Some(keep) = keep_if_open(q, 64) {
                    store_packed!(x, keep);
                    r += 64;
                    continue;
                }
                let Some((keep, upto, closed)) = plan(q, 64) else {
                    // 64 quotes or more: the scalar code pairs them.
                    found = true;
                    break;
                };
                store_packed!(x, keep);
                r += upto as usize;
                if closed {
                    found = true;
                    break;
                }
            }
        }
        (*i, *w) = (r, o);
        found
    }

    /// See [`super::unescape_block`].
    ///
    /// # Safety
    /// The CPU must support SSSE3.
    #[target_feature(enable = "ssse3")]
    pub(super) unsafe fn unescape_ssse3(b: &mut [u8], w: &mut usize, i: &mut usize) -> bool {
        let (n, p) = (b.len(), b.as_mut_ptr());
        let (mut r, mut o) = (*i, *w);
        debug_assert!(o <= r);
        let mut found = false;
        // SAFETY: loads read 16 bytes at `r` with `r + 16 <= n`. Stores write at `o <= r`
        // and never past the bytes consumed (`r + upto`), which are the only ones read:
        // the 16-byte store only when the block has no quote (it ends at `o + 16 <= r + 16`);
        // the two eight-byte stores of a packed block end at most at `o + kept_lo + 8 <=
        // o + 16`, and are used only when the whole block is consumed (`o + 16 <= r + 16`)
        // or the gap is at least 16 (`o + 16 <= r`); otherwise bytes move one at a time to
        // `o + kept <= r + upto`. So no store clobbers a byte not yet read, and none leaves
        // the buffer.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            // Packs the bytes of `x` whose `keep` bits are set to `o` with two eight-byte
            // stores (allowed where the comment above says), advancing `o`.
            macro_rules! store_packed {
                ($x:expr, $keep:expr) => {{
                    let (lo, hi) = (($keep & 0xFF) as usize, (($keep >> 8) & 0xFF) as usize);
                    let shuffle = _mm_add_epi8(
                        _mm_set_epi64x(i64::from_le_bytes(PACK[hi]), i64::from_le_bytes(PACK[lo])),
                        _mm_set_epi64x(0x0808_0808_0808_0808, 0),
                    );
                    let packed = _mm_shuffle_epi8($x, shuffle);
                    _mm_storel_epi64(p.add(o) as *mut __m128i, packed);
                    o += KEPT[lo] as usize;
                    _mm_storel_epi64(p.add(o) as *mut __m128i, _mm_srli_si128(packed, 8));
                    o += KEPT[hi] as usize;
                }};
            }
            while r + 16 <= n {
                let x = _mm_loadu_si128(p.add(r) as *const __m128i);
                let q = _mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) as u64;
                if q == 0 {
                    _mm_storeu_si128(p.add(o) as *mut __m128i, x);
                    o += 16;
                    r += 16;
                    continue;
                }
                if let Some(keep) = keep_if_open(q, 16) {
                    store_packed!(x, keep);
                    r += 16;
                    continue;
                }
                let Some((keep, upto, closed)) = plan(q, 16) else {
                    // Sixteen quotes or more: the scalar code pairs them.
                    found = true;
                    break;
                };
                if upto == 16 || r - o >= 16 {
                    store_packed!(x, keep);
                } else {
                    // Part of the block stays unread (after the closing quote, or a run
                    // left for the next block) and the gap is too small for the eight-byte
                    // stores to stay clear of it: move the kept bytes one by one.
                    let mut k = keep;
                    while k != 0 {
                        *p.add(o) = *p.add(r + k.trailing_zeros() as usize);
                        o += 1;
                        k &= k - 1;
                    }
                }
                r += upto as usize;
                if closed {
                    found = true;
                    break;
                }
            }
        }
        (*i, *w) = (r, o);
        found
    }

    /// Without SSSE3: quote-free blocks of sixteen bytes are moved here; the rest is left
    /// to the caller's eight-byte and scalar loops.
    #[inline(always)]
    pub(super) fn copy_to_quote_sse2(b: &mut [u8], w: &mut usize, i: &mut usize) -> bool {
        let (n, p) = (b.len(), b.as_mut_ptr());
        let (mut r, mut o) = (*i, *w);
        debug_assert!(o <= r);
        let mut found = false;
        // SAFETY: SSE2 is part of the x86_64 baseline. Loads read 16 bytes at `r` with
        // `r + 16 <= n`; stores write at `o <= r`: 16 bytes only when they end inside the
        // loaded word (no quote in it: `o + 16 <= r + 16`) or before it (`o + 16 <= r`), so
        // a store never clobbers a source byte not yet read; else the `k` bytes before the
        // quote, one by one.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            while r + 16 <= n {
                let x = _mm_loadu_si128(p.add(r) as *const __m128i);
                let mask = _mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) as u32;
                if mask == 0 {
                    _mm_storeu_si128(p.add(o) as *mut __m128i, x);
                    o += 16;
                    r += 16;
                    continue;
                }
                let k = mask.trailing_zeros() as usize;
                if r - o >= 16 {
                    _mm_storeu_si128(p.add(o) as *mut __m128i, x);
                } else {
                    for j in 0..k {
                        *p.add(o + j) = *p.add(r + j);
                    }
                }
                o += k;
                r += k;
                found = true;
                break;
            }
        }
        (*i, *w) = (r, o);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Value;

    /// Runs `f` once per unescaping path this CPU has (labelled), then detects again.
    fn each_unescape_path(mut f: impl FnMut(&str)) {
        #[cfg(target_arch = "x86_64")]
        {
            for (want, label) in [
                (simd::SSE2, "sse2"),
                (simd::SSSE3, "ssse3"),
                (simd::VBMI2, "vbmi2"),
            ] {
                if simd::force_level(Some(want)) == want {
                    f(label);
                }
            }
            simd::force_level(None);
        }
        #[cfg(not(target_arch = "x86_64"))]
        f("scalar");
    }

    /// Quote runs of every length 0..=70 at every offset up to 72 (across the 16- and
    /// 64-byte blocks), then a neighbour field, with each unescaping path of the CPU
    /// (packed with VBMI2, with SSSE3, and the path of CPUs without either).
    #[test]
    fn every_unescape_path_agrees_on_quote_runs() {
        let mut cases = Vec::new();
        for lead in 0..72 {
            for run in 0..=70 {
                for tail in [0, 1, 5, 17, 63] {
                    let v = format!(
                        "{}{}{}",
                        "a".repeat(lead),
                        "\"".repeat(run),
                        "b".repeat(tail)
                    );
                    cases.push(v);
                }
            }
        }
        let mut body = String::from("v,n\n");
        for v in &cases {
            body.push_str(&format!("\"{}\",\"n\"\"\"\"\"\n", v.replace('"', "\"\"")));
        }
        each_unescape_path(|path| {
            let b = decode(body.clone().into_bytes()).unwrap();
            assert_eq!(b.len(), cases.len());
            for (i, v) in cases.iter().enumerate() {
                assert_eq!(b.row(i).str("v"), Some(v.as_str()), "path {path}");
                assert_eq!(b.row(i).str("n"), Some("n\"\""), "path {path}");
            }
        });
    }

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
        assert_eq!(rows("a\n\"\"\n\n"), [vec![""], vec![""]]);
        assert_eq!(rows("a,b\n\"x\"y,2\n"), [vec!["xy", "2"]]);
        // Every line is a row, as in the SDK's reader: blank lines are rows of empty fields.
        assert_eq!(
            rows("a,b\n1,2\n\r\n\n"),
            [vec!["1", "2"], vec!["", ""], vec!["", ""]]
        );
        assert_eq!(
            rows("a,b\n1,2\n\n3,4\n"),
            [vec!["1", "2"], vec!["", ""], vec!["3", "4"]]
        );
    }

    /// Quoted fields with escaped quotes at every spacing and length (the 64- and
    /// sixteen-byte unescaping copies, their partial stores and their tails), against a
    /// plain unescape, with each unescaping path of the CPU; the fields after them must
    /// come through intact.
    #[test]
    fn escaped_quotes_at_every_spacing() {
        each_unescape_path(|path| {
            for gap in 1..70usize {
                for len in [1usize, 15, 16, 17, 31, 33, 63, 64, 65, 127, 200, 1000] {
                    let text: String = (0..len)
                        .map(|k| match k % gap == gap - 1 {
                            true => '"',
                            false => (b'a' + (k % 26) as u8) as char,
                        })
                        .collect();
                    let esc = text.replace('"', "\"\"");
                    let body = format!("x,z\n\"{esc}\",after\n\"{esc}\",\"{esc}\"");
                    let b = decode(body.into_bytes()).unwrap();
                    let want = text.as_str();
                    assert_eq!(b.row(0).str("x"), Some(want), "{path}: gap {gap} len {len}");
                    assert_eq!(
                        b.row(0).str("z"),
                        Some("after"),
                        "{path}: gap {gap} len {len}"
                    );
                    assert_eq!(b.row(1).str("x"), Some(want), "{path}: gap {gap} len {len}");
                    assert_eq!(b.row(1).str("z"), Some(want), "{path}: gap {gap} len {len}");
                }
            }
        });
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
        // Short rows are padded (the SDK leaves the missing fields out).
        assert_eq!(rows("a,b\n1,2\n3\n"), [vec!["1", "2"], vec!["3", ""]]);
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
    fn in_place_unescape_keeps_neighbours_and_characters() {
        let body = "a,b,c\n\"é\"\"ü\"\"\"\"x\"tail€,\"\"\"\",\"z\"\n".to_owned()
            + r#""""""",,"""q""""""#
            + "\r\n";
        let b = decode(body.as_bytes().to_vec()).unwrap();
        let got: Vec<Vec<String>> = b
            .rows()
            .map(|r| r.fields().map(|(_, v)| v.as_str().to_owned()).collect())
            .collect();
        assert_eq!(
            got,
            [
                vec!["é\"ü\"\"xtail€".to_owned(), "\"".into(), "z".into()],
                vec!["\"\"".into(), "".into(), "\"q\"\"".into()],
            ]
        );
        // A quote left open after in-place moves is an error, and the batch is reusable.
        let mut batch = RecordBatch::new();
        let e = decode_into(&mut batch, "a\n\"é\"\"ü\"\"€x".as_bytes().to_vec()).unwrap_err();
        assert_eq!(e, CsvError::UnterminatedQuote { row: 1, column: 0 });
        assert!(batch.is_empty());
        decode_into(&mut batch, "a\n\"ü\"\"\"\n".as_bytes().to_vec()).unwrap();
        assert_eq!(batch.row(0).str("a"), Some("ü\""));
    }

    #[test]
    fn escaped_fields_at_every_offset_round_trip() {
        // Quotes at every position relative to the 8-byte scan, multibyte neighbours, and
        // fields ending right at, before and after a word boundary.
        let alphabet = ["\"", "x", "é", "€", ",", "\n", "\"\""];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..40 {
            for _ in 0..20 {
                let mut v = String::new();
                for _ in 0..len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    v.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
                }
                let body = format!(
                    "a,b\n\"{}\",\"{}\"\n",
                    v.replace('"', "\"\""),
                    v.replace('"', "\"\"")
                );
                let b = decode(body.into_bytes()).unwrap();
                assert_eq!(b.row(0).str("a"), Some(v.as_str()));
                assert_eq!(b.row(0).str("b"), Some(v.as_str()));
            }
        }
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
