//! [`Pool::ordered`]: the pure part of each row's work on several threads, the stateful part on
//! the caller's thread in row order.
//!
//! The detection splits naturally: reading and normalising an event (the `_raw` scan, most
//! of the command's time per event) touches nothing shared, while folding it into the
//! engine (interning, de-duplication, limits, counters, output) depends on what came before.
//! So the items are cut into blocks of [`BLOCK_ROWS`]; every thread, the caller's
//! included, claims the next unclaimed block, does the pure work and hands it over; the
//! caller consumes the blocks strictly in order. The answer is therefore the sequential
//! answer by construction, whatever the thread count or the scheduling. A summary's rows
//! are built the same way at the end (`Summary::row` on every thread, copied into the
//! reply on the caller's).
//!
//! Invariants:
//! * `sink` sees every index `0..n` exactly once, in increasing order, on the caller's thread;
//! * work is claimed dynamically, so a helper thread that gets no CPU (a busy machine) only
//!   means the caller does more blocks itself; with one thread, or fewer than two blocks, no
//!   helper is asked;
//! * helpers are threads of a [`Pool`], started once and reused by every call (a thread
//!   started per call came up too late to share a batch of a few hundred rows);
//! * memory is bounded: a helper stops after [`AHEAD`] finished blocks nobody has folded yet;
//! * a panicking helper loses nothing: the caller computes any block it never received, and
//!   the panic is re-raised when the scope ends (the runtime turns it into an error reply);
//! * `sink` borrows each result; a block is dropped by a thread of the kind that made it (a
//!   helper's by a helper, once folded: freeing another thread's allocations takes the
//!   allocator's slow path, on the caller, the busiest thread; bench/README.md, fourth
//!   round). A folded block waits at most until the call returns (the scope ends only when
//!   every helper job, the drops included, has run), so a call holds at most its own items.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Rows per block: about 170 KB of `_raw` in a typical chunk, large enough that claiming and
/// handing over (two atomic operations and a channel send) cost nothing measurable, small
/// enough that the threads share each 1 MiB batch of a few hundred rows (with 256-row blocks
/// a batch was one block for the caller and a short one for the helper; 64 rows: 0.395 ->
/// 0.32 s on the 100k session with two threads, bench/README.md).
pub const BLOCK_ROWS: usize = 64;

/// Finished blocks a helper may hold ahead of the fold (the channel's capacity).
pub const AHEAD: usize = 2;

/// The number of threads to use by default: two when the machine (or the process's CPU
/// affinity and quota) allows at least two, else one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// Helper threads for [`Pool::ordered`], started once and reused by every call: a command
/// calls it once per batch of rows (hundreds of times per search), and a thread started per
/// call came up after the caller had claimed most of a batch.
pub struct Pool {
    threads: usize,
    /// `threads - 1` helpers; `None` with one thread (or if they could not be started: then
    /// the caller does all the work, with the same answer).
    helpers: Option<rayon::ThreadPool>,
}

