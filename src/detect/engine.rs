//! The detection engine: invocation collapse, aggregation, output rows, and the mergeable
//! partial state of the distributed (map/reduce) mode.
//!
//! Memory grows with groups and invocations, not with events: an event is normalised,
//! merged into a compact invocation record (integers only: strings are interned) or
//! straight into its group, and dropped. The exception is de-duplication, bounded by
//! `max_event_ids`: the ids of distinct events are remembered (16 bytes each plus the set's
//! overhead), and a map phase holds its uncorrelated events (whose copies only the reducer
//! can recognise) until it ships them.
//!
//! Semantics:
//! * An **invocation** is the set of Azure rows sharing (operation, correlationId,
//!   target, document). Target and document are part of the key because one ARM
//!   deployment gives the same correlationId to every resource it touches: keying on
//!   (operation, correlationId) alone would fold ten extension installs into one. The
//!   Started/Accepted/Succeeded rows of one run share all four and collapse.
//!   Outcome: failed if any row failed, else succeeded if any succeeded, else in progress.
//!   A row without correlationId, and every AWS event, is its own invocation.
//!   Google Cloud: the rows sharing (operation, `operation.id`, target) are one invocation
//!   (the first and last records of a long-running operation); the document (the script
//!   keys named) is merged into the invocation, not part of its key, because the first
//!   record may name keys the last one does not.
//! * **Script-key gate** (Google Cloud metadata writes): an invocation of
//!   `compute.instances.setmetadata` / `compute.projects.setcommoninstancemetadata` counts
//!   (in `invocation_count` and `failed_count`) only if one of its rows adds or modifies a
//!   script key; otherwise it is dropped when it is folded. The gate is two flag bits ORed
//!   together like the status flags, so it merges across map processes like them.
//! * Conflicting attributes among rows of one invocation (caller, resource group,
//!   subscription, source IP) are merged as "smallest non-empty" so that the result does
//!   not depend on arrival order or on how the input was split across map processes.
//! * Failed invocations always count in `failed_count`; they count in
//!   `invocation_count` (and contribute targets, IPs, times) only with `include_failed`.
//!   Groups with `invocation_count` 0 are not emitted.
//! * Groups: (caller_identity, resource_group, subscription_id, operation_lower
//!   [, span bucket of the invocation's first row]).
//! * **Duplicates**: a record seen twice (same [`EventId`]) counts once; the copies are
//!   counted in [`Stats::duplicates`]. Ids are remembered up to `max_event_ids`; events
//!   beyond it are not checked (counted in [`Stats::unchecked_for_duplicates`]). A map
//!   phase cannot know what another map saw, so it ships event ids with its partial state
//!   (per open invocation, and one row per uncorrelated event) and the reducer finishes
//!   the de-duplication: copies spread over indexers give the answer of one copy.
//! * **Selectors** (targets that select machines instead of naming them) never count in
//!   `vm_count` and make their group a finding (`multi_vm_targeting=TRUE`).
//! * Every merge is commutative and associative, which is what makes
//!   `reduce(map(p1), …, map(pn)) == direct run` hold for any split.
//! * **Limits** (`max_groups`, `max_invocations`, `max_event_ids`) keep what came first: events
//!   in input order, and the invocations still open at the end oldest first, so a search gives
//!   the same rows in every run (never the hash tables' order).
//! * **Threads**: [`Engine::prepare`] is the pure half of ingesting an event (it reads only
//!   the event and the options); [`Engine::ingest_prepared`] changes the state. Preparing on
//!   several threads and ingesting in input order is the single-threaded answer.

mod invtable;
mod partial;

use crate::detect::fields::{EventFields, STATE_FIELD};
use crate::detect::intern::{Interner, MAX_ID};
use crate::detect::normalize::{
    normalize_fields, normalize_json, CallerType, EventId, Normalized, NormalizedEvent, SkipReason,
    Status, TargetKind,
};
use crate::detect::operations::Cloud;
use crate::detect::options::{parse_guid, Mode, Options, Phase};
use crate::detect::row::{OutValue, OutputRow};
use crate::detect::time;
use hashbrown::{HashMap, HashSet};
use std::cmp::Ordering;

const F_PROGRESS: u8 = 1;
const F_SUCCESS: u8 = 2;
const F_FAILED: u8 = 4;
const F_CROSS: u8 = 8;
/// The invocation counts only if a row names a script key (Google Cloud metadata writes).
const F_GATED: u8 = 16;
/// A row of the invocation adds or modifies a script key.
const F_SCRIPT: u8 = 32;
/// Every flag a partial row may carry.
const F_ALL: u8 = F_PROGRESS | F_SUCCESS | F_FAILED | F_CROSS | F_GATED | F_SCRIPT;
/// Bit 31 of a target id: the target is a resource, not a VM.
const RESOURCE_BIT: u32 = MAX_ID << 1;
/// Bit 30 of a target id: the target is a selector ([`TargetKind::Selector`]).
const SELECTOR_BIT: u32 = MAX_ID;
const KIND_BITS: u32 = RESOURCE_BIT | SELECTOR_BIT;

fn kind_bit(kind: TargetKind) -> u32 {
    match kind {
        TargetKind::Vm => 0,
        TargetKind::Resource => RESOURCE_BIT,
        TargetKind::Selector => SELECTOR_BIT,
    }
}
/// `bucket` of a group when `span` is not set.
const NO_BUCKET: i64 = i64::MIN;

/// What happened to one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A T1651 event, merged into the state.
    Accepted,
    /// A map-phase partial state row, merged.
    Partial,
    /// A valid record of an operation not selected.
    Ignored,
    Skipped(SkipReason),
    /// A copy of a record already seen (same [`EventId`]): not counted again.
    Duplicate,
    /// Dropped because `max_groups` or `max_invocations` was reached.
    Dropped,
}

/// An event read by [`Engine::prepare`], waiting for [`Engine::ingest_prepared`].
#[allow(clippy::large_enum_variant)] // as `Normalized`: the event is the common case
pub enum Prepared<'a> {
    /// A map-phase partial-state row: merged (and parsed) by the stateful half.
    PartialState,
    /// An event, normalised.
    Event(Normalized<'a>),
}

/// Counters over a run. Map-phase counters travel to the reduce side in a stats row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Inputs that were events (not partial rows).
    pub events: u64,
    /// Events of a selected operation.
    pub selected: u64,
    /// Events of other operations (`not_selected`).
    pub ignored: u64,
    /// Skips by [`SkipReason::index`].
    pub skipped: [u64; SkipReason::ALL.len()],
    pub partial_rows: u64,
    /// Invocations dropped because their group would exceed `max_groups`.
    pub dropped_by_max_groups: u64,
    /// Rows dropped because their invocation would exceed `max_invocations`.
    pub dropped_by_max_invocations: u64,
    /// Output rows in which a multivalue column was cut to `max_values`.
    pub truncated_rows: u64,
    /// Copies of records already seen, ignored.
    pub duplicates: u64,
    /// Events not checked for duplicates because `max_event_ids` ids were remembered.
    pub unchecked_for_duplicates: u64,
}

