//! Azure: OAuth2 client credentials → Activity Log REST API.
//!
//! Sources are subscription × resource provider (the Activity Log `$filter` takes one
//! `resourceProvider`); each query also filters on `eventTimestamp` and pages through `nextLink`.
//! The operation filter is applied client-side, case-insensitively, on `operationName.value`.
//! Events are handed over exactly as the API returned them (raw JSON text).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::checkpoint::sha256_hex;
use super::collect::{Budget, Collector, Emit, RawEvent};
use super::config::{metadata_url, AzureAuth, AzureConfig, IMDS_URL};
use super::error::{excerpt, ModinputError};
use super::http::{HttpClient, HttpRequest, HttpResponse};
use super::log;
use super::secret::Secret;
use super::timespec::{iso, parse_api_time};

/// Activity Log API version (the one the Azure portal's "Export" and the MSCS add-on use).
pub const ACTIVITY_LOG_API_VERSION: &str = "2015-04-01";
/// Subscriptions list API version.
pub const SUBSCRIPTIONS_API_VERSION: &str = "2020-01-01";
/// A token is used for at most this long, whatever `expires_in` says (Entra ID issues 60–90 min).
const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;
/// Remaining ARM reads below which requests are spaced out (see [`AzureCollector::pace`]).
const RATELIMIT_LOW: u64 = 20;
/// Token refreshes per request before a 401 is final.
const MAX_TOKEN_REFRESHES: u32 = 3;
/// A page that does not parse is fetched this many times before the slice is given up.
const MALFORMED_ATTEMPTS: u32 = 3;

/// A subscription × resource provider stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSource {
    pub subscription_id: String,
    pub provider: String,
}

