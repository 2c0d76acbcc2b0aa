//! `scp_csv_body`: arbitrary bytes as an execute body (with `__mv_` companion columns).
//!
//! Properties checked beyond "no panic, no hang":
//! * every accessor works on every decoded row (`fields`, `get`, `values`, `time`);
//! * round trip: when the first decode succeeds, copying every row into an [`Output`]
//!   (`set_value`, so multivalues are kept as they are), encoding, and decoding again gives the
//!   same column names and exactly the same values, for both line endings; encoding is then a
//!   fixpoint (the second encode is byte-identical to the first);
//! * the field-size limit: no decoded field is longer than the limit in force, and a body that
//!   decodes with the default limit either decodes with a tight limit or fails with
//!   `FieldTooLarge`.
//!
//! * streaming: the same bytes fed to `StreamDecoder` in pieces (sizes taken from the input
//!   itself), with batches taken on the way, give the same rows, or the same error, as the
//!   whole-body decode.
//!
//! Excluded from the round trip: logical column names that themselves start with `__mv_`
//! (written back as a plain column they would be read as a companion: a limitation of the
//! protocol's naming, not of the codec).
#![no_main]

use libfuzzer_sys::fuzz_target;
use splunk_scp::csv::{decode, decode_with, encode, DecodeLimits, LineEnding, StreamDecoder};
use splunk_scp::{CsvError, Output, RecordBatch, Value};

type Rows = Vec<Vec<(String, String, Vec<String>, bool)>>;

/// Every field of every row: (name, display, values, is_multi).
fn snapshot(b: &RecordBatch) -> Rows {
    b.rows()
        .map(|r| {
            r.fields()
                .map(|(n, v)| {
                    (
                        n.to_owned(),
                        v.as_str().to_owned(),
                        v.values().map(|c| c.into_owned()).collect(),
                        v.is_multi(),
                    )
                })
                .collect()
        })
        .collect()
}

fn reencode(b: &RecordBatch, eol: LineEnding) -> Vec<u8> {
    let mut out = Output::new();
    for row in b.rows() {
        let mut rec = out.record();
        for (name, v) in row.fields() {
            rec.set_value(name, v);
        }
    }
    let mut body = Vec::new();
    encode(&out, &mut body, eol);
    body
}

/// Decodes `data` piece by piece (piece sizes 1..=64 from the bytes themselves), taking a
/// batch whenever 16 or more bytes of text are held.
fn streamed(data: &[u8]) -> Result<Rows, CsvError> {
    let mut dec = StreamDecoder::new(DecodeLimits::default());
    let mut b = RecordBatch::new();
    dec.begin(&mut b, data.len() as u64);
    let mut rows = Rows::new();
    let mut rest = data;
    let mut k = 0;
    while !rest.is_empty() {
        let n = (usize::from(data[k % data.len()]) % 64 + 1).min(rest.len());
        k += 1;
        dec.push(&rest[..n]);
        rest = &rest[n..];
        if dec.text_len() >= 16 && dec.take_batch(&mut b) {
            rows.extend(snapshot(&b));
        }
    }
    dec.finish(&mut b)?;
    rows.extend(snapshot(&b));
    Ok(rows)
}

fuzz_target!(|data: &[u8]| {
    let whole = decode(data.to_vec());
    match (streamed(data), &whole) {
        (Ok(a), Ok(b)) => assert_eq!(a, snapshot(b), "streamed rows differ"),
        (Err(a), Err(b)) => assert_eq!(&a, b, "streamed error differs"),
        (a, b) => panic!("streamed {a:?}, whole {b:?}"),
    }
    let Ok(batch) = whole else {
        return;
    };
    let rows = snapshot(&batch);
    for (i, row) in batch.rows().enumerate() {
        assert_eq!(row.index(), i);
        let _ = row.time();
        for (name, v) in row.fields() {
            assert_eq!(row.get(name).map(|g| g.as_str()), Some(v.as_str()));
            let id = batch.column(name).expect("listed column resolves");
            assert_eq!(row.get_id(id), row.get(name).unwrap());
        }
    }

    // Field-size limit. Every visible text (names, display values, `__mv_` encodings) is a
    // CSV field, so a limit one below the longest must fail; raising the limit to each
    // reported size must end in success (reported sizes strictly increase).
    let longest = batch
        .rows()
        .flat_map(|r| r.fields().collect::<Vec<_>>())
        .map(|(_, v)| match v {
            Value::Multi(m) => m.display().len().max(m.encoded().len()),
            Value::Single(s) => s.len(),
        })
        .chain(batch.column_names().map(str::len))
        .max()
        .unwrap_or(0);
    if longest > 0 {
        let mut limit = longest - 1;
        let mut failures = 0;
        loop {
            match decode_with(
                data.to_vec(),
                &DecodeLimits {
                    max_field_bytes: limit,
                },
            ) {
                Ok(_) => break,
                Err(CsvError::FieldTooLarge { size, limit: l, .. }) => {
                    assert_eq!(l, limit);
                    assert!(size > limit, "reported size {size} within limit {limit}");
                    limit = size;
                    failures += 1;
                }
                Err(e) => panic!("only the field limit may fail here: {e}"),
            }
        }
        assert!(
            failures > 0,
            "limit below the longest field ({longest}) passed"
        );
    }

    if batch.is_empty() || batch.column_names().any(|n| n.starts_with("__mv_")) {
        return;
    }
    for eol in [LineEnding::CrLf, LineEnding::Lf] {
        let body = reencode(&batch, eol);
        let again = decode(body.clone()).expect("re-encoded body decodes");
        assert_eq!(
            batch.column_names().collect::<Vec<_>>(),
            again.column_names().collect::<Vec<_>>()
        );
        assert_eq!(rows, snapshot(&again), "values changed in the round trip");
        assert_eq!(reencode(&again, eol), body, "encoding is not a fixpoint");
    }
});
