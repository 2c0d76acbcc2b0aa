//! Output records of a command: [`Output`] collects records and inspector messages for the
//! next reply.
//!
//! Layout: all values live in one `String`; each record is a run of cells (column id + span).
//! Columns are the **union** of the keys of all records, in first-appearance order, so a key
//! that first appears in a later record is never dropped (splunklib bug #407). Columns that ever
//! hold a multivalue get a `__mv_` companion when encoded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use crate::metadata::{Level, Message};
use crate::record::{Row, Value};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell {
    pub col: u32,
    /// Byte length of the (display) value.
    pub len: u32,
    /// Byte length of the `$a$;$b$` encoding that follows the display value; 0 = single value.
    pub mv_len: u32,
    pub start: usize,
}

/// Records and messages destined for the next reply.
///
/// Build records with [`Output::record`]; the builder commits the record when dropped:
///
/// ```
/// # use splunk_scp::Output;
/// let mut out = Output::new();
/// out.record().set("host", "web01").set("count", 3u64);
/// out.record().set("host", "web02").set_multi("ips", ["10.0.0.1", "10.0.0.2"]);
/// assert_eq!(out.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Output {
    pub(crate) columns: Vec<String>,
    by_name: HashMap<String, u32>,
    pub(crate) has_multi: Vec<bool>,
    pub(crate) text: String,
    pub(crate) cells: Vec<Cell>,
    /// `row_ends[i]` = end of record i's cells in `cells`.
    pub(crate) row_ends: Vec<usize>,
    /// Column ids of the last committed record, in set order: a cheap guess for the next one.
    hint: Vec<u32>,
    scratch: String,
    pub(crate) messages: Vec<Message>,
    /// `metric.<name>` inspector entries for the next reply.
    pub(crate) metrics: Vec<(String, serde_json::Value)>,
    /// Set by [`Output::finish_early`].
    pub(crate) finish_early: bool,
    /// `extra[i]`: record i was started with [`Output::extra_record`].
    extra: Vec<bool>,
    /// The first misuse seen (a reserved field name), reported by the runtime as an error.
    invalid: Option<String>,
    /// Records made on demand ([`Output::stream`]), sent after the records held here.
    pub(crate) source: Option<Source>,
}

/// Records made on demand, page by page, instead of held in an [`Output`]: see
/// [`Output::stream`].
///
/// Contract: the records of a range are the same (fields, values, order) every time the
/// range is asked for. The runtime asks for each reply's records twice, in ascending
/// ranges: once to size the reply (its length goes first on the wire) and once to write
/// them straight to splunkd. A source that breaks the contract fails the command (the
/// reply's written length would not match its header).
pub trait RecordSource {
    /// Number of records.
    fn len(&self) -> usize;

    /// True when there is no record.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds records `range` (within `0..len()`) to `out`, in order, one
    /// [`Output::record`] each. `out` holds nothing else; messages added to it are ignored
    /// (use [`RecordSource::finish`]).
    fn records(&mut self, range: Range<usize>, out: &mut Output);

    /// Called once, after every record has been made at least once and before the reply
    /// carrying the last of them is written: adds that reply's messages and metrics to
    /// `out` (e.g. a warning about the records).
    fn finish(&mut self, out: &mut Output) {
        let _ = out;
    }
}

/// A [`RecordSource`] held by an [`Output`].
pub(crate) struct Source(pub(crate) Box<dyn RecordSource>);

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordSource({} records)", self.0.len())
    }
}