impl Pool {
    /// A pool for `threads` threads in all, the caller's included.
    pub fn new(threads: usize) -> Pool {
        let helpers = if threads > 1 {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads - 1)
                .thread_name(|i| format!("t1651-helper-{i}"))
                .build()
                .ok()
        } else {
            None
        };
        Pool { threads, helpers }
    }

    /// Whether calls use helper threads (more than one thread, and the helpers started).
    pub fn is_parallel(&self) -> bool {
        self.helpers.is_some()
    }

    /// Calls `work(i)` for every `i < n` on up to the pool's threads (the caller's included)
    /// and `sink(i, &mut result)` on the caller's thread in increasing `i`; a helper's results
    /// are dropped by a helper (see the module docs).
    pub fn ordered<T, W, S>(&self, n: usize, work: W, mut sink: S)
    where
        T: Send,
        W: Fn(usize) -> T + Sync,
        S: FnMut(usize, &mut T),
    {
        let blocks = n.div_ceil(BLOCK_ROWS);
        let helpers = match &self.helpers {
            Some(h) if blocks >= 2 => h,
            _ => {
                for i in 0..n {
                    sink(i, &mut work(i));
                }
                return;
            }
        };
        let range = |b: usize| b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n);
        let next = AtomicUsize::new(0);
        // The body runs on the caller's thread; the helpers' jobs borrow `work`, and the
        // scope returns only once they have ended (a helper's panic is raised again then).
        helpers.in_place_scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<(usize, Vec<T>)>(AHEAD);
            for _ in 1..self.threads.min(blocks) {
                let tx = tx.clone();
                let (next, work, range) = (&next, &work, &range);
                scope.spawn(move |_| loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= blocks {
                        break;
                    }
                    let done: Vec<T> = range(b).map(work).collect();
                    if tx.send((b, done)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            // Blocks finished but not folded yet (the caller's own, and helpers' that
            // arrived before an earlier one), with whether a helper made them.
            let mut stash: BTreeMap<usize, (Vec<T>, bool)> = BTreeMap::new();
            let mut helpers_gone = false;
            let mut folded = 0usize;
            loop {
                let mine = next.fetch_add(1, Ordering::Relaxed);
                if mine < blocks {
                    stash.insert(mine, (range(mine).map(&work).collect(), false));
                }
                // Fold everything up to our own block (or to the end once all are claimed).
                let upto = (mine + 1).min(blocks);
                while folded < upto {
                    if let Some((mut done, helper_made)) = stash.remove(&folded) {
                        for (i, t) in range(folded).zip(done.iter_mut()) {
                            sink(i, t);
                        }
                        if helper_made {
                            // Freed where it was allocated: a thread freeing another's
                            // allocations takes the allocator's slow path (glibc: the other
                            // arena's lock), which the caller, the busiest thread, can spare.
                            scope.spawn(move |_| drop(done));
                        }
                        folded += 1;
                        continue;
                    }
                    if !helpers_gone {
                        match rx.recv() {
                            Ok((b, done)) => {
                                stash.insert(b, (done, true));
                                continue;
                            }
                            // Every helper job ended: a claimed block that never came was
                            // lost with a panicking helper.
                            Err(_) => helpers_gone = true,
                        }
                    }
                    let lost = folded;
                    stash.insert(lost, (range(lost).map(&work).collect(), false));
                }
                if mine >= blocks {
                    break;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn run(n: usize, threads: usize) -> Vec<(usize, usize)> {
        let mut seen = Vec::new();
        Pool::new(threads).ordered(n, |i| i * 3, |i, t| seen.push((i, *t)));
        seen
    }

    #[test]
    fn every_index_once_in_order() {
        for threads in [1, 2, 3, 8] {
            for n in [0, 1, BLOCK_ROWS - 1, BLOCK_ROWS, 2 * BLOCK_ROWS + 1, 50_000] {
                let seen = run(n, threads);
                let want: Vec<(usize, usize)> = (0..n).map(|i| (i, i * 3)).collect();
                assert_eq!(seen, want, "n={n} threads={threads}");
            }
        }
    }

    #[test]
    fn a_slow_sink_does_not_grow_memory_without_bound() {
        // The helper can be at most AHEAD blocks (plus the one it is sending and the
        // caller's own) ahead of the fold.
        let produced = AtomicUsize::new(0);
        let mut max_ahead = 0usize;
        Pool::new(2).ordered(
            64 * BLOCK_ROWS,
            |i| {
                produced.fetch_add(1, Ordering::Relaxed);
                i
            },
            |i, _| {
                let ahead = produced.load(Ordering::Relaxed) - i;
                max_ahead = max_ahead.max(ahead);
                if i % BLOCK_ROWS == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            },
        );
        assert!(
            max_ahead <= (AHEAD + 3) * BLOCK_ROWS,
            "{max_ahead} rows produced ahead of the fold"
        );
    }

    /// A pool's helpers are the same threads in every call, and they take part: in each
    /// call the caller's first block waits (up to ten seconds) until a helper has done one.
    #[test]
    fn the_pool_lends_the_same_helpers_to_every_call() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        let pool = Pool::new(3);
        let main = std::thread::current().id();
        let helpers = Mutex::new(HashSet::new());
        for call in 0..5 {
            let helped = AtomicBool::new(false);
            let mut seen = 0;
            pool.ordered(
                8 * BLOCK_ROWS,
                |i| {
                    let me = std::thread::current().id();
                    if me == main {
                        let t0 = std::time::Instant::now();
                        while !helped.load(Ordering::SeqCst)
                            && t0.elapsed() < std::time::Duration::from_secs(10)
                        {
                            std::thread::yield_now();
                        }
                    } else {
                        helpers.lock().unwrap().insert(me);
                        helped.store(true, Ordering::SeqCst);
                    }
                    i
                },
                |i, t| {
                    assert_eq!((i, *t), (seen, seen));
                    seen += 1;
                },
            );
            assert_eq!(seen, 8 * BLOCK_ROWS);
            assert!(
                helped.load(Ordering::SeqCst),
                "call {call}: no helper took a block"
            );
        }
        let helpers = helpers.into_inner().unwrap();
        assert!(
            (1..=2).contains(&helpers.len()),
            "{} helper threads over five calls of a pool of three threads",
            helpers.len()
        );
    }

    /// What a thread made is freed on that thread (the caller's blocks by the caller, a
    /// helper's by the helper): one helper, so every item is dropped where it was made.
    #[test]
    fn results_are_dropped_on_the_thread_that_made_them() {
        use std::sync::Mutex;
        use std::thread::ThreadId;
        struct Item<'m> {
            made: ThreadId,
            log: &'m Mutex<Vec<(ThreadId, ThreadId)>>,
        }
        impl Drop for Item<'_> {
            fn drop(&mut self) {
                let me = std::thread::current().id();
                self.log.lock().unwrap().push((self.made, me));
            }
        }
        let log = Mutex::new(Vec::new());
        let main = std::thread::current().id();
        let pool = Pool::new(2);
        for _ in 0..5 {
            // The caller waits (up to ten seconds) until a helper has made an item.
            let helped = AtomicBool::new(false);
            pool.ordered(
                16 * BLOCK_ROWS,
                |_| {
                    let me = std::thread::current().id();
                    let t0 = std::time::Instant::now();
                    while me == main
                        && !helped.load(Ordering::SeqCst)
                        && t0.elapsed() < std::time::Duration::from_secs(10)
                    {
                        std::thread::yield_now();
                    }
                    helped.fetch_or(me != main, Ordering::SeqCst);
                    Item {
                        made: me,
                        log: &log,
                    }
                },
                |_, _| {},
            );
        }
        let log = log.into_inner().unwrap();
        assert_eq!(log.len(), 5 * 16 * BLOCK_ROWS, "every item dropped once");
        assert!(log.iter().all(|(made, freed)| made == freed));
        assert!(
            log.iter().any(|(made, _)| *made != main),
            "no helper took part"
        );
    }

    #[test]
    fn a_panicking_helper_loses_no_row_and_the_panic_surfaces() {
        let panicked = AtomicBool::new(false);
        let main = std::thread::current().id();
        let mut seen = Vec::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Pool::new(2).ordered(
                16 * BLOCK_ROWS,
                |i| {
                    if std::thread::current().id() != main && !panicked.swap(true, Ordering::SeqCst)
                    {
                        panic!("helper fails");
                    }
                    i
                },
                |i, t| seen.push((i, *t)),
            )
        }));
        let want: Vec<(usize, usize)> = (0..16 * BLOCK_ROWS).map(|i| (i, i)).collect();
        assert_eq!(seen, want);
        // The helper may not have been scheduled before the caller claimed every block.
        assert_eq!(r.is_err(), panicked.load(Ordering::SeqCst));
    }
}
