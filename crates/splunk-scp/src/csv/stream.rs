//! Body decoder for a body that arrives in pieces: [`StreamDecoder`].
//!
//! The frame reader hands each piece of an execute body to the decoder as soon as it has
//! read it, and the decoder parses every row that piece completes while its bytes are still
//! in cache, instead of one pass over a whole chunk of a hundred megabytes after it has
//! arrived (and gone back to memory).
//!
//! Invariant: for every body and every way of splitting it into pieces, the result equals
//! [`decode_into_with`](super::decode_into_with) on the whole body: the same batch text
//! byte for byte, the same spans, names and rows, and the same error. This holds because
//!
//! * rows are parsed by the whole-body parser (`Parser`) itself, on a copy of the pending
//!   input (so a row found incomplete can be parsed again from its original bytes);
//! * a row counts only once the parser has consumed its terminating `\n` inside the bytes it
//!   was given: every decision it made then (field ends, `""` escapes, CR checks, sizes) read
//!   only bytes before that `\n`, which the whole-body parse reads too;
//! * anything else (a row running into the end of the pieces so far, or failing) is parsed
//!   again once more input has arrived, and for the last time with the real end of the body;
//!   only a complete row with more fields than the header fails at once (its error is
//!   final: the row is whole);
//! * invalid UTF-8 stops the piecewise parsing: the rest of the body is collected, replaced
//!   lossily at the end and parsed then (the rows before it are valid text, which the
//!   whole-body replacement leaves alone).
//!
//! Cost: every byte is copied once from the pending input to the batch text; a row that
//! straddles two pieces is copied and parsed again, and a row that does not complete is
//! retried only once the pending input has doubled, so the total work stays linear in the
//! body size even for one huge row.

use std::io::{self, Read};

use super::decode::{build_columns, close_row, name_column, DecodeLimits, Parser, MAX_BODY_BYTES};
use crate::error::CsvError;
use crate::record::{RecordBatch, Span};

/// Decodes one body at a time, piece by piece; reusable across bodies (its buffers are kept).
#[derive(Debug, Default)]
pub struct StreamDecoder {
    limits: DecodeLimits,
    /// Complete rows, unescaped in place: becomes the batch text.
    out: Vec<u8>,
    /// Input not parsed yet; it starts at a row boundary (or at the body's start).
    pending: Vec<u8>,
    /// Prefix of `pending` known to be valid UTF-8 (a character may be split at its end).
    checked: usize,
    /// Invalid UTF-8 was seen: the rest is collected and decoded by [`Self::finish`].
    lossy: bool,
    /// Parse `pending` again once it holds at least this many bytes.
    retry_at: usize,
    /// A byte other than CR and LF has arrived (a body of only line breaks holds nothing).
    content: bool,
    /// Header names, once the header row is parsed.
    names: Option<Vec<String>>,
    fields: Vec<Span>,
    /// Data rows parsed so far.
    rows: usize,
    /// Data rows already moved out by [`Self::take_batch`].
    rows_taken: usize,
    /// A text buffer kept for the next [`Self::take_batch`] (batches alternate two buffers).
    spare: Vec<u8>,
    /// A final error: the rest of the body is read and dropped.
    error: Option<CsvError>,
    /// Body bytes received.
    total: u64,
    /// Parse attempts in this body (tests check that the work stays linear).
    #[cfg(test)]
    attempts: usize,
}

/// `pending` beyond this capacity is released after a body (a huge row or a failing body
/// made it grow).
const KEEP_PENDING: usize = 4 << 20;

impl StreamDecoder {
    /// A decoder applying `limits` to every body.
    pub fn new(limits: DecodeLimits) -> Self {
        StreamDecoder {
            limits,
            ..Self::default()
        }
    }

