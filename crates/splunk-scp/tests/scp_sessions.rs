//! Randomised lock-step sessions against the example binaries (`echo` under every command
//! type, `sum` in both phases, `generatehello`), each checked reply by reply and against a
//! single-chunk run of the same input (`splunk_scp::testing::sessions`).
//!
//! `cargo test` runs a bounded number (200, about 3 s in debug). Long mode:
//! `SCP_SESSIONS=1000000 cargo test --release -p splunk-scp --test scp_sessions -- --nocapture`
//! (`SCP_SEED=<n>` picks the first seed; a failure prints the seed that reproduces it).

mod scp_emulator;

use splunk_scp::testing::sessions::{check, random_rows, Plan, Rng};

const DEFAULT_SESSIONS: u64 = 200;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One random session of one of the examples; `Err` says what broke.
fn session(seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let maxresultrows = 1 + rng.below(12) as u64;
    let nrows = rng.below(30);
    match rng.below(6) {
        // echo: every type, multivalues, quoted fields, _chunked_idx for streaming/stateful.
        0..=3 => {
            let kind = *rng.pick(&["streaming", "stateful", "events", "reporting"]);
            let ncols = 1 + rng.below(4);
            let (header, rows) = random_rows(&mut rng, ncols, nrows);
            let idx = matches!(kind, "streaming" | "stateful") && rng.chance(2, 3);
            let plan = Plan::random(
                &mut rng,
                vec![format!("type={kind}")],
                maxresultrows,
                header,
                rows,
                idx,
            );
            let out = check(&scp_emulator::example("echo"), &[], &plan, &[])?;
            if out.records.len() != nrows {
                return Err(format!(
                    "echo {kind}: {} records for {nrows} rows",
                    out.records.len()
                ));
            }
            Ok(())
        }
        // sum, reduce phase (numbers, blanks and text) or map phase (partials add up).
        4 => {
            let map = rng.chance(1, 2);
            let field = if map { "value1" } else { "total" };
            let rows = (0..nrows)
                .map(|_| {
                    let v = match rng.below(5) {
                        0 => String::new(),
                        1 => "x,\"y\"".to_owned(),
                        _ => format!("{}.{}", rng.below(2000) as i64 - 1000, rng.below(100)),
                    };
                    vec![vec![v]]
                })
                .collect();
            let mut args = vec!["total=total".to_owned(), "value1".to_owned()];
            if map {
                args.push("phase=map".into());
            }
            let plan = Plan::random(
                &mut rng,
                args,
                maxresultrows,
                vec![field.into()],
                rows,
                false,
            );
            let exe = scp_emulator::example("sum");
            if !map {
                check(&exe, &[], &plan, &[])?;
                return Ok(());
            }
            // Map: per-chunk partials differ from the single chunk's; their sum does not.
            let total = |recs: &[splunk_scp::testing::sessions::Record]| -> f64 {
                recs.iter()
                    .filter_map(|r| r.get("total")?.first()?.parse::<f64>().ok())
                    .sum()
            };
            let chunked = splunk_scp::testing::sessions::drive(&exe, &[], &plan)?;
            let single = splunk_scp::testing::sessions::drive(&exe, &[], &plan.single_chunk())?;
            let (a, b) = (total(&chunked.records), total(&single.records));
            if (a - b).abs() > 1e-6 * (1.0 + b.abs()) {
                return Err(format!("sum map partials add to {a}, single chunk {b}"));
            }
            Ok(())
        }
        // generatehello: paging at maxresultrows whatever finished style splunkd uses.
        _ => {
            let count = rng.below(40);
            let plan = Plan::random(
                &mut rng,
                vec![format!("count={count}")],
                maxresultrows,
                vec!["_time".into()],
                Vec::new(),
                false,
            );
            let out = check(
                &scp_emulator::example("generatehello"),
                &[],
                &plan,
                &["_time"],
            )?;
            let nos: Vec<String> = out
                .records
                .iter()
                .filter_map(|r| r.get("event_no").map(|v| v[0].clone()))
                .collect();
            let want: Vec<String> = (1..=count).map(|i| i.to_string()).collect();
            if nos != want {
                return Err(format!("generatehello count={count}: event_no {nos:?}"));
            }
            Ok(())
        }
    }
}

#[test]
fn random_lock_step_sessions_match_a_single_chunk_run() {
    let n = env_u64("SCP_SESSIONS", DEFAULT_SESSIONS);
    let first = env_u64("SCP_SEED", 0x05C9_2026);
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let seed = first.wrapping_add(i);
        if let Err(e) = session(seed) {
            panic!("session {i} (SCP_SEED={seed} SCP_SESSIONS=1 reproduces it): {e}");
        }
        if n >= 1000 && (i + 1) % 5_000 == 0 {
            eprintln!(
                "{} sessions ok ({:.0} s)",
                i + 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "{n} random sessions ok in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
