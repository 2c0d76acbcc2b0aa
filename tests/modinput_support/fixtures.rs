//! Realistic T1651 audit events in the shapes the cloud APIs return, for emulators and tests
//! (test support: lives with the tests, not in the product).
//!
//! * [`azure_event`]: one Activity Log REST event (the `value[]` element of
//!   `…/eventtypes/management/values`), with the fields Splunk's `mscs:azure:audit` content uses.
//! * [`cloudtrail_event`] / [`lookup_events_entry`]: one CloudTrail record and its LookupEvents
//!   wrapper (`CloudTrailEvent` holds the record as a JSON string).
//! * [`azure_backlog`] / [`aws_backlog`]: deterministic mixes of T1651 operations (with the
//!   Started/Accepted/Succeeded lifecycle of an Azure run command sharing one correlationId)
//!   and look-alike noise that the operation filter must drop.
//!
//! Everything is derived from a seed, so a test can regenerate the exact expected set. The
//! values are fictitious (documentation IP ranges, example account ids).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use t1651::detect::operations::{AWS_DEFAULT_EVENT_NAMES, AZURE_DEFAULT_OPERATIONS};

/// Small deterministic generator (SplitMix64): fixtures must not depend on a random crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// A lower-case GUID.
    pub fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            0x4000 | (a & 0x0fff),
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// Azure REST timestamps carry 7 fractional digits.
pub fn azure_time(t: DateTime<Utc>) -> String {
    // chrono has no 7-digit fraction specifier: 100-ns ticks by hand.
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

/// Parameters of one Azure Activity Log event.
#[derive(Debug, Clone)]
pub struct AzureEventSpec {
    pub event_data_id: String,
    pub correlation_id: String,
    pub time: DateTime<Utc>,
    pub operation: String,
    /// `Started`, `Accepted`, `Succeeded` or `Failed`.
    pub status: String,
    pub subscription_id: String,
    pub tenant_id: String,
    pub resource_group: String,
    pub vm: String,
    pub caller: String,
    pub caller_ip: String,
}

fn localized(op: &str) -> &'static str {
    let l = op.to_ascii_lowercase();
    if l.ends_with("runcommand/action") {
        "Run Command on Virtual Machine"
    } else if l.ends_with("runcommands/write") {
        "Create or Update Virtual Machine Run Command"
    } else if l.ends_with("extensions/write") {
        "Create or Update Virtual Machine Extension"
    } else if l.ends_with("jobs/write") {
        "Create an Azure Automation job"
    } else if l.ends_with("runbooks/write") {
        "Create or Update an Azure Automation Runbook"
    } else if l.ends_with("start/action") {
        "Start Virtual Machine"
    } else {
        "Create or Update Virtual Machine"
    }
}

/// The resource an operation acts on (the path before the action, as ARM writes it).
fn resource_id(s: &AzureEventSpec) -> String {
    let base = format!(
        "/subscriptions/{}/resourceGroups/{}/providers",
        s.subscription_id, s.resource_group
    );
    let l = s.operation.to_ascii_lowercase();
    if l.starts_with("microsoft.automation/") {
        let acct = format!("{base}/Microsoft.Automation/automationAccounts/aa-{}", s.vm);
        if l.contains("/jobs/") {
            format!("{acct}/jobs/{}", s.correlation_id)
        } else if l.contains("/runbooks/") {
            format!("{acct}/runbooks/rb-{}", s.vm)
        } else {
            acct
        }
    } else if l.starts_with("microsoft.hybridcompute/") {
        let m = format!("{base}/Microsoft.HybridCompute/machines/{}", s.vm);
        if l.contains("/extensions/") {
            format!("{m}/extensions/CustomScriptExtension")
        } else {
            format!("{m}/runCommands/rc-{}", &s.correlation_id[..8])
        }
    } else if l.contains("virtualmachinescalesets") {
        let ss = format!("{base}/Microsoft.Compute/virtualMachineScaleSets/{}", s.vm);
        if l.contains("/virtualmachines/") {
            format!("{ss}/virtualMachines/0")
        } else {
            format!("{ss}/extensions/CustomScript")
        }
    } else {
        let vm = format!("{base}/Microsoft.Compute/virtualMachines/{}", s.vm);
        if l.contains("/extensions/") {
            format!("{vm}/extensions/CustomScriptExtension")
        } else if l.contains("/runcommands/") {
            format!("{vm}/runCommands/rc-{}", &s.correlation_id[..8])
        } else {
            vm
        }
    }
}

