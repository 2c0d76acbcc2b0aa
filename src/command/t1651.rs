//! [`T1651Command`]: `| t1651detect [mode=…] [threshold=…] …` as an SCP v2 command.
//!
//! The command only adapts: options are parsed by [`Options::parse`], every row goes to the
//! [`Engine`] through [`BatchFields`], and the engine's [`OutputRow`]s are written to the
//! protocol [`Output`]. All detection semantics live in [`crate::detect`].

use crate::command::fields::{BatchFields, RowFields};
use crate::detect::engine::{Engine, Prepared, Summary};
use crate::detect::fields::required_fields;
use crate::detect::options::{Mode, Options, Phase, OPTION_NAMES};
use crate::detect::row::{OutValue, OutputRow};
use crate::parallel;
use splunk_scp::{
    Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch,
    RecordBuilder, RecordSource,
};

/// How the command runs in this process, decided at getinfo.
enum Role {
    /// Before getinfo (or after a rejected one).
    Unconfigured,
    /// `mode=summary`, reduce side (or no map phase): ingest everything, rows at the end.
    Summary(Engine),
    /// `phase=map`: ingest a chunk, answer it with the partial state of that chunk.
    Map { engine: Engine, opts: Options },
    /// `mode=events`: answer each chunk with its recognised events.
    Events(Engine),
}

/// The `t1651detect` command. Create with [`T1651Command::new`] and hand to
/// [`splunk_scp::run`].
///
/// Protocol roles (chosen from the options at getinfo):
///
/// * **`mode=summary`** (default): `reporting`, with `required_fields` from
///   [`required_fields`] so splunkd extracts and sends only what the normaliser can read
///   (`_raw`, `_time`, the flattened names of every shape, and `t1651_state`). Rows are
///   ingested as they arrive (memory grows with groups and invocations, not events) and the
///   sorted summary is written on the reply to splunkd's last request. With
///   `distributed=true` the reply also carries `streaming_preop` =
///   [`Options::map_phase_command`], and the rows that arrive are then the map phase's
///   `t1651_state` partial rows; the engine merges both kinds, so the result is the same
///   whether or not splunkd runs the map phase.
///
/// * **`phase=map`**: `streaming`, **without** `required_fields`. With `required_fields`,
///   splunkd switches a streaming command to "selected fields" mode: it merges each output
///   row back into the input event with the same `_chunked_idx` (protocol.md §4, §6). The
///   map phase's output rows are partial aggregates that correspond to no input row, so
///   that merge is undefined for them (what splunkd does with rows lacking `_chunked_idx` is
///   unverified, protocol.md §15). Without `required_fields` splunkd sends all fields and
///   takes the output rows as they are, which is how splunklib's own map phases (the SDK's
///   `sum`) run. The price is that indexers send every field of the events to the map
///   process; the map phase reads only what it needs from them.
///   Each chunk is answered with the partial state of that chunk (then the engine starts
///   afresh): splunkd may run distributed streaming commands on many small batches and
///   restart the process between them (protocol.md §14), so nothing is held back waiting for
///   a `finished` that a restarted process would never see. Partial merges are commutative
///   and associative, so per-chunk flushing does not change the result.
///
/// * **`mode=events`**: `stateful`, so splunkd keeps it on the search head (the binary ships
///   for the search head's platform only) and records stay in order, with `required_fields`.
///   Each recognised event is answered with every field splunkd sent plus the normalised
///   columns, keeping `_chunked_idx` so splunkd merges the fields it did not send. (Echoing
///   the sent fields is what splunklib's streaming commands do; whether splunkd would keep
///   sent-but-not-returned fields is unverified.) Events that are not T1651 records get no
///   output row, so splunkd drops them; they are counted in the final WARN.
///
/// Every mode ends with at most one WARN message (the engine's skip/limit summary) on the
/// final reply; the map phase sends its counters to the reduce side instead.
pub struct T1651Command {
    role: Role,
    /// The threads that prepare rows, started at the first batch (not in getinfo-only probe
    /// processes).
    pool: Option<parallel::Pool>,
}

impl Default for T1651Command {
    fn default() -> Self {
        Self::new()
    }
}

