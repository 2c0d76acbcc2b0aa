//! AWS: SigV4-signed CloudTrail `LookupEvents` per account × region × event name, optional
//! STS AssumeRole, `regions = all` and AWS Organizations member accounts.
//!
//! `LookupEvents` takes one lookup attribute, so each configured event name is its own source
//! in each region. The inner `CloudTrailEvent` JSON string is the event, exactly as returned.
//!
//! Accounts: the stanza's own identity (access key or chain, then `role_arn` if set), or with
//! `aws_organization_role` every ACTIVE account that Organizations `ListAccounts` returns to
//! that identity, each through its own AssumeRole session (`ExternalId` if configured, the
//! regional STS). Regions: the named ones, or with `regions = all` those EC2 `DescribeRegions`
//! (`AllRegions=false`: enabled and opted-in only) returns for each account, once per account
//! and run; names from the network are used only if they are regions of the stanza's partition
//! whose CloudTrail host passes the endpoint allow-list. The accounts and their regions are
//! found before collection, `workers` at a time; an account whose role cannot be assumed or
//! whose regions cannot be listed is logged as an ERROR with its id and counted, and the other
//! accounts are collected. Checkpoint keys: `aws:<region>:<event>` for the stanza's own
//! account (one account per stanza), `aws:<account>:<region>:<event>` for member accounts.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Deserialize;

use super::checkpoint::sha256_hex;
use super::collect::{Budget, Collector, Emit, RawEvent};
use super::config::{metadata_url, AwsConfig, ECS_CREDENTIALS_URL, IMDS_URL};
use super::error::{excerpt, ModinputError};
use super::http::{HttpClient, HttpRequest, HttpResponse};
use super::log;
use super::secret::Secret;
use super::timespec::parse_api_time;

/// `X-Amz-Target` of CloudTrail LookupEvents (JSON 1.1 protocol).
pub const LOOKUP_EVENTS_TARGET: &str =
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
/// `X-Amz-Target` of Organizations ListAccounts (JSON 1.1 protocol).
pub const LIST_ACCOUNTS_TARGET: &str = "AWSOrganizationsV20161128.ListAccounts";
/// More regions than any partition has: a DescribeRegions answer beyond this is refused.
const MAX_REGIONS: usize = 500;
/// Largest page LookupEvents serves.
const MAX_RESULTS: u32 = 50;
const MALFORMED_ATTEMPTS: u32 = 3;

/// An account × region × event name stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSource {
    /// A member account (with `aws_organization_role`); `None`: the stanza's own identity.
    pub account: Option<String>,
    pub region: String,
    pub event_name: String,
}

/// Credentials used for signing (long-term keys or an assumed role's session).
#[derive(Clone)]
struct Keys {
    access_key_id: String,
    secret: Secret,
    session_token: Option<Secret>,
    /// When the keys stop working (assumed roles only).
    expires: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct LookupPage {
    /// Read element by element, so that one bad element is set aside, not the page.
    #[serde(rename = "Events", default)]
    events: Vec<serde_json::Value>,
    #[serde(rename = "NextToken", default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct LookupEvent {
    #[serde(rename = "EventId", default)]
    event_id: Option<String>,
    #[serde(rename = "EventTime", default)]
    event_time: Option<f64>,
    #[serde(rename = "CloudTrailEvent", default)]
    cloudtrail_event: Option<String>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "eventID", default)]
    event_id: Option<String>,
    #[serde(rename = "eventTime", default)]
    event_time: Option<String>,
}

#[derive(Deserialize)]
struct AwsErrorBody {
    #[serde(rename = "__type", default)]
    kind: Option<String>,
    #[serde(alias = "Message", default)]
    message: Option<String>,
}

/// Sign `req` in place for `service` in `region`.
fn sign_request(
    req: &mut HttpRequest,
    keys: &Keys,
    region: &str,
    service: &str,
) -> Result<(), ModinputError> {
    let signing_err = |e: String| ModinputError::Http {
        what: format!("signing a {service} request"),
        reason: e,
    };
    let identity: Identity = Credentials::new(
        keys.access_key_id.clone(),
        keys.secret.expose().to_string(),
        keys.session_token.as_ref().map(|t| t.expose().to_string()),
        None,
        "t1651_cloud_audit",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| signing_err(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        req.method,
        req.url.as_str(),
        req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&req.body),
    )
    .map_err(|e| signing_err(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing_err(e.to_string()))?
        .into_parts();
    let (headers, query) = instructions.into_parts();
    if !query.is_empty() {
        return Err(signing_err("unexpected query-string signature".into()));
    }
    for h in headers {
        req.headers
            .push((h.name().to_string(), h.value().to_string()));
    }
    Ok(())
}

/// The text of the first element named `name` in an XML document.
fn xml_text(doc: &str, name: &str) -> Option<String> {
    let mut r = Reader::from_str(doc);
    let mut inside = false;
    let mut out = String::new();
    loop {
        match r.read_event().ok()? {
            Event::Start(s) if s.local_name().as_ref() == name.as_bytes() => inside = true,
            Event::End(e) if inside && e.local_name().as_ref() == name.as_bytes() => {
                return Some(out)
            }
            Event::Text(t) if inside => out.push_str(&t.decode().ok()?),
            Event::GeneralRef(g) if inside => {
                let n = g.decode().ok()?;
                out.push_str(match n.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// One profile's settings (keys lower-cased), merged from the shared config file and the
/// shared credentials file.
type Profile = HashMap<String, String>;

/// Sections of an AWS shared config or credentials file. In the config file (`config = true`)
/// a profile section is `[profile NAME]` (or `[default]`); other section kinds (`sso-session`,
/// `services`) are ignored. Comments start with `#` or `;`; indented lines under a key with an
/// empty value are a nested block (e.g. `s3 =`) and are ignored.
fn parse_profiles(text: &str, config: bool) -> HashMap<String, Profile> {
    let mut out: HashMap<String, Profile> = HashMap::new();
    let mut current: Option<String> = None;
    let mut nested = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            current = if !config || name == "default" {
                Some(name.to_string())
            } else {
                name.strip_prefix("profile ")
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
            };
            if let Some(c) = &current {
                out.entry(c.clone()).or_default();
            }
            nested = false;
            continue;
        }
        if nested && raw.starts_with([' ', '\t']) {
            continue;
        }
        let Some(name) = &current else { continue };
        if let Some((k, v)) = line.split_once('=') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            nested = v.is_empty();
            out.entry(name.clone()).or_default().insert(k, v);
        }
    }
    out
}

/// The profiles of the shared config file (`AWS_CONFIG_FILE`, else `$HOME/.aws/config`) and
/// the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `$HOME/.aws/credentials`;
/// its values win), and a description of the files for messages.
fn shared_profiles() -> (HashMap<String, Profile>, String) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let home = env("HOME").map(std::path::PathBuf::from);
    let path = |var: &str, file: &str| {
        env(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(file)))
    };
    let mut profiles: HashMap<String, Profile> = HashMap::new();
    let mut files = Vec::new();
    for (var, file, config) in [
        ("AWS_CONFIG_FILE", "config", true),
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials", false),
    ] {
        let Some(p) = path(var, file) else { continue };
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        files.push(p.display().to_string());
        for (name, values) in parse_profiles(&text, config) {
            profiles.entry(name).or_default().extend(values);
        }
    }
    (profiles, files.join(" and "))
}

/// Settings that make a profile a credential source.
const PROFILE_CREDENTIAL_KEYS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "credential_process",
    "sso_start_url",
    "sso_session",
    "sso_account_id",
    "web_identity_token_file",
    "credential_source",
];

