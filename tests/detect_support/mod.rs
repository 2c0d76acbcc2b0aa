//! Fixture builders for the detect tests, modelled on the documented shapes (Azure Activity
//! Log REST / `mscs:azure:audit`, Event Hub records, flattened Splunk fields, CloudTrail).
//! All values are invented.
#![allow(dead_code)]

use serde_json::{json, Value};
use t1651::detect::engine::{Engine, Finished};
use t1651::detect::fields::FieldMap;
use t1651::detect::options::Options;
use t1651::detect::row::{OutValue, OutputRow};

pub const SUB: &str = "5f1c2a3b-0000-4000-8000-00000000c0de";
pub const TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub const PARTNER: &str = "99999999-8888-4777-8666-555555555555";

pub const RUN_COMMAND: &str = "Microsoft.Compute/virtualMachines/runCommand/action";
pub const EXT_WRITE: &str = "Microsoft.Compute/virtualMachines/extensions/write";
pub const JOBS_WRITE: &str = "Microsoft.Automation/automationAccounts/jobs/write";

pub fn vm_id(rg: &str, vm: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
    )
}

/// One Azure activity: the same facts rendered in every shape.
#[derive(Clone, Debug)]
pub struct Activity {
    pub op: String,
    pub status: &'static str, // REST family: Started/Accepted/Succeeded/Failed
    pub corr: Option<String>,
    pub upn: Option<String>,
    pub resource_id: String,
    pub time: String,
    pub ip: Option<String>,
    pub tenant_claim: Option<String>,
    pub idp: Option<String>,
    pub extra_claims: Vec<(String, String)>,
    pub evidence_type: Option<String>,
}

impl Activity {
    pub fn run_command(vm: &str, status: &'static str, corr: &str, time: &str) -> Self {
        Activity {
            op: RUN_COMMAND.into(),
            status,
            corr: Some(corr.into()),
            upn: Some("Alice@Contoso.com".into()),
            resource_id: vm_id("RG-Prod", vm),
            time: time.into(),
            ip: Some("203.0.113.7".into()),
            tenant_claim: Some(TENANT.into()),
            idp: None,
            extra_claims: vec![],
            evidence_type: Some("User".into()),
        }
    }

    fn claims(&self) -> serde_json::Map<String, Value> {
        let mut c = serde_json::Map::new();
        c.insert("aud".into(), json!("https://management.core.windows.net/"));
        c.insert(
            "iss".into(),
            json!(format!("https://sts.windows.net/{TENANT}/")),
        );
        if let Some(u) = &self.upn {
            c.insert(
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn".into(),
                json!(u),
            );
            c.insert(
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name".into(),
                json!(u),
            );
        }
        if let Some(t) = &self.tenant_claim {
            c.insert(
                "http://schemas.microsoft.com/identity/claims/tenantid".into(),
                json!(t),
            );
        }
        if let Some(i) = &self.idp {
            c.insert(
                "http://schemas.microsoft.com/identity/claims/identityprovider".into(),
                json!(i),
            );
        }
        if let Some(ip) = &self.ip {
            c.insert("ipaddr".into(), json!(ip));
        }
        c.insert("name".into(), json!("Display Name"));
        for (k, v) in &self.extra_claims {
            c.insert(k.clone(), json!(v));
        }
        c
    }

