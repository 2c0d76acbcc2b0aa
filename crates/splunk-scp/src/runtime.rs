//! The command runtime: drives a [`Command`] or [`Generator`] through one SCP v2 session.
//!
//! Guarantees (each is tested by the splunkd emulator in `tests/`):
//! * **strict lock step**: exactly one reply per request, written only after the whole request
//!   has been read; requests arriving after the command said `finished:true` get
//!   `{"finished":true}` so splunkd is never left waiting;
//! * **probes**: EOF right after getinfo ends the process with exit 0; nothing but
//!   [`Command::getinfo`] runs, so keep that hook free of side effects;
//! * `finished` in both splunkd styles: data on the last chunk (6.3/8.0) or a trailing
//!   header-only chunk (8.2); empty and header-only chunks mid-stream never reach
//!   [`Command::process`];
//! * every chunk's reply carries the records `process` emitted for it (as the SDK's per-chunk
//!   `stream`/`transform`/`reduce`); what `finish` emits goes with the reply to splunkd's
//!   `finished:true` request. `streaming`/`stateful` replies are never split (splunkd merges
//!   them with the chunk by `_chunked_idx`); `events`/`reporting` and generator output is
//!   **paged at `maxresultrows`**: a reply holds at most that many records and says
//!   `finished:false` while more are held, and splunkd asks again (as with splunklib's
//!   generators). If stdin closes while records are still held, the session fails naming how
//!   many were not sent: never a silent loss;
//! * records of `process` in a streaming/stateful/events command whose input carries
//!   `_chunked_idx` must keep it ([`Output::record_for`], [`Output::passthrough`]) or be
//!   marked as added rows ([`Output::extra_record`]); otherwise the chunk fails with an
//!   error naming those methods (unless [`CommandInfo::aggregating`]);
//! * generators are called with `maxresultrows` as the page size (only when no page is
//!   pending) and answered `finished:false` until they return [`Progress::Done`] and every
//!   record is sent, whatever `finished` splunkd's requests carry;
//! * **stdout is guarded** ([`Runtime::guard_stdout`]): on stdio the protocol is written to a
//!   private duplicate of fd 1 and fd 1 points at stderr, so a `println!` in a hook lands in
//!   search.log instead of corrupting the chunk stream;
//! * over-limit requests are read to their end (and dropped) before the error reply, so
//!   splunkd, which writes the whole chunk first, sees the message and not a broken pipe;
//! * fatal errors (bad frame, bad JSON, bad CSV, a command error **or panic**, a reply larger
//!   than the configured maximum) produce
//!   `{"finished":true,"inspector":{"messages":[...,["ERROR",text]]},"error":text}` and exit 1;
//!   (Panics are caught with `catch_unwind`: do not build with `panic = "abort"`.)
//! * v1 invocations (`__GETINFO__`/`__EXECUTE__` argv, or `key:value` header lines) fail with
//!   "chunked = true is missing"; EPIPE after the final reply exits 0 quietly, EPIPE earlier
//!   exits 1 with one line on stderr (never a panic);
//! * limits (request chunk and metadata size, field size, reply size) fail with an error that
//!   names the limit, the size seen and the setting that raises it ([`Runtime::limit_setting`]);
//!   a reply over the reply limit is replaced by an error reply, never sent in part, and the
//!   error reply itself is shortened to fit;
//! * on stdio, SIGTERM (search cancelled, splunkd stopping) ends the process at once with exit
//!   status 143 and one line on stderr saying what it was doing ([`Runtime::handle_sigterm`]).
//!
//! # Example: a reporting command in a few lines
//!
//! ```
//! use splunk_scp::{Args, Command, CommandError, CommandInfo, CommandType, GetInfo, Output, RecordBatch};
//!
//! /// `| countby field=<name>`: counts records per value of a field.
//! #[derive(Default)]
//! struct CountBy { field: String, counts: std::collections::BTreeMap<String, u64> }
//!
//! impl Command for CountBy {
//!     fn getinfo(&mut self, _info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError> {
//!         let mut opts = args.checker();
//!         self.field = opts.required("field")?.to_owned();
//!         opts.finish()?; // unknown options -> error naming them and the valid ones
//!         Ok(CommandInfo::new(CommandType::Reporting).required_fields([self.field.as_str()]))
//!     }
//!     fn process(&mut self, batch: &RecordBatch, _out: &mut Output) -> Result<(), CommandError> {
//!         let Some(col) = batch.column(&self.field) else { return Ok(()) };
//!         for row in batch.rows() {
//!             for v in row.get_id(col).values() {
//!                 *self.counts.entry(v.into_owned()).or_default() += 1;
//!             }
//!         }
//!         Ok(())
//!     }
//!     fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
//!         for (value, n) in &self.counts {
//!             out.record().set(&self.field, value).set("count", *n);
//!         }
//!         out.info(format!("{} distinct values", self.counts.len()));
//!         Ok(())
//!     }
//! }
//!
//! // In main(): `std::process::ExitCode` from the stdin/stdout session.
//! # fn main_() -> std::process::ExitCode {
//! splunk_scp::run(CountBy::default())
//! # }
//! ```

use std::io::{self, BufRead, ErrorKind, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;

use crate::args::Args;
use crate::csv::encode::PageHeader;
use crate::csv::{self, DecodeLimits, LineEnding};
use crate::error::{FrameError, ProtocolError};
use crate::frame::{self, FrameLimits, FrameReader};
use crate::limits::{Limit, SettingNames};
use crate::metadata::{CommandType, GetInfo, Inspector, Level, Message, Reply, Request};
use crate::output::{Output, RecordSource};
use crate::record::RecordBatch;
use crate::signals::{self, Phase};

/// Rows per generator page when getinfo carries no `maxresultrows` (splunkd's default).
pub const DEFAULT_MAXRESULTROWS: u64 = 50_000;

/// A command's failure, shown to the Splunk user as the search error.
///
/// It is a `std::error::Error` itself; the common error types (this crate's, I/O, number
/// parsing, UTF-8, JSON, strings and boxed errors) convert into it, so `?` works in command
/// hooks; for others use `CommandError::new(e.to_string())` or `Box<dyn Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(String);

impl CommandError {
    /// An error with this text.
    pub fn new(text: impl Into<String>) -> Self {
        CommandError(text.into())
    }

    /// The text.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

/// `?` on the errors command hooks meet most: the error's text becomes the message.
macro_rules! command_error_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for CommandError {
            fn from(e: $t) -> Self {
                CommandError(e.to_string())
            }
        }
    )*};
}
command_error_from!(
    crate::args::ArgError,
    crate::error::CsvError,
    crate::error::FrameError,
    crate::error::MetadataError,
    crate::error::ProtocolError,
    LimitTooHigh,
    std::io::Error,
    std::fmt::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::ParseBoolError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    serde_json::Error,
    String,
    &str,
    Box<dyn std::error::Error>,
    Box<dyn std::error::Error + Send + Sync>,
);

