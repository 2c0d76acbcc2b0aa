//! Scale of the `t1651_cloud_audit` modular input against the loopback emulators with network
//! latency: `cargo bench --bench modinput_scale`.
//!
//! * Azure: `T1651_BENCH_SUBS` (200) subscriptions listed by the principal, the default
//!   operations (one source per subscription × resource provider), 20 events each over the
//!   last hour, every data request answered after `T1651_BENCH_LATENCY_MS` (200) ms; one run
//!   per `workers` value in `T1651_BENCH_WORKERS` (1,8,32; 1 is skipped above 50 subscriptions:
//!   it only shows the serial time).
//! * AWS: `T1651_BENCH_ACCOUNTS` (50) accounts × 17 regions × the 4 default event names. One
//!   stanza per account, as deployed: splunkd runs each enabled input stanza as its
//!   own process, so the accounts run as that many concurrent processes, LookupEvents paced
//!   at the default 2 requests/s per region within each.
//! * AWS Organizations: `T1651_BENCH_ACCOUNTS` (50) ACTIVE member accounts listed by one stanza
//!   (`aws_organization_role`, `regions = all`: each account's 17 default regions from
//!   DescribeRegions), one process; `T1651_BENCH_ORG_EVENTS` (8) events per account and region;
//!   every STS, Organizations and EC2 call also answered after the latency; one first run and
//!   one next run per `workers` value in `T1651_BENCH_ORG_WORKERS` (8,64).
//!
//! Reports wall time per run and peak RSS per process: `VmHWM` of /proc/<pid>/status, read
//! every 10 ms until the process exits (a high-water mark of the process's own address space;
//! `wait4`'s `ru_maxrss` is not usable here: a child inherits the parent's maxrss across
//! fork/exec, and the parent holds the emulators' data).

#[path = "../tests/modinput_support/mod.rs"]
mod modinput_support;

use std::io::{Read, Write};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use modinput_support::fixtures::{aws_account_backlog, aws_backlog, azure_backlog};
use modinput_support::*;

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Usage {
    wall: StdDuration,
    max_rss_kib: u64,
    status: i32,
    events: usize,
    stderr: String,
}

fn wait4(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru) };
    assert_eq!(r, pid as libc::pid_t, "wait4 failed");
    (libc::WEXITSTATUS(status), ru)
}

/// Start the input on `xml`; returns a handle that reaps it with `wait4`.
// Reaped with wait4 (for its rusage), which std's Child cannot do.
#[allow(clippy::zombie_processes)]
fn start_input(xml: String) -> impl FnOnce() -> Usage {
    let t0 = Instant::now();
    let mut child = spawn(&[], &[("T1651_MODINPUT_AWS_PACING_MS", "500")]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(xml.as_bytes()).unwrap();
    drop(stdin);
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = String::new();
        err.read_to_string(&mut v).unwrap();
        v
    });
    let pid = child.id();
    let hwm = std::thread::spawn(move || {
        let mut max = 0u64;
        while let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            else {
                break; // a zombie has no VmHWM: the process has exited
            };
            max = max.max(kib);
            std::thread::sleep(StdDuration::from_millis(10));
        }
        max
    });
    move || {
        let (status, _) = wait4(pid);
        let wall = t0.elapsed();
        let stdout = reader.join().unwrap();
        Usage {
            wall,
            max_rss_kib: hwm.join().unwrap(),
            status,
            events: stdout.windows(8).filter(|w| w == b"</event>").count(),
            stderr: err_reader.join().unwrap(),
        }
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn azure(latency: StdDuration) {
    let n_subs = env_num("T1651_BENCH_SUBS", 200) as usize;
    let workers: Vec<usize> = std::env::var("T1651_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,8,32".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .filter(|w| *w > 1 || n_subs <= 50)
        .collect();
    let emu = start();
    let now = Utc::now();
    let subs: Vec<String> = (1..=n_subs)
        .map(|i| format!("{i:08x}-0000-4000-8000-{i:012x}"))
        .collect();
    {
        let mut e = emu.lock().unwrap();
        for (i, sub) in subs.iter().enumerate() {
            for ev in azure_backlog(
                i as u64,
                20,
                sub,
                TENANT,
                now - Duration::minutes(55),
                now - Duration::minutes(6),
            ) {
                e.azure_events.push((sub.clone(), ev));
            }
        }
        e.subscriptions = subs;
        e.latency = latency;
    }
    let base = emu.lock().unwrap().base_url.clone();
    for w in workers {
        let mut params = azure_params(&base);
        params.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "subscription_ids" | "settle_lag" | "late_window" | "overlap"
            )
        });
        params.push(("start_from".into(), "-1h".into()));
        params.push(("workers".into(), w.to_string()));
        let cp = checkpoint_dir(&format!("bench-azure-{w}"));
        emu.lock().unwrap().data_requests = 0;
        let u = start_input(input_xml(
            &base,
            &cp,
            "t1651_cloud_audit://bench",
            &as_refs(&params),
        ))();
        let requests = emu.lock().unwrap().log.len();
        emu.lock().unwrap().log.clear();
        assert_eq!(u.status, 0, "{}", u.stderr);
        // Steady state: the next run re-reads the overlap.
        let u2 = start_input(input_xml(
            &base,
            &cp,
            "t1651_cloud_audit://bench",
            &as_refs(&params),
        ))();
        let requests2 = emu.lock().unwrap().log.len();
        emu.lock().unwrap().log.clear();
        assert_eq!(u2.status, 0, "{}", u2.stderr);
        println!(
            "azure {n_subs} subscriptions, {} ms latency, workers {w}: first run {:.1} s ({} events, {requests} requests, peak RSS {}); next run {:.1} s ({} events, {requests2} requests, peak RSS {})",
            latency.as_millis(),
            u.wall.as_secs_f64(),
            u.events,
            mib(u.max_rss_kib),
            u2.wall.as_secs_f64(),
            u2.events,
            mib(u2.max_rss_kib)
        );
    }
}

