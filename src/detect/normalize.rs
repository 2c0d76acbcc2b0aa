//! Normalisation: one shape-independent [`NormalizedEvent`] from any audit-record shape.
//!
//! Entry points: [`normalize_json`] (a JSON record, e.g. `_raw` or a file record) and
//! [`normalize_fields`] (a Splunk event: uses `_raw` when it is JSON, else the flattened
//! fields). Both end in [`normalize_raw`], so every shape gets the same rules.
//!
//! Invariants of a [`NormalizedEvent`]: Azure callers, subscriptions, resource groups,
//! targets, documents and correlation ids are lower case; AWS ARNs keep their case
//! (role and user names are case-sensitive) but instance ids are lower-cased; Google Cloud
//! e-mail principals, instance names, zones and operation ids are lower case (project ids
//! and instance names are lower case by Google's rules already).

use crate::detect::fields::{names, EventFields};
use crate::detect::operations::Cloud;
use crate::detect::options::Options;
use crate::detect::raw::{JsonProblem, RawEvent, S};
use crate::detect::resource;
use crate::detect::time;
use std::borrow::Cow;

/// The status family of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Started,
    Accepted,
    Succeeded,
    Failed,
    /// No recognisable status; treated as in progress.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Started => "started",
            Status::Accepted => "accepted",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
        }
    }

    /// Map one status word (any case; `Succeeded.Created` → its part before the dot;
    /// HTTP codes from `resultSignature`) to a family.
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim();
        let word = s.split('.').next().unwrap_or(s).trim();
        let eq = |w: &str| word.eq_ignore_ascii_case(w);
        if eq("start") || eq("started") {
            Some(Status::Started)
        } else if eq("accept") || eq("accepted") {
            Some(Status::Accepted)
        } else if eq("success") || eq("succeeded") || eq("succeed") {
            Some(Status::Succeeded)
        } else if eq("failure")
            || eq("failed")
            || eq("fail")
            || eq("rejected")
            || eq("canceled")
            || eq("cancelled")
        {
            Some(Status::Failed)
        } else if eq("in progress") || eq("inprogress") || eq("active") {
            Some(Status::Started)
        } else if word.len() == 3 && word.bytes().all(|b| b.is_ascii_digit()) {
            match word.as_bytes()[0] {
                b'2' if word == "202" => Some(Status::Accepted),
                b'2' => Some(Status::Succeeded),
                b'4' | b'5' => Some(Status::Failed),
                _ => None,
            }
        } else {
            None
        }
    }
}

/// The kind of principal that made the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallerType {
    User,
    Guest,
    ServicePrincipal,
    ManagedIdentity,
    IamUser,
    AssumedRole,
    Root,
    AwsService,
    /// A Google Cloud service account (`…@<project>.iam.gserviceaccount.com`,
    /// `…@developer.gserviceaccount.com`, `…@appspot.gserviceaccount.com`).
    ServiceAccount,
    /// A Google-managed service agent acting on its own (`service-<n>@…gserviceaccount.com`,
    /// `<n>@cloudservices.gserviceaccount.com`, `…@gcp-sa-….iam.gserviceaccount.com`).
    GoogleService,
    Unknown,
}

