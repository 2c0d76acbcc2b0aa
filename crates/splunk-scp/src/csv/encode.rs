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
    match memchr::memchr(b'"', v) {
        Some(first) => {
            buf.reserve(v.len() + 8);
            buf.push(b'"');
            buf.extend_from_slice(&v[..=first]);
            buf.push(b'"');
            let mut rest = &v[first + 1..];
            while let Some(i) = memchr::memchr(b'"', rest) {
                buf.extend_from_slice(&rest[..=i]);
                buf.push(b'"');
                rest = &rest[i + 1..];
            }
            buf.extend_from_slice(rest);
            buf.push(b'"');
        }
        None => {
            if memchr::memchr3(b',', b'\n', b'\r', v).is_some() {
                buf.push(b'"');
                buf.extend_from_slice(v);
                buf.push(b'"');
            } else {
                buf.extend_from_slice(v);
            }
        }
    }
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
    let ncols = out.columns.len();
    if range.is_empty() || ncols == 0 {
        return;
    }
    let eol = eol.bytes();
    let width: usize = ncols + out.has_multi.iter().filter(|&&m| m).count();
    buf.reserve(out.text.len() + out.cells.len() * 2 + out.row_ends.len() * 2 + 64);
    // Header.
    for (c, name) in out.columns.iter().enumerate() {
        if c > 0 {
            buf.push(b',');
        }
        write_field(buf, name.as_bytes());
        if out.has_multi[c] {
            buf.push(b',');
            let mv = format!("__mv_{name}");
            write_field(buf, mv.as_bytes());
        }
    }
    buf.extend_from_slice(eol);
    // Rows: place each record's cells into column slots (later cells of a name win).
    let text = out.text.as_bytes();
    let mut slots: Vec<Option<Cell>> = vec![None; ncols];
    let mut start = if range.start == 0 {
        0
    } else {
        out.row_ends[range.start - 1]
    };
    for &end in &out.row_ends[range] {
        let cells = &out.cells[start..end];
        start = end;
        // Fast path: the record sets every column exactly once, in column order.
        let in_order =
            cells.len() == ncols && cells.iter().enumerate().all(|(i, c)| c.col as usize == i);
        if !in_order {
            for s in slots.iter_mut() {
                *s = None;
            }
            for c in cells {
                slots[c.col as usize] = Some(*c);
            }
        }
        let row_start = buf.len();
        for c in 0..ncols {
            if c > 0 {
                buf.push(b',');
            }
            let cell = if in_order { Some(cells[c]) } else { slots[c] };
            if let Some(cell) = cell {
                let display = &text[cell.start..cell.start + cell.len as usize];
                write_field(buf, display);
                if out.has_multi[c] {
                    buf.push(b',');
                    let e = cell.start + cell.len as usize;
                    write_field(buf, &text[e..e + cell.mv_len as usize]);
                }
            } else if out.has_multi[c] {
                buf.push(b',');
            }
        }
        if width == 1 && buf.len() == row_start {
            buf.extend_from_slice(b"\"\"");
        }
        buf.extend_from_slice(eol);
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

    #[test]
    fn mv_encoding() {
        assert_eq!(encode_mv(["x", "y$z"]), "$x$;$y$$z$");
        assert_eq!(encode_mv(["", "$"]), "$$;$$$$");
    }
}
