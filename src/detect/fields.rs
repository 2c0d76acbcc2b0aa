//! The input abstraction: an event as Splunk's flattened fields.
//!
//! The SCP glue implements [`EventFields`] over its CSV records; tests and the offline scan
//! use [`FieldMap`]. Partial-state rows produced by the map phase ([`OutputRow`]) implement
//! it too, so the reduce side reads them through the same door.

use crate::detect::options::Options;
use crate::detect::row::{OutValue, OutputRow};
use std::collections::HashMap;

/// Read access to one event's fields by Splunk field name.
pub trait EventFields {
    /// The (first) value of a field; `None` when absent. An empty string counts as absent
    /// for the normaliser.
    fn value(&self, name: &str) -> Option<&str>;

    /// All values of a multivalue field (e.g. `requestParameters.instanceIds{}`); empty when
    /// absent. The default wraps [`EventFields::value`].
    fn values(&self, name: &str) -> Vec<&str> {
        self.value(name).into_iter().collect()
    }
}

/// A simple owned field map (tests, offline tools).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    map: HashMap<String, Vec<String>>,
}

impl FieldMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from `(name, value)` pairs; a repeated name adds a value (multivalue).
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut m = FieldMap::new();
        for (n, v) in pairs {
            m.push(n, v);
        }
        m
    }

    /// Add a value to a field.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.map.entry(name.into()).or_default().push(value.into());
        self
    }

    /// Replace a field's values with one value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.map.insert(name.into(), vec![value.into()]);
        self
    }
}