impl T1651Command {
    /// A command waiting for its getinfo.
    pub fn new() -> Self {
        T1651Command {
            role: Role::Unconfigured,
            pool: None,
        }
    }

    /// Validates the arguments and chooses the protocol role. Pure: no I/O, no side effects
    /// (splunkd runs getinfo-only probe processes).
    pub fn configure(&mut self, args: &Args) -> Result<CommandInfo, CommandError> {
        if let Some(p) = args.positional().first() {
            // The message wraps the token in '…': a quoted token shows without its quotes.
            let p = p
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(p);
            return Err(CommandError::new(format!(
                "t1651detect takes only name=value options, got '{p}'; valid options are: {}",
                OPTION_NAMES.join(", ")
            )));
        }
        let opts = Options::parse(args.options().iter().map(|(n, v)| (n, v)))
            .map_err(|e| CommandError::new(format!("t1651detect: {e}")))?;
        let info = match (opts.mode, opts.phase) {
            (Mode::Summary, Some(Phase::Map)) => {
                self.role = Role::Map {
                    engine: Engine::new(opts.clone()),
                    opts,
                };
                return Ok(CommandInfo::new(CommandType::Streaming));
            }
            (Mode::Events, _) => {
                CommandInfo::new(CommandType::Stateful).required_fields(required_fields(&opts))
            }
            (Mode::Summary, None) => {
                let info = CommandInfo::new(CommandType::Reporting)
                    .required_fields(required_fields(&opts));
                if opts.wants_map_phase() {
                    info.streaming_preop(opts.map_phase_command())
                } else {
                    info
                }
            }
        };
        let engine = Engine::new(opts);
        self.role = match engine.options().mode {
            Mode::Events => Role::Events(engine),
            Mode::Summary => Role::Summary(engine),
        };
        Ok(info)
    }
}

