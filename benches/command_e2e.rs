//! End-to-end benchmark of the `t1651detect` binary (release build) over the protocol.
//!
//! `cargo bench --bench command_e2e` generates events of mixed shapes (Azure REST, Azure
//! Event Hub records, CloudTrail, with 10 % noise operations) as splunkd-style request
//! chunks (CSV with `_raw` JSON, `_time`, `sourcetype` and empty `__mv_` companions, 50,000
//! rows per chunk, 8.2-style header-only finish; `maxresultrows` 10,000,000 so that one reply
//! carries the whole summary, where splunkd would page it over further header-only
//! requests) into a temp file once per run, then streams
//! that file into the spawned binary (getinfo + execute session), side by side in one run:
//!
//! * **1 core**: the child pinned to one CPU (`sched_setaffinity`), so it runs one thread;
//! * **2 cores**: the default (`threads` = 2 when two CPUs are available, and each request
//!   read and decoded on a thread of its own while the command works),
//!
//! alternated `T1651_BENCH_ROUNDS` times, and reports per variant the median wall and CPU
//! time, events/s and MB/s of request bytes (wall and CPU), CPU time per event, the largest
//! peak RSS of the child (`wait4` `ru_maxrss`) against the largest request chunk; both
//! variants' replies must be byte-identical. Peak RSS is the child's `ru_maxrss`, which Linux
//! also raises to the spawning process's resident size at `exec`: the bench keeps no reply
//! bytes, trims its heap and resets its own peak before each spawn, and prints its size then
//! (no child figure below it would mean anything). Then the getinfo round trip (process start
//! included; median of probes). The machine's load average is printed before and after.
//!
//! Environment (all optional):
//! * `T1651_BENCH_RUNS` (`100000:10000,1000000:10000,1000000:100000`): `events:groups` per run;
//! * `T1651_BENCH_ROUNDS` (3): alternations per run;
//! * `T1651_BENCH_PROBES` (50): getinfo probes;
//! * `T1651_BENCH_ARGS`: command options for the sessions, space-separated (e.g. `span=1h`);
//! * `T1651_BENCH_DIR=dir`: write the session files there and keep them (for `perf record
//!   -- target/release/t1651detect < dir/run-<events>-<groups>.scp`); default: a temp dir,
//!   removed;
//! * `T1651_BENCH_CSV=path`: only write `T1651_BENCH_EVENTS` (200000) events in
//!   `T1651_BENCH_GROUPS` (10000) groups as a plain CSV (`_raw,_time,sourcetype`, for
//!   `scp_driver.py --csv`) and exit.
//!
//! Targets (issue 16): >= 600 MB/s of request bytes on one core; peak RSS <= largest chunk +
//! 32 MB; getinfo round trip < 5 ms.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_t1651detect");
const ROWS_PER_CHUNK: usize = 50_000;
const SUB: &str = "5f1c2a3b-0000-4000-8000-00000000c0de";
const TENANT: &str = "11111111-2222-4333-8444-555555555555";

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 2026-03-01T00:00:00Z + secs (within 28 days), 7 fractional digits like Azure.
fn iso(secs: u64) -> String {
    let (d, s) = (secs / 86_400, secs % 86_400);
    format!(
        "2026-03-{:02}T{:02}:{:02}:{:02}.1234567Z",
        1 + d,
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

const EPOCH_2026_03_01: u64 = 1_772_323_200;

fn claims(user: u64) -> String {
    format!(
        r#"{{"aud":"https://management.core.windows.net/","iss":"https://sts.windows.net/{TENANT}/","iat":"1772323200","nbf":"1772323200","exp":"1772326800","http://schemas.microsoft.com/claims/authnclassreference":"1","aio":"AWQAm/8TAAAAEendcgWjYQFuDhNNhoecwU3dpXjjenSsIvjamk77+TjLK/o1xkFGcFb1A+OVyuY","http://schemas.microsoft.com/claims/authnmethodsreferences":"pwd,mfa","appid":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","appidacr":"2","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":"User","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":"Test","ipaddr":"203.0.113.{ip}","name":"Test User {user}","http://schemas.microsoft.com/identity/claims/objectidentifier":"74b87c49-c202-4101-a8aa-ef18ecc8{user:04}","puid":"1003200203ECE231","http://schemas.microsoft.com/identity/claims/scope":"user_impersonation","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier":"VVjyH6MJP7pqXTBGCn4NMckGNjX-aYB_Oh7LcI9kaDw","http://schemas.microsoft.com/identity/claims/tenantid":"{TENANT}","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"user{user}@contoso.com","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"User{user}@Contoso.com","uti":"epgtY-85CUeb6aJpaE0KAQ","ver":"1.0"}}"#,
        ip = user % 250
    )
}

/// One generated event: `_raw`, `_time` (epoch), `sourcetype`.
struct Ev {
    raw: String,
    time: u64,
    sourcetype: &'static str,
}

/// Mixed-shape event generator. A group is (caller, resource group, subscription,
/// operation): `groups` distinct ones, chosen uniformly.
struct Gen {
    rng: Rng,
    groups: u64,
    /// Rows of the current Azure invocation (Started, Accepted, Succeeded), popped in order.
    pending: Vec<Ev>,
    inv: u64,
}

impl Gen {
    fn new(groups: u64) -> Self {
        Gen {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            groups: groups.max(1),
            pending: Vec::new(),
            inv: 0,
        }
    }

    fn event(&mut self) -> Ev {
        if let Some(e) = self.pending.pop() {
            return e;
        }
        let g = self.rng.below(self.groups);
        let (user, rg) = (g % 200, g / 200);
        let vm = self.rng.below(20);
        let t = self.rng.below(27 * 86_400);
        self.inv += 1;
        let corr = format!("{:08x}-0000-4000-8000-{:012x}", self.inv as u32, self.inv);
        let noise = self.rng.below(10) == 0;
        // By events: a third each of REST rows, Event Hub rows and CloudTrail calls (Azure
        // invocations are three rows each).
        match g % 5 {
            0 => {
                let (op, rid) = if noise {
                    ("Microsoft.Compute/virtualMachines/start/action",
                     format!("/subscriptions/{SUB}/resourceGroups/RG-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}"))
                } else if g.is_multiple_of(2) {
                    ("Microsoft.Compute/virtualMachines/runCommand/action",
                     format!("/subscriptions/{SUB}/resourceGroups/RG-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}"))
                } else {
                    ("Microsoft.Compute/virtualMachines/extensions/write",
                     format!("/subscriptions/{SUB}/resourceGroups/RG-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}/extensions/CustomScriptExtension"))
                };
                for (i, st) in ["Succeeded", "Accepted", "Started"].iter().enumerate() {
                    let ts = t + 2 - i as u64;
                    self.pending.push(Ev {
                        raw: format!(
                            r#"{{"authorization":{{"action":"{op}","scope":"{rid}"}},"caller":"User{user}@Contoso.com","channels":"Operation","claims":{c},"correlationId":"{corr}","description":"","eventDataId":"35b9db88-8041-413e-8dd7-f8dc243eafdd","eventName":{{"value":"EndRequest","localizedValue":"End request"}},"category":{{"value":"Administrative","localizedValue":"Administrative"}},"eventTimestamp":"{iso}","id":"{rid}/events/35b9db88/ticks/637968850422707386","level":"Informational","operationId":"{corr}","operationName":{{"value":"{op}","localizedValue":"Run Command on Virtual Machine"}},"resourceGroupName":"RG-{rg}","resourceProviderName":{{"value":"Microsoft.Compute","localizedValue":"Microsoft.Compute"}},"resourceType":{{"value":"Microsoft.Compute/virtualMachines","localizedValue":"Microsoft.Compute/virtualMachines"}},"resourceId":"{rid}","status":{{"value":"{st}","localizedValue":"{st}"}},"subStatus":{{"value":"","localizedValue":""}},"submissionTimestamp":"{iso}","subscriptionId":"{SUB}","tenantId":"{TENANT}","httpRequest":{{"clientRequestId":"6934b40a-c11f-4379-9ef1-c6fa3cee5015","clientIpAddress":"203.0.113.{ip}","method":"POST"}},"properties":{{"statusCode":"OK","serviceRequestId":"a4c11dbd-697e-47c5-9663-12362307157d","eventCategory":"Administrative","entity":"{rid}","message":"{op}","hierarchy":"{TENANT}/{SUB}"}},"relatedEvents":[]}}"#,
                            c = claims(user),
                            iso = iso(ts),
                            ip = user % 250,
                        ),
                        time: EPOCH_2026_03_01 + ts,
                        sourcetype: "mscs:azure:audit",
                    });
                }
                self.pending.pop().unwrap()
            }
            1 => {
                let op = if noise {
                    "MICROSOFT.COMPUTE/VIRTUALMACHINES/START/ACTION"
                } else {
                    "MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION"
                };
                let rid = format!("/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-{rg}/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-{vm}");
                for (i, (rt, sig)) in [
                    ("Success", "Succeeded."),
                    ("Accept", "Accepted."),
                    ("Start", "Started."),
                ]
                .iter()
                .enumerate()
                {
                    let ts = t + 2 - i as u64;
                    self.pending.push(Ev {
                        raw: format!(
                            r#"{{"time":"{iso}","resourceId":"{rid}","operationName":"{op}","category":"Administrative","resultType":"{rt}","resultSignature":"{sig}","durationMs":"0","callerIpAddress":"203.0.113.{ip}","correlationId":"{corr}","identity":{{"authorization":{{"scope":"/subscriptions/{SUB}/resourceGroups/rg-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}","action":"Microsoft.Compute/virtualMachines/runCommand/action","evidence":{{"role":"Virtual Machine Contributor","roleAssignmentScope":"/subscriptions/{SUB}","roleAssignmentId":"123abc2a6c314b0ab03a891259123abc","roleDefinitionId":"9980e02c4e8a4e3f8b1a5f1e0f0a5c4d","principalId":"abcdef038c6444c18f1c31311fab{user:04}","principalType":"User"}}}},"claims":{c}}},"level":"Information","location":"global","properties":{{"statusCode":"OK","serviceRequestId":"12345678-8ca0-47ad-9b80-6cde2207f97c"}},"tenantId":"{TENANT}"}}"#,
                            c = claims(user),
                            iso = iso(ts),
                            ip = user % 250,
                        ),
                        time: EPOCH_2026_03_01 + ts,
                        sourcetype: "mscs:azure:eventhub",
                    });
                }
                self.pending.pop().unwrap()
            }
            _ => {
                let name = if noise {
                    "GetCommandInvocation"
                } else {
                    "SendCommand"
                };
                let n = 1 + self.rng.below(3);
                let ids: Vec<String> = (0..n)
                    .map(|k| format!("\"i-{:017x}\"", (vm + k) * 7919))
                    .collect();
                let ids = ids.join(",");
                let acct = 100_000_000_000u64 + rg;
                Ev {
                    raw: format!(
                        r#"{{"awsRegion":"eu-west-1","eventCategory":"Management","eventID":"{corr}","eventName":"{name}","eventSource":"ssm.amazonaws.com","eventTime":"{iso}","eventType":"AwsApiCall","eventVersion":"1.08","managementEvent":true,"readOnly":false,"recipientAccountId":"{acct}","requestID":"{corr}","requestParameters":{{"documentName":"AWS-RunShellScript","instanceIds":[{ids}],"interactive":false,"parameters":"HIDDEN_DUE_TO_SECURITY_REASONS"}},"responseElements":{{"command":{{"commandId":"4e973221-443e-4a56-a0b4-1cb3c7923fc3","comment":"","completedCount":0,"documentName":"AWS-RunShellScript","documentVersion":"$DEFAULT","errorCount":0,"expiresAfter":"Mar 2, 2026, 11:08:56 AM","instanceIds":[{ids}],"maxConcurrency":"50","maxErrors":"0","parameters":"HIDDEN_DUE_TO_SECURITY_REASONS","requestedDateTime":"Mar 2, 2026, 9:08:56 AM","status":"Pending","statusDetails":"Pending","targetCount":{n},"targets":[],"timeoutSeconds":3600}}}},"sourceIPAddress":"198.51.100.{ip}","tlsDetails":{{"cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"ssm.eu-west-1.amazonaws.com","tlsVersion":"TLSv1.2"}},"userAgent":"aws-cli/2.15.0","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE{user}","arn":"arn:aws:iam::{acct}:user/ops{user}","accountId":"{acct}","accessKeyId":"AKIAEXAMPLE","userName":"ops{user}"}}}}"#,
                        iso = iso(t).replace(".1234567", ""),
                        ip = user % 250,
                    ),
                    time: EPOCH_2026_03_01 + t,
                    sourcetype: "aws:cloudtrail",
                }
            }
        }
    }
}

/// Quotes a field the way splunkd does (every non-empty, non-alphanumeric value).
fn push_quoted(out: &mut Vec<u8>, v: &str) {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        out.extend_from_slice(v.as_bytes());
        return;
    }
    out.push(b'"');
    for &b in v.as_bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn push_row(out: &mut Vec<u8>, e: &Ev, mv: bool) {
    push_quoted(out, &e.raw);
    out.push(b',');
    push_quoted(out, &format!("{}.000", e.time));
    out.push(b',');
    push_quoted(out, e.sourcetype);
    if mv {
        out.extend_from_slice(b",,,");
    }
    out.push(b'\n');
}

const HEADER: &str =
    "\"_raw\",\"_time\",\"sourcetype\",\"__mv__raw\",\"__mv__time\",\"__mv_sourcetype\"\n";

fn chunk(out: &mut impl Write, meta: &str, body: &[u8]) -> std::io::Result<usize> {
    let head = format!("chunked 1.0,{},{}\n", meta.len(), body.len());
    out.write_all(head.as_bytes())?;
    out.write_all(meta.as_bytes())?;
    out.write_all(body)?;
    Ok(head.len() + meta.len() + body.len())
}

fn getinfo_meta(args: &[String]) -> String {
    serde_json::json!({
        "action": "getinfo", "preview": false, "streaming_command_will_restart": false,
        "searchinfo": {"args": args, "raw_args": args, "dispatch_dir": "", "sid": "1772323200.1",
            "app": "t1651_cloud_admin_command", "owner": "admin", "username": "admin",
            "session_key": "bench", "splunkd_uri": "https://127.0.0.1:8089", "splunk_version": "9.2.1",
            "search": "%7C%20t1651detect", "command": "t1651detect", "maxresultrows": 10_000_000u64,
            "earliest_time": "0", "latest_time": "0"}
    })
    .to_string()
}

/// A session file: sizes of what it holds.
struct SessionFile {
    path: PathBuf,
    events: usize,
    request_bytes: u64,
    largest_chunk: usize,
}

/// Writes getinfo + execute chunks of `events` generated events + a header-only finish.
fn write_session(path: &Path, events: usize, groups: u64, args: &[String]) -> SessionFile {
    let mut gen = Gen::new(groups);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).expect("create session file"));
    let mut total = chunk(&mut w, &getinfo_meta(args), b"").unwrap() as u64;
    let mut largest = 0usize;
    let mut body = Vec::with_capacity(ROWS_PER_CHUNK * 2048);
    let mut done = 0;
    while done < events {
        let n = ROWS_PER_CHUNK.min(events - done);
        body.clear();
        body.extend_from_slice(HEADER.as_bytes());
        for _ in 0..n {
            push_row(&mut body, &gen.event(), true);
        }
        let size = chunk(&mut w, r#"{"action":"execute","finished":false}"#, &body).unwrap();
        largest = largest.max(size);
        total += size as u64;
        done += n;
    }
    total += chunk(
        &mut w,
        r#"{"action":"execute","finished":true}"#,
        HEADER.as_bytes(),
    )
    .unwrap() as u64;
    w.flush().unwrap();
    SessionFile {
        path: path.to_owned(),
        events,
        request_bytes: total,
        largest_chunk: largest,
    }
}

/// Resource usage of a reaped child.
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    /// This process's resident size when it spawned the child (see [`shrink_own_peak`]).
    floor_kib: u64,
    status: i32,
}