impl CallerType {
    pub fn as_str(self) -> &'static str {
        match self {
            CallerType::User => "user",
            CallerType::Guest => "guest",
            CallerType::ServicePrincipal => "service_principal",
            CallerType::ManagedIdentity => "managed_identity",
            CallerType::IamUser => "iam_user",
            CallerType::AssumedRole => "assumed_role",
            CallerType::Root => "root",
            CallerType::AwsService => "aws_service",
            CallerType::ServiceAccount => "service_account",
            CallerType::GoogleService => "google_service",
            CallerType::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<CallerType> {
        const ALL: [CallerType; 11] = [
            CallerType::User,
            CallerType::Guest,
            CallerType::ServicePrincipal,
            CallerType::ManagedIdentity,
            CallerType::IamUser,
            CallerType::AssumedRole,
            CallerType::Root,
            CallerType::AwsService,
            CallerType::ServiceAccount,
            CallerType::GoogleService,
            CallerType::Unknown,
        ];
        ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Why an event was skipped. `as_str` names are stable (they appear in the WARN message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// `_raw` starts like JSON but has a syntax error, and no usable fields either.
    BrokenJson,
    /// The record ends early (Splunk's `TRUNCATE` cut `_raw`) before every value the
    /// detection needs was read to its end: the operation, a complete caller, the status,
    /// the correlation id and resource (Azure), the whole `userIdentity` and the
    /// `recipientAccountId` (AWS), the whole `protoPayload`, `logName` and the whole
    /// `operation` (Google Cloud; a record without `operation` counts as read past it once
    /// `receiveTimestamp` was read), with no extracted column to stand in for the missing one.
    Truncated,
    /// A `{"records":[…]}` wrapper in one event: fix the event breaking.
    RecordsWrapper,
    /// Neither JSON nor fields of any known audit-record shape.
    NotAuditRecord,
    /// An audit record without an operation / event name.
    NoOperation,
    /// No parseable timestamp (record time nor `_time`).
    NoTime,
    /// A `t1651_state` partial row that could not be decoded (version or option mismatch).
    BadPartialState,
}

impl SkipReason {
    pub const ALL: [SkipReason; 7] = [
        SkipReason::BrokenJson,
        SkipReason::Truncated,
        SkipReason::RecordsWrapper,
        SkipReason::NotAuditRecord,
        SkipReason::NoOperation,
        SkipReason::NoTime,
        SkipReason::BadPartialState,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::BrokenJson => "broken_json",
            SkipReason::Truncated => "truncated",
            SkipReason::RecordsWrapper => "records_wrapper",
            SkipReason::NotAuditRecord => "not_audit_record",
            SkipReason::NoOperation => "no_operation",
            SkipReason::NoTime => "no_time",
            SkipReason::BadPartialState => "bad_partial_state",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    /// Counts towards `vm_count`: VM, scale-set instance, Arc machine, EC2 instance, SSM
    /// tag/resource-group target.
    Vm,
    /// Reported in `targeted_resources` only (Automation account, other resources).
    Resource,
    /// Selects machines instead of naming them (`InstanceIds=*`, `tag:Env=prod`,
    /// `resource-groups:Name=x`, `scaleset=<name>` for a scale-set-level extension; Google
    /// Cloud `project-metadata=<project>`, `patchJob=<id>`, `patchDeployment=<name>`,
    /// `osPolicyAssignment=<name>`, `guestPolicy=<name>`): reaches
    /// any number of VMs, so it is listed in `target_selectors`, never counted in
    /// `vm_count`, and makes its group a finding.
    Selector,
}

/// One normalised audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedEvent<'a> {
    pub cloud: Cloud,
    /// Operation id in [`Options::operations`].
    pub op: u16,
    /// Record time, µs since the epoch.
    pub time: i64,
    pub status: Status,
    /// Azure correlationId or Google Cloud `operation.id` (lower case): the invocation key;
    /// `None` for AWS (every call is its own invocation).
    pub correlation_id: Option<Cow<'a, str>>,
    /// AWS requestID (or eventID): shown in `correlation_ids` for drilldown.
    pub request_id: Option<Cow<'a, str>>,
    pub caller: Option<Cow<'a, str>>,
    pub caller_type: CallerType,
    /// The caller's home tenant (Azure: identity provider tenant or token tenant) or account.
    pub caller_tenant: Option<Cow<'a, str>>,
    pub cross_tenant: bool,
    /// AWS assumed-role session name; for Google Cloud, the principal that started the
    /// impersonation chain (`serviceAccountDelegationInfo`) of the calling service account.
    pub caller_session: Option<Cow<'a, str>>,
    /// The AWS service that acted (`userIdentity.invokedBy`, or the service of a
    /// service-linked role), when [`CallerType::AwsService`]; the Google service agent, when
    /// [`CallerType::GoogleService`].
    pub invoked_by: Option<Cow<'a, str>>,
    /// The caller's IP address (IPv4 or IPv6, checked): never a host or service name.
    pub src: Option<Cow<'a, str>>,
    /// Azure subscription, AWS account or Google Cloud project id.
    pub subscription: Option<Cow<'a, str>>,
    pub resource_group: Option<Cow<'a, str>>,
    pub targets: Vec<(TargetKind, Cow<'a, str>)>,
    /// What was run: SSM document, Azure extension or managed run-command name; Google Cloud:
    /// the script keys a metadata write adds or modifies (sorted, comma-separated).
    pub document: Option<Cow<'a, str>>,
    /// Resource tenant (Azure `tenantId`).
    pub tenant_id: Option<Cow<'a, str>>,
    /// AWS region.
    pub region: Option<Cow<'a, str>>,
    /// The record's identity, for de-duplication ([`EventId`]); `None` when the record
    /// carries no identifier (then it is never taken for a copy of another).
    pub id: Option<EventId>,
    /// The operation counts only when its invocation names a script key (Google Cloud
    /// metadata writes): see [`crate::detect::operations::gcp_needs_script_key`].
    pub gated: bool,
    /// This record adds or modifies a script key (its keys are in `document`).
    pub script_key: bool,
}

impl NormalizedEvent<'_> {
    /// The same event owning its strings (a Pub/Sub message's base64 `data` is decoded
    /// into a buffer that does not outlive the normaliser).
    pub fn into_owned(self) -> NormalizedEvent<'static> {
        fn o(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        NormalizedEvent {
            cloud: self.cloud,
            op: self.op,
            time: self.time,
            status: self.status,
            correlation_id: o(self.correlation_id),
            request_id: o(self.request_id),
            caller: o(self.caller),
            caller_type: self.caller_type,
            caller_tenant: o(self.caller_tenant),
            cross_tenant: self.cross_tenant,
            caller_session: o(self.caller_session),
            invoked_by: o(self.invoked_by),
            src: o(self.src),
            subscription: o(self.subscription),
            resource_group: o(self.resource_group),
            targets: self
                .targets
                .into_iter()
                .map(|(k, t)| (k, Cow::Owned(t.into_owned())))
                .collect(),
            document: o(self.document),
            tenant_id: o(self.tenant_id),
            region: o(self.region),
            id: self.id,
            gated: self.gated,
            script_key: self.script_key,
        }
    }
}

/// The identity of one audit record: two copies of a record (double ingestion, overlapping
/// inputs, REST and Event Hub copies of one Activity Log entry) have the same id.
///
/// * AWS: `eventID` (a GUID, packed exactly; any other text hashed); without one, a hash
///   of (eventName, `requestID`); without either, none.
/// * Azure: a hash of (operation, correlationId, status family, record time to the
///   microsecond, subscription, resource group, target, child resource); without a
///   correlationId, none. `eventDataId` is not used: the Event Hub shape has none, and the
///   key must match across shapes (a REST copy and an Event Hub copy of one entry).
/// * Google Cloud: a hash of (`logName`, `insertId`): Cloud Logging's own identity of an
///   entry (`insertId` is unique within a log), the same in a `gcloud` export, a Pub/Sub
///   message and a sink; without `insertId`, none.
///
/// Records without an identifier are never de-duplicated: two real calls by one caller on
/// one instance within CloudTrail's one-second resolution would be indistinguishable.
///
/// Hashes are 128-bit SipHash-2-4 (fixed keys) over the length-prefixed parts: deterministic
/// across processes (a map phase and its reducer agree), and without a known way to forge a
/// collision even for an attacker who chooses the hashed values (a client can set its own
/// correlation id): a forged collision would hide an invocation as a "duplicate". About
/// 0.2 µs per record, a few percent of its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u128);

impl EventId {
    /// 128-bit SipHash-2-4 over `parts`, each prefixed with its length (so no two different
    /// part lists hash the same bytes). The parts are gathered in a stack buffer and hashed
    /// in few writes (SipHash's result depends only on the byte stream, not on how it is
    /// split into writes).
    fn hashed(parts: &[&[u8]]) -> EventId {
        use siphasher::sip128::{Hasher128, SipHasher24};
        use std::hash::Hasher;
        let mut h = SipHasher24::new();
        let mut buf = [0u8; 256];
        let mut n = 0;
        for p in parts {
            let len = (p.len() as u32).to_le_bytes();
            for piece in [&len[..], p] {
                if n + piece.len() > buf.len() {
                    h.write(&buf[..n]);
                    n = 0;
                }
                if piece.len() > buf.len() {
                    h.write(piece);
                } else {
                    buf[n..n + piece.len()].copy_from_slice(piece);
                    n += piece.len();
                }
            }
        }
        h.write(&buf[..n]);
        EventId(h.finish128().as_u128())
    }

    /// 32 lower-case hex digits (partial-state rows).
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }

    pub fn from_hex(s: &str) -> Option<EventId> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u128::from_str_radix(s, 16).ok().map(EventId))
            .flatten()
    }
}

/// The result of normalising one input.
#[derive(Debug, Clone, PartialEq, Eq)]
// Not boxed: the event variant is the common case, and a Box would add one allocation per
// event on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum Normalized<'a> {
    Event(NormalizedEvent<'a>),
    /// A valid audit record of an operation not selected: not an error.
    Ignored,
    Skip(SkipReason),
}

