//! Extraction of the fields the normaliser needs, from JSON `_raw` or flattened fields, into
//! one shape-independent [`RawEvent`].
//!
//! The JSON path is the per-event hot path: a hand-written serde visitor reads only the
//! keys it knows (borrowing strings from the input when they have no escapes) and skips
//! everything else with `IgnoredAny`, never building a `serde_json::Value`. It writes into
//! a `&mut RawEvent` as it goes, so a `_raw` that Splunk truncated (default `TRUNCATE` is
//! 10 000 bytes, and Azure records with claims often exceed it) still yields every field
//! seen before the cut.

use crate::detect::fields::{claims as cl, names, EventFields};
use crate::detect::intern::eq_str;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

mod scan;

/// An optional string, borrowed from the input when possible.
pub type S<'a> = Option<Cow<'a, str>>;

/// JWT claims of the caller's token (`claims` in REST, `identity.claims` in Event Hub).
#[derive(Debug, Default, Clone)]
pub struct Claims<'a> {
    pub upn_uri: S<'a>,
    pub upn: S<'a>,
    pub name_uri: S<'a>,
    pub unique_name: S<'a>,
    pub tenant: S<'a>,
    pub idp: S<'a>,
    pub oid: S<'a>,
    pub appid: S<'a>,
    pub idtyp: S<'a>,
    pub ipaddr: S<'a>,
    pub altsecid: S<'a>,
    pub mirid: S<'a>,
}

impl<'a> Claims<'a> {
    /// Store one claim by key; unknown keys are ignored. The first non-empty value wins so
    /// that `claims` and `identity.claims` combine regardless of order.
    fn set(&mut self, key: &str, v: S<'a>) {
        if let Some(slot) = self.slot(key) {
            put(slot, v);
        }
    }

    /// The field a claim's value goes to, or `None` for the claims the normaliser does not
    /// read (most of a token's: their values are skipped, not read).
    ///
    /// A key whose length no read claim has is refused by one test ([`CLAIM_LENGTHS`]); the
    /// rest are compared a word at a time ([`eq_str`]): the URIs share long prefixes, and a
    /// `match` compares through libc's `bcmp`, a byte loop in the shipped musl build.
    #[inline]
    fn slot(&mut self, key: &str) -> Option<&mut S<'a>> {
        if key.len() >= 128 || CLAIM_LENGTHS >> key.len() & 1 == 0 {
            return None;
        }
        let is = |name: &str| eq_str(key, name);
        Some(if is(cl::UPN_URI) {
            &mut self.upn_uri
        } else if is(cl::UPN) {
            &mut self.upn
        } else if is(cl::NAME_URI) {
            &mut self.name_uri
        } else if is(cl::UNIQUE_NAME) {
            &mut self.unique_name
        } else if is(cl::TENANT_URI) || is(cl::TID) {
            &mut self.tenant
        } else if is(cl::IDP_URI) || is(cl::IDP) {
            &mut self.idp
        } else if is(cl::OID_URI) || is(cl::OID) {
            &mut self.oid
        } else if is(cl::APPID) || is(cl::AZP) {
            &mut self.appid
        } else if is(cl::IDTYP) {
            &mut self.idtyp
        } else if is(cl::IPADDR) {
            &mut self.ipaddr
        } else if is(cl::ALTSECID) {
            &mut self.altsecid
        } else if is(cl::MIRID) {
            &mut self.mirid
        } else {
            return None;
        })
    }
}

/// Bit `n` is set when a claim [`Claims::slot`] reads is `n` bytes long (all are shorter
/// than 128 bytes: checked at compile time).
const CLAIM_LENGTHS: u128 = {
    let mut bits = 0u128;
    let mut i = 0;
    while i < cl::ALL.len() {
        assert!(cl::ALL[i].len() < 128);
        bits |= 1 << cl::ALL[i].len();
        i += 1;
    }
    bits
};

/// `userIdentity` of a CloudTrail record.
#[derive(Debug, Default, Clone)]
pub struct UserIdentity<'a> {
    pub kind: S<'a>,
    pub arn: S<'a>,
    pub principal_id: S<'a>,
    pub account_id: S<'a>,
    pub user_name: S<'a>,
    pub invoked_by: S<'a>,
    pub issuer_arn: S<'a>,
    pub issuer_user_name: S<'a>,
    pub issuer_account_id: S<'a>,
}

/// One SSM `targets` entry (`{key, values[]}`).
#[derive(Debug, Default, Clone)]
pub struct SsmTarget<'a> {
    pub key: S<'a>,
    pub values: Vec<Cow<'a, str>>,
}

/// A Google Cloud audit `LogEntry` (Cloud Audit Logs: `protoPayload` is an `AuditLog`).
#[derive(Debug, Default, Clone)]
pub struct GcpEntry<'a> {
    pub method_name: S<'a>,
    pub service_name: S<'a>,
    pub resource_name: S<'a>,
    pub principal_email: S<'a>,
    pub principal_subject: S<'a>,
    /// `serviceAccountDelegationInfo[]` in order: each entry's
    /// `firstPartyPrincipal.principalEmail`, else its `principalSubject`.
    pub delegation: Vec<Cow<'a, str>>,
    pub caller_ip: S<'a>,
    pub status_code: S<'a>,
    /// Metadata keys added or modified (`metadata.instanceMetadataDelta` /
    /// `projectMetadataDelta` `addedMetadataKeys`/`modifiedMetadataKeys`, and the older
    /// `request` keys `Metadata Keys Added` / `Metadata Keys Modified`).
    pub keys_set: Vec<Cow<'a, str>>,
    /// Metadata keys deleted (`deletedMetadataKeys`, `Metadata Keys Deleted`).
    pub keys_deleted: Vec<Cow<'a, str>>,
    pub log_name: S<'a>,
    pub insert_id: S<'a>,
    pub severity: S<'a>,
    pub timestamp: S<'a>,
    /// `resource.labels.project_id` (sometimes the project number).
    pub project_label: S<'a>,
    pub zone_label: S<'a>,
    pub operation_id: S<'a>,
    pub operation_first: S<'a>,
    pub operation_last: S<'a>,
    /// `receiveTimestamp`: written after `operation` in both orders LogEntry JSON comes in
    /// (alphabetical from `gcloud`, and the Logging API's order), so a truncated record that
    /// reached it has lost no `operation`.
    pub receive_timestamp: S<'a>,
    /// The `data` of a Pub/Sub message when it is a string (base64 of the LogEntry).
    pub pubsub_data: S<'a>,
    /// `protoPayload` was read to its end, or its method and principal came from
    /// extracted fields.
    pub payload_complete: bool,
    /// `operation` was read to its end, or `operation.id` came from an extracted field.
    pub operation_complete: bool,
}