/// Makes the child's `ru_maxrss` its own: Linux records the peak RSS of the memory the child
/// leaves at `exec` too, which is this process's (shared with `posix_spawn`'s `CLONE_VM`, or
/// copied by `fork`), so the bench returns freed memory (`malloc_trim`) and resets its own
/// peak to its current size (`/proc/self/clear_refs`, Linux 4.0+). Returns that size (KiB):
/// a child figure at or below it would say nothing about the child.
fn shrink_own_peak() -> u64 {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Spawns the binary with `stdin` (pinned to one CPU when `one_core`), collects stdout,
/// reaps it with `wait4`.
// Reaped with wait4 (for its rusage), which std's Child cannot do.
#[allow(clippy::zombie_processes)]
fn run_child(stdin: Stdio, one_core: bool) -> (Usage, Vec<u8>, Vec<u8>) {
    use std::os::unix::process::CommandExt;
    let floor = shrink_own_peak();
    let t0 = Instant::now();
    let mut cmd = Command::new(BIN);
    if one_core {
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn t1651detect");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).unwrap();
        v
    });
    let (status, ru) = wait4(child.id());
    let wall = t0.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        Usage {
            wall,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            max_rss_kib: ru.ru_maxrss as u64,
            floor_kib: floor,
            status,
        },
        reader.join().unwrap(),
        err_reader.join().unwrap(),
    )
}

