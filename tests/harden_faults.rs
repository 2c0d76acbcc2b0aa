//! Pipe and process faults against the example commands as real processes: splunkd closing
//! stdin mid-chunk, closing stdout while we write (EPIPE), SIGTERM in every phase.
//!
//! Every wait has a deadline, so a hang fails the test instead of blocking CI. Each test checks
//! that the process exits promptly, says why on stderr (or stays quiet where the protocol says
//! so), never prints a panic, and never writes anything but complete reply chunks.
#![cfg(unix)]

mod scp_emulator;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use scp_emulator::{example, execute, getinfo, getinfo_with, parse_replies, splunkd_body};

/// How long a process may take to exit after the fault. Generous: CI machines are shared.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);

enum ReadCmd {
    /// Read up to this many more bytes (fewer at EOF) and send them back.
    Bytes(usize),
    /// Close our end of the command's stdout (the command's next write gets EPIPE).
    Close,
}

/// A spawned example whose stdout is read only on request, so a test can stop reading (the
/// pipe fills and the command blocks in write) or close the pipe (EPIPE).
struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    read_tx: Sender<ReadCmd>,
    read_rx: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Signalled when the command's stderr reaches EOF (all of it is in `stderr`).
    stderr_eof: Receiver<()>,
}

impl Spawned {
    fn new(example_name: &str) -> Spawned {
        let mut child = Command::new(example(example_name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn example");
        let mut stdout = child.stdout.take().unwrap();
        let (read_tx, cmd_rx) = channel::<ReadCmd>();
        let (data_tx, read_rx) = channel();
        thread::spawn(move || {
            for cmd in cmd_rx {
                match cmd {
                    ReadCmd::Close => return, // drops stdout
                    ReadCmd::Bytes(n) => {
                        let mut got = vec![0u8; n];
                        let mut filled = 0;
                        while filled < n {
                            match stdout.read(&mut got[filled..]) {
                                Ok(0) | Err(_) => break,
                                Ok(k) => filled += k,
                            }
                        }
                        got.truncate(filled);
                        if data_tx.send(got).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut se = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let (eof_tx, stderr_eof) = channel();
        thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = se.read(&mut b) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&b[..n]);
            }
            let _ = eof_tx.send(());
        });
        Spawned {
            stdin: child.stdin.take(),
            child,
            read_tx,
            read_rx,
            stderr,
            stderr_eof,
        }
    }

    /// Writes `data` to the command's stdin from a helper thread (a command that stops reading
    /// cannot block the test); returns when written or when the deadline passes.
    fn send(&mut self, data: &[u8]) {
        let mut stdin = self.stdin.take().expect("stdin open");
        let data = data.to_vec();
        let (tx, rx) = channel();
        thread::spawn(move || {
            let _ = stdin.write_all(&data).and_then(|_| stdin.flush());
            let _ = tx.send(stdin);
        });
        let stdin = rx
            .recv_timeout(EXIT_DEADLINE)
            .expect("timed out writing a request: command not reading stdin");
        self.stdin = Some(stdin);
    }

    /// Reads exactly `n` bytes of stdout (fewer only at EOF), with a deadline.
    fn read(&mut self, n: usize) -> Vec<u8> {
        self.read_tx.send(ReadCmd::Bytes(n)).unwrap();
        self.read_rx
            .recv_timeout(EXIT_DEADLINE)
            .expect("timed out reading the command's stdout")
    }

    /// Reads one complete reply chunk and returns its raw bytes.
    fn read_reply(&mut self) -> Vec<u8> {
        let mut head = Vec::new();
        while !head.ends_with(b"\n") {
            let b = self.read(1);
            assert!(!b.is_empty(), "EOF inside a reply header: {head:?}");
            head.extend_from_slice(&b);
        }
        let line = std::str::from_utf8(&head).unwrap();
        let (m, b) = line
            .trim_end()
            .strip_prefix("chunked 1.0,")
            .and_then(|r| r.split_once(','))
            .unwrap_or_else(|| panic!("bad reply header {line:?}"));
        let len: usize = m.parse::<usize>().unwrap() + b.parse::<usize>().unwrap();
        let rest = self.read(len);
        assert_eq!(rest.len(), len, "EOF inside a reply");
        head.extend_from_slice(&rest);
        head
    }

    /// Reads stdout to EOF.
    fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let b = self.read(1 << 16);
            if b.is_empty() {
                return all;
            }
            all.extend_from_slice(&b);
        }
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn close_stdout(&mut self) {
        self.read_tx.send(ReadCmd::Close).unwrap();
    }

    fn sigterm(&self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success());
    }

    /// Waits for the exit (failing after the deadline) and returns the status and stderr.
    fn wait(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + EXIT_DEADLINE;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "command did not exit within {EXIT_DEADLINE:?}; stderr: {}",
                self.stderr_text()
            );
            thread::sleep(Duration::from_millis(5));
        };
        // Everything the command wrote to stderr, however slowly the reader thread runs.
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        self.stderr_eof
            .recv_timeout(left)
            .expect("stderr still open after the command exited");
        (status, self.stderr_text())
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "panic output on stderr: {stderr}"
    );
}