/// A limit set above what the runtime supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitTooHigh {
    /// The limit.
    pub limit: Limit,
    /// The value asked for.
    pub requested: u64,
    /// The largest supported value.
    pub max: u64,
}

impl std::fmt::Display for LimitTooHigh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} bytes is above the supported maximum of {} bytes",
            self.limit.default_setting(),
            self.requested,
            self.max
        )
    }
}

impl std::error::Error for LimitTooHigh {}

/// What the getinfo hook tells splunkd about the command.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommandInfo {
    /// `type` of the reply.
    pub command_type: CommandType,
    /// Fields the command needs (`None` = not sent = splunkd's default; `["*"]` = all).
    pub required_fields: Option<Vec<String>>,
    /// SPL of the map phase (`reporting` only), e.g. `sum phase="map" total="total" value1`.
    pub streaming_preop: Option<String>,
    /// `run_in_preview`, sent only when set.
    pub run_in_preview: Option<bool>,
    /// `maxwait`, sent only when set.
    pub maxwait: Option<u64>,
    /// Messages for the getinfo reply (notices; use an error to stop the search).
    pub messages: Vec<Message>,
    /// `finished:true` on the getinfo reply: "do not run me".
    pub decline: bool,
    /// Records emitted by `process` are aggregates, not derived from input rows: they need
    /// no `_chunked_idx` (a map phase). Not sent to splunkd.
    pub aggregating: bool,
}

impl CommandInfo {
    /// A reply announcing `command_type` and nothing else.
    pub fn new(command_type: CommandType) -> Self {
        CommandInfo {
            command_type,
            required_fields: None,
            streaming_preop: None,
            run_in_preview: None,
            maxwait: None,
            messages: Vec::new(),
            decline: false,
            aggregating: false,
        }
    }

    /// Sets `required_fields`.
    pub fn required_fields<I>(mut self, fields: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.required_fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `streaming_preop`.
    pub fn streaming_preop(mut self, spl: impl Into<String>) -> Self {
        self.streaming_preop = Some(spl.into());
        self
    }

    /// Sets `maxwait`: the most seconds the command may go without producing output
    /// (commands.conf `maxwait`; 0 = no limit).
    pub fn maxwait(mut self, seconds: u64) -> Self {
        self.maxwait = Some(seconds);
        self
    }

    /// Sets `run_in_preview`: whether splunkd runs the command for preview results.
    pub fn run_in_preview(mut self, run: bool) -> Self {
        self.run_in_preview = Some(run);
        self
    }

    /// Declares that records emitted by `process` are aggregates derived from no single
    /// input row (a map phase): the runtime does not ask them for `_chunked_idx`.
    pub fn aggregating(mut self) -> Self {
        self.aggregating = true;
        self
    }

    /// Answers the getinfo with `finished:true`: "do not run me".
    pub fn decline(mut self) -> Self {
        self.decline = true;
        self
    }

    /// Adds a message to the getinfo reply.
    pub fn message(mut self, level: Level, text: impl Into<String>) -> Self {
        self.messages.push(Message {
            level,
            text: text.into(),
        });
        self
    }
}

/// A command that consumes records: `streaming`, `stateful`, `events` or `reporting`.
///
/// Hooks are called in this order: `getinfo` once; then `process` once per execute chunk that
/// holds at least one row (several times, on consecutive rows, under
/// [`Runtime::batch_bytes`]) followed by `end_request`; then `finish` once, for splunkd's
/// `finished:true` request. A panic in any hook becomes an error reply. State kept in `self`
/// persists across chunks.
pub trait Command {
    /// Validates arguments and announces the command type. Runs in getinfo-only probes too:
    /// no side effects, no expensive work here.
    fn getinfo(&mut self, info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError>;

    /// Handles one chunk (≥ 1 row). Records emitted into `out` go with this chunk's reply
    /// (paged at `maxresultrows` for events/reporting). Use [`Output::record_for`] /
    /// [`Output::passthrough`] for records derived from input rows (they keep
    /// `_chunked_idx`) and [`Output::extra_record`] for added rows. Reporting commands
    /// usually only ingest here and emit in [`Command::finish`]. Call
    /// [`Output::finish_early`] to end the command after this chunk.
    fn process(&mut self, batch: &RecordBatch, out: &mut Output) -> Result<(), CommandError>;

    /// Called after the last `process` of an execute chunk (only for chunks with rows),
    /// before its reply: the place for output that answers a whole request when
    /// [`Runtime::batch_bytes`] splits it into several batches. Default: nothing.
    fn end_request(&mut self, out: &mut Output) -> Result<(), CommandError> {
        let _ = out;
        Ok(())
    }

    /// Called once when splunkd sends its last request; emits final records and messages.
    fn finish(&mut self, out: &mut Output) -> Result<(), CommandError> {
        let _ = out;
        Ok(())
    }
}

/// Whether a generator has more rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More rows follow: the reply says `finished:false` and splunkd asks again.
    More,
    /// All rows produced: the reply says `finished:true`.
    Done,
}

/// A generating command (first in the pipeline; splunkd sends no records).
pub trait Generator {
    /// As [`Command::getinfo`]; the runtime adds `generating:true`. `stateful` is splunklib's
    /// default generator type, `streaming` makes it distributable.
    fn getinfo(&mut self, info: &GetInfo, args: &Args) -> Result<CommandInfo, CommandError>;

    /// Emits up to `max_rows` records (the search's `maxresultrows`) into `out`.
    fn generate(&mut self, out: &mut Output, max_rows: usize) -> Result<Progress, CommandError>;
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// stdin was empty: nothing to do.
    NoInput,
    /// getinfo answered, then EOF (a splunkd probe).
    Probe,
    /// The session ran to EOF after at least one execute request.
    Completed,
    /// A fatal error; the text was sent as an error reply where possible.
    Failed(String),
}

impl RunOutcome {
    /// 0 unless `Failed`.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunOutcome::Failed(_) => 1,
            _ => 0,
        }
    }
}

