//! `generatehello`: the Splunk SDK's generating example, on the SCP v2 runtime.
//!
//! `| generatehello [count=<N>]` (default 1) emits N records `_time=<now>`, `event_no=<i>`,
//! `_raw="Hello World <i>"` for i = 1..=N, paged at `maxresultrows` per reply.
//! getinfo reply: `{"generating":true,"type":"stateful"}`.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use splunk_scp::{
    run_generator, Args, CommandError, CommandInfo, CommandType, Generator, GetInfo, Output,
    Progress,
};

#[derive(Default)]
struct GenerateHello {
    count: u64,
    next: u64,
}

impl Generator for GenerateHello {
    fn getinfo(&mut self, _info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut opts = args.checker();
        // The SDK requires `count`; defaulting to 1 lets the command run bare (e.g. over the
        // argument-less 8.0.3 multibyte recording).
        self.count = opts
            .parse::<u64>("count", "a non-negative integer")?
            .unwrap_or(1);
        opts.finish()?;
        if let Some(p) = args.positional().first() {
            return Err(CommandError::new(format!(
                "generatehello takes no field names, got {p:?}"
            )));
        }
        self.next = 1;
        Ok(CommandInfo::new(CommandType::Stateful))
    }

    fn generate(&mut self, out: &mut Output, max_rows: usize) -> Result<Progress, CommandError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let mut raw = String::new();
        let mut emitted = 0usize;
        while self.next <= self.count && emitted < max_rows {
            raw.clear();
            raw.push_str("Hello World ");
            raw.push_str(&self.next.to_string());
            out.record()
                .set("_time", now)
                .set("event_no", self.next)
                .set("_raw", raw.as_str());
            self.next += 1;
            emitted += 1;
        }
        Ok(if self.next > self.count {
            Progress::Done
        } else {
            Progress::More
        })
    }
}

fn main() -> ExitCode {
    run_generator(GenerateHello::default())
}