    fn result_type(&self) -> &'static str {
        match self.status {
            "Started" => "Start",
            "Accepted" => "Accept",
            "Succeeded" => "Success",
            "Failed" => "Failure",
            other => other,
        }
    }

    /// REST / portal / `mscs:azure:audit` shape.
    pub fn rest(&self) -> String {
        let mut v = json!({
            "authorization": {"action": self.op, "scope": self.resource_id},
            "caller": self.upn,
            "channels": "Operation",
            "claims": self.claims(),
            "correlationId": self.corr,
            "description": "",
            "eventDataId": "e0e0e0e0-0000-4000-8000-000000000001",
            "eventName": {"value": "EndRequest", "localizedValue": "End request"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "eventTimestamp": self.time,
            "id": format!("{}/events/e0e0/ticks/1", self.resource_id),
            "level": "Informational",
            "operationId": "abc",
            "operationName": {"value": self.op, "localizedValue": "Run Command on Virtual Machine"},
            "resourceGroupName": "RG-Prod",
            "resourceProviderName": {"value": "Microsoft.Compute", "localizedValue": "Microsoft.Compute"},
            "resourceId": self.resource_id,
            "status": {"value": self.status, "localizedValue": self.status},
            "subStatus": {"value": "", "localizedValue": ""},
            "submissionTimestamp": self.time,
            "subscriptionId": SUB,
            "tenantId": TENANT,
            "properties": {"statusCode": "OK", "responseBody": "{\"properties\":{\"x\":1}}", "eventCategory": "Administrative"},
            "relatedEvents": []
        });
        if let Some(ip) = &self.ip {
            v["httpRequest"] =
                json!({"clientRequestId": "r1", "clientIpAddress": ip, "method": "POST"});
        }
        v.to_string()
    }

    /// Event Hub / storage record shape: upper-case operation and resource ID, resultType,
    /// claims under identity, no caller field.
    pub fn eventhub(&self) -> String {
        let mut evidence =
            json!({"role": "Owner", "principalId": "0123456789abcdef0123456789abcdef"});
        if let Some(t) = &self.evidence_type {
            evidence["principalType"] = json!(t);
        }
        json!({
            "time": self.time,
            "resourceId": self.resource_id.to_uppercase(),
            "operationName": self.op.to_uppercase(),
            "category": "Administrative",
            "resultType": self.result_type(),
            "resultSignature": format!("{}.", self.status),
            "durationMs": 0,
            "callerIpAddress": self.ip,
            "correlationId": self.corr,
            "identity": {
                "authorization": {"scope": self.resource_id, "action": self.op, "evidence": evidence},
                "claims": self.claims()
            },
            "level": "Information",
            "location": "global",
            "tenantId": TENANT,
            "properties": {"statusCode": "OK"}
        })
        .to_string()
    }

    /// Flattened search-time fields of the reference SPL (`azure:activity`), `_raw` not JSON.
    pub fn flattened(&self, splunk_time: &str) -> FieldMap {
        let mut f = FieldMap::new();
        f.set("_raw", "operationName=... (not JSON)");
        f.set("_time", splunk_time);
        f.set("operationName", self.op.as_str());
        f.set("resultType", self.result_type());
        f.set("resourceId", self.resource_id.as_str());
        f.set("resourceGroup", "RG-Prod");
        f.set("subscriptionId", SUB);
        f.set("tenantId", TENANT);
        if let Some(c) = &self.corr {
            f.set("correlationId", c.as_str());
        }
        if let Some(u) = &self.upn {
            f.set("caller", u.as_str());
        }
        if let Some(ip) = &self.ip {
            f.set("callerIpAddress", ip.as_str());
        }
        for (k, v) in self.claims() {
            f.set(format!("claims.{k}"), v.as_str().unwrap_or_default());
        }
        f.set("time", self.time.as_str());
        f
    }

    /// `mscs:azure:audit` flattened by Splunk's JSON extraction (`operationName.value`...).
    pub fn mscs_flattened(&self) -> FieldMap {
        let mut f = FieldMap::new();
        f.set("_raw", "");
        f.set("operationName.value", self.op.as_str());
        f.set("status.value", self.status);
        f.set("resourceUri", self.resource_id.as_str());
        f.set("subscriptionId", SUB);
        f.set("resourceGroupName", "RG-Prod");
        f.set("tenantId", TENANT);
        f.set("eventTimestamp", self.time.as_str());
        if let Some(c) = &self.corr {
            f.set("correlationId", c.as_str());
        }
        if let Some(u) = &self.upn {
            f.set("caller", u.as_str());
        }
        if let Some(ip) = &self.ip {
            f.set("httpRequest.clientIpAddress", ip.as_str());
        }
        for (k, v) in self.claims() {
            f.set(format!("claims.{k}"), v.as_str().unwrap_or_default());
        }
        f
    }
}

