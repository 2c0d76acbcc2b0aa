//! String interning: every distinct string is stored once in an arena and referred to by a
//! `u32` id, so per-invocation and per-group state stays a handful of integers.
//!
//! Invariants: id 0 is the empty string (meaning "absent"); ids are dense and below
//! [`MAX_ID`] so that callers may use bits 30 and 31 as flags.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// Ids are below 2^30 (bits 30 and 31 are free for callers).
pub const MAX_ID: u32 = 1 << 30;

/// Strings longer than this are cut (at a char boundary) before interning: real values
/// (names, ARNs, IPs, ids) are far shorter, and a bound keeps junk input from inflating
/// the arena.
pub const MAX_LEN: usize = 1024;

#[derive(Debug, Default)]
pub struct Interner {
    arena: String,
    /// (start, len) of each id in `arena`.
    spans: Vec<(u32, u32)>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// `a == b`. The `==` of strings calls libc's `bcmp`, which in the shipped static musl build
/// is a byte loop: on equal strings and on strings that share a long prefix (interned values
/// found again, claim URIs) it was 6 % of all instructions there (callgrind,
/// bench/README.md). The musl build compares a word at a time ([`eq_words`]); glibc's `bcmp`
/// is faster than that and stays.
#[inline]
pub(crate) fn eq_str(a: &str, b: &str) -> bool {
    #[cfg(target_env = "musl")]
    {
        eq_words(a.as_bytes(), b.as_bytes())
    }
    #[cfg(not(target_env = "musl"))]
    {
        a == b
    }
}

/// `a == b`, eight bytes at a time.
#[cfg_attr(not(any(target_env = "musl", test)), allow(dead_code))]
#[inline]
fn eq_words(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        let mut i = 0;
        while i < n {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        return true;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last word (overlapping the one before) covers the tail.
    word(a, n - 8) == word(b, n - 8)
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_LEN {
        return s;
    }
    let mut end = MAX_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Interner {
    pub fn new() -> Self {
        let mut i = Interner::default();
        i.spans.push((0, 0));
        i
    }

    /// The id of `s`, adding it if new. The empty string is id 0. If the arena is full
    /// (4 GiB, far beyond the configured limits) the string is treated as absent.
    pub fn intern(&mut self, s: &str) -> u32 {
        let s = cut(s);
        if s.is_empty() {
            return 0;
        }
        let hash = self.hasher.hash_one(s);
        let (arena, spans) = (&self.arena, &self.spans);
        if let Some(&id) = self.table.find(hash, |&id| {
            let (st, len) = spans[id as usize];
            eq_str(&arena[st as usize..(st + len) as usize], s)
        }) {
            return id;
        }
        let id = self.spans.len() as u32;
        let start = self.arena.len();
        if id >= MAX_ID || start + s.len() > u32::MAX as usize {
            return 0;
        }
        self.arena.push_str(s);
        self.spans.push((start as u32, s.len() as u32));
        let (arena, spans, hasher) = (&self.arena, &self.spans, &self.hasher);
        self.table.insert_unique(hash, id, |&id| {
            let (st, len) = spans[id as usize];
            hasher.hash_one(&arena[st as usize..(st + len) as usize])
        });
        id
    }

    /// The string of an id issued by this interner.
    pub fn get(&self, id: u32) -> &str {
        let (st, len) = self.spans[id as usize];
        &self.arena[st as usize..(st + len) as usize]
    }

    /// Compare two ids by their strings.
    pub fn cmp(&self, a: u32, b: u32) -> Ordering {
        if a == b {
            Ordering::Equal
        } else {
            self.get(a).cmp(self.get(b))
        }
    }

    /// "Smallest non-empty" merge of two ids: deterministic whatever the order of merging.
    pub fn min_nonempty(&self, a: u32, b: u32) -> u32 {
        match (a, b) {
            (0, x) | (x, 0) => x,
            _ if self.cmp(b, a) == Ordering::Less => b,
            _ => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `eq_words` (the musl build's `eq_str`) is `==`: every length up to 40, equal, and
    /// differing in one byte at every position, or in length.
    #[test]
    fn eq_words_is_string_equality() {
        let eq_str = |a: &str, b: &str| {
            assert_eq!(eq_words(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
            assert_eq!(super::eq_str(a, b), a == b, "{a:?} {b:?}");
            a == b
        };
        for n in 0..40usize {
            let a: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            assert!(eq_str(&a, &a.clone()), "{n}");
            for k in 0..n {
                let mut b = a.clone().into_bytes();
                b[k] = b'#';
                let b = String::from_utf8(b).unwrap();
                assert!(!eq_str(&a, &b), "{n} at {k}");
                assert!(!eq_str(&b, &a), "{n} at {k}");
            }
            assert!(!eq_str(&a, &format!("{a}x")), "{n}");
            assert!(!eq_str(&format!("x{a}"), &a), "{n}");
        }
        assert!(eq_str("Zoë", "Zoë"));
        assert!(!eq_str("Zoë", "Zoe"));
    }

    #[test]
    fn intern_get_cmp() {
        let mut i = Interner::new();
        assert_eq!(i.intern(""), 0);
        let a = i.intern("b-vm");
        let b = i.intern("a-vm");
        assert_eq!(i.intern("b-vm"), a);
        assert_ne!(a, b);
        assert_eq!(i.get(a), "b-vm");
        assert_eq!(i.cmp(b, a), Ordering::Less);
        assert_eq!(i.min_nonempty(a, b), b);
        assert_eq!(i.min_nonempty(0, a), a);
        for n in 0..10_000 {
            let id = i.intern(&format!("s{n}"));
            assert_eq!(i.get(id), format!("s{n}"));
        }
        let long = "é".repeat(2000);
        let id = i.intern(&long);
        assert!(i.get(id).len() <= MAX_LEN);
    }
}