/// Fails when argv carries v1 protocol markers (`__GETINFO__`, `__EXECUTE__`).
pub fn check_argv<I, S>(args: I) -> Result<(), ProtocolError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    for a in args {
        let a = a.as_ref();
        if a == "__GETINFO__" || a == "__EXECUTE__" {
            return Err(ProtocolError::LegacyArgv(a.to_string_lossy().into_owned()));
        }
    }
    Ok(())
}

/// Runs `cmd` on stdin/stdout with the default [`Runtime`]; returns the process exit code.
pub fn run<C: Command>(cmd: C) -> ExitCode {
    Runtime::new().run(cmd)
}

/// Runs `gen` on stdin/stdout with the default [`Runtime`]; returns the process exit code.
pub fn run_generator<G: Generator>(gen: G) -> ExitCode {
    Runtime::new().run_generator(gen)
}

/// Session settings (builder style: `Runtime::new().max_chunk_bytes(..).max_field_bytes(..)`).
#[derive(Debug, Clone)]
pub struct Runtime {
    limits: FrameLimits,
    decode_limits: DecodeLimits,
    max_reply_bytes: Option<usize>,
    line_ending: LineEnding,
    settings: SettingNames,
    handle_sigterm: bool,
    guard_stdout: bool,
    batch_bytes: Option<usize>,
    overlap_reading: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

enum Kind<'a> {
    Cmd(&'a mut dyn Command),
    Gen(&'a mut dyn Generator),
}

impl Runtime {
    /// Default limits (metadata ≤ 64 MiB, body ≤ 1 GiB, fields ≤ 64 MiB), no reply size
    /// limit, CRLF records, SIGTERM reported on stderr.
    pub fn new() -> Self {
        Runtime {
            limits: FrameLimits::default(),
            decode_limits: DecodeLimits::default(),
            max_reply_bytes: None,
            line_ending: LineEnding::CrLf,
            settings: SettingNames::default(),
            handle_sigterm: true,
            guard_stdout: true,
            batch_bytes: None,
            overlap_reading: true,
        }
    }

    /// Hands a command each request's rows in batches of about `bytes` of decoded text
    /// (whole rows, in order) instead of one batch per request: [`Command::process`] may
    /// then run several times per request, each time on the rows decoded since the last
    /// call, all before that request's reply, which carries their output together. Memory
    /// for a request's rows is then bounded by two batches instead of the largest chunk
    /// (with splunkd's 50,000-event chunks of `_raw`, a hundred megabytes and more).
    /// Default `None`: one batch per request.
    ///
    /// A request whose body turns out to be malformed fails (an error reply) even if some
    /// of its batches were processed already; a command that needs all of a request's rows
    /// before it acts (or a map phase that emits one partial result per call) should keep
    /// the default or accept the smaller steps.
    pub fn batch_bytes(mut self, bytes: Option<usize>) -> Self {
        self.batch_bytes = bytes.map(|b| b.max(1));
        self
    }

    /// With [`Self::batch_bytes`] set: whether a request's body is read and decoded on a
    /// thread of its own while the command processes the batches already decoded (default
    /// true). It is used only when the process may run on two CPUs or more
    /// (`std::thread::available_parallelism`, which follows the CPU affinity).
    pub fn overlap_reading(mut self, on: bool) -> Self {
        self.overlap_reading = on;
        self
    }

    /// Whether batched requests are read alongside the command's work (see
    /// [`Self::overlap_reading`]).
    fn overlap(&self) -> bool {
        self.overlap_reading && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
    }

    /// Limits on declared request sizes.
    pub fn limits(mut self, limits: FrameLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Largest accepted request body ([`FrameLimits::max_body`], default 1 GiB). Values above
    /// [`crate::frame::MAX_CHUNK_BYTES`] are lowered to it; [`Self::try_max_chunk_bytes`]
    /// refuses them instead.
    pub fn max_chunk_bytes(mut self, max: u64) -> Self {
        self.limits.max_body = max.min(crate::frame::MAX_CHUNK_BYTES);
        self
    }

    /// As [`Self::max_chunk_bytes`], refusing values above [`crate::frame::MAX_CHUNK_BYTES`]
    /// (2 GiB) with an error that names the maximum.
    pub fn try_max_chunk_bytes(self, max: u64) -> Result<Self, LimitTooHigh> {
        if max > crate::frame::MAX_CHUNK_BYTES {
            return Err(LimitTooHigh {
                limit: Limit::ChunkBytes,
                requested: max,
                max: crate::frame::MAX_CHUNK_BYTES,
            });
        }
        Ok(self.max_chunk_bytes(max))
    }

    /// Largest accepted request metadata ([`FrameLimits::max_metadata`], default 64 MiB).
    pub fn max_metadata_bytes(mut self, max: u64) -> Self {
        self.limits.max_metadata = max;
        self
    }

    /// Largest accepted CSV field, after unquoting ([`DecodeLimits::max_field_bytes`],
    /// default 64 MiB).
    pub fn max_field_bytes(mut self, max: usize) -> Self {
        self.decode_limits.max_field_bytes = max;
        self
    }

    /// The option name that raises `limit`, quoted in error hints ("set `name=<bytes>` to raise
    /// it"). Defaults: [`Limit::default_setting`].
    pub fn limit_setting(mut self, limit: Limit, name: impl Into<String>) -> Self {
        self.settings.set(limit, name.into());
        self
    }

    /// Whether [`Runtime::run`]/[`Runtime::run_generator`] install a SIGTERM handler that
    /// logs one line and exits 143 (default true; Unix only; no effect on the `_io` variants).
    pub fn handle_sigterm(mut self, on: bool) -> Self {
        self.handle_sigterm = on;
        self
    }

    /// Maximum size of a reply chunk (header + metadata + body), like commands.conf
    /// `maxchunksize`; a larger reply is replaced by an error reply. The error reply is
    /// shortened to fit (earlier messages dropped, text cut to no less than 512 bytes), so
    /// limits under a few KiB may still be exceeded by it.
    pub fn max_reply_bytes(mut self, max: Option<usize>) -> Self {
        self.max_reply_bytes = max;
        self
    }

    /// Whether [`Self::run`]/[`Self::run_generator`] protect the protocol channel from
    /// stray writes to stdout (default true, Unix): the session writes to a private duplicate
    /// of fd 1 and fd 1 is pointed at stderr, so `println!` in a hook goes to search.log.
    pub fn guard_stdout(mut self, on: bool) -> Self {
        self.guard_stdout = on;
        self
    }

    /// Record terminator of reply bodies.
    pub fn line_ending(mut self, eol: LineEnding) -> Self {
        self.line_ending = eol;
        self
    }

    /// Runs `cmd` on this process's stdin/stdout (checking argv for v1 markers).
    pub fn run<C: Command>(&self, mut cmd: C) -> ExitCode {
        self.stdio(Kind::Cmd(&mut cmd))
    }

    /// Runs `gen` on this process's stdin/stdout (checking argv for v1 markers).
    pub fn run_generator<G: Generator>(&self, mut gen: G) -> ExitCode {
        self.stdio(Kind::Gen(&mut gen))
    }

    /// Runs `cmd` over any streams; diagnostics go to `log`.
    pub fn run_io<C: Command, R: BufRead + Send, W: Write>(
        &self,
        cmd: &mut C,
        input: R,
        output: W,
        log: &mut dyn Write,
    ) -> RunOutcome {
        self.session(Kind::Cmd(cmd), input, output, log)
    }

    /// Runs `gen` over any streams; diagnostics go to `log`.
    pub fn run_generator_io<G: Generator, R: BufRead + Send, W: Write>(
        &self,
        gen: &mut G,
        input: R,
        output: W,
        log: &mut dyn Write,
    ) -> RunOutcome {
        self.session(Kind::Gen(gen), input, output, log)
    }

    fn stdio(&self, kind: Kind<'_>) -> ExitCode {
        let mut stderr = io::stderr();
        if let Err(e) = check_argv(std::env::args_os().skip(1)) {
            let _ = writeln!(stderr, "error: {e}");
            return ExitCode::from(1);
        }
        if self.handle_sigterm {
            if let Err(e) = signals::install_sigterm_reporter() {
                let _ = writeln!(stderr, "warning: cannot install the SIGTERM handler: {e}");
            }
        }
        // `Stdin` (not its lock) so that a request body can be read on a thread of its own.
        let input = || io::BufReader::with_capacity(1 << 16, io::stdin());
        let outcome = match self.guard_stdout.then(guard_stdout).flatten() {
            Some(proto) => {
                let w = io::BufWriter::with_capacity(1 << 16, proto);
                self.session(kind, input(), w, &mut stderr)
            }
            None => self.session(kind, input(), io::stdout().lock(), &mut stderr),
        };
        signals::set_phase(Phase::Exiting);
        ExitCode::from(outcome.exit_code())
    }

    fn session<R: BufRead + Send, W: Write>(
        &self,
        mut kind: Kind<'_>,
        input: R,
        output: W,
        log: &mut dyn Write,
    ) -> RunOutcome {
        let mut s = Session {
            reader: FrameReader::with_limits(input, self.limits),
            out: output,
            log,
            rt: self,
            meta: Vec::new(),
            body: Vec::new(),
            decoder: csv::StreamDecoder::new(self.decode_limits),
            reply_body: Vec::new(),
        };
        s.run(&mut kind)
    }
}

struct Session<'l, R, W> {
    reader: FrameReader<R>,
    out: W,
    log: &'l mut dyn Write,
    rt: &'l Runtime,
    meta: Vec<u8>,
    /// A body read whole (not decoded while it arrives).
    body: Vec<u8>,
    /// Decodes a command's bodies as they arrive; it keeps its buffers between chunks.
    decoder: csv::StreamDecoder,
    reply_body: Vec<u8>,
}

/// Where the batches of one request go: the command, its output and what the checks need.
struct Batches<'a> {
    cmd: &'a mut dyn Command,
    out: &'a mut Output,
    check_idx: bool,
    request: usize,
    any: &'a mut bool,
}

impl Batches<'_> {
    /// Runs `process` on one batch of the request ([`process_batch`]).
    fn process(&mut self, batch: &RecordBatch) -> Result<(), String> {
        *self.any = true;
        process_batch(
            &mut *self.cmd,
            batch,
            self.out,
            self.check_idx,
            self.request,
        )
    }
}

