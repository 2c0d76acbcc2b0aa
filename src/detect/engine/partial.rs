//! Map-phase partial state: encoding to and decoding from `t1651_state` rows.
//!
//! A map process emits three kinds of rows, each one compact JSON object in the
//! `t1651_state` column:
//! * `"t":"i"`: an open invocation (correlated Azure rows). Carries its correlationId, so
//!   rows of one invocation seen by different indexers merge into one on the reduce side.
//! * `"t":"g"`: a group partial built from already-final invocations (uncorrelated rows,
//!   AWS events): counts, times, full target/IP/document/session sets, and the
//!   `max_values` smallest correlation ids (enough to reproduce the capped column exactly).
//! * `"t":"e"`: one uncorrelated event (AWS, Azure without correlationId) with its event id,
//!   so that copies of one record held by different indexers count once on the reduce side.
//!   Open invocations carry the ids of their rows (`ids`) for the same reason.
//! * `"t":"s"`: counters (skips, ignored, duplicates, limit drops) so the reduce side's WARN
//!   covers the whole search.
//!
//! Strings travel as strings (interner ids are process-local). `"v"` is the format
//! version; a row of another version is counted as `bad_partial_state`.

use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
#[serde(tag = "t")]
enum State {
    #[serde(rename = "i")]
    Inv(InvP),
    #[serde(rename = "g")]
    Group(GroupP),
    #[serde(rename = "e")]
    Event(EventP),
    #[serde(rename = "s")]
    Stats(StatsP),
}

#[derive(Serialize, Deserialize)]
struct PrincipalP {
    ca: String,
    ct: String,
    tn: String,
    ss: String,
    /// invoked_by
    #[serde(default)]
    vb: String,
}

#[derive(Serialize, Deserialize)]
struct InvP {
    v: u32,
    op: String,
    /// correlationId
    c: String,
    /// target, and whether it is a resource (not a VM)
    tg: String,
    tr: bool,
    /// the target is a selector
    #[serde(default)]
    ts: bool,
    /// ids of the events merged into this invocation (hex)
    #[serde(default)]
    ids: Vec<String>,
    /// document (part of the key)
    d: String,
    /// document merged into the state (Google Cloud script keys)
    #[serde(default)]
    sd: String,
    p: PrincipalP,
    rg: String,
    sb: String,
    ip: String,
    f: i64,
    l: i64,
    fl: u8,
}

#[derive(Serialize, Deserialize)]
struct GroupP {
    v: u32,
    op: String,
    ca: String,
    rg: String,
    sb: String,
    /// span bucket start (µs), absent without span
    b: Option<i64>,
    n: u64,
    fa: u64,
    f: i64,
    l: i64,
    vm: Vec<String>,
    rs: Vec<String>,
    ip: Vec<String>,
    dc: Vec<String>,
    ss: Vec<String>,
    /// selectors
    #[serde(default)]
    sl: Vec<String>,
    /// invoked_by
    #[serde(default)]
    vb: Vec<String>,
    co: Vec<String>,
    cc: bool,
    ct: Option<String>,
    tn: String,
    x: bool,
}

#[derive(Serialize, Deserialize)]
struct EventP {
    v: u32,
    id: String,
    op: String,
    p: PrincipalP,
    rg: String,
    sb: String,
    ip: String,
    d: String,
    /// time (µs); not `t`, the tag
    tm: i64,
    fl: u8,
    /// targets, and their kinds (`v` VM, `r` resource, `s` selector), one char each
    tg: Vec<String>,
    tk: String,
    c: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StatsP {
    v: u32,
    ev: u64,
    se: u64,
    ig: u64,
    sk: BTreeMap<String, u64>,
    dg: u64,
    di: u64,
    /// duplicates, events not checked for duplicates
    #[serde(default)]
    du: u64,
    #[serde(default)]
    uc: u64,
}

/// Times a partial row may carry: years 0..=9999, so that durations and formatting cannot
/// overflow whatever a (corrupt) partial row says.
const TIME_LIMIT: i64 = 253_402_300_800 * 1_000_000;

fn in_range(t: i64) -> bool {
    (-TIME_LIMIT..=TIME_LIMIT).contains(&t)
}

fn times_ok(first: i64, last: i64) -> bool {
    in_range(first) && in_range(last) && first <= last
}

fn state_row(s: &State) -> OutputRow {
    let json = serde_json::to_string(s).expect("partial state serialises");
    OutputRow {
        columns: vec![(STATE_FIELD, OutValue::Single(json))],
    }
}

impl Engine {
    fn principal_p(&self, id: u32) -> PrincipalP {
        let p = self.principals[id as usize];
        PrincipalP {
            ca: self.strings.get(p.caller).to_owned(),
            ct: p.ctype.as_str().to_owned(),
            tn: self.strings.get(p.tenant).to_owned(),
            ss: self.strings.get(p.session).to_owned(),
            vb: self.strings.get(p.via).to_owned(),
        }
    }

