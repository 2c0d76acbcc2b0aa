//! Property tests of the body codec and the framing: round trips of arbitrary records and
//! arbitrary splitting of the input stream into short reads.

mod scp_emulator;

use std::io::{BufReader, Cursor, Read};

use proptest::prelude::*;
use splunk_scp::csv::{decode, encode, encode_mv, LineEnding};
use splunk_scp::frame::{write_chunk, FrameReader};
use splunk_scp::{
    Args, Command, CommandError, CommandInfo, CommandType, GetInfo, MultiValue, Output,
    RecordBatch, Runtime, Value,
};

#[derive(Debug, Clone)]
enum Field {
    Single(String),
    Multi(Vec<String>),
}

/// Strings rich in the characters the codec must escape.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('$'),
            Just(';'),
            Just('"'),
            Just(','),
            Just('\n'),
            Just('\r'),
            Just(' '),
            Just('ë'),
            Just('ท'),
            Just('测'),
            Just('😀'),
            Just('a'),
            Just('_'),
            Just('9'),
            any::<char>(),
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn name() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty, not an __mv_ companion", |s| {
        !s.is_empty() && !s.starts_with("__mv_")
    })
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        3 => text().prop_map(Field::Single),
        1 => prop::collection::vec(text(), 2..5).prop_map(Field::Multi),
    ]
}

fn records() -> impl Strategy<Value = Vec<Vec<(String, Field)>>> {
    let names = prop::collection::vec(name(), 1..6).prop_map(|mut v| {
        // Distinct names: a record sets each field once.
        let mut seen = std::collections::HashSet::new();
        v.retain(|n| seen.insert(n.clone()));
        v
    });
    names.prop_flat_map(|names| {
        let n = names.len();
        prop::collection::vec(prop::collection::vec((0..n, field()), 0..n + 1), 1..8).prop_map(
            move |recs| {
                recs.into_iter()
                    .map(|fs| {
                        let mut seen = std::collections::HashSet::new();
                        fs.into_iter()
                            .filter(|(i, _)| seen.insert(*i))
                            .map(|(i, f)| (names[i].clone(), f))
                            .collect()
                    })
                    .collect()
            },
        )
    })
}

fn values(v: &Value<'_>) -> Vec<String> {
    v.values().map(|c| c.into_owned()).collect()
}

proptest! {
    #[test]
    fn records_round_trip(recs in records(), crlf in any::<bool>()) {
        let mut out = Output::new();
        for r in &recs {
            let mut b = out.record();
            for (n, f) in r {
                match f {
                    Field::Single(s) => { b.set(n, s.as_str()); }
                    Field::Multi(v) => { b.set_multi(n, v); }
                }
            }
        }
        let mut body = Vec::new();
        encode(&out, &mut body, if crlf { LineEnding::CrLf } else { LineEnding::Lf });
        let columns: Vec<String> = out.column_names().map(str::to_owned).collect();
        if columns.is_empty() {
            prop_assert!(body.is_empty());
            return Ok(());
        }
        let batch = decode(body).expect("our own output decodes");
        prop_assert_eq!(batch.len(), recs.len());
        prop_assert_eq!(batch.column_names().map(str::to_owned).collect::<Vec<_>>(), columns.clone());
        for (i, r) in recs.iter().enumerate() {
            let row = batch.row(i);
            for c in &columns {
                let got = row.get(c).expect("every union column is present");
                match r.iter().find(|(n, _)| n == c).map(|x| &x.1) {
                    None => prop_assert_eq!(got, Value::Single("")),
                    Some(Field::Single(s)) => prop_assert_eq!(got, Value::Single(s.as_str())),
                    Some(Field::Multi(v)) => {
                        prop_assert!(got.is_multi());
                        prop_assert_eq!(&values(&got), v);
                        prop_assert_eq!(got.as_str(), v.join("\n"));
                    }
                }
            }
        }
    }

    #[test]
    fn multivalue_encoding_round_trips(v in prop::collection::vec(text(), 1..6)) {
        let enc = encode_mv(&v);
        let mv = MultiValue::parse(&enc, "").expect("well-formed");
        prop_assert_eq!(values(&Value::Multi(mv)), v);
    }

    #[test]
    fn decoder_never_panics(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(body);
    }

    #[test]
    fn decoder_never_panics_on_csv_like_bytes(body in prop::collection::vec(
        prop_oneof![Just(b'"'), Just(b','), Just(b'\n'), Just(b'\r'), Just(b'$'), Just(b'a'), Just(0xff), Just(b'_')], 0..200)) {
        if let Ok(b) = decode(body) {
            for r in b.rows() {
                for (_, v) in r.fields() {
                    let _ = values(&v);
                }
            }
        }
    }

    #[test]
    fn frames_survive_arbitrary_read_splitting(
        chunks in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..64), prop::collection::vec(any::<u8>(), 0..300)), 1..6),
        seed in any::<u64>(),
        cap in 1usize..64,
    ) {
        let mut stream = Vec::new();
        for (m, b) in &chunks {
            write_chunk(&mut stream, m, b).unwrap();
        }
        let mut r = FrameReader::new(BufReader::with_capacity(cap, ShortReads::new(stream, seed)));
        let (mut m, mut b) = (Vec::new(), Vec::new());
        for (em, eb) in &chunks {
            prop_assert!(r.read_chunk(&mut m, &mut b).unwrap().is_some());
            prop_assert_eq!(&m, em);
            prop_assert_eq!(&b, eb);
        }
        prop_assert!(r.read_chunk(&mut m, &mut b).unwrap().is_none());
    }

    #[test]
    fn sessions_are_identical_under_short_reads(seed in any::<u64>(), cap in 1usize..32, rows in 1usize..40) {
        let body: String = std::iter::once("\"_raw\",v\n".to_owned())
            .chain((0..rows).map(|i| format!("\"ev \"\"{i}\"\",ท\",{i}\n")))
            .collect();
        let input = [
            scp_emulator::getinfo(&[]),
            scp_emulator::execute(false, &body),
            scp_emulator::execute(false, ""),
            scp_emulator::execute(true, &body),
        ].concat();
        let whole = run(Cursor::new(input.clone()));
        let split = run(BufReader::with_capacity(cap, ShortReads::new(input, seed)));
        prop_assert_eq!(whole, split);
    }
}