/// One Activity Log REST event, shaped like the API's `value[]` elements.
pub fn azure_event(s: &AzureEventSpec) -> Value {
    let provider = s
        .operation
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let rid = resource_id(s);
    let rtype = {
        let parts: Vec<&str> = s.operation.split('/').collect();
        parts[..parts.len().saturating_sub(1)].join("/")
    };
    let (event_name, status_code, sub_status) = match s.status.as_str() {
        "Started" => (
            "BeginRequest",
            Value::Null,
            json!({"value": "", "localizedValue": ""}),
        ),
        "Accepted" => (
            "EndRequest",
            json!("Accepted"),
            json!({"value": "Accepted", "localizedValue": "Accepted (HTTP Status Code: 202)"}),
        ),
        "Failed" => (
            "EndRequest",
            json!("Conflict"),
            json!({"value": "Conflict", "localizedValue": "Conflict (HTTP Status Code: 409)"}),
        ),
        _ => (
            "EndRequest",
            json!("OK"),
            json!({"value": "OK", "localizedValue": "OK (HTTP Status Code: 200)"}),
        ),
    };
    let mut properties = json!({
        "eventCategory": "Administrative",
        "entity": rid,
        "message": s.operation,
        "hierarchy": format!("{}/{}", s.tenant_id, s.subscription_id),
        "serviceRequestId": if s.status == "Started" { Value::Null } else { json!(s.correlation_id) },
    });
    if !status_code.is_null() {
        properties["statusCode"] = status_code;
    }
    let ticks = 621_355_968_000_000_000i64 + s.time.timestamp_micros() * 10;
    json!({
        "authorization": {"action": s.operation, "scope": rid},
        "caller": s.caller,
        "channels": "Operation",
        "claims": {
            "aud": "https://management.core.windows.net/",
            "iss": format!("https://sts.windows.net/{}/", s.tenant_id),
            "iat": (s.time.timestamp() - 600).to_string(),
            "nbf": (s.time.timestamp() - 600).to_string(),
            "exp": (s.time.timestamp() + 3000).to_string(),
            "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
            "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "ipaddr": s.caller_ip,
            "name": s.caller.split('@').next().unwrap_or_default(),
            "http://schemas.microsoft.com/identity/claims/objectidentifier": "7d3bb6a7-2a4e-4b8b-9d0e-5f3c1c1b2f10",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": s.caller,
            "http://schemas.microsoft.com/identity/claims/tenantid": s.tenant_id,
        },
        "correlationId": s.correlation_id,
        "description": "",
        "eventDataId": s.event_data_id,
        "eventName": {"value": event_name, "localizedValue": if event_name == "BeginRequest" { "Begin request" } else { "End request" }},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "eventTimestamp": azure_time(s.time),
        "id": format!("{rid}/events/{}/ticks/{ticks}", s.event_data_id),
        "level": "Informational",
        "operationId": s.correlation_id,
        "operationName": {"value": s.operation, "localizedValue": localized(&s.operation)},
        "resourceGroupName": s.resource_group,
        "resourceProviderName": {"value": provider, "localizedValue": provider},
        "resourceType": {"value": rtype, "localizedValue": rtype},
        "resourceId": rid,
        "status": {"value": s.status, "localizedValue": s.status},
        "subStatus": sub_status,
        "submissionTimestamp": azure_time(s.time + Duration::seconds(12)),
        "subscriptionId": s.subscription_id,
        "tenantId": s.tenant_id,
        "httpRequest": {"clientRequestId": s.correlation_id, "clientIpAddress": s.caller_ip, "method": if s.operation.ends_with("/action") { "POST" } else { "PUT" }},
        "properties": properties,
        "relatedEvents": [],
    })
}