/// A CloudTrail SSM record. Every call gets its own `eventID` (as CloudTrail gives each
/// record), unless `extra` sets one: a copy of a record is made by reusing its string.
pub fn cloudtrail(event_name: &str, identity: Value, params: Value, extra: Value) -> String {
    static NEXT_EVENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT_EVENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut v = json!({
        "awsRegion": "eu-west-1",
        "eventCategory": "Management",
        "eventID": format!("5288bfb8-e3fa-4c41-be02-{n:012x}"),
        "eventName": event_name,
        "eventSource": "ssm.amazonaws.com",
        "eventTime": "2024-08-02T09:08:56Z",
        "eventType": "AwsApiCall",
        "eventVersion": "1.08",
        "managementEvent": true,
        "readOnly": false,
        "recipientAccountId": "111122223333",
        "requestID": "1479b5e1-9751-4bf1-b548-000000000001",
        "requestParameters": params,
        "responseElements": {"command": {"commandId": "c1", "status": "Pending", "targets": []}},
        "sourceIPAddress": "198.51.100.20",
        "tlsDetails": {"tlsVersion": "TLSv1.2"},
        "userAgent": "aws-cli/2",
        "userIdentity": identity
    });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in extra {
            obj.insert(k.clone(), val.clone());
        }
    }
    v.to_string()
}

pub fn iam_user(name: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::111122223333:user/{name}"),
           "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": name})
}

pub fn assumed_role(role: &str, session: &str) -> Value {
    json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{session}"),
           "arn": format!("arn:aws:sts::111122223333:assumed-role/{role}/{session}"),
           "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLE",
           "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
               "arn": format!("arn:aws:iam::111122223333:role/{role}"), "accountId": "111122223333", "userName": role},
               "attributes": {"creationDate": "2024-08-02T09:00:00Z", "mfaAuthenticated": "false"}}})
}

pub fn run(opts: Options, raws: &[String]) -> Finished {
    let mut e = Engine::new(opts);
    for r in raws {
        e.ingest_json(r.as_bytes(), None);
    }
    e.finish()
}

pub fn run_fields(opts: Options, events: &[FieldMap]) -> Finished {
    let mut e = Engine::new(opts);
    for f in events {
        e.ingest_fields(f);
    }
    e.finish()
}

pub fn opts(pairs: &[(&str, &str)]) -> Options {
    Options::parse(pairs.iter().copied()).unwrap()
}

pub fn col<'a>(row: &'a OutputRow, name: &str) -> &'a str {
    match row.get(name) {
        Some(OutValue::Single(s)) => s,
        Some(OutValue::Multi(_)) => panic!("{name} is multivalue"),
        None => panic!("no column {name} in {row:?}"),
    }
}