impl Stats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Non-zero counts of events not used, by stable reason name: every [`SkipReason`]
    /// plus `not_selected` (valid records of other operations) and `duplicate` (copies of a
    /// record already counted), largest first.
    pub fn unused_by_reason(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = SkipReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.skipped[r.index()]))
            .chain([
                ("not_selected", self.ignored),
                ("duplicate", self.duplicates),
            ])
            .filter(|(_, n)| *n > 0)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Summary rows (sorted), or partial-state rows in `phase=map`, or nothing in
    /// `mode=events` (those rows are returned per event).
    pub rows: Vec<OutputRow>,
    /// The one WARN message for the user, if anything was skipped, dropped or cut.
    /// Always `None` in `phase=map` (the counters travel to the reducer).
    pub warning: Option<String>,
    pub stats: Stats,
}

/// The end of a run whose rows went to a sink ([`Engine::finish_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishInfo {
    pub warning: Option<String>,
    pub stats: Stats,
}

/// A correlation id: a GUID packed in 16 bytes, or an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Corr {
    Guid([u8; 16]),
    Str(u32),
}

/// Appends a packed GUID in its canonical lower-case text (`8-4-4-4-12` hex digits).
fn push_guid(s: &mut String, g: &[u8; 16]) {
    // Two hex digits per byte by table into a stack buffer, one copy into `s` (`format!`
    // per byte cost ~450 instructions, a `push` per digit ~15).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [b'-'; 36];
    let mut k = 0;
    for (i, x) in g.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            k += 1;
        }
        b[k] = HEX[usize::from(x >> 4)];
        b[k + 1] = HEX[usize::from(x & 15)];
        k += 2;
    }
    s.push_str(std::str::from_utf8(&b).expect("hex digits and dashes"));
}

/// Who made a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Principal {
    caller: u32,
    ctype: CallerType,
    tenant: u32,
    session: u32,
    /// The AWS service that acted (`invoked_by`).
    via: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct InvKey {
    corr: Corr,
    /// Target id (with [`RESOURCE_BIT`]) or 0.
    target: u32,
    doc: u32,
    op: u16,
}

#[derive(Debug, Clone, Copy)]
struct InvState {
    first: i64,
    last: i64,
    /// Interned [`Ctx`].
    ctx: u32,
    src: u32,
    /// Document merged from the rows (smallest non-empty) when it is not part of the key
    /// (Google Cloud); 0 otherwise.
    doc: u32,
    flags: u8,
}

/// Who and where: the group-defining attributes of an invocation, interned together so an
/// open invocation stores one id instead of three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Ctx {
    principal: u32,
    rg: u32,
    sub: u32,
}

/// One finished invocation, ready to fold into its group.
struct Inv<'t> {
    op: u16,
    principal: u32,
    rg: u32,
    sub: u32,
    src: u32,
    doc: u32,
    first: i64,
    last: i64,
    flags: u8,
    targets: &'t [u32],
    corr: Option<Corr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey {
    bucket: i64,
    caller: u32,
    rg: u32,
    sub: u32,
    op: u16,
}

#[derive(Debug, Clone)]
struct GroupState {
    counted: u64,
    failed: u64,
    first: i64,
    last: i64,
    vms: HashSet<u32>,
    resources: HashSet<u32>,
    selectors: HashSet<u32>,
    srcs: HashSet<u32>,
    docs: HashSet<u32>,
    sessions: HashSet<u32>,
    vias: HashSet<u32>,
    /// The `max_values` smallest correlation ids, sorted; `corrs_cut` if any was dropped.
    corrs: Vec<Corr>,
    corrs_cut: bool,
    ctype: Option<CallerType>,
    tenant: u32,
    cross: bool,
}

impl GroupState {
    fn new() -> Self {
        GroupState {
            counted: 0,
            failed: 0,
            first: i64::MAX,
            last: i64::MIN,
            vms: HashSet::new(),
            resources: HashSet::new(),
            selectors: HashSet::new(),
            srcs: HashSet::new(),
            docs: HashSet::new(),
            sessions: HashSet::new(),
            vias: HashSet::new(),
            corrs: Vec::new(),
            corrs_cut: false,
            ctype: None,
            tenant: 0,
            cross: false,
        }
    }
}

/// Deterministic merge of caller types: any known type beats `unknown`, else the smaller.
fn merge_ctype(a: Option<CallerType>, b: CallerType) -> Option<CallerType> {
    Some(match a {
        None => b,
        Some(CallerType::Unknown) => b,
        Some(a) if b == CallerType::Unknown => a,
        Some(a) => a.min(b),
    })
}

/// The detection engine. Feed it events (and/or partial rows), then [`Engine::finish`].
///
/// ```
/// use t1651::detect::{engine::Engine, options::Options};
/// let mut e = Engine::new(Options::default());
/// e.ingest_json(br#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand",
///   "eventTime":"2024-08-02T09:08:56Z","recipientAccountId":"111",
///   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/bob","accountId":"111"},
///   "requestParameters":{"instanceIds":["i-1","i-2"]}}"#, None);
/// let done = e.finish();
/// assert_eq!(done.rows.len(), 1);
/// ```
pub struct Engine {
    opts: Options,
    strings: Interner,
    principals: Vec<Principal>,
    principal_ids: HashMap<Principal, u32>,
    contexts: Vec<Ctx>,
    ctx_ids: HashMap<Ctx, u32>,
    invocations: invtable::InvTable,
    groups: HashMap<GroupKey, GroupState>,
    stats: Stats,
    /// Scratch buffer for target ids of one event.
    scratch: Vec<u32>,
    /// Event ids seen (at most `max_event_ids`).
    seen: HashSet<EventId>,
    /// `phase=map` only: the ids of the events merged into each open invocation, shipped
    /// with it so the reducer can count copies seen by other maps.
    inv_ids: HashMap<InvKey, Vec<EventId>>,
    /// `phase=map` only: uncorrelated events (AWS, Azure rows without correlationId), kept
    /// whole with their id instead of folded, so the reducer can drop copies.
    pending: Vec<PendingEvent>,
}

/// An uncorrelated event held by the map phase ([`Engine::pending`]).
#[derive(Debug, Clone)]
struct PendingEvent {
    id: EventId,
    op: u16,
    principal: u32,
    rg: u32,
    sub: u32,
    src: u32,
    doc: u32,
    time: i64,
    flags: u8,
    targets: Vec<u32>,
    corr: Option<Corr>,
}

