//! Drives the spawned `t1651detect` binary the way splunkd does: events become CSV chunks
//! (union header, plain columns then `__mv_` companions, multivalues `$a$;$b$`-encoded,
//! every non-alphanumeric value quoted, LF terminators), sessions run getinfo + execute in
//! lock step with either finish style, and replies are decoded with their multivalues.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;

use crate::scp_emulator::{chunk, execute, getinfo, Proc, Reply};

/// One event as splunkd holds it: field name → values (≥ 2 values = multivalue).
pub type Event = BTreeMap<String, Vec<String>>;

/// A decoded output record: column → values (an empty field has no values).
pub type Record = BTreeMap<String, Vec<String>>;

pub fn exe() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_t1651detect").into()
}

/// Splunk's `_time` for an ISO time (`2026-03-14T02:11:05Z` → `1773454265`, with a fraction).
pub fn epoch(iso: &str) -> String {
    let t = t1651::detect::time::parse_iso(iso).expect("ISO time") as f64 / 1e6;
    format!("{t:.3}")
}

/// Flattens JSON the way Splunk's JSON extraction names fields: `a.b`, arrays as `a{}`
/// (multivalue), objects inside arrays as `a{}.b`.
pub fn flatten(json: &str) -> Event {
    fn walk(prefix: &str, v: &Value, out: &mut Event) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            Value::Array(a) => {
                for v in a {
                    walk(&format!("{prefix}{{}}"), v, out);
                }
            }
            Value::Null => {}
            Value::String(s) => out.entry(prefix.to_owned()).or_default().push(s.clone()),
            other => out
                .entry(prefix.to_owned())
                .or_default()
                .push(other.to_string()),
        }
    }
    let mut out = Event::new();
    walk(
        "",
        &serde_json::from_str(json).expect("fixture JSON"),
        &mut out,
    );
    out
}

/// A JSON event as indexed: `_raw` = the JSON, `_time`, `sourcetype`, plus the extracted
/// fields (search-time JSON extraction), as splunkd sends it.
pub fn json_event(raw: &str, sourcetype: &str, time_iso: &str) -> Event {
    let mut e = flatten(raw);
    e.insert("_raw".into(), vec![raw.to_owned()]);
    e.insert("_time".into(), vec![epoch(time_iso)]);
    e.insert("sourcetype".into(), vec![sourcetype.to_owned()]);
    e
}

/// The same facts as flattened fields only: `_raw` is not JSON (a key=value rendering, as
/// a non-JSON sourcetype would hold).
pub fn flat_event(raw: &str, sourcetype: &str, time_iso: &str) -> Event {
    let mut e = flatten(raw);
    let kv: Vec<String> = e
        .iter()
        .take(4)
        .map(|(k, v)| format!("{k}={}", v.join("|")))
        .collect();
    e.insert("_raw".into(), vec![kv.join(" ")]);
    e.insert("_time".into(), vec![epoch(time_iso)]);
    e.insert("sourcetype".into(), vec![sourcetype.to_owned()]);
    e
}

/// An event with only `_raw` and `_time` (e.g. broken JSON).
pub fn raw_only(raw: &str, time_iso: &str) -> Event {
    let mut e = Event::new();
    e.insert("_raw".into(), vec![raw.to_owned()]);
    e.insert("_time".into(), vec![epoch(time_iso)]);
    e
}

fn quote(v: &str) -> String {
    if v.is_empty() || v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        v.to_owned()
    } else {
        format!("\"{}\"", v.replace('"', "\"\""))
    }
}

fn mv_encode(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("${}$", v.replace('$', "$$")))
        .collect::<Vec<_>>()
        .join(";")
}

/// A splunkd request body for `events` (union of their fields; `_chunked_idx` added when
/// `chunked_idx`). Header-only when `events` is empty and `header` is given.
pub fn body(events: &[Event], header: &[&str], chunked_idx: bool) -> String {
    let mut names: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    for e in events {
        for k in e.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    if chunked_idx {
        names.push("_chunked_idx".into());
    }
    let mut cols: Vec<String> = names.iter().map(|n| quote(n)).collect();
    cols.extend(names.iter().map(|n| quote(&format!("__mv_{n}"))));
    let mut s = cols.join(",");
    s.push('\n');
    for (i, e) in events.iter().enumerate() {
        let mut plain = Vec::new();
        let mut mv = Vec::new();
        for n in &names {
            let vals = if n == "_chunked_idx" && chunked_idx {
                vec![i.to_string()]
            } else {
                e.get(n).cloned().unwrap_or_default()
            };
            plain.push(quote(&vals.join("\n")));
            mv.push(if vals.len() >= 2 {
                quote(&mv_encode(&vals))
            } else {
                String::new()
            });
        }
        plain.extend(mv);
        s.push_str(&plain.join(","));
        s.push('\n');
    }
    s
}

/// Decodes a reply body into records with multivalues.
pub fn records(r: &Reply) -> Vec<Record> {
    if r.body.is_empty() {
        return Vec::new();
    }
    let b = splunk_scp::csv::decode(r.body.clone()).expect("reply body is valid CSV");
    b.rows()
        .map(|row| {
            row.fields()
                .map(|(n, v)| {
                    let vals: Vec<String> = v
                        .values()
                        .map(|c| c.into_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    (n.to_owned(), vals)
                })
                .collect()
        })
        .collect()
}

/// How splunkd marks its last request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// 6.3/8.0: the last data chunk carries `finished:true`.
    LastChunk,
    /// 8.2: data chunks, then a header-only chunk with `finished:true`.
    HeaderOnly,
}

/// The result of a full session.
pub struct Session {
    pub getinfo: Reply,
    /// One reply per execute request, in order.
    pub replies: Vec<Reply>,
    pub code: i32,
    pub stderr: String,
}

impl Session {
    /// The records of every reply, concatenated.
    pub fn records(&self) -> Vec<Record> {
        self.replies.iter().flat_map(records).collect()
    }
    /// Every inspector message of every reply.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.replies.iter().flat_map(|r| r.messages()).collect()
    }
    pub fn last(&self) -> &Reply {
        self.replies.last().expect("at least one execute reply")
    }
}

