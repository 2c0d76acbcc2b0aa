//! Map-phase partial state: encoding to and decoding from `t1651_state` rows.
//!
//! A map process emits three kinds of rows, each one compact JSON object in the
//! `t1651_state` column:
//! * `"t":"i"`: an open invocation (correlated Azure rows). Carries its correlationId, so
//!   rows of one invocation seen by different indexers merge into one on the reduce side.
//! * `"t":"g"`: a group partial built from already-final invocations (uncorrelated rows,
//!   AWS events): counts, times, full target/IP/document/session sets, and the
//!   `max_values` smallest correlation ids (enough to reproduce the capped column exactly).
//! * `"t":"s"`: counters (skips, ignored, limit drops) so the reduce side's WARN covers
//!   the whole search.
//!
//! Strings travel as strings (interner ids are process-local). `"v"` is the format
//! version; a row of another version is counted as `bad_partial_state`.

use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(tag = "t")]
enum State {
    #[serde(rename = "i")]
    Inv(InvP),
    #[serde(rename = "g")]
    Group(GroupP),
    #[serde(rename = "s")]
    Stats(StatsP),
}

#[derive(Serialize, Deserialize)]
struct PrincipalP {
    ca: String,
    ct: String,
    tn: String,
    ss: String,
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
    /// document
    d: String,
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
    co: Vec<String>,
    cc: bool,
    ct: Option<String>,
    tn: String,
    x: bool,
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
    pub(super) fn partial_rows(&mut self, sink: &mut dyn FnMut(OutputRow)) {
        for (k, st) in self.invocations.iter() {
            let target = k.target & !RESOURCE_BIT;
            let c = self.contexts[st.ctx as usize];
            sink(state_row(&State::Inv(InvP {
                v: VERSION,
                op: self.opts.operations.spec(k.op).lower.clone(),
                c: self.corr_string(k.corr),
                tg: self.strings.get(target).to_owned(),
                tr: k.target & RESOURCE_BIT != 0,
                d: self.strings.get(k.doc).to_owned(),
                p: self.principal_p(c.principal),
                rg: self.strings.get(c.rg).to_owned(),
                sb: self.strings.get(c.sub).to_owned(),
                ip: self.strings.get(st.src).to_owned(),
                f: st.first,
                l: st.last,
                fl: st.flags,
            })));
        }
        for (k, g) in &self.groups {
            sink(state_row(&State::Group(GroupP {
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
                co: g.corrs.iter().map(|c| self.corr_string(*c)).collect(),
                cc: g.corrs_cut,
                ct: g.ctype.map(|c| c.as_str().to_owned()),
                tn: self.strings.get(g.tenant).to_owned(),
                x: g.cross,
            })));
        }
        let s = &self.stats;
        sink(state_row(&State::Stats(StatsP {
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
        })));
    }

    fn intern_principal_p(&mut self, p: &PrincipalP) -> Result<u32, ()> {
        let ctype = CallerType::parse(&p.ct).ok_or(())?;
        let principal = Principal {
            caller: self.strings.intern(&p.ca),
            ctype,
            tenant: self.strings.intern(&p.tn),
            session: self.strings.intern(&p.ss),
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
                let target = match self.strings.intern(&p.tg) {
                    0 => 0,
                    id if p.tr => id | RESOURCE_BIT,
                    id => id,
                };
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
                    flags: p.fl & (F_PROGRESS | F_SUCCESS | F_FAILED | F_CROSS),
                };
                self.merge_invocation(key, st);
                Ok(())
            }
            State::Group(p) => self.merge_group_partial(p),
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