impl Engine {
    pub fn new(opts: Options) -> Self {
        Engine {
            opts,
            strings: Interner::new(),
            principals: Vec::new(),
            principal_ids: HashMap::new(),
            contexts: Vec::new(),
            ctx_ids: HashMap::new(),
            invocations: invtable::InvTable::default(),
            groups: HashMap::new(),
            stats: Stats::default(),
            scratch: Vec::new(),
            seen: HashSet::new(),
            inv_ids: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Remember an event id: `Some(true)` when new, `Some(false)` for a copy (counted),
    /// `None` when `max_event_ids` ids are held already (not checked; counted).
    fn remember(&mut self, id: EventId) -> Option<bool> {
        if self.seen.contains(&id) {
            self.stats.duplicates += 1;
            return Some(false);
        }
        if self.seen.len() >= self.opts.max_event_ids {
            self.stats.unchecked_for_duplicates += 1;
            return None;
        }
        self.seen.insert(id);
        Some(true)
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of open invocations and groups (for memory accounting).
    pub fn sizes(&self) -> (usize, usize) {
        (self.invocations.len(), self.groups.len())
    }

    // ------------------------------------------------------------------ ingest

    /// Ingest one JSON audit record (a Splunk `_raw`, or a record of an exported file).
    /// `splunk_time` is `_time` when known (fallback timestamp).
    pub fn ingest_json(&mut self, raw: &[u8], splunk_time: Option<&str>) -> Disposition {
        self.stats.events += 1;
        let n = normalize_json(raw, splunk_time, &self.opts);
        self.ingest_normalized(&n)
    }

    /// Ingest one Splunk event or map-phase partial row (a row with a non-empty
    /// `t1651_state` field). Uses `_raw` when it is JSON, else the flattened fields.
    ///
    /// Equals `ingest_prepared(Engine::prepare(opts, f), f)`.
    pub fn ingest_fields<F: EventFields + ?Sized>(&mut self, f: &F) -> Disposition {
        let p = Engine::prepare(&self.opts, f);
        self.ingest_prepared(&p, f)
    }

    /// The pure half of [`Engine::ingest_fields`] and [`Engine::event_row`]: everything
    /// that reads one event and nothing of the engine's state (normalisation, the `_raw`
    /// scan), so it may run on another thread. Feeding the results to
    /// [`Engine::ingest_prepared`] (or [`Engine::event_row_prepared`]) in input order gives
    /// exactly the answer of feeding the events themselves: every state change (interning,
    /// de-duplication, limits, counters) happens there, in that order.
    pub fn prepare<'a, F: EventFields + ?Sized>(opts: &Options, f: &'a F) -> Prepared<'a> {
        if f.value(STATE_FIELD).is_some_and(|s| !s.is_empty()) {
            return Prepared::PartialState;
        }
        Prepared::Event(normalize_fields(f, opts))
    }

    /// The stateful half of [`Engine::ingest_fields`]. `f` must be the event `p` was
    /// prepared from (a partial-state row is read from it here). `p` is only read: it may
    /// be dropped elsewhere (on the thread that allocated it).
    pub fn ingest_prepared<F: EventFields + ?Sized>(
        &mut self,
        p: &Prepared<'_>,
        f: &F,
    ) -> Disposition {
        match p {
            Prepared::PartialState => {
                let state = f.value(STATE_FIELD).unwrap_or("");
                self.stats.partial_rows += 1;
                match self.ingest_partial(state) {
                    Ok(()) => Disposition::Partial,
                    Err(()) => {
                        self.stats.skipped[SkipReason::BadPartialState.index()] += 1;
                        Disposition::Skipped(SkipReason::BadPartialState)
                    }
                }
            }
            Prepared::Event(n) => {
                self.stats.events += 1;
                self.ingest_normalized(n)
            }
        }
    }

    /// Ingest an already normalised event (or its disposition).
    pub fn ingest_normalized(&mut self, n: &Normalized<'_>) -> Disposition {
        match n {
            Normalized::Event(ev) => {
                self.stats.selected += 1;
                self.add_event(ev)
            }
            Normalized::Ignored => {
                self.stats.ignored += 1;
                Disposition::Ignored
            }
            &Normalized::Skip(r) => {
                self.stats.skipped[r.index()] += 1;
                Disposition::Skipped(r)
            }
        }
    }

    fn intern_principal(&mut self, p: Principal) -> u32 {
        if let Some(&id) = self.principal_ids.get(&p) {
            return id;
        }
        let id = self.principals.len() as u32;
        self.principals.push(p);
        self.principal_ids.insert(p, id);
        id
    }

    fn intern_ctx(&mut self, c: Ctx) -> u32 {
        if let Some(&id) = self.ctx_ids.get(&c) {
            return id;
        }
        let id = self.contexts.len() as u32;
        self.contexts.push(c);
        self.ctx_ids.insert(c, id);
        id
    }

    /// Field-wise deterministic merge of two contexts: smallest principal, smallest
    /// non-empty resource group and subscription.
    fn merge_ctx(&mut self, a: u32, b: u32) -> u32 {
        if a == b {
            return a;
        }
        let (ca, cb) = (self.contexts[a as usize], self.contexts[b as usize]);
        let merged = Ctx {
            principal: if self.cmp_principal(cb.principal, ca.principal) == Ordering::Less {
                cb.principal
            } else {
                ca.principal
            },
            rg: self.strings.min_nonempty(ca.rg, cb.rg),
            sub: self.strings.min_nonempty(ca.sub, cb.sub),
        };
        self.intern_ctx(merged)
    }

    /// Compare principals by their strings (for deterministic merges).
    fn cmp_principal(&self, a: u32, b: u32) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        let (pa, pb) = (self.principals[a as usize], self.principals[b as usize]);
        // A principal with a caller beats one without.
        (pa.caller == 0)
            .cmp(&(pb.caller == 0))
            .then_with(|| self.strings.cmp(pa.caller, pb.caller))
            .then_with(|| pa.ctype.cmp(&pb.ctype))
            .then_with(|| self.strings.cmp(pa.tenant, pb.tenant))
            .then_with(|| self.strings.cmp(pa.session, pb.session))
    }

    fn corr_of(&mut self, s: &str) -> Corr {
        match parse_guid(s) {
            Some(g) => Corr::Guid(g),
            None => Corr::Str(self.strings.intern(s)),
        }
    }

    fn corr_string(&self, c: Corr) -> String {
        let mut s = String::new();
        self.push_corr(&mut s, c);
        s
    }

    /// Appends [`Self::corr_string`]'s text.
    fn push_corr(&self, s: &mut String, c: Corr) {
        match c {
            Corr::Guid(g) => push_guid(s, &g),
            Corr::Str(id) => s.push_str(self.strings.get(id)),
        }
    }

    fn cmp_corr(&self, a: Corr, b: Corr) -> Ordering {
        match (a, b) {
            (Corr::Guid(x), Corr::Guid(y)) => x.cmp(&y),
            (Corr::Str(x), Corr::Str(y)) => self.strings.cmp(x, y),
            _ => self.corr_string(a).cmp(&self.corr_string(b)),
        }
    }

    fn flags_of(ev: &NormalizedEvent<'_>) -> u8 {
        let f = match ev.status {
            Status::Succeeded => F_SUCCESS,
            Status::Failed => F_FAILED,
            Status::Started | Status::Accepted | Status::Unknown => F_PROGRESS,
        };
        let bit = |b: bool, f: u8| if b { f } else { 0 };
        f | bit(ev.cross_tenant, F_CROSS) | bit(ev.gated, F_GATED) | bit(ev.script_key, F_SCRIPT)
    }

