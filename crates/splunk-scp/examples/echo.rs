//! `echo`: passes records through, numbering them; any command type.
//!
//! `| echo [type=streaming|stateful|events|reporting] [debug=<bool>]`
//!
//! * `streaming` (default), `stateful`, `events`: every input row goes back with its chunk's
//!   reply, all fields (`_chunked_idx` and multivalues included) plus `echo_n`, its 0-based
//!   position in the whole input;
//! * `reporting`: rows are kept and all sent after splunkd's last request (paged at
//!   `maxresultrows` by the runtime), each with `echo_n` and, on the last one, `echo_total`;
//! * `debug=t` prints `debug: row <n>` with `println!` for every row: the runtime sends it to
//!   stderr (search.log), never into the protocol stream.
//!
//! Used by the randomised-session test (`tests/scp_sessions.rs`) and the stdout-guard test.

use std::process::ExitCode;

use splunk_scp::{
    run, Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch,
};

#[derive(Default)]
struct Echo {
    kind: Option<CommandType>,
    debug: bool,
    n: u64,
    /// Reporting: the rows seen, as (name, values) lists.
    kept: Vec<Vec<(String, Vec<String>)>>,
}

impl Command for Echo {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        let kind = match o.choice("type", &["streaming", "stateful", "events", "reporting"])? {
            Some("stateful") => CommandType::Stateful,
            Some("events") => CommandType::Events,
            Some("reporting") => CommandType::Reporting,
            _ => CommandType::Streaming,
        };
        self.debug = o.flag("debug")?.unwrap_or(false);
        o.finish()?;
        self.kind = Some(kind);
        Ok(CommandInfo::new(kind))
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        for row in batch.rows() {
            if self.debug {
                println!("debug: row {}", self.n);
            }
            if self.kind == Some(CommandType::Reporting) {
                let fields = row
                    .fields()
                    .map(|(name, v)| {
                        (
                            name.to_owned(),
                            v.values().map(|s| s.into_owned()).collect(),
                        )
                    })
                    .collect();
                self.kept.push(fields);
            } else {
                out.passthrough(&row).set("echo_n", self.n);
            }
            self.n += 1;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        let total = self.kept.len();
        for (i, fields) in self.kept.drain(..).enumerate() {
            let mut r = out.record();
            for (name, values) in &fields {
                if name != "_chunked_idx" {
                    r.set_multi(name, values);
                }
            }
            r.set("echo_n", i);
            if i + 1 == total {
                r.set("echo_total", total);
            }
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    run(Echo::default())
}
