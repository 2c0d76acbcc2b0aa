//! Per-stanza checkpoint plus a journal of the ids sent since it was last written.
//!
//! Files in `checkpoint_dir`, named from a SHA-256 of the stanza name:
//! * `t1651_<hash>.json` — the checkpoint proper: per source (Azure subscription × provider, AWS
//!   region × event name) the instant up to which every slice was fully collected
//!   (`done_until`), and the ids of the events already sent whose event time lies within the
//!   overlap window before it. Replaced atomically: temp file, fsync, rename, fsync directory.
//! * `t1651_<hash>.journal` — one line `source \t event-time-ms \t id` appended **and
//!   fdatasync'd right after each event was written and flushed to stdout**. It is folded into
//!   the checkpoint (and emptied) whenever a slice completes.
//!
//! Guarantee (what the crash test measures): an event is recorded only after it was flushed, so
//! no crash can lose an event (it is re-read from the overlap window / the unfinished slice and
//! sent again). An event is sent twice only if the process dies in the gap between the
//! `write` of that event to stdout returning and the `write` of its journal line — so each
//! crash can duplicate at most the one event that was being emitted when it struck, and that
//! event is the last complete one the dying process wrote. A `SIGKILL` does not lose journal
//! lines already written (they are in the page cache); the fdatasync extends the same guarantee
//! to power loss of the host (what splunkd had read but not yet indexed when the host died is
//! beyond what the input can see).
//!
//! Not covered: two processes running the same stanza at once (splunkd runs one per stanza;
//! there is no lock), and a kill in the middle of writing an event larger than the pipe buffer,
//! which can leave a truncated fragment before the complete copy the next run writes.

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
    /// Ids already sent → their event time in epoch milliseconds.
    #[serde(default)]
    pub sent: BTreeMap<String, i64>,
}

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
    overlap: Duration,
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

    /// Open (or create) the checkpoint of `stanza`, replaying the journal of a previous run
    /// that did not finish. A corrupt checkpoint file is an error: starting over would resend
    /// everything, so the operator decides (delete the file to start over).
    pub fn open(dir: &Path, stanza: &str, overlap: Duration) -> Result<Self, ModinputError> {
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
        match File::open(&journal_path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let Ok(line) = line else { break };
                    // A line cut short by a crash has fewer fields or a bad number: its event was
                    // not recorded, so it is simply sent again.
                    let mut parts = line.splitn(3, '\t');
                    let (Some(src), Some(ms), Some(id)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let Ok(ms) = ms.parse::<i64>() else { continue };
                    if id.is_empty() {
                        continue;
                    }
                    state
                        .sources
                        .entry(src.to_string())
                        .or_default()
                        .sent
                        .insert(id.to_string(), ms);
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
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            path,
            journal_path,
            journal,
            state,
            overlap,
        })
    }

    /// Where collection of `source` stopped, if it ever started.
    pub fn done_until(&self, source: &str) -> Option<DateTime<Utc>> {
        self.state.sources.get(source).and_then(|s| s.done_until)
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

    /// Record that the event of `entry` was written and flushed. Call only after the event is on
    /// stdout. The line goes out in one `write` (surviving a SIGKILL from then on, being in the
    /// page cache) and is fdatasync'd before returning (surviving a host crash too).
    pub fn record_sent(&mut self, entry: JournalEntry) -> Result<(), ModinputError> {
        self.journal
            .write_all(entry.line.as_bytes())
            .and_then(|_| self.journal.sync_data())
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
        if s.done_until.map_or(true, |d| d < until) {
            s.done_until = Some(until);
        }
        self.save()
    }

    /// Prune and write the checkpoint atomically, then empty the journal it now contains.
    pub fn save(&mut self) -> Result<(), ModinputError> {
        let overlap = self.overlap;
        for s in self.state.sources.values_mut() {
            if let Some(d) = s.done_until {
                // One extra minute: no later query starts before `d - overlap`, and the margin
                // keeps that true whatever rounding an API applies to its time filter.
                let keep_from = (d - overlap - Duration::minutes(1)).timestamp_millis();
                s.sent.retain(|_, ms| *ms >= keep_from);
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
    fn ids_are_made_journal_safe() {
        assert_eq!(normalize_id("abc-123"), "abc-123");
        assert!(normalize_id("a\tb").starts_with("sha256:"));
        assert!(normalize_id("").starts_with("sha256:"));
    }
}