/// Reads and decodes one request body on a thread of its own while this thread runs
/// `process` on the batches of `limit` bytes it hands over (two batches circulate: one being
/// filled, one being processed), so that reading and decoding overlap the command's work.
/// The batches, their order and every outcome are those of the sequential path: a failing
/// batch stops the hand-over (the reader drains the body and the error is returned once it
/// has); a frame error ends the request as it would have; the rows after the last batch stay
/// in the decoder for [`StreamDecoder::finish`](csv::StreamDecoder::finish).
fn read_alongside<R: BufRead + Send>(
    reader: &mut FrameReader<R>,
    decoder: &mut csv::StreamDecoder,
    head: frame::ChunkHeader,
    limit: usize,
    to: &mut Batches<'_>,
) -> Result<Result<(), String>, crate::error::FrameError> {
    use std::sync::mpsc;
    // Filled batches (at most one waiting) and emptied ones going back.
    let (full_tx, full_rx) = mpsc::sync_channel::<RecordBatch>(1);
    let (free_tx, free_rx) = mpsc::channel::<RecordBatch>();
    for _ in 0..2 {
        let _ = free_tx.send(RecordBatch::new());
    }
    std::thread::scope(|s| {
        let read = s.spawn(move || {
            let mut held: Option<RecordBatch> = None;
            reader.decode_body_with(head, decoder, |dec| {
                if dec.text_len() < limit {
                    return Ok(());
                }
                // `recv` fails once the session's side has stopped taking batches (one of
                // them failed): then no more are handed over, and the body is drained.
                let mut b = match held.take() {
                    Some(b) => b,
                    None => free_rx.recv().map_err(|_| ())?,
                };
                if dec.take_batch(&mut b) {
                    full_tx.send(b).map_err(|_| ())
                } else {
                    held = Some(b);
                    Ok(())
                }
            })
            // `full_tx` is dropped with the closure: the loop below ends.
        });
        let mut free = Some(free_tx);
        let mut failed = None;
        for b in full_rx.iter() {
            if failed.is_none() {
                if let Err(e) = to.process(&b) {
                    failed = Some(e);
                    // No more batches: the reader's next wait for one fails.
                    free = None;
                }
            }
            if let Some(f) = &free {
                let _ = f.send(b);
            }
        }
        let read = match read.join() {
            Ok(r) => r,
            Err(_) => {
                return Ok(Err(
                    "internal error: the thread reading the request panicked".to_owned(),
                ))
            }
        };
        read.map(|r| match failed {
            Some(e) => Err(e),
            // The reader only fails when this side stopped (above).
            None => r.map_err(|()| "internal error: request batches lost".to_owned()),
        })
    })
}

