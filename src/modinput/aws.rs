//! AWS: SigV4-signed CloudTrail `LookupEvents` per region × event name, optional STS AssumeRole.
//!
//! `LookupEvents` takes one lookup attribute, so each configured event name is its own source
//! in each region. The inner `CloudTrailEvent` JSON string is the event, exactly as returned.

use std::collections::HashMap;
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
/// Largest page LookupEvents serves.
const MAX_RESULTS: u32 = 50;
const MALFORMED_ATTEMPTS: u32 = 3;

/// A region × event name stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSource {
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

/// Static keys of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
/// `$HOME/.aws/credentials`), profile `AWS_PROFILE` (else `default`): `aws_access_key_id`,
/// `aws_secret_access_key`, optional `aws_session_token`. `Ok(None)` when there is no such
/// file or profile (the chain goes on); an error when the profile exists but lacks a key.
/// Profiles that assume roles, SSO or credential processes (in `~/.aws/config`) are not read.
fn profile_keys() -> Result<Option<Keys>, ModinputError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let path = match env("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => std::path::PathBuf::from(p),
        None => match env("HOME") {
            Some(h) => std::path::Path::new(&h).join(".aws").join("credentials"),
            None => return Ok(None),
        },
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let mut in_profile = false;
    let mut found = false;
    let mut values: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            found |= in_profile;
            continue;
        }
        if in_profile {
            if let Some((k, v)) = line.split_once('=') {
                values.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    if !found {
        return Ok(None);
    }
    let what = format!("AWS profile `{profile}` of {}", path.display());
    let (Some(id), Some(secret)) = (
        values.remove("aws_access_key_id"),
        values.remove("aws_secret_access_key"),
    ) else {
        return Err(ModinputError::Auth {
            what,
            reason: "the profile has no aws_access_key_id / aws_secret_access_key (role, SSO and process profiles are not supported)".into(),
        });
    };
    log::register_secret(&secret);
    let token = values.remove("aws_session_token");
    if let Some(t) = &token {
        log::register_secret(t);
    }
    log::debug(&format!("AWS credentials from {what}"));
    Ok(Some(Keys {
        access_key_id: id,
        secret: Secret::new(secret),
        session_token: token.map(Secret::new),
        expires: None,
    }))
}

/// CloudTrail collector for one stanza. Clones share the assumed-role keys and the per-region
/// rate limit, and collect different sources concurrently.
#[derive(Clone)]
pub struct AwsCollector<'h> {
    http: &'h HttpClient,
    cfg: AwsConfig,
    /// Long-term keys (`aws_auth = access_key`); `None` with the credential chain.
    base: Option<Keys>,
    /// Keys in use: `base`, or the assumed role's when `role_arn` is set. Shared by the clones
    /// that collect concurrently: one AssumeRole for the whole run.
    current: Arc<Mutex<Option<Keys>>>,
    operations: Vec<String>,
    /// Next free LookupEvents slot per region, shared by the clones (see [`lookup_interval`]).
    next_slot: Arc<Mutex<HashMap<String, Instant>>>,
    budget: Budget,
    set_aside: u64,
}

