//! Body encoder: [`Output`] records → CSV bytes.
//!
//! Header = union of record keys (first-appearance order), each column that ever holds a
//! multivalue immediately followed by its `__mv_` companion (splunklib's order). Fields are
//! quoted only when they contain `,` `"` CR or LF (quotes doubled); a record whose only field is
//! empty is written as `""` so it is not mistaken for a blank line. Records end with the chosen
//! [`LineEnding`]. No records (or no columns) → empty body.

use crate::output::{Cell, Output};

/// Record terminator of encoded bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\r\n`, what splunklib writes on Unix (the default).
    #[default]
    CrLf,
    /// `\n`, what splunkd itself and the node.js implementations write.
    Lf,
}

impl LineEnding {
    fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::CrLf => b"\r\n",
            LineEnding::Lf => b"\n",
        }
    }
}

/// Appends `value` in `$..$` form with `$` doubled (one element of a multivalue encoding).
pub fn encode_mv_value(value: &str, out: &mut String) {
    out.push('$');
    if !value.as_bytes().contains(&b'$') {
        out.push_str(value);
        out.push('$');
        return;
    }
    let mut rest = value;
    while let Some(i) = memchr::memchr(b'$', rest.as_bytes()) {
        out.push_str(&rest[..=i]);
        out.push('$');
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('$');
}

/// Encodes a list of values as `$a$;$b$` (`$` doubled inside values).
pub fn encode_mv<I>(values: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut s = String::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        encode_mv_value(v.as_ref(), &mut s);
    }
    s
}

/// Appends one CSV field, quoting only when needed.
#[inline]
fn write_field(buf: &mut Vec<u8>, v: &[u8]) {
    let (quotes, quoted) = classify(v);
    if !quoted {
        buf.extend_from_slice(v);
        return;
    }
    buf.reserve(v.len() + quotes + 2);
    buf.push(b'"');
    let mut rest = v;
    if quotes > 0 {
        while let Some(i) = memchr::memchr(b'"', rest) {
            buf.extend_from_slice(&rest[..=i]);
            buf.push(b'"');
            rest = &rest[i + 1..];
        }
    }
    buf.extend_from_slice(rest);
    buf.push(b'"');
}

/// Appends the CSV body of every record in `out` to `buf`.
pub fn encode(out: &Output, buf: &mut Vec<u8>, eol: LineEnding) {
    encode_range(out, 0..out.len(), buf, eol)
}

/// As [`encode`], for records `range` of `out` only (a page of a larger output). The header
/// is the union of all of `out`'s columns.
pub fn encode_range(
    out: &Output,
    range: std::ops::Range<usize>,
    buf: &mut Vec<u8>,
    eol: LineEnding,
) {
    if range.is_empty() || out.columns.is_empty() {
        return;
    }
    let mut header = PageHeader::of_all(out, range.len());
    buf.reserve(out.text.len() + out.cells.len() * 2 + out.row_ends.len() * 2 + 64);
    header.encode_header(buf, eol);
    header.encode(out, range, buf, eol);
}

/// Fields up to this long are classified by a loop over their bytes, longer ones by
/// `memchr`: most fields of a reply are short (times, counts, flags, empty `__mv_`
/// companions), and on those `memchr`'s set-up cost more than the loop (callgrind, summary
/// rows: some 125 instructions per field; 16, 32 and 64 measured, 16 the least;
/// bench/README.md, seventh round).
const SHORT_FIELD: usize = 16;

/// What the CSV form of `v` depends on: the number of `"` in it, and whether it is quoted
/// (it holds a `"`, `,`, CR or LF).
#[inline]
fn classify(v: &[u8]) -> (usize, bool) {
    if v.len() <= SHORT_FIELD {
        let mut quotes = 0usize;
        let mut special = false;
        for &b in v {
            quotes += usize::from(b == b'"');
            special |= matches!(b, b',' | b'\n' | b'\r');
        }
        (quotes, special || quotes > 0)
    } else {
        let quotes = memchr::memchr_iter(b'"', v).count();
        let quoted = quotes > 0 || memchr::memchr3(b',', b'\n', b'\r', v).is_some();
        (quotes, quoted)
    }
}

/// Bytes [`write_field`] appends for `v`.
fn field_len(v: &[u8]) -> usize {
    let (quotes, quoted) = classify(v);
    v.len() + quotes + if quoted { 2 } else { 0 }
}

