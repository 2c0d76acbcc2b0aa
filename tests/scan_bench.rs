//! Throughput and memory figures of `scan::input` (not a pass/fail test: it only prints).
//!
//! ```text
//! cargo test --release --test scan_bench -- --ignored --nocapture
//! ```
//!
//! Writes ~100 MB files of generated events in each shape to cargo's temporary directory,
//! reads each back through `read_paths`, and prints MB/s, events/s and the growth of the
//! process's peak RSS (VmHWM) while reading: streaming keeps it flat whatever the file size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use t1651::scan::input::{read_paths, Event};

const EVENTS: usize = 120_000;

fn event(i: usize) -> String {
    format!(
        concat!(
            "{{\"caller\":\"user{u}@contoso.example\",\"correlationId\":\"d0000000-0000-4000-8000-{i:012}\",",
            "\"eventTimestamp\":\"2026-03-14T02:11:05.0000000Z\",\"operationName\":{{\"value\":",
            "\"Microsoft.Compute/virtualMachines/runCommand/action\",\"localizedValue\":\"Run Command on Virtual Machine\"}},",
            "\"status\":{{\"value\":\"Succeeded\",\"localizedValue\":\"Succeeded\"}},\"resourceGroupName\":\"rg-{g}\",",
            "\"resourceId\":\"/subscriptions/cccc0000-1111-4222-8333-000000000003/resourceGroups/rg-{g}/providers/",
            "Microsoft.Compute/virtualMachines/vm-{i}\",\"subscriptionId\":\"cccc0000-1111-4222-8333-000000000003\",",
            "\"tenantId\":\"aaaa0000-1111-4222-8333-000000000001\",\"claims\":{{\"aud\":\"https://management.core.windows.net/\",",
            "\"appid\":\"04b07795-8ddb-461a-bbee-02f9e1bf7b46\",\"ipaddr\":\"203.0.113.{o}\",",
            "\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn\":\"user{u}@contoso.example\",",
            "\"http://schemas.microsoft.com/identity/claims/tenantid\":\"aaaa0000-1111-4222-8333-000000000001\"}},",
            "\"httpRequest\":{{\"clientIpAddress\":\"203.0.113.{o}\",\"method\":\"POST\"}},",
            "\"properties\":{{\"eventCategory\":\"Administrative\",\"statusCode\":\"OK\"}}}}"
        ),
        u = i % 97,
        g = i % 13,
        o = i % 250,
        i = i
    )
}

fn write_file(path: &Path, shape: &str, events: usize) {
    let f = File::create(path).unwrap();
    let mut w: Box<dyn Write> = if shape == "gz" {
        Box::new(flate2::write::GzEncoder::new(
            BufWriter::new(f),
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(BufWriter::new(f))
    };
    match shape {
        "lines" | "gz" => {
            for i in 0..events {
                writeln!(w, "{}", event(i)).unwrap();
            }
        }
        "array" | "small array" => {
            writeln!(w, "[").unwrap();
            for i in 0..events {
                let sep = if i + 1 < events { "," } else { "" };
                writeln!(w, "  {}{sep}", event(i)).unwrap();
            }
            writeln!(w, "]").unwrap();
        }
        "records" => {
            write!(w, "{{\"Records\":[").unwrap();
            for i in 0..events {
                if i > 0 {
                    write!(w, ",").unwrap();
                }
                write!(w, "{}", event(i)).unwrap();
            }
            writeln!(w, "]}}").unwrap();
        }
        _ => unreachable!(),
    }
    w.flush().unwrap();
}

/// Peak resident set size of this process so far, in KiB (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "prints throughput figures; run with --release -- --ignored --nocapture"]
fn scan_input_throughput() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan_bench");
    std::fs::create_dir_all(&dir).unwrap();
    println!("{} bytes per event", event(1).len());
    // A pretty-printed array small enough to be parsed from memory, then the large shapes.
    for (shape, events) in [
        ("small array", 7_000),
        ("lines", EVENTS),
        ("gz", EVENTS),
        ("array", EVENTS),
        ("records", EVENTS),
    ] {
        let path = dir.join(format!("{}.json", shape.replace(' ', "_")));
        write_file(&path, shape, events);
        let disk = std::fs::metadata(&path).unwrap().len();
        let json_bytes = (event(1).len() as u64 + 1) * events as u64;
        let before = peak_rss_kib();
        let start = Instant::now();
        let mut n = 0u64;
        let mut sum = 0usize;
        let stats = read_paths(&[&path], &mut |e: &Event<'_>| {
            n += 1;
            sum += e.bytes().len();
        });
        let secs = start.elapsed().as_secs_f64();
        let after = peak_rss_kib();
        assert_eq!(stats.events, events as u64);
        assert_eq!(stats.problem_count(), 0);
        assert!(sum > 0);
        println!(
            "{shape:>11}: {:>6.1} MB on disk, {:>6.1} MB JSON in {secs:.2} s = {:>6.1} MB/s, {:>8.0} events/s, peak RSS growth {} KiB",
            disk as f64 / 1e6,
            json_bytes as f64 / 1e6,
            json_bytes as f64 / 1e6 / secs,
            n as f64 / secs,
            match (before, after) {
                (Some(b), Some(a)) => (a - b).to_string(),
                _ => "n/a".into(),
            }
        );
        std::fs::remove_file(&path).unwrap();
    }
}
