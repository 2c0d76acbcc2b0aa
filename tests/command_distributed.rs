//! The distributed path, as splunkd runs it: the reduce invocation's getinfo announces
//! `streaming_preop`; the same input is split randomly across N spawned `phase=map`
//! processes (random chunking, both finish styles); their output rows, concatenated, are the
//! reduce invocation's input. The result must equal the non-distributed run, rows and WARN.

mod command_fixtures;
mod command_support;
mod detect_support;
mod scp_emulator;

use command_fixtures::{bad_events, mess_events, scenario};
use command_support::{preop_args, probe, session, Event, Finish, Record, Session};

/// xorshift64*: deterministic, dependency-free randomness for the splits.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random chunk sizes (1..=max) over `events`.
fn random_chunks(events: &[Event], rng: &mut Rng, max: usize) -> Vec<Vec<Event>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let n = 1 + rng.below(max);
        out.push(events[i..(i + n).min(events.len())].to_vec());
        i += n;
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn finish_style(rng: &mut Rng) -> Finish {
    if rng.below(2) == 0 {
        Finish::LastChunk
    } else {
        Finish::HeaderOnly
    }
}

fn final_rows(s: &Session) -> Vec<Record> {
    command_support::records(s.last())
}

#[test]
fn any_split_across_map_processes_equals_the_direct_run() {
    let mut input = scenario();
    input.extend(bad_events());
    // Copies of records land on different map processes: counted once, like the direct run.
    input.extend(mess_events(&input));
    for options in [
        vec!["threshold=3"],
        vec!["include_failed=true", "span=1h", "threshold=2"],
    ] {
        let direct_args: Vec<&str> = options.clone();
        let mut reduce_args = options.clone();
        reduce_args.push("distributed=true");
        let direct = session(&direct_args, &[input.clone()], Finish::LastChunk, false);
        let want = final_rows(&direct);
        assert!(want.len() >= 10, "{want:#?}");
        let want_msgs = direct.messages();
        assert_eq!(want_msgs.len(), 1);

        let (gi, _, _) = probe(&reduce_args);
        let preop = gi.meta["streaming_preop"]
            .as_str()
            .expect("streaming_preop")
            .to_owned();
        let map_args = preop_args(&preop);
        let map_args: Vec<&str> = map_args.iter().map(String::as_str).collect();

        for seed in 1..=4u64 {
            for n in 1..=4usize {
                let mut rng = Rng(seed * 7919 + n as u64);
                let mut shares: Vec<Vec<Event>> = vec![Vec::new(); n];
                for e in &input {
                    shares[rng.below(n)].push(e.clone());
                }
                let mut partial_rows = Vec::new();
                for share in &shares {
                    let chunks = random_chunks(share, &mut rng, 6);
                    let s = session(&map_args, &chunks, finish_style(&mut rng), false);
                    assert_eq!(s.getinfo.meta["type"], "streaming");
                    assert_eq!(s.code, 0, "{}", s.stderr);
                    assert!(s.messages().is_empty(), "the map phase sends no WARN");
                    for r in s.records() {
                        assert_eq!(
                            r.keys().collect::<Vec<_>>(),
                            ["t1651_state"],
                            "map rows carry only partial state"
                        );
                        partial_rows.push(r);
                    }
                }
                // splunkd concatenates the map outputs; their order must not matter.
                for i in (1..partial_rows.len()).rev() {
                    partial_rows.swap(i, rng.below(i + 1));
                }
                // A map output row is an event of the reduce side (same field-map type).
                let chunks = random_chunks(&partial_rows, &mut rng, 8);
                let reduce = session(&reduce_args, &chunks, finish_style(&mut rng), false);
                assert_eq!(reduce.getinfo.meta["type"], "reporting");
                let ctx = format!("options {options:?}, seed {seed}, {n} map process(es)");
                assert_eq!(final_rows(&reduce), want, "{ctx}");
                assert_eq!(reduce.messages(), want_msgs, "{ctx}");
            }
        }
    }
}

#[test]
fn the_reduce_side_also_takes_raw_events_when_splunkd_skips_the_map_phase() {
    let input = scenario();
    let direct = session(&[], std::slice::from_ref(&input), Finish::LastChunk, false);
    let reduce = session(&["distributed=true"], &[input], Finish::HeaderOnly, false);
    assert_eq!(final_rows(&reduce), final_rows(&direct));
}