    /// A target id with its kind bit, from its text and kind.
    fn target_id(&mut self, name: &str, kind: u32) -> u32 {
        match self.strings.intern(name) {
            0 => 0,
            id => id | kind,
        }
    }

    fn strings_of(&self, set: &HashSet<u32>) -> Vec<String> {
        let mut v: Vec<String> = set
            .iter()
            .map(|&i| self.strings.get(i).to_owned())
            .collect();
        v.sort_unstable();
        v
    }

    /// All state as partial rows (phase=map).
    pub(super) fn partial_rows(&mut self, sink: &mut dyn FnMut(&OutputRow)) {
        for (k, st) in self.invocations.iter() {
            let target = k.target & !KIND_BITS;
            let c = self.contexts[st.ctx as usize];
            let ids = self
                .inv_ids
                .get(&k)
                .map(|v| v.iter().map(|id| id.to_hex()).collect())
                .unwrap_or_default();
            sink(&state_row(&State::Inv(InvP {
                v: VERSION,
                op: self.opts.operations.spec(k.op).lower.clone(),
                c: self.corr_string(k.corr),
                tg: self.strings.get(target).to_owned(),
                tr: k.target & RESOURCE_BIT != 0,
                ts: k.target & SELECTOR_BIT != 0,
                ids,
                d: self.strings.get(k.doc).to_owned(),
                sd: self.strings.get(st.doc).to_owned(),
                p: self.principal_p(c.principal),
                rg: self.strings.get(c.rg).to_owned(),
                sb: self.strings.get(c.sub).to_owned(),
                ip: self.strings.get(st.src).to_owned(),
                f: st.first,
                l: st.last,
                fl: st.flags,
            })));
        }
        for e in &self.pending {
            let (tg, tk) = e
                .targets
                .iter()
                .map(|&t| {
                    let kind = match t & KIND_BITS {
                        RESOURCE_BIT => 'r',
                        SELECTOR_BIT => 's',
                        _ => 'v',
                    };
                    (self.strings.get(t & !KIND_BITS).to_owned(), kind)
                })
                .unzip();
            sink(&state_row(&State::Event(EventP {
                v: VERSION,
                id: e.id.to_hex(),
                op: self.opts.operations.spec(e.op).lower.clone(),
                p: self.principal_p(e.principal),
                rg: self.strings.get(e.rg).to_owned(),
                sb: self.strings.get(e.sub).to_owned(),
                ip: self.strings.get(e.src).to_owned(),
                d: self.strings.get(e.doc).to_owned(),
                tm: e.time,
                fl: e.flags,
                tg,
                tk,
                c: e.corr.map(|c| self.corr_string(c)),
            })));
        }
        for (k, g) in &self.groups {
            sink(&state_row(&State::Group(GroupP {
                v: VERSION,
                op: self.opts.operations.spec(k.op).lower.clone(),
                ca: self.strings.get(k.caller).to_owned(),
                rg: self.strings.get(k.rg).to_owned(),
                sb: self.strings.get(k.sub).to_owned(),
                b: (k.bucket != NO_BUCKET).then_some(k.bucket),
                n: g.counted,
                fa: g.failed,
                f: g.first,
                l: g.last,
                vm: self.strings_of(&g.vms),
                rs: self.strings_of(&g.resources),
                ip: self.strings_of(&g.srcs),
                dc: self.strings_of(&g.docs),
                ss: self.strings_of(&g.sessions),
                sl: self.strings_of(&g.selectors),
                vb: self.strings_of(&g.vias),
                co: g.corrs.iter().map(|c| self.corr_string(*c)).collect(),
                cc: g.corrs_cut,
                ct: g.ctype.map(|c| c.as_str().to_owned()),
                tn: self.strings.get(g.tenant).to_owned(),
                x: g.cross,
            })));
        }
        let s = &self.stats;
        sink(&state_row(&State::Stats(StatsP {
            v: VERSION,
            ev: s.events,
            se: s.selected,
            ig: s.ignored,
            sk: SkipReason::ALL
                .iter()
                .filter(|r| s.skipped[r.index()] > 0)
                .map(|r| (r.as_str().to_owned(), s.skipped[r.index()]))
                .collect(),
            dg: s.dropped_by_max_groups,
            di: s.dropped_by_max_invocations,
            du: s.duplicates,
            uc: s.unchecked_for_duplicates,
        })));
    }

