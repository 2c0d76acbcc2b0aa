//! Benchmark: normalise + collapse + aggregate generated events of mixed shapes (JSON `_raw`
//! as Splunk sends it: Azure REST, Azure Event Hub, CloudTrail), one core.
//!
//! `cargo bench --bench detect_engine [-- EVENTS [GROUPS]]` (defaults: 1 000 000 events in
//! 10 000 groups). Prints events/s, MB/s of JSON, peak RSS and state sizes. Events are
//! generated in chunks outside the timed region, so memory holds one chunk at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use t1651::detect::engine::{Engine, Finished};
use t1651::detect::fields::FieldMap;
use t1651::detect::options::Options;

/// Counts live heap bytes and their high-water mark, to report the engine's own memory
/// exactly (RSS also holds freed-but-retained allocator pages from the generated chunks).
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

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

const SUB: &str = "5f1c2a3b-0000-4000-8000-00000000c0de";
const TENANT: &str = "11111111-2222-4333-8444-555555555555";

fn iso(secs: u64) -> String {
    // 2024-05-01T00:00:00Z + secs (within 30 days)
    let d = secs / 86_400;
    let s = secs % 86_400;
    format!(
        "2024-05-{:02}T{:02}:{:02}:{:02}.1234567Z",
        1 + d,
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

fn claims(user: u64) -> String {
    format!(
        r#"{{"aud":"https://management.core.windows.net/","iss":"https://sts.windows.net/{TENANT}/","iat":"1714550000","nbf":"1714550000","exp":"1714553600","http://schemas.microsoft.com/claims/authnclassreference":"1","aio":"AWQAm/8TAAAAEendcgWjYQFuDhNNhoecwU3dpXjjenSsIvjamk77+TjLK/o1xkFGcFb1A+OVyuY","http://schemas.microsoft.com/claims/authnmethodsreferences":"pwd,mfa","appid":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","appidacr":"2","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":"User","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":"Test","ipaddr":"203.0.113.{ip}","name":"Test User {user}","http://schemas.microsoft.com/identity/claims/objectidentifier":"74b87c49-c202-4101-a8aa-ef18ecc8{user:04}","puid":"1003200203ECE231","http://schemas.microsoft.com/identity/claims/scope":"user_impersonation","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier":"VVjyH6MJP7pqXTBGCn4NMckGNjX-aYB_Oh7LcI9kaDw","http://schemas.microsoft.com/identity/claims/tenantid":"{TENANT}","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"user{user}@contoso.com","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"User{user}@Contoso.com","uti":"epgtY-85CUeb6aJpaE0KAQ","ver":"1.0","wids":"62e90394-69f5-4237-9190-012177145e10"}}"#,
        ip = user % 250
    )
}

struct Gen {
    rng: Rng,
    groups: u64,
    /// Pending rows of Azure lifecycles (3 rows per invocation), emitted in order.
    pending: Vec<String>,
    inv: u64,
}

impl Gen {
    fn event(&mut self) -> String {
        if let Some(e) = self.pending.pop() {
            return e;
        }
        let g = self.rng.below(self.groups);
        let user = g % 200;
        let rg = g / 200;
        let vm = self.rng.below(20);
        let t = self.rng.below(29 * 86_400);
        self.inv += 1;
        let corr = format!("{:08x}-0000-4000-8000-{:012x}", self.inv as u32, self.inv);
        match g % 4 {
            0 | 2 => {
                // REST shape, run command (0) or extension write (2): Started, Accepted, Succeeded.
                let (op, rid) = if g.is_multiple_of(4) {
                    ("Microsoft.Compute/virtualMachines/runCommand/action",
                     format!("/subscriptions/{SUB}/resourceGroups/RG-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}"))
                } else {
                    ("Microsoft.Compute/virtualMachines/extensions/write",
                     format!("/subscriptions/{SUB}/resourceGroups/RG-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}/extensions/CustomScriptExtension"))
                };
                for (i, st) in ["Succeeded", "Accepted", "Started"].iter().enumerate() {
                    self.pending.push(format!(
                        r#"{{"authorization":{{"action":"{op}","scope":"{rid}"}},"caller":"User{user}@Contoso.com","channels":"Operation","claims":{c},"correlationId":"{corr}","description":"","eventDataId":"35b9db88-8041-413e-8dd7-f8dc243eafdd","eventName":{{"value":"EndRequest","localizedValue":"End request"}},"category":{{"value":"Administrative","localizedValue":"Administrative"}},"eventTimestamp":"{ts}","id":"{rid}/events/35b9db88/ticks/637968850422707386","level":"Informational","operationId":"{corr}","operationName":{{"value":"{op}","localizedValue":"Run Command on Virtual Machine"}},"resourceGroupName":"RG-{rg}","resourceProviderName":{{"value":"Microsoft.Compute","localizedValue":"Microsoft.Compute"}},"resourceType":{{"value":"Microsoft.Compute/virtualMachines","localizedValue":"Microsoft.Compute/virtualMachines"}},"resourceId":"{rid}","status":{{"value":"{st}","localizedValue":"{st}"}},"subStatus":{{"value":"","localizedValue":""}},"submissionTimestamp":"{ts}","subscriptionId":"{SUB}","tenantId":"{TENANT}","httpRequest":{{"clientRequestId":"6934b40a-c11f-4379-9ef1-c6fa3cee5015","clientIpAddress":"203.0.113.{ip}","method":"POST"}},"properties":{{"statusCode":"OK","serviceRequestId":"a4c11dbd-697e-47c5-9663-12362307157d","eventCategory":"Administrative","entity":"{rid}","message":"{op}","hierarchy":"{TENANT}/{SUB}"}},"relatedEvents":[]}}"#,
                        c = claims(user),
                        ts = iso(t + 2 - i as u64),
                        ip = user % 250,
                    ));
                }
                self.pending.pop().unwrap()
            }
            1 => {
                // Event Hub record shape, upper case.
                let rid = format!("/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-{rg}/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-{vm}");
                for (i, (rt, sig)) in [
                    ("Success", "Succeeded."),
                    ("Accept", "Accepted."),
                    ("Start", "Started."),
                ]
                .iter()
                .enumerate()
                {
                    self.pending.push(format!(
                        r#"{{"time":"{ts}","resourceId":"{rid}","operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION","category":"Administrative","resultType":"{rt}","resultSignature":"{sig}","durationMs":"0","callerIpAddress":"203.0.113.{ip}","correlationId":"{corr}","identity":{{"authorization":{{"scope":"/subscriptions/{SUB}/resourceGroups/rg-{rg}/providers/Microsoft.Compute/virtualMachines/vm-{vm}","action":"Microsoft.Compute/virtualMachines/runCommand/action","evidence":{{"role":"Virtual Machine Contributor","roleAssignmentScope":"/subscriptions/{SUB}","roleAssignmentId":"123abc2a6c314b0ab03a891259123abc","roleDefinitionId":"9980e02c4e8a4e3f8b1a5f1e0f0a5c4d","principalId":"abcdef038c6444c18f1c31311fab{user:04}","principalType":"User"}}}},"claims":{c}}},"level":"Information","location":"global","properties":{{"statusCode":"OK","serviceRequestId":"12345678-8ca0-47ad-9b80-6cde2207f97c"}},"tenantId":"{TENANT}"}}"#,
                        c = claims(user),
                        ts = iso(t + 2 - i as u64),
                        ip = user % 250,
                    ));
                }
                self.pending.pop().unwrap()
            }
            _ => {
                // CloudTrail SendCommand.
                let n = 1 + self.rng.below(3);
                let ids: Vec<String> = (0..n)
                    .map(|k| format!("\"i-{:017x}\"", (vm + k) * 7919))
                    .collect();
                let ids = ids.join(",");
                format!(
                    r#"{{"awsRegion":"eu-west-1","eventCategory":"Management","eventID":"{corr}","eventName":"SendCommand","eventSource":"ssm.amazonaws.com","eventTime":"{ts}","eventType":"AwsApiCall","eventVersion":"1.08","managementEvent":true,"readOnly":false,"recipientAccountId":"{acct}","requestID":"{corr}","requestParameters":{{"documentName":"AWS-RunShellScript","instanceIds":[{ids}],"interactive":false,"parameters":"HIDDEN_DUE_TO_SECURITY_REASONS"}},"responseElements":{{"command":{{"alarmConfiguration":{{"alarms":[],"ignorePollAlarmFailure":false}},"clientName":"","clientSourceId":"","cloudWatchOutputConfig":{{"cloudWatchLogGroupName":"","cloudWatchOutputEnabled":false}},"commandId":"4e973221-443e-4a56-a0b4-1cb3c7923fc3","comment":"","completedCount":0,"deliveryTimedOutCount":0,"documentName":"AWS-RunShellScript","documentVersion":"$DEFAULT","errorCount":0,"expiresAfter":"Aug 2, 2024, 11:08:56 AM","instanceIds":[{ids}],"interactive":false,"maxConcurrency":"50","maxErrors":"0","notificationConfig":{{"notificationArn":"","notificationEvents":[],"notificationType":""}},"outputS3BucketName":"","outputS3KeyPrefix":"","parameters":"HIDDEN_DUE_TO_SECURITY_REASONS","requestedDateTime":"Aug 2, 2024, 9:08:56 AM","serviceRole":"","status":"Pending","statusDetails":"Pending","targetCount":{n},"targets":[],"timeoutSeconds":3600,"triggeredAlarms":[]}}}},"sourceIPAddress":"198.51.100.{ip}","tlsDetails":{{"cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"ssm.eu-west-1.amazonaws.com","tlsVersion":"TLSv1.2"}},"userAgent":"aws-cli/2.15.0","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:session-{user}","arn":"arn:aws:sts::{acct}:assumed-role/Ops{user}/session-{user}","accountId":"{acct}","accessKeyId":"ASIAEXAMPLE","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::{acct}:role/Ops{user}","accountId":"{acct}","userName":"Ops{user}"}},"attributes":{{"creationDate":"2024-05-01T00:00:00Z","mfaAuthenticated":"false"}}}}}}}}"#,
                    ts = iso(t).replace(".1234567", ""),
                    acct = 100_000_000_000u64 + rg,
                    ip = user % 250,
                )
            }
        }
    }
}

/// A `/proc/self/status` value in KiB (`VmHWM` = peak RSS, `VmRSS` = current).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) used by this process: less sensitive than wall time to
/// other work on a shared machine.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(1_000_000);
    let groups = args.get(1).copied().unwrap_or(10_000);
    let chunk = 5_000u64;
    let mut gen = Gen {
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        groups,
        pending: Vec::new(),
        inv: 0,
    };

    for (label, via_fields) in [("ingest_json", false), ("ingest_fields(_raw)", true)] {
        let mut engine = Engine::new(Options::default());
        let mut bytes = 0u64;
        let mut busy = Duration::ZERO;
        let mut cpu = 0.0f64;
        let mut done_events = 0u64;
        let rss_before = status_kib("VmRSS:");
        let heap_before = LIVE.load(Relaxed);
        let mut chunk_heap_max = 0usize;
        PEAK.store(heap_before, Relaxed);
        while done_events < events {
            let n = chunk.min(events - done_events);
            let batch: Vec<String> = (0..n).map(|_| gen.event()).collect();
            let fields: Vec<FieldMap> = if via_fields {
                batch
                    .iter()
                    .map(|r| {
                        let mut f = FieldMap::new();
                        f.set("_raw", r.as_str()).set("_time", "1714557600");
                        f
                    })
                    .collect()
            } else {
                Vec::new()
            };
            bytes += batch.iter().map(|s| s.len() as u64).sum::<u64>();
            chunk_heap_max = chunk_heap_max.max(
                batch.iter().map(|s| s.capacity()).sum::<usize>() * if via_fields { 2 } else { 1 },
            );
            let t = Instant::now();
            let c = cpu_secs();
            if via_fields {
                for f in &fields {
                    engine.ingest_fields(f);
                }
            } else {
                for r in &batch {
                    engine.ingest_json(r.as_bytes(), None);
                }
            }
            busy += t.elapsed();
            cpu += cpu_secs() - c;
            done_events += n;
        }
        let (invocations, group_count) = engine.sizes();
        // Engine state: live heap now (the last chunk is dropped) minus before the run.
        let rss_state = status_kib("VmRSS:").saturating_sub(rss_before);
        let heap_state = LIVE.load(Relaxed).saturating_sub(heap_before);
        let t = Instant::now();
        let c = cpu_secs();
        let Finished {
            rows,
            warning,
            stats,
        } = engine.finish();
        let finish = t.elapsed();
        cpu += cpu_secs() - c;
        let heap_peak = PEAK.load(Relaxed).saturating_sub(heap_before);
        let total = busy + finish;
        let secs = total.as_secs_f64();
        println!(
            "{label}: {events} events, {:.1} MB JSON, {} open invocations, {} groups -> {} rows; \
             ingest {:.3}s + finish {:.3}s: {:.0} events/s, {:.1} MB/s wall; {:.2} CPU s: {:.0} events/s, {:.1} MB/s CPU; engine heap after ingest {:.1} MiB, heap peak {:.1} MiB \
             (incl. one generated chunk of <= {:.1} MiB); RSS growth {} MiB, peak RSS {} MiB; \
             selected {} skipped {} warning {:?}",
            bytes as f64 / 1e6,
            invocations,
            group_count,
            rows.len(),
            busy.as_secs_f64(),
            finish.as_secs_f64(),
            events as f64 / secs,
            bytes as f64 / 1e6 / secs,
            cpu,
            events as f64 / cpu,
            bytes as f64 / 1e6 / cpu,
            heap_state as f64 / 1048576.0,
            heap_peak as f64 / 1048576.0,
            chunk_heap_max as f64 / 1048576.0,
            rss_state / 1024,
            status_kib("VmHWM:") / 1024,
            stats.selected,
            stats.skipped_total(),
            warning,
        );
    }
}
