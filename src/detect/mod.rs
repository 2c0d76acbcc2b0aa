//! The T1651 detection domain. Knows nothing of the Splunk protocol.
//!
//! # Flow
//! [`options::Options`] (from SPL `name=value` pairs) → per event [`normalize`] (JSON
//! `_raw` or flattened [`fields::EventFields`]; truncated records used only when what the
//! detection needs was read whole; an [`normalize::EventId`] per record) →
//! [`engine::Engine`] (copies of a record dropped, invocation collapse, aggregation,
//! map/reduce partial state) → [`row::OutputRow`]s (columns listed in [`columns`]) plus one
//! warning text.
//!
//! # API for front ends
//! ```text
//! options::OPTION_NAMES: &[&str]                                  // the fixed option list
//! options::Options::parse(pairs: impl IntoIterator<Item=(N, V)>) -> Result<Options, OptionError>
//! Options::map_phase_args(&self) -> String                        // `phase=map threshold="5" …`
//! Options::map_phase_command(&self) -> String                     // `t1651detect phase=map …` (streaming_preop)
//! fields::required_fields(&Options) -> Vec<String>                // getinfo required_fields
//! engine::Engine::new(Options) -> Engine
//! Engine::ingest_fields<F: EventFields + ?Sized>(&mut self, &F) -> Disposition   // Splunk event or partial row
//! Engine::ingest_json(&mut self, raw: &[u8], splunk_time: Option<&str>) -> Disposition  // one JSON record
//! Engine::event_row<F: EventFields + ?Sized>(&mut self, &F) -> Option<OutputRow> // mode=events
//! Engine::event_row_json(&mut self, raw: &[u8], splunk_time: Option<&str>) -> Option<OutputRow>
//! Engine::prepare<F>(&Options, &F) -> Prepared       // the pure half (any thread) …
//! Engine::ingest_prepared<F>(&mut self, &Prepared, &F) -> Disposition  // … the stateful half, in input order (reads only)
//! Engine::event_row_prepared<F>(&mut self, Prepared, &F) -> Option<OutputRow>
//! Engine::finish(self) -> Finished { rows, warning: Option<String>, stats }
//!     // summary rows (sorted) | phase=map partial rows (column `t1651_state`) | nothing for mode=events
//! Engine::finish_with<F: FnMut(&OutputRow)>(self, sink: F) -> FinishInfo { warning, stats }  // same rows, streamed (one reused row: clone to keep)
//! Engine::into_summary(self) -> Result<Summary, Engine>          // mode=summary: rows on demand (Err: other modes)
//! Summary::rows(&mut self, Range<usize>, &mut dyn FnMut(&OutputRow))  // any range, any number of times, same rows
//! Summary::row(&self, usize) -> BuiltRow { row(), cut }           // one row, on any thread …
//! Summary::count_made(&mut self, usize, cut: bool)                // … its cut flag, in row order
//! Summary::info(&mut self) -> FinishInfo                          // warning and stats (cut rows counted once)
//! Options::wants_map_phase(&self) -> bool                         // return streaming_preop at getinfo?
//! raw::split_records(doc: &[u8]) -> Result<Vec<&[u8]>, RecordsError>  // {"records":[…]}, {"Records":[…]}, [...]
//! ```
//! A map-phase partial row is an [`row::OutputRow`] with one column, [`fields::STATE_FIELD`];
//! the reduce side feeds it back through `ingest_fields` like any event.
//!
//! # Clouds
//! Azure Activity Log (REST, Event Hub/storage records, flattened fields), AWS CloudTrail, and
//! Google Cloud audit logs (a Cloud Audit Logs `LogEntry`, bare or as the `data` of a Pub/Sub
//! message, object or base64: the normaliser unwraps it, so every front end reads it alike).
//! Google Cloud metadata writes carry a script-key gate that is decided per invocation
//! (`operation.id`), see [`engine`].

pub mod columns;
pub mod engine;
pub mod fields;
mod intern;
pub mod normalize;
pub mod operations;
pub mod options;
pub mod raw;
pub mod resource;
pub mod row;
pub mod time;
