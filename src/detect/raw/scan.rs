//! Hand-written extractor of [`RawEvent`] fields from a JSON `_raw` held as `&str`: the
//! per-event hot path.
//!
//! It reads exactly what the serde visitors of the parent module read, with the same
//! outcome on every input (a differential property test holds it to that): the same
//! fields, and the same verdict on malformed text, where "input ended" ([`Stop::Eof`], i.e.
//! serde_json's `Eof` category: Splunk's TRUNCATE) and "syntax error" ([`Stop::Syntax`]) are
//! told apart exactly as serde_json does. To get there it follows serde_json's grammar
//! rule by rule:
//! * values skipped with `IgnoredAny` are checked like `Deserializer::ignore_value` (strings
//!   scanned without decoding `\u` escapes, numbers checked for shape only, no depth limit);
//! * keys, and values read through `deserialize_any` (strings, numbers), are decoded by
//!   serde_json itself whenever that is not a plain slice of the input — a string holding
//!   an escape, any number — so escapes, surrogates and number conversions are serde's;
//! * map and sequence punctuation follows serde_json's `MapAccess`/`SeqAccess`.
//!
//! What makes it faster than the serde path: strings are skipped sixteen bytes at a time,
//! skipped subtrees need no visitor calls, and a plain key is a borrowed slice compared
//! in place.

use super::{put, Claims, GcpEntry, Lenient, RawEvent, SsmTarget, UserIdentity, S};
use std::borrow::Cow;

/// Why scanning stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The input ended inside the document (serde_json's `Category::Eof`).
    Eof,
    /// Any other error (serde_json's `Syntax` category).
    Syntax,
}

type R<T> = Result<T, Stop>;

/// Extracts into `ev`; on error the fields read so far stay in `ev`.
pub(super) fn fill<'a>(ev: &mut RawEvent<'a>, text: &'a str) -> R<()> {
    let mut p = P { s: text, i: 0 };
    match p.any()? {
        Tok::Obj => {
            // `records` marks the wrapper as soon as the key is read (the serde visitor sets
            // the flag before it reads the value).
            let mut wrapper = false;
            let res = p.object_pre(
                |k| wrapper |= k == "records" || k == "Records",
                |p, k| top_key(p, ev, &k, false),
            );
            ev.records_wrapper |= wrapper;
            res?
        }
        // The caller checks for `{` first; anything else is what serde's `Top` would skip.
        other => p.finish_ignored(other)?,
    }
    p.ws();
    if p.i < p.s.len() {
        return Err(Stop::Syntax); // trailing characters
    }
    Ok(())
}

/// The start of a value read through `deserialize_any`. Scalars are consumed; for
/// containers only the position is known (the bracket is not consumed).
enum Tok<'a> {
    Str(Cow<'a, str>),
    /// A number's text (grammar checked, conversion not yet done).
    Num(&'a str),
    Bool(bool),
    Null,
    Obj,
    Arr,
}

/// Scanner state: the text and a byte position in it (always at a character boundary
/// where slices are taken: only ASCII delimiters are ever sliced at).
struct P<'a> {
    s: &'a str,
    i: usize,
}

/// True for the bytes that stop a string scan: `"`, `\` and control characters.
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The bytes of `b[i..i + 16]` that stop a string scan, one bit each (bit `k` for `b[i + k]`).
///
/// Panics unless `i + 16 <= b.len()` (callers check first, so the check folds away).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn special_mask16(b: &[u8], i: usize) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let block = &b[i..i + 16];
    // SAFETY: SSE2 is part of the x86_64 baseline; the load reads the 16 bytes of `block`.
    unsafe {
        let x = _mm_loadu_si128(block.as_ptr() as *const __m128i);
        let ctl = _mm_set1_epi8(0x1f);
        // max(x, 0x1f) == 0x1f  <=>  x <= 0x1f (unsigned)
        let m = _mm_or_si128(
            _mm_or_si128(
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8)),
            ),
            _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl),
        );
        _mm_movemask_epi8(m) as u32
    }
}

