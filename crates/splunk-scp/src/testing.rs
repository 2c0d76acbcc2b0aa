//! A splunkd emulator for testing commands (feature `testing`): builds requests the way
//! splunkd does ([`getinfo`], [`execute`], [`splunkd_body`]), parses replies with its own
//! strict reader ([`parse_replies`], independent of the crate's frame reader), runs a command
//! in-process over those bytes ([`run_command`], [`run_generator`]) or drives a spawned
//! command over real pipes with timeouts ([`Proc`]), so a hang fails the test instead of
//! blocking CI.
//!
//! In a command's crate: `[dev-dependencies] splunk-scp = { version = "…", features =
//! ["testing"] }`, then:
//!
//! ```
//! # use splunk_scp::{Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch, Runtime};
//! # #[derive(Default)] struct MyCommand;
//! # impl Command for MyCommand {
//! #     fn getinfo(&mut self, _: &GetInfo, _: &Args) -> Result<CommandInfo, CommandError> { Ok(CommandInfo::new(CommandType::Streaming)) }
//! #     fn process(&mut self, b: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
//! #         for row in b.rows() { out.passthrough(&row).set("seen", 1); } Ok(()) }
//! # }
//! use splunk_scp::testing::{execute, getinfo, run_command};
//!
//! let s = run_command(
//!     &Runtime::new(),
//!     &mut MyCommand::default(),
//!     &[getinfo(&["field=x"]), execute(false, "x\na\n"), execute(true, "x\nb\n")],
//! );
//! assert_eq!(s.executes().len(), 2);
//! assert_eq!(s.executes()[1].field(0, "seen").as_deref(), Some("1"));
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "sessions.rs"]
pub mod sessions;

/// How long [`Proc`] waits for a reply, a write or an exit before failing the test.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// One chunk with the canonical header and exact byte counts.
pub fn chunk(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = format!("chunked 1.0,{},{}\n", meta.len(), body.len()).into_bytes();
    v.extend_from_slice(meta);
    v.extend_from_slice(body);
    v
}

/// A Splunk 8.x getinfo request with every searchinfo field.
pub fn getinfo_with(args: &[&str], maxresultrows: u64) -> Vec<u8> {
    let meta = json!({
        "action": "getinfo", "preview": false, "streaming_command_will_restart": false,
        "searchinfo": {
            "args": args, "raw_args": args, "dispatch_dir": "", "sid": "1700000000.1",
            "app": "search", "owner": "admin", "username": "admin",
            "session_key": "test-session-key", "splunkd_uri": "https://127.0.0.1:8089",
            "splunk_version": "8.2.1", "search": "%7C%20cmd", "command": "cmd",
            "maxresultrows": maxresultrows, "earliest_time": "0", "latest_time": "0"
        }
    });
    chunk(meta.to_string().as_bytes(), b"")
}

/// [`getinfo_with`] and `maxresultrows` 50,000.
pub fn getinfo(args: &[&str]) -> Vec<u8> {
    getinfo_with(args, 50_000)
}

/// An execute request.
pub fn execute(finished: bool, body: &str) -> Vec<u8> {
    chunk(
        format!("{{\"action\":\"execute\",\"finished\":{finished}}}").as_bytes(),
        body.as_bytes(),
    )
}

/// Builds a body the way splunkd does: every non-alphanumeric non-empty value quoted, plain
/// columns first, then `__mv_` companions (all empty), LF terminators.
pub fn splunkd_body(header: &[&str], rows: &[Vec<String>]) -> String {
    fn q(v: &str) -> String {
        if v.is_empty() || v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            v.to_owned()
        } else {
            format!("\"{}\"", v.replace('"', "\"\""))
        }
    }
    let mut cols: Vec<String> = header.iter().map(|h| q(h)).collect();
    cols.extend(header.iter().map(|h| q(&format!("__mv_{h}"))));
    let mut s = cols.join(",");
    s.push('\n');
    for r in rows {
        let mut f: Vec<String> = r.iter().map(|v| q(v)).collect();
        f.resize(f.len() + header.len(), String::new());
        s.push_str(&f.join(","));
        s.push('\n');
    }
    s
}