/// Spacing between LookupEvents calls in one region: the API allows 2 per second per account
/// and region, so 500 ms keeps the input under it instead of leaning on throttling retries.
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
            current: Arc::new(Mutex::new(None)),
            operations: operations.to_vec(),
            next_slot: Arc::new(Mutex::new(HashMap::new())),
            budget,
            set_aside: 0,
        }
    }

    fn keys(&mut self) -> Result<Keys, ModinputError> {
        let slot = self.current.clone();
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
        let base = match &self.base {
            Some(k) => k.clone(),
            None => self.chain_keys()?,
        };
        let keys = match self.cfg.role_arn.clone() {
            None => base,
            Some(arn) => self.assume_role(&arn, &base)?,
        };
        *guard = Some(keys.clone());
        Ok(keys)
    }

    /// The standard AWS credential chain: environment, shared credentials file profile, web
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
        if let Some(keys) = profile_keys()? {
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

    /// Wait for this region's next LookupEvents slot. Slots are reserved under a lock, so the
    /// concurrent clones together stay within the per-account, per-region rate.
    fn wait_for_slot(&self, region: &str) {
        let wait = {
            let mut slots = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = slots.get(region).map_or(now, |t| (*t).max(now));
            slots.insert(
                region.to_string(),
                slot.checked_add(lookup_interval()).unwrap_or(slot),
            );
            slot - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn assume_role(&self, arn: &str, base: &Keys) -> Result<Keys, ModinputError> {
        let url = format!("{}/", self.cfg.sts_url);
        let mut body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=t1651-cloud-audit&DurationSeconds=3600",
            utf8_percent_encode(arn, NON_ALPHANUMERIC)
        );
        if let Some(x) = &self.cfg.external_id {
            body.push_str(&format!(
                "&ExternalId={}",
                utf8_percent_encode(x, NON_ALPHANUMERIC)
            ));
        }
        // The global endpoint signs for us-east-1; a regional one for its own region.
        let region = self
            .cfg
            .sts_url
            .split('.')
            .find(|p| p.contains('-') && p.chars().last().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or("us-east-1")
            .to_string();
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

    fn endpoint(&self, region: &str) -> String {
        let t = &self.cfg.endpoint_template;
        format!("{}/", t.replace("{region}", region))
    }

    /// One LookupEvents call; refreshes assumed-role keys once if AWS says they expired.
    fn lookup(
        &mut self,
        what: &str,
        region: &str,
        body: &str,
    ) -> Result<HttpResponse, ModinputError> {
        let url = self.endpoint(region);
        self.wait_for_slot(region);
        let mut refreshed = false;
        loop {
            let keys = self.keys()?;
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
            let err: Option<AwsErrorBody> = serde_json::from_str(&resp.body).ok();
            let kind = err
                .as_ref()
                .and_then(|e| e.kind.clone())
                .unwrap_or_default();
            let kind = kind.rsplit('#').next().unwrap_or_default().to_string();
            let message = err
                .and_then(|e| e.message)
                .unwrap_or_else(|| excerpt(&resp.body));
            let expired = kind.contains("ExpiredToken") || kind.contains("InvalidClientTokenId");
            if expired && !refreshed && self.cfg.role_arn.is_some() {
                log::info(&format!("{what}: {kind}; assuming the role again"));
                // Drop the refused keys unless another clone already replaced them.
                let mut g = self.current.lock().unwrap_or_else(|p| p.into_inner());
                if g.as_ref()
                    .is_some_and(|k| k.access_key_id == keys.access_key_id)
                {
                    *g = None;
                }
                drop(g);
                refreshed = true;
                continue;
            }
            let reason = format!("HTTP {} {kind}: {}", resp.status, excerpt(&message));
            let bad_keys = kind.contains("UnrecognizedClient")
                || kind.contains("InvalidSignature")
                || kind.contains("IncompleteSignature")
                || expired;
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

impl Collector for AwsCollector<'_> {
    type Source = AwsSource;

    /// Event name major, region minor: concurrent workers start on different regions, whose
    /// rate limits are independent, instead of queueing on one region's.
    fn sources(&mut self) -> Result<Vec<AwsSource>, ModinputError> {
        Ok(self
            .operations
            .iter()
            .flat_map(|e| {
                self.cfg.regions.iter().map(move |r| AwsSource {
                    region: r.clone(),
                    event_name: e.clone(),
                })
            })
            .collect())
    }

    fn key(&self, s: &AwsSource) -> String {
        format!("aws:{}:{}", s.region, s.event_name)
    }

    fn collect(
        &mut self,
        s: &AwsSource,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        emit: &mut Emit<'_>,
    ) -> Result<(), ModinputError> {
        // LookupEvents takes whole seconds; widen to cover the slice (de-duplication absorbs the overlap).
        let start = from.timestamp();
        let end = to.timestamp() + i64::from(to.timestamp_subsec_nanos() > 0);
        let mut next: Option<String> = None;
        let mut pager = self.budget.pager();
        loop {
            let page_no = pager.next_page(
                &format!(
                    "CloudTrail LookupEvents {} in {} ({start} .. {end})",
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
                "CloudTrail LookupEvents {} in {} ({start} .. {end}) page {page_no}",
                s.event_name, s.region
            );
            let mut attempt = 0;
            let page: LookupPage = loop {
                attempt += 1;
                let resp = self.lookup(&what, &s.region, &body)?;
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

    fn set_aside(&self) -> u64 {
        self.set_aside
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