fn aws(latency: StdDuration) {
    let accounts = env_num("T1651_BENCH_ACCOUNTS", 50) as usize;
    let emu = start();
    let now = Utc::now();
    {
        let mut e = emu.lock().unwrap();
        for (i, r) in REGIONS.iter().enumerate() {
            for ev in aws_backlog(
                i as u64,
                40,
                r,
                now - Duration::minutes(55),
                now - Duration::minutes(6),
            ) {
                e.aws_events.push((r.to_string(), ev));
            }
        }
        e.latency = latency;
    }
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = aws_params(&base);
    params.retain(|(k, _)| {
        !matches!(
            k.as_str(),
            "regions" | "settle_lag" | "late_window" | "overlap"
        )
    });
    params.push(("regions".into(), REGIONS.join(",")));
    params.push(("start_from".into(), "-1h".into()));
    // Long-term keys: the emulator keeps one assumed-role session at a time, and concurrent
    // processes would expire each other's. A role adds one STS call per process and run.
    let t0 = Instant::now();
    let waits: Vec<_> = (0..accounts)
        .map(|a| {
            let cp = checkpoint_dir(&format!("bench-aws-{a}"));
            start_input(input_xml(
                &base,
                &cp,
                &format!("t1651_cloud_audit://acct{a}"),
                &as_refs(&params),
            ))
        })
        .collect();
    let usages: Vec<Usage> = waits.into_iter().map(|w| w()).collect();
    let wall = t0.elapsed();
    for u in &usages {
        assert_eq!(u.status, 0, "{}", u.stderr);
    }
    let max_one = usages.iter().map(|u| u.wall).max().unwrap();
    let rss_max = usages.iter().map(|u| u.max_rss_kib).max().unwrap();
    let rss_sum: u64 = usages.iter().map(|u| u.max_rss_kib).sum();
    let events: usize = usages.iter().map(|u| u.events).sum();
    println!(
        "aws {accounts} accounts x {} regions x 4 event names, {} ms latency, {accounts} concurrent processes: all done in {:.1} s (slowest process {:.1} s), {events} events, {} requests, peak RSS per process {} (sum {})",
        REGIONS.len(),
        latency.as_millis(),
        wall.as_secs_f64(),
        max_one.as_secs_f64(),
        emu.lock().unwrap().log.len(),
        mib(rss_max),
        mib(rss_sum)
    );
}

fn aws_org(latency: StdDuration) {
    let accounts = env_num("T1651_BENCH_ACCOUNTS", 50) as usize;
    let per_region = env_num("T1651_BENCH_ORG_EVENTS", 8) as usize;
    let workers: Vec<usize> = std::env::var("T1651_BENCH_ORG_WORKERS")
        .unwrap_or_else(|_| "8,64".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let emu = start();
    let now = Utc::now();
    {
        let mut e = emu.lock().unwrap();
        for a in 0..accounts {
            let id = format!("{:012}", 200_000_000_000u64 + a as u64);
            for (i, r) in REGIONS.iter().enumerate() {
                for ev in aws_account_backlog(
                    (a * 100 + i) as u64,
                    per_region,
                    &id,
                    r,
                    now - Duration::minutes(55),
                    now - Duration::minutes(6),
                ) {
                    e.aws_events.push((r.to_string(), ev));
                }
            }
            e.org_accounts.push((id, "ACTIVE".into()));
        }
        e.org_page_size = 20;
        e.latency = latency;
        e.setup_latency = latency;
    }
    let base = emu.lock().unwrap().base_url.clone();
    for w in workers {
        let mut params = aws_params(&base);
        params.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "regions" | "settle_lag" | "late_window" | "overlap"
            )
        });
        params.extend(
            [
                ("regions", "all"),
                ("start_from", "-1h"),
                ("aws_organization_role", "T1651Audit"),
                ("aws_organizations_url", base.as_str()),
                ("aws_ec2_url", base.as_str()),
                ("workers", &w.to_string()),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let cp = checkpoint_dir(&format!("bench-aws-org-{w}"));
        let mut line = format!(
            "aws organization {accounts} accounts x {} regions x 4 event names, {} ms latency, one process, workers {w}:",
            REGIONS.len(),
            latency.as_millis()
        );
        for run in ["first run", "next run"] {
            emu.lock().unwrap().log.clear();
            let u = start_input(input_xml(
                &base,
                &cp,
                "t1651_cloud_audit://org",
                &as_refs(&params),
            ))();
            assert_eq!(u.status, 0, "{}", u.stderr);
            line.push_str(&format!(
                " {run} {:.1} s ({} events, {} requests, peak RSS {});",
                u.wall.as_secs_f64(),
                u.events,
                emu.lock().unwrap().log.len(),
                mib(u.max_rss_kib)
            ));
        }
        println!("{line}");
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run only as a bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let latency = StdDuration::from_millis(env_num("T1651_BENCH_LATENCY_MS", 200));
    let which = std::env::var("T1651_BENCH_CLOUDS").unwrap_or_else(|_| "azure,aws,org".into());
    let which: Vec<&str> = which.split(',').map(str::trim).collect();
    if which.contains(&"azure") {
        azure(latency);
    }
    if which.contains(&"aws") {
        aws(latency);
    }
    if which.contains(&"org") {
        aws_org(latency);
    }
}