/// Normalise one JSON record (`_raw`, or a record of an exported file). `splunk_time` is
/// `_time` (decimal epoch) when known: the fallback when the record has no timestamp.
///
/// Equals [`normalize_fields`] over a Splunk event holding only `_raw` and `_time`.
pub fn normalize_json<'a>(
    raw: &'a [u8],
    splunk_time: Option<&'a str>,
    opts: &Options,
) -> Normalized<'a> {
    let mut ev = RawEvent::default();
    let res = ev.fill_from_json(raw);
    ev.splunk_time = splunk_time.map(Cow::Borrowed);
    match res {
        Ok(()) => normalize_raw(ev, opts),
        Err(JsonProblem::NotObject) => Normalized::Skip(SkipReason::NotAuditRecord),
        Err(JsonProblem::Broken) => Normalized::Skip(SkipReason::BrokenJson),
        Err(JsonProblem::Truncated) => normalize_truncated(ev, opts),
    }
}

/// Normalise a Splunk event. `_raw` is used when it is a complete JSON object. Otherwise:
/// * `_raw` ends early (Splunk `TRUNCATE`): the extracted columns win, and the values read
///   completely from `_raw` fill the gaps; the truncation rules of [`Truncated`] apply;
/// * `_raw` is broken JSON (a syntax error, or text after the object): nothing of it is
///   trusted; the extracted columns alone decide, and without an operation among them the
///   event is `broken_json`;
/// * `_raw` is not a JSON object: the extracted columns.
///
/// [`Truncated`]: SkipReason::Truncated
pub fn normalize_fields<'a, F: EventFields + ?Sized>(f: &'a F, opts: &Options) -> Normalized<'a> {
    let splunk_time = f
        .value(names::TIME)
        .filter(|s| !s.is_empty())
        .map(Cow::Borrowed);
    let raw = f.value(names::RAW).unwrap_or("");
    let problem = if crate::detect::raw::looks_like_json_object(raw.as_bytes()) {
        let mut ev = RawEvent::default();
        match ev.fill_from_json_str(raw) {
            Ok(()) => {
                ev.splunk_time = splunk_time;
                return normalize_raw(ev, opts);
            }
            Err(p) => p,
        }
    } else {
        JsonProblem::NotObject
    };
    let mut ev = RawEvent::default();
    ev.fill_from_fields(f);
    ev.splunk_time = splunk_time;
    match problem {
        JsonProblem::Truncated => {
            // First non-empty value wins per slot: the columns, then what `_raw` gave.
            let _ = ev.fill_from_json_str(raw);
            normalize_truncated(ev, opts)
        }
        JsonProblem::Broken
            if ev.operation.is_none()
                && ev.event_name.is_none()
                && ev.gcp.method_name.is_none() =>
        {
            Normalized::Skip(SkipReason::BrokenJson)
        }
        JsonProblem::Broken | JsonProblem::NotObject => normalize_raw(ev, opts),
    }
}

/// A record that ends early: used only if what the detection needs was read completely.
fn normalize_truncated<'a>(ev: RawEvent<'a>, opts: &Options) -> Normalized<'a> {
    if ev.operation.is_none() && ev.event_name.is_none() && ev.gcp.method_name.is_none() {
        return Normalized::Skip(SkipReason::Truncated);
    }
    normalize_with(ev, opts, true)
}

/// The shared rules, on extracted fields of a complete record.
pub fn normalize_raw<'a>(ev: RawEvent<'a>, opts: &Options) -> Normalized<'a> {
    normalize_with(ev, opts, false)
}

/// Whether a truncated Azure record holds everything the detection needs, read to its end.
/// The caller must be the record's own `caller` (or the extracted column): never a
/// lower-priority identity standing in for one the cut may have removed. The Event Hub
/// shape has no `caller` key, so there a complete `identity.claims` object with a UPN or
/// name claim is the caller.
fn azure_complete(ev: &RawEvent<'_>) -> bool {
    let caller = ev.caller.is_some()
        || (ev.identity_claims_complete
            && (ev.claims.upn_uri.is_some()
                || ev.claims.upn.is_some()
                || ev.claims.name_uri.is_some()
                || ev.claims.unique_name.is_some()));
    let resource = ev.resource_id.is_some()
        || ev.resource_uri.is_some()
        || ev.scope.is_some()
        || ev.identity_scope.is_some();
    caller && resource && ev.correlation_id.is_some() && status_of(ev) != Status::Unknown
}

/// Whether a truncated CloudTrail record holds everything the detection needs: the whole
/// `userIdentity` (the caller), and `recipientAccountId` (the account; CloudTrail writes it
/// after `errorCode`, `requestParameters` and `eventID`, so a record cut after it lost
/// nothing the detection reads, and the absence of `errorCode` really means success).
fn aws_complete(ev: &RawEvent<'_>) -> bool {
    ev.user_identity_complete && ev.recipient_account_id.is_some()
}

/// Whether a truncated Google Cloud record holds everything the detection needs: the whole
/// `protoPayload` (method, caller, status, resource, metadata keys), `logName` (the
/// project) and the whole `operation` (the invocation key), or `receiveTimestamp` (written
/// after `operation`, so a record that reached it and has none really has none).
fn gcp_complete(ev: &RawEvent<'_>) -> bool {
    let g = &ev.gcp;
    g.payload_complete
        && g.log_name.is_some()
        && (g.operation_complete || g.receive_timestamp.is_some())
}

/// A Pub/Sub message whose `data` is a string: the base64 of a LogEntry. Decoded and
/// normalised like a record of its own (one level: a `data` string inside is not decoded).
fn normalize_pubsub_base64<'a>(
    data: &str,
    splunk_time: Option<&str>,
    opts: &Options,
) -> Normalized<'a> {
    use base64::Engine as _;
    let data = data.trim();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let Some(bytes) = engines.iter().find_map(|e| e.decode(data).ok()) else {
        return Normalized::Skip(SkipReason::NotAuditRecord);
    };
    let mut ev = RawEvent::default();
    let res = ev.fill_from_json(&bytes);
    ev.splunk_time = splunk_time.map(Cow::Borrowed);
    ev.gcp.pubsub_data = None;
    let n = match res {
        Ok(()) => normalize_with(ev, opts, false),
        Err(JsonProblem::NotObject) => Normalized::Skip(SkipReason::NotAuditRecord),
        Err(JsonProblem::Broken) => Normalized::Skip(SkipReason::BrokenJson),
        Err(JsonProblem::Truncated) => normalize_truncated(ev, opts),
    };
    match n {
        Normalized::Event(e) => Normalized::Event(e.into_owned()),
        Normalized::Ignored => Normalized::Ignored,
        Normalized::Skip(r) => Normalized::Skip(r),
    }
}