impl Output {
    /// An empty output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a record; it is committed when the returned builder is dropped.
    ///
    /// In `process` of a streaming, stateful or events command whose input carries
    /// `_chunked_idx`, every record must say how it relates to the input: use
    /// [`Output::record_for`]/[`Output::passthrough`] for records derived from an input row
    /// (they keep its `_chunked_idx`, which splunkd needs to merge the fields it did not send)
    /// or [`Output::extra_record`] for added rows; a plain `record()` there fails the chunk
    /// with an error naming these methods (instead of silently dropping `_chunked_idx`).
    pub fn record(&mut self) -> RecordBuilder<'_> {
        self.start(false)
    }

    /// Starts a record that is not derived from any input row (it gets no `_chunked_idx`):
    /// rows a streaming, stateful or events command adds beside its input rows.
    pub fn extra_record(&mut self) -> RecordBuilder<'_> {
        self.start(true)
    }

    fn start(&mut self, extra: bool) -> RecordBuilder<'_> {
        let first = self.cells.len();
        RecordBuilder {
            out: self,
            first,
            k: 0,
            extra,
        }
    }

    /// Takes the first misuse recorded since the last call (e.g. a field named `__mv_x`).
    pub(crate) fn take_invalid(&mut self) -> Result<(), String> {
        self.invalid.take().map_or(Ok(()), Err)
    }

    /// Checks that records `from..` carry `_chunked_idx` or were started with
    /// [`Output::extra_record`].
    pub(crate) fn check_chunked_idx(&self, from: usize) -> Result<(), String> {
        let idx = self.by_name.get("_chunked_idx").copied();
        for i in from..self.len() {
            if self.extra[i] {
                continue;
            }
            let start = if i == 0 { 0 } else { self.row_ends[i - 1] };
            let has = idx.is_some_and(|c| {
                self.cells[start..self.row_ends[i]]
                    .iter()
                    .any(|x| x.col == c)
            });
            if !has {
                return Err(format!(
                    "output record {} of this chunk has no _chunked_idx although the input rows \
                     carry one (splunkd merges output rows with the fields it did not send by \
                     it): build records derived from input rows with Output::record_for(row) or \
                     Output::passthrough(row), and added rows with Output::extra_record()",
                    i - from + 1
                ));
            }
        }
        Ok(())
    }

    /// Starts a record carrying `_chunked_idx` of `row` (when the input has it), so splunkd can
    /// merge this output row with the fields it did not send. Use it for every output row that
    /// corresponds to an input row of a streaming or stateful command.
    pub fn record_for(&mut self, row: &Row<'_>) -> RecordBuilder<'_> {
        let mut r = self.record();
        if let Some(v) = row.get("_chunked_idx") {
            r.set_value("_chunked_idx", v);
        }
        r
    }

    /// Starts a record holding a copy of every field of `row` (`_chunked_idx` included); add or
    /// overwrite fields on the returned builder (a later `set` of the same name wins).
    pub fn passthrough(&mut self, row: &Row<'_>) -> RecordBuilder<'_> {
        let mut r = self.record();
        for (name, v) in row.fields() {
            r.set_value(name, v);
        }
        r
    }

    /// Number of committed records.
    pub fn len(&self) -> usize {
        self.row_ends.len()
    }

    /// True when no record has been committed.
    pub fn is_empty(&self) -> bool {
        self.row_ends.is_empty()
    }

    /// Column names (union of keys, first-appearance order).
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(String::as_str)
    }

    /// Adds an inspector message to the next reply.
    pub fn message(&mut self, level: Level, text: impl Into<String>) {
        self.messages.push(Message {
            level,
            text: text.into(),
        });
    }

    /// Adds an inspector metric to the next reply, sent as `"metric.<name>": value` (as
    /// splunklib's `write_metric`; its own metrics are
    /// `[elapsed seconds, invocations, input count, output count]`). A later value for the
    /// same name in the same reply replaces the earlier one.
    pub fn metric(&mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) {
        let name = name.into();
        let value = value.into();
        match self.metrics.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.metrics.push((name, value)),
        }
    }

    /// Ends the command early, from [`crate::Command::process`]: the runtime calls
    /// [`crate::Command::finish`] right after this `process`, sends the remaining output and
    /// replies `finished:true` (splunkd then stops sending data; any request that still
    /// arrives gets an empty `finished:true` reply).
    pub fn finish_early(&mut self) {
        self.finish_early = true;
    }

    /// Sends the records of `source` after the records held here, without holding them: the
    /// runtime makes each reply's records when it writes that reply and writes them straight
    /// to splunkd, so memory stays bounded by about a thousand records however many there are
    /// (a reporting command's summary of 100k groups, say). The records are derived from no
    /// input row (no `_chunked_idx`, like [`Output::extra_record`]'s): a command's final or
    /// aggregate output. Paged like held records (`maxresultrows` per reply for events,
    /// reporting and generating commands). One source at a time: a second call before the
    /// first is sent is an error the runtime reports.
    pub fn stream(&mut self, source: impl RecordSource + 'static) {
        if self.source.is_some() {
            if self.invalid.is_none() {
                self.invalid = Some(
                    "Output::stream was called again before the previous record source was \
                     sent"
                        .to_owned(),
                );
            }
            return;
        }
        self.source = Some(Source(Box::new(source)));
    }

    /// Adds a `WARN` message to the next reply.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.message(Level::Warn, text)
    }

    /// Adds an `INFO` message to the next reply.
    pub fn info(&mut self, text: impl Into<String>) {
        self.message(Level::Info, text)
    }

    /// Removes all records (keeps messages). Allocations are kept.
    pub fn clear_records(&mut self) {
        self.extra.clear();
        self.columns.clear();
        self.by_name.clear();
        self.has_multi.clear();
        self.text.clear();
        self.cells.clear();
        self.row_ends.clear();
        self.hint.clear();
    }

    /// Takes the pending messages.
    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }

    /// Fields of record `i`: `(name, value)` in set order (a repeated name appears twice).
    pub fn record_fields(&self, i: usize) -> impl Iterator<Item = (&str, Value<'_>)> {
        let start = if i == 0 { 0 } else { self.row_ends[i - 1] };
        self.cells[start..self.row_ends[i]].iter().map(move |c| {
            let name = self.columns[c.col as usize].as_str();
            let display = &self.text[c.start..c.start + c.len as usize];
            let v = if c.mv_len == 0 {
                Value::Single(display)
            } else {
                let enc =
                    &self.text[c.start + c.len as usize..c.start + (c.len + c.mv_len) as usize];
                crate::record::MultiValue::parse(enc, display)
                    .map_or(Value::Single(display), Value::Multi)
            };
            (name, v)
        })
    }

    fn column_id(&mut self, name: &str, k: usize) -> u32 {
        if let Some(base) = name.strip_prefix("__mv_") {
            if self.invalid.is_none() {
                self.invalid = Some(format!(
                    "output field name {name:?} is reserved for the multivalue encoding of \
                     {base:?}: set {base:?} with RecordBuilder::set_multi instead"
                ));
            }
        }
        if let Some(&c) = self.hint.get(k) {
            if self.columns[c as usize] == name {
                return c;
            }
        }
        if let Some(&c) = self.by_name.get(name) {
            return c;
        }
        let c = self.columns.len() as u32;
        self.columns.push(name.to_owned());
        self.has_multi.push(false);
        self.by_name.insert(name.to_owned(), c);
        c
    }
}

