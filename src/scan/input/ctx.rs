//! Per-input state shared by the decoding stages: where records are delivered and problems
//! reported, and whether the input was read to its end.

use std::path::Path;

use super::{Event, Location, Offer, Problem, ProblemKind, ReadStats, Sink, Skipped};

/// One input being decoded.
pub(super) struct Ctx<'a, S> {
    pub(super) file: &'a Path,
    sink: &'a mut S,
    stats: &'a mut ReadStats,
    /// 1-based message number while decoding an Avro message body.
    pub(super) message: Option<u64>,
    /// The input is gzip-compressed (a read error is then corrupt compressed data).
    pub(super) gzip: bool,
    /// The input held something other than whitespace.
    pub(super) nonempty: bool,
    /// Well-formed values read (records, containers, Avro messages).
    pub(super) values: u64,
    /// An input-level problem was reported (the input was not read to its end).
    pub(super) failed: bool,
    /// The input was skipped as a whole (plain text found in a directory).
    pub(super) skipped: bool,
}

/// Position of a problem inside an input.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct At {
    pub(super) line: Option<u64>,
    pub(super) column: Option<u64>,
    pub(super) index: Option<u64>,
    pub(super) offset: Option<u64>,
}

impl<'a, S: Sink> Ctx<'a, S> {
    pub(super) fn new(file: &'a Path, sink: &'a mut S, stats: &'a mut ReadStats) -> Self {
        Ctx {
            file,
            sink,
            stats,
            message: None,
            gzip: false,
            nonempty: false,
            values: 0,
            failed: false,
            skipped: false,
        }
    }

    /// Delivers one record (`text` starts with `{`).
    pub(super) fn emit(&mut self, text: &str, complete: bool, line: u64, index: Option<u64>) {
        self.stats.events += 1;
        let ev = Event {
            text,
            complete,
            location: Location {
                file: self.file,
                message: self.message,
                line,
                index,
            },
        };
        self.sink.event(&ev);
    }

    /// Offers a structurally complete record whose JSON is not checked (see
    /// [`Sink::offer`]); a record the sink takes (even refused) is counted as an event
    /// until it is [withdrawn](Ctx::withdraw).
    pub(super) fn offer(&mut self, text: &str, line: u64, index: Option<u64>) -> Offer {
        let ev = Event {
            text,
            complete: true,
            location: Location {
                file: self.file,
                message: self.message,
                line,
                index,
            },
        };
        let offer = self.sink.offer(&ev);
        if offer != Offer::CheckFirst {
            self.stats.events += 1;
        }
        offer
    }

    /// The record last refused by the sink is malformed: it is no event.
    pub(super) fn withdraw(&mut self) {
        self.stats.events -= 1;
        self.sink.withdraw();
    }

    /// Reports a malformed piece of an otherwise readable input.
    pub(super) fn record_problem(&mut self, at: At, kind: ProblemKind, detail: String) {
        self.report(at, kind, false, detail);
    }

    /// Reports that the input could not be read (to its end).
    pub(super) fn input_problem(&mut self, at: At, kind: ProblemKind, detail: String) {
        self.report(at, kind, true, detail);
    }

    fn report(&mut self, at: At, kind: ProblemKind, input_failed: bool, detail: String) {
        let p = Problem {
            file: self.file.to_path_buf(),
            message: self.message,
            line: at.line,
            column: at.column,
            index: at.index,
            offset: at.offset,
            kind,
            input_failed: input_failed && !self.failed,
            detail,
        };
        *self.stats.problems.entry(kind).or_default() += 1;
        if p.input_failed {
            self.failed = true;
            self.stats.inputs_failed += 1;
        }
        self.sink.problem(&p);
    }

    /// Skips the whole input (plain text in a directory).
    pub(super) fn skip(&mut self, s: &Skipped) {
        self.skipped = true;
        // Not read after all: counted as skipped, not as a file.
        self.stats.files = self.stats.files.saturating_sub(1);
        *self.stats.skipped.entry(s.reason).or_default() += 1;
        self.sink.skipped(s);
    }

    /// Ends the input: one that is not empty yet yielded nothing at all (and was not
    /// already reported as failed) fails.
    pub(super) fn finish(mut self) {
        if self.nonempty && self.values == 0 && !self.failed && !self.skipped {
            self.input_problem(
                At::default(),
                ProblemKind::UnknownFormat,
                "not empty, yet no record could be read from it".into(),
            );
        }
    }
}
