//! `scp_runtime`: a whole request stream through the runtime with a tiny command (or generator),
//! read in arbitrary splits. Must never panic or hang, and must keep the protocol's promises.
//!
//! Input layout: byte 0 = flags, byte 1 = number `k` of split bytes (mod 16), `k` read sizes,
//! then the stream. Flags: bit 0 = structured mode (the rest is decoded with `arbitrary` into
//! requests whose lengths are always right, so the fuzzer explores sessions rather than
//! framing), else raw mode (the rest is the byte stream itself, as in the seed files);
//! bit 1 = generator; bits 2-3 = command type; bit 4 = tiny frame limits; bit 5 = a reply size
//! limit; bit 6 = LF line endings; bit 7 = tiny field limit.
//!
//! Properties checked:
//! * the output is a sequence of complete canonical chunks, nothing else, each with JSON
//!   object metadata, each body decodable;
//! * lock step: a session that did not fail wrote exactly one reply per request read; a failed
//!   one wrote at most one more (its error reply), and that last reply carries `error`,
//!   except when stdin closed while paged output was held (every request answered, the last
//!   reply said `finished:false`);
//! * with a reply size limit, no chunk written is larger than the limit.
#![no_main]

use std::io::{BufReader, Cursor, Read};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use splunk_scp::csv::LineEnding;
use splunk_scp::frame::{FrameLimits, FrameReader};
use splunk_scp::{
    Args, Command, CommandError, CommandInfo, CommandType, Generator, GetInfo, Output, Progress,
    RecordBatch, RunOutcome, Runtime,
};

/// Large enough for any error reply (its text is cut to no less than 512 bytes, which JSON
/// escaping can grow six-fold, and it appears twice).
const REPLY_LIMIT: usize = 8192;

/// Streaming-or-buffering command: echoes rows with a count and a multivalue, can be told to
/// fail in any hook, warns on empty `_raw`.
struct Tiny {
    kind: CommandType,
    fail: Option<String>,
    rows: u64,
}

impl Command for Tiny {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        self.fail = o
            .choice("fail", &["getinfo", "process", "finish"])?
            .map(str::to_owned);
        let decline = o.flag("decline")?.unwrap_or(false);
        o.finish()?;
        if self.fail.as_deref() == Some("getinfo") {
            return Err(CommandError::new("asked to fail in getinfo"));
        }
        let mut info = CommandInfo::new(self.kind).required_fields(args.positional().to_vec());
        info.decline = decline;
        Ok(info)
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        for row in batch.rows() {
            self.rows += 1;
            if self.fail.as_deref() == Some("process") && row.raw() == Some("FAIL") {
                return Err(CommandError::new(format!("row {} said FAIL", row.index())));
            }
            if row.raw() == Some("") {
                out.warn(format!("row {} has an empty _raw", row.index()));
            }
            let n = row.fields().count();
            let first: Vec<String> = row
                .fields()
                .next()
                .map(|(_, v)| v.values().map(|c| c.into_owned()).collect())
                .unwrap_or_default();
            out.passthrough(&row)
                .set("n_fields", n)
                .set_multi("first_values", &first);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        if self.fail.as_deref() == Some("finish") {
            return Err(CommandError::new("asked to fail in finish"));
        }
        out.record().set("rows", self.rows);
        out.info("done");
        Ok(())
    }
}

struct TinyGen {
    left: u64,
}

impl Generator for TinyGen {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        self.left = o.parse::<u64>("count", "an integer")?.unwrap_or(3).min(500);
        o.finish()?;
        Ok(CommandInfo::new(CommandType::Stateful))
    }

    fn generate(&mut self, out: &mut Output, max_rows: usize) -> Result<Progress, CommandError> {
        let n = (max_rows as u64).min(self.left);
        for i in 0..n {
            out.record().set("i", i).set("_raw", "x,\"y\"\nz");
        }
        self.left -= n;
        Ok(if self.left == 0 {
            Progress::Done
        } else {
            Progress::More
        })
    }
}

/// One request of a structured session; lengths are computed when the stream is built.
#[derive(Arbitrary, Debug)]
enum Op {
    Getinfo {
        args: Vec<String>,
        maxresultrows: Option<u8>,
    },
    Execute {
        finished: bool,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        mv: bool,
    },
    RawBody {
        finished: bool,
        body: Vec<u8>,
    },
    RawChunk {
        meta: Vec<u8>,
        body: Vec<u8>,
    },
    Garbage(Vec<u8>),
}

fn chunk(out: &mut Vec<u8>, meta: &[u8], body: &[u8]) {
    out.extend_from_slice(format!("chunked 1.0,{},{}\n", meta.len(), body.len()).as_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(body);
}

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) || v.is_empty() {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn build(ops: &[Op]) -> Vec<u8> {
    let mut s = Vec::new();
    for op in ops {
        match op {
            Op::Getinfo {
                args,
                maxresultrows,
            } => {
                let mut si = serde_json::json!({"args": args, "command": "tiny"});
                if let Some(m) = maxresultrows {
                    si["maxresultrows"] = (*m).into();
                }
                let meta = serde_json::json!({"action": "getinfo", "searchinfo": si});
                chunk(&mut s, meta.to_string().as_bytes(), b"");
            }
            Op::Execute {
                finished,
                header,
                rows,
                mv,
            } => {
                let mut body = String::new();
                let width = header.len();
                for (i, h) in header.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    csv_field(&mut body, if *mv && i % 2 == 1 { "__mv_x" } else { h });
                }
                body.push('\n');
                for r in rows {
                    for i in 0..width {
                        if i > 0 {
                            body.push(',');
                        }
                        csv_field(&mut body, r.get(i).map_or("", String::as_str));
                    }
                    body.push('\n');
                }
                let meta = format!("{{\"action\":\"execute\",\"finished\":{finished}}}");
                chunk(&mut s, meta.as_bytes(), body.as_bytes());
            }
            Op::RawBody { finished, body } => {
                let meta = format!("{{\"action\":\"execute\",\"finished\":{finished}}}");
                chunk(&mut s, meta.as_bytes(), body);
            }
            Op::RawChunk { meta, body } => chunk(&mut s, meta, body),
            Op::Garbage(g) => s.extend_from_slice(g),
        }
    }
    s
}