fn normalize_with<'a>(ev: RawEvent<'a>, opts: &Options, truncated: bool) -> Normalized<'a> {
    if ev.operation.is_none() && ev.event_name.is_none() && ev.gcp.method_name.is_none() {
        if let Some(data) = ev.gcp.pubsub_data.as_deref() {
            return normalize_pubsub_base64(data, ev.splunk_time.as_deref(), opts);
        }
    }
    let aws_source = ev
        .event_source
        .as_deref()
        .filter(|s| contains_ignore_case(s, ".amazonaws.com"));
    let (cloud, op) = match (
        aws_source,
        ev.event_name.as_deref(),
        ev.operation.as_deref(),
    ) {
        (Some(src), Some(name), _) => match opts.operations.find_aws(src, name) {
            Some(op) => (Cloud::Aws, op),
            None => return Normalized::Ignored,
        },
        _ if ev.gcp.method_name.is_some() => {
            match opts
                .operations
                .find_gcp(ev.gcp.method_name.as_deref().unwrap_or(""))
            {
                Some(op) => (Cloud::Gcp, op),
                None => return Normalized::Ignored,
            }
        }
        (_, _, Some(op_name)) => match opts.operations.find_azure(op_name) {
            Some(op) => (Cloud::Azure, op),
            None => return Normalized::Ignored,
        },
        _ if ev.records_wrapper => return Normalized::Skip(SkipReason::RecordsWrapper),
        // The operation may have been after the cut.
        _ if truncated => return Normalized::Skip(SkipReason::Truncated),
        _ if ev.has_audit_markers() => return Normalized::Skip(SkipReason::NoOperation),
        _ => return Normalized::Skip(SkipReason::NotAuditRecord),
    };
    let time = [
        &ev.event_timestamp,
        &ev.time,
        &ev.event_time,
        &ev.gcp.timestamp,
    ]
    .into_iter()
    .filter_map(|s| s.as_deref())
    .find_map(time::parse_iso)
    .or_else(|| ev.splunk_time.as_deref().and_then(time::parse_epoch));
    if truncated
        && !match cloud {
            Cloud::Azure => azure_complete(&ev),
            Cloud::Aws => aws_complete(&ev),
            Cloud::Gcp => gcp_complete(&ev),
        }
    {
        return Normalized::Skip(SkipReason::Truncated);
    }
    let Some(time) = time else {
        return Normalized::Skip(SkipReason::NoTime);
    };
    Normalized::Event(match cloud {
        Cloud::Azure => azure(ev, op, time, opts),
        Cloud::Aws => aws(ev, op, time),
        Cloud::Gcp => match gcp(ev, op, time, opts) {
            Some(e) => e,
            None => return Normalized::Ignored,
        },
    })
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.len() >= needle.len()
        && hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Lower-case, allocating only when needed; trims surrounding blanks.
