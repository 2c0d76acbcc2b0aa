//! A small parser for Splunk `.conf` files, strict enough to catch mistakes splunkd would
//! silently accept (duplicate stanzas or keys, stray lines).
//!
//! Grammar handled: `[stanza]` headers (`[]` is the default stanza of `.meta` files),
//! `key = value` lines, whole-line `#` comments, blank lines, and values continued onto the
//! next line by a trailing backslash (the newline is kept, as splunkd does). Settings before
//! the first header belong to the stanza named `default`.

use std::collections::BTreeMap;
use std::path::Path;

use thiserror::Error;

/// Why a `.conf` file was rejected. Line numbers are 1-based.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}:{line}: stanza [{stanza}] appears twice")]
    DuplicateStanza {
        file: String,
        line: usize,
        stanza: String,
    },
    #[error("{file}:{line}: key {key} appears twice in stanza [{stanza}]")]
    DuplicateKey {
        file: String,
        line: usize,
        stanza: String,
        key: String,
    },
    #[error("{file}:{line}: neither a [stanza], a comment nor key = value: {text:?}")]
    Stray {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file}:{line}: unterminated stanza header {text:?}")]
    BadHeader {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file}: the last line ends with a continuation backslash")]
    DanglingContinuation { file: String },
}

/// One stanza: its settings in file order. Invariant: keys are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    pub name: String,
    pub entries: Vec<(String, String)>,
}

impl Stanza {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
}

/// A parsed file. Invariant: stanza names are unique; order is file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conf {
    pub stanzas: Vec<Stanza>,
}

impl Conf {
    pub fn stanza(&self, name: &str) -> Option<&Stanza> {
        self.stanzas.iter().find(|s| s.name == name)
    }
    pub fn get(&self, stanza: &str, key: &str) -> Option<&str> {
        self.stanza(stanza).and_then(|s| s.get(key))
    }
    pub fn names(&self) -> Vec<&str> {
        self.stanzas.iter().map(|s| s.name.as_str()).collect()
    }
}

pub fn parse_file(path: &Path) -> Result<Conf, ConfError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    parse(&file, &text)
}

pub fn parse(file: &str, text: &str) -> Result<Conf, ConfError> {
    // Join continued lines first, remembering where each logical line started.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let (start, mut acc) = match pending.take() {
            Some((start, mut acc)) => {
                acc.push('\n');
                (start, acc)
            }
            None => (line_no, String::new()),
        };
        if let Some(stripped) = raw.strip_suffix('\\') {
            acc.push_str(stripped);
            pending = Some((start, acc));
        } else {
            acc.push_str(raw);
            logical.push((start, acc));
        }
    }
    if pending.is_some() {
        return Err(ConfError::DanglingContinuation { file: file.into() });
    }

    let mut stanzas: BTreeMap<String, usize> = BTreeMap::new();
    let mut conf = Conf::default();
    let mut current: Option<usize> = None;
    for (line, text) in logical {
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') {
            let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
                return Err(ConfError::BadHeader {
                    file: file.into(),
                    line,
                    text: t.into(),
                });
            };
            if stanzas.contains_key(name) {
                return Err(ConfError::DuplicateStanza {
                    file: file.into(),
                    line,
                    stanza: name.into(),
                });
            }
            stanzas.insert(name.into(), conf.stanzas.len());
            current = Some(conf.stanzas.len());
            conf.stanzas.push(Stanza {
                name: name.into(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some((key, value)) = text.split_once('=') else {
            return Err(ConfError::Stray {
                file: file.into(),
                line,
                text: t.into(),
            });
        };
        let key = key.trim().to_string();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(ConfError::Stray {
                file: file.into(),
                line,
                text: t.into(),
            });
        }
        let idx = match current {
            Some(i) => i,
            None => {
                let i = conf.stanzas.len();
                stanzas.insert("default".into(), i);
                conf.stanzas.push(Stanza {
                    name: "default".into(),
                    entries: Vec::new(),
                });
                current = Some(i);
                i
            }
        };
        let stanza = &mut conf.stanzas[idx];
        if stanza.get(&key).is_some() {
            return Err(ConfError::DuplicateKey {
                file: file.into(),
                line,
                stanza: stanza.name.clone(),
                key,
            });
        }
        stanza.entries.push((key, value.trim().to_string()));
    }
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas_comments_and_continuations() {
        let c = parse(
            "t.conf",
            "# c\ntop = 1\n[a]\nk = v \\\n| more\n  # an indented comment line\n[]\nx=y\n",
        )
        .unwrap();
        assert_eq!(c.names(), vec!["default", "a", ""]);
        assert_eq!(c.get("default", "top"), Some("1"));
        assert_eq!(c.get("a", "k"), Some("v \n| more"));
        assert_eq!(c.get("", "x"), Some("y"));
    }

    #[test]
    fn rejects_duplicates_and_stray_lines() {
        assert!(matches!(
            parse("t", "[a]\n[a]\n"),
            Err(ConfError::DuplicateStanza { line: 2, .. })
        ));
        assert!(matches!(
            parse("t", "[a]\nk=1\nk=2\n"),
            Err(ConfError::DuplicateKey { line: 3, .. })
        ));
        assert!(matches!(
            parse("t", "[a]\njust words\n"),
            Err(ConfError::Stray { line: 2, .. })
        ));
        assert!(matches!(
            parse("t", "[a\n"),
            Err(ConfError::BadHeader { line: 1, .. })
        ));
        assert!(matches!(
            parse("t", "[a]\nk = v \\"),
            Err(ConfError::DanglingContinuation { .. })
        ));
    }
}