/// Everything the normaliser reads, whatever the shape. Empty strings are stored as `None`.
#[derive(Debug, Default, Clone)]
pub struct RawEvent<'a> {
    // Azure
    pub operation: S<'a>,
    pub status: S<'a>,
    pub result_type: S<'a>,
    pub activity_status: S<'a>,
    pub result_signature: S<'a>,
    pub sub_status: S<'a>,
    pub caller: S<'a>,
    /// `identity` when it is a plain string (Intune, sign-in records).
    pub identity_str: S<'a>,
    pub claims: Claims<'a>,
    pub evidence_principal_id: S<'a>,
    pub evidence_principal_type: S<'a>,
    pub principal_oid: S<'a>,
    pub caller_ip: S<'a>,
    pub http_client_ip: S<'a>,
    pub resource_id: S<'a>,
    pub resource_uri: S<'a>,
    pub scope: S<'a>,
    pub identity_scope: S<'a>,
    pub resource_group: S<'a>,
    pub subscription_id: S<'a>,
    pub tenant_id: S<'a>,
    pub correlation_id: S<'a>,
    pub event_timestamp: S<'a>,
    pub time: S<'a>,
    // AWS
    pub event_time: S<'a>,
    pub event_source: S<'a>,
    pub event_name: S<'a>,
    pub user_identity: UserIdentity<'a>,
    pub instance_ids: Vec<Cow<'a, str>>,
    pub targets: Vec<SsmTarget<'a>>,
    pub target: S<'a>,
    pub document_name: S<'a>,
    /// `requestParameters.name`: the document of `CreateAssociation`.
    pub name_param: S<'a>,
    pub source_ip: S<'a>,
    pub error_code: S<'a>,
    pub recipient_account_id: S<'a>,
    pub region: S<'a>,
    pub request_id: S<'a>,
    pub event_id: S<'a>,
    // Google Cloud
    pub gcp: GcpEntry<'a>,
    // Splunk
    /// `_time` as given by splunkd (decimal epoch seconds).
    pub splunk_time: S<'a>,
    /// The JSON object was a `{"records":[…]}` / `{"Records":[…]}` wrapper.
    pub records_wrapper: bool,
    // Completeness, for records that end early (Splunk TRUNCATE): a container whose end
    // was read holds every value it will ever hold, so its absent keys are really absent.
    /// `identity.claims` (the Event Hub shape's claims) was read to its end, or the claims
    /// came from extracted fields.
    pub identity_claims_complete: bool,
    /// `userIdentity` was read to its end, or came from extracted fields.
    pub user_identity_complete: bool,
}

/// Whether `s` has no surrounding whitespace, as `s.trim().len() == s.len()`, deciding
/// from the end bytes alone when they are ASCII (the usual case; `str::trim` decodes
/// characters from both ends).
#[inline]
pub(crate) fn is_trimmed(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if f.is_ascii() && l.is_ascii() => {
            !(f as char).is_whitespace() && !(l as char).is_whitespace()
        }
        _ => s.trim().len() == s.len(),
    }
}

/// Whether `s` is empty or only whitespace (`s.trim().is_empty()`), deciding from the first
/// byte when it is ASCII and not blank.
#[inline]
fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        Some(&f) if f.is_ascii() && !(f as char).is_whitespace() => false,
        _ => s.trim().is_empty(),
    }
}

/// Store `v` into `slot` unless `slot` already holds a value (first non-empty wins).
fn put<'a>(slot: &mut S<'a>, v: S<'a>) {
    if slot.is_none() {
        if let Some(v) = v {
            if !is_blank(&v) {
                *slot = Some(v);
            }
        }
    }
}

/// Why JSON extraction stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonProblem {
    /// The text is not a JSON object (array, scalar, or not JSON at all).
    NotObject,
    /// Syntax error before the end of the input.
    Broken,
    /// The input ends inside the object (e.g. Splunk's TRUNCATE); fields seen so far are kept.
    Truncated,
}

/// Whether `raw` looks like a JSON object (first non-blank byte is `{`).
pub fn looks_like_json_object(raw: &[u8]) -> bool {
    raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Classifies a JSON parse result: cut short (Splunk TRUNCATE) or broken.
fn json_result(res: Result<(), serde_json::Error>) -> Result<(), JsonProblem> {
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.classify() == serde_json::error::Category::Eof => Err(JsonProblem::Truncated),
        Err(_) => Err(JsonProblem::Broken),
    }
}

impl<'a> RawEvent<'a> {
    /// Extract from a JSON object. On error the fields read so far stay in `self`.
    pub fn fill_from_json(&mut self, raw: &'a [u8]) -> Result<(), JsonProblem> {
        if !looks_like_json_object(raw) {
            return Err(JsonProblem::NotObject);
        }
        // Validating UTF-8 once over the whole record (vectorised) and parsing as `str` is
        // faster than serde_json's per-string validation of a byte slice.
        let res = match std::str::from_utf8(raw) {
            Ok(text) => return self.fill_from_json_str(text),
            Err(_) => {
                let mut de = serde_json::Deserializer::from_slice(raw);
                Top(self).deserialize(&mut de).and_then(|_| de.end())
            }
        };
        json_result(res)
    }

    /// [`RawEvent::fill_from_json`] for text already known to be UTF-8 (a Splunk field),
    /// skipping the validation pass.
    pub fn fill_from_json_str(&mut self, raw: &'a str) -> Result<(), JsonProblem> {
        if !looks_like_json_object(raw.as_bytes()) {
            return Err(JsonProblem::NotObject);
        }
        // The hand-written scanner: same fields and verdicts as the serde visitors below
        // (see `scan`'s docs and the differential property test), at a fraction of the cost.
        scan::fill(self, raw).map_err(|stop| match stop {
            scan::Stop::Eof => JsonProblem::Truncated,
            scan::Stop::Syntax => JsonProblem::Broken,
        })
    }

    /// [`RawEvent::fill_from_json_str`] through the serde visitors: the reference the
    /// scanner is tested against.
    #[cfg(test)]
    fn fill_from_json_serde(&mut self, raw: &'a str) -> Result<(), JsonProblem> {
        if !looks_like_json_object(raw.as_bytes()) {
            return Err(JsonProblem::NotObject);
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        json_result(Top(self).deserialize(&mut de).and_then(|_| de.end()))
    }

    /// Extract from flattened Splunk fields.
    pub fn fill_from_fields<F: EventFields + ?Sized>(&mut self, f: &'a F) {
        let one = |name: &str| -> S<'a> { f.value(name).map(Cow::Borrowed) };
        let first = |list: &[&str]| -> S<'a> {
            list.iter()
                .filter_map(|n| f.value(n))
                .find(|v| !v.trim().is_empty())
                .map(Cow::Borrowed)
        };
        use names::*;
        put(&mut self.operation, first(OPERATION));
        // `status` may be the REST object flattened (`status.value`) or a plain string.
        put(&mut self.status, first(&STATUS[..2]));
        put(&mut self.activity_status, one(STATUS[2]));
        put(&mut self.result_type, one(RESULT_TYPE));
        put(&mut self.result_signature, one(RESULT_SIGNATURE));
        put(&mut self.sub_status, first(SUB_STATUS));
        put(&mut self.caller, first(CALLER));
        put(&mut self.identity_str, one(IDENTITY));
        for (i, key) in cl::ALL.iter().enumerate() {
            for (p, _) in CLAIM_PREFIXES.iter().enumerate() {
                let full = &claim_field_names()[p * cl::ALL.len() + i];
                if let Some(v) = f.value(full) {
                    self.claims.set(key, Some(Cow::Borrowed(v)));
                    self.identity_claims_complete = true;
                }
            }
        }
        put(&mut self.evidence_principal_id, one(EVIDENCE_PRINCIPAL_ID));
        put(
            &mut self.evidence_principal_type,
            one(EVIDENCE_PRINCIPAL_TYPE),
        );
        put(&mut self.principal_oid, one(PRINCIPAL_OID));
        put(&mut self.caller_ip, first(CALLER_IP));
        put(&mut self.http_client_ip, one(HTTP_CLIENT_IP));
        put(&mut self.resource_id, first(&RESOURCE_ID[..2]));
        put(&mut self.resource_uri, one(RESOURCE_ID[2]));
        put(&mut self.scope, one(SCOPE[0]));
        put(&mut self.identity_scope, one(SCOPE[1]));
        put(&mut self.resource_group, first(RESOURCE_GROUP));
        put(&mut self.subscription_id, first(SUBSCRIPTION));
        put(&mut self.tenant_id, first(TENANT));
        put(&mut self.correlation_id, first(CORRELATION));
        put(&mut self.event_timestamp, one(EVENT_TIME[0]));
        put(&mut self.time, one(EVENT_TIME[1]));
        put(&mut self.event_time, one(EVENT_TIME[2]));
        put(&mut self.time, one(EVENT_TIME[3]));
        put(&mut self.event_source, one(EVENT_SOURCE));
        put(&mut self.event_name, one(EVENT_NAME));
        let ui = &mut self.user_identity;
        put(&mut ui.kind, one(UI_TYPE));
        put(&mut ui.arn, one(UI_ARN));
        put(&mut ui.principal_id, one(UI_PRINCIPAL_ID));
        put(&mut ui.account_id, one(UI_ACCOUNT_ID));
        put(&mut ui.user_name, one(UI_USER_NAME));
        put(&mut ui.invoked_by, one(UI_INVOKED_BY));
        put(&mut ui.issuer_arn, one(SI_ARN));
        put(&mut ui.issuer_user_name, one(SI_USER_NAME));
        put(&mut ui.issuer_account_id, one(SI_ACCOUNT_ID));
        // Extracted columns are whole values: what they hold is complete.
        self.user_identity_complete |= ui.kind.is_some() || ui.arn.is_some();
        self.instance_ids.extend(
            f.values(INSTANCE_IDS)
                .into_iter()
                .filter(|v| !v.trim().is_empty())
                .map(Cow::Borrowed),
        );
        // Flattening loses which values belong to which key; with one key (the usual case)
        // the pairing is exact, with several the values are attached to the first key.
        let keys = f.values(TARGET_KEYS);
        let values: Vec<Cow<'a, str>> = f
            .values(TARGET_VALUES)
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .map(Cow::Borrowed)
            .collect();
        if !keys.is_empty() || !values.is_empty() {
            let key = keys.first().map(|k| Cow::Borrowed(*k));
            self.targets.push(SsmTarget { key, values });
        }
        put(&mut self.target, one(TARGET));
        put(&mut self.document_name, one(DOCUMENT));
        put(&mut self.name_param, one(NAME_PARAM));
        put(&mut self.source_ip, one(SOURCE_IP));
        put(&mut self.error_code, one(ERROR_CODE));
        put(&mut self.recipient_account_id, one(RECIPIENT_ACCOUNT));
        put(&mut self.region, one(REGION));
        put(&mut self.request_id, one(REQUEST_ID));
        put(&mut self.event_id, one(EVENT_ID));
        self.fill_gcp_from_fields(f);
    }

