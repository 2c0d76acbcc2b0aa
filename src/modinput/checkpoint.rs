//! Per-stanza checkpoint plus a journal of the ids sent since it was last written.
//!
//! Files in `checkpoint_dir`, named from a SHA-256 of the stanza name:
//! * `t1651_<hash>.json` — the checkpoint proper: per source (Azure subscription × provider, AWS
//!   region × event name) the instant up to which every slice was fully collected
//!   (`done_until`), and the ids of the events already sent whose event time lies within the
//!   overlap window before it. Replaced atomically: temp file, fsync, rename, fsync directory.
//! * `t1651_<hash>.journal` — one line `source \t event-time-ms \t id \n` per event, appended
//!   with a single plain `write(2)` immediately after the event's own single `write(2)` to
//!   stdout. It is folded into the checkpoint (and emptied, then fsync'd) whenever a slice
//!   completes.
//!
//! # Guarantee
//!
//! Against the process being killed (SIGKILL, OOM killer, panic, splunkd stopping it) at any
//! instant:
//! * **Zero loss.** An event is journalled only after its `write(2)` to stdout returned, and a
//!   slice is checkpointed only after all its events were journalled. Whatever was not recorded
//!   is re-read (the unfinished slice, or the overlap window) and sent by the next run.
//! * **A duplicate only if the kill lands between two adjacent syscalls** — the `write(2)` of an
//!   event to stdout and the `write(2)` of its journal line, with no other work between them
//!   (the line is formatted beforehand, see [`Checkpoint::entry`]). So a crash duplicates at
//!   most one event, and that event is the last complete one the dying process wrote. Data
//!   handed to the kernel with `write(2)` survives the death of the process (it is in the page
//!   cache, or in the pipe), so no fsync is needed for this. How often a kill hits the window
//!   is a matter of timing, not of correctness: a signal is acted on when the process returns
//!   to user space, so a kill that arrives while the event's pipe `write(2)` executes lets it
//!   complete — the window spans that whole syscall, including waking the reader. That is
//!   microseconds, but while a page of events is streamed it is a sizeable part of each
//!   event's cycle (on the 2-vCPU test VM about half: ~50 µs of ~100 µs), so the crash test,
//!   which kills mid-stream on purpose, sees about one duplicate per ten kills.
//! * **No half events** for an event element of at most `PIPE_BUF` (4096) bytes on a pipe: it
//!   is one `write(2)`, which the kernel performs whole. A larger element killed mid-write can
//!   leave a truncated fragment (not an event: it lacks `</event>`); the whole event follows in
//!   the next run, so nothing is lost or doubled.
//!
//! Why the journal is not fsync'd per event: fsync only matters if the *host* dies. Then a
//! journal line lost can only make the next run re-send that event (the journal exists solely
//! to suppress re-sends, never to mark progress), while the events still in the pipe to splunkd
//! are lost with the host anyway — so per-event fsync bought nothing but a wider (milliseconds
//! instead of microseconds) window for the duplicate a kill can cause. The checkpoint, which
//! does mark progress, is still written durably (fsync before and after the rename). A journal
//! line torn or zero-filled by a host crash is rejected on replay (see [`Checkpoint::open`]),
//! so it can never suppress an event.
//!
//! Not covered: two processes running the same stanza at once (splunkd runs one per stanza;
//! there is no lock).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ModinputError;

/// What is remembered about one source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceState {
    /// Every event with an event time before this was collected (modulo late arrivals, which
    /// the overlap window catches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_until: Option<DateTime<Utc>>,
    /// Ids already sent → their event time in epoch milliseconds. Bounded: ids older than the
    /// retention are pruned at every save, and at most [`MAX_IDS_PER_SOURCE`] are kept.
    #[serde(default)]
    pub sent: BTreeMap<String, i64>,
    /// Where collection of this source first started (the late re-read never goes before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_from: Option<DateTime<Utc>>,
    /// When the late re-read last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swept_at: Option<DateTime<Utc>>,
}

/// Most ids remembered per source. Only the collected operations are remembered (T1651 events
/// are rare), so this is far above a real estate's volume; past it the oldest are forgotten
/// (with a WARN), which can only cause a re-send, never a loss.
pub const MAX_IDS_PER_SOURCE: usize = 200_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    stanza: String,
    #[serde(default)]
    sources: BTreeMap<String, SourceState>,
}

const VERSION: u32 = 1;

/// Hex SHA-256 of `text`.
pub fn sha256_hex(text: &[u8]) -> String {
    Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An id safe for a journal line: tabs, newlines and very long ids are replaced by a hash.
pub fn normalize_id(id: &str) -> String {
    if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control()) {
        format!("sha256:{}", sha256_hex(id.as_bytes()))
    } else {
        id.to_string()
    }
}

