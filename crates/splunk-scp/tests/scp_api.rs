//! The library surface of issue 15: getinfo setters, early finish, inspector metrics, the
//! map/reduce helper with declared options, `CommandError` as a `std::error::Error`.

mod scp_emulator;

use scp_emulator::{execute, getinfo, getinfo_with, run_command};
use splunk_scp::mapreduce::Phase;
use splunk_scp::{
    Args, Command, CommandError, CommandInfo, CommandType, GetInfo, MapReduce, OptionSet,
    OptionSpec, OptionValues, Output, RecordBatch, Reporting, RunOutcome, Runtime,
};

/// Streaming; stops after `stop_after` rows (early finish) and reports a metric per chunk.
#[derive(Default)]
struct Head {
    left: usize,
    finished: bool,
}

impl Command for Head {
    fn getinfo(&mut self, _: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        let mut o = args.checker();
        self.left = o.parse("limit", "a number")?.unwrap_or(2);
        o.finish()?;
        Ok(CommandInfo::new(CommandType::Stateful)
            .maxwait(30)
            .run_in_preview(false))
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        for row in batch.rows().take(self.left) {
            out.passthrough(&row);
        }
        self.left = self.left.saturating_sub(batch.len());
        out.metric("head", serde_json::json!([0.5, 1, batch.len(), 2]));
        if self.left == 0 {
            out.finish_early();
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        self.finished = true;
        out.info("head done");
        Ok(())
    }
}

#[test]
fn getinfo_setters_early_finish_and_metrics() {
    let mut cmd = Head::default();
    let s = run_command(
        &Runtime::new(),
        &mut cmd,
        &[
            getinfo(&["limit=3"]),
            execute(false, "x\na\nb\n"),
            execute(false, "x\nc\nd\n"),
            execute(false, "x\ne\n"),
            execute(true, "x\n"),
        ],
    );
    assert_eq!(s.outcome, RunOutcome::Completed, "{}", s.log);
    assert_eq!(
        s.replies[0].raw_meta,
        r#"{"type":"stateful","maxwait":30,"run_in_preview":false}"#
    );
    let e = s.executes();
    assert_eq!(e[0].finished(), Some(false));
    assert_eq!(
        e[0].raw_meta,
        r#"{"finished":false,"inspector":{"metric.head":[0.5,1,2,2]}}"#
    );
    // The chunk that reached the limit: its rows, finish's message, finished:true.
    assert_eq!(e[1].finished(), Some(true));
    assert_eq!(e[1].records().len(), 1);
    assert_eq!(
        e[1].messages(),
        [("INFO".to_owned(), "head done".to_owned())]
    );
    assert!(cmd.finished);
    // Requests after the early finish get empty finished:true replies.
    for r in &e[2..] {
        assert_eq!((r.finished(), r.body.len()), (Some(true), 0));
    }
}

#[test]
fn command_error_is_a_std_error() {
    fn takes(_: &dyn std::error::Error) {}
    let e = CommandError::new("x");
    takes(&e);
    let from_io: CommandError = std::io::Error::other("disk").into();
    assert_eq!(from_io.message(), "disk");
    let parsed: Result<u8, CommandError> = "300".parse::<u8>().map_err(Into::into);
    assert!(parsed.unwrap_err().message().contains("too large"));
}

/// `| avg field=<f> [scale=<n>]`: mean of a field, map phase summing and counting.
struct Avg {
    field: String,
    scale: f64,
    sum: f64,
    n: u64,
}

impl Reporting for Avg {
    const NAME: &'static str = "avg";

    fn options() -> OptionSet {
        OptionSet::new([
            OptionSpec::fieldname("field")
                .required()
                .help("Field to average"),
            OptionSpec::float("scale").default("1").help("Multiplier"),
        ])
        .no_fields()
    }

