//! Throughput of the SCP v2 body codec on one core: `cargo bench -p splunk-scp --bench scp_codec`.
//!
//! Two shapes, each pushed through the decoder and, separately, the encoder:
//! * short rows: 4 fields in splunkd's quoting style (`"1627354345.934",web01,42,"ok"`);
//! * raw rows: `_time`, a ~1.5 KB JSON `_raw` (every `"` doubled in CSV), `host`, `sourcetype`.
//!
//! decode = copy the body into the reused buffer (as the frame reader would) + UTF-8 check +
//! parse into a `RecordBatch` + touch every field once. encode = build the `Output` records
//! from field strings + write the CSV body. MB/s counts CSV body bytes (1 MB = 10^6 bytes).
//! Targets: ≥ 400 MB/s each way on raw rows, ≥ 2 M rows/s each way on short rows.

use std::hint::black_box;
use std::time::{Duration, Instant};

use splunk_scp::csv::{decode_into, encode, LineEnding};
use splunk_scp::{Output, RecordBatch};

const MEASURE: Duration = Duration::from_millis(1500);

fn short_rows(n: usize) -> Vec<[String; 4]> {
    (0..n)
        .map(|i| {
            [
                format!("{}.{:03}", 1_627_354_345 + i / 100, i % 1000),
                format!("web{:02}", i % 37),
                (i * 7 % 1000).to_string(),
                ["ok", "failed", "Succeeded", "Accepted"][i % 4].to_owned(),
            ]
        })
        .collect()
}

fn json_raw(i: usize) -> String {
    let mut s = format!(
        "{{\"time\":\"2024-05-01T12:{:02}:{:02}.1234567Z\",\"resourceId\":\"/SUBSCRIPTIONS/0000-1111/RESOURCEGROUPS/RG-{i}/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-{i}\",\"operationName\":\"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION\",\"category\":\"Administrative\",\"resultType\":\"Start\",\"callerIpAddress\":\"203.0.113.{}\",\"correlationId\":\"{:08x}-aaaa-bbbb-cccc-dddddddddddd\",\"identity\":{{\"authorization\":{{\"scope\":\"/subscriptions/0000-1111/resourceGroups/rg-{i}\",\"action\":\"Microsoft.Compute/virtualMachines/runCommand/action\"}},\"claims\":{{\"name\":\"admin@example.com\",\"appid\":\"{:08x}\"}}}},\"properties\":{{\"statusCode\":\"Accepted\",\"eventCategory\":\"Administrative\",\"message\":\"Microsoft.Compute/virtualMachines/runCommand/action\"",
        i % 60,
        i % 60,
        i % 250,
        i,
        i * 31
    );
    let mut k = 0;
    while s.len() < 1480 {
        s.push_str(&format!(",\"k{k}\":\"v{k}-{i}\""));
        k += 1;
    }
    s.push_str("}}");
    s
}

fn raw_rows(n: usize) -> Vec<[String; 4]> {
    (0..n)
        .map(|i| {
            [
                format!("{}.{:03}", 1_714_565_000 + i, i % 1000),
                json_raw(i),
                format!("host-{:03}", i % 500),
                "azure:monitor:activity".to_owned(),
            ]
        })
        .collect()
}

/// A body exactly as splunkd writes it: header, every non-alphanumeric value quoted, LF.
fn splunkd_body(names: &[&str; 4], rows: &[[String; 4]]) -> Vec<u8> {
    fn q(v: &str, out: &mut String) {
        if v.is_empty() || v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.push_str(v);
        } else {
            out.push('"');
            out.push_str(&v.replace('"', "\"\""));
            out.push('"');
        }
    }
    let mut s = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        q(n, &mut s);
    }
    s.push('\n');
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            q(v, &mut s);
        }
        s.push('\n');
    }
    s.into_bytes()
}

struct Figures {
    mb_s: f64,
    rows_s: f64,
}

fn measure(bytes_per_iter: usize, rows_per_iter: usize, mut f: impl FnMut()) -> Figures {
    f(); // warm up caches and buffers
    let start = Instant::now();
    let mut iters = 0u64;
    while start.elapsed() < MEASURE {
        f();
        iters += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Figures {
        mb_s: bytes_per_iter as f64 * iters as f64 / secs / 1e6,
        rows_s: rows_per_iter as f64 * iters as f64 / secs,
    }
}

fn bench(label: &str, names: [&str; 4], rows: Vec<[String; 4]>) {
    let body = splunkd_body(&names, &rows);
    let n = rows.len();

    // decode
    let mut batch = RecordBatch::new();
    let mut buf = Vec::new();
    let ids: Vec<_> = {
        decode_into(&mut batch, body.clone()).expect("valid body");
        names
            .iter()
            .map(|n| batch.column(n).expect("column"))
            .collect()
    };
    let dec = measure(body.len(), n, || {
        let mut b = std::mem::take(&mut buf);
        b.extend_from_slice(&body);
        decode_into(&mut batch, b).expect("valid body");
        let mut total = 0usize;
        for row in batch.rows() {
            for &id in &ids {
                total += row.get_id(id).as_str().len();
            }
        }
        black_box(total);
        buf = batch.recycle();
    });

    // encode (our writer uses CRLF by default; measure the default)
    let mut out = Output::new();
    let mut encoded = Vec::new();
    let mut enc_len = 0;
    let enc = measure(body.len(), n, || {
        out.clear_records();
        for r in &rows {
            out.record()
                .set(names[0], r[0].as_str())
                .set(names[1], r[1].as_str())
                .set(names[2], r[2].as_str())
                .set(names[3], r[3].as_str());
        }
        encoded.clear();
        encode(&out, &mut encoded, LineEnding::CrLf);
        enc_len = encoded.len();
        black_box(&encoded);
    });

    // Sanity: what we encoded decodes back to the generated rows.
    let check = splunk_scp::csv::decode(encoded.clone()).expect("encoded body decodes");
    assert_eq!(check.len(), n);
    for (i, r) in rows.iter().enumerate().step_by(997) {
        for (k, name) in names.iter().enumerate() {
            assert_eq!(check.row(i).str(name), Some(r[k].as_str()));
        }
    }

    println!(
        "{label:<34} body {:>6.1} MB, {:>6} rows | decode {:>7.0} MB/s {:>6.2} M rows/s | encode {:>7.0} MB/s {:>6.2} M rows/s (output {:.1} MB)",
        body.len() as f64 / 1e6,
        n,
        dec.mb_s,
        dec.rows_s / 1e6,
        enc.mb_s,
        enc.rows_s / 1e6,
        enc_len as f64 / 1e6,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored.
    println!(
        "scp_codec: one thread, {:.1} s per measurement",
        MEASURE.as_secs_f64()
    );
    bench(
        "short rows (4 fields)",
        ["_time", "host", "count", "status"],
        short_rows(50_000),
    );
    bench(
        "raw rows (1.5 KB JSON _raw)",
        ["_time", "_raw", "host", "sourcetype"],
        raw_rows(10_000),
    );
}