/// Parse one journal line read with its terminator. A line is trusted only if it is complete:
/// it ends in `\n`, is UTF-8 without NUL bytes, and has three tab-separated fields with a
/// numeric time and a non-empty id. Anything else — the tail of a write cut short, or blocks a
/// host crash left zero-filled — is ignored, which can only cause a re-send, never a loss.
fn parse_journal_line(raw: &[u8]) -> Option<(&str, i64, &str)> {
    let body = raw.strip_suffix(b"\n")?;
    if body.contains(&0) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut parts = text.splitn(3, '\t');
    let (src, ms, id) = (parts.next()?, parts.next()?, parts.next()?);
    let ms = ms.parse::<i64>().ok()?;
    (!src.is_empty() && !id.is_empty() && !id.contains('\t')).then_some((src, ms, id))
}

/// A journal line prepared by [`Checkpoint::entry`].
#[derive(Debug, Clone)]
pub struct JournalEntry {
    line: String,
    source: String,
    id: String,
    ms: i64,
}

/// The open checkpoint of one stanza.
pub struct Checkpoint {
    dir: PathBuf,
    path: PathBuf,
    journal_path: PathBuf,
    journal: File,
    state: State,
    /// Ids are kept this long before `done_until` (the farthest any query re-reads).
    retention: Duration,
}

