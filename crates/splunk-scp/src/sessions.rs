//! Randomised lock-step sessions against a real command binary (feature `testing`).
//!
//! A [`Plan`] is one session as splunkd could run it: getinfo arguments, `maxresultrows`,
//! the input rows (single values, multivalues, empty fields) and how they are cut into
//! execute chunks (random sizes up to `maxresultrows`, header-only and empty chunks
//! mid-stream, `finished:true` on the last data chunk (Splunk 6.3/8.0) or on a trailing
//! header-only chunk (8.2), `_chunked_idx` per chunk). [`drive`] plays it against a spawned
//! binary and checks every reply on the way:
//! * exactly one reply per request, metadata `finished` a boolean, no `error`, a body that
//!   decodes; no request after a `finished:true` reply; extra header-only `finished:true`
//!   requests while the command pages its output (as splunkd keeps asking);
//! * for non-generating streaming/stateful commands given `_chunked_idx`: every output row
//!   of a chunk's reply carries one of that chunk's indexes, strictly increasing; for the
//!   other types no reply holds more than `maxresultrows` records;
//! * exit status 0 and nothing written after the last reply.
//!
//! [`check`] drives a plan and the same input as one chunk, and requires the same records
//! (fields compared by name with their value lists; empty fields and the given `ignore`
//! fields, e.g. `_time` of a generator, left out).

use std::collections::BTreeMap;
use std::path::Path;

use crate::csv::encode_mv;
use crate::testing::{chunk, getinfo_with, Proc, Reply};

/// A small, fast, seedable PRNG (SplitMix64): sessions are reproducible from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A field's values: none (empty), one, or several (a multivalue).
pub type Cell = Vec<String>;

/// One execute request of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkPlan {
    /// The next `n` rows (n ≥ 1).
    Rows(usize),
    /// A body holding only the header row.
    HeaderOnly,
    /// No body at all (`B = 0`).
    Empty,
}

/// One session.
#[derive(Debug, Clone)]
pub struct Plan {
    /// getinfo `args`.
    pub args: Vec<String>,
    /// getinfo `maxresultrows`.
    pub maxresultrows: u64,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<Cell>>,
    /// The execute requests; the last one carries `finished:true`.
    pub chunks: Vec<ChunkPlan>,
    /// Whether bodies carry `_chunked_idx` (splunkd's selected-fields mode).
    pub chunked_idx: bool,
}

/// Text pieces for random values: separators, quotes, line breaks, `$`, unicode.
const PIECES: &[&str] = &[
    "a", "b", "Zoë", "测试", "x y", ",", "\"", "\n", "\r\n", "$", "$$", ";", "1", "-2.5",
    "é,\"q\"", "🙂", " ", "=", "\\", "\t",
];

/// A random value of 0..6 pieces.
pub fn random_value(rng: &mut Rng) -> String {
    let n = rng.below(6);
    (0..n).map(|_| *rng.pick(PIECES)).collect()
}

/// A random cell: usually one value, sometimes none or a multivalue of 2..4 values.
pub fn random_cell(rng: &mut Rng) -> Cell {
    match rng.below(10) {
        0 => Vec::new(),
        1 | 2 => (0..2 + rng.below(3)).map(|_| random_value(rng)).collect(),
        _ => vec![random_value(rng)],
    }
}

/// `n` random rows over `ncols` columns named `f0`, `f1`, ...
pub fn random_rows(rng: &mut Rng, ncols: usize, n: usize) -> (Vec<String>, Vec<Vec<Cell>>) {
    let header = (0..ncols).map(|i| format!("f{i}")).collect();
    let rows = (0..n)
        .map(|_| (0..ncols).map(|_| random_cell(rng)).collect())
        .collect();
    (header, rows)
}

impl Plan {
    /// A random cutting of `rows` into chunks of 1..=`maxresultrows` rows, with header-only
    /// and empty chunks mixed in, and one of splunkd's two finish styles.
    pub fn random(
        rng: &mut Rng,
        args: Vec<String>,
        maxresultrows: u64,
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
        chunked_idx: bool,
    ) -> Plan {
        let max = maxresultrows.max(1) as usize;
        let mut chunks = Vec::new();
        let mut left = rows.len();
        while left > 0 {
            if rng.chance(1, 6) {
                chunks.push(if rng.chance(1, 2) {
                    ChunkPlan::HeaderOnly
                } else {
                    ChunkPlan::Empty
                });
            }
            let n = 1 + rng.below(left.min(max));
            chunks.push(ChunkPlan::Rows(n));
            left -= n;
        }
        // 8.2 style: a trailing header-only finished chunk; otherwise the last data chunk
        // carries finished:true (and a session without rows gets one empty request).
        if chunks.is_empty() || rng.chance(1, 2) {
            chunks.push(ChunkPlan::HeaderOnly);
        }
        Plan {
            args,
            maxresultrows,
            header,
            rows,
            chunks,
            chunked_idx,
        }
    }