pub(crate) fn lower(s: Cow<'_, str>) -> Cow<'_, str> {
    let needs_trim = !crate::detect::raw::is_trimmed(&s);
    // One branch-free pass over the bytes (the compiler vectorises it): an upper-case ASCII
    // letter, and any non-ASCII byte (which may be an upper-case letter).
    let (upper, non_ascii) = s.bytes().fold((false, false), |(u, n), b| {
        (u | (b.wrapping_sub(b'A') < 26), n | (b >= 0x80))
    });
    let needs_lower = upper || non_ascii;
    match (s, needs_trim || needs_lower) {
        (s, false) => s,
        (Cow::Borrowed(b), true) if !needs_lower => Cow::Borrowed(b.trim()),
        (s, true) if !non_ascii => Cow::Owned(s.trim().to_ascii_lowercase()),
        (s, true) => Cow::Owned(s.trim().to_lowercase()),
    }
}

fn trimmed(s: Cow<'_, str>) -> Cow<'_, str> {
    if crate::detect::raw::is_trimmed(&s) {
        return s;
    }
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

fn nonempty(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.map(trimmed).filter(|s| !s.is_empty())
}

/// The IP address in `s` (IPv4 or IPv6; an `a.b.c.d:port` or `[v6]:port` form gives its
/// address), or `None` for anything else: a service or host name (`ssm.amazonaws.com`),
/// `<Redacted>`, junk.
fn ip_only(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let t = s.trim();
    let addr: &str = if t.parse::<IpAddr>().is_ok() {
        t
    } else if let Some(v6) = t
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(a, _)| a)
        .filter(|a| a.parse::<Ipv6Addr>().is_ok())
    {
        v6
    } else if let Some((v4, port)) = t.rsplit_once(':') {
        (v4.parse::<Ipv4Addr>().is_ok() && port.parse::<u16>().is_ok()).then_some(v4)?
    } else {
        return None;
    };
    if addr.len() == s.len() {
        return Some(s);
    }
    // `addr` is a slice of `s`: keep borrowing from the input when `s` does.
    let start = addr.as_ptr() as usize - s.as_ptr() as usize;
    let end = start + addr.len();
    Some(match s {
        Cow::Borrowed(b) => Cow::Borrowed(&b[start..end]),
        Cow::Owned(o) => Cow::Owned(o[start..end].to_owned()),
    })
}

fn status_of(ev: &RawEvent<'_>) -> Status {
    [
        &ev.status,
        &ev.result_type,
        &ev.activity_status,
        &ev.result_signature,
        &ev.sub_status,
    ]
    .into_iter()
    .filter_map(|s| s.as_deref())
    .find_map(Status::parse)
    .unwrap_or(Status::Unknown)
}

const STS_PREFIX: &str = "https://sts.windows.net/";

/// The tenant GUID of an `sts.windows.net/<guid>/` issuer or identity provider.
fn sts_tenant(idp: &str) -> Option<&str> {
    let rest = idp.trim();
    // Compare bytes: the claim is attacker-controlled and may put a multi-byte character
    // across the prefix length, where slicing the `str` would panic. The prefix is ASCII, so
    // a match ends on a character boundary.
    let rest = match rest.as_bytes().get(..STS_PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(STS_PREFIX.as_bytes()) => &rest[STS_PREFIX.len()..],
        _ => return None,
    };
    let g = rest.trim_end_matches('/');
    crate::detect::options::is_guid(g).then_some(g)
}

fn is_email_like(s: &str) -> bool {
    !s.contains('#') && s.find('@').is_some_and(|at| at > 0 && at + 1 < s.len())
}

fn is_guidish(s: &str) -> bool {
    crate::detect::options::is_guid(s.trim())
        || (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn azure<'a>(mut ev: RawEvent<'a>, op: u16, time: i64, opts: &Options) -> NormalizedEvent<'a> {
    let status = status_of(&ev);
    let claims = std::mem::take(&mut ev.claims);
    // The name claim of a guest is `<idp>#<user>`: report the user, as `caller` does.
    let name_claim = claims
        .name_uri
        .clone()
        .or(claims.unique_name.clone())
        .map(|n| match n.find('#') {
            // `live.com#user@x` → `user@x`; a B2B UPN (`user_x#EXT#@tenant`) is kept whole.
            Some(i) if is_email_like(&n[i + 1..]) => match n {
                Cow::Borrowed(b) => Cow::Borrowed(&b[i + 1..]),
                Cow::Owned(o) => Cow::Owned(o[i + 1..].to_owned()),
            },
            _ => n,
        });
    let upn = nonempty(claims.upn_uri.clone()).or(nonempty(claims.upn.clone()));
    let caller = [
        ev.caller.take(),
        upn.clone(),
        name_claim,
        ev.principal_oid.take(),
        claims.appid.clone(),
        ev.evidence_principal_id.clone(),
        ev.identity_str.take(),
    ]
    .into_iter()
    .find_map(nonempty)
    .map(lower);

    // Tenants.
    let token_tenant = nonempty(claims.tenant.clone()).map(lower);
    let idp = nonempty(claims.idp.clone()).map(lower);
    let idp_tenant = idp.as_deref().and_then(sts_tenant).map(str::to_owned);
    let external_idp = idp.as_deref().is_some_and(|i| sts_tenant(i).is_none())
        || claims
            .altsecid
            .as_deref()
            .is_some_and(|a| contains_ignore_case(a, "live.com"));
    let event_tenant = nonempty(ev.tenant_id.take()).map(lower);
    // The resource's tenants: the home_tenant option when given, else the event's tenantId.
    let tenants_known = !opts.home_tenants.is_empty() || event_tenant.is_some();
    let is_home = |t: &str| {
        if opts.home_tenants.is_empty() {
            event_tenant
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(t))
        } else {
            opts.home_tenants.iter().any(|h| h.eq_ignore_ascii_case(t))
        }
    };
    let ptype = ev
        .evidence_principal_type
        .as_deref()
        .map(str::trim)
        .unwrap_or("");
    let foreign_group = ptype.eq_ignore_ascii_case("foreigngroup");
    let ext_marker = |s: Option<&str>| s.is_some_and(|s| contains_ignore_case(s, "#ext#"));
    let b2b = ext_marker(upn.as_deref()) || ext_marker(caller.as_deref());
    let cross_tenant = foreign_group
        || external_idp
        || b2b
        || if tenants_known {
            let outside = |t: &str| !is_home(t);
            token_tenant.as_deref().is_some_and(outside)
                || idp_tenant.as_deref().is_some_and(outside)
        } else {
            matches!((&idp_tenant, &token_tenant), (Some(i), Some(t)) if i != t.as_ref())
        };
    let caller_tenant = idp_tenant
        .clone()
        .map(Cow::Owned)
        .or_else(|| idp.clone().filter(|_| external_idp))
        .or(token_tenant.clone());

    // Caller type.
    let idtyp = claims.idtyp.as_deref().map(str::trim).unwrap_or("");
    let managed = claims.mirid.is_some()
        || contains_ignore_case(ptype, "managed")
        || ptype.eq_ignore_ascii_case("msi");
    let guest_markers = external_idp
        || b2b
        || claims.name_uri.as_deref().is_some_and(|n| n.contains('#'))
        || matches!((&idp_tenant, &token_tenant), (Some(i), Some(t)) if i != t.as_ref());
    let caller_type = if foreign_group {
        CallerType::Guest
    } else if managed {
        CallerType::ManagedIdentity
    } else if ptype.eq_ignore_ascii_case("serviceprincipal") || idtyp.eq_ignore_ascii_case("app") {
        CallerType::ServicePrincipal
    } else if ptype.eq_ignore_ascii_case("user")
        || idtyp.eq_ignore_ascii_case("user")
        || upn.is_some()
        || caller.as_deref().is_some_and(|c| c.contains('@'))
    {
        if guest_markers {
            CallerType::Guest
        } else {
            CallerType::User
        }
    } else if caller.as_deref().is_some_and(is_guidish) {
        CallerType::ServicePrincipal
    } else if caller.is_some() {
        CallerType::User
    } else {
        CallerType::Unknown
    };

    let src = [
        ev.caller_ip.take(),
        ev.http_client_ip.take(),
        claims.ipaddr.clone(),
    ]
    .into_iter()
    .find_map(|s| s.and_then(ip_only));

    // Resource: the ID (in any of its fields) wins over the separate name fields, which
    // the Event Hub shape lacks and sanitised samples contradict.
    let rid: Option<Cow<'a, str>> = [
        ev.resource_id.take(),
        ev.resource_uri.take(),
        ev.scope.take(),
        ev.identity_scope.take(),
    ]
    .into_iter()
    .find_map(nonempty);
    let parts = match rid {
        // Borrowed from the input: lower-case parts borrow too.
        Some(Cow::Borrowed(b)) => resource_parts(b),
        Some(Cow::Owned(o)) => resource_parts(&o).into_owned(),
        None => ResourceParts::default(),
    };
    let subscription = parts
        .subscription
        .or_else(|| nonempty(ev.subscription_id.take()).map(lower));
    let resource_group = parts
        .resource_group
        .or_else(|| nonempty(ev.resource_group.take()).map(lower));
    let targets: Vec<(TargetKind, Cow<'a, str>)> = parts.target.into_iter().collect();
    let document = parts.child;
    let correlation_id = nonempty(ev.correlation_id.take()).map(lower);
    let id = correlation_id.as_deref().map(|corr| {
        fn b<'s>(o: &'s Option<Cow<'_, str>>) -> &'s [u8] {
            o.as_deref().unwrap_or("").as_bytes()
        }
        EventId::hashed(&[
            b"azure",
            &op.to_le_bytes(),
            corr.as_bytes(),
            status.as_str().as_bytes(),
            &time.to_le_bytes(),
            b(&subscription),
            b(&resource_group),
            targets.first().map_or(&b""[..], |(_, t)| t.as_bytes()),
            b(&document),
        ])
    });

    NormalizedEvent {
        cloud: Cloud::Azure,
        op,
        time,
        status,
        correlation_id,
        request_id: None,
        caller,
        caller_type,
        caller_tenant,
        cross_tenant,
        caller_session: None,
        invoked_by: None,
        src,
        subscription,
        resource_group,
        targets,
        document,
        tenant_id: event_tenant,
        region: None,
        id,
        gated: false,
        script_key: false,
    }
}

/// The lower-cased parts of a resource ID.
#[derive(Default)]
struct ResourceParts<'a> {
    subscription: Option<Cow<'a, str>>,
    resource_group: Option<Cow<'a, str>>,
    target: Option<(TargetKind, Cow<'a, str>)>,
    child: Option<Cow<'a, str>>,
}

impl ResourceParts<'_> {
    fn into_owned(self) -> ResourceParts<'static> {
        let own = |c: Option<Cow<'_, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        ResourceParts {
            subscription: own(self.subscription),
            resource_group: own(self.resource_group),
            target: self.target.map(|(k, t)| (k, Cow::Owned(t.into_owned()))),
            child: own(self.child),
        }
    }
}