/// stdin closed inside the header, metadata or body of the getinfo or of an execute request:
/// exit 1 promptly, stderr names the part, stdout holds only complete chunks (the replies so
/// far and at most one error reply), nothing after it.
#[test]
fn stdin_closed_mid_chunk_exits_promptly_without_partial_output() {
    let gi = getinfo(&["total=n"]);
    let ex = execute(
        true,
        &splunkd_body(&["n"], &[vec!["1".into()], vec!["2".into()]]),
    );
    let ex_header = ex.iter().position(|&b| b == b'\n').unwrap() + 1;
    let gi_header = gi.iter().position(|&b| b == b'\n').unwrap() + 1;
    let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
        ("getinfo header", gi[..5].to_vec(), 0, "header"),
        (
            "getinfo metadata",
            gi[..gi_header + 10].to_vec(),
            0,
            "metadata",
        ),
        ("execute header", [&gi[..], &ex[..7]].concat(), 1, "header"),
        (
            "execute metadata",
            [&gi[..], &ex[..ex_header + 4]].concat(),
            1,
            "metadata",
        ),
        (
            "execute body",
            [&gi[..], &ex[..ex.len() - 3]].concat(),
            1,
            "body",
        ),
    ];
    for (what, input, replies_before, part) in cases {
        let mut p = Spawned::new("sum");
        p.send(&input);
        p.close_stdin();
        let (status, stderr) = p.wait();
        let out = p.read_to_end();
        assert_eq!(status.code(), Some(1), "{what}: exit status");
        let want = format!("input ended inside a chunk {part}");
        assert!(
            stderr.contains(&want),
            "{what}: stderr {stderr:?} lacks {want:?}"
        );
        assert_no_panic(&stderr);
        let (replies, rest) = parse_replies(&out);
        assert!(
            rest.is_empty(),
            "{what}: partial chunk or garbage after the replies: {rest:?}"
        );
        assert_eq!(
            replies.len(),
            replies_before + 1,
            "{what}: replies {replies:?}"
        );
        let last = replies.last().unwrap();
        assert!(
            last.error().is_some_and(|e| e.contains(&want)),
            "{what}: {last:?}"
        );
        assert!(replies[..replies_before]
            .iter()
            .all(|r| r.error().is_none()));
    }
}

/// splunkd stops reading and closes our stdout while a large final reply is being written:
/// after `finished` that is normal, so exit 0 with nothing on stderr (no EPIPE noise, no panic).
#[test]
fn stdout_closed_during_the_final_reply_exits_zero_quietly() {
    let mut p = Spawned::new("generatehello");
    p.send(&getinfo_with(&["count=200000"], 200_000));
    p.read_reply();
    p.send(&execute(false, ""));
    assert_eq!(p.read(5000).len(), 5000, "the large reply started");
    p.close_stdout();
    let (status, stderr) = p.wait();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "", "EPIPE after the final reply must be quiet");
}

/// The same before the command has finished: exit 1 with exactly one line saying so.
#[test]
fn stdout_closed_mid_session_exits_one_with_one_line() {
    let mut p = Spawned::new("generatehello");
    p.send(&getinfo_with(&["count=400000"], 200_000));
    p.read_reply();
    p.send(&execute(false, ""));
    assert_eq!(p.read(5000).len(), 5000);
    p.close_stdout();
    let (status, stderr) = p.wait();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        "error: splunkd closed the output pipe before the command finished\n"
    );
}

fn assert_sigterm_exit(p: &mut Spawned, phase: &str) {
    p.sigterm();
    let (status, stderr) = p.wait();
    assert_eq!(
        status.code(),
        Some(143),
        "exit status after SIGTERM; stderr: {stderr}"
    );
    assert_no_panic(&stderr);
    let line = stderr.lines().last().unwrap_or("");
    assert!(
        line.starts_with("error: terminated by SIGTERM") && line.contains(phase),
        "stderr {stderr:?} should report SIGTERM {phase:?}"
    );
}

/// SIGTERM while blocked reading half a request.
#[test]
fn sigterm_while_reading_a_request() {
    let mut p = Spawned::new("sum");
    p.send(&getinfo(&["total=n"]));
    p.read_reply();
    let ex = execute(true, "n\n1\n2\n");
    p.send(&ex[..ex.len() - 4]);
    thread::sleep(Duration::from_millis(50));
    assert_sigterm_exit(&mut p, "while waiting for or reading a request");
}

/// SIGTERM while blocked writing a reply splunkd does not read: exits at once, no partial
/// reply is flushed afterwards (the bytes already in the pipe are all there is).
#[test]
fn sigterm_while_writing_a_reply() {
    let mut p = Spawned::new("generatehello");
    p.send(&getinfo_with(&["count=200000"], 200_000));
    p.read_reply();
    p.send(&execute(false, ""));
    // The first reply byte proves the command is writing; we stop reading, the pipe fills.
    assert_eq!(p.read(1), b"c");
    thread::sleep(Duration::from_millis(50));
    assert_sigterm_exit(&mut p, "while writing a reply");
}

/// SIGTERM right after a large request has been handed over (decoding/processing/replying):
/// whatever the phase, a prompt exit with the message.
#[test]
fn sigterm_during_processing_of_a_large_request() {
    let mut p = Spawned::new("sum");
    p.send(&getinfo(&["total=t", "phase=map", "v"]));
    p.read_reply();
    let rows: Vec<Vec<String>> = (0..100_000).map(|i| vec![format!("{i}.5")]).collect();
    p.send(&execute(true, &splunkd_body(&["v"], &rows)));
    assert_sigterm_exit(&mut p, "");
}