fn wait4(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru) };
    assert_eq!(r, pid as libc::pid_t, "wait4 failed");
    (libc::WEXITSTATUS(status), ru)
}

/// Splits a reply stream into (metadata JSON, body) chunks.
fn replies(mut data: &[u8]) -> Vec<(serde_json::Value, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(nl) = data.iter().position(|&b| b == b'\n') {
        let line = std::str::from_utf8(&data[..nl]).unwrap();
        let (m, b) = line["chunked 1.0,".len()..].split_once(',').unwrap();
        let (m, b): (usize, usize) = (m.parse().unwrap(), b.parse().unwrap());
        let meta = serde_json::from_slice(&data[nl + 1..nl + 1 + m]).unwrap();
        out.push((meta, data[nl + 1 + m..nl + 1 + m + b].to_vec()));
        data = &data[nl + 1 + m + b..];
    }
    out
}

fn mb(b: f64) -> f64 {
    b / 1e6
}

/// One variant's rounds of one run.
#[derive(Default)]
struct Rounds {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    max_rss_kib: u64,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs one session file, returns its usage and the reply stream (checked: exit 0, a
/// finished last reply with summary rows).
fn run_once(label: &str, s: &SessionFile, one_core: bool) -> (Usage, Output) {
    let (u, out, err) = run_child(Stdio::from(File::open(&s.path).unwrap()), one_core);
    assert_eq!(
        u.status,
        0,
        "{label}: exit {}: {}",
        u.status,
        String::from_utf8_lossy(&err)
    );
    let reps = replies(&out);
    let (last_meta, last_body) = reps.last().expect("replies");
    assert_eq!(last_meta["finished"], true, "{label}");
    let rows = splunk_scp::csv::decode(last_body.clone())
        .map(|b| b.len())
        .unwrap_or(0);
    assert!(rows > 0, "{label}: no summary rows");
    let messages = last_meta
        .pointer("/inspector/messages")
        .map(|w| w.to_string());
    let digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        out.hash(&mut h);
        h.finish()
    };
    let output = Output {
        digest,
        len: out.len(),
        replies: reps.len(),
        rows,
        messages,
    };
    (u, output)
}

/// What the bench keeps of a reply stream (not the bytes: the bench's own memory counts in
/// the next child's peak RSS, see [`shrink_own_peak`]).
#[derive(PartialEq)]
struct Output {
    digest: u64,
    len: usize,
    replies: usize,
    rows: usize,
    messages: Option<String>,
}

fn run_session(label: &str, s: &SessionFile, rounds: usize) {
    let variants = [("1 core ", true), ("2 cores", false)];
    let mut results: Vec<Rounds> = variants.iter().map(|_| Rounds::default()).collect();
    let mut first_output: Option<Output> = None;
    let mut floor_kib = 0;
    for _ in 0..rounds {
        for (k, (_, one_core)) in variants.iter().enumerate() {
            let (u, out) = run_once(label, s, *one_core);
            match &first_output {
                None => first_output = Some(out),
                Some(want) => assert!(*want == out, "{label}: the replies of 1 and 2 cores differ"),
            }
            let r = &mut results[k];
            r.wall.push(u.wall.as_secs_f64());
            r.cpu.push(u.cpu.as_secs_f64());
            r.max_rss_kib = r.max_rss_kib.max(u.max_rss_kib);
            floor_kib = floor_kib.max(u.floor_kib);
        }
    }
    let out = first_output.expect("at least one round");
    let chunk_mb = s.largest_chunk as f64 / (1024.0 * 1024.0);
    println!(
        "{label}: {} events, {:.1} MB of requests, {} replies, {} summary rows, largest request chunk {chunk_mb:.1} MiB; median of {rounds} alternated rounds, replies identical; the bench's own RSS at spawn (the floor of a child's peak RSS figure) {:.1} MiB",
        s.events,
        mb(s.request_bytes as f64),
        out.replies,
        out.rows,
        floor_kib as f64 / 1024.0,
    );
    if let Some(w) = &out.messages {
        println!("  messages: {w}");
    }
    for ((name, _), r) in variants.iter().zip(&results) {
        let (wall, cpu) = (median(&r.wall), median(&r.cpu));
        let rss_mb = r.max_rss_kib as f64 / 1024.0;
        println!(
            "  {name}: wall {wall:.3} s: {:.0} events/s, {:.1} MB/s | CPU {cpu:.3} s ({:.2} us/event): {:.1} MB/s per CPU-second | peak RSS {rss_mb:.1} MiB ({:+.1} MiB against the largest chunk)",
            s.events as f64 / wall,
            mb(s.request_bytes as f64) / wall,
            cpu * 1e6 / s.events as f64,
            mb(s.request_bytes as f64) / cpu,
            rss_mb - chunk_mb
        );
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn getinfo_probes(n: usize, args: &[String]) {
    let req = {
        let mut v = Vec::new();
        chunk(&mut v, &getinfo_meta(args), b"").unwrap();
        v
    };
    let mut reply_t = Vec::with_capacity(n);
    let mut exit_t = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let mut child = Command::new(BIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&req).unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = Vec::new();
        let mut b = [0u8; 4096];
        loop {
            let k = out.read(&mut b).unwrap();
            assert!(k > 0, "EOF before the getinfo reply");
            buf.extend_from_slice(&b[..k]);
            if let Some(nl) = buf.iter().position(|&c| c == b'\n') {
                let line = std::str::from_utf8(&buf[..nl]).unwrap();
                let (m, bl) = line["chunked 1.0,".len()..].split_once(',').unwrap();
                if buf.len() >= nl + 1 + m.parse::<usize>().unwrap() + bl.parse::<usize>().unwrap()
                {
                    break;
                }
            }
        }
        reply_t.push(t0.elapsed());
        drop(stdin);
        let st = child.wait().unwrap();
        assert!(st.success());
        exit_t.push(t0.elapsed());
    }
    let med = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    println!(
        "getinfo round trip (spawn -> reply, process start included): median {:.2} ms, min {:.2} ms over {n} probes; spawn -> exit median {:.2} ms (target < 5 ms)",
        med(&mut reply_t),
        reply_t[0].as_secs_f64() * 1e3,
        med(&mut exit_t)
    );
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let probes = env_num("T1651_BENCH_PROBES", 50) as usize;
    let rounds = env_num("T1651_BENCH_ROUNDS", 3).max(1) as usize;
    let args: Vec<String> = std::env::var("T1651_BENCH_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();

    if let Ok(csv_path) = std::env::var("T1651_BENCH_CSV") {
        let events = env_num("T1651_BENCH_EVENTS", 200_000) as usize;
        let groups = env_num("T1651_BENCH_GROUPS", 10_000);
        let mut gen = Gen::new(groups);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&csv_path).expect("create CSV"));
        w.write_all(b"_raw,_time,sourcetype\n").unwrap();
        let mut row = Vec::with_capacity(4096);
        for _ in 0..events {
            row.clear();
            push_row(&mut row, &gen.event(), false);
            w.write_all(&row).unwrap();
        }
        w.flush().unwrap();
        println!("wrote {events} events ({groups} groups) to {csv_path}");
        return;
    }

    let runs: Vec<(usize, u64)> = std::env::var("T1651_BENCH_RUNS")
        .unwrap_or_else(|_| "100000:10000,1000000:10000,1000000:100000".into())
        .split(',')
        .map(|r| {
            let (e, g) = r
                .trim()
                .split_once(':')
                .expect("T1651_BENCH_RUNS: events:groups,...");
            (
                e.parse().expect("events: an integer"),
                g.parse().expect("groups: an integer"),
            )
        })
        .collect();
    let keep = std::env::var_os("T1651_BENCH_DIR").map(PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("t1651-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "t1651detect end-to-end ({BIN}), args {args:?}, {ROWS_PER_CHUNK} rows per chunk, {} CPUs available, load average {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg()
    );
    getinfo_probes(probes, &args);
    for (events, groups) in runs {
        let t = Instant::now();
        let path = dir.join(format!("run-{events}-{groups}.scp"));
        let s = write_session(&path, events, groups, &args);
        println!(
            "(generated {} events in {:.1} s)",
            s.events,
            t.elapsed().as_secs_f64()
        );
        run_session(&format!("{events} events, {groups} groups"), &s, rounds);
        if keep.is_none() {
            std::fs::remove_file(&path).ok();
        }
    }
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    println!("load average after: {}", loadavg());
}