/// Runs `process` on a (non-empty) batch of request `request` and checks what it wrote;
/// the error is the text of the failure reply.
fn process_batch(
    c: &mut dyn Command,
    batch: &RecordBatch,
    out: &mut Output,
    check_idx: bool,
    request: usize,
) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let first = out.len();
    guarded(|| c.process(batch, out)).map_err(|e| e.message().to_owned())?;
    out.take_invalid()?;
    if check_idx && batch.column("_chunked_idx").is_some() {
        out.check_chunked_idx(first)
            .map_err(|e| format!("execute request {request}: {e}"))?;
    }
    Ok(())
}

/// Runs a hook, turning a panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, CommandError>) -> Result<T, CommandError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            Err(CommandError(format!(
                "internal error in the command: {msg}"
            )))
        }
    }
}

/// [`guarded`] for a hook that cannot fail (a [`RecordSource`]'s): a panic's message.
fn guarded_call(f: impl FnOnce()) -> Result<(), String> {
    guarded(|| {
        f();
        Ok(())
    })
    .map_err(|e| e.message().to_owned())
}

/// Why a reply could not be delivered.
enum WriteFail {
    /// The reader end is closed.
    Closed,
    /// Another error (text for the log / error reply).
    Other(String),
}

/// Why a streamed reply ([`Session::reply_streamed`]) was not written.
enum Streamed {
    /// Nothing was written: the records cannot be sent (error reply with this text).
    Refused(String),
    /// Writing failed (or the chunk turned out wrong after its header was written).
    Write(WriteFail),
}