/// A reader that returns between 1 and 7 bytes per call, chosen by a seeded xorshift.
struct ShortReads {
    data: Vec<u8>,
    pos: usize,
    state: u64,
}

impl ShortReads {
    fn new(data: Vec<u8>, seed: u64) -> Self {
        ShortReads {
            data,
            pos: 0,
            state: seed | 1,
        }
    }
}

impl Read for ShortReads {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let n = (1 + (self.state % 7) as usize)
            .min(buf.len())
            .min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Echoes `_raw` and `v` back with a running count.
#[derive(Default)]
struct Echo {
    seen: usize,
}

impl Command for Echo {
    fn getinfo(&mut self, _: &GetInfo, _: &Args) -> Result<CommandInfo, CommandError> {
        Ok(CommandInfo::new(CommandType::Stateful))
    }
    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        for row in batch.rows() {
            self.seen += 1;
            out.passthrough(&row).set("seen", self.seen);
        }
        Ok(())
    }
}

fn run<R: std::io::BufRead + Send>(input: R) -> Vec<u8> {
    let mut out = Vec::new();
    let outcome =
        Runtime::new().run_io(&mut Echo::default(), input, &mut out, &mut std::io::sink());
    assert_eq!(outcome.exit_code(), 0);
    out
}

proptest! {
    /// Garbage after a valid getinfo: the runtime never panics and every byte it writes is a
    /// well-formed reply; a fatal error is the last reply.
    #[test]
    fn runtime_survives_garbage(tail in prop::collection::vec(
        prop_oneof![
            Just(b"chunked 1.0,".to_vec()), Just(b"36,".to_vec()), Just(b"{\"action\":\"execute\",\"finished\":true}".to_vec()),
            Just(b"\n".to_vec()), Just(b"_raw,v\n".to_vec()), Just(b"\"x".to_vec()), Just(b"9".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ], 0..12).prop_map(|v| v.concat()))
    {
        let input = [scp_emulator::getinfo(&[]), tail].concat();
        let mut out = Vec::new();
        let outcome = Runtime::new().run_io(&mut Echo::default(), Cursor::new(input), &mut out, &mut std::io::sink());
        let (replies, rest) = scp_emulator::parse_replies(&out);
        prop_assert!(rest.is_empty());
        prop_assert!(!replies.is_empty());
        if outcome.exit_code() != 0 {
            prop_assert!(replies.last().unwrap().error().is_some());
        }
    }
}

/// A v1-looking line after a v2 getinfo is garbage from a v2 peer, not a v1 peer: it gets an
/// error reply (proptest found `A:\n` leaving splunkd without one).
#[test]
fn v1_looking_line_after_getinfo_gets_an_error_reply() {
    for tail in [&b"A:\n"[..], b"9:\n", b"key:value\n"] {
        let input = [scp_emulator::getinfo(&[]), tail.to_vec()].concat();
        let mut out = Vec::new();
        let outcome = Runtime::new().run_io(
            &mut Echo::default(),
            Cursor::new(input),
            &mut out,
            &mut std::io::sink(),
        );
        let (replies, rest) = scp_emulator::parse_replies(&out);
        assert!(rest.is_empty());
        assert_ne!(outcome.exit_code(), 0);
        assert_eq!(replies.len(), 2, "{tail:?}");
        assert!(replies[1].error().is_some(), "{tail:?}");
    }
}

/// Long fields dense in quotes (JSON `_raw` has one every few bytes; empty JSON strings and
/// `\"` escapes make runs of three and four): runs of every length at every offset of the
/// sixteen-byte unescape, with the fields after them intact.
fn quote_dense() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => Just('"'),
            4 => Just('a'),
            1 => Just(','),
            1 => Just('\n'),
            1 => Just('é'),
            1 => Just('\\'),
        ],
        0..160,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn quote_dense_fields_round_trip(
        rows in prop::collection::vec((quote_dense(), quote_dense(), 0usize..20), 1..6)
    ) {
        let mut body = String::from("a,b,c\n");
        for (a, b, pad) in &rows {
            body.push_str(&format!(
                "\"{}\",\"{}\",{}\n",
                a.replace('"', "\"\""),
                b.replace('"', "\"\""),
                "x".repeat(*pad)
            ));
        }
        let batch = decode(body.into_bytes()).expect("well-formed CSV");
        prop_assert_eq!(batch.len(), rows.len());
        for (i, (a, b, pad)) in rows.iter().enumerate() {
            let row = batch.row(i);
            prop_assert_eq!(row.str("a"), Some(a.as_str()));
            prop_assert_eq!(row.str("b"), Some(b.as_str()));
            let x = "x".repeat(*pad);
            prop_assert_eq!(row.str("c"), Some(x.as_str()));
        }
    }
}