/// Index of the first byte at or after `i` that stops a string scan, or `b.len()`.
#[inline]
fn find_special(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        let mask = special_mask16(b, i);
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < b.len() && !is_special(b[i]) {
        i += 1;
    }
    i
}

/// Open containers of a skipped value: one bit per level (1 = object), spilling past 64.
#[derive(Default)]
struct Frames {
    depth: usize,
    bits: u64,
    deep: Vec<bool>,
}

impl Frames {
    fn push(&mut self, obj: bool) {
        if self.depth < 64 {
            self.bits = (self.bits & !(1 << self.depth)) | ((obj as u64) << self.depth);
        } else {
            self.deep.push(obj);
        }
        self.depth += 1;
    }
    /// The innermost open container is an object. Only called when `depth > 0`.
    fn top_is_obj(&self) -> bool {
        let d = self.depth - 1;
        if d < 64 {
            self.bits >> d & 1 == 1
        } else {
            self.deep.last().copied().unwrap_or(false)
        }
    }
    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth >= 64 {
            self.deep.pop();
        }
    }
}

impl<'a> P<'a> {
    #[inline]
    fn b(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    #[inline]
    fn ws(&mut self) {
        let b = self.b();
        while let Some(&c) = b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    /// The next non-blank byte, not consumed.
    #[inline]
    fn peek_ws(&mut self) -> R<u8> {
        self.ws();
        self.b().get(self.i).copied().ok_or(Stop::Eof)
    }

    /// `true`/`false`/`null` whose first byte is at `self.i`.
    fn ident(&mut self, word: &[u8]) -> R<()> {
        let b = self.b();
        self.i += 1;
        for &e in &word[1..] {
            match b.get(self.i) {
                None => return Err(Stop::Eof),
                Some(&c) if c == e => self.i += 1,
                Some(_) => return Err(Stop::Syntax),
            }
        }
        Ok(())
    }

    /// Skips a string at `self.i` (`"`) like serde_json's `ignore_str`; returns whether it
    /// holds an escape.
    ///
    /// Most strings of audit records are keys and values of under 16 bytes without escapes:
    /// when the first byte that stops the scan within the next 16 is the closing quote, the
    /// string ends there and this inlined test is all it costs; anything else goes on in
    /// [`P::skip_string_from`] from the first byte that stops the scan (or past 16 plain
    /// bytes), with the same verdict.
    #[inline(always)]
    fn skip_string(&mut self) -> R<bool> {
        let from = self.i + 1;
        #[cfg(target_arch = "x86_64")]
        {
            let b = self.b();
            if from + 16 <= b.len() {
                let mask = special_mask16(b, from);
                if mask == 0 {
                    return self.skip_string_from(from + 16);
                }
                let k = from + mask.trailing_zeros() as usize;
                if b[k] == b'"' {
                    self.i = k + 1;
                    return Ok(false);
                }
                return self.skip_string_from(k);
            }
        }
        self.skip_string_from(from)
    }

    /// [`P::skip_string`] in full, the scan going on at `from` (every byte between the
    /// opening quote and `from` is plain): escapes, control characters, long strings,
    /// strings running into the end of the input.
    #[inline(never)]
    fn skip_string_from(&mut self, from: usize) -> R<bool> {
        let b = self.b();
        self.i = from;
        let mut escaped = false;
        loop {
            self.i = find_special(b, self.i);
            match b.get(self.i) {
                None => return Err(Stop::Eof),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    self.escape()?;
                }
                Some(_) => return Err(Stop::Syntax), // control character
            }
        }
    }

    /// The escape after a `\` (serde_json's `ignore_escape`).
    fn escape(&mut self) -> R<()> {
        let b = self.b();
        let c = *b.get(self.i).ok_or(Stop::Eof)?;
        self.i += 1;
        match c {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                if b.len() - self.i < 4 {
                    self.i = b.len();
                    return Err(Stop::Eof);
                }
                let ok = b[self.i..self.i + 4].iter().all(u8::is_ascii_hexdigit);
                self.i += 4;
                if ok {
                    Ok(())
                } else {
                    Err(Stop::Syntax)
                }
            }
            _ => Err(Stop::Syntax),
        }
    }

