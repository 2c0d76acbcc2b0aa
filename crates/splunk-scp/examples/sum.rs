//! `sum`: the Splunk SDK's reporting example (`examples/searchcommands_app/.../sum.py`), on
//! the map/reduce helper.
//!
//! `| sum total=<field> <field>...`: the map phase (`phase=map`, run by splunkd from the
//! `streaming_preop` the helper announces) sums the named fields of each chunk into
//! `<total>`; the reduce phase sums those partial `<total>`s (or the raw events' `<total>`
//! when splunkd skipped the map) and emits one record. Values that are not numbers are
//! skipped and counted in a WARN message. Sums print as Python's `repr(float)`, so replies
//! match the SDK's recordings.

use std::process::ExitCode;

use splunk_scp::mapreduce::Phase;
use splunk_scp::{
    run_reporting, CommandError, GetInfo, OptionSet, OptionSpec, OptionValues, Output, PyFloat,
    RecordBatch, Reporting,
};

struct Sum {
    total: String,
    fields: Vec<String>,
    sum: f64,
    skipped: u64,
}

/// Adds the numeric values of `fields` in `batch` to `sum` (in row order, so the reduce
/// phase gives the same float whatever the chunking); returns how many were not numbers.
fn add(batch: &RecordBatch, fields: &[String], sum: &mut f64) -> u64 {
    let mut skipped = 0;
    for f in fields {
        for row in batch.rows() {
            match row.str(f).and_then(|v| v.trim().parse::<f64>().ok()) {
                Some(v) => *sum += v,
                None => skipped += 1,
            }
        }
    }
    skipped
}

impl Sum {
    fn warn_skipped(&mut self, out: &mut Output) {
        if self.skipped > 0 {
            out.warn(format!(
                "sum: skipped {} value(s) that are not numbers",
                self.skipped
            ));
            self.skipped = 0;
        }
    }
}

impl Reporting for Sum {
    const NAME: &'static str = "sum";

    fn options() -> OptionSet {
        OptionSet::new([OptionSpec::fieldname("total")
            .required()
            .help("The name of the field that will hold the computed sum")])
    }

    fn new(o: &OptionValues, _: Phase, _: &GetInfo) -> Result<Self, CommandError> {
        let total = o.str("total").unwrap_or("total").to_owned();
        Ok(Sum {
            total,
            fields: o.fields().to_vec(),
            sum: 0.0,
            skipped: 0,
        })
    }

    fn map(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        let mut partial = 0.0;
        self.skipped += add(batch, &self.fields, &mut partial);
        out.record().set(&self.total, PyFloat(partial));
        self.warn_skipped(out);
        Ok(())
    }

    fn reduce(&mut self, batch: &RecordBatch) -> Result<(), CommandError> {
        self.skipped += add(batch, std::slice::from_ref(&self.total), &mut self.sum);
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        out.record().set(&self.total, PyFloat(self.sum));
        self.warn_skipped(out);
        Ok(())
    }
}

fn main() -> ExitCode {
    run_reporting::<Sum>()
}
