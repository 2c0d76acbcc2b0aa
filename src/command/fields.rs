//! [`EventFields`] over the rows of an SCP [`RecordBatch`], without copying.
//!
//! [`BatchFields`] resolves column names once per chunk (a small foldhash table over the
//! chunk's header); [`BatchFields::row`] then gives a [`RowFields`] per row whose lookups are
//! one hash probe plus a span slice into the chunk's text. The three names read for every
//! event (`_raw`, `_time`, `t1651_state`) are pre-resolved and skip even that probe.
//!
//! Multivalues (`__mv_` companions) are read as their decoded values: [`EventFields::value`]
//! is the first value (not splunkd's newline-joined display form), [`EventFields::values`]
//! all of them. Values are borrowed from the chunk; the only copies are of multivalues whose
//! encoding contains an escaped `$` (`$$`), which are decoded once per row and column into
//! the row's own cache (allocated only for such a row).
//!
//! [`BatchFields::row`] takes `&self` and a [`RowFields`] is `Sync`, so the rows of one chunk
//! can be read by several threads at once (the command normalises on two cores).

use std::sync::OnceLock;

use hashbrown::HashMap;

use crate::detect::fields::{EventFields, STATE_FIELD};
use splunk_scp::{ColumnId, RecordBatch, Row, Value};

/// Column lookup for one chunk. Invariant: every id in `by_name` belongs to `batch`.
pub struct BatchFields<'b> {
    batch: &'b RecordBatch,
    by_name: HashMap<&'b str, ColumnId>,
    raw: Option<ColumnId>,
    time: Option<ColumnId>,
    state: Option<ColumnId>,
    /// Number of logical columns (the size of a row's decode cache).
    columns: usize,
}

impl<'b> BatchFields<'b> {
    /// Resolves the chunk's columns.
    pub fn new(batch: &'b RecordBatch) -> Self {
        let by_name: HashMap<&'b str, ColumnId> = batch
            .column_names()
            .filter_map(|n| batch.column(n).map(|id| (n, id)))
            .collect();
        BatchFields {
            raw: by_name.get("_raw").copied(),
            time: by_name.get("_time").copied(),
            state: by_name.get(STATE_FIELD).copied(),
            columns: batch.column_names().count(),
            by_name,
            batch,
        }
    }

    /// The column id of `name` in this chunk.
    pub fn column(&self, name: &str) -> Option<ColumnId> {
        match name {
            "_raw" => self.raw,
            "_time" => self.time,
            STATE_FIELD => self.state,
            _ => self.by_name.get(name).copied(),
        }
    }

    /// The fields of row `i` (`i < batch.len()`).
    pub fn row(&self, i: usize) -> RowFields<'_, 'b> {
        RowFields {
            cols: self,
            row: self.batch.row(i),
            decoded: OnceLock::new(),
        }
    }
}

/// One row seen as an event's fields. See the module docs for multivalue semantics.
pub struct RowFields<'a, 'b> {
    cols: &'a BatchFields<'b>,
    row: Row<'b>,
    /// Per logical column: decoded values of a `$$`-escaped multivalue; allocated on the
    /// first such value of the row.
    decoded: OnceLock<Box<[OnceLock<Vec<String>>]>>,
}

impl<'a, 'b> RowFields<'a, 'b> {
    /// The underlying protocol row (for [`splunk_scp::Output::record_for`]).
    pub fn row(&self) -> &Row<'b> {
        &self.row
    }

    fn field(&self, name: &str) -> Option<(ColumnId, Value<'b>)> {
        let id = self.cols.column(name)?;
        Some((id, self.row.get_id(id)))
    }

    /// Decoded values of a multivalue that needs unescaping, cached for this row.
    fn decoded(&self, id: ColumnId, v: &Value<'b>) -> &[String] {
        let cache = self
            .decoded
            .get_or_init(|| (0..self.cols.columns).map(|_| OnceLock::new()).collect());
        // ColumnId is the logical column's index in the batch (crate-internal invariant).
        cache[id.index()].get_or_init(|| v.values().map(|c| c.into_owned()).collect())
    }
}

/// True when a multivalue's encoding holds an escaped `$` (its values must be copied).
fn needs_unescape(v: &Value<'_>) -> bool {
    match v {
        Value::Single(_) => false,
        Value::Multi(m) => memchr::memmem::find(m.encoded().as_bytes(), b"$$").is_some(),
    }
}

impl EventFields for RowFields<'_, '_> {
    fn value(&self, name: &str) -> Option<&str> {
        let (id, v) = self.field(name)?;
        match v {
            Value::Single(s) => Some(s),
            Value::Multi(_) if needs_unescape(&v) => {
                self.decoded(id, &v).first().map(String::as_str)
            }
            // Without `$$` every decoded value is a borrowed slice of the chunk.
            Value::Multi(_) => v.values().next().map(|c| match c {
                std::borrow::Cow::Borrowed(s) => s,
                std::borrow::Cow::Owned(_) => unreachable!("no $$ in the encoding"),
            }),
        }
    }

    fn values(&self, name: &str) -> Vec<&str> {
        let Some((id, v)) = self.field(name) else {
            return Vec::new();
        };
        if needs_unescape(&v) {
            return self.decoded(id, &v).iter().map(String::as_str).collect();
        }
        v.values()
            .filter_map(|c| match c {
                std::borrow::Cow::Borrowed(s) => Some(s),
                std::borrow::Cow::Owned(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(body: &str) -> RecordBatch {
        splunk_scp::csv::decode(body.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn single_multi_and_escaped_values() {
        let b = batch(
            "_raw,_time,ids,x,__mv_ids,__mv_x\n\
             \"{}\",1.5,\"a\nb\",\"p$q\",\"$a$;$b$\",\"$p$$q$;$r$\"\n\
             raw2,,solo,,,\n",
        );
        let f = BatchFields::new(&b);
        {
            let r = f.row(0);
            assert_eq!(r.value("_raw"), Some("{}"));
            assert_eq!(r.value("_time"), Some("1.5"));
            assert_eq!(
                r.value("ids"),
                Some("a"),
                "first value, not the display form"
            );
            assert_eq!(r.values("ids"), ["a", "b"]);
            assert_eq!(r.value("x"), Some("p$q"));
            assert_eq!(r.values("x"), ["p$q", "r"]);
            assert_eq!(r.value("missing"), None);
            assert!(r.values("missing").is_empty());
            assert_eq!(r.value(STATE_FIELD), None);
            assert_eq!(r.row().index(), 0);
        }
        let r = f.row(1);
        assert_eq!(r.value("_time"), Some(""));
        assert_eq!(r.values("ids"), ["solo"]);
        assert_eq!(r.values("x"), [""]);
    }

    #[test]
    fn quoted_header_names_resolve() {
        let b = batch("\"_raw\",\"t1651_state\"\n,\"{\"\"t\"\":1}\"\n");
        let f = BatchFields::new(&b);
        assert_eq!(f.row(0).value(STATE_FIELD), Some("{\"t\":1}"));
    }
}