    /// A string at `self.i` decoded as serde_json's `parse_str` does: borrowed when it has
    /// no escape, else decoded by serde_json (same escapes, same surrogate rules).
    ///
    /// serde_json decodes escapes as it goes (a lone surrogate is an error before the
    /// string ends), so an escaped or failed string is re-read by serde_json from its
    /// opening quote: the value, or the error and its category, are then serde_json's own.
    #[inline(always)]
    fn string(&mut self) -> R<Cow<'a, str>> {
        let start = self.i;
        let scanned = self.skip_string();
        if scanned == Ok(false) {
            return Ok(Cow::Borrowed(&self.s[start + 1..self.i - 1]));
        }
        self.string_by_serde(start, scanned)
    }

    /// The rest of [`P::string`]: a string holding an escape, or one the scan refused, read
    /// again by serde_json from its opening quote at `start`.
    #[cold]
    #[inline(never)]
    fn string_by_serde(&mut self, start: usize, scanned: R<bool>) -> R<Cow<'a, str>> {
        use serde::Deserialize;
        let mut de = serde_json::Deserializer::from_str(&self.s[start..]);
        match String::deserialize(&mut de) {
            // Both readers agree on where a complete string ends.
            Ok(v) => scanned.map(|_| Cow::Owned(v)),
            Err(e) if e.classify() == serde_json::error::Category::Eof => Err(Stop::Eof),
            Err(_) => Err(Stop::Syntax),
        }
    }

    /// Checks a number's shape at `self.i`. `any`: as `deserialize_any` parses it (a number
    /// cut after `-`, `.` or the exponent mark is [`Stop::Eof`]); else as `ignore_value`
    /// does (that is [`Stop::Syntax`]).
    fn skip_number(&mut self, any: bool) -> R<()> {
        let b = self.b();
        let at = |i: usize| b.get(i).copied();
        let cut = if any { Stop::Eof } else { Stop::Syntax };
        if at(self.i) == Some(b'-') {
            self.i += 1;
        }
        match at(self.i) {
            Some(b'0') => {
                self.i += 1;
                if at(self.i).is_some_and(|c| c.is_ascii_digit()) {
                    return Err(Stop::Syntax);
                }
            }
            Some(b'1'..=b'9') => {
                self.i += 1;
                while at(self.i).is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
            }
            None => return Err(cut),
            Some(_) => return Err(Stop::Syntax),
        }
        if at(self.i) == Some(b'.') {
            self.i += 1;
            let first = self.i;
            while at(self.i).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            if self.i == first {
                return Err(if at(self.i).is_none() {
                    cut
                } else {
                    Stop::Syntax
                });
            }
        }
        if matches!(at(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(at(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match at(self.i) {
                Some(b'0'..=b'9') => self.i += 1,
                None => return Err(cut),
                Some(_) => return Err(Stop::Syntax),
            }
            while at(self.i).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        Ok(())
    }

    /// Starts a value read through `deserialize_any`.
    #[inline]
    fn any(&mut self) -> R<Tok<'a>> {
        Ok(match self.peek_ws()? {
            b'"' => Tok::Str(self.string()?),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                self.skip_number(true)?;
                Tok::Num(&self.s[start..self.i])
            }
            b't' => {
                self.ident(b"true")?;
                Tok::Bool(true)
            }
            b'f' => {
                self.ident(b"false")?;
                Tok::Bool(false)
            }
            b'n' => {
                self.ident(b"null")?;
                Tok::Null
            }
            b'{' => Tok::Obj,
            b'[' => Tok::Arr,
            _ => return Err(Stop::Syntax),
        })
    }

    /// Skips one value like serde_json's `ignore_value`. Most skipped values are strings:
    /// those are skipped inline; anything else goes on in [`P::skip_value_full`].
    #[inline(always)]
    fn skip_value(&mut self) -> R<()> {
        if self.peek_ws()? == b'"' {
            return self.skip_string().map(|_| ());
        }
        self.skip_value_full()
    }

    /// [`P::skip_value`] for any value.
    #[inline(never)]
    fn skip_value_full(&mut self) -> R<()> {
        let mut frames = Frames::default();
        loop {
            let opened = match self.peek_ws()? {
                b'"' => {
                    self.skip_string()?;
                    false
                }
                b'-' | b'0'..=b'9' => {
                    self.skip_number(false)?;
                    false
                }
                b't' => {
                    self.ident(b"true")?;
                    false
                }
                b'f' => {
                    self.ident(b"false")?;
                    false
                }
                b'n' => {
                    self.ident(b"null")?;
                    false
                }
                c @ (b'{' | b'[') => {
                    self.i += 1;
                    frames.push(c == b'{');
                    true
                }
                _ => return Err(Stop::Syntax),
            };
            if !opened && frames.depth == 0 {
                return Ok(());
            }
            // After a value or an opening bracket: a comma, or closing brackets.
            let mut accept_comma = !opened;
            loop {
                let obj = frames.top_is_obj();
                match self.peek_ws()? {
                    b',' if accept_comma => {
                        self.i += 1;
                        break;
                    }
                    b']' if !obj => {}
                    b'}' if obj => {}
                    _ if accept_comma => return Err(Stop::Syntax),
                    _ => break,
                }
                self.i += 1;
                frames.pop();
                if frames.depth == 0 {
                    return Ok(());
                }
                accept_comma = true;
            }
            if frames.top_is_obj() {
                if self.peek_ws()? != b'"' {
                    return Err(Stop::Syntax);
                }
                self.skip_string()?;
                if self.peek_ws()? != b':' {
                    return Err(Stop::Syntax);
                }
                self.i += 1;
            }
        }
    }

    /// Iterates an object at `self.i` (`{`) like serde_json's `MapAccess`: `f` gets each
    /// key (decoded like `parse_str`) and must consume its value.
    #[inline]
    fn object(&mut self, f: impl FnMut(&mut Self, Cow<'a, str>) -> R<()>) -> R<()> {
        self.object_pre(|_| {}, f)
    }

    /// [`P::object`] with `pre` called on each key before its colon is checked: serde's
    /// visitor sees a key even when the input ends right after it.
    #[inline]
    fn object_pre(
        &mut self,
        mut pre: impl FnMut(&str),
        mut f: impl FnMut(&mut Self, Cow<'a, str>) -> R<()>,
    ) -> R<()> {
        self.i += 1;
        let mut first = true;
        loop {
            let c = match self.peek_ws()? {
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                b',' if !first => {
                    self.i += 1;
                    self.peek_ws()?
                }
                c if first => {
                    first = false;
                    c
                }
                _ => return Err(Stop::Syntax),
            };
            if c != b'"' {
                return Err(Stop::Syntax); // trailing comma, or a key that is not a string
            }
            let key = self.string()?;
            pre(&key);
            if self.peek_ws()? != b':' {
                return Err(Stop::Syntax);
            }
            self.i += 1;
            f(self, key)?;
        }
    }

    /// Iterates an array at `self.i` (`[`) like serde_json's `SeqAccess`: `f` must consume
    /// one element.
    fn array(&mut self, mut f: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.i += 1;
        let mut first = true;
        loop {
            match self.peek_ws()? {
                b']' => {
                    self.i += 1;
                    return Ok(());
                }
                b',' if !first => {
                    self.i += 1;
                    if self.peek_ws()? == b']' {
                        return Err(Stop::Syntax); // trailing comma
                    }
                }
                _ if first => first = false,
                _ => return Err(Stop::Syntax),
            }
            f(self)?;
        }
    }

    /// A number's text converted as serde_json's `deserialize_any` + [`Lenient`] do.
    fn number(num: &str) -> R<S<'a>> {
        serde_json::from_str::<Lenient>(num)
            .map(|l| l.0.map(|v| Cow::Owned(v.into_owned())))
            .map_err(|_| Stop::Syntax)
    }

    /// Finishes a value started with [`P::any`] that the visitor ignores: containers are
    /// skipped (arrays by element, objects by entry with their keys decoded, as
    /// `next_entry::<IgnoredAny, IgnoredAny>` does), numbers still converted (a number out of
    /// range is an error for serde_json).
    fn finish_ignored(&mut self, t: Tok<'a>) -> R<()> {
        match t {
            Tok::Obj => self.object(|p, _| p.skip_value()),
            Tok::Arr => self.array(|p| p.skip_value()),
            Tok::Num(n) => Self::number(n).map(|_| ()),
            Tok::Str(_) | Tok::Bool(_) | Tok::Null => Ok(()),
        }
    }

    /// [`Lenient`]: strings as they are, numbers and booleans as text, null and containers
    /// as absent.
    #[inline]
    fn lenient(&mut self) -> R<S<'a>> {
        match self.any()? {
            Tok::Str(s) => Ok(Some(s)),
            Tok::Num(n) => Self::number(n),
            Tok::Bool(v) => Ok(Some(Cow::Borrowed(if v { "true" } else { "false" }))),
            Tok::Null => Ok(None),
            t => self.finish_ignored(t).map(|_| None),
        }
    }

    /// `StrOrValue`: a scalar as [`P::lenient`], or an object's `value` key.
    fn str_or_value(&mut self) -> R<S<'a>> {
        match self.any()? {
            Tok::Obj => {
                let mut out = None;
                self.object(|p, k| {
                    if k == "value" {
                        put(&mut out, p.lenient()?);
                        Ok(())
                    } else {
                        p.skip_value()
                    }
                })?;
                Ok(out)
            }
            Tok::Str(s) => Ok(Some(s)),
            Tok::Num(n) => Self::number(n),
            Tok::Bool(v) => Ok(Some(Cow::Borrowed(if v { "true" } else { "false" }))),
            Tok::Null => Ok(None),
            Tok::Arr => self.array(|p| p.skip_value()).map(|_| None),
        }
    }

    /// A nested object whose keys `f` handles; anything else is skipped (`object_seed!`).
    #[inline]
    fn seed(&mut self, f: impl FnMut(&mut Self, Cow<'a, str>) -> R<()>) -> R<()> {
        match self.any()? {
            Tok::Obj => self.object(f),
            // `visit_seq` skips elements with `IgnoredAny`.
            t => self.finish_ignored(t),
        }
    }

    /// `StringListSeed`: an array of strings, or one string.
    fn string_list(&mut self, out: &mut Vec<Cow<'a, str>>) -> R<()> {
        match self.any()? {
            Tok::Arr => self.array(|p| {
                if let Some(v) = p.lenient()?.filter(|v| !v.trim().is_empty()) {
                    out.push(v);
                }
                Ok(())
            }),
            Tok::Str(s) => {
                if !s.trim().is_empty() {
                    out.push(s);
                }
                Ok(())
            }
            t => self.finish_ignored(t),
        }
    }

    /// `TargetsSeed`: the `targets` array of SendCommand.
    fn targets(&mut self, out: &mut Vec<SsmTarget<'a>>) -> R<()> {
        match self.any()? {
            Tok::Arr => self.array(|p| {
                let mut t = SsmTarget::default();
                p.seed(|p, k| {
                    match &*k {
                        "key" | "Key" => put(&mut t.key, p.lenient()?),
                        "values" | "Values" => p.string_list(&mut t.values)?,
                        _ => p.skip_value()?,
                    }
                    Ok(())
                })?;
                if t.key.is_some() || !t.values.is_empty() {
                    out.push(t);
                }
                Ok(())
            }),
            t => self.finish_ignored(t),
        }
    }

    /// `IdentitySeed`: an object (claims, authorization) or a plain string.
    fn identity(&mut self, ev: &mut RawEvent<'a>) -> R<()> {
        match self.any()? {
            Tok::Obj => self.object(|p, k| {
                match &*k {
                    "claims" => {
                        p.claims(&mut ev.claims)?;
                        ev.identity_claims_complete = true;
                    }
                    "authorization" => p.seed(|p, k| {
                        match &*k {
                            "scope" => put(&mut ev.identity_scope, p.lenient()?),
                            "evidence" => p.seed(|p, k| {
                                match &*k {
                                    "principalId" => {
                                        put(&mut ev.evidence_principal_id, p.lenient()?)
                                    }
                                    "principalType" => {
                                        put(&mut ev.evidence_principal_type, p.lenient()?)
                                    }
                                    _ => p.skip_value()?,
                                }
                                Ok(())
                            })?,
                            _ => p.skip_value()?,
                        }
                        Ok(())
                    })?,
                    _ => p.skip_value()?,
                }
                Ok(())
            }),
            Tok::Str(s) => {
                put(&mut ev.identity_str, Some(s));
                Ok(())
            }
            t => self.finish_ignored(t),
        }
    }

    fn claims(&mut self, c: &mut Claims<'a>) -> R<()> {
        self.seed(|p, k| {
            match c.slot(&k) {
                Some(slot) => put(slot, p.lenient()?),
                None => p.skip_value()?,
            }
            Ok(())
        })
    }

    fn user_identity(&mut self, ui: &mut UserIdentity<'a>) -> R<()> {
        self.seed(|p, k| {
            match &*k {
                "type" => put(&mut ui.kind, p.lenient()?),
                "arn" => put(&mut ui.arn, p.lenient()?),
                "principalId" => put(&mut ui.principal_id, p.lenient()?),
                "accountId" => put(&mut ui.account_id, p.lenient()?),
                "userName" => put(&mut ui.user_name, p.lenient()?),
                "invokedBy" => put(&mut ui.invoked_by, p.lenient()?),
                "sessionContext" => p.seed(|p, k| {
                    match &*k {
                        "sessionIssuer" => p.seed(|p, k| {
                            match &*k {
                                "arn" => put(&mut ui.issuer_arn, p.lenient()?),
                                "userName" => put(&mut ui.issuer_user_name, p.lenient()?),
                                "accountId" => put(&mut ui.issuer_account_id, p.lenient()?),
                                _ => p.skip_value()?,
                            }
                            Ok(())
                        })?,
                        _ => p.skip_value()?,
                    }
                    Ok(())
                })?,
                _ => p.skip_value()?,
            }
            Ok(())
        })
    }

    fn request_parameters(&mut self, ev: &mut RawEvent<'a>) -> R<()> {
        self.seed(|p, k| {
            match &*k {
                "instanceIds" => p.string_list(&mut ev.instance_ids)?,
                "targets" => p.targets(&mut ev.targets)?,
                "target" => put(&mut ev.target, p.lenient()?),
                "documentName" => put(&mut ev.document_name, p.lenient()?),
                "name" => put(&mut ev.name_param, p.lenient()?),
                _ => p.skip_value()?,
            }
            Ok(())
        })
    }

    /// `protoPayload` of a Google Cloud LogEntry (`ProtoPayloadSeed`).
    fn proto_payload(&mut self, g: &mut GcpEntry<'a>) -> R<()> {
        self.seed(|p, k| {
            match &*k {
                "methodName" => put(&mut g.method_name, p.lenient()?),
                "serviceName" => put(&mut g.service_name, p.lenient()?),
                "resourceName" => put(&mut g.resource_name, p.lenient()?),
                "authenticationInfo" => p.seed(|p, k| {
                    match &*k {
                        "principalEmail" => put(&mut g.principal_email, p.lenient()?),
                        "principalSubject" => put(&mut g.principal_subject, p.lenient()?),
                        "serviceAccountDelegationInfo" => p.delegation_list(&mut g.delegation)?,
                        _ => p.skip_value()?,
                    }
                    Ok(())
                })?,
                "requestMetadata" => p.one_key("callerIp", &mut g.caller_ip)?,
                "status" => p.one_key("code", &mut g.status_code)?,
                "metadata" => p.seed(|p, k| match &*k {
                    "instanceMetadataDelta" | "projectMetadataDelta" => p.seed(|p, k| {
                        match &*k {
                            "addedMetadataKeys" | "modifiedMetadataKeys" => {
                                p.string_list(&mut g.keys_set)?
                            }
                            "deletedMetadataKeys" => p.string_list(&mut g.keys_deleted)?,
                            _ => p.skip_value()?,
                        }
                        Ok(())
                    }),
                    _ => p.skip_value(),
                })?,
                "request" => p.seed(|p, k| {
                    match &*k {
                        "Metadata Keys Added" | "Metadata Keys Modified" => {
                            p.string_list(&mut g.keys_set)?
                        }
                        "Metadata Keys Deleted" => p.string_list(&mut g.keys_deleted)?,
                        _ => p.skip_value()?,
                    }
                    Ok(())
                })?,
                _ => p.skip_value()?,
            }
            Ok(())
        })
    }

    /// `serviceAccountDelegationInfo` (`DelegationListSeed`).
    fn delegation_list(&mut self, out: &mut Vec<Cow<'a, str>>) -> R<()> {
        match self.any()? {
            Tok::Arr => self.array(|p| {
                let (mut email, mut subject): (S<'a>, S<'a>) = (None, None);
                p.seed(|p, k| {
                    match &*k {
                        "firstPartyPrincipal" => p.one_key("principalEmail", &mut email)?,
                        "principalSubject" => put(&mut subject, p.lenient()?),
                        _ => p.skip_value()?,
                    }
                    Ok(())
                })?;
                if let Some(x) = email.or(subject) {
                    out.push(x);
                }
                Ok(())
            }),
            t => self.finish_ignored(t),
        }
    }

    /// A nested object with one interesting key, stored into `slot`.
    fn one_key(&mut self, key: &str, slot: &mut S<'a>) -> R<()> {
        self.seed(|p, k| {
            if k == key {
                put(slot, p.lenient()?);
                Ok(())
            } else {
                p.skip_value()
            }
        })
    }
}

/// One key of the top-level object (the serde `top_field` table); `nested` inside a
/// Pub/Sub message's `data` object.
fn top_key<'a>(p: &mut P<'a>, ev: &mut RawEvent<'a>, key: &str, nested: bool) -> R<()> {
    match key {
        "operationName" | "OperationNameValue" => put(&mut ev.operation, p.str_or_value()?),
        "status" => put(&mut ev.status, p.str_or_value()?),
        "resultType" => put(&mut ev.result_type, p.lenient()?),
        "ActivityStatusValue" => put(&mut ev.activity_status, p.lenient()?),
        "resultSignature" => put(&mut ev.result_signature, p.lenient()?),
        "subStatus" | "ActivitySubstatusValue" => put(&mut ev.sub_status, p.str_or_value()?),
        "caller" | "Caller" => put(&mut ev.caller, p.lenient()?),
        "claims" => p.claims(&mut ev.claims)?,
        "identity" => p.identity(ev)?,
        "properties" => p.one_key("principalOid", &mut ev.principal_oid)?,
        "authorization" => p.one_key("scope", &mut ev.scope)?,
        "httpRequest" => p.one_key("clientIpAddress", &mut ev.http_client_ip)?,
        "callerIpAddress" | "CallerIpAddress" => put(&mut ev.caller_ip, p.lenient()?),
        "resourceId" | "ResourceId" => put(&mut ev.resource_id, p.lenient()?),
        "resourceUri" => put(&mut ev.resource_uri, p.lenient()?),
        "resourceGroupName" | "resourceGroup" | "ResourceGroup" => {
            put(&mut ev.resource_group, p.lenient()?)
        }
        "subscriptionId" | "SubscriptionId" => put(&mut ev.subscription_id, p.lenient()?),
        "tenantId" | "TenantId" => put(&mut ev.tenant_id, p.lenient()?),
        "correlationId" | "CorrelationId" => put(&mut ev.correlation_id, p.lenient()?),
        "eventTimestamp" => put(&mut ev.event_timestamp, p.lenient()?),
        "time" | "TimeGenerated" => put(&mut ev.time, p.lenient()?),
        "eventTime" => put(&mut ev.event_time, p.lenient()?),
        "eventSource" => put(&mut ev.event_source, p.str_or_value()?),
        "eventName" => put(&mut ev.event_name, p.str_or_value()?),
        "userIdentity" => {
            p.user_identity(&mut ev.user_identity)?;
            ev.user_identity_complete = true;
        }
        "requestParameters" => p.request_parameters(ev)?,
        "sourceIPAddress" => put(&mut ev.source_ip, p.lenient()?),
        "errorCode" => put(&mut ev.error_code, p.lenient()?),
        "recipientAccountId" => put(&mut ev.recipient_account_id, p.lenient()?),
        "awsRegion" => put(&mut ev.region, p.lenient()?),
        "requestID" => put(&mut ev.request_id, p.lenient()?),
        "eventID" => put(&mut ev.event_id, p.lenient()?),
        "records" | "Records" => {
            ev.records_wrapper = true;
            p.skip_value()?
        }
        "protoPayload" => {
            p.proto_payload(&mut ev.gcp)?;
            ev.gcp.payload_complete = true;
        }
        "logName" => put(&mut ev.gcp.log_name, p.lenient()?),
        "insertId" => put(&mut ev.gcp.insert_id, p.lenient()?),
        "severity" => put(&mut ev.gcp.severity, p.lenient()?),
        "timestamp" => put(&mut ev.gcp.timestamp, p.lenient()?),
        "receiveTimestamp" => put(&mut ev.gcp.receive_timestamp, p.lenient()?),
        "resource" => {
            let g = &mut ev.gcp;
            p.seed(|p, k| match &*k {
                "labels" => p.seed(|p, k| {
                    match &*k {
                        "project_id" => put(&mut g.project_label, p.lenient()?),
                        "zone" => put(&mut g.zone_label, p.lenient()?),
                        _ => p.skip_value()?,
                    }
                    Ok(())
                }),
                _ => p.skip_value(),
            })?
        }
        "operation" => {
            let g = &mut ev.gcp;
            p.seed(|p, k| {
                match &*k {
                    "id" => put(&mut g.operation_id, p.lenient()?),
                    "first" => put(&mut g.operation_first, p.lenient()?),
                    "last" => put(&mut g.operation_last, p.lenient()?),
                    _ => p.skip_value()?,
                }
                Ok(())
            })?;
            g.operation_complete = true;
        }
        // A Pub/Sub message (`PubSubDataSeed`): the LogEntry as an object (one level of
        // wrapping), or a base64 string.
        "data" if !nested => match p.any()? {
            Tok::Obj => {
                // `records` is marked as soon as its key is read, as at the top level.
                let mut wrapper = false;
                let res = p.object_pre(
                    |k| wrapper |= k == "records" || k == "Records",
                    |p, k| top_key(p, ev, &k, true),
                );
                ev.records_wrapper |= wrapper;
                res?
            }
            Tok::Str(v) => put(&mut ev.gcp.pubsub_data, Some(v)),
            t => p.finish_ignored(t)?,
        },
        _ => p.skip_value()?,
    }
    Ok(())
}
