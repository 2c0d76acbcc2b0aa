//! `threads=` and `--batch-bytes` never change an answer: the same messy input (every log
//! shape, flattened events, copies, truncated and broken records, partial-state rows)
//! through the spawned binary with one thread and with several, and with each request
//! handed to the command whole or in many batches as it arrives, gives byte-identical
//! replies, in every mode, with limits reached, for chunks large enough to be cut into many
//! blocks and read in many pieces.

mod command_fixtures;
mod command_support;
mod detect_support;
mod scp_emulator;

use command_fixtures::{bad_events, mess_events, scenario};
use command_support::{chunks, preop_args, session, session_argv, Event, Finish, Record, Session};
use t1651::parallel::BLOCK_ROWS;

/// `copies` variations of the scenario with its mess: every copy has its own callers (new
/// groups), shares the correlation ids and event ids (so copies of records meet across
/// blocks and chunks), in an order that interleaves the shapes.
fn big_input(copies: usize) -> Vec<Event> {
    let mut base = scenario();
    base.extend(mess_events(&base));
    base.extend(bad_events());
    let mut out = Vec::new();
    for k in 0..copies {
        for e in &base {
            let e: Event = e
                .iter()
                .map(|(n, vs)| {
                    let vs = vs
                        .iter()
                        .map(|v| v.replace("contoso", &format!("contoso{}", k % 7)))
                        .collect();
                    (n.clone(), vs)
                })
                .collect();
            out.push(e);
        }
    }
    // A fixed permutation (multiplicative step coprime to the length).
    let n = out.len();
    let step = (1..n)
        .rev()
        .find(|s| gcd(*s, n) == 1 && *s > n / 3)
        .unwrap_or(1);
    (0..n).map(|i| out[(i * step) % n].clone()).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Everything splunkd would see of a session: every reply's records and messages, and the
/// exit code. The partial-state rows of a map phase come in hash-table order, which has no
/// meaning (the reducer's merge is commutative) and differs between processes even with one
/// thread: with `unordered`, each reply's records are compared as a multiset.
fn seen(s: &Session, unordered: bool) -> (Vec<Vec<Record>>, Vec<(String, String)>, i32) {
    let mut replies: Vec<Vec<Record>> = s.replies.iter().map(command_support::records).collect();
    if unordered {
        for r in &mut replies {
            r.sort();
        }
    }
    (replies, s.messages(), s.code)
}

fn with_threads(args: &[&str], threads: usize) -> Vec<String> {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.push(format!("threads={threads}"));
    a
}

fn run(args: &[String], events: &[Event], size: usize) -> Session {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    session(&args, &chunks(events, size), Finish::HeaderOnly, false)
}

/// Every mode, and every limit reached: which groups, invocations and ids are kept depends
/// on the order of arrival, which the fold keeps.
const CASES: &[&[&str]] = &[
    &[],
    &["mode=events"],
    &["phase=map"],
    &["include_failed=true", "span=1h"],
    &["max_groups=5"],
    &["max_invocations=20"],
    &["max_event_ids=50"],
    &["max_values=2"],
];

#[test]
fn thread_count_never_changes_a_reply() {
    let events = big_input(80);
    assert!(
        events.len() > 8 * BLOCK_ROWS,
        "{} rows: too few blocks",
        events.len()
    );
    for args in CASES {
        for size in [events.len(), 3 * BLOCK_ROWS + 17] {
            let unordered = args.contains(&"phase=map");
            let one = run(&with_threads(args, 1), &events, size);
            let want = seen(&one, unordered);
            assert!(
                !want.0.iter().all(Vec::is_empty),
                "{args:?}: no rows at all"
            );
            for threads in [2, 3, 4] {
                let got = run(&with_threads(args, threads), &events, size);
                assert!(
                    seen(&got, unordered) == want,
                    "{args:?}, chunks of {size}: threads={threads} differs from threads=1"
                );
            }
        }
    }
}

#[test]
fn batch_size_never_changes_a_reply() {
    let events = big_input(80);
    let body_bytes = command_support::body(&events, &["_raw", "_time"], false).len();
    assert!(
        body_bytes > 8 * 256 * 1024,
        "{body_bytes} bytes: too few pieces"
    );
    for args in CASES {
        let unordered = args.contains(&"phase=map");
        let run_with = |argv: &[&str]| {
            let s = session_argv(
                argv,
                args,
                std::slice::from_ref(&events),
                Finish::HeaderOnly,
                false,
            );
            seen(&s, unordered)
        };
        // One batch per request (the chunk is far below 2 GiB).
        let want = run_with(&["--batch-bytes=2147483648"]);
        assert!(!want.0.iter().all(Vec::is_empty), "{args:?}: no rows");
        for argv in [&["--batch-bytes=1"][..], &["--batch-bytes=1000000"], &[]] {
            assert!(
                run_with(argv) == want,
                "{args:?}: {argv:?} differs from whole requests"
            );
        }
    }
}

#[test]
fn partial_state_rows_reduce_the_same_with_any_thread_count() {
    let events = big_input(20);
    // Map phase output (partial-state rows), fed to the reduce side in large chunks mixed
    // with raw events.
    let map = run(&with_threads(&["phase=map"], 1), &events, 700);
    let mut partial: Vec<Event> = map
        .records()
        .into_iter()
        .map(|r| r.into_iter().collect())
        .collect();
    assert!(!partial.is_empty());
    partial.extend(events.iter().take(3 * BLOCK_ROWS).cloned());
    let preop = run(&with_threads(&["distributed=true"], 1), &[], 1)
        .getinfo
        .meta["streaming_preop"]
        .as_str()
        .map(preop_args)
        .expect("a map phase");
    assert!(preop.iter().any(|a| a == "phase=map"), "{preop:?}");
    let want = seen(&run(&with_threads(&[], 1), &partial, partial.len()), false);
    for threads in [2, 4] {
        let got = seen(
            &run(&with_threads(&[], threads), &partial, partial.len()),
            false,
        );
        assert!(got == want, "threads={threads}");
    }
}

#[test]
fn threads_option_is_checked() {
    let (reply, _, _) = command_support::probe(&["threads=0"]);
    let e = reply.error().expect("threads=0 refused");
    assert!(e.contains("threads") && e.contains("1 to 16"), "{e}");
    let (reply, _, _) = command_support::probe(&["threads=17"]);
    assert!(reply.error().is_some());
    let (reply, _, _) = command_support::probe(&["threads=2"]);
    assert!(reply.error().is_none(), "{:?}", reply.meta);
}