/// Operations that share providers with T1651 ones but are not T1651 (dropped by the filter).
pub const AZURE_NOISE_OPERATIONS: &[&str] = &[
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/disks/write",
    "Microsoft.Automation/automationAccounts/runbooks/write",
];

const CALLERS: &[&str] = &[
    "alice@contoso.com",
    "bob@contoso.com",
    "deploy-pipeline@contoso.com",
];
const IPS: &[&str] = &["203.0.113.7", "198.51.100.23", "2001:db8::42"];

/// `n` Activity Log events in `[from, to)` for one subscription: about 80 % T1651 operations
/// (run commands as Started/Accepted/Succeeded triples), the rest noise. Order is by creation,
/// not by time; emulators sort. Every event has a distinct `eventDataId`.
pub fn azure_backlog(
    seed: u64,
    n: usize,
    subscription_id: &str,
    tenant_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    let span_ms = (to - from).num_milliseconds().max(1) as u64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let t = from + Duration::milliseconds(rng.below(span_ms) as i64);
        let noise = rng.below(5) == 0;
        let operation = if noise {
            rng.pick(AZURE_NOISE_OPERATIONS).to_string()
        } else {
            rng.pick(AZURE_DEFAULT_OPERATIONS).to_string()
        };
        let mut spec = AzureEventSpec {
            event_data_id: rng.guid(),
            correlation_id: rng.guid(),
            time: t,
            operation,
            status: "Succeeded".into(),
            subscription_id: subscription_id.to_string(),
            tenant_id: tenant_id.to_string(),
            resource_group: format!("rg-prod-{}", rng.below(4)),
            vm: format!("vm-web-{:02}", rng.below(20)),
            caller: rng.pick(CALLERS).to_string(),
            caller_ip: rng.pick(IPS).to_string(),
        };
        let lifecycle = spec
            .operation
            .to_ascii_lowercase()
            .ends_with("runcommand/action");
        if lifecycle && out.len() + 3 <= n {
            for (status, delay) in [("Started", 0), ("Accepted", 1), ("Succeeded", 31)] {
                spec.status = status.into();
                spec.time = (t + Duration::seconds(delay)).min(to - Duration::milliseconds(1));
                spec.event_data_id = rng.guid();
                out.push(azure_event(&spec));
            }
        } else {
            out.push(azure_event(&spec));
        }
    }
    out
}

/// Parameters of one CloudTrail record.
#[derive(Debug, Clone)]
pub struct CloudTrailSpec {
    pub event_id: String,
    pub time: DateTime<Utc>,
    pub event_name: String,
    pub region: String,
    pub account_id: String,
    pub user: String,
    pub instance_id: String,
    pub source_ip: String,
    pub request_id: String,
    pub command_id: String,
}

