//! Cron expressions as Splunk's scheduler accepts them (five fields: minute, hour, day of
//! month, month, day of week; `*`, `a`, `a-b`, `*/n`, `a-b/n`, comma lists). Used to check
//! that every schedule is valid and runs at most 12 times an hour (AppInspect's limit).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CronError {
    #[error("cron {0:?}: expected 5 fields")]
    FieldCount(String),
    #[error("cron field {field:?}: {why}")]
    Field { field: String, why: String },
}

/// The sorted values in `lo..=hi` that one field matches.
fn field(text: &str, lo: u32, hi: u32) -> Result<Vec<u32>, CronError> {
    let err = |why: &str| CronError::Field {
        field: text.into(),
        why: why.into(),
    };
    let num = |s: &str| -> Result<u32, CronError> {
        let v: u32 = s.parse().map_err(|_| err("not a number"))?;
        if v < lo || v > hi {
            return Err(err(&format!("{v} outside {lo}-{hi}")));
        }
        Ok(v)
    };
    let mut values = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s.parse().map_err(|_| err("bad step"))?;
                if s == 0 {
                    return Err(err("step 0"));
                }
                (r, s)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(err("descending range"));
            }
            (a, b)
        } else {
            let a = num(range)?;
            // `a/n` means a, a+n, ... up to the field's maximum.
            (a, if step > 1 { hi } else { a })
        };
        values.extend((a..=b).step_by(step as usize));
    }
    values.sort_unstable();
    values.dedup();
    Ok(values)
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub minutes: Vec<u32>,
    pub hours: Vec<u32>,
}

impl Cron {
    /// Most runs in any one clock hour.
    pub fn max_runs_per_hour(&self) -> usize {
        self.minutes.len()
    }
}

pub fn parse(expr: &str) -> Result<Cron, CronError> {
    let f: Vec<&str> = expr.split_whitespace().collect();
    if f.len() != 5 {
        return Err(CronError::FieldCount(expr.into()));
    }
    let minutes = field(f[0], 0, 59)?;
    let hours = field(f[1], 0, 23)?;
    field(f[2], 1, 31)?;
    field(f[3], 1, 12)?;
    field(f[4], 0, 7)?;
    Ok(Cron { minutes, hours })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_runs_per_hour() {
        assert_eq!(parse("*/15 * * * *").unwrap().max_runs_per_hour(), 4);
        assert_eq!(parse("5,35 * * * *").unwrap().max_runs_per_hour(), 2);
        assert_eq!(parse("17 2 * * *").unwrap().hours, vec![2]);
        assert_eq!(parse("* * * * *").unwrap().max_runs_per_hour(), 60);
        assert_eq!(
            parse("0-10/5 1-3 * 1,6 0-6").unwrap().minutes,
            vec![0, 5, 10]
        );
        assert_eq!(parse("3/20 * * * *").unwrap().minutes, vec![3, 23, 43]);
    }

    #[test]
    fn rejects_invalid_expressions() {
        assert!(matches!(parse("* * * *"), Err(CronError::FieldCount(_))));
        assert!(parse("60 * * * *").is_err());
        assert!(parse("*/0 * * * *").is_err());
        assert!(parse("5-1 * * * *").is_err());
        assert!(parse("* 24 * * *").is_err());
        assert!(parse("* * 0 * *").is_err());
        assert!(parse("x * * * *").is_err());
    }
}
