//! `sum`: the Splunk SDK's reporting example, on the SCP v2 runtime.
//!
//! `| sum [total=<field>] <field>...` (`total` defaults to `total` outside the map phase)
//! * reduce (no `phase`): `type=reporting` with the map phase announced as
//!   `streaming_preop = sum phase="map" total="<total>" <fields>`; sums the `<total>` field of
//!   its input (the map outputs, or raw events if splunkd skipped the map) and emits one record
//!   `<total>=<sum>` on the final reply.
//! * map (`phase=map`): `type=streaming`; for each chunk emits the partial sum of the
//!   positional fields as `<total>=<partial>`.
//!
//! Values that are not numbers are skipped (counted in a WARN message).
//! Sums print like Python's `repr(float)` so replies match the SDK's recordings.

use std::process::ExitCode;

use splunk_scp::{
    run, Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch,
};

#[derive(Default)]
struct Sum {
    map: bool,
    total: String,
    fields: Vec<String>,
    sum: f64,
    skipped: u64,
}

impl Command for Sum {
    fn getinfo(&mut self, info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut opts = args.checker();
        self.map = opts.choice("phase", &["map", "reduce"])? == Some("map");
        // The map phase is only ever started through our own streaming_preop, which always
        // names the field, so there it is required. In the reduce phase it defaults to
        // `total` (the SDK requires it; the default lets the command run bare, e.g. over the
        // argument-less 8.0.3 multibyte recording).
        self.total = if self.map {
            opts.required("total")?
        } else {
            opts.get("total")?.unwrap_or("total")
        }
        .to_owned();
        opts.finish()?;
        self.fields = args.positional().to_vec();
        if self.map {
            if self.fields.is_empty() {
                return Err(CommandError::new(
                    "sum phase=map needs at least one field name to sum",
                ));
            }
            return Ok(CommandInfo::new(CommandType::Streaming));
        }
        let name = info.searchinfo.command.as_deref().unwrap_or("sum");
        let mut preop = format!(
            "{name} phase=\"map\" total={}",
            serde_json::to_string(&self.total)?
        );
        for f in &self.fields {
            preop.push(' ');
            preop.push_str(f);
        }
        Ok(CommandInfo::new(CommandType::Reporting).streaming_preop(preop))
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        let fields: Vec<&str> = if self.map {
            self.fields.iter().map(String::as_str).collect()
        } else {
            vec![self.total.as_str()]
        };
        let mut partial = 0.0f64;
        for f in fields {
            let Some(col) = batch.column(f) else {
                self.skipped += batch.len() as u64;
                continue;
            };
            for row in batch.rows() {
                match parse_python_float(row.get_id(col).as_str()) {
                    Some(v) => partial += v,
                    None => self.skipped += 1,
                }
            }
        }
        if self.map {
            out.record().set(&self.total, python_float_repr(partial));
        } else {
            self.sum += partial;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        if !self.map {
            out.record().set(&self.total, python_float_repr(self.sum));
        }
        if self.skipped > 0 {
            out.warn(format!(
                "sum: skipped {} value(s) that are missing or not numbers",
                self.skipped
            ));
        }
        Ok(())
    }
}

/// Python's `float(str)` for the forms splunkd sends (surrounding whitespace allowed).
fn parse_python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Python 3 `repr(float)`: shortest round-trip digits; fixed notation for decimal exponents in
/// -4..16, scientific (`1e+16`, `1.5e-05`) otherwise; integral values keep `.0`.
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
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
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
        format!(
            "{sign}{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

fn main() -> ExitCode {
    run(Sum::default())
}

#[cfg(test)]
mod tests {
    use super::python_float_repr as r;

    #[test]
    fn python_repr() {
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
}