impl EventFields for FieldMap {
    fn value(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    fn values(&self, name: &str) -> Vec<&str> {
        self.map
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

impl EventFields for OutputRow {
    fn value(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            OutValue::Single(s) => Some(s.as_str()),
            OutValue::Multi(v) => v.first().map(String::as_str),
        }
    }
    fn values(&self, name: &str) -> Vec<&str> {
        self.get(name).map(OutValue::values).unwrap_or_default()
    }
}

impl<S: std::hash::BuildHasher> EventFields for HashMap<String, String, S> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl<T: EventFields + ?Sized> EventFields for &T {
    fn value(&self, name: &str) -> Option<&str> {
        (**self).value(name)
    }
    fn values(&self, name: &str) -> Vec<&str> {
        (**self).values(name)
    }
}

/// The column holding a map-phase partial state (compact JSON). See the `engine` module (partial state).
pub const STATE_FIELD: &str = "t1651_state";

/// Flattened field names the normaliser reads when `_raw` is not JSON, grouped by role.
/// URI-keyed claims appear both under `claims.` (REST) and `identity.claims.` (Event Hub).
pub(crate) mod names {
    pub const RAW: &str = "_raw";
    pub const TIME: &str = "_time";
    pub const OPERATION: &[&str] = &["operationName.value", "operationName", "OperationNameValue"];
    pub const STATUS: &[&str] = &["status.value", "status", "ActivityStatusValue"];
    pub const RESULT_TYPE: &str = "resultType";
    pub const RESULT_SIGNATURE: &str = "resultSignature";
    pub const SUB_STATUS: &[&str] = &["subStatus.value", "subStatus", "ActivitySubstatusValue"];
    pub const CALLER: &[&str] = &["caller", "Caller"];
    pub const IDENTITY: &str = "identity";
    pub const PRINCIPAL_OID: &str = "properties.principalOid";
    pub const EVIDENCE_PRINCIPAL_ID: &str = "identity.authorization.evidence.principalId";
    pub const EVIDENCE_PRINCIPAL_TYPE: &str = "identity.authorization.evidence.principalType";
    pub const CALLER_IP: &[&str] = &["callerIpAddress", "CallerIpAddress"];
    pub const HTTP_CLIENT_IP: &str = "httpRequest.clientIpAddress";
    pub const RESOURCE_ID: &[&str] = &["resourceId", "ResourceId", "resourceUri"];
    pub const SCOPE: &[&str] = &["authorization.scope", "identity.authorization.scope"];
    pub const RESOURCE_GROUP: &[&str] = &["resourceGroupName", "resourceGroup", "ResourceGroup"];
    pub const SUBSCRIPTION: &[&str] = &["subscriptionId", "SubscriptionId"];
    pub const TENANT: &[&str] = &["tenantId", "TenantId"];
    pub const CORRELATION: &[&str] = &["correlationId", "CorrelationId"];
    pub const EVENT_TIME: &[&str] = &["eventTimestamp", "time", "eventTime", "TimeGenerated"];
    /// Claim prefixes: REST, Event Hub.
    pub const CLAIM_PREFIXES: &[&str] = &["claims.", "identity.claims."];
    // AWS CloudTrail
    pub const EVENT_SOURCE: &str = "eventSource";
    pub const EVENT_NAME: &str = "eventName";
    pub const UI_TYPE: &str = "userIdentity.type";
    pub const UI_ARN: &str = "userIdentity.arn";
    pub const UI_PRINCIPAL_ID: &str = "userIdentity.principalId";
    pub const UI_ACCOUNT_ID: &str = "userIdentity.accountId";
    pub const UI_USER_NAME: &str = "userIdentity.userName";
    pub const UI_INVOKED_BY: &str = "userIdentity.invokedBy";
    pub const SI_ARN: &str = "userIdentity.sessionContext.sessionIssuer.arn";
    pub const SI_USER_NAME: &str = "userIdentity.sessionContext.sessionIssuer.userName";
    pub const SI_ACCOUNT_ID: &str = "userIdentity.sessionContext.sessionIssuer.accountId";
    pub const INSTANCE_IDS: &str = "requestParameters.instanceIds{}";
    pub const TARGET_KEYS: &str = "requestParameters.targets{}.key";
    pub const TARGET_VALUES: &str = "requestParameters.targets{}.values{}";
    pub const TARGET: &str = "requestParameters.target";
    pub const DOCUMENT: &str = "requestParameters.documentName";
    pub const NAME_PARAM: &str = "requestParameters.name";
    pub const SOURCE_IP: &str = "sourceIPAddress";
    pub const ERROR_CODE: &str = "errorCode";
    pub const RECIPIENT_ACCOUNT: &str = "recipientAccountId";
    pub const REGION: &str = "awsRegion";
    pub const REQUEST_ID: &str = "requestID";
    pub const EVENT_ID: &str = "eventID";

    /// Google Cloud LogEntry fields, as Splunk flattens them. Each is read plain and with
    /// the `data.` prefix of a Pub/Sub message (the Splunk Add-on for Google Cloud
    /// Platform's `google:gcp:pubsub:message`). Indices into [`gcp::ALL`].
    pub mod gcp {
        pub const PREFIXES: &[&str] = &["", "data."];
        /// A Pub/Sub message's `data` when it is a string (base64 of the LogEntry).
        pub const PUBSUB_DATA: &str = "data";
        pub const ALL: &[&str] = &[
            "protoPayload.methodName",
            "protoPayload.serviceName",
            "protoPayload.resourceName",
            "protoPayload.authenticationInfo.principalEmail",
            "protoPayload.authenticationInfo.principalSubject",
            "protoPayload.authenticationInfo.serviceAccountDelegationInfo{}.firstPartyPrincipal.principalEmail",
            "protoPayload.authenticationInfo.serviceAccountDelegationInfo{}.principalSubject",
            "protoPayload.requestMetadata.callerIp",
            "protoPayload.status.code",
            "protoPayload.metadata.instanceMetadataDelta.addedMetadataKeys{}",
            "protoPayload.metadata.instanceMetadataDelta.modifiedMetadataKeys{}",
            "protoPayload.metadata.projectMetadataDelta.addedMetadataKeys{}",
            "protoPayload.metadata.projectMetadataDelta.modifiedMetadataKeys{}",
            "protoPayload.request.Metadata Keys Added{}",
            "protoPayload.request.Metadata Keys Modified{}",
            "protoPayload.metadata.instanceMetadataDelta.deletedMetadataKeys{}",
            "protoPayload.metadata.projectMetadataDelta.deletedMetadataKeys{}",
            "protoPayload.request.Metadata Keys Deleted{}",
            "logName",
            "insertId",
            "severity",
            "timestamp",
            "resource.labels.project_id",
            "resource.labels.zone",
            "operation.id",
            "operation.first",
            "operation.last",
        ];
        pub const METHOD: usize = 0;
        pub const SERVICE: usize = 1;
        pub const RESOURCE_NAME: usize = 2;
        pub const PRINCIPAL_EMAIL: usize = 3;
        pub const PRINCIPAL_SUBJECT: usize = 4;
        pub const DELEGATION_EMAIL: usize = 5;
        pub const DELEGATION_SUBJECT: usize = 6;
        pub const CALLER_IP: usize = 7;
        pub const STATUS_CODE: usize = 8;
        pub const KEYS_SET: &[usize] = &[9, 10, 11, 12, 13, 14];
        pub const KEYS_DELETED: &[usize] = &[15, 16, 17];
        pub const LOG_NAME: usize = 18;
        pub const INSERT_ID: usize = 19;
        pub const SEVERITY: usize = 20;
        pub const TIMESTAMP: usize = 21;
        pub const PROJECT_LABEL: usize = 22;
        pub const ZONE_LABEL: usize = 23;
        pub const OPERATION_ID: usize = 24;
        pub const OPERATION_FIRST: usize = 25;
        pub const OPERATION_LAST: usize = 26;
    }
}

/// JWT claim keys the normaliser reads (under `claims.` or `identity.claims.`).
pub(crate) mod claims {
    pub const UPN_URI: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
    pub const UPN: &str = "upn";
    pub const NAME_URI: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
    pub const UNIQUE_NAME: &str = "unique_name";
    pub const TENANT_URI: &str = "http://schemas.microsoft.com/identity/claims/tenantid";
    pub const TID: &str = "tid";
    pub const IDP_URI: &str = "http://schemas.microsoft.com/identity/claims/identityprovider";
    pub const IDP: &str = "idp";
    pub const OID_URI: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
    pub const OID: &str = "oid";
    pub const APPID: &str = "appid";
    pub const AZP: &str = "azp";
    pub const IDTYP: &str = "idtyp";
    pub const IPADDR: &str = "ipaddr";
    pub const ALTSECID: &str = "altsecid";
    pub const MIRID: &str = "xms_mirid";
    /// All of them, for `required_fields`.
    pub const ALL: &[&str] = &[
        UPN_URI,
        UPN,
        NAME_URI,
        UNIQUE_NAME,
        TENANT_URI,
        TID,
        IDP_URI,
        IDP,
        OID_URI,
        OID,
        APPID,
        AZP,
        IDTYP,
        IPADDR,
        ALTSECID,
        MIRID,
    ];
}

/// Every field name the normaliser may read, for the getinfo `required_fields`, so
/// splunkd sends exactly what is needed. Includes [`STATE_FIELD`] (map-phase partial rows
/// reach the reduce side as events).
pub fn required_fields(_opts: &Options) -> Vec<String> {
    use names::*;
    let mut v: Vec<String> = Vec::with_capacity(160);
    let mut add = |s: &str| {
        if !v.iter().any(|x| x == s) {
            v.push(s.to_owned());
        }
    };
    add(RAW);
    add(TIME);
    add(STATE_FIELD);
    for list in [
        OPERATION,
        STATUS,
        SUB_STATUS,
        CALLER,
        CALLER_IP,
        RESOURCE_ID,
        SCOPE,
        RESOURCE_GROUP,
        SUBSCRIPTION,
        TENANT,
        CORRELATION,
        EVENT_TIME,
    ] {
        list.iter().for_each(|s| add(s));
    }
    for s in [
        RESULT_TYPE,
        RESULT_SIGNATURE,
        IDENTITY,
        PRINCIPAL_OID,
        EVIDENCE_PRINCIPAL_ID,
        EVIDENCE_PRINCIPAL_TYPE,
        HTTP_CLIENT_IP,
        EVENT_SOURCE,
        EVENT_NAME,
        UI_TYPE,
        UI_ARN,
        UI_PRINCIPAL_ID,
        UI_ACCOUNT_ID,
        UI_USER_NAME,
        UI_INVOKED_BY,
        SI_ARN,
        SI_USER_NAME,
        SI_ACCOUNT_ID,
        INSTANCE_IDS,
        TARGET_KEYS,
        TARGET_VALUES,
        TARGET,
        DOCUMENT,
        NAME_PARAM,
        SOURCE_IP,
        ERROR_CODE,
        RECIPIENT_ACCOUNT,
        REGION,
        REQUEST_ID,
        EVENT_ID,
    ] {
        add(s);
    }
    for prefix in CLAIM_PREFIXES {
        for c in claims::ALL {
            add(&format!("{prefix}{c}"));
        }
    }
    add(gcp::PUBSUB_DATA);
    for prefix in gcp::PREFIXES {
        for n in gcp::ALL {
            add(&format!("{prefix}{n}"));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_map_and_required_fields() {
        let m = FieldMap::from_pairs([("a", "1"), ("b{}", "x"), ("b{}", "y")]);
        assert_eq!(m.value("a"), Some("1"));
        assert_eq!(m.values("b{}"), vec!["x", "y"]);
        assert_eq!(m.value("missing"), None);
        assert!(m.values("missing").is_empty());
        let h: HashMap<String, String> = [("x".to_string(), "1".to_string())].into_iter().collect();
        assert_eq!(EventFields::value(&h, "x"), Some("1"));
        assert_eq!(EventFields::values(&h, "x"), vec!["1"]);
        let req = required_fields(&Options::default());
        for f in [
            "_raw",
            "_time",
            "t1651_state",
            "operationName.value",
            "status.value",
            "resultType",
            "claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
            "identity.claims.http://schemas.microsoft.com/identity/claims/tenantid",
            "claims.upn",
            "requestParameters.instanceIds{}",
            "requestParameters.targets{}.values{}",
            "properties.principalOid",
            "recipientAccountId",
            "protoPayload.methodName",
            "data.protoPayload.authenticationInfo.principalEmail",
            "protoPayload.metadata.instanceMetadataDelta.addedMetadataKeys{}",
            "logName",
            "operation.id",
            "data",
        ] {
            assert!(req.iter().any(|r| r == f), "{f} missing");
        }
        let mut sorted = req.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), req.len(), "no duplicates");
    }
}