/// Hands a chunk's rows to `fold` with the engine, in row order, each prepared
/// ([`Engine::prepare`]: the `_raw` scan and normalisation) on up to `threads=` threads (see
/// [`parallel`]), so the result equals handing over the rows themselves one by one.
fn each_prepared<F>(
    engine: &mut Engine,
    pool: &parallel::Pool,
    rows: &[RowFields<'_, '_>],
    mut fold: F,
) where
    F: FnMut(&mut Engine, &mut Prepared<'_>, &RowFields<'_, '_>),
{
    let opts = engine.options().clone();
    pool.ordered(
        rows.len(),
        |i| Engine::prepare(&opts, &rows[i]),
        |i, p| fold(engine, p, &rows[i]),
    );
}

/// Feeds a chunk's rows to the engine (`ingest_fields` row by row, in effect).
fn ingest_rows(engine: &mut Engine, pool: &parallel::Pool, rows: &[RowFields<'_, '_>]) {
    each_prepared(engine, pool, rows, |e, p, f| {
        e.ingest_prepared(p, f);
    });
}

/// Writes the columns of an engine row into an output record.
fn put_row(rec: &mut RecordBuilder<'_>, row: &OutputRow) {
    for (name, v) in &row.columns {
        match v {
            OutValue::Single(s) => rec.set(name, s.as_str()),
            OutValue::Multi(vs) => rec.set_multi(name, vs),
        };
    }
}

/// Ends a run: its rows and its one WARN message (if any). A summary's rows are made as the
/// reply is written ([`SummaryRows`]); the others (`phase=map`'s partial state) are held.
/// The rows are aggregates, derived from no single input row: [`Output::extra_record`] (no
/// `_chunked_idx`).
fn drain(engine: Engine, out: &mut Output, pool: Option<parallel::Pool>) {
    let engine = match engine.into_summary() {
        Ok(summary) => return out.stream(SummaryRows { summary, pool }),
        Err(engine) => engine,
    };
    let info = engine.finish_with(|row| put_row(&mut out.extra_record(), row));
    if let Some(w) = info.warning {
        out.warn(w);
    }
}

/// The summary rows of a run, made a page at a time while the reply is written: a summary of
/// 100k groups is some 200 MB of reply that is never held (the runtime sizes each reply in
/// one pass over its rows and writes them in a second). With helper threads the rows are
/// built on all of them ([`parallel::Pool::ordered`]) and copied into the reply on the
/// caller's, in order; else in one reused row on the caller's thread.
struct SummaryRows {
    summary: Summary,
    /// The pool that prepared the rows, if the search used one.
    pool: Option<parallel::Pool>,
}

impl RecordSource for SummaryRows {
    fn len(&self) -> usize {
        self.summary.len()
    }

    fn records(&mut self, range: std::ops::Range<usize>, out: &mut Output) {
        let pool = match &self.pool {
            Some(pool) if pool.is_parallel() => pool,
            _ => {
                return self
                    .summary
                    .rows(range, &mut |row| put_row(&mut out.extra_record(), row))
            }
        };
        let mut cuts = Vec::with_capacity(range.len());
        let summary = &self.summary;
        pool.ordered(
            range.len(),
            |j| summary.row(range.start + j),
            |_, built| {
                cuts.push(built.cut);
                put_row(&mut out.extra_record(), built.row());
            },
        );
        for (i, cut) in range.zip(cuts) {
            self.summary.count_made(i, cut);
        }
    }

    fn finish(&mut self, out: &mut Output) {
        if let Some(w) = self.summary.info().warning {
            out.warn(w);
        }
    }
}

impl Command for T1651Command {
    fn getinfo(&mut self, _info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
        self.configure(args)
    }

    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError> {
        let fields = BatchFields::new(batch);
        let rows: Vec<RowFields<'_, '_>> = (0..batch.len()).map(|i| fields.row(i)).collect();
        let threads = match &self.role {
            Role::Summary(e) | Role::Map { engine: e, .. } | Role::Events(e) => e.options().threads,
            Role::Unconfigured => 1,
        };
        let pool = self
            .pool
            .get_or_insert_with(|| parallel::Pool::new(threads));
        match &mut self.role {
            Role::Unconfigured => {
                return Err(CommandError::new(
                    "t1651detect: execute request before a successful getinfo",
                ))
            }
            Role::Summary(engine) => {
                ingest_rows(engine, pool, &rows);
            }
            Role::Map { engine, .. } => {
                ingest_rows(engine, pool, &rows);
            }
            Role::Events(engine) => {
                each_prepared(engine, pool, &rows, |e, p, f| {
                    let p = std::mem::replace(p, Prepared::PartialState);
                    if let Some(row) = e.event_row_prepared(p, f) {
                        put_row(&mut out.passthrough(f.row()), &row);
                    }
                });
            }
        }
        Ok(())
    }

    /// The map phase answers each request with the partial state of its rows (however many
    /// batches the runtime split them into).
    fn end_request(&mut self, out: &mut Output) -> Result<(), CommandError> {
        if let Role::Map { engine, opts } = &mut self.role {
            let done = std::mem::replace(engine, Engine::new(opts.clone()));
            drain(done, out, None);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        match std::mem::replace(&mut self.role, Role::Unconfigured) {
            // The map phase answered every chunk already; nothing is held back.
            Role::Unconfigured | Role::Map { .. } => {}
            Role::Summary(engine) | Role::Events(engine) => drain(engine, out, self.pool.take()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(args: &[&str]) -> Result<CommandInfo, CommandError> {
        T1651Command::new().configure(&Args::parse(args))
    }

    #[test]
    fn roles_by_options() {
        let i = info(&[]).unwrap();
        assert_eq!(i.command_type, CommandType::Reporting);
        assert!(i.streaming_preop.is_none());
        assert!(i
            .required_fields
            .as_ref()
            .unwrap()
            .iter()
            .any(|f| f == "_raw"));
        let i = info(&["distributed=true", "threshold=5"]).unwrap();
        assert_eq!(i.command_type, CommandType::Reporting);
        let preop = i.streaming_preop.unwrap();
        assert!(preop.starts_with("t1651detect phase=map"), "{preop}");
        assert!(preop.contains("threshold=\"5\""), "{preop}");
        let i = info(&["phase=map"]).unwrap();
        assert_eq!(i.command_type, CommandType::Streaming);
        assert_eq!(i.required_fields, None);
        let i = info(&["mode=events"]).unwrap();
        assert_eq!(i.command_type, CommandType::Stateful);
        assert!(i.required_fields.is_some());
        assert!(i.streaming_preop.is_none());
    }

    #[test]
    fn summary_rows_are_made_while_the_reply_is_written() {
        use splunk_scp::testing::{execute, getinfo, run_command};
        let raw = r#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2024-08-02T09:08:56Z","recipientAccountId":"111","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/bob","accountId":"111"},"requestParameters":{"instanceIds":["i-1","i-2"]}}"#;
        let body = format!("_raw\n\"{}\"\n", raw.replace('"', "\"\""));
        let mut c = T1651Command::new();
        c.configure(&Args::parse(&["threshold=1"])).unwrap();
        let mut out = Output::new();
        let batch = splunk_scp::csv::decode(body.clone().into_bytes()).unwrap();
        c.process(&batch, &mut out).unwrap();
        c.finish(&mut out).unwrap();
        assert!(out.is_empty(), "finish holds no summary row");
        // They come with the reply.
        let s = run_command(
            &splunk_scp::Runtime::new(),
            &mut T1651Command::new(),
            &[getinfo(&["threshold=1"]), execute(true, &body)],
        );
        let rows = s.records();
        assert_eq!(rows.len(), 1, "{:?}", s.log);
        let vms = rows[0].iter().find(|(n, _)| n == "targeted_vms").unwrap();
        assert_eq!(vms.1, "i-1\ni-2");
    }

    /// A summary of many rows, paged over several replies, is the same built on one thread
    /// (one reused row) or on several ([`Summary::row`] on the pool, in blocks): rows, order,
    /// cut flags, and the warning that counts the cut rows.
    #[test]
    fn a_long_summary_is_the_same_on_any_number_of_threads() {
        use splunk_scp::testing::{execute, getinfo_with, run_command};
        const ROWS: usize = 1000;
        let mut body = String::from("_raw\n");
        for i in 0..ROWS {
            let raw = format!(
                r#"{{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","eventTime":"2024-08-02T09:{:02}:56Z","recipientAccountId":"111","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111:user/u{i}","accountId":"111"}},"requestParameters":{{"instanceIds":["i-1","i-2","i-{}"]}}}}"#,
                i % 60,
                i % 3
            );
            body.push_str(&format!("\"{}\"\n", raw.replace('"', "\"\"")));
        }
        let replies = |threads: usize| {
            let t = format!("threads={threads}");
            let args = ["max_values=2", "threshold=1", t.as_str()];
            let mut requests = vec![getinfo_with(&args, 300), execute(true, &body)];
            requests.extend((0..4).map(|_| execute(true, "")));
            let s = run_command(
                &splunk_scp::Runtime::new(),
                &mut T1651Command::new(),
                &requests,
            );
            s.executes()
                .iter()
                .map(|r| (r.records(), r.messages()))
                .collect::<Vec<_>>()
        };
        let one = replies(1);
        let pages: Vec<usize> = one.iter().map(|r| r.0.len()).collect();
        assert_eq!(pages.iter().sum::<usize>(), ROWS, "{pages:?}");
        assert!(pages.iter().filter(|&&n| n > 0).count() >= 4, "{pages:?}");
        let warned = one
            .iter()
            .flat_map(|r| &r.1)
            .any(|(_, m)| m.contains("cut"));
        assert!(warned, "{:?}", one.iter().map(|r| &r.1).collect::<Vec<_>>());
        for threads in [2, 3] {
            assert!(replies(threads) == one, "threads={threads}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = info(&["threshold=many"]).unwrap_err();
        assert!(e.message().contains("threshold"), "{e}");
        assert!(e.message().contains("integer"), "{e}");
        let e = info(&["nosuch=1"]).unwrap_err();
        assert!(e.message().contains("nosuch"), "{e}");
        assert!(e.message().contains("include_failed"), "{e}");
        let e = info(&["caller_identity"]).unwrap_err();
        assert!(e.message().contains("'caller_identity'"), "{e}");
        let e = info(&["phase=map", "mode=events"]).unwrap_err();
        assert!(e.message().contains("phase"), "{e}");
    }
}