    /// Starts a body, taking `batch`'s buffers for reuse (the batch is emptied). `size_hint`
    /// (the declared body length) reserves up to 64 MiB of text at once, so a lying header
    /// cannot force a large allocation.
    pub fn begin(&mut self, batch: &mut RecordBatch, size_hint: u64) {
        const INITIAL_RESERVE: u64 = 64 << 20;
        self.out = batch.recycle();
        self.fields = std::mem::take(&mut batch.fields);
        self.fields.clear();
        self.out.reserve(size_hint.min(INITIAL_RESERVE) as usize);
        self.pending.clear();
        self.checked = 0;
        self.lossy = false;
        self.retry_at = 0;
        self.content = false;
        self.names = None;
        self.rows = 0;
        self.rows_taken = 0;
        self.error = None;
        self.total = 0;
        #[cfg(test)]
        {
            self.attempts = 0;
        }
    }

    /// Adds the next piece of the body and parses the rows it completes.
    pub fn push(&mut self, piece: &[u8]) {
        let mut r = piece;
        // Reading from a slice cannot fail.
        let _ = self.read_from(&mut r, piece.len());
    }

    /// Reads up to `max` bytes of the body from `r` (one `read_to_end` of a `take`, so
    /// straight into the decoder's buffer) and parses the rows they complete. Returns the
    /// number of bytes read: fewer than `max` only at the end of `r`.
    pub fn read_from<R: Read>(&mut self, r: &mut R, max: usize) -> io::Result<usize> {
        let start = self.pending.len();
        let keep = self.error.is_none() && self.total <= MAX_BODY_BYTES as u64;
        let k = if keep {
            self.pending.reserve(max);
            r.take(max as u64).read_to_end(&mut self.pending)?
        } else {
            // Nothing more can change the outcome: drop the bytes (still counted).
            io::copy(&mut r.take(max as u64), &mut io::sink())? as usize
        };
        self.total += k as u64;
        if !keep || k == 0 {
            return Ok(k);
        }
        if self.total > MAX_BODY_BYTES as u64 {
            self.pending = Vec::new();
            return Ok(k);
        }
        if !self.content {
            self.content = self.pending[start..]
                .iter()
                .any(|&c| c != b'\n' && c != b'\r');
        }
        if !self.lossy {
            match crate::utf8::valid_prefix(&self.pending[self.checked..]) {
                Some(n) => self.checked += n,
                None => self.lossy = true,
            }
        }
        if !self.lossy && self.content && self.checked >= self.retry_at {
            self.parse(false);
        }
        Ok(k)
    }

    /// Bytes of decoded text held for rows not yet taken by [`Self::take_batch`].
    pub fn text_len(&self) -> usize {
        self.out.len()
    }

    /// Moves the rows complete so far (at least one data row) into `batch`, whose previous
    /// contents are dropped and whose buffers the decoder keeps for the rows to come; returns
    /// false (batch untouched) when there are none, the body has failed, or invalid UTF-8 was
    /// seen (those rows come with [`Self::finish`]). The rows taken and the rows of
    /// [`Self::finish`] together are the whole body's rows; row numbers in errors still
    /// count from the body's start. Splitting a body this way bounds the memory of a huge
    /// chunk by the size of its batches.
    pub fn take_batch(&mut self, batch: &mut RecordBatch) -> bool {
        if self.rows == self.rows_taken || self.error.is_some() || self.lossy {
            return false;
        }
        let names = self.names.clone().unwrap_or_default();
        let mut old = batch.recycle();
        if old.capacity() == 0 {
            old = std::mem::take(&mut self.spare);
        }
        let text = std::mem::replace(&mut self.out, old);
        let fields = std::mem::replace(&mut self.fields, std::mem::take(&mut batch.fields));
        fill(batch, text, fields, self.rows - self.rows_taken, names);
        self.rows_taken = self.rows;
        true
    }