/// Static keys of a profile (`aws_access_key_id`, `aws_secret_access_key`, optional
/// `aws_session_token`); `Ok(None)` without an access key id.
fn static_keys(p: &Profile, what: &str) -> Result<Option<Keys>, ModinputError> {
    let Some(id) = p.get("aws_access_key_id") else {
        return Ok(None);
    };
    let Some(secret) = p.get("aws_secret_access_key") else {
        return Err(ModinputError::Auth {
            what: what.to_string(),
            reason: "aws_access_key_id without aws_secret_access_key".into(),
        });
    };
    log::register_secret(secret);
    let token = p.get("aws_session_token").cloned();
    if let Some(t) = &token {
        log::register_secret(t);
    }
    Ok(Some(Keys {
        access_key_id: id.clone(),
        secret: Secret::new(secret.clone()),
        session_token: token.map(Secret::new),
        expires: None,
    }))
}

/// Longest output read from a `credential_process` (its JSON is a few hundred bytes).
const MAX_PROCESS_OUTPUT: u64 = 64 * 1024;
/// How long a `credential_process` may run.
const PROCESS_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// Run a profile's `credential_process` (through `/bin/sh -c`, as the AWS SDKs do on Unix;
/// stdin empty, stderr discarded) and read the documented JSON from its stdout: `Version` 1,
/// `AccessKeyId`, `SecretAccessKey`, optional `SessionToken` and `Expiration`. Its output is
/// never logged, not even in an error (a JSON error names only its kind and position); a
/// process that runs longer than [`PROCESS_TIMEOUT`] is killed.
fn credential_process(cmd: &str, what: &str) -> Result<Keys, ModinputError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let what = format!("{what}: credential_process");
    let err = |reason: String| ModinputError::Auth {
        what: what.clone(),
        reason,
    };
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| err(format!("cannot start it: {e}")))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(err("no stdout".into()));
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.take(MAX_PROCESS_OUTPUT + 1).read_to_end(&mut v);
        let _ = tx.send(v);
    });
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(StdDuration::from_millis(10))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err(format!(
                    "did not finish within {} s; killed",
                    PROCESS_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(err(format!("cannot wait for it: {e}"))),
        }
    };
    // A descendant may still hold stdout open: wait for it only until the deadline.
    let out = rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .map_err(|_| err("its stdout was not closed".into()))?;
    if !status.success() {
        return Err(err(format!("{status} (its output is not logged)")));
    }
    if out.len() as u64 > MAX_PROCESS_OUTPUT {
        return Err(err(format!(
            "more than {MAX_PROCESS_OUTPUT} bytes of output (not logged)"
        )));
    }
    #[derive(Deserialize)]
    struct Doc {
        #[serde(rename = "Version")]
        version: u32,
        #[serde(rename = "AccessKeyId")]
        access_key_id: String,
        #[serde(rename = "SecretAccessKey")]
        secret_access_key: String,
        #[serde(rename = "SessionToken", default)]
        session_token: Option<String>,
        #[serde(rename = "Expiration", default)]
        expiration: Option<String>,
    }
    let d: Doc = serde_json::from_slice(&out).map_err(|e| {
        err(format!(
            "its output is not the documented JSON ({:?} error at line {} column {}; the output is not logged)",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    log::register_secret(&d.secret_access_key);
    if let Some(t) = &d.session_token {
        log::register_secret(t);
    }
    if d.version != 1 {
        return Err(err(format!("Version {} (expected 1)", d.version)));
    }
    let expires = match d.expiration.as_deref() {
        None => None,
        Some(e) => Some(
            parse_api_time(e).ok_or_else(|| err("Expiration is not an ISO-8601 time".into()))?,
        ),
    };
    log::debug(&format!("AWS credentials from {what}"));
    Ok(Keys {
        access_key_id: d.access_key_id,
        secret: Secret::new(d.secret_access_key),
        session_token: d.session_token.map(Secret::new),
        expires,
    })
}

/// Longest chain of `source_profile` links followed.
const MAX_PROFILE_CHAIN: usize = 5;

/// One account's session slot: locked while its keys are fetched, so concurrent clones
/// assume a role once, and different accounts do not wait for each other.
type Slot = Arc<Mutex<Option<Keys>>>;

/// CloudTrail collector for one stanza. Clones share the sessions and the per-account,
/// per-region rate limit, and collect different sources concurrently.
#[derive(Clone)]
pub struct AwsCollector<'h> {
    http: &'h HttpClient,
    cfg: AwsConfig,
    /// Long-term keys (`aws_auth = access_key`); `None` with the credential chain.
    base: Option<Keys>,
    /// Keys in use per account: `""` is the stanza's own identity (`base`, or the `role_arn`
    /// session), a member account id its `aws_organization_role` session. Shared by the
    /// clones: one AssumeRole per account for the whole run.
    sessions: Arc<Mutex<HashMap<String, Slot>>>,
    operations: Vec<String>,
    /// Next free LookupEvents slot per account and region, shared by the clones (see
    /// [`lookup_interval`]).
    next_slot: Arc<Mutex<HashMap<String, Instant>>>,
    budget: Budget,
    /// Accounts examined at the same time when the sources are listed.
    workers: usize,
    set_aside: u64,
    accounts_failed: u64,
}

/// Spacing between LookupEvents calls in one account and region: the API allows 2 per second
/// per account and region, so 500 ms keeps the input under it instead of leaning on throttling retries.
/// `T1651_MODINPUT_AWS_PACING_MS` overrides it (tests use 0).
fn lookup_interval() -> StdDuration {
    std::env::var("T1651_MODINPUT_AWS_PACING_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(StdDuration::from_millis)
        .unwrap_or(StdDuration::from_millis(500))
}

impl<'h> AwsCollector<'h> {
    pub fn new(
        http: &'h HttpClient,
        cfg: AwsConfig,
        secret_key: Option<Secret>,
        operations: &[String],
        budget: Budget,
        workers: usize,
    ) -> Self {
        let base = secret_key.map(|secret| Keys {
            access_key_id: cfg.access_key_id.clone(),
            secret,
            session_token: None,
            expires: None,
        });
        AwsCollector {
            http,
            cfg,
            base,
            sessions: Arc::new(Mutex::new(HashMap::new())),
            operations: operations.to_vec(),
            next_slot: Arc::new(Mutex::new(HashMap::new())),
            budget,
            workers: workers.max(1),
            set_aside: 0,
            accounts_failed: 0,
        }
    }

    fn slot(&self, account: Option<&str>) -> Slot {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(account.unwrap_or("").to_string())
            .or_default()
            .clone()
    }

    /// The keys of `account` (`None`: the stanza's own identity), assuming its role when the
    /// session is missing or ends within five minutes.
    fn keys_for(&self, account: Option<&str>) -> Result<Keys, ModinputError> {
        let slot = self.slot(account);
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = &*guard {
            let fresh = k.expires.is_none_or(|e| {
                Utc::now()
                    .checked_add_signed(chrono::Duration::minutes(5))
                    .is_some_and(|soon| soon < e)
            });
            if fresh {
                return Ok(k.clone());
            }
        }
        let keys = match account.and_then(|a| self.cfg.member_role_arn(a)) {
            // Lock order: a member's slot, then the stanza's (never the reverse).
            Some(arn) => self.assume_role(&arn, &self.keys_for(None)?)?,
            None => {
                let base = match &self.base {
                    Some(k) => k.clone(),
                    None => self.chain_keys()?,
                };
                match self.cfg.role_arn.clone() {
                    None => base,
                    Some(arn) => self.assume_role(&arn, &base)?,
                }
            }
        };
        *guard = Some(keys.clone());
        Ok(keys)
    }

    /// Drop `account`'s keys after AWS refused them as expired, unless another clone already
    /// replaced them.
    fn forget_keys(&self, account: Option<&str>, refused: &Keys) {
        let slot = self.slot(account);
        let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref()
            .is_some_and(|k| k.access_key_id == refused.access_key_id)
        {
            *g = None;
        }
    }

    /// Organizations ListAccounts with the stanza's identity: the ids of the ACTIVE accounts,
    /// each once. Paged by NextToken under the run's [`Budget`] (a repeated token or more than
    /// `max_pages` pages is an error); an element without a 12-digit `Id` and a `State` (or the
    /// older `Status`) is set aside with a WARN; other states are skipped with an INFO.
    fn list_accounts(&mut self) -> Result<Vec<String>, ModinputError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(rename = "Accounts", default)]
            accounts: Vec<serde_json::Value>,
            #[serde(rename = "NextToken", default)]
            next_token: Option<String>,
        }
        let keys = self.keys_for(None)?;
        let url = format!("{}/", self.cfg.organizations_url);
        let region = self.cfg.organizations_region.clone();
        let mut pager = self.budget.pager();
        let mut next: Option<String> = None;
        let mut seen = HashSet::new();
        let mut active = Vec::new();
        loop {
            let page_no = pager.next_page("Organizations ListAccounts", next.as_deref())?;
            let what = format!("Organizations ListAccounts page {page_no}");
            let body = match &next {
                Some(t) => serde_json::json!({ "NextToken": t }),
                None => serde_json::json!({}),
            }
            .to_string();
            let resp = self.http.send(&what, || {
                let mut req = HttpRequest::post(url.clone(), body.clone().into_bytes())
                    .header("Content-Type", "application/x-amz-json-1.1")
                    .header("X-Amz-Target", LIST_ACCOUNTS_TARGET);
                sign_request(&mut req, &keys, &region, "organizations")?;
                Ok(req)
            })?;
            if resp.status != 200 {
                let (kind, message) = json_error(&resp);
                let reason = format!("HTTP {} {kind}: {}", resp.status, excerpt(&message));
                return Err(if is_bad_keys(&kind) {
                    ModinputError::Auth { what, reason }
                } else if kind.contains("AccessDenied") || kind.contains("NotInUse") {
                    ModinputError::Forbidden {
                        what,
                        reason: format!("{reason} (aws_organization_role needs the management account or a delegated administrator with organizations:ListAccounts)"),
                    }
                } else {
                    ModinputError::Http { what, reason }
                });
            }
            let page: Page =
                serde_json::from_str(&resp.body).map_err(|e| ModinputError::Malformed {
                    what: what.clone(),
                    reason: e.to_string(),
                })?;
            for (pos, raw) in page.accounts.iter().enumerate() {
                let id = raw.get("Id").and_then(|v| v.as_str());
                let state = raw
                    .get("State")
                    .or_else(|| raw.get("Status"))
                    .and_then(|v| v.as_str());
                match (id, state) {
                    (Some(id), Some(state))
                        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        if state != "ACTIVE" {
                            log::info(&format!(
                                "account {id} is {}; not collected",
                                excerpt(state)
                            ));
                        } else if seen.insert(id.to_string()) {
                            active.push(id.to_string());
                        }
                    }
                    _ => {
                        self.set_aside += 1;
                        log::warn(&format!(
                            "{what}: element {pos} set aside: no 12-digit Id and State; the other accounts are collected"
                        ));
                    }
                }
            }
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        log::info(&format!(
            "Organizations ListAccounts: {} active accounts",
            active.len()
        ));
        Ok(active)
    }

    /// EC2 DescribeRegions (`AllRegions=false`) in the home region with `account`'s keys: the
    /// regions enabled for that account. A name that is not a region of the stanza's partition,
    /// or whose CloudTrail endpoint the allow-list refuses, is skipped with a WARN.
    fn describe_regions(&self, account: Option<&str>) -> Result<Vec<String>, ModinputError> {
        let keys = self.keys_for(account)?;
        let home = self.cfg.home_region.clone();
        let what = format!(
            "EC2 DescribeRegions in {home}{}",
            account
                .map(|a| format!(" for account {a}"))
                .unwrap_or_default()
        );
        let url = format!("{}/", self.cfg.ec2_url);
        let body = b"Action=DescribeRegions&Version=2016-11-15&AllRegions=false".to_vec();
        let resp = self.http.send(&what, || {
            let mut req = HttpRequest::post(url.clone(), body.clone()).header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            );
            sign_request(&mut req, &keys, &home, "ec2")?;
            Ok(req)
        })?;
        if resp.status != 200 {
            let code = xml_text(&resp.body, "Code").unwrap_or_default();
            let msg = xml_text(&resp.body, "Message").unwrap_or_else(|| excerpt(&resp.body));
            let reason = format!("HTTP {} {code}: {}", resp.status, excerpt(&msg));
            return Err(
                if code == "AuthFailure" || code.contains("Expired") || is_bad_keys(&code) {
                    ModinputError::Auth { what, reason }
                } else if resp.status == 403 || code == "UnauthorizedOperation" {
                    ModinputError::Forbidden {
                        what,
                        reason: format!("{reason} (regions = all needs ec2:DescribeRegions)"),
                    }
                } else {
                    ModinputError::Http { what, reason }
                },
            );
        }
        let items = region_items(&resp.body).map_err(|reason| ModinputError::Malformed {
            what: what.clone(),
            reason,
        })?;
        let mut regions = Vec::new();
        for (pos, (name, opt_in)) in items.into_iter().enumerate() {
            // AllRegions=false answers with enabled regions only; a not-opted-in one is not
            // collected even if a server sends it.
            if opt_in.as_deref() == Some("not-opted-in") {
                continue;
            }
            let Some(name) = name else {
                log::warn(&format!("{what}: item {pos} has no regionName; skipped"));
                continue;
            };
            match self.cfg.cloudtrail_url(&name) {
                Ok(_) if !regions.contains(&name) => regions.push(name),
                Ok(_) => {}
                Err(e) => log::warn(&format!("{what}: region skipped: {e}")),
            }
        }
        if regions.is_empty() {
            return Err(ModinputError::Malformed {
                what,
                reason: "no usable region in the answer".into(),
            });
        }
        regions.sort();
        log::debug(&format!("{what}: {}", regions.join(",")));
        Ok(regions)
    }

    /// One account's regions: its session is established first (a member account whose role
    /// cannot be assumed fails here, once), then the named regions or DescribeRegions.
    fn account_regions(&self, account: Option<&str>) -> Result<Vec<String>, ModinputError> {
        if account.is_some() {
            self.keys_for(account)?;
        }
        if self.cfg.all_regions {
            self.describe_regions(account)
        } else {
            Ok(self.cfg.regions.clone())
        }
    }

    /// The standard AWS credential chain: environment, shared config/credentials file profile
    /// ([`AwsCollector::profile_keys`]), web
    /// identity (IRSA), ECS container credentials, EC2 instance metadata (IMDSv2). The first source that is configured is
    /// used; its failure is the error (no silent fall-through to another identity).
    fn chain_keys(&self) -> Result<Keys, ModinputError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            log::register_secret(&secret);
            let token = env("AWS_SESSION_TOKEN");
            if let Some(t) = &token {
                log::register_secret(t);
            }
            log::debug("AWS credentials from the environment");
            return Ok(Keys {
                access_key_id: id,
                secret: Secret::new(secret),
                session_token: token.map(Secret::new),
                expires: None,
            });
        }
        if let Some(keys) = self.profile_keys()? {
            return Ok(keys);
        }
        if let (Some(file), Some(arn)) = (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
            return self.web_identity(&file, &arn);
        }
        if let Some(rel) = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let base = metadata_url("T1651_MODINPUT_ECS_URL", ECS_CREDENTIALS_URL);
            let url = format!("{base}{rel}");
            return self.json_credentials("ECS container credentials", &url, &[]);
        }
        if let Some(full) = env("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let host_ok = full
                .parse::<ureq::http::Uri>()
                .ok()
                .and_then(|u| {
                    u.host().map(|h| {
                        super::http::is_loopback_host(h) || super::http::is_metadata_host(h)
                    })
                })
                .unwrap_or(false);
            if !host_ok {
                return Err(ModinputError::Auth {
                    what: "ECS container credentials".into(),
                    reason: "AWS_CONTAINER_CREDENTIALS_FULL_URI must point at loopback or the ECS endpoint".into(),
                });
            }
            let auth = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
            if let Some(a) = &auth {
                log::register_secret(a);
            }
            let headers: Vec<(&str, String)> =
                auth.into_iter().map(|a| ("Authorization", a)).collect();
            return self.json_credentials("ECS container credentials", &full, &headers);
        }
        self.instance_metadata()
    }

    /// STS AssumeRoleWithWebIdentity (unsigned) with the token in `file`.
    fn web_identity(&self, file: &str, arn: &str) -> Result<Keys, ModinputError> {
        let what = format!("STS AssumeRoleWithWebIdentity {arn}");
        let token = std::fs::read_to_string(file).map_err(|e| ModinputError::Auth {
            what: what.clone(),
            reason: format!("cannot read AWS_WEB_IDENTITY_TOKEN_FILE {file}: {e}"),
        })?;
        let token = token.trim().to_string();
        log::register_secret(&token);
        let session = std::env::var("AWS_ROLE_SESSION_NAME")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "t1651-cloud-audit".into());
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}&DurationSeconds=3600",
            enc(arn),
            enc(&session),
            enc(&token)
        );
        let url = format!("{}/", self.cfg.sts_url);
        let resp = self.http.send(&what, || {
            Ok(
                HttpRequest::post(url.clone(), body.clone().into_bytes()).header(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
            )
        })?;
        self.sts_keys(
            &what,
            &resp,
            "the role's trust policy must allow the web identity provider",
        )
    }

    /// Keys from an STS XML response (AssumeRole, AssumeRoleWithWebIdentity).
    fn sts_keys(&self, what: &str, resp: &HttpResponse, hint: &str) -> Result<Keys, ModinputError> {
        if resp.status != 200 {
            let code = xml_text(&resp.body, "Code").unwrap_or_default();
            let msg = xml_text(&resp.body, "Message").unwrap_or_else(|| excerpt(&resp.body));
            return Err(ModinputError::Auth {
                what: what.to_string(),
                reason: format!("HTTP {} {code}: {} ({hint})", resp.status, excerpt(&msg)),
            });
        }
        let malformed = |field: &str| ModinputError::Malformed {
            what: what.to_string(),
            reason: format!("no <{field}> in the STS response"),
        };
        let access_key_id =
            xml_text(&resp.body, "AccessKeyId").ok_or_else(|| malformed("AccessKeyId"))?;
        let secret =
            xml_text(&resp.body, "SecretAccessKey").ok_or_else(|| malformed("SecretAccessKey"))?;
        let token =
            xml_text(&resp.body, "SessionToken").ok_or_else(|| malformed("SessionToken"))?;
        let expires = xml_text(&resp.body, "Expiration").and_then(|e| parse_api_time(&e));
        log::register_secret(secret.trim());
        log::register_secret(token.trim());
        Ok(Keys {
            access_key_id: access_key_id.trim().to_string(),
            secret: Secret::new(secret.trim()),
            session_token: Some(Secret::new(token.trim())),
            expires,
        })
    }

    /// Keys from a JSON credentials document (ECS endpoint, EC2 instance metadata).
    fn json_credentials(
        &self,
        what: &str,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<Keys, ModinputError> {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(rename = "AccessKeyId")]
            access_key_id: String,
            #[serde(rename = "SecretAccessKey")]
            secret_access_key: String,
            #[serde(rename = "Token", default)]
            token: Option<String>,
            #[serde(rename = "Expiration", default)]
            expiration: Option<String>,
        }
        let resp = self.http.send(what, || {
            let mut r = HttpRequest::get(url.to_string());
            for (k, v) in headers {
                r = r.header(k, v);
            }
            Ok(r)
        })?;
        if resp.status != 200 {
            return Err(ModinputError::Auth {
                what: what.to_string(),
                reason: format!("HTTP {}: {}", resp.status, excerpt(&resp.body)),
            });
        }
        let d: Doc = serde_json::from_str(&resp.body).map_err(|e| ModinputError::Malformed {
            what: what.to_string(),
            reason: format!("not a credentials document: {e}"),
        })?;
        log::register_secret(&d.secret_access_key);
        if let Some(t) = &d.token {
            log::register_secret(t);
        }
        log::debug(&format!("AWS credentials from {what}"));
        Ok(Keys {
            access_key_id: d.access_key_id,
            secret: Secret::new(d.secret_access_key),
            session_token: d.token.map(Secret::new),
            expires: d.expiration.as_deref().and_then(parse_api_time),
        })
    }

    /// EC2 instance metadata with IMDSv2: a session token (PUT), the role name, its keys.
    fn instance_metadata(&self) -> Result<Keys, ModinputError> {
        let base = metadata_url("T1651_MODINPUT_IMDS_URL", IMDS_URL);
        let what = "EC2 instance metadata (IMDSv2)";
        let resp = self.http.send(what, || {
            Ok(HttpRequest {
                method: "PUT",
                url: format!("{base}/latest/api/token"),
                headers: vec![(
                    "X-aws-ec2-metadata-token-ttl-seconds".into(),
                    "21600".into(),
                )],
                body: Vec::new(),
            })
        })?;
        if resp.status != 200 {
            return Err(ModinputError::Auth {
                what: what.into(),
                reason: format!(
                    "HTTP {} for the IMDSv2 session token (is splunkd on EC2 with an instance profile? set aws_auth = access_key otherwise)",
                    resp.status
                ),
            });
        }
        let session = resp.body.trim().to_string();
        log::register_secret(&session);
        let h = [("X-aws-ec2-metadata-token", session)];
        let list_url = format!("{base}/latest/meta-data/iam/security-credentials/");
        let resp = self.http.send(what, || {
            let mut r = HttpRequest::get(list_url.clone());
            for (k, v) in &h {
                r = r.header(k, v);
            }
            Ok(r)
        })?;
        let role = resp.body.lines().next().unwrap_or("").trim().to_string();
        if resp.status != 200
            || role.is_empty()
            || !role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return Err(ModinputError::Auth {
                what: what.into(),
                reason: format!("HTTP {}: no instance profile role", resp.status),
            });
        }
        self.json_credentials(what, &format!("{list_url}{role}"), &h)
    }

    /// Wait for this account's and region's next LookupEvents slot. Slots are reserved under a
    /// lock, so the concurrent clones together stay within the per-account, per-region rate.
    fn wait_for_slot(&self, account: Option<&str>, region: &str) {
        let key = format!("{}/{region}", account.unwrap_or(""));
        let wait = {
            let mut slots = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = slots.get(&key).map_or(now, |t| (*t).max(now));
            slots.insert(key, slot.checked_add(lookup_interval()).unwrap_or(slot));
            slot - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// The shared-file profile `AWS_PROFILE` (else `default`), if it is a credential source.
    /// `Ok(None)` (the chain goes on) when no file has it, or when `default` has no credential
    /// settings (a config file with only a region); a profile named by `AWS_PROFILE` without
    /// credentials is an error.
    fn profile_keys(&self) -> Result<Option<Keys>, ModinputError> {
        let named = std::env::var("AWS_PROFILE").ok().filter(|v| !v.is_empty());
        let profile = named.clone().unwrap_or_else(|| "default".into());
        let (profiles, files) = shared_profiles();
        let Some(p) = profiles.get(&profile) else {
            return Ok(None);
        };
        if named.is_none() && !PROFILE_CREDENTIAL_KEYS.iter().any(|k| p.contains_key(*k)) {
            return Ok(None);
        }
        let keys = self.resolve_profile(&profiles, &profile, &files, &mut Vec::new())?;
        log::debug(&format!("AWS credentials from AWS profile `{profile}`"));
        Ok(Some(keys))
    }

    /// The keys of profile `name`: a role profile (`role_arn` + `source_profile`, optional
    /// `external_id` and `role_session_name`) assumes its role with its source profile's keys
    /// (at most [`MAX_PROFILE_CHAIN`] links, no loops; `source_profile` naming the profile
    /// itself uses its static keys); otherwise static keys; otherwise `credential_process`.
    /// SSO, `credential_source`, `mfa_serial` and `web_identity_token_file` profiles are
    /// refused with the reason.
    fn resolve_profile(
        &self,
        profiles: &HashMap<String, Profile>,
        name: &str,
        files: &str,
        chain: &mut Vec<String>,
    ) -> Result<Keys, ModinputError> {
        let what = format!("AWS profile `{name}` of {files}");
        let err = |reason: &str| ModinputError::Auth {
            what: what.clone(),
            reason: reason.to_string(),
        };
        let Some(p) = profiles.get(name) else {
            return Err(err("no such profile"));
        };
        if ["sso_start_url", "sso_session", "sso_account_id"]
            .iter()
            .any(|k| p.contains_key(*k))
        {
            return Err(err("SSO profiles are not supported: their token comes from an interactive `aws sso login` and expires within hours, which an unattended input cannot renew; use a role profile, credential_process or another source of the chain"));
        }
        if let Some(arn) = p.get("role_arn") {
            if p.contains_key("mfa_serial") {
                return Err(err(
                    "mfa_serial needs a code typed by a person; not supported",
                ));
            }
            if p.contains_key("credential_source") {
                return Err(err("credential_source is not supported; use source_profile, or aws_auth = chain without a profile"));
            }
            if !super::config::is_role_arn(arn) {
                return Err(err(
                    "role_arn is not a role ARN (arn:aws:iam::123456789012:role/NAME)",
                ));
            }
            let Some(src) = p.get("source_profile") else {
                return Err(err("role_arn without source_profile is not supported"));
            };
            if chain.iter().any(|c| c == name) {
                return Err(err("source_profile links form a loop"));
            }
            if chain.len() >= MAX_PROFILE_CHAIN {
                return Err(err("more than 5 source_profile links"));
            }
            chain.push(name.to_string());
            if !profiles.contains_key(src) {
                return Err(err(&format!(
                    "source_profile `{}` is not a profile of these files",
                    excerpt(src)
                )));
            }
            let base = if src == name {
                static_keys(p, &what)?.ok_or_else(|| {
                    err("source_profile names the profile itself, which has no static keys")
                })?
            } else {
                self.resolve_profile(profiles, src, files, chain)?
            };
            if let Some(x) = p.get("external_id") {
                if !(2..=1224).contains(&x.len()) {
                    return Err(err("external_id must be 2 to 1224 characters"));
                }
            }
            let session = p
                .get("role_session_name")
                .filter(|s| {
                    (2..=64).contains(&s.len())
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
                })
                .map(String::as_str)
                .unwrap_or("t1651-cloud-audit");
            return self.assume_role_with(
                arn,
                &base,
                p.get("external_id").map(String::as_str),
                session,
            );
        }
        if let Some(keys) = static_keys(p, &what)? {
            return Ok(keys);
        }
        if let Some(cmd) = p.get("credential_process") {
            return credential_process(cmd, &what);
        }
        if p.contains_key("web_identity_token_file") {
            return Err(err("web_identity_token_file in a profile is not supported; set AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN in splunkd's environment"));
        }
        Err(err("the profile has no credentials (expected aws_access_key_id + aws_secret_access_key, role_arn + source_profile, or credential_process)"))
    }

    fn assume_role(&self, arn: &str, base: &Keys) -> Result<Keys, ModinputError> {
        self.assume_role_with(
            arn,
            base,
            self.cfg.external_id.as_deref(),
            "t1651-cloud-audit",
        )
    }

    fn assume_role_with(
        &self,
        arn: &str,
        base: &Keys,
        external_id: Option<&str>,
        session: &str,
    ) -> Result<Keys, ModinputError> {
        let url = format!("{}/", self.cfg.sts_url);
        let mut body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={}&DurationSeconds=3600",
            utf8_percent_encode(arn, NON_ALPHANUMERIC),
            utf8_percent_encode(session, NON_ALPHANUMERIC)
        );
        if let Some(x) = external_id {
            body.push_str(&format!(
                "&ExternalId={}",
                utf8_percent_encode(x, NON_ALPHANUMERIC)
            ));
        }
        // The global endpoint signs for us-east-1; a regional one for its own region.
        let region = self.cfg.sts_region.clone();
        let what = format!("STS AssumeRole {arn}");
        let resp = self.http.send(&what, || {
            let mut req = HttpRequest::post(url.clone(), body.clone().into_bytes()).header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            );
            sign_request(&mut req, base, &region, "sts")?;
            Ok(req)
        })?;
        let keys = self.sts_keys(
            &what,
            &resp,
            "the principal needs sts:AssumeRole on the role, and the role's trust policy must allow it (with the ExternalId, if it names one)",
        )?;
        log::info(&format!("assumed role {arn} as {}", keys.access_key_id));
        Ok(keys)
    }

    /// One LookupEvents call; refreshes assumed-role keys once if AWS says they expired.
    fn lookup(
        &mut self,
        what: &str,
        account: Option<&str>,
        region: &str,
        body: &str,
    ) -> Result<HttpResponse, ModinputError> {
        let url = format!("{}/", self.cfg.cloudtrail_url(region)?);
        self.wait_for_slot(account, region);
        let mut refreshed = false;
        loop {
            let keys = self.keys_for(account)?;
            let resp = self.http.send(what, || {
                let mut req = HttpRequest::post(url.clone(), body.as_bytes().to_vec())
                    .header("Content-Type", "application/x-amz-json-1.1")
                    .header("X-Amz-Target", LOOKUP_EVENTS_TARGET);
                sign_request(&mut req, &keys, region, "cloudtrail")?;
                Ok(req)
            })?;
            if resp.status == 200 {
                return Ok(resp);
            }
            let (kind, message) = json_error(&resp);
            let expired = kind.contains("ExpiredToken") || kind.contains("InvalidClientTokenId");
            if expired && !refreshed && (self.cfg.role_arn.is_some() || account.is_some()) {
                log::info(&format!("{what}: {kind}; assuming the role again"));
                self.forget_keys(account, &keys);
                refreshed = true;
                continue;
            }
            let reason = format!("HTTP {} {kind}: {}", resp.status, excerpt(&message));
            let bad_keys = is_bad_keys(&kind);
            return Err(if bad_keys {
                ModinputError::Auth {
                    what: what.to_string(),
                    reason: format!("{reason} (check access_key_id and the stored secret key)"),
                }
            } else if resp.status == 403 || kind.contains("AccessDenied") {
                ModinputError::Forbidden {
                    what: what.to_string(),
                    reason: format!("{reason} (the principal needs cloudtrail:LookupEvents)"),
                }
            } else {
                ModinputError::Http {
                    what: what.to_string(),
                    reason,
                }
            });
        }
    }
}