struct Splitter<'a> {
    data: &'a [u8],
    splits: &'a [u8],
    i: usize,
}

impl Read for Splitter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let cap = if self.splits.is_empty() {
            usize::MAX
        } else {
            (self.splits[self.i % self.splits.len()] as usize).max(1)
        };
        self.i += 1;
        let n = cap.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Strict reply parser, independent of the crate's reader: canonical headers only.
fn parse_replies(mut d: &[u8]) -> Vec<(serde_json::Value, Vec<u8>, usize)> {
    let mut out = Vec::new();
    while !d.is_empty() {
        let nl = d.iter().position(|&b| b == b'\n').expect("header line");
        let line = std::str::from_utf8(&d[..nl]).expect("UTF-8 header");
        let rest = line.strip_prefix("chunked 1.0,").expect("canonical header");
        let (m, b) = rest.split_once(',').expect("two lengths");
        let (m, b): (usize, usize) = (m.parse().unwrap(), b.parse().unwrap());
        let total = nl + 1 + m + b;
        assert!(d.len() >= total, "partial reply chunk");
        let meta: serde_json::Value =
            serde_json::from_slice(&d[nl + 1..nl + 1 + m]).expect("reply metadata is JSON");
        assert!(meta.is_object(), "reply metadata is an object");
        out.push((meta, d[nl + 1 + m..total].to_vec(), total));
        d = &d[total..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let flags = data[0];
    let k = (data[1] % 16) as usize;
    if data.len() < 2 + k {
        return;
    }
    let splits = &data[2..2 + k];
    let rest = &data[2 + k..];
    let stream = if flags & 1 == 1 {
        let mut u = Unstructured::new(rest);
        match Vec::<Op>::arbitrary(&mut u) {
            Ok(ops) => build(&ops),
            Err(_) => return,
        }
    } else {
        rest.to_vec()
    };

    let limits = if flags & 16 != 0 {
        FrameLimits {
            max_metadata: 512,
            max_body: 2048,
        }
    } else {
        FrameLimits::default()
    };
    let mut rt = Runtime::new().limits(limits);
    if flags & 32 != 0 {
        rt = rt.max_reply_bytes(Some(REPLY_LIMIT));
    }
    if flags & 64 != 0 {
        rt = rt.line_ending(LineEnding::Lf);
    }
    if flags & 128 != 0 {
        rt = rt.max_field_bytes(16);
    }
    let input = BufReader::with_capacity(
        7,
        Splitter {
            data: &stream,
            splits,
            i: 0,
        },
    );
    let mut out = Vec::new();
    let mut log = Vec::new();
    let outcome = if flags & 2 != 0 {
        rt.run_generator_io(&mut TinyGen { left: 0 }, input, &mut out, &mut log)
    } else {
        let kind = [
            CommandType::Streaming,
            CommandType::Stateful,
            CommandType::Events,
            CommandType::Reporting,
        ][((flags >> 2) & 3) as usize];
        let mut cmd = Tiny {
            kind,
            fail: None,
            rows: 0,
        };
        rt.run_io(&mut cmd, input, &mut out, &mut log)
    };

    // Requests the runtime could have read (same limits, independent pass).
    let mut fr = FrameReader::with_limits(Cursor::new(&stream), limits);
    let (mut m, mut b) = (Vec::new(), Vec::new());
    let mut requests = 0usize;
    while let Ok(Some(_)) = fr.read_chunk(&mut m, &mut b) {
        requests += 1;
    }

    let replies = parse_replies(&out);
    for (meta, body, size) in &replies {
        if flags & 32 != 0 {
            assert!(*size <= REPLY_LIMIT, "reply of {size} bytes over the limit");
        }
        if meta.get("error").is_none() {
            splunk_scp::csv::decode(body.clone()).expect("reply body decodes");
        }
    }
    match &outcome {
        RunOutcome::Failed(text) => {
            assert!(replies.len() <= requests + 1, "more replies than requests");
            assert!(!text.is_empty());
            if let Some((last, _, _)) = replies.last() {
                // Legacy v1 headers get no v2 reply at all, so a last reply exists only if the
                // runtime wrote the error reply or had answered earlier requests.
                // (Matched by its start: other errors may quote request text, which can say
                // anything.)
                if text.starts_with("splunkd closed stdin after")
                    && text.contains("of output not yet sent")
                {
                    // stdin closed while paged output was still held: every request was
                    // answered, there is no request left to carry an error reply.
                    assert_eq!(replies.len(), requests, "not one reply per request");
                    assert_eq!(last.get("finished"), Some(&serde_json::Value::Bool(false)));
                } else if !text.contains("chunked = true is missing") {
                    assert!(last.get("error").is_some(), "failed without an error reply");
                }
            }
        }
        RunOutcome::NoInput => assert!(replies.is_empty()),
        RunOutcome::Probe | RunOutcome::Completed => {
            assert_eq!(replies.len(), requests, "not one reply per request");
            assert!(replies.iter().all(|(m, _, _)| m.get("error").is_none()));
        }
    }
});
