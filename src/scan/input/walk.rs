//! Walking top-level values with serde visitors: arrays and `records` wrappers element by
//! element, each element kept as raw JSON text with its line.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::parse::{FileCtx, Shape};
use super::Sink;

/// Where the line number of an event comes from.
pub(super) enum LineSrc<'b> {
    /// Line mode: every event of the value is on this line.
    Fixed(u64),
    /// Streamed document: newlines consumed so far by the parser.
    Counter(Rc<Cell<u64>>),
    /// Document in memory: the line is found from where the value lies in the buffer.
    Slice(&'b SliceLines<'b>),
}

impl LineSrc<'_> {
    /// The current line, for the owned-value variants. For a streamed document this is
    /// exact when called right after the parser consumed the first byte of a value
    /// (serde_json does not read ahead).
    fn current(&self) -> u64 {
        match self {
            LineSrc::Fixed(n) => *n,
            LineSrc::Counter(c) => c.get() + 1,
            LineSrc::Slice(s) => s.lines_before + s.newlines.get() + 1,
        }
    }
}

/// Line numbers of values inside an in-memory document, counted incrementally (values
/// arrive in order, so the whole document is scanned once).
pub(super) struct SliceLines<'b> {
    pub(super) buf: &'b [u8],
    pub(super) lines_before: u64,
    /// Bytes of `buf` scanned for newlines so far, and the newlines found in them.
    pub(super) scanned: Cell<usize>,
    pub(super) newlines: Cell<u64>,
}

impl SliceLines<'_> {
    /// The 1-based line of the byte at `ptr`, which points into `buf`.
    pub(super) fn line_at(&self, ptr: *const u8) -> u64 {
        let off = (ptr as usize)
            .saturating_sub(self.buf.as_ptr() as usize)
            .min(self.buf.len());
        let from = self.scanned.get();
        if off >= from {
            let n = memchr::memchr_iter(b'\n', &self.buf[from..off]).count() as u64;
            self.newlines.set(self.newlines.get() + n);
        } else {
            let n = memchr::memchr_iter(b'\n', &self.buf[..off]).count() as u64;
            self.newlines.set(n);
        }
        self.scanned.set(off);
        self.lines_before + self.newlines.get() + 1
    }
}

/// A raw event: borrowed from an in-memory document or owned when streamed.
enum Raw<'de> {
    Borrowed(&'de RawValue),
    Owned(Box<RawValue>),
}

impl Raw<'_> {
    fn get(&self) -> &RawValue {
        match self {
            Raw::Borrowed(r) => r,
            Raw::Owned(r) => r,
        }
    }
}

/// Deserializes one value as raw JSON with its line: borrowed (no copy) and located by
/// position for an in-memory document, owned and located by the parser's progress
/// otherwise.
fn take_raw<'de, D: de::Deserializer<'de>>(
    d: D,
    lines: &LineSrc<'_>,
) -> Result<(Raw<'de>, u64), D::Error> {
    match lines {
        LineSrc::Slice(s) => {
            let raw = <&'de RawValue>::deserialize(d)?;
            Ok((Raw::Borrowed(raw), s.line_at(raw.get().as_ptr())))
        }
        _ => {
            let line = lines.current();
            let raw = <Box<RawValue>>::deserialize(d)?;
            Ok((Raw::Owned(raw), line))
        }
    }
}

/// Parses one top-level value of a known shape and delivers its events.
pub(super) fn parse_value<'de, R: serde_json::de::Read<'de>, S: Sink>(
    ctx: &mut FileCtx<'_, S>,
    de: &mut serde_json::Deserializer<R>,
    shape: Shape,
    lines: &LineSrc<'_>,
) -> Result<(), serde_json::Error> {
    match shape {
        Shape::Array => de.deserialize_seq(ArrayVisitor { ctx, lines }),
        Shape::Wrapper => de.deserialize_map(WrapperVisitor { ctx, lines }),
        // A scalar is reported by `emit` as not an object.
        Shape::Object | Shape::Scalar => {
            let (raw, line) = take_raw(&mut *de, lines)?;
            ctx.emit(raw.get(), line, None);
            Ok(())
        }
    }
}

/// Streams the elements of an array to the sink, one [`RawValue`] at a time.
struct ArrayVisitor<'c, 'f, 'l, S> {
    ctx: &'c mut FileCtx<'f, S>,
    lines: &'l LineSrc<'l>,
}

impl<'de, S: Sink> Visitor<'de> for ArrayVisitor<'_, '_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of event objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0u64;
        while seq
            .next_element_seed(ElementSeed {
                ctx: &mut *self.ctx,
                lines: self.lines,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

struct ElementSeed<'c, 'f, 'l, S> {
    ctx: &'c mut FileCtx<'f, S>,
    lines: &'l LineSrc<'l>,
    index: u64,
}

impl<'de, S: Sink> DeserializeSeed<'de> for ElementSeed<'_, '_, '_, S> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Streaming: serde_json has consumed the element's first byte and nothing after it,
        // so the line counter is at the element's first line.
        let (raw, line) = take_raw(d, self.lines)?;
        self.ctx.emit(raw.get(), line, Some(self.index));
        Ok(())
    }
}

/// `{"records": [...]}` / `{"Records": [...]}`: streams the array; other keys are skipped.
struct WrapperVisitor<'c, 'f, 'l, S> {
    ctx: &'c mut FileCtx<'f, S>,
    lines: &'l LineSrc<'l>,
}

impl<'de, S: Sink> Visitor<'de> for WrapperVisitor<'_, '_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a records array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !seen && (key == "records" || key == "Records") {
                seen = true;
                map.next_value_seed(ArraySeed {
                    ctx: &mut *self.ctx,
                    lines: self.lines,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ArraySeed<'c, 'f, 'l, S> {
    ctx: &'c mut FileCtx<'f, S>,
    lines: &'l LineSrc<'l>,
}

impl<'de, S: Sink> DeserializeSeed<'de> for ArraySeed<'_, '_, '_, S> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(ArrayVisitor {
            ctx: self.ctx,
            lines: self.lines,
        })
    }
}