    /// The Google Cloud fields, as Splunk flattens a LogEntry (`protoPayload.methodName`)
    /// or a Pub/Sub message holding one (`data.protoPayload.methodName`).
    fn fill_gcp_from_fields<F: EventFields + ?Sized>(&mut self, f: &'a F) {
        use names::gcp::*;
        let g = &mut self.gcp;
        for names in gcp_field_names() {
            let one = |i: usize| -> S<'a> { f.value(&names[i]).map(Cow::Borrowed) };
            let many = |i: usize, out: &mut Vec<Cow<'a, str>>| {
                out.extend(
                    f.values(&names[i])
                        .into_iter()
                        .filter(|v| !v.trim().is_empty())
                        .map(Cow::Borrowed),
                )
            };
            put(&mut g.method_name, one(METHOD));
            put(&mut g.service_name, one(SERVICE));
            put(&mut g.resource_name, one(RESOURCE_NAME));
            put(&mut g.principal_email, one(PRINCIPAL_EMAIL));
            put(&mut g.principal_subject, one(PRINCIPAL_SUBJECT));
            let mut emails = Vec::new();
            many(DELEGATION_EMAIL, &mut emails);
            if emails.is_empty() {
                many(DELEGATION_SUBJECT, &mut emails);
            }
            g.delegation.extend(emails);
            put(&mut g.caller_ip, one(CALLER_IP));
            put(&mut g.status_code, one(STATUS_CODE));
            for &i in KEYS_SET {
                many(i, &mut g.keys_set);
            }
            for &i in KEYS_DELETED {
                many(i, &mut g.keys_deleted);
            }
            put(&mut g.log_name, one(LOG_NAME));
            put(&mut g.insert_id, one(INSERT_ID));
            put(&mut g.severity, one(SEVERITY));
            put(&mut g.timestamp, one(TIMESTAMP));
            put(&mut g.project_label, one(PROJECT_LABEL));
            put(&mut g.zone_label, one(ZONE_LABEL));
            put(&mut g.operation_id, one(OPERATION_ID));
            put(&mut g.operation_first, one(OPERATION_FIRST));
            put(&mut g.operation_last, one(OPERATION_LAST));
        }
        put(&mut g.pubsub_data, f.value(PUBSUB_DATA).map(Cow::Borrowed));
        // Extracted columns are whole values: what they hold is complete.
        g.payload_complete |= g.method_name.is_some()
            && (g.principal_email.is_some() || g.principal_subject.is_some());
        g.operation_complete |= g.operation_id.is_some();
    }

    /// Whether any key typical of an audit record was seen (used to tell "not an audit
    /// record" from "audit record without an operation").
    pub fn has_audit_markers(&self) -> bool {
        self.resource_id.is_some()
            || self.resource_uri.is_some()
            || self.correlation_id.is_some()
            || self.caller.is_some()
            || self.event_source.is_some()
            || self.user_identity.kind.is_some()
            || self.user_identity.arn.is_some()
            || self.claims.upn_uri.is_some()
            || self.claims.oid.is_some()
            || self.status.is_some()
            || self.result_type.is_some()
            || self.gcp.log_name.is_some()
            || self.gcp.service_name.is_some()
            || self.gcp.principal_email.is_some()
    }
}

/// The Google Cloud field names ([`names::gcp::ALL`]) without and with the Pub/Sub `data.`
/// prefix, built once: `[plain, prefixed]`, each indexed like `ALL`.
pub(crate) fn gcp_field_names() -> &'static [Vec<String>; 2] {
    static NAMES: OnceLock<[Vec<String>; 2]> = OnceLock::new();
    NAMES.get_or_init(|| {
        let with = |p: &str| -> Vec<String> {
            names::gcp::ALL.iter().map(|n| format!("{p}{n}")).collect()
        };
        [with(""), with(names::gcp::PREFIXES[1])]
    })
}

/// `claims.<key>` and `identity.claims.<key>` for every key in [`cl::ALL`], built once.
/// Layout: prefix-major (`p * ALL.len() + i`).
fn claim_field_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        names::CLAIM_PREFIXES
            .iter()
            .flat_map(|p| cl::ALL.iter().map(move |c| format!("{p}{c}")))
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// serde visitors

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A scalar read leniently: strings as they are, numbers and booleans as text, null and
/// nested objects/arrays as absent. A field of an unexpected type never fails the event.
struct Lenient<'a>(S<'a>);

struct LenientVisitor;

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = Lenient<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(v))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Borrowed(if v {
            "true"
        } else {
            "false"
        }))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Lenient(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lenient(None))
    }
}

impl<'de> de::Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor)
    }
}

/// A string, or an object whose `value` key holds it (`operationName`, `status`,
/// `subStatus`, `eventName`, `eventSource` in the REST shape).
struct StrOrValue<'a>(S<'a>);