    fn intern_principal_p(&mut self, p: &PrincipalP) -> Result<u32, ()> {
        let ctype = CallerType::parse(&p.ct).ok_or(())?;
        let principal = Principal {
            caller: self.strings.intern(&p.ca),
            ctype,
            tenant: self.strings.intern(&p.tn),
            session: self.strings.intern(&p.ss),
            via: self.strings.intern(&p.vb),
        };
        Ok(self.intern_principal(principal))
    }

    /// Merge one partial row. `Err` if it is not a valid partial of this format and these
    /// options (unknown operation).
    pub(super) fn ingest_partial(&mut self, json: &str) -> Result<(), ()> {
        let state: State = serde_json::from_str(json).map_err(|_| ())?;
        match state {
            State::Inv(p) => {
                if p.v != VERSION || !times_ok(p.f, p.l) {
                    return Err(());
                }
                let op = self.opts.operations.find_lower(&p.op).ok_or(())?;
                let principal = self.intern_principal_p(&p.p)?;
                let ids = p
                    .ids
                    .iter()
                    .map(|h| EventId::from_hex(h).ok_or(()))
                    .collect::<Result<Vec<_>, ()>>()?;
                let kind = match (p.tr, p.ts) {
                    (false, false) => 0,
                    (true, false) => RESOURCE_BIT,
                    (false, true) => SELECTOR_BIT,
                    (true, true) => return Err(()),
                };
                let target = self.target_id(&p.tg, kind);
                // Copies seen by other maps are counted here; the invocation merge itself
                // is idempotent.
                for id in ids {
                    self.remember(id);
                }
                let key = InvKey {
                    corr: self.corr_of(&p.c),
                    target,
                    doc: self.strings.intern(&p.d),
                    op,
                };
                let ctx = Ctx {
                    principal,
                    rg: self.strings.intern(&p.rg),
                    sub: self.strings.intern(&p.sb),
                };
                let st = InvState {
                    first: p.f,
                    last: p.l,
                    ctx: self.intern_ctx(ctx),
                    src: self.strings.intern(&p.ip),
                    doc: self.strings.intern(&p.sd),
                    flags: p.fl & F_ALL,
                };
                self.merge_invocation(key, st);
                Ok(())
            }
            State::Group(p) => self.merge_group_partial(p),
            State::Event(p) => self.ingest_event_partial(p),
            State::Stats(p) => {
                if p.v != VERSION {
                    return Err(());
                }
                let s = &mut self.stats;
                s.events += p.ev;
                s.selected += p.se;
                s.ignored += p.ig;
                s.dropped_by_max_groups += p.dg;
                s.dropped_by_max_invocations += p.di;
                s.duplicates += p.du;
                s.unchecked_for_duplicates += p.uc;
                for (name, n) in p.sk {
                    let r = SkipReason::ALL
                        .iter()
                        .find(|r| r.as_str() == name)
                        .ok_or(())?;
                    s.skipped[r.index()] += n;
                }
                Ok(())
            }
        }
    }