/// The resource providers of a list of operation names, first spelling kept, order kept.
pub fn providers_of(operations: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for op in operations {
        let p = op.split('/').next().unwrap_or_default().to_string();
        if seen.insert(p.to_ascii_lowercase()) {
            out.push(p);
        }
    }
    out
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// v2 endpoints send a number, v1 endpoints a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow, default)]
    value: Vec<&'a RawValue>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "eventDataId", default)]
    event_data_id: Option<String>,
    #[serde(rename = "eventTimestamp", default)]
    event_timestamp: Option<String>,
    #[serde(rename = "operationName", default)]
    operation_name: Option<Localizable>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Localizable {
    Object {
        #[serde(default)]
        value: Option<String>,
    },
    Plain(String),
}

#[derive(Deserialize)]
struct SubscriptionList {
    #[serde(default)]
    value: Vec<Subscription>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Subscription {
    #[serde(rename = "subscriptionId")]
    subscription_id: String,
    #[serde(default)]
    state: Option<String>,
}

/// Activity Log collector for one stanza. Clones share the access token and collect
/// different sources concurrently.
#[derive(Clone)]
pub struct AzureCollector<'h> {
    http: &'h HttpClient,
    cfg: AzureConfig,
    /// The client secret (`azure_auth = client_secret`).
    client_secret: Option<Secret>,
    /// Shared by the clones that collect concurrently: one token for the whole run.
    token: Arc<Mutex<Option<(Secret, Instant)>>>,
    operations: HashSet<String>,
    providers: Vec<String>,
    budget: Budget,
    set_aside: u64,
    /// The slow-down WARN was given (shared by the clones).
    rate_warned: Arc<std::sync::atomic::AtomicBool>,
}

impl<'h> AzureCollector<'h> {
    pub fn new(
        http: &'h HttpClient,
        cfg: AzureConfig,
        client_secret: Option<Secret>,
        operations: &[String],
        budget: Budget,
    ) -> Self {
        AzureCollector {
            http,
            cfg,
            client_secret,
            token: Arc::new(Mutex::new(None)),
            operations: operations.iter().map(|o| o.to_ascii_lowercase()).collect(),
            providers: providers_of(operations),
            budget,
            set_aside: 0,
            rate_warned: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// A valid access token, fetched when missing or about to expire (one fetch at a time
    /// across the concurrent clones: the others wait for it).
    fn token(&mut self) -> Result<Secret, ModinputError> {
        let slot = self.token.clone();
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, exp)) = &*guard {
            let soon = Instant::now().checked_add(StdDuration::from_secs(60));
            if soon.is_some_and(|s| s < *exp) {
                return Ok(t.clone());
            }
        }
        let (what, resp) = self.request_token()?;
        if resp.status != 200 {
            let detail = serde_json::from_str::<ErrorBody>(&resp.body)
                .ok()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.error.map(|v| v.to_string()).unwrap_or_default(),
                        e.error_description.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| excerpt(&resp.body));
            return Err(ModinputError::Auth {
                what,
                reason: format!("HTTP {}: {}", resp.status, excerpt(&detail)),
            });
        }
        let tr: TokenResponse =
            serde_json::from_str(&resp.body).map_err(|e| ModinputError::Malformed {
                what: what.clone(),
                reason: e.to_string(),
            })?;
        // A remote value: any u64 (or none) must neither panic nor keep a token forever.
        let secs = match tr.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3600),
            Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(3600),
            _ => 3600,
        }
        .min(MAX_TOKEN_LIFETIME_SECS);
        log::register_secret(&tr.access_token);
        let token = Secret::new(tr.access_token);
        let now = Instant::now();
        let expires = now.checked_add(StdDuration::from_secs(secs)).unwrap_or(now);
        *guard = Some((token.clone(), expires));
        log::debug(&format!("{what}: new token valid for {secs}s"));
        Ok(token)
    }

    /// Ask for a token the configured way: client secret or federated token at the authority,
    /// or the managed identity at the instance metadata service.
    fn request_token(&self) -> Result<(String, HttpResponse), ModinputError> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let audience = self.cfg.environment.management_url();
        if self.cfg.auth == AzureAuth::ManagedIdentity {
            let base = metadata_url("T1651_MODINPUT_IMDS_URL", IMDS_URL);
            let mut url = format!(
                "{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
                enc(&format!("{audience}/"))
            );
            if !self.cfg.client_id.is_empty() {
                url.push_str(&format!("&client_id={}", enc(&self.cfg.client_id)));
            }
            let what = if self.cfg.client_id.is_empty() {
                "Azure managed identity token (system-assigned)".to_string()
            } else {
                format!(
                    "Azure managed identity token (client {})",
                    self.cfg.client_id
                )
            };
            let resp = self.http.send(&what, || {
                Ok(HttpRequest::get(url.clone()).header("Metadata", "true"))
            })?;
            return Ok((what, resp));
        }
        // tenant_id was validated as a GUID or a domain name: safe in a path as it is.
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.cfg.authority_url, self.cfg.tenant_id
        );
        let scope = format!("{audience}/.default");
        let proof = match self.cfg.auth {
            AzureAuth::WorkloadIdentity => {
                let what = "Azure workload identity (AZURE_FEDERATED_TOKEN_FILE)";
                let path = std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").ok_or_else(|| {
                    ModinputError::Auth {
                        what: what.into(),
                        reason: "AZURE_FEDERATED_TOKEN_FILE is not set in splunkd's environment"
                            .into(),
                    }
                })?;
                // Re-read every time: the platform rotates the file.
                let assertion =
                    std::fs::read_to_string(&path).map_err(|e| ModinputError::Auth {
                        what: what.into(),
                        reason: format!(
                            "cannot read {}: {e}",
                            std::path::Path::new(&path).display()
                        ),
                    })?;
                let assertion = assertion.trim().to_string();
                log::register_secret(&assertion);
                format!(
                    "client_assertion_type={}&client_assertion={}",
                    enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    enc(&assertion)
                )
            }
            AzureAuth::ClientCertificate => {
                let pem = self
                    .client_secret
                    .as_ref()
                    .ok_or_else(|| ModinputError::Auth {
                        what: "Azure client certificate".into(),
                        reason: "no credential configured".into(),
                    })?;
                let assertion = client_assertion(pem, &self.cfg.client_id, &url)?;
                log::register_secret(&assertion);
                format!(
                    "client_assertion_type={}&client_assertion={}",
                    enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    enc(&assertion)
                )
            }
            _ => {
                let secret = self
                    .client_secret
                    .as_ref()
                    .ok_or_else(|| ModinputError::Auth {
                        what: "Azure client secret".into(),
                        reason: "no credential configured".into(),
                    })?;
                format!("client_secret={}", enc(secret.expose()))
            }
        };
        let body = format!(
            "grant_type=client_credentials&client_id={}&{proof}&scope={}",
            enc(&self.cfg.client_id),
            enc(&scope)
        );
        let what = format!(
            "Azure token for client {} in tenant {}",
            self.cfg.client_id, self.cfg.tenant_id
        );
        let resp = self.http.send(&what, || {
            Ok(HttpRequest::post(url.clone(), body.clone().into_bytes())
                .header("Content-Type", "application/x-www-form-urlencoded"))
        })?;
        Ok((what, resp))
    }

    /// Slow down when ARM says few reads remain: below [`RATELIMIT_LOW`] remaining reads, wait
    /// 100 ms per read short of it (at most 2 s) before the next request, so the workers
    /// together drift towards the regeneration rate instead of into 429s.
    fn pace(&self, what: &str, remaining: Option<u64>) {
        let Some(r) = remaining.filter(|r| *r < RATELIMIT_LOW) else {
            return;
        };
        let wait = StdDuration::from_millis((RATELIMIT_LOW - r) * 100);
        if !self
            .rate_warned
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            log::warn(&format!(
                "{what}: Azure Resource Manager reports {r} reads remaining (x-ms-ratelimit-remaining-*); slowing down (this WARN is given once per run)"
            ));
        }
        std::thread::sleep(wait);
    }

    /// GET an ARM URL with the bearer token; one token refresh on 401.
    fn arm_get(&mut self, what: &str, url: &str) -> Result<String, ModinputError> {
        self.check_same_origin(what, url)?;
        // Refreshes this request caused, and 401s in all: a 401 for a token another worker
        // has already replaced costs no refresh (the retry uses the new token), but the
        // request still gives up after a bounded number of 401s.
        let mut refreshes = 0u32;
        let mut refused = 0u32;
        loop {
            let token = self.token()?;
            let resp = self.http.send(what, || {
                Ok(HttpRequest::get(url.to_string())
                    .header("Authorization", &format!("Bearer {}", token.expose()))
                    .header("Accept", "application/json"))
            })?;
            match resp.status {
                200 => {
                    self.pace(what, resp.ratelimit_remaining);
                    return Ok(resp.body);
                }
                401 if refreshes < MAX_TOKEN_REFRESHES && refused < 4 * MAX_TOKEN_REFRESHES => {
                    log::info(&format!("{what}: access token refused (HTTP 401); getting a new one"));
                    refused += 1;
                    // Drop the refused token unless another clone already replaced it.
                    let mut g = self.token.lock().unwrap_or_else(|p| p.into_inner());
                    if g.as_ref().is_some_and(|(t, _)| t.expose() == token.expose()) {
                        *g = None;
                        refreshes += 1;
                    }
                }
                401 | 403 => {
                    return Err(ModinputError::Forbidden {
                        what: what.to_string(),
                        reason: format!(
                            "HTTP {} (the app registration needs the Reader role on the subscription): {}",
                            resp.status,
                            excerpt(&resp.body)
                        ),
                    })
                }
                s => {
                    return Err(ModinputError::Http {
                        what: what.to_string(),
                        reason: format!("HTTP {s}: {}", excerpt(&resp.body)),
                    })
                }
            }
        }
    }

    /// `nextLink`s must point at the configured management host: the bearer token goes there.
    fn check_same_origin(&self, what: &str, url: &str) -> Result<(), ModinputError> {
        same_origin(url, &self.cfg.management_url, what)
    }
}