impl<'de> de::Deserialize<'de> for StrOrValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrOrValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an object with a value key")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = None;
                while let Some(k) = m.next_key::<Key>()? {
                    if k.0 == "value" {
                        put(&mut out, m.next_value::<Lenient>()?.0);
                    } else {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(StrOrValue(out))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                LenientVisitor
                    .visit_borrowed_str(v)
                    .map(|l| StrOrValue(l.0))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                LenientVisitor.visit_str(v).map(|l| StrOrValue(l.0))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                LenientVisitor.visit_bool(v).map(|l| StrOrValue(l.0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                LenientVisitor.visit_i64(v).map(|l| StrOrValue(l.0))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                LenientVisitor.visit_u64(v).map(|l| StrOrValue(l.0))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                LenientVisitor.visit_f64(v).map(|l| StrOrValue(l.0))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StrOrValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
                LenientVisitor.visit_seq(s).map(|l| StrOrValue(l.0))
            }
        }
        d.deserialize_any(V)
    }
}

/// Generates a `DeserializeSeed` + `Visitor` for a nested object that writes selected keys
/// into a `&mut` target. Anything that is not an object is skipped.
/// The visitor methods that accept and ignore a scalar (bool, number, null) where an object,
/// array or string was expected: a wrong-typed value is skipped, never an error.
macro_rules! ignore_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
    };
}

macro_rules! object_seed {
    ($name:ident, $target:ty, |$t:ident, $key:ident, $map:ident| $body:block) => {
        struct $name<'r, 'a>(&'r mut $target);
        impl<'de, 'r> DeserializeSeed<'de> for $name<'r, 'de> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de, 'r> Visitor<'de> for $name<'r, 'de> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<(), A::Error> {
                let $t = self.0;
                while let Some(k) = $map.next_key::<Key>()? {
                    let $key: &str = &k.0;
                    $body
                }
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
                Ok(())
            }
            ignore_scalars!();
        }
    };
}

fn lenient<'de, A: MapAccess<'de>>(m: &mut A) -> Result<S<'de>, A::Error> {
    Ok(m.next_value::<Lenient>()?.0)
}

fn skip<'de, A: MapAccess<'de>>(m: &mut A) -> Result<(), A::Error> {
    m.next_value::<IgnoredAny>().map(|_| ())
}

// The top-level object.
object_seed!(Top, RawEvent<'a>, |ev, key, m| {
    top_field(ev, key, &mut m, false)?;
});

// The LogEntry inside a Pub/Sub message's `data`: the top-level table without `data`.
object_seed!(DataEntry, RawEvent<'a>, |ev, key, m| {
    top_field(ev, key, &mut m, true)?;
});

/// One key of the top-level object; `nested` inside a Pub/Sub `data` object (where a
/// further `data` is skipped: one level of wrapping only).
fn top_field<'de, A: MapAccess<'de>>(
    ev: &mut RawEvent<'de>,
    key: &str,
    mut m: &mut A,
    nested: bool,
) -> Result<(), A::Error> {
    match key {
        "operationName" | "OperationNameValue" => {
            put(&mut ev.operation, m.next_value::<StrOrValue>()?.0)
        }
        "status" => put(&mut ev.status, m.next_value::<StrOrValue>()?.0),
        "resultType" => put(&mut ev.result_type, lenient(&mut m)?),
        "ActivityStatusValue" => put(&mut ev.activity_status, lenient(&mut m)?),
        "resultSignature" => put(&mut ev.result_signature, lenient(&mut m)?),
        "subStatus" | "ActivitySubstatusValue" => {
            put(&mut ev.sub_status, m.next_value::<StrOrValue>()?.0)
        }
        "caller" | "Caller" => put(&mut ev.caller, lenient(&mut m)?),
        "claims" => m.next_value_seed(ClaimsSeed(&mut ev.claims))?,
        "identity" => m.next_value_seed(IdentitySeed(ev))?,
        "properties" => m.next_value_seed(PropertiesSeed(ev))?,
        "authorization" => m.next_value_seed(AuthorizationSeed(&mut ev.scope))?,
        "httpRequest" => m.next_value_seed(HttpRequestSeed(&mut ev.http_client_ip))?,
        "callerIpAddress" | "CallerIpAddress" => put(&mut ev.caller_ip, lenient(&mut m)?),
        "resourceId" | "ResourceId" => put(&mut ev.resource_id, lenient(&mut m)?),
        "resourceUri" => put(&mut ev.resource_uri, lenient(&mut m)?),
        "resourceGroupName" | "resourceGroup" | "ResourceGroup" => {
            put(&mut ev.resource_group, lenient(&mut m)?)
        }
        "subscriptionId" | "SubscriptionId" => put(&mut ev.subscription_id, lenient(&mut m)?),
        "tenantId" | "TenantId" => put(&mut ev.tenant_id, lenient(&mut m)?),
        "correlationId" | "CorrelationId" => put(&mut ev.correlation_id, lenient(&mut m)?),
        "eventTimestamp" => put(&mut ev.event_timestamp, lenient(&mut m)?),
        "time" | "TimeGenerated" => put(&mut ev.time, lenient(&mut m)?),
        "eventTime" => put(&mut ev.event_time, lenient(&mut m)?),
        "eventSource" => put(&mut ev.event_source, m.next_value::<StrOrValue>()?.0),
        "eventName" => put(&mut ev.event_name, m.next_value::<StrOrValue>()?.0),
        "userIdentity" => {
            m.next_value_seed(UserIdentitySeed(&mut ev.user_identity))?;
            ev.user_identity_complete = true;
        }
        "requestParameters" => m.next_value_seed(RequestParametersSeed(ev))?,
        "sourceIPAddress" => put(&mut ev.source_ip, lenient(&mut m)?),
        "errorCode" => put(&mut ev.error_code, lenient(&mut m)?),
        "recipientAccountId" => put(&mut ev.recipient_account_id, lenient(&mut m)?),
        "awsRegion" => put(&mut ev.region, lenient(&mut m)?),
        "requestID" => put(&mut ev.request_id, lenient(&mut m)?),
        "eventID" => put(&mut ev.event_id, lenient(&mut m)?),
        "records" | "Records" => {
            ev.records_wrapper = true;
            skip(&mut m)?
        }
        "protoPayload" => {
            m.next_value_seed(ProtoPayloadSeed(&mut ev.gcp))?;
            ev.gcp.payload_complete = true;
        }
        "logName" => put(&mut ev.gcp.log_name, lenient(&mut m)?),
        "insertId" => put(&mut ev.gcp.insert_id, lenient(&mut m)?),
        "severity" => put(&mut ev.gcp.severity, lenient(&mut m)?),
        "timestamp" => put(&mut ev.gcp.timestamp, lenient(&mut m)?),
        "receiveTimestamp" => put(&mut ev.gcp.receive_timestamp, lenient(&mut m)?),
        "resource" => m.next_value_seed(GcpResourceSeed(&mut ev.gcp))?,
        "operation" => {
            m.next_value_seed(GcpOperationSeed(&mut ev.gcp))?;
            ev.gcp.operation_complete = true;
        }
        "data" if !nested => m.next_value_seed(PubSubDataSeed(ev))?,
        _ => skip(&mut m)?,
    }
    Ok(())
}

object_seed!(ProtoPayloadSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "methodName" => put(&mut g.method_name, lenient(&mut m)?),
        "serviceName" => put(&mut g.service_name, lenient(&mut m)?),
        "resourceName" => put(&mut g.resource_name, lenient(&mut m)?),
        "authenticationInfo" => m.next_value_seed(AuthenticationInfoSeed(g))?,
        "requestMetadata" => m.next_value_seed(RequestMetadataSeed(&mut g.caller_ip))?,
        "status" => m.next_value_seed(GcpStatusSeed(&mut g.status_code))?,
        "metadata" => m.next_value_seed(GcpMetadataSeed(g))?,
        "request" => m.next_value_seed(GcpRequestSeed(g))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(AuthenticationInfoSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "principalEmail" => put(&mut g.principal_email, lenient(&mut m)?),
        "principalSubject" => put(&mut g.principal_subject, lenient(&mut m)?),
        "serviceAccountDelegationInfo" => {
            m.next_value_seed(DelegationListSeed(&mut g.delegation))?
        }
        _ => skip(&mut m)?,
    }
});