    /// One uncorrelated event of a map phase: folded unless a copy was seen already.
    fn ingest_event_partial(&mut self, p: EventP) -> Result<(), ()> {
        if p.v != VERSION || !in_range(p.tm) || p.tg.len() != p.tk.chars().count() {
            return Err(());
        }
        let id = EventId::from_hex(&p.id).ok_or(())?;
        let op = self.opts.operations.find_lower(&p.op).ok_or(())?;
        let principal = self.intern_principal_p(&p.p)?;
        let mut targets = Vec::with_capacity(p.tg.len());
        for (name, kind) in p.tg.iter().zip(p.tk.chars()) {
            let kind = match kind {
                'v' => 0,
                'r' => RESOURCE_BIT,
                's' => SELECTOR_BIT,
                _ => return Err(()),
            };
            match self.target_id(name, kind) {
                0 => {}
                t => targets.push(t),
            }
        }
        if self.remember(id) == Some(false) {
            return Ok(());
        }
        let corr = p.c.as_deref().map(|c| self.corr_of(c));
        let inv = Inv {
            op,
            principal,
            rg: self.strings.intern(&p.rg),
            sub: self.strings.intern(&p.sb),
            src: self.strings.intern(&p.ip),
            doc: self.strings.intern(&p.d),
            first: p.tm,
            last: p.tm,
            flags: p.fl & F_ALL,
            targets: &targets,
            corr,
        };
        self.fold(&inv);
        Ok(())
    }

    fn merge_group_partial(&mut self, p: GroupP) -> Result<(), ()> {
        if p.v != VERSION {
            return Err(());
        }
        let op = self.opts.operations.find_lower(&p.op).ok_or(())?;
        let ctype = match &p.ct {
            Some(c) => Some(CallerType::parse(c).ok_or(())?),
            None => None,
        };
        let bucket = p.b.unwrap_or(NO_BUCKET);
        // The bucket must agree with this process's span option.
        let bucket_ok = match self.opts.span_micros {
            Some(span) => bucket != NO_BUCKET && bucket.rem_euclid(span) == 0,
            None => bucket == NO_BUCKET,
        };
        if !bucket_ok
            || (p.n > 0 && !times_ok(p.f, p.l))
            || (bucket != NO_BUCKET && !in_range(bucket))
        {
            return Err(());
        }
        let s = &mut self.strings;
        let key = GroupKey {
            bucket,
            caller: s.intern(&p.ca),
            rg: s.intern(&p.rg),
            sub: s.intern(&p.sb),
            op,
        };
        let ids = |s: &mut Interner, v: &[String]| -> Vec<u32> {
            v.iter()
                .map(|x| s.intern(x))
                .filter(|id| *id != 0)
                .collect()
        };
        let vms = ids(s, &p.vm);
        let resources = ids(s, &p.rs);
        let srcs = ids(s, &p.ip);
        let docs = ids(s, &p.dc);
        let sessions = ids(s, &p.ss);
        let selectors = ids(s, &p.sl);
        let vias = ids(s, &p.vb);
        let tenant = s.intern(&p.tn);
        let corrs: Vec<Corr> = p.co.iter().map(|c| self.corr_of(c)).collect();
        if !self.groups.contains_key(&key) && self.groups.len() >= self.opts.max_groups {
            self.stats.dropped_by_max_groups += p.n.max(p.fa);
            return Ok(());
        }
        let mut g = self.groups.remove(&key).unwrap_or_else(GroupState::new);
        g.failed += p.fa;
        if p.n > 0 {
            g.counted += p.n;
            g.first = g.first.min(p.f);
            g.last = g.last.max(p.l);
            g.vms.extend(vms);
            g.resources.extend(resources);
            g.srcs.extend(srcs);
            g.docs.extend(docs);
            g.sessions.extend(sessions);
            g.selectors.extend(selectors);
            g.vias.extend(vias);
            if let Some(c) = ctype {
                g.ctype = merge_ctype(g.ctype, c);
            }
            g.tenant = self.strings.min_nonempty(g.tenant, tenant);
            g.cross |= p.x;
            g.corrs_cut |= p.cc;
            let mut list = std::mem::take(&mut g.corrs);
            for c in corrs {
                g.corrs_cut |= self.insert_corr(&mut list, c);
            }
            g.corrs = list;
        }
        self.groups.insert(key, g);
        Ok(())
    }
}