/// The RS256 client assertion of certificate authentication (Microsoft identity platform
/// "certificate credentials"): header `{alg: RS256, typ: JWT, x5t#S256: base64url(SHA-256 of
/// the certificate DER)}`, claims `aud` (the token endpoint), `iss` = `sub` = client id, a
/// random `jti`, `nbf`/`iat` now, `exp` in 10 minutes; signed with ring. `pem` holds the
/// certificate and its RSA private key (PKCS#8 or PKCS#1). Errors never quote the PEM.
pub fn client_assertion(
    pem: &Secret,
    client_id: &str,
    audience: &str,
) -> Result<String, ModinputError> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use ring::rand::{SecureRandom, SystemRandom};
    use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    use sha2::{Digest, Sha256};
    let bad = |reason: &str| ModinputError::Auth {
        what: "Azure client certificate (the credential)".into(),
        reason: reason.to_string(),
    };
    let mut cert: Option<Vec<u8>> = None;
    let mut key: Option<RsaKeyPair> = None;
    for item in ureq::tls::parse_pem(pem.expose().as_bytes()) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) if cert.is_none() => {
                cert = Some(c.der().to_vec())
            }
            Ok(ureq::tls::PemItem::PrivateKey(k)) if key.is_none() => {
                // PKCS#8, else PKCS#1 (`RSA PRIVATE KEY`); anything else is not an RSA key.
                let pair =
                    RsaKeyPair::from_pkcs8(k.der()).or_else(|_| RsaKeyPair::from_der(k.der()));
                key = Some(pair.map_err(|_| {
                    bad("the private key is not a usable RSA key (PKCS#8 or PKCS#1, 2048 bits or more)")
                })?);
            }
            Ok(_) => {}
            Err(_) => return Err(bad("is not valid PEM")),
        }
    }
    let cert = cert.ok_or_else(|| bad("holds no -----BEGIN CERTIFICATE----- block"))?;
    let key =
        key.ok_or_else(|| bad("holds no -----BEGIN PRIVATE KEY----- (or RSA PRIVATE KEY) block"))?;
    let rng = SystemRandom::new();
    let mut jti = [0u8; 16];
    rng.fill(&mut jti)
        .map_err(|_| bad("no randomness for the assertion id"))?;
    let now = Utc::now().timestamp();
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let header =
        serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": b64(&Sha256::digest(&cert))});
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "nbf": now,
        "iat": now,
        "exp": now.saturating_add(600),
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
        .map_err(|_| bad("signing the assertion failed"))?;
    Ok(format!("{input}.{}", b64(&sig)))
}