    /// Merge one event (unless it is a copy of one already merged).
    fn add_event(&mut self, ev: &NormalizedEvent<'_>) -> Disposition {
        let fresh = match ev.id.map(|id| self.remember(id)) {
            Some(Some(false)) => return Disposition::Duplicate,
            Some(Some(true)) => true,
            // No identifier, or `max_event_ids` reached.
            Some(None) | None => false,
        };
        // Only a map phase that remembered the id ships it: past `max_event_ids` it folds
        // as before (and the reducer cannot de-duplicate those, as the warning says).
        let ship_id = fresh && self.opts.phase == Some(Phase::Map);
        let s = &mut self.strings;
        let principal = Principal {
            caller: s.intern(ev.caller.as_deref().unwrap_or("")),
            ctype: ev.caller_type,
            tenant: s.intern(ev.caller_tenant.as_deref().unwrap_or("")),
            session: s.intern(ev.caller_session.as_deref().unwrap_or("")),
            via: s.intern(ev.invoked_by.as_deref().unwrap_or("")),
        };
        let rg = s.intern(ev.resource_group.as_deref().unwrap_or(""));
        let sub = s.intern(ev.subscription.as_deref().unwrap_or(""));
        let src = s.intern(ev.src.as_deref().unwrap_or(""));
        let doc = s.intern(ev.document.as_deref().unwrap_or(""));
        let mut targets = std::mem::take(&mut self.scratch);
        targets.clear();
        for (kind, t) in &ev.targets {
            let id = self.strings.intern(t);
            if id != 0 {
                targets.push(id | kind_bit(*kind));
            }
        }
        let principal = self.intern_principal(principal);
        let flags = Self::flags_of(ev);
        let kept = match (&ev.correlation_id, ev.cloud) {
            (Some(corr), Cloud::Azure | Cloud::Gcp) => {
                // Google Cloud: the document (script keys) may be on one row only.
                let (key_doc, state_doc) = match ev.cloud {
                    Cloud::Gcp => (0, doc),
                    _ => (doc, 0),
                };
                let key = InvKey {
                    corr: self.corr_of(corr),
                    target: targets.first().copied().unwrap_or(0),
                    doc: key_doc,
                    op: ev.op,
                };
                let ctx = self.intern_ctx(Ctx { principal, rg, sub });
                let st = InvState {
                    first: ev.time,
                    last: ev.time,
                    ctx,
                    src,
                    doc: state_doc,
                    flags,
                };
                let kept = self.merge_invocation(key, st);
                if let (true, true, Some(id)) = (kept, ship_id, ev.id) {
                    self.inv_ids.entry(key).or_default().push(id);
                }
                kept
            }
            _ if ship_id => {
                let corr = ev.request_id.as_deref().map(|r| self.corr_of(r));
                self.pending.push(PendingEvent {
                    id: ev.id.expect("ship_id implies an id"),
                    op: ev.op,
                    principal,
                    rg,
                    sub,
                    src,
                    doc,
                    time: ev.time,
                    flags,
                    targets: targets.clone(),
                    corr,
                });
                true
            }
            _ => {
                let corr = ev.request_id.as_deref().map(|r| self.corr_of(r));
                self.fold(&Inv {
                    op: ev.op,
                    principal,
                    rg,
                    sub,
                    src,
                    doc,
                    first: ev.time,
                    last: ev.time,
                    flags,
                    targets: &targets,
                    corr,
                })
            }
        };
        self.scratch = targets;
        if kept {
            Disposition::Accepted
        } else {
            Disposition::Dropped
        }
    }

    fn merge_invocation(&mut self, key: InvKey, st: InvState) -> bool {
        let len = self.invocations.len();
        if let Some(cur) = self.invocations.get(&key) {
            let merged = InvState {
                first: cur.first.min(st.first),
                last: cur.last.max(st.last),
                ctx: self.merge_ctx(cur.ctx, st.ctx),
                src: self.strings.min_nonempty(cur.src, st.src),
                doc: self.strings.min_nonempty(cur.doc, st.doc),
                flags: cur.flags | st.flags,
            };
            self.invocations.put(key, merged);
            return true;
        }
        if len >= self.opts.max_invocations {
            self.stats.dropped_by_max_invocations += 1;
            return false;
        }
        self.invocations.put(key, st);
        true
    }

    /// Fold a finished invocation into its group. Returns false if dropped by `max_groups`.
    fn fold(&mut self, inv: &Inv<'_>) -> bool {
        if inv.flags & F_GATED != 0 && inv.flags & F_SCRIPT == 0 {
            // A metadata write that set no script key: not T1651, not even a failed one.
            return true;
        }
        let failed = inv.flags & F_FAILED != 0;
        let counted = !failed || self.opts.include_failed;
        let bucket = match self.opts.span_micros {
            Some(span) => inv.first.div_euclid(span) * span,
            None => NO_BUCKET,
        };
        let p = self.principals[inv.principal as usize];
        let key = GroupKey {
            bucket,
            caller: p.caller,
            rg: inv.rg,
            sub: inv.sub,
            op: inv.op,
        };
        let groups_len = self.groups.len();
        let max_groups = self.opts.max_groups;
        let g = match self.groups.get_mut(&key) {
            Some(g) => g,
            None if groups_len >= max_groups => {
                self.stats.dropped_by_max_groups += 1;
                return false;
            }
            None => self.groups.entry(key).or_insert_with(GroupState::new),
        };
        if failed {
            g.failed += 1;
        }
        if !counted {
            return true;
        }
        g.counted += 1;
        g.first = g.first.min(inv.first);
        g.last = g.last.max(inv.last);
        for &t in inv.targets {
            match t & KIND_BITS {
                RESOURCE_BIT => g.resources.insert(t & !KIND_BITS),
                SELECTOR_BIT => g.selectors.insert(t & !KIND_BITS),
                _ => g.vms.insert(t),
            };
        }
        if inv.src != 0 {
            g.srcs.insert(inv.src);
        }
        if inv.doc != 0 {
            g.docs.insert(inv.doc);
        }
        if p.session != 0 {
            g.sessions.insert(p.session);
        }
        if p.via != 0 {
            g.vias.insert(p.via);
        }
        g.ctype = merge_ctype(g.ctype, p.ctype);
        g.tenant = self.strings.min_nonempty(g.tenant, p.tenant);
        g.cross |= inv.flags & F_CROSS != 0;
        if let Some(c) = inv.corr {
            let mut corrs = std::mem::take(&mut g.corrs);
            let cut = self.insert_corr(&mut corrs, c);
            let g = self.groups.get_mut(&key).expect("group exists");
            g.corrs = corrs;
            g.corrs_cut |= cut;
        }
        true
    }

    /// Insert into a sorted, bounded list of the smallest ids. Returns true if a value was
    /// dropped by the bound.
    fn insert_corr(&self, list: &mut Vec<Corr>, c: Corr) -> bool {
        match list.binary_search_by(|x| self.cmp_corr(*x, c)) {
            Ok(_) => false,
            Err(pos) => {
                if pos >= self.opts.max_values {
                    return true;
                }
                if list.len() == list.capacity() {
                    // Grow by doubling but never past the bound (+1 for the insert-then-pop).
                    let room = (self.opts.max_values + 1).saturating_sub(list.len());
                    list.reserve_exact(list.len().max(4).min(room.max(1)));
                }
                list.insert(pos, c);
                if list.len() > self.opts.max_values {
                    list.pop();
                    return true;
                }
                false
            }
        }
    }