pub fn multi(row: &OutputRow, name: &str) -> Vec<String> {
    match row.get(name) {
        Some(OutValue::Multi(v)) => v.clone(),
        Some(OutValue::Single(s)) => vec![s.clone()],
        None => panic!("no column {name} in {row:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Google Cloud (Cloud Audit Logs LogEntry), modelled on Google's documented AuditLog shape.

pub const GCP_PROJECT: &str = "acme-prod";
pub const SET_METADATA: &str = "v1.compute.instances.setMetadata";
pub const SET_PROJECT_METADATA: &str = "v1.compute.projects.setCommonInstanceMetadata";
pub const EXECUTE_PATCH_JOB: &str = "google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob";

/// Which metadata key list a record carries.
#[derive(Clone, Debug)]
pub enum Keys {
    /// No key list (the last record of a long-running operation, error records).
    None,
    /// `metadata.instanceMetadataDelta` / `projectMetadataDelta`.
    Delta {
        added: Vec<String>,
        modified: Vec<String>,
        deleted: Vec<String>,
    },
    /// The older `request` keys (`Metadata Keys Added` / `Modified` / `Deleted`).
    Request {
        added: Vec<String>,
        modified: Vec<String>,
        deleted: Vec<String>,
    },
}

impl Keys {
    pub fn added(keys: &[&str]) -> Keys {
        Keys::Delta {
            added: keys.iter().map(|s| s.to_string()).collect(),
            modified: vec![],
            deleted: vec![],
        }
    }
}

/// One Cloud Audit Logs record.
#[derive(Clone, Debug)]
pub struct GcpRecord {
    pub method: String,
    pub resource_name: String,
    pub principal: Option<String>,
    pub delegation: Vec<String>,
    pub caller_ip: Option<String>,
    /// `(first, last)` of `operation`; `None` for no `operation` object.
    pub operation: Option<(String, bool, bool)>,
    pub keys: Keys,
    pub status_code: Option<i64>,
    pub severity: &'static str,
    pub time: String,
    pub insert_id: Option<String>,
    pub log: &'static str,
}

impl GcpRecord {
    /// The first record of `setMetadata` on `vm` (zone us-central1-a) adding `keys`.
    pub fn set_metadata(vm: &str, op_id: &str, keys: &[&str], time: &str) -> Self {
        GcpRecord {
            method: SET_METADATA.into(),
            resource_name: format!("projects/{GCP_PROJECT}/zones/us-central1-a/instances/{vm}"),
            principal: Some("mallory@example.com".into()),
            delegation: vec![],
            caller_ip: Some("203.0.113.50".into()),
            operation: Some((op_id.into(), true, false)),
            keys: Keys::added(keys),
            status_code: None,
            severity: "NOTICE",
            time: time.into(),
            insert_id: Some(format!("-{op_id}-{time}-first")),
            log: "activity",
        }
    }

    /// The last record of the same operation: no key list.
    pub fn last(&self, time: &str) -> Self {
        let mut r = self.clone();
        if let Some((id, _, _)) = &self.operation {
            r.operation = Some((id.clone(), false, true));
        }
        r.keys = Keys::None;
        r.time = time.into();
        r.insert_id = Some(format!("-{}-{time}-last", self.op_id()));
        r
    }

    pub fn op_id(&self) -> String {
        self.operation
            .as_ref()
            .map(|o| o.0.clone())
            .unwrap_or_default()
    }

    /// An OS Config (Data Access) call: `method` on `resource_name`, no operation.
    pub fn osconfig(method: &str, resource_name: &str, time: &str) -> Self {
        GcpRecord {
            method: method.into(),
            resource_name: resource_name.into(),
            principal: Some("mallory@example.com".into()),
            delegation: vec![],
            caller_ip: Some("203.0.113.50".into()),
            operation: None,
            keys: Keys::None,
            status_code: None,
            severity: "INFO",
            time: time.into(),
            insert_id: Some(format!("{method}-{time}")),
            log: "data_access",
        }
    }

    fn key_object(
        added: &[String],
        modified: &[String],
        deleted: &[String],
        names: [&str; 3],
    ) -> Value {
        let mut o = serde_json::Map::new();
        for (k, v) in names.iter().zip([added, modified, deleted]) {
            if !v.is_empty() {
                o.insert((*k).into(), json!(v));
            }
        }
        Value::Object(o)
    }

    /// The LogEntry as JSON (keys in `gcloud logging read --format=json` order).
    pub fn value(&self) -> Value {
        let project_level = self.method.contains("setCommonInstanceMetadata");
        let mut pp = json!({
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {},
            "authorizationInfo": [{"granted": true, "permission": "compute.instances.setMetadata", "resource": self.resource_name, "resourceAttributes": {"name": self.resource_name, "service": "compute", "type": "compute.instances"}}],
            "methodName": self.method,
            "requestMetadata": {"callerSuppliedUserAgent": "google-cloud-sdk gcloud/455.0.0 command/gcloud.compute.instances.add-metadata,gzip(gfe)", "destinationAttributes": {}, "requestAttributes": {"auth": {}, "time": self.time}},
            "resourceLocation": {"currentLocations": ["us-central1-a"]},
            "resourceName": self.resource_name,
            "serviceName": if self.method.contains("osconfig") { "osconfig.googleapis.com" } else { "compute.googleapis.com" },
        });
        if let Some(p) = &self.principal {
            pp["authenticationInfo"]["principalEmail"] = json!(p);
            if !p.contains("gserviceaccount") {
                pp["authenticationInfo"]["principalSubject"] = json!(format!("user:{p}"));
            }
        }
        if !self.delegation.is_empty() {
            pp["authenticationInfo"]["serviceAccountDelegationInfo"] = json!(self
                .delegation
                .iter()
                .map(|d| json!({"firstPartyPrincipal": {"principalEmail": d}}))
                .collect::<Vec<_>>());
        }
        if let Some(ip) = &self.caller_ip {
            pp["requestMetadata"]["callerIp"] = json!(ip);
        }
        if let Some(code) = self.status_code {
            pp["status"] = json!({"code": code, "message": "PERMISSION_DENIED"});
        }
        match &self.keys {
            Keys::None => {}
            Keys::Delta {
                added,
                modified,
                deleted,
            } => {
                let delta = Self::key_object(
                    added,
                    modified,
                    deleted,
                    [
                        "addedMetadataKeys",
                        "modifiedMetadataKeys",
                        "deletedMetadataKeys",
                    ],
                );
                let name = if project_level {
                    "projectMetadataDelta"
                } else {
                    "instanceMetadataDelta"
                };
                pp["metadata"] = json!({ name: delta });
            }
            Keys::Request {
                added,
                modified,
                deleted,
            } => {
                let mut req = Self::key_object(
                    added,
                    modified,
                    deleted,
                    [
                        "Metadata Keys Added",
                        "Metadata Keys Modified",
                        "Metadata Keys Deleted",
                    ],
                );
                req["@type"] = json!("type.googleapis.com/compute.instances.setMetadata");
                pp["request"] = req;
            }
        }
        let mut v = json!({
            "logName": format!("projects/{GCP_PROJECT}/logs/cloudaudit.googleapis.com%2F{}", self.log),
            "protoPayload": pp,
            "receiveTimestamp": self.time,
            "resource": if project_level {
                json!({"labels": {"project_id": "123456789012"}, "type": "gce_project"})
            } else {
                json!({"labels": {"instance_id": "4567890123456789012", "project_id": "123456789012", "zone": "us-central1-a"}, "type": "gce_instance"})
            },
            "severity": self.severity,
            "timestamp": self.time,
        });
        if let Some(id) = &self.insert_id {
            v["insertId"] = json!(id);
        }
        if let Some((id, first, last)) = &self.operation {
            let mut o = json!({"id": id, "producer": "compute.googleapis.com"});
            if *first {
                o["first"] = json!(true);
            }
            if *last {
                o["last"] = json!(true);
            }
            v["operation"] = o;
        }
        v
    }

    pub fn json(&self) -> String {
        self.value().to_string()
    }

    /// The Logging API / Pub/Sub sink key order: `protoPayload` first, `operation` after
    /// `logName`, `receiveTimestamp` last.
    pub fn api_order(&self) -> String {
        let v = self.value();
        let mut out = String::from("{");
        let mut first = true;
        for k in [
            "protoPayload",
            "insertId",
            "resource",
            "timestamp",
            "severity",
            "logName",
            "operation",
            "receiveTimestamp",
        ] {
            if let Some(x) = v.get(k) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&format!("{}:{}", json!(k), x));
            }
        }
        out.push('}');
        out
    }

    /// As the Splunk Add-on for GCP indexes a Pub/Sub message (`google:gcp:pubsub:message`),
    /// with the LogEntry as an object under `data`.
    pub fn pubsub(&self) -> String {
        json!({"attributes": {"logging.googleapis.com/timestamp": self.time}, "data": self.value(), "message_id": "1234567890", "publish_time": self.time}).to_string()
    }

    /// A Pub/Sub message whose `data` is the base64 of the LogEntry.
    pub fn pubsub_base64(&self) -> String {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(self.json());
        json!({"attributes": {"logging.googleapis.com/timestamp": self.time}, "data": data, "message_id": "1234567890", "publish_time": self.time}).to_string()
    }
}