/// Builds one output record; commits it to the [`Output`] when dropped.
///
/// Fields keep the order they are set in; the reply's header is the union over all records.
pub struct RecordBuilder<'a> {
    out: &'a mut Output,
    first: usize,
    k: usize,
    extra: bool,
}

impl RecordBuilder<'_> {
    /// Sets a single-valued field.
    pub fn set(&mut self, name: &str, value: impl FieldValue) -> &mut Self {
        let col = self.out.column_id(name, self.k);
        self.k += 1;
        let start = self.out.text.len();
        value.write_field(&mut self.out.text);
        self.out.cells.push(Cell {
            col,
            len: (self.out.text.len() - start) as u32,
            mv_len: 0,
            start,
        });
        self
    }

    /// Sets a field to several values. Zero values give an empty field, one value a single
    /// value; two or more are sent as the display form (joined by `\n`) plus the `__mv_`
    /// encoding.
    pub fn set_multi<I>(&mut self, name: &str, values: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let col = self.out.column_id(name, self.k);
        self.k += 1;
        let out = &mut *self.out;
        let start = out.text.len();
        out.scratch.clear();
        let mut n = 0usize;
        for v in values {
            let v = v.as_ref();
            if n > 0 {
                out.text.push('\n');
                out.scratch.push(';');
            }
            out.text.push_str(v);
            crate::csv::encode_mv_value(v, &mut out.scratch);
            n += 1;
        }
        let len = out.text.len() - start;
        let mv_len = if n >= 2 {
            out.text.push_str(&out.scratch);
            out.has_multi[col as usize] = true;
            out.scratch.len()
        } else {
            0
        };
        out.cells.push(Cell {
            col,
            len: len as u32,
            mv_len: mv_len as u32,
            start,
        });
        self
    }

    /// Sets a field from an input [`Value`] (single or multivalue, copied as is).
    pub fn set_value(&mut self, name: &str, value: Value<'_>) -> &mut Self {
        match value {
            Value::Single(s) => self.set(name, s),
            Value::Multi(m) => {
                let col = self.out.column_id(name, self.k);
                self.k += 1;
                let out = &mut *self.out;
                let start = out.text.len();
                out.text.push_str(m.display());
                out.text.push_str(m.encoded());
                out.has_multi[col as usize] = true;
                out.cells.push(Cell {
                    col,
                    len: m.display().len() as u32,
                    mv_len: m.encoded().len() as u32,
                    start,
                });
                self
            }
        }
    }
}