fn resource_parts(rid: &str) -> ResourceParts<'_> {
    fn low(s: &str) -> Cow<'_, str> {
        lower(Cow::Borrowed(s))
    }
    let p = resource::parse(rid);
    let target = p.target.map(|t| match t {
        resource::Target::Vm {
            scale_set: None,
            name,
        } => (TargetKind::Vm, low(name)),
        resource::Target::ScaleSet(n) => (
            TargetKind::Selector,
            Cow::Owned(format!("scaleset={}", low(n))),
        ),
        resource::Target::AutomationAccount(n) | resource::Target::Other(n) => {
            (TargetKind::Resource, low(n))
        }
        vmss => (TargetKind::Vm, Cow::Owned(vmss.to_lower())),
    });
    ResourceParts {
        subscription: p.subscription.map(low),
        resource_group: p.resource_group.map(low),
        target,
        child: p.child.map(low),
    }
}

/// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → (role ARN, session).
fn split_assumed_role_arn(arn: &str) -> Option<(String, &str)> {
    let (prefix, rest) = arn.split_once(":assumed-role/")?;
    let (role, session) = rest.rsplit_once('/')?;
    let account = prefix.rsplit(':').next().unwrap_or("");
    let partition = prefix.split(':').nth(1).unwrap_or("aws");
    Some((
        format!("arn:{partition}:iam::{account}:role/{role}"),
        session,
    ))
}

/// The AWS service behind a service-linked role ARN
/// (`arn:aws:iam::<acct>:role/aws-service-role/<service>/<role>` → `<service>`).
fn service_linked_role_service(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":role/aws-service-role/")?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

/// Whether `s` names an AWS service principal (`ssm.amazonaws.com`, `AWS Internal`).
fn is_aws_service_name(s: &str) -> bool {
    contains_ignore_case(s, ".amazonaws.com") || s.trim().eq_ignore_ascii_case("aws internal")
}

fn aws<'a>(mut ev: RawEvent<'a>, op: u16, time: i64) -> NormalizedEvent<'a> {
    let status = match ev.error_code.as_deref().map(str::trim) {
        None | Some("") => Status::Succeeded,
        Some(c) if c.eq_ignore_ascii_case("success") => Status::Succeeded,
        Some(_) => Status::Failed,
    };
    let ui = std::mem::take(&mut ev.user_identity);
    let kind = ui.kind.as_deref().map(str::trim).unwrap_or("");
    let arn = nonempty(ui.arn);
    let account = nonempty(ui.account_id).or(nonempty(ui.issuer_account_id));
    // `sourceIPAddress` holds a service's DNS name when a service made the call.
    let source = nonempty(ev.source_ip.take());
    let src = source.clone().and_then(ip_only);
    let invoked_by = nonempty(ui.invoked_by).filter(|s| is_aws_service_name(s));
    let issuer_arn = nonempty(ui.issuer_arn);
    let mut session: Option<Cow<'a, str>> = None;
    let is = |k: &str| kind.eq_ignore_ascii_case(k);
    let (caller, mut caller_type): (Option<Cow<'a, str>>, CallerType) = if is("IAMUser") {
        let c = arn.or_else(|| {
            nonempty(ui.user_name).map(|u| {
                Cow::Owned(format!(
                    "arn:aws:iam::{}:user/{u}",
                    account.as_deref().unwrap_or("")
                ))
            })
        });
        (c, CallerType::IamUser)
    } else if is("AssumedRole") {
        let from_arn = arn
            .as_deref()
            .and_then(split_assumed_role_arn)
            .map(|(r, s)| (r, s.to_owned()));
        session = from_arn
            .as_ref()
            .map(|(_, s)| Cow::Owned(s.clone()))
            .or_else(|| {
                nonempty(ui.principal_id.clone())
                    .and_then(|p| p.split_once(':').map(|(_, s)| Cow::Owned(s.to_owned())))
            });
        let c = issuer_arn
            .clone()
            .or(from_arn.map(|(r, _)| Cow::Owned(r)))
            .or(arn.clone());
        (c, CallerType::AssumedRole)
    } else if is("Root") {
        let c = arn.or_else(|| {
            account
                .as_deref()
                .map(|a| Cow::Owned(format!("arn:aws:iam::{a}:root")))
        });
        (c, CallerType::Root)
    } else if is("AWSService") {
        (
            invoked_by.clone().or(source.clone()),
            CallerType::AwsService,
        )
    } else if is("FederatedUser") {
        session = arn
            .as_deref()
            .and_then(|a| a.rsplit_once("federated-user/"))
            .map(|(_, s)| Cow::Owned(s.to_owned()));
        (issuer_arn.clone().or(arn), CallerType::IamUser)
    } else if kind.is_empty() && source.as_deref().is_some_and(is_aws_service_name) {
        (source.clone(), CallerType::AwsService)
    } else {
        let c = arn
            .or(nonempty(ui.principal_id))
            .or(nonempty(ui.user_name))
            .or(invoked_by.clone());
        (c, CallerType::Unknown)
    };
    // A service acting on its own: `invokedBy` names it, or the role is service-linked
    // (`role/aws-service-role/<service>/…`, e.g. State Manager's association runs). The
    // identity stays the role; the service is reported in `invoked_by`.
    let linked_service = issuer_arn
        .as_deref()
        .and_then(service_linked_role_service)
        .map(|s| Cow::Owned(s.to_owned()));
    let invoked_by = invoked_by.or(linked_service).or_else(|| {
        (caller_type == CallerType::AwsService)
            .then(|| caller.clone())
            .flatten()
    });
    if invoked_by.is_some() {
        caller_type = CallerType::AwsService;
    }
    let recipient = nonempty(ev.recipient_account_id.take());
    let cross_tenant = matches!((&account, &recipient), (Some(a), Some(r)) if a != r);
    let caller_tenant = account.or_else(|| {
        if caller_type == CallerType::AwsService {
            None
        } else {
            recipient.clone()
        }
    });
    let subscription = recipient.or(caller_tenant.clone());

    let mut targets: Vec<(TargetKind, Cow<'a, str>)> = Vec::new();
    // Duplicate check: a scan of the few targets of a normal call, a set once the list is
    // long (one event may name thousands of instances; scanning would be quadratic).
    let mut seen: Option<std::collections::HashSet<String>> = None;
    let mut push = |kind: TargetKind, t: Cow<'a, str>| {
        let t = if t.starts_with("i-") || t.starts_with("mi-") || t.starts_with("I-") {
            lower(t)
        } else {
            trimmed(t)
        };
        if t.is_empty() {
            return;
        }
        let duplicate = match &mut seen {
            Some(set) => !set.insert(t.to_string()),
            None => {
                let dup = targets.iter().any(|(_, x)| *x == t);
                if !dup && targets.len() >= 32 {
                    let mut set: std::collections::HashSet<String> =
                        targets.iter().map(|(_, x)| x.to_string()).collect();
                    set.insert(t.to_string());
                    seen = Some(set);
                }
                dup
            }
        };
        if !duplicate {
            targets.push((kind, t));
        }
    };
    // An instance id with a wildcard (`*`: every managed instance) selects, it does not name.
    let instance = |v: Cow<'a, str>| -> (TargetKind, Cow<'a, str>) {
        if v.contains('*') {
            (
                TargetKind::Selector,
                Cow::Owned(format!("InstanceIds={}", v.trim())),
            )
        } else {
            (TargetKind::Vm, v)
        }
    };
    for id in ev.instance_ids.drain(..) {
        let (k, v) = instance(id);
        push(k, v);
    }
    if let Some(t) = nonempty(ev.target.take()) {
        let (k, v) = instance(t);
        push(k, v);
    }
    for t in ev.targets.drain(..) {
        let key = t.key.as_deref().map(str::trim).unwrap_or("");
        if key.eq_ignore_ascii_case("instanceids") {
            for v in t.values {
                let (k, v) = instance(v);
                push(k, v);
            }
        } else {
            // Tag / resource-group targeting: the selector itself, never a VM.
            for v in t.values {
                push(
                    TargetKind::Selector,
                    Cow::Owned(format!("{key}={}", v.trim())),
                );
            }
        }
    }
    let request_id = nonempty(ev.request_id.take());
    let event_id = nonempty(ev.event_id.take());
    let id = match (event_id.as_deref(), request_id.as_deref()) {
        (Some(e), _) => Some(match crate::detect::options::parse_guid(e) {
            Some(g) => EventId(u128::from_be_bytes(g)),
            None => EventId::hashed(&[b"aws-event", e.as_bytes()]),
        }),
        (None, Some(r)) => Some(EventId::hashed(&[
            b"aws-request",
            &op.to_le_bytes(),
            r.as_bytes(),
        ])),
        (None, None) => None,
    };
    NormalizedEvent {
        cloud: Cloud::Aws,
        op,
        time,
        status,
        correlation_id: None,
        request_id: request_id.or(event_id).map(lower),
        caller,
        caller_type,
        caller_tenant,
        cross_tenant,
        caller_session: session,
        invoked_by,
        src,
        subscription,
        resource_group: None,
        targets,
        document: nonempty(ev.document_name.take()).or(nonempty(ev.name_param.take())),
        tenant_id: None,
        region: nonempty(ev.region.take()),
        id,
        gated: false,
        script_key: false,
    }
}