impl<R: BufRead + Send, W: Write> Session<'_, R, W> {
    fn run(&mut self, kind: &mut Kind<'_>) -> RunOutcome {
        // ---- getinfo
        signals::set_phase(Phase::Reading);
        match self.reader.read_chunk(&mut self.meta, &mut self.body) {
            Ok(None) => return RunOutcome::NoInput,
            Ok(Some(_)) => {}
            Err(e) => return self.frame_failure(e),
        }
        let getinfo = match Request::parse(&self.meta).and_then(Request::into_getinfo) {
            Ok(g) => g,
            Err(e) => return self.fail(&e.to_string(), Vec::new()),
        };
        let args = Args::parse(&getinfo.searchinfo.args);
        signals::set_phase(Phase::Running);
        let info = match kind {
            Kind::Cmd(c) => guarded(|| c.getinfo(&getinfo, &args)),
            Kind::Gen(g) => guarded(|| g.getinfo(&getinfo, &args)),
        };
        let info = match info {
            Ok(i) => i,
            Err(e) => return self.fail(e.message(), Vec::new()),
        };
        let reply = Reply {
            command_type: Some(info.command_type),
            generating: matches!(kind, Kind::Gen(_)).then_some(true),
            required_fields: info.required_fields.clone(),
            streaming_preop: info.streaming_preop.clone(),
            maxwait: info.maxwait,
            run_in_preview: info.run_in_preview,
            finished: info.decline.then_some(true),
            inspector: (!info.messages.is_empty()).then(|| Inspector {
                messages: info.messages.clone(),
                metrics: Vec::new(),
            }),
            error: None,
        };
        if let Err(e) = self.write_raw(&reply.to_json(), false) {
            return self.write_failure(e, info.decline);
        }
        let mut finished = info.decline;
        // Output that is not tied to a request's rows is paged at `maxresultrows`: what does
        // not fit waits for splunkd's next request (splunkd keeps asking while the command
        // answers finished:false). Streaming/stateful output belongs to its chunk (splunkd
        // merges it by `_chunked_idx`), so it always goes with that chunk's reply.
        let pageable = matches!(kind, Kind::Gen(_))
            || matches!(
                info.command_type,
                CommandType::Events | CommandType::Reporting
            );
        // Records derived from input rows must carry the row's `_chunked_idx` when splunkd
        // sent one (it merges the output with the fields it did not send by it).
        let check_idx = !matches!(info.command_type, CommandType::Reporting) && !info.aggregating;
        let page = getinfo
            .searchinfo
            .maxresultrows
            .unwrap_or(DEFAULT_MAXRESULTROWS)
            .clamp(1, usize::MAX as u64) as usize;
        let mut st = ExecState {
            output: Output::new(),
            sent: 0,
            source: None,
            source_sent: 0,
            source_finished: false,
            page,
            pageable,
        };
        let mut batch = RecordBatch::new();
        let mut executes = 0usize;
        // splunkd sent finished:true / the command's hooks are done (finish ran, or the
        // generator returned Done).
        let mut splunkd_finished = false;
        let mut hooks_done = false;

        // ---- execute
        loop {
            signals::set_phase(Phase::Reading);
            let head = match self.reader.read_head(&mut self.meta) {
                Ok(None) => {
                    if executes == 0 {
                        return RunOutcome::Probe;
                    }
                    return self.eof(&st, executes, splunkd_finished, hooks_done, kind);
                }
                Ok(Some(h)) => h,
                Err(e) => return self.frame_failure_with(e, &mut st.output),
            };
            let req = Request::parse(&self.meta).and_then(Request::into_execute);
            // A command's rows are decoded while the body arrives (see `StreamDecoder`);
            // every other body (a generator's, one after the command's input ended, one of
            // a failing request) is read whole.
            let decoding = req.is_ok() && !finished && !hooks_done && matches!(kind, Kind::Cmd(_));
            let mut failed_batch = None;
            let mut any_rows = false;
            let body = match (decoding, &mut *kind) {
                (true, Kind::Cmd(c)) => {
                    let split = self.rt.batch_bytes;
                    // Text for one batch (and the piece that completes it), or the whole body.
                    let hint = split.map_or(head.body_len, |b| {
                        head.body_len.min(b.saturating_add(frame::PIECE))
                    });
                    self.decoder.begin(&mut batch, hint as u64);
                    let mut to = Batches {
                        cmd: &mut **c,
                        out: &mut st.output,
                        check_idx,
                        request: executes + 1,
                        any: &mut any_rows,
                    };
                    let r = match split {
                        Some(limit) if self.rt.overlap() => read_alongside(
                            &mut self.reader,
                            &mut self.decoder,
                            head,
                            limit,
                            &mut to,
                        ),
                        _ => {
                            let batch = &mut batch;
                            self.reader
                                .decode_body_with(head, &mut self.decoder, |dec| match split {
                                    Some(limit)
                                        if dec.text_len() >= limit && dec.take_batch(batch) =>
                                    {
                                        to.process(batch)
                                    }
                                    _ => Ok(()),
                                })
                        }
                    };
                    r.map(|r| failed_batch = r.err())
                }
                _ => self.reader.read_body(head, &mut self.body),
            };
            if let Err(e) = body {
                return self.frame_failure_with(e, &mut st.output);
            }
            if let Some(text) = failed_batch {
                return self.fail(&text, st.output.take_messages());
            }
            executes += 1;
            signals::set_phase(Phase::Running);
            let req = match req {
                Ok(r) => r,
                Err(e) => return self.fail(&e.to_string(), st.output.take_messages()),
            };
            splunkd_finished |= req.finished;
            if finished {
                // Lock step even after our final reply: answer, never stay silent.
                if let Err(e) = self.write_raw(&Reply::execute(true, Vec::new()).to_json(), false) {
                    return self.write_failure(e, true);
                }
                continue;
            }
            if !hooks_done {
                match kind {
                    Kind::Gen(g) => {
                        // Only asked for a new page once the previous one is out.
                        if st.pending() == 0 {
                            match guarded(|| g.generate(&mut st.output, page)) {
                                Ok(p) => hooks_done = p == Progress::Done,
                                Err(e) => return self.fail(e.message(), st.output.take_messages()),
                            }
                            if let Err(e) = st.output.take_invalid() {
                                return self.fail(&e, st.output.take_messages());
                            }
                        }
                    }
                    Kind::Cmd(c) => {
                        if let Err(e) = self.decoder.finish(&mut batch) {
                            let e = self.rt.settings.rename_csv(e);
                            return self.fail(
                                &format!("execute request {executes}: {e}"),
                                st.output.take_messages(),
                            );
                        }
                        if let Err(text) =
                            process_batch(&mut **c, &batch, &mut st.output, check_idx, executes)
                        {
                            return self.fail(&text, st.output.take_messages());
                        }
                        if any_rows || !batch.is_empty() {
                            if let Err(e) = guarded(|| c.end_request(&mut st.output)) {
                                return self.fail(e.message(), st.output.take_messages());
                            }
                            if let Err(e) = st.output.take_invalid() {
                                return self.fail(&e, st.output.take_messages());
                            }
                        }
                        let early = std::mem::take(&mut st.output.finish_early);
                        if req.finished || early {
                            // No more data follows: release the request buffer (as large as
                            // the largest chunk) before the final reply, often the largest,
                            // is built.
                            batch = RecordBatch::new();
                            if let Err(e) = guarded(|| c.finish(&mut st.output)) {
                                return self.fail(e.message(), st.output.take_messages());
                            }
                            if let Err(e) = st.output.take_invalid() {
                                return self.fail(&e, st.output.take_messages());
                            }
                            hooks_done = true;
                        }
                    }
                }
            } else if matches!(kind, Kind::Cmd(_)) && has_data_rows(&self.body) {
                // Data while the command only pages out held rows: never dropped silently.
                let text = format!(
                    "execute request {executes} carries data rows while the command is still \
                     sending {} held output row(s) (it answered finished=false after its input ended)",
                    st.pending()
                );
                return self.fail(&text, st.output.take_messages());
            }
            if let Err(e) = st.adopt_source() {
                return self.fail(&e, st.output.take_messages());
            }
            if st.source.is_some() {
                let reply_finished = hooks_done && st.pending() <= st.page();
                if let Err(e) = self.reply_streamed(&mut st, reply_finished) {
                    return match e {
                        Streamed::Refused(text) => self.fail(&text, st.output.take_messages()),
                        Streamed::Write(e) => self.write_failure(e, reply_finished),
                    };
                }
                finished = reply_finished;
                continue;
            }
            if let Some(n) = st.empty_records() {
                let text = format!(
                    "the command emitted {n} record(s) with no fields and no other record sets \
                     a field: a CSV reply cannot carry them; set at least one field"
                );
                return self.fail(&text, st.output.take_messages());
            }
            let reply_finished = hooks_done && st.pending() <= st.page();
            if let Err(e) = self.reply(&mut st, reply_finished) {
                return self.write_failure(e, reply_finished);
            }
            finished = reply_finished;
        }
    }

    /// The end of input after at least one execute request: says what did not happen, and
    /// fails when output rows the command produced were never sent.
    fn eof(
        &mut self,
        st: &ExecState,
        executes: usize,
        splunkd_finished: bool,
        hooks_done: bool,
        kind: &Kind<'_>,
    ) -> RunOutcome {
        let pending = st.pending();
        if pending > 0 {
            let text = format!(
                "splunkd closed stdin after {executes} execute request(s) with {pending} row(s) \
                 of output not yet sent (the last reply said finished=false and asked for another \
                 request); those rows are lost"
            );
            let _ = writeln!(self.log, "error: {text}");
            return RunOutcome::Failed(text);
        }
        if !hooks_done {
            let what = match (kind, splunkd_finished) {
                (Kind::Gen(_), _) => {
                    "while the generator had more rows (its last reply said finished=false)"
                }
                (Kind::Cmd(_), false) => {
                    "without finished=true: the command's finish hook did not run"
                }
                (Kind::Cmd(_), true) => "before the command finished",
            };
            let _ = writeln!(
                self.log,
                "splunkd closed stdin after {executes} execute request(s) {what}; exiting"
            );
        }
        RunOutcome::Completed
    }

    /// Writes one execute reply: the next page of held records (all of them when not
    /// pageable), the pending messages, `finished`.
    fn reply(&mut self, st: &mut ExecState, finished: bool) -> Result<(), WriteFail> {
        self.reply_body.clear();
        let n = st.pending().min(st.page());
        if n > 0 {
            csv::encode::encode_range(
                &st.output,
                st.sent..st.sent + n,
                &mut self.reply_body,
                self.rt.line_ending,
            );
            st.sent += n;
        }
        if st.sent == st.output.len() {
            st.output.clear_records();
            st.sent = 0;
        }
        let meta = reply_meta(st, finished);
        self.write_raw(&meta, true)
    }

    /// Writes one execute reply whose records come (at least in part) from a
    /// [`RecordSource`]: the next page of held records, then of the source's, sized in a
    /// first pass ([`PageHeader`]) and written straight to splunkd in a second, about a
    /// thousand records at a time, so the page is never held whole.
    fn reply_streamed(&mut self, st: &mut ExecState, finished: bool) -> Result<(), Streamed> {
        /// Records made at a time by the source: enough that a source building them on
        /// several threads shares each call (t1651detect's summary rows, in blocks of 64:
        /// 256 gave each thread two blocks, and the finish of 63k rows took 4-6 % longer;
        /// bench/README.md, seventh round), few enough to hold (a megabyte or so).
        const STEP: usize = 1024;
        let Some(mut src) = st.source.take() else {
            return Ok(());
        };
        let page = st.page();
        let held = (st.output.len() - st.sent).min(page);
        let from = st.source_sent;
        let to = from + src.len().saturating_sub(from).min(page - held);
        let held_range = st.sent..st.sent + held;
        let mut scratch = Output::new();
        let mut header = PageHeader::default();
        header.add(&st.output, held_range.clone());
        for a in (from..to).step_by(STEP) {
            let b = (a + STEP).min(to);
            scratch.clear_records();
            // A panic in the source is an error reply, as in any hook.
            guarded_call(|| src.records(a..b, &mut scratch)).map_err(Streamed::Refused)?;
            if let Err(e) = scratch.take_invalid() {
                return Err(Streamed::Refused(e));
            }
            if scratch.len() != b - a {
                return Err(Streamed::Refused(format!(
                    "the record source gave {} record(s) for its records {a}..{b}",
                    scratch.len()
                )));
            }
            header.add(&scratch, 0..b - a);
        }
        if header.records() > 0 && header.columns() == 0 {
            return Err(Streamed::Refused(format!(
                "the command emitted {} record(s) with no fields and no other record sets a \
                 field: a CSV reply cannot carry them; set at least one field",
                header.records()
            )));
        }
        if to >= src.len() && !st.source_finished {
            guarded_call(|| src.finish(&mut st.output)).map_err(Streamed::Refused)?;
            st.source_finished = true;
        }
        let eol = self.rt.line_ending;
        let body_len = header.body_len(eol);
        let meta = reply_meta(st, finished);
        signals::set_phase(Phase::Writing);
        self.check_reply_size(meta.len(), body_len)
            .map_err(Streamed::Write)?;
        let io = |e: io::Error| {
            Streamed::Write(if e.kind() == ErrorKind::BrokenPipe {
                WriteFail::Closed
            } else {
                WriteFail::Other(format!("cannot write reply: {e}"))
            })
        };
        frame::write_chunk_head(&mut self.out, &meta, body_len).map_err(io)?;
        let mut written = 0usize;
        let buf = &mut self.reply_body;
        buf.clear();
        header.encode_header(buf, eol);
        header.encode(&st.output, held_range, buf, eol);
        for a in (from..to).step_by(STEP) {
            let b = (a + STEP).min(to);
            written += buf.len();
            self.out.write_all(buf).map_err(io)?;
            buf.clear();
            scratch.clear_records();
            // The chunk's header is out: a panic now can only end the command.
            guarded_call(|| src.records(a..b, &mut scratch))
                .map_err(|e| Streamed::Write(WriteFail::Other(e)))?;
            header.encode(&scratch, 0..scratch.len().min(b - a), buf, eol);
        }
        written += buf.len();
        if written != body_len {
            // The chunk's header promised `body_len` bytes: the stream cannot be mended.
            return Err(Streamed::Write(WriteFail::Other(format!(
                "the record source gave other records when they were written than when the \
                 reply was sized ({written} bytes instead of {body_len}): a RecordSource must \
                 give the same records every time"
            ))));
        }
        self.out.write_all(buf).map_err(io)?;
        self.out.flush().map_err(io)?;
        st.sent += held;
        if st.sent == st.output.len() {
            st.output.clear_records();
            st.sent = 0;
        }
        st.source_sent = to;
        if to < src.len() {
            st.source = Some(src);
        }
        // (A source whose length shrank is done: what it no longer has cannot be sent.)
        Ok(())
    }

    /// Fails when a chunk of these part sizes is over `max_reply_bytes`, after sending the
    /// error reply that says so.
    fn check_reply_size(&mut self, meta: usize, body: usize) -> Result<(), WriteFail> {
        if let Some(limit) = self.rt.max_reply_bytes {
            let size = chunk_size(meta, body);
            if size > limit {
                let text = self.rt.settings.reply_too_large(size, limit).to_string();
                let fatal = self.fatal_json(&text, Vec::new());
                let _ =
                    frame::write_chunk(&mut self.out, &fatal, &[]).and_then(|_| self.out.flush());
                return Err(WriteFail::Other(text));
            }
        }
        Ok(())
    }

    /// Writes a chunk with `meta` and (if `with_body`) `self.reply_body`, enforcing the reply
    /// size limit by substituting an error reply.
    fn write_raw(&mut self, meta: &[u8], with_body: bool) -> Result<(), WriteFail> {
        signals::set_phase(Phase::Writing);
        let body_len = if with_body { self.reply_body.len() } else { 0 };
        self.check_reply_size(meta.len(), body_len)?;
        let body: &[u8] = if with_body { &self.reply_body } else { &[] };
        let r = frame::write_chunk(&mut self.out, meta, body).and_then(|_| self.out.flush());
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(WriteFail::Closed),
            Err(e) => Err(WriteFail::Other(format!("cannot write reply: {e}"))),
        }
    }

    fn write_failure(&mut self, e: WriteFail, final_reply: bool) -> RunOutcome {
        match e {
            // splunkd closed the pipe after we were done: nothing left to say.
            WriteFail::Closed if final_reply => RunOutcome::Completed,
            WriteFail::Closed => {
                let text = "splunkd closed the output pipe before the command finished".to_owned();
                let _ = writeln!(self.log, "error: {text}");
                RunOutcome::Failed(text)
            }
            WriteFail::Other(text) => {
                let _ = writeln!(self.log, "error: {text}");
                RunOutcome::Failed(text)
            }
        }
    }

    /// A bad first frame (the getinfo request). A v1-looking first line means the peer
    /// speaks v1 and would not understand a v2 reply: logged, no reply.
    fn frame_failure(&mut self, e: FrameError) -> RunOutcome {
        if let FrameError::LegacyProtocol { .. } = e {
            let text = e.to_string();
            let _ = writeln!(self.log, "error: {text}");
            return RunOutcome::Failed(text);
        }
        let mut o = Output::new();
        self.frame_failure_with(e, &mut o)
    }

    /// A bad frame after getinfo: the peer has spoken v2, so every error (a v1-looking line
    /// included: it is garbage here) gets an error reply.
    fn frame_failure_with(&mut self, e: FrameError, output: &mut Output) -> RunOutcome {
        let e = self.rt.settings.rename_frame(e);
        self.fail(&e.to_string(), output.take_messages())
    }

    /// The fatal-error reply metadata, shortened to fit the reply limit: earlier messages are
    /// dropped first, then the text is cut (at a character boundary, marked with `…`), but never
    /// below [`MIN_FATAL_TEXT`] bytes: an error nobody can read helps no one, and real
    /// `maxchunksize` values are megabytes.
    fn fatal_json(&self, text: &str, messages: Vec<Message>) -> Vec<u8> {
        let Some(limit) = self.rt.max_reply_bytes else {
            return Reply::fatal(text, messages).to_json();
        };
        let fits = |m: &[u8]| chunk_size(m.len(), 0) <= limit;
        if !messages.is_empty() {
            let full = Reply::fatal(text, messages).to_json();
            if fits(&full) {
                return full;
            }
        }
        let mut cut = text.len();
        loop {
            let short = if cut == text.len() {
                text.to_owned()
            } else {
                format!("{}…", &text[..cut])
            };
            let meta = Reply::fatal(&short, Vec::new()).to_json();
            if fits(&meta) || cut <= MIN_FATAL_TEXT {
                return meta;
            }
            cut = (cut / 2).max(MIN_FATAL_TEXT);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
        }
    }

    /// Sends the fatal-error reply (best effort) and logs the error.
    fn fail(&mut self, text: &str, messages: Vec<Message>) -> RunOutcome {
        let _ = writeln!(self.log, "error: {text}");
        signals::set_phase(Phase::Writing);
        let meta = self.fatal_json(text, messages);
        let _ = frame::write_chunk(&mut self.out, &meta, &[]).and_then(|_| self.out.flush());
        RunOutcome::Failed(text.to_owned())
    }
}