    /// Folds every open invocation into its group (end of a direct or reduce run). When `max_groups` could be reached on
    /// the way, they are folded oldest first (ties broken by their keys' strings), so which
    /// groups are kept never depends on the table's hash order, i.e. on the process.
    fn fold_all_invocations(&mut self) {
        let table = std::mem::take(&mut self.invocations);
        let mut entries: Vec<(InvKey, InvState)> = table.into_entries().collect();
        if self.groups.len().saturating_add(entries.len()) > self.opts.max_groups {
            let s = &self.strings;
            let corr = |c: &Corr| match *c {
                Corr::Guid(g) => (0u8, g, ""),
                Corr::Str(id) => (1u8, [0; 16], s.get(id)),
            };
            entries.sort_unstable_by(|(ka, sa), (kb, sb)| {
                sa.first
                    .cmp(&sb.first)
                    .then_with(|| ka.op.cmp(&kb.op))
                    .then_with(|| corr(&ka.corr).cmp(&corr(&kb.corr)))
                    .then_with(|| s.cmp(ka.target & !KIND_BITS, kb.target & !KIND_BITS))
                    .then_with(|| (ka.target & KIND_BITS).cmp(&(kb.target & KIND_BITS)))
                    .then_with(|| s.cmp(ka.doc, kb.doc))
            });
        }
        for (k, st) in entries {
            let targets = [k.target];
            let targets: &[u32] = if k.target == 0 { &[] } else { &targets };
            let c = self.contexts[st.ctx as usize];
            self.fold(&Inv {
                op: k.op,
                principal: c.principal,
                rg: c.rg,
                sub: c.sub,
                src: st.src,
                doc: if k.doc != 0 { k.doc } else { st.doc },
                first: st.first,
                last: st.last,
                flags: st.flags,
                targets,
                corr: Some(k.corr),
            });
        }
    }

    // ------------------------------------------------------------------ events mode

    /// `mode=events`: the normalised fields of one Splunk event, to append to it; `None`
    /// if the event is not a selected T1651 record (counted as ignored or skipped).
    pub fn event_row<F: EventFields + ?Sized>(&mut self, f: &F) -> Option<OutputRow> {
        self.stats.events += 1;
        let n = normalize_fields(f, &self.opts);
        self.event_row_of(n)
    }

    /// `mode=events` for an event prepared with [`Engine::prepare`]: equals
    /// [`Engine::event_row`] of that event. A partial-state row is not an event: like any
    /// other record `normalize_fields` does not recognise, it is read as one (and so
    /// counted as ignored or skipped).
    pub fn event_row_prepared<F: EventFields + ?Sized>(
        &mut self,
        p: Prepared<'_>,
        f: &F,
    ) -> Option<OutputRow> {
        match p {
            Prepared::Event(n) => {
                self.stats.events += 1;
                self.event_row_of(n)
            }
            Prepared::PartialState => self.event_row(f),
        }
    }

    /// `mode=events` for a JSON record.
    pub fn event_row_json(&mut self, raw: &[u8], splunk_time: Option<&str>) -> Option<OutputRow> {
        self.stats.events += 1;
        let n = normalize_json(raw, splunk_time, &self.opts);
        self.event_row_of(n)
    }

    fn event_row_of(&mut self, n: Normalized<'_>) -> Option<OutputRow> {
        match n {
            // A metadata write record that names no script key: its invocation may still
            // count in summary mode (through a sibling record), but this record shows no
            // T1651 activity of its own.
            Normalized::Event(ev) if ev.gated && !ev.script_key => {
                self.stats.ignored += 1;
                None
            }
            Normalized::Event(ev) => {
                self.stats.selected += 1;
                let (row, cut) = events_row_cut(&ev, &self.opts);
                self.stats.truncated_rows += u64::from(cut);
                Some(row)
            }
            Normalized::Ignored => {
                self.stats.ignored += 1;
                None
            }
            Normalized::Skip(r) => {
                self.stats.skipped[r.index()] += 1;
                None
            }
        }
    }

    // ------------------------------------------------------------------ finish

    /// End the run: summary rows (sorted), or partial-state rows with `phase=map`, or no
    /// rows in `mode=events`; plus the warning text.
    pub fn finish(self) -> Finished {
        let mut rows = Vec::new();
        let FinishInfo { warning, stats } = self.finish_with(|r| rows.push(r.clone()));
        Finished {
            rows,
            warning,
            stats,
        }
    }

    /// [`Engine::finish`], handing each row to `sink` as soon as it is built, in output
    /// order, so that the rows never need to be in memory all at once (a front end can
    /// encode each to its output buffer). The warning is known only after the last row.
    /// Summary rows are built in one reused [`OutputRow`] (its strings keep their
    /// allocations from row to row): clone a row to keep it.
    pub fn finish_with<F: FnMut(&OutputRow)>(self, mut sink: F) -> FinishInfo {
        let mut this = match self.into_summary() {
            Ok(mut summary) => {
                summary.rows(0..summary.len(), &mut sink);
                return summary.info();
            }
            // `mode=events` has no rows left; `phase=map` gives its partial state.
            Err(engine) => engine,
        };
        if (this.opts.mode, this.opts.phase) == (Mode::Summary, Some(Phase::Map)) {
            this.partial_rows(&mut sink);
        }
        // The map phase ships its counters to the reducer in a stats row: one WARN there.
        let warning = match this.opts.phase {
            Some(Phase::Map) => None,
            None => warning_text(&this.stats, &this.opts),
        };
        FinishInfo {
            warning,
            stats: this.stats,
        }
    }

    fn sorted_strings(&self, ids: &HashSet<u32>) -> Vec<&str> {
        let mut v: Vec<&str> = ids.iter().map(|&i| self.strings.get(i)).collect();
        v.sort_unstable();
        v
    }