/// The project id of a `logName` (`projects/<id>/logs/<log>`).
fn project_of_log_name(log_name: &str) -> Option<&str> {
    log_name
        .trim()
        .strip_prefix("projects/")
        .and_then(|r| r.split('/').next())
        .filter(|p| !p.is_empty())
}

/// The value after `collection` in a resource name (`projects/p/zones/z/instances/vm`):
/// `segment_after(name, "instances")` is `vm`.
fn segment_after<'n>(name: &'n str, collection: &str) -> Option<&'n str> {
    let mut it = name.split('/');
    while let Some(seg) = it.next() {
        if seg.eq_ignore_ascii_case(collection) {
            return it.next().filter(|s| !s.is_empty());
        }
    }
    None
}

/// The kind of a Google Cloud principal, by its e-mail (or principal subject).
fn gcp_caller_type(principal: &str) -> CallerType {
    let p = principal.trim();
    let Some((local, domain)) = p.rsplit_once('@') else {
        return if p.is_empty() {
            CallerType::Unknown
        } else {
            // A workforce/workload identity subject (`principal://…`): a person or an
            // external workload; reported as a user.
            CallerType::User
        };
    };
    let domain = domain.to_ascii_lowercase();
    if !domain.ends_with("gserviceaccount.com") {
        return CallerType::User;
    }
    // Service agents are named by project number: `service-<number>@…`, and the Google APIs
    // service agent `<number>@cloudservices.gserviceaccount.com`.
    let numbered = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let agent_local = local
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("service-"))
        && numbered(&local[8..]);
    if agent_local
        || (domain == "cloudservices.gserviceaccount.com" && numbered(local))
        || domain.starts_with("gcp-sa-")
    {
        CallerType::GoogleService
    } else {
        CallerType::ServiceAccount
    }
}

/// The `target_selectors` name of an OS Config resource kind, by operation.
fn osconfig_kind(lower: &str) -> Option<(&'static str, &'static str)> {
    [
        ("patchjob", "patchJobs", "patchJob"),
        ("patchdeployment", "patchDeployments", "patchDeployment"),
        (
            "ospolicyassignment",
            "osPolicyAssignments",
            "osPolicyAssignment",
        ),
        ("guestpolic", "guestPolicies", "guestPolicy"),
    ]
    .into_iter()
    .find(|(m, _, _)| lower.contains(m))
    .map(|(_, c, k)| (c, k))
}

/// The region of a zone (`us-central1-a` → `us-central1`); a region stays as it is.
fn region_of_zone(zone: &str) -> &str {
    match zone.rsplit_once('-') {
        Some((region, z)) if z.len() == 1 && region.contains('-') => region,
        _ => zone,
    }
}