fn cp_err(path: &Path, reason: impl std::fmt::Display) -> ModinputError {
    ModinputError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Checkpoint {
    /// The checkpoint file of `stanza` in `dir`.
    pub fn path_for(dir: &Path, stanza: &str) -> PathBuf {
        dir.join(format!(
            "t1651_{}.json",
            &sha256_hex(stanza.as_bytes())[..32]
        ))
    }

    /// Open (or create) the checkpoint of `stanza`, replaying (and folding in) the journal of a
    /// previous run that did not finish; journal lines that are not complete are ignored (see
    /// `parse_journal_line`). A corrupt checkpoint file is an error: starting over would
    /// resend everything, so the operator decides (delete the file to start over).
    pub fn open(dir: &Path, stanza: &str, retention: Duration) -> Result<Self, ModinputError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| cp_err(dir, format!("cannot create directory: {e}")))?;
        let path = Self::path_for(dir, stanza);
        let journal_path = path.with_extension("journal");
        let mut state = match std::fs::read(&path) {
            Ok(bytes) => {
                let s: State = serde_json::from_slice(&bytes).map_err(|e| {
                    cp_err(
                        &path,
                        format!("is corrupt ({e}); delete it to start over from start_from"),
                    )
                })?;
                if s.version != VERSION {
                    return Err(cp_err(
                        &path,
                        format!("has version {}, expected {VERSION}", s.version),
                    ));
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                version: VERSION,
                stanza: stanza.to_string(),
                sources: BTreeMap::new(),
            },
            Err(e) => return Err(cp_err(&path, format!("cannot read: {e}"))),
        };
        let mut replayed = 0usize;
        match File::open(&journal_path) {
            Ok(f) => {
                let mut reader = BufReader::new(f);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    // A read error ends the replay early: the ids not read are re-sent.
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => replayed += n,
                    }
                    if let Some((src, ms, id)) = parse_journal_line(&line) {
                        state
                            .sources
                            .entry(src.to_string())
                            .or_default()
                            .sent
                            .insert(id.to_string(), ms);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(cp_err(&journal_path, format!("cannot read: {e}"))),
        }
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(|e| cp_err(&journal_path, format!("cannot open for append: {e}")))?;
        let mut cp = Checkpoint {
            dir: dir.to_path_buf(),
            path,
            journal_path,
            journal,
            state,
            retention,
        };
        if replayed > 0 {
            // Fold the previous run's journal into the checkpoint now, which empties it: a
            // line torn by the crash can then never be glued to this run's first line, and
            // the journal does not grow across repeated crashes.
            cp.save()?;
        }
        Ok(cp)
    }

    /// Where collection of `source` stopped, if it ever started.
    pub fn done_until(&self, source: &str) -> Option<DateTime<Utc>> {
        self.state.sources.get(source).and_then(|s| s.done_until)
    }

    /// Where `source` first started collecting, if recorded.
    pub fn first_from(&self, source: &str) -> Option<DateTime<Utc>> {
        self.state.sources.get(source).and_then(|s| s.first_from)
    }

    /// Record where a new source starts (kept in memory; saved with the next checkpoint).
    pub fn note_first_from(&mut self, source: &str, from: DateTime<Utc>) {
        let s = self.state.sources.entry(source.to_string()).or_default();
        if s.first_from.is_none() {
            s.first_from = Some(from);
        }
    }

    /// When the late re-read of `source` last completed.
    pub fn swept_at(&self, source: &str) -> Option<DateTime<Utc>> {
        self.state.sources.get(source).and_then(|s| s.swept_at)
    }

    /// Record a completed late re-read (saved with the next checkpoint).
    pub fn mark_swept(&mut self, source: &str, at: DateTime<Utc>) {
        self.state
            .sources
            .entry(source.to_string())
            .or_default()
            .swept_at = Some(at);
    }

    /// Whether an event id of `source` was already sent.
    pub fn is_sent(&self, source: &str, id: &str) -> bool {
        self.state
            .sources
            .get(source)
            .is_some_and(|s| s.sent.contains_key(id))
    }

    /// Number of ids remembered (all sources): bounded by the events of one slice plus the overlap.
    pub fn remembered(&self) -> usize {
        self.state.sources.values().map(|s| s.sent.len()).sum()
    }

    /// Prepare the journal entry of an event before writing the event, so that the gap between
    /// the event's `write` to stdout and its journal `write` holds no work but the syscall itself.
    pub fn entry(&self, source: &str, id: &str, time: Option<DateTime<Utc>>) -> JournalEntry {
        // An event without a usable time is remembered as if it happened now.
        let ms = time.unwrap_or_else(Utc::now).timestamp_millis();
        JournalEntry {
            line: format!("{source}\t{ms}\t{id}\n"),
            source: source.to_string(),
            id: id.to_string(),
            ms,
        }
    }

    /// Record that the event of `entry` was written. Call immediately after the event's
    /// `write(2)` to stdout returned. The line goes out in one `write(2)` on an unbuffered,
    /// append-mode file and survives the death of the process from then on (page cache). It is
    /// deliberately not fsync'd: see the module docs — durability against a host crash comes
    /// from the checkpoint, and a journal line lost to one can only cause a re-send.
    pub fn record_sent(&mut self, entry: JournalEntry) -> Result<(), ModinputError> {
        self.journal
            .write_all(entry.line.as_bytes())
            .map_err(|e| cp_err(&self.journal_path, format!("cannot append: {e}")))?;
        self.state
            .sources
            .entry(entry.source)
            .or_default()
            .sent
            .insert(entry.id, entry.ms);
        Ok(())
    }

    /// Mark every event of `source` before `until` as collected and persist the checkpoint.
    /// Ids older than `until - overlap` (less a minute of margin) are forgotten: no later run re-reads that far back.
    pub fn complete(&mut self, source: &str, until: DateTime<Utc>) -> Result<(), ModinputError> {
        let s = self.state.sources.entry(source.to_string()).or_default();
        if s.done_until.is_none_or(|d| d < until) {
            s.done_until = Some(until);
        }
        self.save()
    }

    /// Prune and write the checkpoint atomically, then empty the journal it now contains.
    pub fn save(&mut self) -> Result<(), ModinputError> {
        let retention = self.retention;
        for (key, s) in self.state.sources.iter_mut() {
            if let Some(d) = s.done_until {
                // One extra minute: no later query starts before `d - retention`, and the margin
                // keeps that true whatever rounding an API applies to its time filter.
                let keep_from = (d - retention - Duration::minutes(1)).timestamp_millis();
                s.sent.retain(|_, ms| *ms >= keep_from);
            }
            if s.sent.len() > MAX_IDS_PER_SOURCE {
                let mut times: Vec<i64> = s.sent.values().copied().collect();
                times.sort_unstable();
                let cut = times[s.sent.len() - MAX_IDS_PER_SOURCE];
                let before = s.sent.len();
                s.sent.retain(|_, ms| *ms >= cut);
                super::log::warn(&format!(
                    "{key}: more than {MAX_IDS_PER_SOURCE} sent ids to remember; forgot the {} oldest (an event among them re-read later would be sent again)",
                    before - s.sent.len()
                ));
            }
        }
        let bytes = serde_json::to_vec(&self.state).map_err(|e| cp_err(&self.path, e))?;
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut f =
                File::create(&tmp).map_err(|e| cp_err(&tmp, format!("cannot create: {e}")))?;
            f.write_all(&bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| cp_err(&tmp, format!("cannot write: {e}")))?;
        }
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| cp_err(&self.path, format!("cannot replace: {e}")))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| cp_err(&self.dir, format!("cannot sync directory: {e}")))?;
        // Only now is the journal redundant. A crash before this line replays ids the
        // checkpoint already holds, which is harmless.
        self.journal
            .set_len(0)
            .and_then(|_| self.journal.sync_all())
            .map_err(|e| cp_err(&self.journal_path, format!("cannot truncate: {e}")))?;
        Ok(())
    }

    /// Keys of every source with a checkpoint.
    pub fn source_keys(&self) -> impl Iterator<Item = &str> {
        self.state.sources.keys().map(String::as_str)
    }

    /// The state of one source (tests and diagnostics).
    pub fn source(&self, source: &str) -> Option<&SourceState> {
        self.state.sources.get(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn journal_survives_reopen_and_is_folded_on_complete() {
        let dir = std::env::temp_dir().join(format!("t1651cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let st = "t1651_cloud_audit://x";
        {
            let mut cp = Checkpoint::open(&dir, st, Duration::minutes(15)).unwrap();
            for (id, at) in [
                ("a", "2024-01-01T00:50:00Z"),
                ("old", "2024-01-01T00:10:00Z"),
            ] {
                let e = cp.entry("s", id, Some(t(at)));
                cp.record_sent(e).unwrap();
            }
            // dropped without complete(): as if killed
        }
        // a torn last line is ignored
        let jp = Checkpoint::path_for(&dir, st).with_extension("journal");
        OpenOptions::new()
            .append(true)
            .open(&jp)
            .unwrap()
            .write_all(b"s\t17")
            .unwrap();
        let mut cp = Checkpoint::open(&dir, st, Duration::minutes(15)).unwrap();
        assert!(cp.is_sent("s", "a") && cp.is_sent("s", "old"));
        assert_eq!(cp.done_until("s"), None);
        assert_eq!(
            std::fs::metadata(&jp).unwrap().len(),
            0,
            "the replayed journal is folded into the checkpoint at open"
        );
        cp.complete("s", t("2024-01-01T01:00:00Z")).unwrap();
        assert!(cp.is_sent("s", "a"), "within the overlap: kept");
        assert!(!cp.is_sent("s", "old"), "before the overlap: pruned");
        assert_eq!(std::fs::metadata(&jp).unwrap().len(), 0);
        drop(cp);
        let cp = Checkpoint::open(&dir, st, Duration::minutes(15)).unwrap();
        assert_eq!(cp.done_until("s"), Some(t("2024-01-01T01:00:00Z")));
        assert!(cp.is_sent("s", "a"));
        std::fs::write(Checkpoint::path_for(&dir, st), b"{garbage").unwrap();
        let e = Checkpoint::open(&dir, st, Duration::minutes(15))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("corrupt"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_complete_journal_lines_count() {
        assert_eq!(parse_journal_line(b"s\t17\tab\n"), Some(("s", 17, "ab")));
        // A write cut short inside the id must not record a prefix of the id.
        assert_eq!(parse_journal_line(b"s\t17\tab"), None);
        // Blocks a host crash left zero-filled.
        assert_eq!(parse_journal_line(b"s\t17\tab\0\0\n"), None);
        assert_eq!(parse_journal_line(b"\0\0\0\0\n"), None);
        // A torn line glued to a later one.
        assert_eq!(parse_journal_line(b"s\t17\tas\t18\tb\n"), None);
        assert_eq!(parse_journal_line(b"s\t17s\t18\tb\n"), None);
        assert_eq!(parse_journal_line(b"s\t\tb\n"), None);
        assert_eq!(parse_journal_line(b"s\t17\t\n"), None);
        assert_eq!(parse_journal_line(b"\xff\t17\tb\n"), None);
    }

    #[test]
    fn a_torn_journal_tail_never_suppresses_an_event() {
        let dir = std::env::temp_dir().join(format!("t1651cp-torn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let st = "t1651_cloud_audit://torn";
        let jp = Checkpoint::path_for(&dir, st).with_extension("journal");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&jp, b"s\t1\tevent-1\ns\t2\tevent-2\0\0\ns\t3\tevent").unwrap();
        let cp = Checkpoint::open(&dir, st, Duration::minutes(15)).unwrap();
        assert!(cp.is_sent("s", "event-1"));
        assert!(!cp.is_sent("s", "event-2"));
        assert!(!cp.is_sent("s", "event"), "a prefix of an id is not an id");
        assert_eq!(cp.remembered(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ids_are_made_journal_safe() {
        assert_eq!(normalize_id("abc-123"), "abc-123");
        assert!(normalize_id("a\tb").starts_with("sha256:"));
        assert!(normalize_id("").starts_with("sha256:"));
    }
}