/// The header of a reply whose records are encoded as they are made (a streamed page,
/// [`crate::output::RecordSource`]), not from one [`Output`] holding them all.
///
/// Built in a first pass ([`PageHeader::add`] for every record of the page, from whatever
/// [`Output`]s hold them in turn); [`PageHeader::body_len`] is then the exact length of the
/// body that [`PageHeader::encode_header`] and [`PageHeader::encode`] write in a second
/// pass over the same records. The body is what [`encode`] would give for one `Output`
/// holding the page's records, except that a column has its `__mv_` companion when one of
/// the page's records set a multivalue in it (not any record ever held).
#[derive(Debug, Default)]
pub(crate) struct PageHeader {
    columns: Vec<String>,
    by_name: std::collections::HashMap<String, u32>,
    has_multi: Vec<bool>,
    records: usize,
    /// Sum over records of their fields' encoded bytes (separators excluded).
    field_bytes: usize,
    /// Records whose fields encode to nothing (written `""` when the body has one column).
    empty: usize,
    /// Scratch: the page column of each column of the `Output` being read.
    map: Vec<u32>,
    /// Scratch: the last cell of each page column in the record being read.
    slots: Vec<Option<Cell>>,
}

impl PageHeader {
    /// The header of every column `out` has (the union over all its records, multivalue
    /// companions as `out` says), for `records` of its records: what [`encode_range`] writes.
    fn of_all(out: &Output, records: usize) -> PageHeader {
        PageHeader {
            columns: out.columns.clone(),
            by_name: out
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i as u32))
                .collect(),
            has_multi: out.has_multi.clone(),
            records,
            ..PageHeader::default()
        }
    }

    /// Records added so far.
    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// Columns of the page (without `__mv_` companions).
    pub(crate) fn columns(&self) -> usize {
        self.columns.len()
    }

    /// Maps `out`'s columns to the page's (`u32::MAX`: not a page column).
    fn map_columns(&mut self, out: &Output) {
        self.map.clear();
        for name in &out.columns {
            let id = self.by_name.get(name.as_str()).copied();
            // A column the sizing pass never saw (the source broke its contract): its cells
            // are not written and the length check fails the reply.
            self.map.push(id.unwrap_or(u32::MAX));
        }
    }

    /// Fills `slots` with the last cell of each page column in record `cells`; returns
    /// whether every column is set exactly once, in order (then `slots` is not used).
    fn place(&mut self, cells: &[Cell]) -> bool {
        let n = self.columns.len();
        let in_order = cells.len() == n
            && cells
                .iter()
                .enumerate()
                .all(|(i, c)| self.map[c.col as usize] as usize == i);
        if !in_order {
            self.slots.clear();
            self.slots.resize(n, None);
            for c in cells {
                if let Some(s) = self.slots.get_mut(self.map[c.col as usize] as usize) {
                    *s = Some(*c);
                }
            }
        }
        in_order
    }

    /// Sizing pass: adds records `range` of `out` (their columns join the header in
    /// first-appearance order).
    pub(crate) fn add(&mut self, out: &Output, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        // Only the columns the records set: `out` may know columns of other records.
        let mut used = vec![false; out.columns.len()];
        let first = if range.start == 0 {
            0
        } else {
            out.row_ends[range.start - 1]
        };
        for c in &out.cells[first..out.row_ends[range.end - 1]] {
            used[c.col as usize] = true;
        }
        self.map.clear();
        for (c, name) in out.columns.iter().enumerate() {
            if !used[c] {
                self.map.push(u32::MAX);
                continue;
            }
            let id = match self.by_name.get(name.as_str()) {
                Some(&id) => id,
                None => {
                    let id = self.columns.len() as u32;
                    self.columns.push(name.clone());
                    self.has_multi.push(false);
                    self.by_name.insert(name.clone(), id);
                    id
                }
            };
            self.has_multi[id as usize] |= out.has_multi[c];
            self.map.push(id);
        }
        let text = out.text.as_bytes();
        let len = |c: &Cell| {
            let e = c.start + c.len as usize;
            field_len(&text[c.start..e]) + field_len(&text[e..e + c.mv_len as usize])
        };
        // `last[col]`: 1 + index in the record of the column's last cell (the one written).
        let mut last = vec![0u32; out.columns.len()];
        let mut start = first;
        for &end in &out.row_ends[range] {
            let cells = &out.cells[start..end];
            start = end;
            let distinct = cells.iter().enumerate().all(|(i, c)| c.col as usize == i);
            let bytes: usize = if distinct {
                cells.iter().map(len).sum()
            } else {
                for (k, c) in cells.iter().enumerate() {
                    last[c.col as usize] = k as u32 + 1;
                }
                let mut sum = 0;
                for (k, c) in cells.iter().enumerate() {
                    if last[c.col as usize] == k as u32 + 1 {
                        sum += len(c);
                    }
                }
                sum
            };
            self.field_bytes += bytes;
            self.empty += usize::from(bytes == 0);
            self.records += 1;
        }
    }

    /// Exact length of the body: header and every record added.
    pub(crate) fn body_len(&self, eol: LineEnding) -> usize {
        let ncols = self.columns.len();
        if self.records == 0 || ncols == 0 {
            return 0;
        }
        let eol = eol.bytes().len();
        let multi = self.has_multi.iter().filter(|&&m| m).count();
        let width = ncols + multi;
        let header: usize = self
            .columns
            .iter()
            .zip(&self.has_multi)
            .map(|(name, &m)| {
                field_len(name.as_bytes())
                    + if m {
                        1 + field_len(format!("__mv_{name}").as_bytes())
                    } else {
                        0
                    }
            })
            .sum::<usize>()
            + (ncols - 1)
            + eol;
        let special = if width == 1 { 2 * self.empty } else { 0 };
        header + self.field_bytes + self.records * (width - 1 + eol) + special
    }

    /// Writing pass: appends the header row (nothing when the body is empty).
    pub(crate) fn encode_header(&self, buf: &mut Vec<u8>, eol: LineEnding) {
        if self.records == 0 || self.columns.is_empty() {
            return;
        }
        for (c, name) in self.columns.iter().enumerate() {
            if c > 0 {
                buf.push(b',');
            }
            write_field(buf, name.as_bytes());
            if self.has_multi[c] {
                buf.push(b',');
                write_field(buf, format!("__mv_{name}").as_bytes());
            }
        }
        buf.extend_from_slice(eol.bytes());
    }

    /// Writing pass: appends records `range` of `out` under this header.
    pub(crate) fn encode(
        &mut self,
        out: &Output,
        range: std::ops::Range<usize>,
        buf: &mut Vec<u8>,
        eol: LineEnding,
    ) {
        if range.is_empty() || self.columns.is_empty() {
            return;
        }
        self.map_columns(out);
        let eol = eol.bytes();
        let ncols = self.columns.len();
        let width = ncols + self.has_multi.iter().filter(|&&m| m).count();
        let text = out.text.as_bytes();
        let mut start = if range.start == 0 {
            0
        } else {
            out.row_ends[range.start - 1]
        };
        for &end in &out.row_ends[range] {
            let cells = &out.cells[start..end];
            start = end;
            let in_order = self.place(cells);
            let row_start = buf.len();
            for (c, &multi) in self.has_multi.iter().enumerate() {
                if c > 0 {
                    buf.push(b',');
                }
                let cell = if in_order {
                    Some(cells[c])
                } else {
                    self.slots[c]
                };
                if let Some(cell) = cell {
                    write_field(buf, &text[cell.start..cell.start + cell.len as usize]);
                    if multi {
                        buf.push(b',');
                        let e = cell.start + cell.len as usize;
                        write_field(buf, &text[e..e + cell.mv_len as usize]);
                    }
                } else if multi {
                    buf.push(b',');
                }
            }
            if width == 1 && buf.len() == row_start {
                buf.extend_from_slice(b"\"\"");
            }
            buf.extend_from_slice(eol);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(out: &Output, eol: LineEnding) -> String {
        let mut b = Vec::new();
        encode(out, &mut b, eol);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn protocol_worked_example() {
        // protocol.md §2: name,__mv_name,n,__mv_n\r\nZoë,,3,\r\n"x\ny$z",$x$;$y$$z$,2,\r\n
        let mut out = Output::new();
        out.record().set("name", "Zoë").set("n", 3);
        out.record().set_multi("name", ["x", "y$z"]).set("n", 2);
        assert_eq!(
            body(&out, LineEnding::CrLf),
            "name,__mv_name,n\r\nZoë,,3\r\n\"x\ny$z\",$x$;$y$$z$,2\r\n"
        );
    }

    #[test]
    fn quoting_union_and_single_empty() {
        let mut out = Output::new();
        out.record().set("a", "x,y");
        out.record().set("b", "say \"hi\"").set("a", "cr\r");
        assert_eq!(
            body(&out, LineEnding::Lf),
            "a,b\n\"x,y\",\n\"cr\r\",\"say \"\"hi\"\"\"\n"
        );
        let mut one = Output::new();
        one.record().set("v", "");
        one.record().set("v", "1");
        assert_eq!(body(&one, LineEnding::Lf), "v\n\"\"\n1\n");
        assert_eq!(body(&Output::new(), LineEnding::Lf), "");
    }

    #[test]
    fn repeated_field_last_wins_and_passthrough_overrides() {
        let mut out = Output::new();
        out.record().set("a", "1").set("b", "x").set("a", "2");
        assert_eq!(body(&out, LineEnding::Lf), "a,b\n2,x\n");
    }

    /// One record: (column, values) in set order; one value is a single value, several a
    /// multivalue, none an empty multivalue.
    type Rec = Vec<(usize, Vec<String>)>;

    fn put(out: &mut Output, names: &[&str], rec: &Rec) {
        let mut r = out.record();
        for (c, vs) in rec {
            match vs.as_slice() {
                [v] => r.set(names[*c], v.as_str()),
                vs => r.set_multi(names[*c], vs),
            };
        }
    }

    /// The body a [`PageHeader`] writes for `recs` made `step` records at a time in a reused
    /// `Output` (as the runtime does), and the length it announced.
    fn paged(names: &[&str], recs: &[Rec], step: usize, eol: LineEnding) -> (Vec<u8>, usize) {
        let mut header = PageHeader::default();
        let mut scratch = Output::new();
        for part in recs.chunks(step) {
            scratch.clear_records();
            part.iter().for_each(|r| put(&mut scratch, names, r));
            header.add(&scratch, 0..part.len());
        }
        let mut body = Vec::new();
        header.encode_header(&mut body, eol);
        for part in recs.chunks(step) {
            scratch.clear_records();
            part.iter().for_each(|r| put(&mut scratch, names, r));
            header.encode(&scratch, 0..part.len(), &mut body, eol);
        }
        (body, header.body_len(eol))
    }

    #[test]
    fn a_page_written_in_parts_is_the_body_of_its_records() {
        use proptest::prelude::*;
        const NAMES: [&str; 5] = ["a", "b c", "q\"x", "d,e", ""];
        let value = proptest::string::string_regex("[a\",\r\n$ ]{0,4}").unwrap();
        let rec = prop::collection::vec((0..NAMES.len(), prop::collection::vec(value, 0..4)), 0..7);
        let recs = prop::collection::vec(rec, 0..12);
        proptest!(ProptestConfig::with_cases(2000), |(recs in recs, step in 1usize..5, lf: bool)| {
            let eol = if lf { LineEnding::Lf } else { LineEnding::CrLf };
            let mut whole = Output::new();
            recs.iter().for_each(|r| put(&mut whole, &NAMES, r));
            let mut want = Vec::new();
            encode(&whole, &mut want, eol);
            let (got, len) = paged(&NAMES, &recs, step, eol);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
            prop_assert_eq!(len, got.len());
        });
    }

    /// RFC 4180 quoting, the plain way: what `write_field` must give.
    fn quoted_ref(v: &[u8]) -> Vec<u8> {
        if !v.iter().any(|b| b"\",\r\n".contains(b)) {
            return v.to_vec();
        }
        let mut o = vec![b'"'];
        for &b in v {
            o.push(b);
            if b == b'"' {
                o.push(b'"');
            }
        }
        o.push(b'"');
        o
    }

    fn check_field(v: &[u8]) {
        let mut buf = b"x".to_vec();
        write_field(&mut buf, v);
        let want = quoted_ref(v);
        assert_eq!(&buf[1..], &want[..], "{:?}", String::from_utf8_lossy(v));
        assert_eq!(field_len(v), want.len(), "{:?}", String::from_utf8_lossy(v));
    }

    /// Both ways of classifying a field (the byte loop up to `SHORT_FIELD`, `memchr` past
    /// it) quote as RFC 4180 says: every length across the cut, each special byte at every
    /// position, one or two of them.
    #[test]
    fn fields_are_quoted_alike_on_both_sides_of_the_cut() {
        for n in 0..=SHORT_FIELD * 2 + 3 {
            let plain = vec![b'a'; n];
            check_field(&plain);
            for &c in b"\",\r\n" {
                for i in 0..n {
                    let mut v = plain.clone();
                    v[i] = c;
                    check_field(&v);
                    v[n - 1 - i / 2] = b'"';
                    check_field(&v);
                }
            }
        }
        use proptest::prelude::*;
        let field = proptest::collection::vec(
            prop_oneof![
                Just(b'a'),
                Just(b'"'),
                Just(b','),
                Just(b'\r'),
                Just(b'\n'),
                Just(0xc3)
            ],
            0..SHORT_FIELD * 3,
        );
        proptest!(ProptestConfig::with_cases(2000), |(v in field)| check_field(&v));
    }

    #[test]
    fn mv_encoding() {
        assert_eq!(encode_mv(["x", "y$z"]), "$x$;$y$$z$");
        assert_eq!(encode_mv(["", "$"]), "$$;$$$$");
    }
}
