//! The invocation collapse table, packed: one 56-byte entry per open invocation (key and
//! state together in a `hashbrown::HashTable`), because this table is what grows with the
//! input (one entry per correlated Azure invocation).

use super::{Corr, InvKey, InvState};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

#[derive(Debug, Clone, Copy)]
struct Entry {
    first: i64,
    last: i64,
    /// GUID bytes, or an interned string id in the first 4 bytes (`corr_str`).
    corr: [u8; 16],
    target: u32,
    doc: u32,
    ctx: u32,
    src: u32,
    /// Document merged from the rows ([`InvState::doc`]).
    sdoc: u32,
    op: u16,
    corr_str: bool,
    flags: u8,
}

fn pack_corr(c: Corr) -> ([u8; 16], bool) {
    match c {
        Corr::Guid(g) => (g, false),
        Corr::Str(id) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&id.to_le_bytes());
            (b, true)
        }
    }
}

impl Entry {
    fn key(&self) -> InvKey {
        let corr = if self.corr_str {
            let mut id = [0u8; 4];
            id.copy_from_slice(&self.corr[..4]);
            Corr::Str(u32::from_le_bytes(id))
        } else {
            Corr::Guid(self.corr)
        };
        InvKey {
            corr,
            target: self.target,
            doc: self.doc,
            op: self.op,
        }
    }

    fn state(&self) -> InvState {
        InvState {
            first: self.first,
            last: self.last,
            ctx: self.ctx,
            src: self.src,
            doc: self.sdoc,
            flags: self.flags,
        }
    }

    fn matches(&self, corr: &[u8; 16], corr_str: bool, k: &InvKey) -> bool {
        self.corr == *corr
            && self.corr_str == corr_str
            && self.target == k.target
            && self.doc == k.doc
            && self.op == k.op
    }
}

#[derive(Default)]
pub(super) struct InvTable {
    table: HashTable<Entry>,
    hasher: DefaultHashBuilder,
}

impl InvTable {
    fn hash(&self, corr: &[u8; 16], corr_str: bool, target: u32, doc: u32, op: u16) -> u64 {
        self.hasher.hash_one((corr, corr_str, target, doc, op))
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn get(&self, k: &InvKey) -> Option<InvState> {
        let (corr, corr_str) = pack_corr(k.corr);
        let h = self.hash(&corr, corr_str, k.target, k.doc, k.op);
        self.table
            .find(h, |e| e.matches(&corr, corr_str, k))
            .map(Entry::state)
    }

    /// Insert or overwrite.
    pub fn put(&mut self, k: InvKey, st: InvState) {
        let (corr, corr_str) = pack_corr(k.corr);
        let h = self.hash(&corr, corr_str, k.target, k.doc, k.op);
        let entry = Entry {
            first: st.first,
            last: st.last,
            corr,
            target: k.target,
            doc: k.doc,
            ctx: st.ctx,
            src: st.src,
            sdoc: st.doc,
            op: k.op,
            corr_str,
            flags: st.flags,
        };
        if let Some(e) = self.table.find_mut(h, |e| e.matches(&corr, corr_str, &k)) {
            *e = entry;
            return;
        }
        let hasher = &self.hasher;
        self.table.insert_unique(h, entry, |e| {
            hasher.hash_one((&e.corr, e.corr_str, e.target, e.doc, e.op))
        });
    }

    pub fn iter(&self) -> impl Iterator<Item = (InvKey, InvState)> + '_ {
        self.table.iter().map(|e| (e.key(), e.state()))
    }

    /// Consume the table (memory is released as the caller goes).
    pub fn into_entries(self) -> impl Iterator<Item = (InvKey, InvState)> {
        self.table.into_iter().map(|e| (e.key(), e.state()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact_and_roundtrips() {
        assert_eq!(std::mem::size_of::<Entry>(), 56);
        let mut t = InvTable::default();
        let k1 = InvKey {
            corr: Corr::Guid([7; 16]),
            target: 1,
            doc: 0,
            op: 2,
        };
        let k2 = InvKey {
            corr: Corr::Str(7),
            target: 1,
            doc: 0,
            op: 2,
        };
        let st = InvState {
            first: -5,
            last: 9,
            ctx: 3,
            src: 4,
            doc: 5,
            flags: 6,
        };
        t.put(k1, st);
        t.put(k2, InvState { first: 1, ..st });
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&k1).unwrap().first, -5);
        assert_eq!(t.get(&k2).unwrap().first, 1);
        t.put(k1, InvState { last: 99, ..st });
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&k1).unwrap().last, 99);
        let mut keys: Vec<InvKey> = t.iter().map(|(k, _)| k).collect();
        keys.sort_by_key(|k| matches!(k.corr, Corr::Str(_)));
        assert_eq!(keys, vec![k1, k2]);
        assert_eq!(t.into_entries().count(), 2);
    }
}