/// `scheme://host:port` with the scheme's default port made explicit, so that
/// `https://management.azure.com:443/…` and `https://management.azure.com/…` are one origin.
/// User information (`user@host`) is never part of an accepted origin.
pub fn origin(u: &str) -> Option<String> {
    let uri: ureq::http::Uri = u.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let port = authority.port_u16().unwrap_or(match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    });
    Some(format!(
        "{scheme}://{}:{port}",
        authority.host().to_ascii_lowercase()
    ))
}

/// `Ok` when `url` has the origin of `management_url` (see [`origin`]).
pub fn same_origin(url: &str, management_url: &str, what: &str) -> Result<(), ModinputError> {
    match (origin(url), origin(management_url)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        _ => Err(ModinputError::Malformed {
            what: what.to_string(),
            reason: format!(
                "link `{}` does not point at {}; not following it",
                excerpt(url),
                management_url
            ),
        }),
    }
}

impl AzureCollector<'_> {
    fn list_subscriptions(&mut self) -> Result<Vec<String>, ModinputError> {
        let mut url = Some(format!(
            "{}/subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}",
            self.cfg.management_url
        ));
        let mut subs = Vec::new();
        let mut pager = self.budget.pager();
        let mut first = true;
        while let Some(u) = url.take() {
            pager.next_page("Azure subscription list", (!first).then_some(u.as_str()))?;
            first = false;
            let body = self.arm_get("Azure subscription list", &u)?;
            let list: SubscriptionList =
                serde_json::from_str(&body).map_err(|e| ModinputError::Malformed {
                    what: "Azure subscription list".into(),
                    reason: e.to_string(),
                })?;
            for s in list.value {
                match s.state.as_deref() {
                    Some("Disabled") | Some("Deleted") => log::info(&format!(
                        "subscription {} is {}; skipped",
                        s.subscription_id,
                        s.state.unwrap_or_default()
                    )),
                    _ => subs.push(s.subscription_id),
                }
            }
            url = list.next_link.filter(|l| !l.is_empty());
        }
        if subs.is_empty() {
            log::warn("the app registration can read no subscription: give it the Reader role on the subscriptions to collect, or set subscription_ids");
        }
        Ok(subs)
    }
}

