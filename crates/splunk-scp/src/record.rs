//! The decoded input of one execute chunk: a [`RecordBatch`].
//!
//! Layout (chosen for speed): the body text is kept as one `String`; every field is a 32-bit
//! span into it (quoted fields are unescaped in place, so no second buffer exists).
//! No per-field allocation happens while decoding. `__mv_<f>` companion columns are folded into
//! the logical column `f`; their `$a$;$b$` encoding is decoded lazily, on access.
//!
//! Invariants: every span lies inside its buffer and on UTF-8 character boundaries (spans only
//! start and end next to ASCII delimiters); `fields.len() == rows * csv_names.len()`.

use std::borrow::Cow;
use std::collections::HashMap;

/// A field's location in the batch text: byte offset and byte length. 32-bit offsets bound a
/// body to `u32::MAX` bytes ([`crate::csv::MAX_BODY_BYTES`]), above the documented 2 GiB
/// `--max-chunk-bytes` maximum ([`crate::frame::MAX_CHUNK_BYTES`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub len: u32,
}

/// A logical column: a plain CSV column and/or its `__mv_` companion.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub plain: Option<u32>,
    pub mv: Option<u32>,
}

/// Handle to a column of one [`RecordBatch`], for lookups in hot loops without hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnId(pub(crate) usize);

impl ColumnId {
    /// The logical column's position in its batch (0-based, `__mv_` companions not counted):
    /// an index for per-column side tables of the batch it came from.
    pub fn index(self) -> usize {
        self.0
    }
}

/// The rows of one execute chunk, with field lookup by name.
#[derive(Debug, Clone, Default)]
pub struct RecordBatch {
    pub(crate) text: String,
    pub(crate) csv_names: Vec<String>,
    pub(crate) fields: Vec<Span>,
    pub(crate) rows: usize,
    pub(crate) columns: Vec<Column>,
    pub(crate) by_name: HashMap<String, usize>,
}

impl RecordBatch {
    /// An empty batch (no columns, no rows).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when there are no rows (empty or header-only body).
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Logical column names in header order (`__mv_` companions folded in).
    pub fn column_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// Resolves a column name once, for use with [`Row::get_id`] in loops.
    pub fn column(&self, name: &str) -> Option<ColumnId> {
        self.by_name.get(name).map(|&i| ColumnId(i))
    }

    /// Row `i`. Panics if `i >= len()`, like slice indexing.
    pub fn row(&self, i: usize) -> Row<'_> {
        assert!(i < self.rows, "row {i} out of range ({} rows)", self.rows);
        Row {
            batch: self,
            index: i,
        }
    }

    /// All rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> + '_ {
        (0..self.rows).map(move |index| Row { batch: self, index })
    }

    /// Empties the batch and returns the body buffer for reuse by the frame reader.
    pub fn recycle(&mut self) -> Vec<u8> {
        self.csv_names.clear();
        self.fields.clear();
        self.rows = 0;
        self.columns.clear();
        self.by_name.clear();
        let mut v = std::mem::take(&mut self.text).into_bytes();
        v.clear();
        v
    }

    #[inline]
    pub(crate) fn span_str(&self, s: Span) -> &str {
        let start = s.start as usize;
        &self.text[start..start + s.len as usize]
    }

    #[inline]
    fn raw(&self, row: usize, csv_col: u32) -> &str {
        self.span_str(self.fields[row * self.csv_names.len() + csv_col as usize])
    }

    fn value(&self, row: usize, col: &Column) -> Value<'_> {
        let display = col.plain.map_or("", |c| self.raw(row, c));
        if let Some(m) = col.mv {
            let encoded = self.raw(row, m);
            if !encoded.is_empty() {
                if let Some(mv) = MultiValue::parse(encoded, display) {
                    return Value::Multi(mv);
                }
                // Malformed encodings (never sent by splunkd) fall back to the display value,
                // as splunklib's regex-based reader effectively does.
            }
        }
        Value::Single(display)
    }
}

/// One row of a [`RecordBatch`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    batch: &'a RecordBatch,
    index: usize,
}

impl<'a> Row<'a> {
    /// 0-based position in the batch.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The field `name`, or `None` when the batch has no such column.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        let &c = self.batch.by_name.get(name)?;
        Some(self.batch.value(self.index, &self.batch.columns[c]))
    }

    /// The field of a column resolved with [`RecordBatch::column`].
    pub fn get_id(&self, id: ColumnId) -> Value<'a> {
        self.batch.value(self.index, &self.batch.columns[id.0])
    }

    /// The field's text: the value, or for a multivalue the display form (values joined by
    /// `\n`, as splunkd sends it). `None` when the column is absent.
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.get(name).map(|v| v.as_str())
    }

    /// `_raw`, if present.
    pub fn raw(&self) -> Option<&'a str> {
        self.str("_raw")
    }

    /// `_time` parsed as epoch seconds, if present and numeric.
    pub fn time(&self) -> Option<f64> {
        self.str("_time").and_then(|t| t.trim().parse().ok())
    }

    /// Every field in column order.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, Value<'a>)> + 'a {
        let (b, i) = (self.batch, self.index);
        b.columns
            .iter()
            .map(move |c| (c.name.as_str(), b.value(i, c)))
    }
}