/// `__type` (without its namespace) and message of an AWS JSON error body.
fn json_error(resp: &HttpResponse) -> (String, String) {
    let err: Option<AwsErrorBody> = serde_json::from_str(&resp.body).ok();
    let kind = err
        .as_ref()
        .and_then(|e| e.kind.clone())
        .unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or_default().to_string();
    let message = err
        .and_then(|e| e.message)
        .unwrap_or_else(|| excerpt(&resp.body));
    (kind, message)
}

/// Error codes that mean the keys themselves were refused.
fn is_bad_keys(kind: &str) -> bool {
    [
        "UnrecognizedClient",
        "InvalidSignature",
        "IncompleteSignature",
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "ExpiredToken",
    ]
    .iter()
    .any(|c| kind.contains(c))
}

/// `regionName` and `optInStatus` of one `regionInfo/item` (either may be missing).
type RegionItem = (Option<String>, Option<String>);

/// Every `regionInfo/item` of a DescribeRegions answer.
fn region_items(doc: &str) -> Result<Vec<RegionItem>, String> {
    let mut r = Reader::from_str(doc);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let (mut name, mut opt_in) = (None, None);
    let mut items = Vec::new();
    let mut seen_info = false;
    loop {
        match r.read_event().map_err(|e| format!("not XML: {e}"))? {
            Event::Start(s) => {
                let n = s.local_name().as_ref().to_vec();
                if n == b"regionInfo" {
                    seen_info = true;
                }
                if n == b"item" && path.last().is_some_and(|p| p == b"regionInfo") {
                    (name, opt_in) = (None, None);
                }
                path.push(n);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| e.to_string())?),
            // Region names have no entities: keep one so that the name fails validation.
            Event::GeneralRef(_) => text.push('&'),
            Event::End(_) => {
                let n = path.pop().unwrap_or_default();
                match n.as_slice() {
                    b"regionName" => name = Some(text.trim().to_string()),
                    b"optInStatus" => opt_in = Some(text.trim().to_string()),
                    b"item" if path.last().is_some_and(|p| p == b"regionInfo") => {
                        items.push((name.take(), opt_in.take()));
                        if items.len() > MAX_REGIONS {
                            return Err(format!("more than {MAX_REGIONS} regions"));
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_info {
        return Err("no <regionInfo>".into());
    }
    Ok(items)
}

impl Collector for AwsCollector<'_> {
    type Source = AwsSource;

    /// The accounts (the stanza's own, or the organization's ACTIVE ones) and their regions,
    /// `workers` accounts at a time. Event name major, then account, then region: concurrent
    /// workers start on different regions, whose rate limits are independent, instead of
    /// queueing on one region's.
    fn sources(&mut self) -> Result<Vec<AwsSource>, ModinputError> {
        let accounts: Vec<Option<String>> = if self.cfg.organization_role.is_some() {
            self.list_accounts()?.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        // One slot per account: its regions, or why it could not be set up.
        type Regions = Result<Vec<String>, ModinputError>;
        let results: Mutex<Vec<Option<Regions>>> =
            Mutex::new((0..accounts.len()).map(|_| None).collect());
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..self.workers.min(accounts.len()) {
                let (c, accounts, results, next) = (self.clone(), &accounts, &results, &next);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(account) = accounts.get(i) else {
                        break;
                    };
                    let r = c.account_regions(account.as_deref());
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut per_account = Vec::new();
        for (account, result) in accounts.into_iter().zip(results) {
            match (result.unwrap_or_else(|| Ok(Vec::new())), account) {
                (Ok(regions), account) => per_account.push((account, regions)),
                (Err(e), None) => return Err(e),
                (Err(e), Some(a)) => {
                    self.accounts_failed += 1;
                    log::error(&format!(
                        "account {a}: {e}; its events are not collected this run (the other accounts are)"
                    ));
                }
            }
        }
        Ok(self
            .operations
            .iter()
            .flat_map(|e| {
                per_account.iter().flat_map(move |(a, regions)| {
                    regions.iter().map(move |r| AwsSource {
                        account: a.clone(),
                        region: r.clone(),
                        event_name: e.clone(),
                    })
                })
            })
            .collect())
    }

    fn key(&self, s: &AwsSource) -> String {
        match &s.account {
            None => format!("aws:{}:{}", s.region, s.event_name),
            Some(a) => format!("aws:{a}:{}:{}", s.region, s.event_name),
        }
    }

    /// In a member account, refused credentials fail that source only (as access denied),
    /// not the stanza: the other accounts' keys are independent.
    fn collect(
        &mut self,
        s: &AwsSource,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        emit: &mut Emit<'_>,
    ) -> Result<(), ModinputError> {
        match (self.collect_source(s, from, to, emit), &s.account) {
            (Err(ModinputError::Auth { what, reason }), Some(a)) => Err(ModinputError::Forbidden {
                what: format!("account {a}: {what}"),
                reason: format!("credentials refused: {reason}"),
            }),
            (r, _) => r,
        }
    }

    fn set_aside(&self) -> u64 {
        self.set_aside
    }

    fn accounts_failed(&self) -> u64 {
        self.accounts_failed
    }
}

impl AwsCollector<'_> {
    fn collect_source(
        &mut self,
        s: &AwsSource,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        emit: &mut Emit<'_>,
    ) -> Result<(), ModinputError> {
        let in_account = s
            .account
            .as_deref()
            .map(|a| format!(" of account {a}"))
            .unwrap_or_default();
        // LookupEvents takes whole seconds; widen to cover the slice (de-duplication absorbs the overlap).
        let start = from.timestamp();
        let end = to.timestamp() + i64::from(to.timestamp_subsec_nanos() > 0);
        let mut next: Option<String> = None;
        let mut pager = self.budget.pager();
        loop {
            let page_no = pager.next_page(
                &format!(
                    "CloudTrail LookupEvents {} in {}{in_account} ({start} .. {end})",
                    s.event_name, s.region
                ),
                next.as_deref(),
            )?;
            let mut body = serde_json::json!({
                "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": s.event_name}],
                "StartTime": start,
                "EndTime": end,
                "MaxResults": MAX_RESULTS,
            });
            if let Some(t) = &next {
                body["NextToken"] = serde_json::Value::String(t.clone());
            }
            let body = body.to_string();
            let what = format!(
                "CloudTrail LookupEvents {} in {}{in_account} ({start} .. {end}) page {page_no}",
                s.event_name, s.region
            );
            let mut attempt = 0;
            let page: LookupPage = loop {
                attempt += 1;
                let resp = self.lookup(&what, s.account.as_deref(), &s.region, &body)?;
                match serde_json::from_str::<LookupPage>(&resp.body) {
                    Ok(p) => break p,
                    Err(e) if attempt < MALFORMED_ATTEMPTS => {
                        log::warn(&format!("{what}: malformed page ({e}); fetching it again"));
                        std::thread::sleep(self.http.retry_policy().backoff(attempt));
                    }
                    Err(e) => {
                        return Err(ModinputError::Malformed {
                            what,
                            reason: format!("{e} (after {attempt} attempts)"),
                        })
                    }
                }
            };
            for (pos, raw) in page.events.iter().enumerate() {
                let ev_id = raw
                    .get("EventId")
                    .and_then(|v| v.as_str())
                    .map(|i| format!("EventId {}", excerpt(i)))
                    .unwrap_or_else(|| "no EventId".into());
                let mut set_aside = |why: String| {
                    self.set_aside += 1;
                    log::warn(&format!(
                        "{what}: element {pos} ({ev_id}) set aside: {why}; the rest of the page is delivered"
                    ));
                };
                let ev: LookupEvent = match serde_json::from_value(raw.clone()) {
                    Ok(ev) => ev,
                    Err(e) => {
                        set_aside(format!("not a LookupEvents entry: {e}"));
                        continue;
                    }
                };
                let Some(text) = ev.cloudtrail_event.as_deref() else {
                    set_aside("it has no CloudTrailEvent".into());
                    continue;
                };
                let inner: Inner = match serde_json::from_str(text) {
                    Ok(i) => i,
                    Err(e) => {
                        set_aside(format!("CloudTrailEvent is not a JSON object: {e}"));
                        continue;
                    }
                };
                let id = ev
                    .event_id
                    .clone()
                    .or(inner.event_id)
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| format!("sha256:{}", sha256_hex(text.as_bytes())));
                // EventTime is a remote float: NaN or huge values give no time, never a panic.
                let time = inner
                    .event_time
                    .as_deref()
                    .and_then(parse_api_time)
                    .or_else(|| {
                        ev.event_time
                            .filter(|t| t.is_finite() && t.abs() < 1e13)
                            .and_then(|t| {
                                DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
                            })
                    });
                emit(RawEvent {
                    id,
                    time,
                    data: text,
                })?;
            }
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_xml_fields() {
        let doc = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s&amp;k</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"#;
        assert_eq!(xml_text(doc, "AccessKeyId").as_deref(), Some("ASIAEXAMPLE"));
        assert_eq!(xml_text(doc, "SecretAccessKey").as_deref(), Some("s&k"));
        assert_eq!(xml_text(doc, "Nope"), None);
    }

    #[test]
    fn shared_file_profiles() {
        let config = "# comment\n[default]\nregion = eu-west-1\n[profile a]\nrole_arn = arn:aws:iam::123456789012:role/r\ns3 =\n  source_profile = nested-not-a-setting\nSource_Profile = b\n[sso-session corp]\nsso_start_url = x\n[profile ]\nx = 1\n[plain]\ny = 2\n";
        let p = parse_profiles(config, true);
        assert_eq!(p["default"]["region"], "eu-west-1");
        assert_eq!(
            p["a"]["source_profile"], "b",
            "keys are case-insensitive; nested blocks ignored"
        );
        assert_eq!(p["a"]["s3"], "");
        assert_eq!(
            p.len(),
            2,
            "sso-session, empty and non-profile sections are not profiles: {p:?}"
        );
        let creds = parse_profiles(
            "[a]\naws_access_key_id = AKIA\n; c\naws_secret_access_key = s=k\n",
            false,
        );
        assert_eq!(creds["a"]["aws_secret_access_key"], "s=k");
    }

    #[test]
    fn describe_regions_items() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <regionInfo>
    <item><regionName>us-east-1</regionName><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>
    <item><regionName>af-south-1</regionName><optInStatus>not-opted-in</optInStatus></item>
    <item><regionEndpoint>ec2.x.amazonaws.com</regionEndpoint></item>
    <item><regionName>a&amp;b</regionName></item>
  </regionInfo>
</DescribeRegionsResponse>"#;
        let items = region_items(doc).unwrap();
        assert_eq!(
            items,
            vec![
                (Some("us-east-1".into()), Some("opt-in-not-required".into())),
                (Some("af-south-1".into()), Some("not-opted-in".into())),
                (None, None),
                (Some("a&b".into()), None),
            ]
        );
        assert!(region_items("<Response><Errors/></Response>").is_err());
        let many = format!(
            "<r><regionInfo>{}</regionInfo></r>",
            "<item><regionName>us-east-1</regionName></item>".repeat(MAX_REGIONS + 1)
        );
        assert!(region_items(&many).unwrap_err().contains("more than"));
    }

    #[test]
    fn signing_adds_sigv4_headers() {
        let keys = Keys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("session-token-x")),
            expires: None,
        };
        let mut req = HttpRequest::post(
            "https://cloudtrail.us-east-1.amazonaws.com/",
            b"{}".to_vec(),
        )
        .header("X-Amz-Target", LOOKUP_EVENTS_TARGET);
        sign_request(&mut req, &keys, "us-east-1", "cloudtrail").unwrap();
        let auth = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .unwrap();
        assert!(auth
            .1
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(auth.1.contains("/us-east-1/cloudtrail/aws4_request"));
        assert!(
            req.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-security-token")
                    && v == "session-token-x")
        );
        assert!(!auth.1.contains("EXAMPLEKEY"));
    }
}