/// Moves the protocol channel off fd 1: duplicates fd 1 to a private close-on-exec
/// descriptor, which the session writes, and points fd 1 at stderr, so a `println!` (or a
/// library printing to stdout) inside a hook lands in search.log instead of corrupting the
/// chunk stream. `None` (stdout used as is) when a descriptor call fails or off Unix.
#[cfg(unix)]
fn guard_stdout() -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    let _ = io::stdout().flush();
    // SAFETY: fcntl/dup2/close on the standard descriptors and on the new descriptor we own;
    // no memory is passed. On failure nothing is changed (the new descriptor is closed).
    unsafe {
        let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            return None;
        }
        if libc::dup2(2, 1) < 0 {
            libc::close(fd);
            return None;
        }
        Some(std::fs::File::from_raw_fd(fd))
    }
}

#[cfg(not(unix))]
fn guard_stdout() -> Option<std::fs::File> {
    None
}

/// True when a body holds anything after its header line.
fn has_data_rows(body: &[u8]) -> bool {
    memchr::memchr(b'\n', body)
        .is_some_and(|i| body[i + 1..].iter().any(|&b| b != b'\n' && b != b'\r'))
}

/// Output held between replies of one session.
struct ExecState {
    output: Output,
    /// Records of `output` already sent (a prefix).
    sent: usize,
    /// Records made on demand ([`Output::stream`]), sent after `output`'s.
    source: Option<Box<dyn RecordSource>>,
    /// Records of `source` already sent (a prefix).
    source_sent: usize,
    /// `source`'s [`RecordSource::finish`] has run.
    source_finished: bool,
    /// `maxresultrows`.
    page: usize,
    /// Whether output is paged across replies (events, reporting, generators).
    pageable: bool,
}

