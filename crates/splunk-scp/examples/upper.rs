//! `upper`: the 30-line command of the crate's README (kept identical to it).

use splunk_scp::{
    run, Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch,
};
use std::process::ExitCode;

/// `| upper field=<name>`: upper-cases one field of every event (streaming, distributable).
#[derive(Default)]
struct Upper {
    field: String,
}

impl Command for Upper {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut opts = args.checker();
        self.field = opts.required("field")?.to_owned();
        opts.finish()?; // unknown options: "Unrecognized option: x=1 (valid options: field)"
        Ok(CommandInfo::new(CommandType::Streaming).required_fields([self.field.as_str()]))
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        for row in batch.rows() {
            let up = row.str(&self.field).unwrap_or("").to_uppercase();
            out.passthrough(&row).set(&self.field, up.as_str()); // keeps _chunked_idx
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    run(Upper::default())
}