/// One CloudTrail record (the `CloudTrailEvent` content), SSM-shaped per event name.
pub fn cloudtrail_event(s: &CloudTrailSpec) -> Value {
    let (request, response) = match s.event_name.as_str() {
        "SendCommand" => (
            json!({"instanceIds": [s.instance_id], "documentName": "AWS-RunShellScript", "interactive": false, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
            json!({"command": {
                "commandId": s.command_id, "documentName": "AWS-RunShellScript", "documentVersion": "$DEFAULT",
                "comment": "", "expiresAfter": (s.time + Duration::hours(2)).format("%b %-d, %Y, %-I:%M:%S %p").to_string(),
                "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "instanceIds": [s.instance_id], "targets": [],
                "requestedDateTime": s.time.format("%b %-d, %Y, %-I:%M:%S %p").to_string(),
                "status": "Pending", "statusDetails": "Pending", "outputS3Region": s.region,
                "maxConcurrency": "50", "maxErrors": "0", "targetCount": 1, "completedCount": 0,
                "errorCount": 0, "deliveryTimedOutCount": 0, "serviceRole": "",
                "notificationConfig": {"notificationArn": "", "notificationEvents": [], "notificationType": ""},
                "cloudWatchOutputConfig": {"cloudWatchLogGroupName": "", "cloudWatchOutputEnabled": false},
                "timeoutSeconds": 3600, "alarmConfiguration": {"ignorePollAlarmFailure": false, "alarms": []},
                "triggeredAlarms": []
            }}),
        ),
        "StartSession" => {
            let sid = format!("{}-{}", s.user, &s.command_id[..17].replace('-', ""));
            (
                json!({"target": s.instance_id}),
                json!({"sessionId": sid, "tokenValue": "Value hidden due to security reasons.",
                       "streamUrl": format!("wss://ssmmessages.{}.amazonaws.com/v1/data-channel/{sid}?role=publish_subscribe&cell-number=AAEAAQ", s.region)}),
            )
        }
        "CreateAssociation" => (
            json!({"name": "AWS-RunShellScript", "targets": [{"key": "InstanceIds", "values": [s.instance_id]}], "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
            json!({"associationDescription": {"name": "AWS-RunShellScript", "associationVersion": "1", "associationId": s.command_id,
                   "targets": [{"key": "InstanceIds", "values": [s.instance_id]}], "overview": {"status": "Pending", "detailedStatus": "Creating"}}}),
        ),
        "StartAutomationExecution" => (
            json!({"documentName": "AWS-RunShellScriptOnInstances", "parameters": {"InstanceIds": [s.instance_id]}}),
            json!({"automationExecutionId": s.command_id}),
        ),
        _ => (json!({"instanceIds": [s.instance_id]}), Value::Null),
    };
    let arn = format!("arn:aws:iam::{}:user/{}", s.account_id, s.user);
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAJQABLZS4A3QDU576Q", "arn": arn,
            "accountId": s.account_id, "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": s.user
        },
        "eventTime": s.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "ssm.amazonaws.com",
        "eventName": s.event_name,
        "awsRegion": s.region,
        "sourceIPAddress": s.source_ip,
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/ssm.send-command",
        "requestParameters": request,
        "responseElements": response,
        "requestID": s.request_id,
        "eventID": s.event_id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": s.account_id,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": format!("ssm.{}.amazonaws.com", s.region)}
    })
}

/// The LookupEvents `Events[]` element wrapping a record: `CloudTrailEvent` is the record as a
/// JSON string, `EventTime` epoch seconds.
pub fn lookup_events_entry(record: &Value) -> Value {
    let time = record["eventTime"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp() as f64)
        .unwrap_or(0.0);
    let instance = record["requestParameters"]["instanceIds"][0]
        .as_str()
        .or(record["requestParameters"]["target"].as_str())
        .unwrap_or("i-0000000000000000");
    json!({
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "false",
        "AccessKeyId": record["userIdentity"]["accessKeyId"],
        "EventTime": time,
        "EventSource": record["eventSource"],
        "Username": record["userIdentity"]["userName"],
        "Resources": [{"ResourceType": "AWS::EC2::Instance", "ResourceName": instance}],
        "CloudTrailEvent": record.to_string(),
    })
}

/// `n` CloudTrail SSM records in `[from, to)` for `region`, event names from the default list.
pub fn aws_backlog(
    seed: u64,
    n: usize,
    region: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    aws_account_backlog(seed, n, "123456789012", region, from, to)
}

/// [`aws_backlog`] in account `account` (its `recipientAccountId`).
pub fn aws_account_backlog(
    seed: u64,
    n: usize,
    account: &str,
    region: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    let span_s = (to - from).num_seconds().max(1) as u64;
    (0..n)
        .map(|_| {
            let spec = CloudTrailSpec {
                event_id: rng.guid(),
                time: from + Duration::seconds(rng.below(span_s) as i64),
                event_name: rng.pick(AWS_DEFAULT_EVENT_NAMES).to_string(),
                region: region.to_string(),
                account_id: account.into(),
                user: rng.pick(&["alice", "bob", "ci-deployer"]).to_string(),
                instance_id: format!("i-0{:016x}", rng.next_u64() >> 4),
                source_ip: rng.pick(IPS).to_string(),
                request_id: rng.guid(),
                command_id: rng.guid(),
            };
            cloudtrail_event(&spec)
        })
        .collect()
}
