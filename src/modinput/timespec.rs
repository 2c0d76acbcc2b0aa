//! Parsing of `start_from` (relative `-24h` / `-7d` or ISO-8601) and `overlap` (`15m`, `900`).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// A point to start collecting from when a stanza has no checkpoint yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// This long before the run starts.
    Ago(Duration),
    /// A fixed instant.
    At(DateTime<Utc>),
}

impl StartFrom {
    /// The instant this resolves to for a run that starts at `now`.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            StartFrom::Ago(d) => now - d,
            StartFrom::At(t) => t,
        }
    }
}

/// Parse a span such as `15m`, `24h`, `7d`, `30s`, `2w` or bare seconds `900`.
/// Returns a message that says what is expected on failure.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let expected =
        "expected a number of seconds or a number followed by s, m, h, d or w (e.g. 15m, 24h, 7d)";
    if t.is_empty() {
        return Err(format!("empty value; {expected}"));
    }
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{t}` is not a valid span; {expected}"))?;
    let secs_per = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hr" | "hrs" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return Err(format!("`{t}` has an unknown unit `{unit}`; {expected}")),
    };
    // Anything past ten years is a typo; it would also overflow chrono's arithmetic sooner or later.
    if n > 10 * 366 * 86_400 / secs_per {
        return Err(format!("`{t}` is too large; {expected}"));
    }
    Ok(Duration::seconds(n * secs_per))
}

/// Parse `start_from`: `-24h` / `-7d` / `24h` (all mean "that long ago") or an ISO-8601 instant
/// (`2024-05-01T00:00:00Z`, `2024-05-01T00:00:00+02:00`, `2024-05-01T00:00:00` = UTC, `2024-05-01`).
pub fn parse_start_from(text: &str) -> Result<StartFrom, String> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(StartFrom::At(dt.with_timezone(&Utc)));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(StartFrom::At(n.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(n) = d.and_hms_opt(0, 0, 0) {
            return Ok(StartFrom::At(n.and_utc()));
        }
    }
    let rel = t.strip_prefix('-').unwrap_or(t);
    match parse_span(rel) {
        Ok(d) => Ok(StartFrom::Ago(d)),
        Err(_) => Err(format!(
            "`{t}` is neither a relative time (-24h, -7d, -90m) nor an ISO-8601 time (2024-05-01T00:00:00Z)"
        )),
    }
}

/// Format an instant the way both cloud APIs accept it: `2024-05-01T00:00:00.000Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parse an API timestamp (RFC 3339, any number of fractional digits, e.g. Azure's 7).
pub fn parse_api_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(parse_span("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_span("900").unwrap(), Duration::seconds(900));
        assert_eq!(parse_span("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_span("0").unwrap(), Duration::zero());
        assert!(parse_span("15 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_span("").is_err());
        assert!(parse_span("-5m").is_err());
        assert!(parse_span("99999999999d").is_err());
    }

    #[test]
    fn start_from_forms() {
        assert_eq!(
            parse_start_from("-24h").unwrap(),
            StartFrom::Ago(Duration::hours(24))
        );
        assert_eq!(
            parse_start_from("-7d").unwrap(),
            StartFrom::Ago(Duration::days(7))
        );
        let StartFrom::At(t) = parse_start_from("2024-05-01T10:00:00+02:00").unwrap() else {
            panic!("expected an instant")
        };
        assert_eq!(iso(t), "2024-05-01T08:00:00.000Z");
        let StartFrom::At(t) = parse_start_from("2024-05-01").unwrap() else {
            panic!("expected an instant")
        };
        assert_eq!(iso(t), "2024-05-01T00:00:00.000Z");
        assert!(parse_start_from("yesterday").is_err());
    }

    #[test]
    fn api_time_with_seven_fraction_digits() {
        let t = parse_api_time("2024-05-01T08:00:00.1234567Z").unwrap();
        assert_eq!(t.timestamp_subsec_millis(), 123);
    }
}