impl ExecState {
    /// Records not sent yet.
    fn pending(&self) -> usize {
        let streamed = self
            .source
            .as_ref()
            .map_or(0, |s| s.len().saturating_sub(self.source_sent));
        self.output.len() - self.sent + streamed
    }

    /// Takes the record source a hook handed to [`Output::stream`].
    fn adopt_source(&mut self) -> Result<(), String> {
        if let Some(src) = self.output.source.take() {
            if self.source.is_some() {
                return Err(
                    "Output::stream was called again before the previous record \
                            source was sent"
                        .to_owned(),
                );
            }
            self.source = Some(src.0);
            self.source_sent = 0;
            self.source_finished = false;
        }
        Ok(())
    }

    /// Records per reply.
    fn page(&self) -> usize {
        if self.pageable {
            self.page
        } else {
            usize::MAX
        }
    }

    /// `Some(n)` when records are pending but none has a field (nothing to write them under).
    fn empty_records(&self) -> Option<usize> {
        (self.pending() > 0 && self.output.columns.is_empty()).then(|| self.pending())
    }
}

/// The metadata of an execute reply: `finished`, and the messages and metrics pending in
/// `st`'s output (taken).
fn reply_meta(st: &mut ExecState, finished: bool) -> Vec<u8> {
    let mut reply = Reply::execute(finished, st.output.take_messages());
    let metrics = std::mem::take(&mut st.output.metrics);
    if !metrics.is_empty() {
        reply
            .inspector
            .get_or_insert_with(Inspector::default)
            .metrics = metrics;
    }
    reply.to_json()
}

/// The error text of a fatal reply is never cut shorter than this (bytes).
const MIN_FATAL_TEXT: usize = 512;

/// Bytes of a chunk with these part sizes: `chunked 1.0,M,B\n` + M + B.
fn chunk_size(meta: usize, body: usize) -> usize {
    // "chunked 1.0," + "," + "\n" = 14 bytes, plus the two decimal lengths.
    let digits = |n: usize| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    14 + digits(meta) + digits(body) + meta + body
}