    /// The groups that give a summary row, in row order.
    fn summary_order(&self) -> Vec<GroupKey> {
        let mut keyed: Vec<(u64, GroupKey)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.counted > 0)
            .map(|(k, g)| (g.counted, *k))
            .collect();
        let s = &self.strings;
        let ops = &self.opts.operations;
        keyed.sort_by(|(ca, ka), (cb, kb)| {
            cb.cmp(ca)
                .then_with(|| s.cmp(ka.caller, kb.caller))
                .then_with(|| s.cmp(ka.sub, kb.sub))
                .then_with(|| s.cmp(ka.rg, kb.rg))
                .then_with(|| ops.spec(ka.op).lower.cmp(&ops.spec(kb.op).lower))
                .then_with(|| ka.bucket.cmp(&kb.bucket))
        });
        keyed.into_iter().map(|(_, k)| k).collect()
    }

    /// Ends a `mode=summary` run with its rows made on demand ([`Summary::rows`]) instead of
    /// all at once: what only ingestion needed (de-duplication ids, open invocations, lookup
    /// maps) is released first. `Err(self)`, untouched, for `phase=map` and `mode=events`.
    #[allow(clippy::result_large_err)] // the engine, moved back as it came in (not boxed)
    pub fn into_summary(mut self) -> Result<Summary, Engine> {
        if (self.opts.mode, self.opts.phase) != (Mode::Summary, None) {
            return Err(self);
        }
        self.fold_all_invocations();
        self.seen = HashSet::new();
        self.inv_ids = HashMap::new();
        self.pending = Vec::new();
        self.principal_ids = HashMap::new();
        self.ctx_ids = HashMap::new();
        self.scratch = Vec::new();
        let order = self.summary_order();
        Ok(Summary {
            engine: self,
            order,
            made: 0,
            buf: RowBuf::new(),
        })
    }

    /// Builds the summary row of one group into `buf`; returns whether a column was cut.
    fn summary_row(&self, k: &GroupKey, g: &GroupState, buf: &mut RowBuf) -> bool {
        let max = self.opts.max_values;
        let spec = self.opts.operations.spec(k.op);
        let caller = match self.strings.get(k.caller) {
            "" => "unknown",
            c => c,
        };
        let vms = self.sorted_strings(&g.vms);
        let selectors = self.sorted_strings(&g.selectors);
        let resources = self.sorted_strings(&g.resources);
        let srcs = self.sorted_strings(&g.srcs);
        let docs = self.sorted_strings(&g.docs);
        let sessions = self.sorted_strings(&g.sessions);
        let vias = self.sorted_strings(&g.vias);
        let mut dest: Vec<&str> = vms.iter().chain(resources.iter()).copied().collect();
        dest.sort_unstable();
        dest.dedup();
        let sub = self.strings.get(k.sub);
        let time_col = if k.bucket == NO_BUCKET {
            g.first
        } else {
            k.bucket
        };
        let mut b = buf.start(max);
        b.single_with("_time", |s| time::push_epoch(s, time_col));
        b.single_with("event_time", |s| time::push_iso(s, g.first));
        b.single("caller_identity", caller);
        b.multi("source_ips", "source_ips_truncated", &srcs, false);
        b.multi("targeted_vms", "targeted_vms_truncated", &vms, false);
        b.multi(
            "target_selectors",
            "target_selectors_truncated",
            &selectors,
            false,
        );
        b.single("resource_group", self.strings.get(k.rg));
        b.single("subscription_id", sub);
        b.single("operation_lower", spec.lower.as_str());
        b.single_with("invocation_count", |s| time::push_decimal(s, g.counted));
        b.single(
            "multi_vm_targeting",
            bool_col(g.vms.len() as u64 > self.opts.threshold || !g.selectors.is_empty()),
        );
        b.single_with("first_seen", |s| time::push_epoch(s, g.first));
        b.single_with("last_seen", |s| time::push_epoch(s, g.last));
        b.single_with("first_seen_utc", |s| time::push_iso(s, g.first));
        b.single_with("last_seen_utc", |s| time::push_iso(s, g.last));
        b.single_with("duration_seconds", |s| {
            time::push_epoch(s, g.last - g.first)
        });
        b.single_with("vm_count", |s| time::push_decimal(s, g.vms.len() as u64));
        b.single_with("failed_count", |s| time::push_decimal(s, g.failed));
        b.single("cloud", spec.cloud.as_str());
        b.single(
            "caller_type",
            g.ctype.unwrap_or(CallerType::Unknown).as_str(),
        );
        b.single("caller_tenant", self.strings.get(g.tenant));
        b.single("cross_tenant", bool_col(g.cross));
        b.multi(
            "caller_session",
            "caller_session_truncated",
            &sessions,
            false,
        );
        b.multi("invoked_by", "invoked_by_truncated", &vias, false);
        b.multi(
            "targeted_resources",
            "targeted_resources_truncated",
            &resources,
            false,
        );
        b.multi("documents", "documents_truncated", &docs, false);
        // Only what the column can show is formatted.
        b.multi_with(
            "correlation_ids",
            "correlation_ids_truncated",
            g.corrs.len(),
            g.corrs_cut,
            |j, s| self.push_corr(s, g.corrs[j]),
        );
        b.single("user", caller);
        b.multi("src", "src_truncated", &srcs, false);
        b.multi("dest", "dest_truncated", &dest, false);
        b.single("vendor_account", sub);
        b.single("vendor_product", vendor_product(spec));
        if k.bucket != NO_BUCKET {
            b.single_with("span_start", |s| time::push_epoch(s, k.bucket));
        }
        b.finish()
    }
}

/// A finished `mode=summary` run ([`Engine::into_summary`]) whose rows are made on demand,
/// as often as asked: the same row for the same index every time, in the order
/// [`Engine::finish`] gives them. A reply can then be sized and written a few rows at a time
/// instead of holding every row (a summary of 100k groups is some 200 MB of text).
pub struct Summary {
    engine: Engine,
    /// The groups that give a row, in row order.
    order: Vec<GroupKey>,
    /// Rows made at least once (a prefix of `order`): a cut row is counted once.
    made: usize,
    buf: RowBuf,
}

impl Summary {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when the run gives no row.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Makes rows `range` (within `0..len()`), in order, each handed to `sink` (the row is
    /// reused for the next one). Rows are built on the calling thread in one reused row
    /// ([`RowBuf`]: a row is some sixty strings); [`Summary::row`] builds them one by one
    /// for other threads.
    pub fn rows(&mut self, range: std::ops::Range<usize>, sink: &mut dyn FnMut(&OutputRow)) {
        for i in range {
            let (e, k) = (&self.engine, &self.order[i]);
            let cut = e.summary_row(k, &e.groups[k], &mut self.buf);
            self.count_made(i, cut);
            sink(&self.buf.row);
        }
    }

    /// Row `i` (within `0..len()`), and whether a column of it was cut: what
    /// [`Summary::rows`] hands over for `i`, built without changing anything, so rows may be
    /// built on several threads. Each thread builds in rows it reuses: a [`BuiltRow`] goes
    /// back to the spare rows of the thread that drops it (`parallel::Pool` drops a result
    /// where it was made), so a row's strings keep their allocations (a row built afresh
    /// was some sixty allocations: two threads took two to three times as long as one for
    /// 99k rows, bench/README.md, seventh round). Hand each row's cut flag to
    /// [`Summary::count_made`] in row order.
    pub fn row(&self, i: usize) -> BuiltRow {
        let mut buf = SPARE_ROWS
            .with(|s| s.borrow_mut().pop())
            .unwrap_or_else(RowBuf::new);
        let (e, k) = (&self.engine, &self.order[i]);
        let cut = e.summary_row(k, &e.groups[k], &mut buf);
        BuiltRow {
            buf: Some(buf),
            cut,
        }
    }

    /// Counts row `i` as made, with whether a column of it was cut ([`Summary::row`]): rows
    /// are counted once, the first time each is made, in row order (a row asked again, or
    /// before the ones ahead of it, is not counted).
    pub fn count_made(&mut self, i: usize, cut: bool) {
        if i == self.made {
            self.made += 1;
            self.engine.stats.truncated_rows += u64::from(cut);
        }
    }

    /// The warning and counters of the run. Rows not made yet (by [`Summary::rows`]) are
    /// made first (to count the cut ones).
    pub fn info(&mut self) -> FinishInfo {
        let n = self.len();
        if self.made < n {
            self.rows(self.made..n, &mut |_| {});
        }
        FinishInfo {
            warning: warning_text(&self.engine.stats, &self.engine.opts),
            stats: self.engine.stats.clone(),
        }
    }
}

/// Spare rows a thread reuses ([`Summary::row`]) at most: a thread holds no more rows than
/// the blocks of rows in flight (`parallel::BLOCK_ROWS` and `AHEAD`).
const MAX_SPARE_ROWS: usize = 1024;

thread_local! {
    static SPARE_ROWS: std::cell::RefCell<Vec<RowBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A summary row built by [`Summary::row`]: its columns, and whether one was cut. Dropped, it
/// goes back to the spare rows of the dropping thread.
pub struct BuiltRow {
    /// `None` only while dropped.
    buf: Option<RowBuf>,
    pub cut: bool,
}

impl BuiltRow {
    pub fn row(&self) -> &OutputRow {
        &self.buf.as_ref().expect("a row until dropped").row
    }
}

impl Drop for BuiltRow {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            // A thread being torn down has no spare rows left: the row is freed.
            let _ = SPARE_ROWS.try_with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < MAX_SPARE_ROWS {
                    s.push(buf);
                }
            });
        }
    }
}