/// A parsed reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The metadata, parsed.
    pub meta: Value,
    /// The metadata bytes as written (key order preserved).
    pub raw_meta: String,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// `finished`, if present and boolean.
    pub fn finished(&self) -> Option<bool> {
        self.meta.get("finished").and_then(Value::as_bool)
    }
    /// `error`, if present.
    pub fn error(&self) -> Option<&str> {
        self.meta.get("error").and_then(Value::as_str)
    }
    /// (level, text) inspector messages.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.meta
            .pointer("/inspector/messages")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|m| {
                        (
                            m[0].as_str().unwrap().to_owned(),
                            m[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Body as records (name → display value), via the crate's decoder.
    pub fn records(&self) -> Vec<Vec<(String, String)>> {
        let b = crate::csv::decode(self.body.clone()).expect("reply body is valid CSV");
        b.rows()
            .map(|r| {
                r.fields()
                    .map(|(n, v)| (n.to_owned(), v.as_str().to_owned()))
                    .collect()
            })
            .collect()
    }
    /// Display value of field `name` in record `row`.
    pub fn field(&self, row: usize, name: &str) -> Option<String> {
        self.records()
            .get(row)?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// Strictly parses a reply stream: canonical headers only, nothing between chunks.
/// Returns the replies and the unparsed remainder (must be empty for a well-behaved command).
pub fn parse_replies(mut data: &[u8]) -> (Vec<Reply>, Vec<u8>) {
    let mut out = Vec::new();
    while let Some(nl) = data.iter().position(|&b| b == b'\n') {
        let line = std::str::from_utf8(&data[..nl]).expect("header is UTF-8");
        let Some(rest) = line.strip_prefix("chunked 1.0,") else {
            break;
        };
        let (m, b) = rest.split_once(',').expect("header has two lengths");
        let (m, b): (usize, usize) = (m.parse().expect("M"), b.parse().expect("B"));
        if data.len() < nl + 1 + m + b {
            break;
        }
        let meta = &data[nl + 1..nl + 1 + m];
        let body = data[nl + 1 + m..nl + 1 + m + b].to_vec();
        out.push(Reply {
            meta: serde_json::from_slice(meta).expect("reply metadata is JSON"),
            raw_meta: String::from_utf8(meta.to_vec()).expect("reply metadata is UTF-8"),
            body,
        });
        data = &data[nl + 1 + m + b..];
    }
    (out, data.to_vec())
}

/// Directory of the cargo examples of the package at `manifest_dir`, built once per test
/// process (`cargo build --examples`, same profile as the running test binary).
///
/// For tests of a command written as an example: `Proc::spawn_exe(&examples_dir(env!("CARGO_MANIFEST_DIR")).join("mycmd"), &[])`.
pub fn examples_dir(manifest_dir: &str) -> PathBuf {
    // One build per package and test process (tests run in parallel threads).
    static BUILT: OnceLock<std::sync::Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    built
        .entry(manifest_dir.to_owned())
        .or_insert_with(|| {
            // target/<profile>/deps/<test-binary>
            let exe = std::env::current_exe().expect("current_exe");
            let profile_dir = exe
                .parent()
                .and_then(|d| d.parent())
                .expect("target/<profile>")
                .to_path_buf();
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--quiet", "--examples"])
                .current_dir(manifest_dir);
            if release {
                cmd.arg("--release");
            }
            if let Some(target_dir) = profile_dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target_dir);
            }
            // Drop what `cargo test` set for this test process (LD_LIBRARY_PATH,
            // CARGO_MANIFEST_DIR, CARGO_PKG_*, ...): build scripts (ring's) rerun when they
            // change, so inheriting them rebuilt dependencies here, and again in the next
            // `cargo test`.
            cmd.env_remove("LD_LIBRARY_PATH");
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                let set_by_cargo = [
                    "MANIFEST_DIR",
                    "MANIFEST_PATH",
                    "PKG_",
                    "CRATE_NAME",
                    "BIN_",
                ]
                .iter()
                .any(|p| k.strip_prefix("CARGO_").is_some_and(|r| r.starts_with(p)))
                    || k == "CARGO_PRIMARY_PACKAGE"
                    || k == "CARGO_TARGET_TMPDIR"
                    || k == "CARGO_RUSTC_CURRENT_DIR";
                if set_by_cargo {
                    cmd.env_remove(k.as_ref());
                }
            }
            let st = cmd.status().expect("run cargo build --examples");
            assert!(st.success(), "building the examples failed");
            profile_dir.join("examples")
        })
        .clone()
}

/// A spawned command driven over real pipes.
pub struct Proc {
    child: Child,
    /// Signalled when the command's stderr reached EOF (all of it collected).
    stderr_done: Receiver<()>,
    stdin_tx: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    write_done: Receiver<Result<(), String>>,
    stdout_rx: Receiver<Vec<u8>>,
    stdout_eof: bool,
    buf: Vec<u8>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Proc {
    /// Spawns any executable (e.g. `env!("CARGO_BIN_EXE_<name>")`) with `argv`.
    pub fn spawn_exe(exe: &std::path::Path, argv: &[&str]) -> Proc {
        let mut child = Command::new(exe)
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the command");
        let mut stdin: ChildStdin = child.stdin.take().unwrap();
        let (stdin_tx, stdin_rx) = channel::<Vec<u8>>();
        let (done_tx, write_done) = channel();
        // Writer thread: a command that stops reading cannot block the test thread.
        thread::spawn(move || {
            for data in stdin_rx {
                let r = stdin
                    .write_all(&data)
                    .and_then(|_| stdin.flush())
                    .map_err(|e| e.to_string());
                if done_tx.send(r).is_err() {
                    return;
                }
            }
        });
        let mut stdout = child.stdout.take().unwrap();
        let (out_tx, stdout_rx) = channel();
        thread::spawn(move || {
            let mut b = vec![0u8; 1 << 16];
            loop {
                match stdout.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if out_tx.send(b[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut se = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let (stderr_done_tx, stderr_done) = channel();
        thread::spawn(move || {
            let mut b = vec![0u8; 4096];
            while let Ok(n) = se.read(&mut b) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&b[..n]);
            }
            let _ = stderr_done_tx.send(());
        });
        Proc {
            child,
            stderr_done,
            stdin_tx: Some(stdin_tx),
            write_done,
            stdout_rx,
            stdout_eof: false,
            buf: Vec::new(),
            stderr,
        }
    }

    fn pull(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline || self.stdout_eof {
            return false;
        }
        match self.stdout_rx.recv_timeout(deadline - now) {
            Ok(d) => {
                self.buf.extend_from_slice(&d);
                true
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.stdout_eof = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    fn drain_now(&mut self) {
        while let Ok(d) = self.stdout_rx.try_recv() {
            self.buf.extend_from_slice(&d);
        }
    }

    /// Sends raw bytes; returns once they were all written (or the pipe broke).
    /// Panics if the command replies before the whole request has been written, or on timeout.
    pub fn send(&mut self, data: &[u8]) -> Result<(), String> {
        self.drain_now();
        assert!(
            self.buf.is_empty(),
            "command wrote {} unsolicited byte(s) before this request: {:?}",
            self.buf.len(),
            String::from_utf8_lossy(&self.buf[..self.buf.len().min(200)])
        );
        self.stdin_tx
            .as_ref()
            .expect("stdin open")
            .send(data.to_vec())
            .unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.write_done.recv_timeout(Duration::from_millis(5)) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Timeout) => {
                    self.drain_now();
                    if !self.buf.is_empty() {
                        // Output before the writer thread reported the request written is
                        // either a scheduling race (the last bytes are in the pipe and the
                        // command read them: the report follows at once) or a command that
                        // replied and stopped reading (the writer stays blocked on a full
                        // pipe). Only the second is a protocol fault.
                        return match self.write_done.recv_timeout(Duration::from_secs(2)) {
                            Ok(r) => r,
                            Err(_) => panic!(
                                "command replied before reading the whole request \
                                 (the rest of the request is still unread)"
                            ),
                        };
                    }
                    assert!(
                        Instant::now() < deadline,
                        "timed out writing a request: command not reading stdin"
                    );
                }
                Err(RecvTimeoutError::Disconnected) => return Err("writer gone".into()),
            }
        }
    }

    /// Reads exactly one reply chunk (panics on timeout or EOF before a full chunk).
    pub fn reply(&mut self) -> Reply {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let (mut replies, _) = parse_replies(&self.buf);
            if !replies.is_empty() {
                let r = replies.remove(0);
                // Drop exactly the first chunk from the buffer.
                let nl = self.buf.iter().position(|&b| b == b'\n').unwrap();
                let hdr = std::str::from_utf8(&self.buf[..nl]).unwrap();
                let (m, b) = hdr["chunked 1.0,".len()..].split_once(',').unwrap();
                let total = nl + 1 + m.parse::<usize>().unwrap() + b.parse::<usize>().unwrap();
                self.buf.drain(..total);
                return r;
            }
            if !self.pull(deadline) {
                assert!(
                    !self.stdout_eof,
                    "command closed stdout without a complete reply; got {:?}; stderr: {}",
                    String::from_utf8_lossy(&self.buf),
                    self.stderr()
                );
                panic!(
                    "timed out waiting for a reply (command hung); got {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    /// Request + exactly one reply.
    pub fn exchange(&mut self, request: &[u8]) -> Reply {
        self.send(request).expect("request written");
        self.reply()
    }

    /// Closes stdin, waits for exit; returns (exit code, bytes written after the last reply,
    /// stderr).
    pub fn finish(mut self) -> (i32, Vec<u8>, String) {
        self.stdin_tx = None;
        let deadline = Instant::now() + TIMEOUT;
        while self.pull(deadline) {}
        assert!(
            self.stdout_eof,
            "command did not close stdout within the timeout after EOF"
        );
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "command did not exit after EOF");
            thread::sleep(Duration::from_micros(200));
        };
        // Every line of stderr, up to its EOF (bounded: a grandchild could hold it open).
        let _ = self
            .stderr_done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        (
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.buf),
            self.stderr(),
        )
    }

    /// Everything the command wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The result of an in-process session ([`run_command`], [`run_generator`]).
#[derive(Debug)]
pub struct Session {
    /// How the runtime ended the session.
    pub outcome: crate::RunOutcome,
    /// Every reply, parsed strictly (getinfo reply first).
    pub replies: Vec<Reply>,
    /// Bytes written after the last complete reply (empty for a well-behaved runtime).
    pub trailing: Vec<u8>,
    /// What the runtime wrote to its log (stderr in a real process).
    pub log: String,
}

impl Session {
    /// The execute replies (all replies after the getinfo reply).
    pub fn executes(&self) -> &[Reply] {
        self.replies.get(1..).unwrap_or_default()
    }

    /// All records of all execute replies, in order.
    pub fn records(&self) -> Vec<Vec<(String, String)>> {
        self.executes().iter().flat_map(Reply::records).collect()
    }
}

/// Runs `cmd` in-process over the concatenated `requests` (build them with [`getinfo`],
/// [`execute`], [`chunk`]) with runtime `rt`; stdin ends after the last request.
///
/// ```
/// use splunk_scp::testing::{execute, getinfo, run_command};
/// use splunk_scp::{Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch, Runtime};
///
/// struct Upper;
/// impl Command for Upper {
///     fn getinfo(&mut self, _: &GetInfo, _: &Args) -> Result<CommandInfo, CommandError> {
///         Ok(CommandInfo::new(CommandType::Streaming))
///     }
///     fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
///         for row in batch.rows() {
///             let up = row.str("x").unwrap_or("").to_uppercase();
///             out.passthrough(&row).set("x", up.as_str());
///         }
///         Ok(())
///     }
/// }
///
/// let s = run_command(&Runtime::new(), &mut Upper, &[getinfo(&[]), execute(true, "x\nab\n")]);
/// assert_eq!(s.executes()[0].field(0, "x").as_deref(), Some("AB"));
/// ```
pub fn run_command<C: crate::Command>(
    rt: &crate::Runtime,
    cmd: &mut C,
    requests: &[Vec<u8>],
) -> Session {
    let mut out = Vec::new();
    let mut log = Vec::new();
    let input = std::io::Cursor::new(requests.concat());
    let outcome = rt.run_io(cmd, input, &mut out, &mut log);
    session_of(outcome, &out, log)
}

/// As [`run_command`], for a generating command.
pub fn run_generator<G: crate::Generator>(
    rt: &crate::Runtime,
    gen: &mut G,
    requests: &[Vec<u8>],
) -> Session {
    let mut out = Vec::new();
    let mut log = Vec::new();
    let input = std::io::Cursor::new(requests.concat());
    let outcome = rt.run_generator_io(gen, input, &mut out, &mut log);
    session_of(outcome, &out, log)
}

fn session_of(outcome: crate::RunOutcome, out: &[u8], log: Vec<u8>) -> Session {
    let (replies, trailing) = parse_replies(out);
    Session {
        outcome,
        replies,
        trailing,
        log: String::from_utf8_lossy(&log).into_owned(),
    }
}