/// Runs getinfo with `args`, then one execute request per chunk of `events`.
pub fn session(args: &[&str], chunks: &[Vec<Event>], finish: Finish, chunked_idx: bool) -> Session {
    session_argv(&[], args, chunks, finish, chunked_idx)
}

/// As [`session`], with `argv` for the binary (commands.conf `command.arg.<N>`).
pub fn session_argv(
    argv: &[&str],
    args: &[&str],
    chunks: &[Vec<Event>],
    finish: Finish,
    chunked_idx: bool,
) -> Session {
    let mut p = Proc::spawn_exe(&exe(), argv);
    let gi = p.exchange(&getinfo(args));
    assert!(gi.error().is_none(), "getinfo failed: {:?}", gi.meta);
    let mut replies = Vec::new();
    let n = chunks.len();
    for (i, c) in chunks.iter().enumerate() {
        let last = i + 1 == n && finish == Finish::LastChunk;
        let r = p.exchange(&execute(last, &body(c, &["_raw", "_time"], chunked_idx)));
        assert!(r.error().is_none(), "execute {i} failed: {:?}", r.meta);
        assert_eq!(r.finished(), Some(last), "reply {i} finished flag");
        replies.push(r);
    }
    if finish == Finish::HeaderOnly || n == 0 {
        let r = p.exchange(&execute(true, &body(&[], &["_raw", "_time"], chunked_idx)));
        assert_eq!(r.finished(), Some(true));
        replies.push(r);
    }
    let (code, trailing, stderr) = p.finish();
    assert!(trailing.is_empty(), "bytes after the last reply");
    Session {
        getinfo: gi,
        replies,
        code,
        stderr,
    }
}

/// Splits `events` into chunks of at most `size` rows (at least one chunk).
pub fn chunks(events: &[Event], size: usize) -> Vec<Vec<Event>> {
    if events.is_empty() {
        return vec![Vec::new()];
    }
    events.chunks(size.max(1)).map(|c| c.to_vec()).collect()
}

/// Tokenises a `streaming_preop` the way splunkd hands the map phase its `args`: words split
/// on blanks outside quotes, quotes removed, `\"`/`\\` unescaped; the command name dropped.
pub fn preop_args(preop: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_q, mut esc, mut any) = (false, false, false);
    for c in preop.chars() {
        if esc {
            cur.push(c);
            esc = false;
        } else if in_q && c == '\\' {
            esc = true;
        } else if c == '"' {
            in_q = !in_q;
            any = true;
        } else if c == ' ' && !in_q {
            if any || !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            any = false;
        } else {
            cur.push(c);
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    assert_eq!(out.first().map(String::as_str), Some("t1651detect"));
    out.remove(0);
    out
}

/// Column values of a record (empty when absent).
pub fn get<'a>(r: &'a Record, k: &str) -> &'a [String] {
    r.get(k).map(Vec::as_slice).unwrap_or(&[])
}

/// The single value of a column ("" when empty).
pub fn one<'a>(r: &'a Record, k: &str) -> &'a str {
    match get(r, k) {
        [] => "",
        [v] => v,
        many => panic!("{k} has {} values: {many:?}", many.len()),
    }
}

/// A getinfo-only probe: the reply, then EOF; returns (reply, exit code, stderr).
pub fn probe(args: &[&str]) -> (Reply, i32, String) {
    let mut p = Proc::spawn_exe(&exe(), &[]);
    let r = p.exchange(&getinfo(args));
    let (code, trailing, stderr) = p.finish();
    assert!(trailing.is_empty());
    (r, code, stderr)
}

/// Raw chunk helper re-exported for tests that send hand-made requests.
pub fn raw_chunk(meta: &str, body: &str) -> Vec<u8> {
    chunk(meta.as_bytes(), body.as_bytes())
}

/// Runs `t1651detect scan --format json ARGS PATH`, which must exit 0: its JSON rows and its
/// stderr (the summary line).
pub fn scan_json(path: &std::path::Path, args: &[&str]) -> (Vec<Value>, String) {
    let out = std::process::Command::new(exe())
        .arg("scan")
        .args(["--format", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("run t1651detect scan");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (rows, String::from_utf8(out.stderr).unwrap())
}

/// A column of a scan JSON row as its values: an array, one string (empty: none), or absent
/// (none; `strict` refuses an absent column).
pub fn json_list(row: &Value, k: &str, strict: bool) -> Vec<String> {
    match &row[k] {
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        Value::String(x) if x.is_empty() => vec![],
        Value::String(x) => vec![x.clone()],
        Value::Null if !strict => vec![],
        other => panic!("{k}: {other} in {row}"),
    }
}
