//! Stage 1 of the reading pipeline: which inputs a scan reads, in which order, and which
//! directory entries it skips (and why).
//!
//! Named paths are read in the order given; `-` is standard input. Inside a directory,
//! entries are visited sorted by name (byte order), recursively. Every regular file is a
//! candidate whatever its name: its content decides whether and how it is read (see
//! the `format` stage). Skipped: hidden entries (`.name`), entries that are neither files
//! nor directories (sockets, FIFOs, devices), and symbolic links to directories unless
//! [`WalkOptions::follow_symlinks`]; with it, a directory already visited (a link loop, or
//! two links to one directory) is skipped, so the walk always ends.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{Problem, ProblemKind};

/// The name standard input is reported under.
pub const STDIN_NAME: &str = "<stdin>";

/// How directories are walked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkOptions {
    /// Follow symbolic links to directories (each directory is still read once).
    pub follow_symlinks: bool,
}

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`: standard input.
    Stdin,
    /// A file, named on the command line (`in_directory` false) or found in a directory.
    File { path: PathBuf, in_directory: bool },
}

impl Input {
    /// Found while walking a directory (rather than named): content that is plain text but
    /// not JSON is then skipped rather than reported.
    pub fn in_directory(&self) -> bool {
        matches!(
            self,
            Input::File {
                in_directory: true,
                ..
            }
        )
    }

    /// The name the input is reported under.
    pub fn path(&self) -> &Path {
        match self {
            Input::Stdin => Path::new(STDIN_NAME),
            Input::File { path, .. } => path,
        }
    }
}

/// Why an entry was not read. The `Display` form is the stable reason name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Its name starts with a dot.
    Hidden,
    /// A symbolic link to a directory, without `--follow-symlinks`.
    SymlinkedDirectory,
    /// A directory already read through another path (link loop or duplicate link).
    AlreadyVisited,
    /// Neither a regular file nor a directory (socket, FIFO, device, dangling link).
    NotAFile,
    /// Plain text that is not JSON (a README, a script), found in a directory.
    NotJson,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Hidden => "hidden",
            SkipReason::SymlinkedDirectory => "symlinked_directory",
            SkipReason::AlreadyVisited => "already_visited",
            SkipReason::NotAFile => "not_a_file",
            SkipReason::NotJson => "not_json",
        }
    }

    /// A sentence for `--verbose`.
    pub fn explain(self) -> &'static str {
        match self {
            SkipReason::Hidden => "hidden (name starts with a dot)",
            SkipReason::SymlinkedDirectory => {
                "symbolic link to a directory (use --follow-symlinks to read it)"
            }
            SkipReason::AlreadyVisited => {
                "directory already read (symbolic link loop or duplicate)"
            }
            SkipReason::NotAFile => "not a regular file or directory",
            SkipReason::NotJson => "text that is not JSON",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A directory entry that was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// The result of a walk.
#[derive(Debug, Default)]
pub struct Walked {
    /// Inputs to read, in reading order.
    pub inputs: Vec<Input>,
    pub skipped: Vec<Skipped>,
    /// Named paths that do not exist or cannot be inspected, and directories that cannot
    /// be listed; each fails the scan (exit status 2), the walk goes on.
    pub problems: Vec<Problem>,
}

/// Expands the named paths into the inputs to read (see the module documentation).
pub fn walk<P: AsRef<Path>>(paths: &[P], opts: &WalkOptions) -> Walked {
    let mut w = Walker {
        opts: *opts,
        out: Walked::default(),
        visited: HashSet::new(),
    };
    for p in paths {
        let path = p.as_ref();
        if path.as_os_str() == "-" {
            w.out.inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => w.dir(path),
            Ok(_) => w.out.inputs.push(Input::File {
                path: path.to_path_buf(),
                in_directory: false,
            }),
            Err(e) => {
                let detail = if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_string()
                } else {
                    format!("cannot read: {e}")
                };
                w.out
                    .problems
                    .push(Problem::input(path, ProblemKind::Unreadable, detail));
            }
        }
    }
    w.out
}

struct Walker {
    opts: WalkOptions,
    out: Walked,
    /// (device, inode) of every directory entered, for loop protection.
    visited: HashSet<(u64, u64)>,
}

impl Walker {
    fn dir(&mut self, dir: &Path) {
        if let Some(id) = dir_id(dir) {
            if !self.visited.insert(id) {
                self.skip(dir, SkipReason::AlreadyVisited);
                return;
            }
        }
        let entries = std::fs::read_dir(dir).and_then(|rd| rd.collect::<Result<Vec<_>, _>>());
        let mut entries = match entries {
            Ok(v) => v,
            Err(e) => {
                self.out.problems.push(Problem::input(
                    dir,
                    ProblemKind::Unreadable,
                    format!("cannot list directory: {e}"),
                ));
                return;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                self.skip(&path, SkipReason::Hidden);
                continue;
            }
            // file_type() does not follow symbolic links; metadata() does.
            let Ok(ft) = entry.file_type() else {
                self.skip(&path, SkipReason::NotAFile);
                continue;
            };
            let target = if ft.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(m) => m.file_type(),
                    Err(_) => {
                        self.skip(&path, SkipReason::NotAFile);
                        continue;
                    }
                }
            } else {
                ft
            };
            if target.is_dir() {
                if ft.is_symlink() && !self.opts.follow_symlinks {
                    self.skip(&path, SkipReason::SymlinkedDirectory);
                } else {
                    self.dir(&path);
                }
            } else if target.is_file() {
                self.out.inputs.push(Input::File {
                    path,
                    in_directory: true,
                });
            } else {
                self.skip(&path, SkipReason::NotAFile);
            }
        }
    }

    fn skip(&mut self, path: &Path, reason: SkipReason) {
        self.out.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason,
        });
    }
}

#[cfg(unix)]
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    // Without inode numbers, canonical paths identify directories.
    use std::hash::{Hash, Hasher};
    let c = std::fs::canonicalize(dir).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.hash(&mut h);
    Some((0, h.finish()))
}
