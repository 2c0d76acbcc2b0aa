//! Stage 3 (Avro): Azure Event Hubs Capture files.
//!
//! Capture writes Avro object containers (null, deflate or snappy blocks) whose records
//! have the schema `SequenceNumber, Offset, EnqueuedTimeUtc, SystemProperties, Properties,
//! Body`; `Body` holds the message as sent, for Azure diagnostic settings a
//! `{"records":[...]}` JSON document (possibly gzip-compressed). Each body is decoded by
//! the `json` stage like a file of its own; its events and problems are located by message
//! number (1-based) and line inside the body.
//!
//! A corrupt or truncated container is an input problem (the messages before the break
//! are kept); a message without a `bytes` `Body` is a malformed record.

use std::io::Read;

use apache_avro::types::Value;
use flate2::read::MultiGzDecoder;

use super::ctx::{At, Ctx};
use super::{json, ProblemKind, Sink};

pub(super) fn read<R: Read, S: Sink>(ctx: &mut Ctx<'_, S>, r: R) {
    let reader = match apache_avro::Reader::new(r) {
        Ok(r) => r,
        Err(e) => {
            ctx.input_problem(
                At::default(),
                ProblemKind::BadAvro,
                format!("not a readable Avro container: {e}"),
            );
            return;
        }
    };
    let mut n = 0u64;
    for value in reader {
        n += 1;
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                ctx.message = None;
                ctx.input_problem(
                    At::default(),
                    ProblemKind::BadAvro,
                    format!(
                        "corrupt or truncated Avro data after {} message{}: {e}",
                        n - 1,
                        if n == 2 { "" } else { "s" }
                    ),
                );
                return;
            }
        };
        ctx.message = Some(n);
        ctx.values += 1;
        match body(&value) {
            Some(b) => decode_body(ctx, b),
            None => ctx.record_problem(
                At::default(),
                ProblemKind::BadAvro,
                "message has no bytes field `Body` (not the Event Hubs Capture schema)".into(),
            ),
        }
        ctx.message = None;
    }
}

/// Decodes one message body: JSON text (a UTF-8 byte order mark allowed), or gzip of it.
fn decode_body<S: Sink>(ctx: &mut Ctx<'_, S>, body: &[u8]) {
    let saved = std::mem::replace(&mut ctx.gzip, false);
    let text = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if body.starts_with(&[0x1f, 0x8b]) {
        ctx.gzip = true;
        json::read(ctx, MultiGzDecoder::new(body));
    } else if matches!(first, Some(b'{' | b'[')) {
        json::read(ctx, text);
    } else if first.is_some() {
        ctx.record_problem(
            At::default(),
            ProblemKind::UnknownFormat,
            "message body is not JSON (expected {\"records\":[...]})".into(),
        );
    }
    ctx.gzip = saved;
}

/// The `Body` bytes of a Capture record (also inside a `["null","bytes"]` union).
fn body(v: &Value) -> Option<&[u8]> {
    let Value::Record(fields) = v else {
        return None;
    };
    let (_, b) = fields.iter().find(|(k, _)| k == "Body")?;
    match b {
        Value::Bytes(b) | Value::Fixed(_, b) => Some(b),
        Value::Union(_, inner) => match inner.as_ref() {
            Value::Bytes(b) => Some(b),
            _ => None,
        },
        _ => None,
    }
}