    /// Ends the body: parses what is left with the body's real end and fills `batch` (the
    /// result of [`decode_into_with`](super::decode_into_with) on the whole body, less the
    /// rows [`Self::take_batch`] moved out). On error the batch is left empty.
    pub fn finish(&mut self, batch: &mut RecordBatch) -> Result<(), CsvError> {
        let old = batch.recycle();
        if old.capacity() > self.spare.capacity() {
            self.spare = old;
        }
        let result = self.finish_inner();
        if self.pending.capacity() > KEEP_PENDING {
            self.pending = Vec::new();
        }
        self.pending.clear();
        let text = std::mem::take(&mut self.out);
        let fields = std::mem::take(&mut self.fields);
        match result {
            Ok(()) => {
                let names = self.names.take().unwrap_or_default();
                fill(batch, text, fields, self.rows - self.rows_taken, names);
                Ok(())
            }
            Err(e) => {
                // Keep the buffers for the next body.
                let mut v = text;
                v.clear();
                batch.text = String::from_utf8(v).unwrap_or_default();
                batch.fields = fields;
                batch.fields.clear();
                Err(e)
            }
        }
    }

    fn finish_inner(&mut self) -> Result<(), CsvError> {
        if self.total > MAX_BODY_BYTES as u64 {
            return Err(CsvError::BodyTooLarge(
                usize::try_from(self.total).unwrap_or(usize::MAX),
            ));
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.lossy || self.checked < self.pending.len() {
            // Invalid UTF-8 (or a character cut off by the body's end): replaced as the
            // whole-body decoder replaces it.
            let fixed = String::from_utf8_lossy(&self.pending).into_owned();
            let n = self.out.len() + fixed.len();
            if n > MAX_BODY_BYTES {
                return Err(CsvError::BodyTooLarge(n));
            }
            self.pending = fixed.into_bytes();
            self.checked = self.pending.len();
        }
        if !self.content {
            // Only line breaks (or nothing): no header, no rows; the text is kept as is.
            self.out.extend_from_slice(&self.pending);
            return Ok(());
        }
        self.parse(true);
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Parses the complete rows of `pending[..checked]` into `out` (`last`: the body ends
    /// there, every row is complete and every error final).
    fn parse(&mut self, last: bool) {
        #[cfg(test)]
        {
            self.attempts += 1;
        }
        let region = self.out.len();
        self.out.extend_from_slice(&self.pending[..self.checked]);
        let has_cr = memchr::memchr(b'\r', &self.out[region..]).is_some();
        let n = self.out.len();
        let mut p = Parser {
            b: &mut self.out,
            pos: region,
            max_field: self.limits.max_field_bytes,
            has_cr,
        };
        let mut done = false;
        while !done && p.pos < n {
            let row_start = p.pos;
            let before = self.fields.len();
            let header = self.names.is_none();
            let row = if header { 0 } else { self.rows + 1 };
            let parsed = p.row_into(&mut self.fields, row);
            let complete = last || (p.pos > row_start && p.b[p.pos - 1] == b'\n');
            match parsed {
                Ok(d) if complete => done = d && last,
                Err(mut e) if last => {
                    if let Some(names) = &self.names {
                        name_column(&mut e, names);
                    }
                    self.error = Some(e);
                    break;
                }
                _ => {
                    // Incomplete (or failing before the body's end): parsed again later,
                    // from its original bytes.
                    self.fields.truncate(before);
                    p.pos = row_start;
                    break;
                }
            }
            if header {
                let names = self.fields[before..]
                    .iter()
                    .map(|&s| p.get(s).into_owned())
                    .collect();
                self.fields.truncate(before);
                self.names = Some(names);
                continue;
            }
            let ncols = self.names.as_ref().map_or(0, Vec::len);
            self.rows += 1;
            if let Err(e) = close_row(&mut self.fields, before, ncols, self.rows, p.pos) {
                self.error = Some(e);
                break;
            }
        }
        let used = p.pos - region;
        if self.error.is_some() {
            self.pending = Vec::new();
            self.checked = 0;
            return;
        }
        self.out.truncate(region + used);
        self.pending.drain(..used);
        self.checked -= used;
        // Try again once the pending input has doubled: linear work for a row of any size.
        self.retry_at = self.checked.saturating_mul(2).max(1);
    }
}

/// Puts decoded rows into an emptied `batch`. `text` is what the decoder's `out` held.
fn fill(
    batch: &mut RecordBatch,
    text: Vec<u8>,
    fields: Vec<Span>,
    rows: usize,
    names: Vec<String>,
) {
    debug_assert!(std::str::from_utf8(&text).is_ok());
    // SAFETY: `out` only ever receives valid UTF-8 (a checked prefix of the input, or its
    // lossy replacement) cut at row boundaries (after an ASCII `\n`), and parsing in place
    // keeps text valid UTF-8 (see `parse_valid`).
    batch.text = unsafe { String::from_utf8_unchecked(text) };
    batch.fields = fields;
    batch.rows = rows;
    batch.csv_names = names;
    // A body of only line breaks has no header (and no columns).
    if !batch.csv_names.is_empty() {
        build_columns(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::decode_into_with;
    use proptest::prelude::*;

    /// Everything a batch holds (its text byte for byte included), or the error.
    type Snapshot = Result<(String, Vec<String>, Vec<Span>, usize, Vec<String>), CsvError>;

    fn snapshot(r: Result<(), CsvError>, b: &RecordBatch) -> Snapshot {
        r.map(|()| {
            (
                b.text.clone(),
                b.csv_names.clone(),
                b.fields.clone(),
                b.rows,
                b.column_names().map(str::to_owned).collect(),
            )
        })
    }

    fn whole(body: &[u8], limits: DecodeLimits) -> Snapshot {
        let mut b = RecordBatch::new();
        let r = decode_into_with(&mut b, body.to_vec(), &limits);
        snapshot(r, &b)
    }

    /// Decodes `body` in pieces of the given sizes (cycled), reusing `dec` and `b`.
    fn streamed(
        dec: &mut StreamDecoder,
        b: &mut RecordBatch,
        body: &[u8],
        sizes: &[usize],
    ) -> Snapshot {
        dec.begin(b, body.len() as u64);
        feed(dec, body, sizes, |_| {});
        let r = dec.finish(b);
        snapshot(r, b)
    }

    /// Feeds `body` to `dec` in pieces of the given sizes (cycled), calling `each` after
    /// every piece.
    fn feed(
        dec: &mut StreamDecoder,
        body: &[u8],
        sizes: &[usize],
        mut each: impl FnMut(&mut StreamDecoder),
    ) {
        let mut rest = body;
        let mut k = 0;
        while !rest.is_empty() {
            let n = sizes[k % sizes.len()].clamp(1, rest.len());
            k += 1;
            dec.push(&rest[..n]);
            rest = &rest[n..];
            each(dec);
        }
    }

    fn check_all_splits(body: &[u8], limits: DecodeLimits) {
        let want = whole(body, limits);
        let mut dec = StreamDecoder::new(limits);
        let mut b = RecordBatch::new();
        for cut in 0..=body.len() {
            let got = streamed(&mut dec, &mut b, body, &[cut.max(1), body.len().max(1)]);
            assert_eq!(
                got,
                want,
                "cut at {cut} of {:?}",
                String::from_utf8_lossy(body)
            );
        }
        for size in 1..8 {
            let got = streamed(&mut dec, &mut b, body, &[size]);
            assert_eq!(
                got,
                want,
                "pieces of {size} of {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn every_split_of_tricky_bodies_decodes_as_the_whole() {
        let json = "{\"a\":\"b\",\"c\":[1,2,\"\\\"q\\\"\"]}".replace('"', "\"\"");
        let bodies: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n\r\n\n".to_vec(),
            b"a,b".to_vec(),
            b"a,b\n".to_vec(),
            b"a,b\n1,2".to_vec(),
            b"a,b\n1,2\n".to_vec(),
            b"\n\na,b\n1\n".to_vec(),
            b"a,b\r\n\"he said \"\"hi\"\"\",\"\"\r\n,\"x\r\ny\"\r\n3,4".to_vec(),
            b"a,b\n\"x\"y,2\n\"\"\"\",\"\"\"\"\"\"\n".to_vec(),
            b"a,b\n1,2,3\n4,5\n".to_vec(),
            b"a,b\n1,2\n3,\"open\n".to_vec(),
            b"x\ra\rb\r".to_vec(),
            b"x\n\"a\rb\"\n\"c\"\rd\n".to_vec(),
            b"a\n\xff\xfe,\xc3\n\xc3\xa9\xe2\x82\n".to_vec(),
            b"a,b\n\xe2\x82\xac,\"\xe2\x82\xac\"\"\"\n".to_vec(),
            format!("_raw,_time\n\"{json}\",1\n\"{json}\",2\n\"{json}{json}{json}\",3\n")
                .into_bytes(),
            format!("_raw,__mv__raw\n\"{json}\",\"$a$;$b$\"\n\n").into_bytes(),
        ];
        for body in &bodies {
            check_all_splits(body, DecodeLimits::default());
            check_all_splits(body, DecodeLimits { max_field_bytes: 3 });
        }
    }

    #[test]
    fn a_huge_row_is_retried_a_bounded_number_of_times() {
        // One 3 MB quoted field full of escapes, read 4 KB at a time: linear work means a
        // few dozen parse attempts, not one per piece.
        let field = "ab\"\"".repeat(750_000);
        let body = format!("x,y\n\"{field}\",1\n2,3\n");
        let want = whole(body.as_bytes(), DecodeLimits::default());
        let mut dec = StreamDecoder::new(DecodeLimits::default());
        let mut b = RecordBatch::new();
        let got = streamed(&mut dec, &mut b, body.as_bytes(), &[4096]);
        assert_eq!(got, want);
        assert_eq!(b.len(), 2);
        // 733 pieces; doubling from 4 KB to 3 MB is ten attempts, plus the last.
        assert!(dec.attempts <= 16, "{} parse attempts", dec.attempts);
    }

    #[test]
    fn batches_are_taken_and_row_numbers_count_from_the_body_start() {
        let mut body = String::from("a,b\n");
        for i in 0..100 {
            body.push_str(&format!("\"{i}\"\"x\",{i}\n"));
        }
        let mut dec = StreamDecoder::new(DecodeLimits::default());
        let mut whole_batch = RecordBatch::new();
        decode_into_with(&mut whole_batch, body.clone().into_bytes(), &dec.limits).unwrap();
        let (rows, taken) = in_batches(&mut dec, body.as_bytes(), &[7], 50);
        assert!(taken > 10, "{taken} batches");
        assert_eq!(rows.unwrap(), rows_of(&whole_batch));
        // An error after batches were taken names the row counted from the body's start.
        body.push_str("1,2,3\n");
        let (r, taken) = in_batches(&mut dec, body.as_bytes(), &[7], 50);
        assert!(taken > 10);
        assert_eq!(
            r,
            Err(CsvError::RaggedRow {
                row: 101,
                got: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn buffers_are_reused_and_errors_leave_the_batch_empty() {
        let mut dec = StreamDecoder::new(DecodeLimits::default());
        let mut b = RecordBatch::new();
        let body = b"a,b\n1,2\n3,4\n";
        assert!(streamed(&mut dec, &mut b, body, &[5]).is_ok());
        assert_eq!(b.len(), 2);
        let e = streamed(&mut dec, &mut b, b"a,b\n1,2,3\n4,5\n", &[3]);
        assert_eq!(
            e,
            Err(CsvError::RaggedRow {
                row: 1,
                got: 3,
                expected: 2
            })
        );
        assert!(b.is_empty());
        assert_eq!(b.column_names().count(), 0);
        assert_eq!(
            streamed(&mut dec, &mut b, body, &[1]),
            whole(body, DecodeLimits::default())
        );
    }

    /// Every row's fields by name (display text and values), for comparing batches whose
    /// texts differ (a body taken in batches has one text per batch).
    type Rows = Vec<Vec<(String, String, Vec<String>)>>;

    fn rows_of(b: &RecordBatch) -> Rows {
        b.rows()
            .map(|r| {
                r.fields()
                    .map(|(n, v)| {
                        let vals = v.values().map(|c| c.into_owned()).collect();
                        (n.to_owned(), v.as_str().to_owned(), vals)
                    })
                    .collect()
            })
            .collect()
    }

    /// Decodes `body` in pieces, taking a batch whenever `every` bytes of text are held.
    fn in_batches(
        dec: &mut StreamDecoder,
        body: &[u8],
        sizes: &[usize],
        every: usize,
    ) -> (Result<Rows, CsvError>, usize) {
        let mut b = RecordBatch::new();
        dec.begin(&mut b, body.len() as u64);
        let (mut rows, mut taken) = (Rows::new(), 0);
        feed(dec, body, sizes, |dec| {
            if dec.text_len() >= every && dec.take_batch(&mut b) {
                assert!(!b.is_empty());
                rows.extend(rows_of(&b));
                taken += 1;
            }
        });
        let r = dec.finish(&mut b).map(|()| {
            rows.extend(rows_of(&b));
            rows
        });
        (r, taken)
    }

    fn csv_like() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![
                b'"', b'"', b'"', b',', b',', b'\n', b'\n', b'\r', b'a', b'b', b'$', b';', 0xc3,
                0xa9, 0xff,
            ]),
            0..120,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn streamed_decode_equals_whole_decode(
            body in csv_like(),
            sizes in prop::collection::vec(1usize..40, 1..6),
            tight in any::<bool>(),
        ) {
            let limits = DecodeLimits { max_field_bytes: if tight { 4 } else { 1 << 20 } };
            let want = whole(&body, limits);
            let mut dec = StreamDecoder::new(limits);
            let mut b = RecordBatch::new();
            prop_assert_eq!(streamed(&mut dec, &mut b, &body, &sizes), want);
        }

        #[test]
        fn batches_taken_on_the_way_hold_the_whole_decodes_rows(
            body in csv_like(),
            sizes in prop::collection::vec(1usize..40, 1..6),
            every in 1usize..60,
        ) {
            let mut whole_batch = RecordBatch::new();
            let want = decode_into_with(&mut whole_batch, body.clone(), &DecodeLimits::default())
                .map(|()| rows_of(&whole_batch));
            let mut dec = StreamDecoder::new(DecodeLimits::default());
            let (got, _) = in_batches(&mut dec, &body, &sizes, every);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn streamed_decode_equals_whole_decode_on_well_formed_rows(
            rows in prop::collection::vec(
                prop::collection::vec("[a-z\",\n\u{e9}]{0,24}", 3), 0..12),
            sizes in prop::collection::vec(1usize..64, 1..6),
        ) {
            let mut body = String::from("_raw,host,__mv_host\n");
            for r in &rows {
                let f: Vec<String> = r.iter().map(|v| format!("\"{}\"", v.replace('"', "\"\""))).collect();
                body.push_str(&f.join(","));
                body.push('\n');
            }
            let want = whole(body.as_bytes(), DecodeLimits::default());
            prop_assert!(want.is_ok());
            let mut dec = StreamDecoder::new(DecodeLimits::default());
            let mut b = RecordBatch::new();
            prop_assert_eq!(streamed(&mut dec, &mut b, body.as_bytes(), &sizes), want);
        }
    }
}