    /// The same input as one chunk with `finished:true` (`maxresultrows` raised to hold it).
    pub fn single_chunk(&self) -> Plan {
        let n = self.rows.len();
        Plan {
            args: self.args.clone(),
            maxresultrows: self.maxresultrows.max(n as u64),
            header: self.header.clone(),
            rows: self.rows.clone(),
            chunks: vec![if n == 0 {
                ChunkPlan::HeaderOnly
            } else {
                ChunkPlan::Rows(n)
            }],
            chunked_idx: self.chunked_idx,
        }
    }

    /// The body of rows `rows` the way splunkd writes it: plain columns, then every `__mv_`
    /// companion, every non-alphanumeric non-empty value quoted, LF terminators.
    fn body(&self, rows: &[Vec<Cell>]) -> String {
        fn q(v: &str) -> String {
            if v.is_empty() || v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                v.to_owned()
            } else {
                format!("\"{}\"", v.replace('"', "\"\""))
            }
        }
        let mut names: Vec<String> = self.header.clone();
        if self.chunked_idx {
            names.push("_chunked_idx".into());
        }
        let mut cols: Vec<String> = names.iter().map(|h| q(h)).collect();
        cols.extend(names.iter().map(|h| q(&format!("__mv_{h}"))));
        let mut s = cols.join(",");
        s.push('\n');
        for (i, r) in rows.iter().enumerate() {
            let mut plain = Vec::with_capacity(names.len());
            let mut mv = Vec::with_capacity(names.len());
            for c in r {
                match c.len() {
                    0 => {
                        plain.push(String::new());
                        mv.push(String::new());
                    }
                    1 => {
                        plain.push(q(&c[0]));
                        mv.push(String::new());
                    }
                    _ => {
                        plain.push(q(&c.join("\n")));
                        mv.push(q(&encode_mv(c)));
                    }
                }
            }
            if self.chunked_idx {
                plain.push(i.to_string());
                mv.push(String::new());
            }
            plain.extend(mv);
            s.push_str(&plain.join(","));
            s.push('\n');
        }
        s
    }
}

/// One output record: field name → values (empty fields left out).
pub type Record = BTreeMap<String, Vec<String>>;

/// What a driven session produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The getinfo reply's `type`.
    pub command_type: String,
    /// Whether the command is generating.
    pub generating: bool,
    /// Every output record, in order, `_chunked_idx` left out.
    pub records: Vec<Record>,
    /// Execute requests sent.
    pub requests: usize,
}

fn records_of(r: &Reply) -> Result<Vec<Record>, String> {
    let b = crate::csv::decode(r.body.clone()).map_err(|e| format!("reply body: {e}"))?;
    Ok(b.rows()
        .map(|row| {
            row.fields()
                .filter_map(|(n, v)| {
                    let vals: Vec<String> = v.values().map(|c| c.into_owned()).collect();
                    let empty = vals.iter().all(String::is_empty) && vals.len() <= 1;
                    (!empty).then(|| (n.to_owned(), vals))
                })
                .collect()
        })
        .collect())
}

fn execute_chunk(finished: bool, body: &str) -> Vec<u8> {
    chunk(
        format!("{{\"action\":\"execute\",\"finished\":{finished}}}").as_bytes(),
        body.as_bytes(),
    )
}

