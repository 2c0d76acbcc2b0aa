//! Which files a scan reads, in which order.

use std::io;
use std::path::{Path, PathBuf};

use super::{InputError, Problem, ProblemKind};

/// The files to read, in reading order, and what was skipped while listing directories.
#[derive(Debug, Default)]
pub struct FileList {
    pub files: Vec<PathBuf>,
    /// Directory entries skipped for their name, type or because they are hidden.
    pub ignored: u64,
    /// Directories (below the named ones) that could not be listed.
    pub problems: Vec<Problem>,
}

/// Whether a file found inside a directory is read: `*.json`, `*.jsonl`, `*.ndjson`, each
/// optionally followed by `.gz` (case-insensitive). Files named explicitly are always read.
pub fn is_log_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| stem.ends_with(ext))
}

/// Expands the named paths into the files to read, in a deterministic order: paths in the
/// order given; inside a directory, entries sorted by name (byte order), recursively.
/// Hidden entries (`.name`) and symbolic links to directories are skipped (no cycles).
///
/// A named path that does not exist or cannot be inspected is an [`InputError`]; a
/// directory below it that cannot be listed is a [`Problem`] and the walk goes on.
pub fn collect_files<P: AsRef<Path>>(paths: &[P]) -> Result<FileList, InputError> {
    let mut list = FileList::default();
    for p in paths {
        let path = p.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                InputError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                InputError::Unreadable {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        if meta.is_dir() {
            walk_dir(path, &mut list);
        } else {
            list.files.push(path.to_path_buf());
        }
    }
    Ok(list)
}

fn walk_dir(dir: &Path, list: &mut FileList) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd.collect::<Result<Vec<_>, _>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(v) => v,
        Err(e) => {
            list.problems.push(Problem {
                file: dir.to_path_buf(),
                line: None,
                column: None,
                index: None,
                kind: ProblemKind::Unreadable,
                detail: format!("cannot list directory: {e}"),
            });
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let path = entry.path();
        if name.to_string_lossy().starts_with('.') {
            list.ignored += 1;
            continue;
        }
        // file_type() does not follow symlinks: a linked directory is skipped (no cycles),
        // a linked file is read if its name says it is a log.
        let Ok(ft) = entry.file_type() else {
            list.ignored += 1;
            continue;
        };
        if ft.is_dir() {
            walk_dir(&path, list);
        } else if (ft.is_file() || (ft.is_symlink() && path.is_file()))
            && is_log_file_name(&name.to_string_lossy())
        {
            list.files.push(path);
        } else {
            list.ignored += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_names() {
        for ok in [
            "PT1H.json",
            "a.JSON",
            "x.jsonl",
            "x.ndjson.gz",
            "ct.json.gz",
        ] {
            assert!(is_log_file_name(ok), "{ok}");
        }
        for no in ["README.md", "x.gz", "json", "a.json.bak", "x.txt"] {
            assert!(!is_log_file_name(no), "{no}");
        }
    }
}