fn bool_col(b: bool) -> &'static str {
    if b {
        "TRUE"
    } else {
        "FALSE"
    }
}

fn vendor_product(spec: &crate::detect::options::OperationSpec) -> &'static str {
    match spec.cloud {
        Cloud::Azure => "Azure Activity Log",
        Cloud::Aws => "AWS CloudTrail",
        Cloud::Gcp if spec.lower.starts_with("osconfig.") => "Google Cloud VM Manager",
        Cloud::Gcp => "Google Cloud Compute Engine",
    }
}

/// The buffers a row is built in ([`RowBuf::start`]), reused from row to row: a column's
/// string or list keeps its allocation when the next row has a value of the same kind in
/// the same place, which every summary row has (a row was some sixty allocations, freed
/// right after it was written).
struct RowBuf {
    row: OutputRow,
    /// Truncation flags of the row being built, added as its last columns.
    flags: Vec<&'static str>,
}

impl RowBuf {
    /// Room for a summary row's 33 columns and up to 10 truncation flags: no regrowth.
    fn new() -> Self {
        RowBuf {
            row: OutputRow {
                columns: Vec::with_capacity(48),
            },
            flags: Vec::new(),
        }
    }

    /// Starts the next row: each column of the last one is overwritten or, at
    /// [`RowBuilder::finish`], dropped.
    fn start(&mut self, max: usize) -> RowBuilder<'_> {
        self.flags.clear();
        RowBuilder {
            buf: self,
            n: 0,
            max,
        }
    }
}

/// Builds an output row into a [`RowBuf`], cutting multivalue columns to `max_values` and
/// adding the `<column>_truncated=TRUE` flags. Invariant: columns `..n` of the buffer's row
/// are this row's, in the order written.
struct RowBuilder<'r> {
    buf: &'r mut RowBuf,
    n: usize,
    max: usize,
}

impl RowBuilder<'_> {
    /// The value of the next column, named `name` (left from the last row, or new).
    fn slot(&mut self, name: &'static str) -> &mut OutValue {
        let cols = &mut self.buf.row.columns;
        if self.n == cols.len() {
            cols.push((name, OutValue::Single(String::new())));
        }
        let (slot_name, v) = &mut cols[self.n];
        self.n += 1;
        *slot_name = name;
        v
    }

    /// A single-value column whose text `fill` appends to an empty string.
    fn single_with(&mut self, name: &'static str, fill: impl FnOnce(&mut String)) {
        let slot = self.slot(name);
        let mut s = match std::mem::replace(slot, OutValue::Single(String::new())) {
            OutValue::Single(mut s) => {
                s.clear();
                s
            }
            OutValue::Multi(_) => String::new(),
        };
        fill(&mut s);
        *slot = OutValue::Single(s);
    }

    fn single(&mut self, name: &'static str, v: &str) {
        self.single_with(name, |s| s.push_str(v));
    }

    /// A multivalue column of `len` values, of which the first `max_values` are written by
    /// `fill(j, string)`; flagged when `len` is larger or the values were `already_cut`.
    fn multi_with(
        &mut self,
        name: &'static str,
        flag: &'static str,
        len: usize,
        already_cut: bool,
        mut fill: impl FnMut(usize, &mut String),
    ) {
        let cut = already_cut || len > self.max;
        let kept = len.min(self.max);
        let slot = self.slot(name);
        let mut vs = match std::mem::replace(slot, OutValue::Multi(Vec::new())) {
            OutValue::Multi(vs) => vs,
            OutValue::Single(_) => Vec::new(),
        };
        vs.truncate(kept);
        for j in 0..kept {
            if j == vs.len() {
                vs.push(String::new());
            }
            let s = &mut vs[j];
            s.clear();
            fill(j, s);
        }
        *slot = OutValue::Multi(vs);
        if cut {
            self.buf.flags.push(flag);
        }
    }

    fn multi(
        &mut self,
        name: &'static str,
        flag: &'static str,
        values: &[&str],
        already_cut: bool,
    ) {
        self.multi_with(name, flag, values.len(), already_cut, |j, s| {
            s.push_str(values[j])
        });
    }

    /// Ends the row (the flags become its last columns); returns whether any column was cut.
    fn finish(mut self) -> bool {
        let flags = self.buf.flags.len();
        for i in 0..flags {
            let flag = self.buf.flags[i];
            self.single(flag, "TRUE");
        }
        self.buf.row.columns.truncate(self.n);
        flags > 0
    }
}

/// The `mode=events` row of one normalised event.
pub fn events_row(ev: &NormalizedEvent<'_>, opts: &Options) -> OutputRow {
    events_row_cut(ev, opts).0
}