    fn new(o: &OptionValues, _: Phase, _: &GetInfo) -> Result<Self, CommandError> {
        Ok(Avg {
            field: o.str("field").unwrap_or_default().to_owned(),
            scale: o.float("scale").unwrap_or(1.0),
            sum: 0.0,
            n: 0,
        })
    }

    fn required_fields(&self) -> Option<Vec<String>> {
        Some(vec![self.field.clone(), "n".into()])
    }

    fn map(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        let (mut s, mut n) = (0.0, 0u64);
        for row in batch.rows() {
            if let Some(v) = row.str(&self.field).and_then(|v| v.parse::<f64>().ok()) {
                s += v;
                n += 1;
            }
        }
        out.record().set(&self.field, s).set("n", n);
        Ok(())
    }

    fn reduce(&mut self, batch: &RecordBatch) -> Result<(), CommandError> {
        for row in batch.rows() {
            let v: f64 = row
                .str(&self.field)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            // Map outputs carry `n`; raw events (map skipped) count 1 each.
            let n: u64 = row.str("n").and_then(|v| v.parse().ok()).unwrap_or(1);
            self.sum += v;
            self.n += n;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        out.record()
            .set("avg", self.scale * self.sum / self.n.max(1) as f64);
        Ok(())
    }
}

#[test]
fn map_reduce_helper_builds_the_preop_and_dispatches_the_map_phase() {
    let rt = Runtime::new();
    // Reduce invocation: the preop names the given options, JSON-quoted.
    let s = run_command(
        &rt,
        &mut MapReduce::<Avg>::default(),
        &[getinfo(&["field=x", "scale=2"])],
    );
    assert_eq!(
        s.replies[0].raw_meta,
        r#"{"type":"reporting","required_fields":["x","n"],"streaming_preop":"cmd phase=\"map\" field=\"x\" scale=\"2\""}"#
    );
    // Map invocation (splunkd runs the preop; `_chunked_idx` in the input is fine: the
    // partial aggregates are not derived from single rows).
    let s = run_command(
        &rt,
        &mut MapReduce::<Avg>::default(),
        &[
            getinfo(&["phase=map", "field=x", "scale=2"]),
            execute(false, "x,_chunked_idx\n1,0\n2,1\n"),
            execute(true, "x,_chunked_idx\n6,0\n"),
        ],
    );
    assert_eq!(s.replies[0].raw_meta, r#"{"type":"streaming"}"#);
    let partial: Vec<(Option<String>, Option<String>)> = s
        .executes()
        .iter()
        .map(|r| (r.field(0, "x"), r.field(0, "n")))
        .collect();
    assert_eq!(
        partial,
        [
            (Some("3".into()), Some("2".into())),
            (Some("6".into()), Some("1".into()))
        ]
    );
    // Reduce over the map outputs, in two chunks: one answer at the end.
    let s = run_command(
        &rt,
        &mut MapReduce::<Avg>::default(),
        &[
            getinfo_with(&["field=x", "scale=2"], 10),
            execute(false, "x,n\n3,2\n"),
            execute(true, "x,n\n6,1\n"),
        ],
    );
    assert_eq!(s.executes()[0].body.len(), 0);
    assert_eq!(s.executes()[1].field(0, "avg").as_deref(), Some("6"));
    // Declared validation and help.
    let s = run_command(
        &rt,
        &mut MapReduce::<Avg>::default(),
        &[getinfo(&["field=x", "scale=big"])],
    );
    assert_eq!(
        s.replies[0].error(),
        Some("Invalid value for scale: \"big\" (expected a number)")
    );
    let s = run_command(
        &rt,
        &mut MapReduce::<Avg>::default(),
        &[getinfo(&["field=x", "y"])],
    );
    assert!(s.replies[0].error().unwrap().contains("no field names"));
    let set = MapReduce::<Avg>::options();
    assert_eq!(
        set.syntax("avg"),
        "avg (phase=(map|reduce))? field=<field> (scale=<num>)?"
    );
    assert_eq!(set.help()[1], "field=<field> (required): Field to average");
}
