//! Timestamps: parsing the forms audit records use, and formatting output columns.
//!
//! Times are `i64` microseconds since the Unix epoch (UTC) everywhere in the engine:
//! lossless for Splunk's `_time` (µs precision) and cheap to compare and merge.
//! Hand-written rather than via a date crate because this runs once per event on the hot
//! path and must accept the loose variants seen in real data (7 or 9 fractional digits,
//! a space instead of `T`, no zone meaning UTC) without allocating.

/// Microseconds per second.
pub const MICROS: i64 = 1_000_000;

/// Parse an ISO-8601 / RFC 3339 timestamp: `YYYY-MM-DD[T ]hh:mm:ss[.f…][Z|±hh:mm|±hhmm]`.
/// A missing zone means UTC. Returns `None` for anything else (never panics).
pub fn parse_iso(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let start = i;
        let mut scale = 100_000i64;
        while i < b.len() && b[i].is_ascii_digit() {
            micros += i64::from(b[i] - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs = match &b[i..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let digits: Vec<u8> = rest.iter().copied().filter(|c| *c != b':').collect();
            if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let hh = i64::from(digits[0] - b'0') * 10 + i64::from(digits[1] - b'0');
            let mm = i64::from(digits[2] - b'0') * 10 + i64::from(digits[3] - b'0');
            let off = hh * 3600 + mm * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Some(secs * MICROS + micros)
}

/// Parse Splunk's `_time`: decimal epoch seconds (`1700000000` or `1700000000.123456`).
pub fn parse_epoch(s: &str) -> Option<i64> {
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let neg = int.starts_with('-');
    let digits = int.strip_prefix('-').unwrap_or(int);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = digits.parse().ok()?;
    let mut micros = 0i64;
    let mut scale = 100_000i64;
    for c in frac.bytes().take(6) {
        micros += i64::from(c - b'0') * scale;
        scale /= 10;
    }
    let v = secs * MICROS + micros;
    Some(if neg { -v } else { v })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDThh:mm:ssZ` (whole seconds, UTC), the reference SPL's `event_time` format.
pub fn format_iso(micros: i64) -> String {
    let mut s = String::with_capacity(20);
    push_iso(&mut s, micros);
    s
}

/// Appends [`format_iso`]'s text.
pub fn push_iso(out: &mut String, micros: i64) {
    let secs = micros.div_euclid(MICROS);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        );
        return;
    }
    // Summary rows carry three of these: digits by hand (`format!` with widths cost about
    // 3,000 instructions each).
    let two = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    let (c, yy) = (y / 100, y % 100);
    let mut b = [0u8; 20];
    b[..2].copy_from_slice(&two(c));
    b[2..4].copy_from_slice(&two(yy));
    b[4] = b'-';
    b[5..7].copy_from_slice(&two(m));
    b[7] = b'-';
    b[8..10].copy_from_slice(&two(d));
    b[10] = b'T';
    b[11..13].copy_from_slice(&two(rem / 3600));
    b[13] = b':';
    b[14..16].copy_from_slice(&two((rem / 60) % 60));
    b[16] = b':';
    b[17..19].copy_from_slice(&two(rem % 60));
    b[19] = b'Z';
    push_ascii(out, &b);
}

/// Decimal epoch seconds with the fraction trimmed (`1700000000`, `1700000000.25`),
/// the form Splunk uses for `_time`.
pub fn format_epoch(micros: i64) -> String {
    let mut out = String::with_capacity(28);
    push_epoch(&mut out, micros);
    out
}

/// Appends [`format_epoch`]'s text.
pub fn push_epoch(out: &mut String, micros: i64) {
    // Sign and magnitude separately: `-0.5` is `-0.5`, not floor seconds plus a positive
    // fraction (`-1` and `.5`).
    let abs = micros.unsigned_abs();
    let secs = abs / MICROS as u64;
    let mut frac = abs % MICROS as u64;
    if micros < 0 {
        out.push('-');
    }
    push_decimal(out, secs);
    if frac != 0 {
        out.push('.');
        let mut digits = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let mut b = [b'0'; 6];
        for slot in b[..digits].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        push_ascii(out, &b[..digits]);
    }
}

/// Appends `v` in decimal.
pub fn push_decimal(out: &mut String, mut v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    push_ascii(out, &b[i..]);
}

/// Appends the digits and signs the formatters made, in one copy (`extend` with one `char`
/// at a time checked the capacity and encoded each of them).
fn push_ascii(out: &mut String, b: &[u8]) {
    out.push_str(std::str::from_utf8(b).expect("ASCII digits and signs"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written formatters against the `format!` ones they replaced.
    #[test]
    fn formatters_match_their_reference() {
        fn iso_ref(micros: i64) -> String {
            let secs = micros.div_euclid(MICROS);
            let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                (rem / 60) % 60,
                rem % 60
            )
        }
        fn epoch_ref(micros: i64) -> String {
            let sign = if micros < 0 { "-" } else { "" };
            let abs = micros.unsigned_abs();
            let (secs, frac) = (abs / MICROS as u64, abs % MICROS as u64);
            if frac == 0 {
                format!("{sign}{secs}")
            } else {
                let f = format!("{frac:06}");
                format!("{sign}{secs}.{}", f.trim_end_matches('0'))
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut cases = vec![
            0,
            1,
            -1,
            10,
            999_999,
            -999_999,
            1_000_000,
            -1_500_000,
            i64::MIN,
            i64::MAX,
        ];
        cases.extend([
            -62_135_596_800 * MICROS,
            253_402_300_799 * MICROS,
            253_402_300_800 * MICROS,
        ]);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x as i64);
            cases.push((x % 400_000_000_000_000_000) as i64 - 100_000_000_000_000_000);
            cases.push(((x % 4_000_000_000) as i64) * MICROS + (x % 7) as i64 * 250_000);
        }
        for m in cases {
            assert_eq!(format_iso(m), iso_ref(m), "{m}");
            assert_eq!(format_epoch(m), epoch_ref(m), "{m}");
        }
    }

    #[test]
    fn iso_variants() {
        let base = 1_654_083_575 * MICROS; // 2022-06-01T11:39:35Z
        assert_eq!(parse_iso("2022-06-01T11:39:35Z"), Some(base));
        assert_eq!(
            parse_iso("2022-06-01T11:39:35.6986539Z"),
            Some(base + 698_653)
        );
        assert_eq!(parse_iso("2022-06-01 11:39:35.000000000"), Some(base));
        assert_eq!(parse_iso("2022-06-01T11:39:35"), Some(base));
        assert_eq!(parse_iso("2022-06-01T13:39:35+02:00"), Some(base));
        assert_eq!(parse_iso("2022-06-01T10:39:35-0100"), Some(base));
        for bad in [
            "",
            "2022-06-01",
            "2022-13-01T00:00:00Z",
            "2022-06-01T11:39:35.Z",
            "2022-06-01T11:39:35Q",
            "x022-06-01T11:39:35Z",
            "2022-06-01T11:39:35+2",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_and_format_roundtrip() {
        assert_eq!(parse_epoch("1700000000"), Some(1_700_000_000 * MICROS));
        assert_eq!(
            parse_epoch("1700000000.123456789"),
            Some(1_700_000_000 * MICROS + 123_456)
        );
        assert_eq!(parse_epoch("abc"), None);
        assert_eq!(parse_epoch("1.2.3"), None);
        assert_eq!(
            format_epoch(1_700_000_000 * MICROS + 250_000),
            "1700000000.25"
        );
        assert_eq!(format_epoch(1_700_000_000 * MICROS), "1700000000");
        assert_eq!(
            format_iso(1_654_083_575 * MICROS + 999_999),
            "2022-06-01T11:39:35Z"
        );
        assert_eq!(format_iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59Z");
        for secs in [0i64, 951_782_400, 4_102_444_800, 1_709_164_800] {
            let s = format_iso(secs * MICROS);
            assert_eq!(parse_iso(&s), Some(secs * MICROS), "{s}");
        }
    }
}