/// Google Cloud: one Cloud Audit Logs LogEntry. `None` for a record that cannot belong to
/// a T1651 invocation: a metadata write without `operation.id` that names no script key.
fn gcp<'a>(
    mut ev: RawEvent<'a>,
    op: u16,
    time: i64,
    opts: &Options,
) -> Option<NormalizedEvent<'a>> {
    use crate::detect::operations::{gcp_needs_script_key, is_gcp_script_key};
    let g = std::mem::take(&mut ev.gcp);
    let op_lower = opts.operations.spec(op).lower.as_str();
    let gated = gcp_needs_script_key(op_lower);
    let mut keys: Vec<String> = g
        .keys_set
        .iter()
        .filter(|k| is_gcp_script_key(k))
        .map(|k| {
            k.split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let script_key = !keys.is_empty();
    let correlation_id = nonempty(g.operation_id).map(lower);
    if gated && !script_key && correlation_id.is_none() {
        return None;
    }
    let code_failed = g
        .status_code
        .as_deref()
        .map(str::trim)
        .is_some_and(|c| !c.is_empty() && c != "0");
    let severity_failed = g.severity.as_deref().map(str::trim).is_some_and(|s| {
        ["ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
            .iter()
            .any(|x| s.eq_ignore_ascii_case(x))
    });
    let is_true = |s: &S<'_>| s.as_deref().is_some_and(|v| v.trim() == "true");
    let status = if code_failed || severity_failed {
        Status::Failed
    } else if is_true(&g.operation_first) && !is_true(&g.operation_last) {
        Status::Started
    } else {
        Status::Succeeded
    };

    let caller = nonempty(g.principal_email)
        .map(lower)
        .or_else(|| nonempty(g.principal_subject));
    let caller_type = caller
        .as_deref()
        .map(gcp_caller_type)
        .unwrap_or(CallerType::Unknown);
    // Impersonation: the principal that started the delegation chain, as AWS reports the
    // session behind an assumed role.
    let caller_session = g
        .delegation
        .into_iter()
        .find_map(|d| nonempty(Some(d)))
        .map(|d| if d.contains('@') { lower(d) } else { d });
    let invoked_by = (caller_type == CallerType::GoogleService)
        .then(|| caller.clone())
        .flatten();
    let src = nonempty(g.caller_ip).and_then(ip_only);

    let resource_name = nonempty(g.resource_name);
    let rn = resource_name.as_deref().unwrap_or("");
    let subscription: Option<Cow<'a, str>> = g
        .log_name
        .as_deref()
        .and_then(project_of_log_name)
        .map(|p| Cow::Owned(p.to_ascii_lowercase()))
        .or_else(|| nonempty(g.project_label).map(lower))
        .or_else(|| segment_after(rn, "projects").map(|p| Cow::Owned(p.to_ascii_lowercase())));
    // A service account's home project (`name@<project>.iam.gserviceaccount.com`).
    let caller_tenant: Option<Cow<'a, str>> = match caller_type {
        CallerType::ServiceAccount => caller
            .as_deref()
            .and_then(|c| c.rsplit_once('@'))
            .and_then(|(_, d)| d.strip_suffix(".iam.gserviceaccount.com"))
            .map(|p| Cow::Owned(p.to_owned())),
        _ => None,
    };
    let cross_tenant = matches!((&caller_tenant, &subscription), (Some(t), Some(s)) if t != s);
    let zone = segment_after(rn, "zones")
        .or_else(|| segment_after(rn, "locations"))
        .map(|z| z.to_ascii_lowercase())
        .or_else(|| nonempty(g.zone_label).map(|z| z.to_ascii_lowercase()));
    let region = zone
        .as_deref()
        .filter(|z| *z != "global")
        .map(|z| Cow::Owned(region_of_zone(z).to_owned()));
    let resource_group = Some(Cow::Owned(zone.unwrap_or_else(|| "-".to_owned())));

    let mut targets: Vec<(TargetKind, Cow<'a, str>)> = Vec::new();
    let project = subscription.as_deref().unwrap_or("");
    if op_lower.ends_with(".setcommoninstancemetadata") {
        targets.push((
            TargetKind::Selector,
            Cow::Owned(format!("project-metadata={project}")),
        ));
    } else if let Some((collection, kind)) = osconfig_kind(op_lower) {
        let name = segment_after(rn, collection)
            .map(str::to_owned)
            .or_else(|| resource_name.as_deref().map(str::to_owned))
            .unwrap_or_else(|| format!("projects/{project}"));
        targets.push((TargetKind::Selector, Cow::Owned(format!("{kind}={name}"))));
    } else if let Some(vm) = segment_after(rn, "instances") {
        targets.push((TargetKind::Vm, Cow::Owned(vm.to_ascii_lowercase())));
    } else if let Some(last) = rn.rsplit('/').next().filter(|s| !s.is_empty()) {
        targets.push((TargetKind::Resource, Cow::Owned(last.to_ascii_lowercase())));
    }
    let id = nonempty(g.insert_id).map(|insert| {
        let log = g.log_name.as_deref().unwrap_or("").trim();
        EventId::hashed(&[b"gcp", log.as_bytes(), insert.as_bytes()])
    });
    Some(NormalizedEvent {
        cloud: Cloud::Gcp,
        op,
        time,
        status,
        correlation_id,
        request_id: None,
        caller,
        caller_type,
        caller_tenant,
        cross_tenant,
        caller_session,
        invoked_by,
        src,
        subscription,
        resource_group,
        targets,
        document: script_key.then(|| Cow::Owned(keys.join(","))),
        tenant_id: None,
        region,
        id,
        gated,
        script_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_families() {
        for (s, f) in [
            ("Started", Status::Started),
            ("Start", Status::Started),
            ("Started.", Status::Started),
            ("ACCEPT", Status::Accepted),
            ("Accepted", Status::Accepted),
            ("success", Status::Succeeded),
            ("Succeeded.Created", Status::Succeeded),
            ("Failure", Status::Failed),
            ("Failed.NotFound", Status::Failed),
            ("Rejected", Status::Failed),
            ("200", Status::Succeeded),
            ("202", Status::Accepted),
            ("403", Status::Failed),
        ] {
            assert_eq!(Status::parse(s), Some(f), "{s}");
        }
        assert_eq!(Status::parse("Informational"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn lower_allocates_only_when_needed() {
        assert!(matches!(lower(Cow::Borrowed("abc")), Cow::Borrowed("abc")));
        assert!(matches!(
            lower(Cow::Borrowed(" abc ")),
            Cow::Borrowed("abc")
        ));
        assert_eq!(lower(Cow::Borrowed(" AbC ")), "abc");
        assert_eq!(lower(Cow::Borrowed("ÄB")), "äb");
        // Always `trim().to_lowercase()`, borrowed or owned, for every kind of byte.
        for s in [
            "",
            " ",
            "abc",
            "ABC",
            "@[`{",
            "AZaz09",
            "\u{a0}x\u{a0}",
            "İSTANBUL",
            "ΣΑΣ",
            "é",
            "É",
            " tab\t",
            "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG-1/providers/x",
        ] {
            let want = s.trim().to_lowercase();
            assert_eq!(lower(Cow::Borrowed(s)), want, "{s:?}");
            assert_eq!(lower(Cow::Owned(s.to_owned())), want, "{s:?}");
        }
    }

    #[test]
    fn assumed_role_arn() {
        let (r, s) =
            split_assumed_role_arn("arn:aws:sts::111:assumed-role/SampleRole/bob").unwrap();
        assert_eq!((r.as_str(), s), ("arn:aws:iam::111:role/SampleRole", "bob"));
        assert!(split_assumed_role_arn("arn:aws:iam::1:user/x").is_none());
    }

    #[test]
    fn sts_tenant_guid() {
        assert_eq!(
            sts_tenant("https://sts.windows.net/ad251139-d600-4f45-a8ba-9f6ca1e5a93d/"),
            Some("ad251139-d600-4f45-a8ba-9f6ca1e5a93d")
        );
        assert_eq!(sts_tenant("live.com"), None);
        assert_eq!(sts_tenant("https://sts.windows.net/x/"), None);
    }
}