/// A field value: a single string or several values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// One value (possibly empty).
    Single(&'a str),
    /// Two or more values (or one, if splunkd encoded it so).
    Multi(MultiValue<'a>),
}

impl<'a> Value<'a> {
    /// The single value, or the display form of a multivalue.
    pub fn as_str(&self) -> &'a str {
        match self {
            Value::Single(s) => s,
            Value::Multi(m) => m.display,
        }
    }

    /// True for [`Value::Multi`].
    pub fn is_multi(&self) -> bool {
        matches!(self, Value::Multi(_))
    }

    /// The values: one for `Single` (even if empty), each decoded value for `Multi`.
    pub fn values(&self) -> Values<'a> {
        match *self {
            Value::Single(s) => Values {
                single: Some(s),
                rest: "",
            },
            Value::Multi(m) => Values {
                single: None,
                rest: m.encoded,
            },
        }
    }
}

/// A multivalue in splunk's `$a$;$b$` encoding (`$` doubled inside values), validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiValue<'a> {
    pub(crate) encoded: &'a str,
    pub(crate) display: &'a str,
}

impl<'a> MultiValue<'a> {
    /// Validates `encoded`; `None` if it is not a well-formed non-empty `$..$;$..$` list.
    pub fn parse(encoded: &'a str, display: &'a str) -> Option<Self> {
        let b = encoded.as_bytes();
        let mut i = 0;
        loop {
            if b.get(i) != Some(&b'$') {
                return None;
            }
            i += 1;
            loop {
                let j = i + memchr::memchr(b'$', &b[i..])?;
                if b.get(j + 1) == Some(&b'$') {
                    i = j + 2;
                } else {
                    i = j + 1;
                    break;
                }
            }
            match b.get(i) {
                None => return Some(MultiValue { encoded, display }),
                Some(b';') => i += 1,
                Some(_) => return None,
            }
        }
    }

    /// The encoded form, e.g. `$a$;$b$$c$`.
    pub fn encoded(&self) -> &'a str {
        self.encoded
    }

    /// The display form sent in the plain column.
    pub fn display(&self) -> &'a str {
        self.display
    }
}

/// Iterator over the values of a [`Value`]; `$$` is unescaped (allocating only then).
#[derive(Debug, Clone)]
pub struct Values<'a> {
    single: Option<&'a str>,
    rest: &'a str,
}

impl<'a> Iterator for Values<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        if let Some(s) = self.single.take() {
            return Some(Cow::Borrowed(s));
        }
        // `rest` is validated: `$...$` followed by `;` or end.
        let b = self.rest.as_bytes();
        if b.is_empty() {
            return None;
        }
        let mut i = 1;
        let mut doubled = false;
        let end = loop {
            let j = match memchr::memchr(b'$', &b[i..]) {
                Some(j) => i + j,
                None => return None,
            };
            if b.get(j + 1) == Some(&b'$') {
                doubled = true;
                i = j + 2;
            } else {
                break j;
            }
        };
        let inner = &self.rest[1..end];
        self.rest = self.rest.get(end + 2..).unwrap_or("");
        Some(if doubled {
            Cow::Owned(inner.replace("$$", "$"))
        } else {
            Cow::Borrowed(inner)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(enc: &str) -> Option<Vec<String>> {
        MultiValue::parse(enc, "")
            .map(|m| Value::Multi(m).values().map(|c| c.into_owned()).collect())
    }

    #[test]
    fn multivalue_decoding() {
        assert_eq!(vals("$x$;$y$$z$").unwrap(), ["x", "y$z"]);
        assert_eq!(vals("$a$;$$;$b$").unwrap(), ["a", "", "b"]);
        assert_eq!(vals("$$$$").unwrap(), ["$"]);
        assert!(vals("$$$$$").is_none());
        assert_eq!(vals("$$").unwrap(), [""]);
        assert_eq!(vals("$;$;$,$").unwrap(), [";", ","]);
        for bad in ["", "x", "$a", "$a$;", "$a$b", "$a$;x", "$a$$"] {
            assert!(vals(bad).is_none(), "{bad:?}");
        }
    }
}