impl Collector for AzureCollector<'_> {
    type Source = AzureSource;

    fn sources(&mut self) -> Result<Vec<AzureSource>, ModinputError> {
        let subs = if self.cfg.subscription_ids.is_empty() {
            self.list_subscriptions()?
        } else {
            self.cfg.subscription_ids.clone()
        };
        Ok(subs
            .iter()
            .flat_map(|s| {
                self.providers.iter().map(move |p| AzureSource {
                    subscription_id: s.to_ascii_lowercase(),
                    provider: p.clone(),
                })
            })
            .collect())
    }

    fn key(&self, s: &AzureSource) -> String {
        format!(
            "azure:{}:{}",
            s.subscription_id,
            s.provider.to_ascii_lowercase()
        )
    }

    fn collect(
        &mut self,
        s: &AzureSource,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        emit: &mut Emit<'_>,
    ) -> Result<(), ModinputError> {
        let filter = format!(
            "eventTimestamp ge '{}' and eventTimestamp le '{}' and resourceProvider eq '{}'",
            iso(from),
            iso(to),
            s.provider
        );
        let mut url = Some(format!(
            "{}/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values?api-version={ACTIVITY_LOG_API_VERSION}&$filter={}",
            self.cfg.management_url,
            s.subscription_id,
            utf8_percent_encode(&filter, NON_ALPHANUMERIC)
        ));
        let mut pager = self.budget.pager();
        let mut first = true;
        while let Some(u) = url.take() {
            let page_no = pager.next_page(
                &format!(
                    "Activity Log of subscription {} provider {} ({} .. {})",
                    s.subscription_id,
                    s.provider,
                    iso(from),
                    iso(to)
                ),
                (!first).then_some(u.as_str()),
            )?;
            first = false;
            let what = format!(
                "Activity Log of subscription {} provider {} ({} .. {}) page {page_no}",
                s.subscription_id,
                s.provider,
                iso(from),
                iso(to)
            );
            let mut attempt = 0;
            let body = loop {
                attempt += 1;
                let body = self.arm_get(&what, &u)?;
                match serde_json::from_str::<Page<'_>>(&body) {
                    Ok(_) => break body,
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
            let page: Page<'_> =
                serde_json::from_str(&body).map_err(|e| ModinputError::Malformed {
                    what: what.clone(),
                    reason: e.to_string(),
                })?;
            for (pos, raw) in page.value.iter().enumerate() {
                let text = raw.get();
                let meta: Meta = match serde_json::from_str(text) {
                    Ok(m) => m,
                    Err(e) => {
                        self.set_aside += 1;
                        log::warn(&format!(
                            "{what}: element {pos} ({}) set aside, it is not an Activity Log event: {e}; the rest of the page is delivered",
                            element_id(text, "eventDataId")
                        ));
                        continue;
                    }
                };
                let op = match &meta.operation_name {
                    Some(Localizable::Object { value: Some(v) }) => v.as_str(),
                    Some(Localizable::Plain(v)) => v.as_str(),
                    _ => "",
                };
                if !self.operations.contains(&op.to_ascii_lowercase()) {
                    continue;
                }
                let id = meta
                    .event_data_id
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| format!("sha256:{}", sha256_hex(text.as_bytes())));
                emit(RawEvent {
                    id,
                    time: meta.event_timestamp.as_deref().and_then(parse_api_time),
                    data: text,
                })?;
            }
            url = page.next_link.filter(|l| !l.is_empty());
        }
        Ok(())
    }

    fn set_aside(&self) -> u64 {
        self.set_aside
    }
}

/// `eventDataId 1234…` of an element that failed to parse as an event, or `no eventDataId`.
pub fn element_id(text: &str, field: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get(field)?.as_str().map(excerpt))
        .map(|id| format!("{field} {id}"))
        .unwrap_or_else(|| format!("no {field}"))
}