/// The events-mode row and whether a multivalue column was cut.
fn events_row_cut(ev: &NormalizedEvent<'_>, opts: &Options) -> (OutputRow, bool) {
    let spec = opts.operations.spec(ev.op);
    fn s<'v>(o: &'v Option<std::borrow::Cow<'_, str>>) -> &'v str {
        o.as_deref().unwrap_or("")
    }
    let vms: Vec<&str> = ev
        .targets
        .iter()
        .filter(|(k, _)| *k == TargetKind::Vm)
        .map(|(_, t)| t.as_ref())
        .collect();
    let res: Vec<&str> = ev
        .targets
        .iter()
        .filter(|(k, _)| *k == TargetKind::Resource)
        .map(|(_, t)| t.as_ref())
        .collect();
    let selectors: Vec<&str> = ev
        .targets
        .iter()
        .filter(|(k, _)| *k == TargetKind::Selector)
        .map(|(_, t)| t.as_ref())
        .collect();
    let caller = ev.caller.as_deref().unwrap_or("unknown");
    let mut buf = RowBuf::new();
    let mut b = buf.start(opts.max_values);
    b.single_with("event_time", |s| time::push_iso(s, ev.time));
    b.single("cloud", spec.cloud.as_str());
    b.single("operation_lower", spec.lower.as_str());
    b.single("result_status", ev.status.as_str());
    b.single("caller_identity", caller);
    b.single("caller_type", ev.caller_type.as_str());
    b.single("caller_tenant", s(&ev.caller_tenant));
    b.single("cross_tenant", bool_col(ev.cross_tenant));
    b.single("caller_session", s(&ev.caller_session));
    b.single("invoked_by", s(&ev.invoked_by));
    b.single("source_ip", s(&ev.src));
    b.multi("targeted_vms", "targeted_vms_truncated", &vms, false);
    b.multi(
        "target_selectors",
        "target_selectors_truncated",
        &selectors,
        false,
    );
    b.multi(
        "targeted_resources",
        "targeted_resources_truncated",
        &res,
        false,
    );
    b.single("resource_group", s(&ev.resource_group));
    b.single("subscription_id", s(&ev.subscription));
    let corr = ev
        .correlation_id
        .as_deref()
        .or(ev.request_id.as_deref())
        .unwrap_or("");
    b.single("correlation_id", corr);
    b.single("document", s(&ev.document));
    b.single("user", caller);
    b.single("src", s(&ev.src));
    let dest: Vec<&str> = vms.iter().chain(res.iter()).copied().collect();
    b.multi("dest", "dest_truncated", &dest, false);
    b.single("vendor_account", s(&ev.subscription));
    b.single("vendor_product", vendor_product(spec));
    b.single("vendor_region", s(&ev.region));
    let cut = b.finish();
    (buf.row, cut)
}

/// The one WARN message: skips by reason, limits reached, values cut. `None` if clean.
pub fn warning_text(stats: &Stats, opts: &Options) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let total = stats.skipped_total();
    if total > 0 {
        let mut by: Vec<(u64, &str)> = SkipReason::ALL
            .iter()
            .map(|r| (stats.skipped[r.index()], r.as_str()))
            .filter(|(n, _)| *n > 0)
            .collect();
        by.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let list: Vec<String> = by.iter().map(|(n, r)| format!("{n} {r}")).collect();
        let noun = if total == 1 { "event" } else { "events" };
        parts.push(format!("skipped {total} {noun}: {}", list.join(", ")));
    }
    if stats.duplicates > 0 {
        let noun = if stats.duplicates == 1 {
            "duplicate event"
        } else {
            "duplicate events"
        };
        parts.push(format!(
            "{} {noun} ignored (same eventID, or same Activity Log record)",
            stats.duplicates
        ));
    }
    if stats.unchecked_for_duplicates > 0 {
        parts.push(format!(
            "max_event_ids={} reached: {} further events not checked for duplicates (raise it with max_event_ids=<n>)",
            opts.max_event_ids, stats.unchecked_for_duplicates
        ));
    }
    if stats.dropped_by_max_groups > 0 {
        parts.push(format!(
            "max_groups={} reached: {} invocations of further groups dropped (raise it with max_groups=<n>)",
            opts.max_groups, stats.dropped_by_max_groups
        ));
    }
    if stats.dropped_by_max_invocations > 0 {
        parts.push(format!(
            "max_invocations={} reached: {} events of further invocations dropped (raise it with max_invocations=<n>)",
            opts.max_invocations, stats.dropped_by_max_invocations
        ));
    }
    if stats.truncated_rows > 0 {
        parts.push(format!(
            "multivalue columns cut to max_values={} in {} rows (see the *_truncated columns, raise it with max_values=<n>)",
            opts.max_values, stats.truncated_rows
        ));
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!("t1651detect {}", parts.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_roundtrip_and_order() {
        let a = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
        let g = parse_guid(&a.to_uppercase()).unwrap();
        let mut text = String::new();
        push_guid(&mut text, &g);
        assert_eq!(text, a);
        let b = parse_guid("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8fa").unwrap();
        assert!(g < b);
        assert!(parse_guid("not-a-guid").is_none());
        for bad in [
            "0a1b2c3d04e5f-6071-8293-a4b5c6d7e8fa",
            "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8fg",
            "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8fa0",
            "0a1b2c3d-4e5f-6071-8293_a4b5c6d7e8fa",
        ] {
            assert_eq!(parse_guid(bad), None, "{bad}");
            assert!(!crate::detect::options::is_guid(bad), "{bad}");
        }
    }

    /// `parse_guid` (and `is_guid`, which is its verdict) against the plain reading of the
    /// layout: a valid GUID with every byte value at every position, and strings of
    /// GUID-like bytes of every length around 36.
    #[test]
    fn guids_parse_as_their_text_says() {
        use crate::detect::options::is_guid;
        fn reference(s: &str) -> Option<[u8; 16]> {
            let b = s.as_bytes();
            let layout = b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                });
            if !layout {
                return None;
            }
            let hex: String = s.chars().filter(|&c| c != '-').collect();
            Some(u128::from_str_radix(&hex, 16).ok()?.to_be_bytes())
        }
        let good = "0a1B2c3d-4E5f-6071-8293-a4b5C6d7e8f9";
        assert_eq!(parse_guid(good), reference(good));
        assert!(parse_guid(good).is_some());
        for i in 0..good.len() {
            for c in 0..=255u8 {
                let mut b = good.as_bytes().to_vec();
                b[i] = c;
                if let Ok(s) = String::from_utf8(b) {
                    assert_eq!(parse_guid(&s), reference(&s), "{s:?}");
                    assert_eq!(is_guid(&s), reference(&s).is_some(), "{s:?}");
                }
            }
        }
        use proptest::prelude::*;
        let alphabet = proptest::sample::select(b"09afAFgG-_ ".to_vec());
        let text = proptest::collection::vec(alphabet, 34..39)
            .prop_map(|b| String::from_utf8(b).expect("ASCII"));
        proptest!(ProptestConfig::with_cases(5000), |(s in text)| {
            prop_assert_eq!(parse_guid(&s), reference(&s), "{:?}", s);
        });
    }

    #[test]
    fn ctype_merge_is_order_independent() {
        use CallerType::*;
        for (a, b) in [(Unknown, User), (Guest, User), (ServicePrincipal, Unknown)] {
            assert_eq!(
                merge_ctype(merge_ctype(None, a), b),
                merge_ctype(merge_ctype(None, b), a)
            );
        }
    }

    #[test]
    fn warning_lists_reasons_by_count() {
        let mut s = Stats::default();
        s.skipped[SkipReason::BrokenJson.index()] = 9;
        s.skipped[SkipReason::NoOperation.index()] = 3;
        let o = Options::default();
        assert_eq!(
            warning_text(&s, &o).unwrap(),
            "t1651detect skipped 12 events: 9 broken_json, 3 no_operation"
        );
        s.ignored = 4;
        assert_eq!(
            s.unused_by_reason(),
            [("broken_json", 9), ("not_selected", 4), ("no_operation", 3)]
        );
        s.dropped_by_max_groups = 2;
        assert!(warning_text(&s, &o)
            .unwrap()
            .contains("max_groups=100000 reached: 2"));
        assert_eq!(warning_text(&Stats::default(), &o), None);
    }
}