/// Plays `plan` against the binary `exe` (with `argv`) and checks every reply; returns
/// what it produced, or what went wrong.
pub fn drive(exe: &Path, argv: &[&str], plan: &Plan) -> Result<Outcome, String> {
    let mut p = Proc::spawn_exe(exe, argv);
    let args: Vec<&str> = plan.args.iter().map(String::as_str).collect();
    let info = p.exchange(&getinfo_with(&args, plan.maxresultrows));
    if let Some(e) = info.error() {
        return Err(format!("getinfo error: {e}"));
    }
    let mut out = Outcome {
        command_type: info.meta["type"].as_str().unwrap_or("streaming").to_owned(),
        generating: info.meta["generating"].as_bool().unwrap_or(false),
        ..Outcome::default()
    };
    let per_chunk =
        !out.generating && matches!(out.command_type.as_str(), "streaming" | "stateful");
    let mut next = 0usize;
    let mut done = false;
    let last = plan.chunks.len().saturating_sub(1);
    for (k, c) in plan.chunks.iter().enumerate() {
        let finished = k == last;
        let (req, n) = match c {
            ChunkPlan::Rows(n) => {
                let rows = &plan.rows[next..next + n];
                next += n;
                (execute_chunk(finished, &plan.body(rows)), *n)
            }
            ChunkPlan::HeaderOnly => (execute_chunk(finished, &plan.body(&[])), 0),
            ChunkPlan::Empty => (execute_chunk(finished, ""), 0),
        };
        let r = p.exchange(&req);
        out.requests += 1;
        done = check_reply(&r, per_chunk && plan.chunked_idx, n, &mut out)?;
        check_page(&r, per_chunk, plan.maxresultrows)?;
        if done {
            break;
        }
    }
    // splunkd keeps asking while the command answers finished:false.
    let mut extra = 0usize;
    while !done {
        extra += 1;
        if extra > 100_000 {
            return Err("command never answered finished:true".into());
        }
        let r = p.exchange(&execute_chunk(true, &plan.body(&[])));
        out.requests += 1;
        done = check_reply(&r, false, 0, &mut out)?;
        check_page(&r, per_chunk, plan.maxresultrows)?;
    }
    let (code, trailing, stderr) = p.finish();
    if code != 0 || !trailing.is_empty() {
        return Err(format!(
            "exit {code}, {} byte(s) after the last reply; stderr: {stderr}",
            trailing.len()
        ));
    }
    Ok(out)
}

/// Paged output (events, reporting, generators) never exceeds `maxresultrows` per reply.
fn check_page(r: &Reply, per_chunk: bool, maxresultrows: u64) -> Result<(), String> {
    let n = records_of(r)?.len();
    if !per_chunk && n as u64 > maxresultrows {
        return Err(format!(
            "reply of {n} records over maxresultrows={maxresultrows}"
        ));
    }
    Ok(())
}

/// Checks one reply; appends its records; returns its `finished`.
fn check_reply(r: &Reply, idx: bool, n: usize, out: &mut Outcome) -> Result<bool, String> {
    if let Some(e) = r.error() {
        return Err(format!("error reply: {e}"));
    }
    let finished = r
        .finished()
        .ok_or_else(|| format!("reply without a boolean finished: {}", r.raw_meta))?;
    let mut recs = records_of(r)?;
    if idx {
        let mut prev: Option<usize> = None;
        for rec in &recs {
            let i: usize = rec
                .get("_chunked_idx")
                .and_then(|v| v.first())
                .and_then(|v| v.parse().ok())
                .ok_or("output row without _chunked_idx")?;
            if i >= n || prev.is_some_and(|p| p >= i) {
                return Err(format!(
                    "_chunked_idx {i} out of order or range (chunk of {n})"
                ));
            }
            prev = Some(i);
        }
    }
    for rec in &mut recs {
        rec.remove("_chunked_idx");
    }
    out.records.extend(recs);
    Ok(finished)
}

/// Drives `plan` and its single-chunk form; fails unless both produce the same records
/// (fields in `ignore` left out of the comparison).
pub fn check(exe: &Path, argv: &[&str], plan: &Plan, ignore: &[&str]) -> Result<Outcome, String> {
    let chunked = drive(exe, argv, plan)?;
    let single =
        drive(exe, argv, &plan.single_chunk()).map_err(|e| format!("single chunk: {e}"))?;
    let strip = |recs: &[Record]| -> Vec<Record> {
        recs.iter()
            .map(|r| {
                r.iter()
                    .filter(|(k, _)| !ignore.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .collect()
    };
    let (a, b) = (strip(&chunked.records), strip(&single.records));
    if a != b {
        let at = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        return Err(format!(
            "chunked run gave {} record(s), single chunk {}; first difference at record {at}: \
             {:?} vs {:?}",
            a.len(),
            b.len(),
            a.get(at),
            b.get(at)
        ));
    }
    Ok(chunked)
}