impl Drop for RecordBuilder<'_> {
    fn drop(&mut self) {
        let out = &mut *self.out;
        out.hint.clear();
        out.hint
            .extend(out.cells[self.first..].iter().map(|c| c.col));
        out.row_ends.push(out.cells.len());
        out.extra.push(self.extra);
    }
}

/// A value that can be written as one CSV field's text.
///
/// Implemented for strings, integers, floats (Rust shortest round-trip form; NaN and
/// infinities as `nan`/`inf`/`-inf`), `bool` (`1`/`0`, like splunklib) and `char`.
pub trait FieldValue {
    /// Appends the field text.
    fn write_field(&self, out: &mut String);
}

impl FieldValue for str {
    fn write_field(&self, out: &mut String) {
        out.push_str(self)
    }
}
impl FieldValue for String {
    fn write_field(&self, out: &mut String) {
        out.push_str(self)
    }
}
impl FieldValue for Cow<'_, str> {
    fn write_field(&self, out: &mut String) {
        out.push_str(self)
    }
}
impl FieldValue for char {
    fn write_field(&self, out: &mut String) {
        out.push(*self)
    }
}
impl FieldValue for bool {
    fn write_field(&self, out: &mut String) {
        out.push(if *self { '1' } else { '0' })
    }
}
impl<T: FieldValue + ?Sized> FieldValue for &T {
    fn write_field(&self, out: &mut String) {
        (**self).write_field(out)
    }
}
macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn write_field(&self, out: &mut String) {
                let _ = write!(out, "{}", self);
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);
macro_rules! float_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn write_field(&self, out: &mut String) {
                if self.is_nan() {
                    out.push_str("nan");
                } else if self.is_infinite() {
                    out.push_str(if *self > 0.0 { "inf" } else { "-inf" });
                } else {
                    let _ = write!(out, "{}", self);
                }
            }
        }
    )*};
}
float_field!(f32, f64);
/// A float written as Python 3's `repr(float)` (what splunklib's `str()` gives): shortest
/// round-trip digits, fixed notation for decimal exponents -4..16 with `.0` on integral
/// values, scientific (`1e+16`, `1.5e-05`) otherwise; `nan`, `inf`, `-inf`. For replies that
/// must match a splunklib command's byte for byte.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyFloat(pub f64);

impl FieldValue for PyFloat {
    fn write_field(&self, out: &mut String) {
        out.push_str(&python_float_repr(self.0))
    }
}

fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: d[.ddd]e<exp>.
    let e = format!("{:e}", x);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if mant.starts_with('-') { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let s = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    /// `None` writes an empty field.
    fn write_field(&self, out: &mut String) {
        if let Some(v) = self {
            v.write_field(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr() {
        let r = python_float_repr;
        assert_eq!(r(2147943.07810599), "2147943.07810599");
        assert_eq!(r(2147943.07811), "2147943.07811");
        assert_eq!(r(5.0), "5.0");
        assert_eq!(r(-0.5), "-0.5");
        assert_eq!(r(0.0001), "0.0001");
        assert_eq!(r(0.00001), "1e-05");
        assert_eq!(r(1.5e-7), "1.5e-07");
        assert_eq!(r(1e16), "1e+16");
        assert_eq!(r(123456789012345.6), "123456789012345.6");
        assert_eq!(r(1e22), "1e+22");
    }

    #[test]
    fn union_of_keys_and_values() {
        let mut out = Output::new();
        out.record().set("a", "1").set("b", 2u8);
        out.record()
            .set("b", true)
            .set("c", 1.5f64)
            .set("a", None::<&str>);
        out.record()
            .set_multi("d", ["x", "y$"])
            .set_multi("e", ["only"])
            .set_multi("f", Vec::<String>::new());
        assert_eq!(
            out.column_names().collect::<Vec<_>>(),
            ["a", "b", "c", "d", "e", "f"]
        );
        let r1: Vec<_> = out.record_fields(1).map(|(n, v)| (n, v.as_str())).collect();
        assert_eq!(r1, [("b", "1"), ("c", "1.5"), ("a", "")]);
        let r2: Vec<_> = out.record_fields(2).collect();
        assert_eq!(r2[0].1.values().collect::<Vec<_>>(), ["x", "y$"]);
        assert_eq!(r2[1].1, Value::Single("only"));
        assert_eq!(r2[2].1, Value::Single(""));
    }
}