/// One `serviceAccountDelegationInfo` entry: (first-party email, principal subject).
#[derive(Default)]
struct Delegation<'a> {
    email: S<'a>,
    subject: S<'a>,
}

object_seed!(DelegationSeed, Delegation<'a>, |d, key, m| {
    match key {
        "firstPartyPrincipal" => m.next_value_seed(FirstPartySeed(&mut d.email))?,
        "principalSubject" => put(&mut d.subject, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(FirstPartySeed, S<'a>, |email, key, m| {
    match key {
        "principalEmail" => put(email, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

/// `serviceAccountDelegationInfo`: an array of entries; each complete entry adds its
/// first-party email, else its subject.
struct DelegationListSeed<'r, 'a>(&'r mut Vec<Cow<'a, str>>);
impl<'de, 'r> DeserializeSeed<'de> for DelegationListSeed<'r, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
impl<'de, 'r> Visitor<'de> for DelegationListSeed<'r, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of delegation entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        loop {
            let mut d = Delegation::default();
            if s.next_element_seed(DelegationSeed(&mut d))?.is_none() {
                break;
            }
            if let Some(p) = d.email.or(d.subject) {
                self.0.push(p);
            }
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    ignore_scalars!();
}

object_seed!(RequestMetadataSeed, S<'a>, |ip, key, m| {
    match key {
        "callerIp" => put(ip, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(GcpStatusSeed, S<'a>, |code, key, m| {
    match key {
        "code" => put(code, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(GcpMetadataSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "instanceMetadataDelta" | "projectMetadataDelta" => {
            m.next_value_seed(MetadataDeltaSeed(g))?
        }
        _ => skip(&mut m)?,
    }
});

object_seed!(MetadataDeltaSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "addedMetadataKeys" | "modifiedMetadataKeys" => {
            m.next_value_seed(StringListSeed(&mut g.keys_set))?
        }
        "deletedMetadataKeys" => m.next_value_seed(StringListSeed(&mut g.keys_deleted))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(GcpRequestSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "Metadata Keys Added" | "Metadata Keys Modified" => {
            m.next_value_seed(StringListSeed(&mut g.keys_set))?
        }
        "Metadata Keys Deleted" => m.next_value_seed(StringListSeed(&mut g.keys_deleted))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(GcpResourceSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "labels" => m.next_value_seed(GcpLabelsSeed(g))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(GcpLabelsSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "project_id" => put(&mut g.project_label, lenient(&mut m)?),
        "zone" => put(&mut g.zone_label, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(GcpOperationSeed, GcpEntry<'a>, |g, key, m| {
    match key {
        "id" => put(&mut g.operation_id, lenient(&mut m)?),
        "first" => put(&mut g.operation_first, lenient(&mut m)?),
        "last" => put(&mut g.operation_last, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

/// A Pub/Sub message's `data`: the LogEntry as an object, or as a string (base64, decoded
/// by the normaliser).
struct PubSubDataSeed<'r, 'a>(&'r mut RawEvent<'a>);
impl<'de, 'r> DeserializeSeed<'de> for PubSubDataSeed<'r, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
impl<'de, 'r> Visitor<'de> for PubSubDataSeed<'r, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a LogEntry object or a base64 string")
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<(), A::Error> {
        DataEntry(self.0).visit_map(m)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        put(&mut self.0.gcp.pubsub_data, Some(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        put(&mut self.0.gcp.pubsub_data, Some(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    ignore_scalars!();
}

object_seed!(ClaimsSeed, Claims<'a>, |c, key, m| {
    match c.slot(key) {
        Some(slot) => put(slot, lenient(&mut m)?),
        None => skip(&mut m)?,
    }
});

/// `identity`: an object in ARM records, a plain string in some other categories.
struct IdentitySeed<'r, 'a>(&'r mut RawEvent<'a>);
impl<'de, 'r> DeserializeSeed<'de> for IdentitySeed<'r, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
impl<'de, 'r> Visitor<'de> for IdentitySeed<'r, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an identity object or string")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let ev = self.0;
        while let Some(k) = m.next_key::<Key>()? {
            match &*k.0 {
                "claims" => {
                    m.next_value_seed(ClaimsSeed(&mut ev.claims))?;
                    ev.identity_claims_complete = true;
                }
                "authorization" => m.next_value_seed(IdentityAuthorizationSeed(ev))?,
                _ => skip(&mut m)?,
            }
        }
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        put(&mut self.0.identity_str, Some(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        put(&mut self.0.identity_str, Some(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    ignore_scalars!();
}

object_seed!(IdentityAuthorizationSeed, RawEvent<'a>, |ev, key, m| {
    match key {
        "scope" => put(&mut ev.identity_scope, lenient(&mut m)?),
        "evidence" => m.next_value_seed(EvidenceSeed(ev))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(EvidenceSeed, RawEvent<'a>, |ev, key, m| {
    match key {
        "principalId" => put(&mut ev.evidence_principal_id, lenient(&mut m)?),
        "principalType" => put(&mut ev.evidence_principal_type, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(PropertiesSeed, RawEvent<'a>, |ev, key, m| {
    match key {
        "principalOid" => put(&mut ev.principal_oid, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(AuthorizationSeed, S<'a>, |scope, key, m| {
    match key {
        "scope" => put(scope, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(HttpRequestSeed, S<'a>, |ip, key, m| {
    match key {
        "clientIpAddress" => put(ip, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(UserIdentitySeed, UserIdentity<'a>, |ui, key, m| {
    match key {
        "type" => put(&mut ui.kind, lenient(&mut m)?),
        "arn" => put(&mut ui.arn, lenient(&mut m)?),
        "principalId" => put(&mut ui.principal_id, lenient(&mut m)?),
        "accountId" => put(&mut ui.account_id, lenient(&mut m)?),
        "userName" => put(&mut ui.user_name, lenient(&mut m)?),
        "invokedBy" => put(&mut ui.invoked_by, lenient(&mut m)?),
        "sessionContext" => m.next_value_seed(SessionContextSeed(ui))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(SessionContextSeed, UserIdentity<'a>, |ui, key, m| {
    match key {
        "sessionIssuer" => m.next_value_seed(SessionIssuerSeed(ui))?,
        _ => skip(&mut m)?,
    }
});

object_seed!(SessionIssuerSeed, UserIdentity<'a>, |ui, key, m| {
    match key {
        "arn" => put(&mut ui.issuer_arn, lenient(&mut m)?),
        "userName" => put(&mut ui.issuer_user_name, lenient(&mut m)?),
        "accountId" => put(&mut ui.issuer_account_id, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(RequestParametersSeed, RawEvent<'a>, |ev, key, m| {
    match key {
        "instanceIds" => m.next_value_seed(StringListSeed(&mut ev.instance_ids))?,
        "targets" => m.next_value_seed(TargetsSeed(&mut ev.targets))?,
        "target" => put(&mut ev.target, lenient(&mut m)?),
        "documentName" => put(&mut ev.document_name, lenient(&mut m)?),
        "name" => put(&mut ev.name_param, lenient(&mut m)?),
        _ => skip(&mut m)?,
    }
});

object_seed!(TargetSeed, SsmTarget<'a>, |t, key, m| {
    match key {
        "key" | "Key" => put(&mut t.key, lenient(&mut m)?),
        "values" | "Values" => m.next_value_seed(StringListSeed(&mut t.values))?,
        _ => skip(&mut m)?,
    }
});

/// An array of strings (non-strings and empty strings skipped); a single string is a list of one.
struct StringListSeed<'r, 'a>(&'r mut Vec<Cow<'a, str>>);
impl<'de, 'r> DeserializeSeed<'de> for StringListSeed<'r, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
impl<'de, 'r> Visitor<'de> for StringListSeed<'r, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of strings")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while let Some(v) = s.next_element::<Lenient>()? {
            if let Some(v) = v.0.filter(|v| !v.trim().is_empty()) {
                self.0.push(v);
            }
        }
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        if !v.trim().is_empty() {
            self.0.push(Cow::Borrowed(v));
        }
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if !v.trim().is_empty() {
            self.0.push(Cow::Owned(v.to_owned()));
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    ignore_scalars!();
}

/// The `targets` array of SendCommand.
struct TargetsSeed<'r, 'a>(&'r mut Vec<SsmTarget<'a>>);
impl<'de, 'r> DeserializeSeed<'de> for TargetsSeed<'r, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
impl<'de, 'r> Visitor<'de> for TargetsSeed<'r, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of targets")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        loop {
            let mut t = SsmTarget::default();
            if s.next_element_seed(TargetSeed(&mut t))?.is_none() {
                break;
            }
            if t.key.is_some() || !t.values.is_empty() {
                self.0.push(t);
            }
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    ignore_scalars!();
}

// ---------------------------------------------------------------------------------------
// Wrappers

/// Error splitting a multi-record document.
#[derive(Debug, thiserror::Error)]
#[error("not a JSON record document: {0}")]
pub struct RecordsError(#[from] serde_json::Error);

/// Split one JSON document into its audit records, as borrowed byte slices:
/// `{"records":[…]}` (Event Hub / storage), `{"Records":[…]}` (CloudTrail S3 files), a bare
/// array (Stratus exports), or a single record object (returned as itself).
/// For the offline scan; a Splunk event is always one record.
pub fn split_records(doc: &[u8]) -> Result<Vec<&[u8]>, RecordsError> {
    use serde_json::value::RawValue;
    let text = std::str::from_utf8(doc).map_err(|e| {
        RecordsError(serde::de::Error::custom(format!(
            "invalid UTF-8 at byte {}",
            e.valid_up_to()
        )))
    })?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let list: Vec<&RawValue> = serde_json::from_str(text)?;
        return Ok(list.into_iter().map(|r| r.get().as_bytes()).collect());
    }
    #[derive(serde::Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow, alias = "Records")]
        records: Option<Vec<&'a RawValue>>,
    }
    let w: Wrapper = serde_json::from_str(text)?;
    match w.records {
        Some(list) => Ok(list.into_iter().map(|r| r.get().as_bytes()).collect()),
        None => Ok(vec![text.trim().as_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_extraction_reads_known_keys_and_skips_the_rest() {
        let raw = br#"{"operationName":{"value":"Microsoft.Compute/virtualMachines/runCommand/action","localizedValue":"x"},
            "status":{"value":"Succeeded"},"caller":"a@b.c","claims":{"ipaddr":"1.2.3.4","http://schemas.microsoft.com/identity/claims/tenantid":"t1","junk":{"x":[1,2]}},
            "properties":{"responseBody":"{\"big\":1}","principalOid":"oid1"},"eventName":{"value":"EndRequest"},
            "resourceId":"/subscriptions/s/resourceGroups/r","n":12.5,"caller2":null}"#;
        let mut ev = RawEvent::default();
        ev.fill_from_json(raw).unwrap();
        assert_eq!(
            ev.operation.as_deref(),
            Some("Microsoft.Compute/virtualMachines/runCommand/action")
        );
        assert_eq!(ev.status.as_deref(), Some("Succeeded"));
        assert_eq!(ev.claims.ipaddr.as_deref(), Some("1.2.3.4"));
        assert_eq!(ev.claims.tenant.as_deref(), Some("t1"));
        assert_eq!(ev.principal_oid.as_deref(), Some("oid1"));
        assert_eq!(ev.event_name.as_deref(), Some("EndRequest"));
        assert!(matches!(ev.caller, Some(Cow::Borrowed("a@b.c"))));
    }

    /// A token's claims other than those the normaliser reads are skipped like any ignored
    /// value: a number out of range or a lone surrogate in one of them (both valid JSON
    /// syntax) does not make the event unreadable, on either reader; the same values in a
    /// claim that is read still do, as in any other field read.
    #[test]
    fn unread_claims_are_skipped_not_read() {
        for text in [
            r#"{"claims":{"iat":1e999,"aio":"\ud800","ipaddr":"1.2.3.4","nbf":[1e999,{"k":"\udc00"}]},"caller":"c"}"#,
            r#"{"identity":{"claims":{"exp":-1e400,"upn":"u@x","uti":"\ud83d"}},"caller":"c"}"#,
        ] {
            let mut a = RawEvent::default();
            assert_eq!(a.fill_from_json_str(text), Ok(()), "scanner on {text}");
            let mut b = RawEvent::default();
            assert_eq!(b.fill_from_json_serde(text), Ok(()), "serde on {text}");
            assert_eq!(a.caller.as_deref(), Some("c"));
            assert!(a.claims.ipaddr.is_some() || a.claims.upn.is_some());
            assert_same(text);
        }
        // Every claim the normaliser reads has a field, whatever its length.
        let mut c = Claims::default();
        for name in cl::ALL {
            assert!(c.slot(name).is_some(), "{name}");
            let mut longer = name.to_string();
            longer.push('x');
            assert!(c.slot(&longer).is_none(), "{longer}");
        }
        for text in [
            r#"{"claims":{"ipaddr":1e999},"caller":"c"}"#,
            r#"{"claims":{"upn":"\ud800"},"caller":"c"}"#,
        ] {
            let mut a = RawEvent::default();
            assert_eq!(
                a.fill_from_json_str(text),
                Err(JsonProblem::Broken),
                "{text}"
            );
            assert_same(text);
        }
    }

    #[test]
    fn identity_string_or_object_and_type_mismatches() {
        let mut ev = RawEvent::default();
        ev.fill_from_json(br#"{"identity":"brian@x.com","caller":123,"resultType":["x"],"requestParameters":null}"#)
            .unwrap();
        assert_eq!(ev.identity_str.as_deref(), Some("brian@x.com"));
        assert_eq!(ev.caller.as_deref(), Some("123"));
        assert_eq!(ev.result_type, None);
        let mut ev = RawEvent::default();
        ev.fill_from_json(br#"{"identity":{"claims":{"upn":"u@x"},"authorization":{"evidence":{"principalType":"User"}}}}"#)
            .unwrap();
        assert_eq!(ev.claims.upn.as_deref(), Some("u@x"));
        assert_eq!(ev.evidence_principal_type.as_deref(), Some("User"));
    }

    #[test]
    fn escapes_truncation_and_errors() {
        let mut ev = RawEvent::default();
        ev.fill_from_json(br#"{"caller":"a\u0040b","operationName":"X/Y/Z"}"#)
            .unwrap();
        assert_eq!(ev.caller.as_deref(), Some("a@b"));
        let mut ev = RawEvent::default();
        let r = ev.fill_from_json(
            br#"{"operationName":"X/Y/Z","correlationId":"c1","claims":{"upn":"u@x","ipad"#,
        );
        assert_eq!(r, Err(JsonProblem::Truncated));
        assert_eq!(ev.operation.as_deref(), Some("X/Y/Z"));
        assert_eq!(ev.claims.upn.as_deref(), Some("u@x"));
        let mut ev = RawEvent::default();
        assert_eq!(ev.fill_from_json(br#"{"a":1,,}"#), Err(JsonProblem::Broken));
        assert_eq!(
            ev.fill_from_json(br#"{"a":1} trailing"#),
            Err(JsonProblem::Broken)
        );
        assert_eq!(ev.fill_from_json(br#"[1,2]"#), Err(JsonProblem::NotObject));
        assert_eq!(ev.fill_from_json(b"key=value"), Err(JsonProblem::NotObject));
        let mut ev = RawEvent::default();
        ev.fill_from_json(br#"{"records":[{"operationName":"x"}]}"#)
            .unwrap();
        assert!(ev.records_wrapper);
        assert_eq!(ev.operation, None);
    }

    #[test]
    fn aws_request_parameters() {
        let mut ev = RawEvent::default();
        ev.fill_from_json(
            br#"{"eventSource":"ssm.amazonaws.com","eventName":"SendCommand","requestParameters":{"instanceIds":["i-1","",5,"i-2"],
            "targets":[{"key":"tag:Env","values":["prod","dev"]},{"key":"InstanceIds","values":"i-9"}],"documentName":"AWS-RunShellScript"},
            "userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R"},"attributes":{}}}}"#,
        )
        .unwrap();
        assert_eq!(ev.instance_ids, vec!["i-1", "5", "i-2"]);
        assert_eq!(ev.targets.len(), 2);
        assert_eq!(ev.targets[0].values, vec!["prod", "dev"]);
        assert_eq!(ev.targets[1].values, vec!["i-9"]);
        assert_eq!(
            ev.user_identity.issuer_arn.as_deref(),
            Some("arn:aws:iam::1:role/R")
        );
    }

    /// Documents in every shape the extractor reads, plus the awkward corners of JSON.
    const DIFF_DOCS: &[&str] = &[
        r#"{"authorization":{"action":"Microsoft.Compute/virtualMachines/runCommand/action","scope":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"},"caller":"User1@Contoso.com","channels":"Operation","claims":{"aud":"https://management.core.windows.net/","iss":"https://sts.windows.net/t/","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"User1@Contoso.com","http://schemas.microsoft.com/identity/claims/tenantid":"t","appid":"c44b","ipaddr":"203.0.113.1","name":"Test User"},"correlationId":"c-1","eventName":{"value":"EndRequest","localizedValue":"End request"},"eventTimestamp":"2026-03-01T00:00:01.1234567Z","operationName":{"value":"Microsoft.Compute/virtualMachines/runCommand/action","localizedValue":"Run"},"resourceGroupName":"RG-1","resourceId":"/subscriptions/s/resourceGroups/RG-1/providers/Microsoft.Compute/virtualMachines/vm-1","status":{"value":"Succeeded","localizedValue":"Succeeded"},"subStatus":{"value":"","localizedValue":""},"subscriptionId":"s","tenantId":"t","httpRequest":{"clientRequestId":"x","clientIpAddress":"203.0.113.1","method":"POST"},"properties":{"statusCode":"OK","principalOid":"oid","entity":"e"},"relatedEvents":[]}"#,
        r#"{"time":"2026-03-01T00:00:01.1234567Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-1","operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION","resultType":"Start","resultSignature":"Started.","durationMs":0,"callerIpAddress":"203.0.113.9","correlationId":"c2","identity":{"authorization":{"scope":"/subscriptions/s","action":"a","evidence":{"role":"VM Contributor","principalId":"abc","principalType":"User"}},"claims":{"upn":"u@x","http://schemas.microsoft.com/identity/claims/objectidentifier":"oid"}},"level":"Information","properties":{"statusCode":"OK"},"tenantId":"t"}"#,
        r#"{"awsRegion":"eu-west-1","eventID":"e1","eventName":"SendCommand","eventSource":"ssm.amazonaws.com","eventTime":"2026-03-01T00:00:01Z","managementEvent":true,"readOnly":false,"recipientAccountId":"100000000001","requestID":"r1","requestParameters":{"documentName":"AWS-RunShellScript","instanceIds":["i-1","i-2"],"targets":[{"key":"tag:Env","values":["prod","dev"]},{"Key":"InstanceIds","Values":"i-9"}],"interactive":false},"responseElements":{"command":{"instanceIds":["i-1"],"targetCount":2,"targets":[],"timeoutSeconds":3600}},"sourceIPAddress":"198.51.100.1","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R","userName":"R","accountId":"1"},"attributes":{}}}}"#,
        r#" {"caller":"a\"b\\c\/d\u0041\ud83d\ude00","n":-0.5e+10,"x":[[1,[2,{"y":[]}]],{"z":{"w":null}}],"status":[1,2],"identity":"who","resultType":12.50,"errorCode":true,"claims":"str","eventSource":{"value":7},"c\u0061ller":"second","k":"\u00e9t\u00e9"} "#,
        r#"{"operationName":{"value":null,"other":{"a":[{"b":"c"}]}},"requestParameters":{"instanceIds":"i-solo","targets":{"key":"k"},"target":"t-1"},"userIdentity":[1,2],"records":[{"operationName":"x"}],"Records":{}}"#,
        r#"{"resultType":1e999}"#,
        r#"{"skipped":1e999,"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        r#"{"caller":"\ud800","x":1}"#,
        r#"{"skipped":{"k":"\ud800"},"props":{"\ud800":1}}"#,
        r#"{"caller":-, "x":1}"#,
        "{\"caller\":\"tab\there\"}",
        "{\r\n\t\"caller\" : \"spaced\" ,\n \"resultType\" : \"Success\"\n}\n",
        "\u{c}{\"caller\":\"x\"}",
        r#"{"caller":"ünïcödé ✓","claims":{"name":"名前"}}"#,
        r#"{"insertId":"-x1","logName":"projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity","operation":{"first":true,"id":"operation-1","producer":"compute.googleapis.com"},"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"sa@acme-prod.iam.gserviceaccount.com","principalSubject":"serviceAccount:sa@acme-prod.iam.gserviceaccount.com","serviceAccountDelegationInfo":[{"firstPartyPrincipal":{"principalEmail":"u@example.com","serviceMetadata":{"a":1}}},{"principalSubject":"user:v@example.com"},"junk",{"firstPartyPrincipal":"x"}]},"metadata":{"instanceMetadataDelta":{"addedMetadataKeys":["startup-script","ssh-keys"],"modifiedMetadataKeys":"shutdown-script","deletedMetadataKeys":["x",7]},"projectMetadataDelta":null},"methodName":"v1.compute.instances.setMetadata","request":{"@type":"t","Metadata Keys Added":["startup-script-url"],"Metadata Keys Deleted":"y"},"requestMetadata":{"callerIp":"203.0.113.5","callerSuppliedUserAgent":"gcloud"},"resourceName":"projects/acme-prod/zones/us-central1-a/instances/web-1","serviceName":"compute.googleapis.com","status":{"code":7,"message":"denied"}},"receiveTimestamp":"2024-12-06T05:00:01.123456789Z","resource":{"labels":{"instance_id":"123","project_id":"123456","zone":"us-central1-a"},"type":"gce_instance"},"severity":"ERROR","timestamp":"2024-12-06T05:00:00.5Z"}"#,
        r#"{"attributes":{"k":"v"},"data":{"protoPayload":{"methodName":"google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob","authenticationInfo":{"principalEmail":"a@b.c"}},"logName":"projects/p/logs/x","data":"nested","records":[1],"operation":[1,2],"resource":"r"},"message_id":"1","data":"second"}"#,
        r#"{"data":"eyJwcm90b1BheWxvYWQiOnt9fQ==","publish_time":"2024"}"#,
        r#"{"data":[{"protoPayload":{}}],"protoPayload":"str","operation":{"id":null,"first":false,"last":1},"resource":{"labels":[1]}}"#,
    ];

    /// Every prefix of every document (what Splunk's TRUNCATE produces): the scanner
    /// agrees with the serde visitors on the verdict and on every field.
    #[test]
    fn scanner_matches_serde_on_every_prefix() {
        for doc in DIFF_DOCS {
            for cut in (0..=doc.len()).filter(|&c| doc.is_char_boundary(c)) {
                assert_same(&doc[..cut]);
            }
        }
    }

    fn assert_same(text: &str) {
        let mut a = RawEvent::default();
        let ra = a.fill_from_json_str(text);
        let mut b = RawEvent::default();
        let rb = b.fill_from_json_serde(text);
        assert_eq!(ra, rb, "verdict on {text:?}");
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "fields of {text:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Random edits (JSON punctuation, escapes, digits, letters) of the documents.
        #[test]
        fn scanner_matches_serde_on_mutations(
            doc in 0..DIFF_DOCS.len(),
            edits in proptest::collection::vec((0.0f64..1.0, 0..3u8, proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "\\u00", "u0041", "0", "-", ".",
                "e", "1e999", " ", "\t", "\u{1}", "t", "n", "null", "true", "x", "é", "\"value\":", "{\"a\":1}",
            ])), 1..4),
            cut in 0.0f64..1.0,
        ) {
            let mut s = DIFF_DOCS[doc].to_string();
            for (at, op, text) in edits {
                let mut i = ((s.len() as f64) * at) as usize;
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                match op {
                    0 => s.insert_str(i, text),
                    1 => {
                        let mut j = (i + text.len()).min(s.len());
                        while !s.is_char_boundary(j) {
                            j -= 1;
                        }
                        s.replace_range(i..j, text);
                    }
                    _ => {
                        let mut j = (i + 1 + text.len()).min(s.len());
                        while !s.is_char_boundary(j) {
                            j -= 1;
                        }
                        s.replace_range(i..j, "");
                    }
                }
            }
            let mut c = ((s.len() as f64) * (0.5 + cut / 2.0)) as usize;
            while !s.is_char_boundary(c) {
                c -= 1;
            }
            assert_same(&s);
            assert_same(&s[..c]);
        }
    }

    /// Strings of every length to 40 with one special byte (an escape, a control character,
    /// a byte that only looks special) at every position, as a read value, a key and a
    /// skipped value, whole and cut short: the scanner's 16-byte fast path, its hand-over
    /// to the full scan at, before and after the 16th byte, and the end of the input all
    /// give serde's verdict and fields.
    #[test]
    fn scanner_matches_serde_on_strings_around_its_16_byte_step() {
        let specials = [
            "\\\"",
            "\\\\",
            "\\u0041",
            "\\ud83d\\ude00",
            "\\q",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            "é",
        ];
        for len in 0..=40usize {
            let plain = "a".repeat(len);
            let mut strings = vec![plain.clone()];
            for special in specials {
                for at in 0..=len {
                    strings.push(format!("{}{special}{}", &plain[..at], &plain[at..]));
                }
            }
            for s in &strings {
                for doc in [
                    format!(r#"{{"caller":"{s}","resultType":"Success","eventName":"x"}}"#),
                    format!(r#"{{"{s}":1,"caller":"c","resultType":"Success"}}"#),
                    format!(r#"{{"skip":["{s}",{{"k":"{s}"}}],"caller":"c","resultType":"S"}}"#),
                    format!(r#"{{"caller":"{s}"#),
                    format!(r#"{{"caller":"{s}""#),
                ] {
                    assert_same(&doc);
                }
            }
        }
    }

    #[test]
    fn scanner_edge_cases() {
        // escaped quotes and \u escapes in read values and keys; surrogate pairs
        let mut ev = RawEvent::default();
        ev.fill_from_json_str(r#"{"c\u0061ller":"a\"b\u0040c\ud83d\ude00","resultType":"x"}"#)
            .unwrap();
        assert_eq!(ev.caller.as_deref(), Some("a\"b@c\u{1f600}"));
        // nested arrays and objects inside skipped values; escapes inside them
        let mut ev = RawEvent::default();
        ev.fill_from_json_str(
            r#"{"skip":[[1,{"a":["\"}]",{"b":[[]]}]}],-2.5E-3,"\\"],"caller":"after"}"#,
        )
        .unwrap();
        assert_eq!(ev.caller.as_deref(), Some("after"));
        // truncated _raw keeps what came before the cut, in any position
        for raw in [
            r#"{"caller":"c","skip":[1,{"a":"tr"#,
            r#"{"caller":"c","skip":"\u00"#,
            r#"{"caller":"c","resultType":-"#,
            r#"{"caller":"c","x":tru"#,
        ] {
            let mut ev = RawEvent::default();
            assert_eq!(
                ev.fill_from_json_str(raw),
                Err(JsonProblem::Truncated),
                "{raw}"
            );
            assert_eq!(ev.caller.as_deref(), Some("c"));
        }
        // a cut number is only "truncated" where serde_json reads it as a value
        let mut ev = RawEvent::default();
        assert_eq!(
            ev.fill_from_json_str(r#"{"skipped":-"#),
            Err(JsonProblem::Broken)
        );
        // lone surrogates: an error where decoded (keys, read values), not where skipped
        let mut ev = RawEvent::default();
        assert_eq!(
            ev.fill_from_json_str(r#"{"caller":"\ud800"}"#),
            Err(JsonProblem::Broken)
        );
        let mut ev = RawEvent::default();
        assert_eq!(ev.fill_from_json_str(r#"{"skipped":["\ud800"]}"#), Ok(()));
        // raw control characters and bad escapes are broken JSON
        let mut ev = RawEvent::default();
        assert_eq!(
            ev.fill_from_json_str("{\"x\":\"a\u{1}\"}"),
            Err(JsonProblem::Broken)
        );
        assert_eq!(
            ev.fill_from_json_str(r#"{"x":"\q"}"#),
            Err(JsonProblem::Broken)
        );
    }

    #[test]
    fn trim_fast_paths_agree_with_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a",
            "a\u{c}",
            "\u{a0}a",
            "a\u{3000}",
            "é",
            " é ",
            "\ta\n",
            "\u{85}",
            "x y",
        ] {
            assert_eq!(is_trimmed(s), s.trim().len() == s.len(), "{s:?}");
            assert_eq!(is_blank(s), s.trim().is_empty(), "{s:?}");
        }
    }

    #[test]
    fn split_records_shapes() {
        let recs = split_records(br#"{"records":[{"a":1},{"b":2}]}"#).unwrap();
        assert_eq!(recs, vec![&br#"{"a":1}"#[..], &br#"{"b":2}"#[..]]);
        assert_eq!(split_records(br#"{"Records":[{"a":1}]}"#).unwrap().len(), 1);
        assert_eq!(
            split_records(br#" [{"a":1},{"a":2},{"a":3}]"#)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            split_records(br#"{"a":1}"#).unwrap(),
            vec![&br#"{"a":1}"#[..]]
        );
        assert!(split_records(b"{bad").is_err());
        assert!(split_records(b"\xff").is_err());
    }
}
