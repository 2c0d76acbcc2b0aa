//! Blocking HTTP for the cloud APIs and splunkd: endpoint policy, TLS roots, proxy, retries.
//!
//! Policy: HTTPS only, except endpoints on loopback (127.0.0.0/8, ::1, localhost), which may use
//! plain HTTP (tests and local emulators). No redirects are followed, so a bearer token or a
//! signature can never travel to a host the configuration did not name.
//!
//! Retries ([`RetryPolicy`]): 429 and 503 wait for `Retry-After` (seconds or HTTP date, capped);
//! other 5xx, AWS throttling errors, timeouts and connection failures back off exponentially
//! with jitter, capped. Everything else is returned to the caller, which knows what a 401 or a
//! 400 means for its API.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use ureq::http::{Request, Uri};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Proxy, ProxyProtocol};

use super::error::{excerpt, ModinputError};
use super::log;

/// True when `host` (as written in a URL, IPv6 possibly in brackets) is a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The link-local instance metadata endpoints (Azure IMDS, AWS IMDS IPv4/IPv6, ECS): plain
/// HTTP by design, reachable only from the machine itself.
pub fn is_metadata_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    matches!(h, "169.254.169.254" | "169.254.170.2" | "fd00:ec2::254")
}

/// Check a configured endpoint URL against the policy; the message says what is expected.
pub fn check_endpoint(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("`{url}` is not a URL; expected https://host[:port][/path]"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("`{url}` has no host; expected https://host[:port][/path]"))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback_host(host) || is_metadata_host(host) => Ok(()),
        _ => Err(format!(
            "`{url}` must use https:// (plain http:// is allowed only on loopback)"
        )),
    }
}

/// Load a PEM CA bundle; it must hold at least one certificate.
pub fn load_ca_bundle(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read `{}`: {e}; expected a readable PEM file",
            path.display()
        )
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("`{}` is not valid PEM: {e}", path.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "`{}` holds no certificate; expected PEM blocks -----BEGIN CERTIFICATE-----",
            path.display()
        ));
    }
    Ok(certs)
}

/// How retries back off. The base can be lowered with `T1651_MODINPUT_BACKOFF_MS` (tests).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total, including the first.
    pub max_attempts: u32,
    /// First backoff; doubled each retry.
    pub base: Duration,
    /// Longest single backoff.
    pub cap: Duration,
    /// Longest `Retry-After` honoured; a longer one gives up instead of blocking the input.
    pub max_retry_after: Duration,
    /// Per-request time limit (connect + send + receive). `T1651_MODINPUT_TIMEOUT_MS` overrides it.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default policy with the internal environment overrides applied.
    pub fn from_env() -> Self {
        let mut p = RetryPolicy::default();
        let ms = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        if let Some(b) = ms("T1651_MODINPUT_BACKOFF_MS") {
            p.base = b;
            p.cap = p.cap.min(b * 64);
        }
        if let Some(t) = ms("T1651_MODINPUT_TIMEOUT_MS") {
            p.timeout = t;
        }
        p
    }

    /// Backoff before retry number `retry` (1-based): base·2^(retry-1), capped, with jitter in [½, 1].
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let d = exp.min(self.cap);
        d.mul_f64(0.5 + 0.5 * jitter_unit())
    }
}

/// A uniform number in [0, 1) from the standard library's randomly keyed hasher (no extra crate
/// for something that needs no cryptographic quality).
fn jitter_unit() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A request to send; built afresh for every attempt (signatures and tokens may change).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET",
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn post(url: impl Into<String>, body: Vec<u8>) -> Self {
        HttpRequest {
            method: "POST",
            url: url.into(),
            headers: Vec::new(),
            body,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// A response whose status the retry layer did not handle.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
    /// The lowest `x-ms-ratelimit-remaining-*-reads` header value (Azure Resource Manager's
    /// remaining read budget of the subscription or tenant), if any.
    pub ratelimit_remaining: Option<u64>,
}

/// Largest response body read (an Activity Log page is well under 1 MiB).
const BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// HTTP client with the TLS/proxy settings of one stanza.
pub struct HttpClient {
    remote: Agent,
    loopback: Agent,
    /// The proxy of `remote`, if any (for [`HttpClient::goes_through_proxy`]).
    proxy: Option<Proxy>,
    retry: RetryPolicy,
}

/// Why one attempt failed.
enum Attempt {
    Done(HttpResponse),
    Retry {
        wait: Option<Duration>,
        reason: String,
        /// The status and body when a response arrived (for [`HttpClient::send_once`]).
        status: Option<u16>,
        body: String,
    },
}

/// The roots trusted for the cloud APIs: Mozilla's (the same list ureq uses by default), plus
/// the certificates of `ca_bundle` when set. The bundle adds to the built-in roots; it never
/// replaces them.
pub fn root_certs(ca_bundle: Option<&Path>) -> Result<Vec<Certificate<'static>>, ModinputError> {
    let mut certs: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    if let Some(p) = ca_bundle {
        certs.extend(load_ca_bundle(p).map_err(|m| ModinputError::param("ca_bundle", m))?);
    }
    Ok(certs)
}

/// TLS settings: the built-in roots, plus `ca_bundle` when set.
fn tls_config(ca_bundle: Option<&Path>) -> Result<TlsConfig, ModinputError> {
    Ok(match ca_bundle {
        None => TlsConfig::builder().build(),
        Some(_) => TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&root_certs(ca_bundle)?))
            .build(),
    })
}

/// The `proxy` setting as a ureq proxy that skips the hosts of `no_proxy` (the `NO_PROXY`
/// syntax: comma-separated hosts, `.suffix` / `*.suffix`, `*`). The message never repeats the
/// URL (it may carry a password).
pub fn build_proxy(url: &str, no_proxy: Option<&str>) -> Result<Proxy, String> {
    let bad = |why: &str| format!("not a usable proxy URL ({why}); expected http://host:port");
    let uri: Uri = url.parse().map_err(|_| bad("does not parse"))?;
    let protocol = ProxyProtocol::try_from(uri.scheme_str().unwrap_or("http"))
        .map_err(|_| bad("unsupported scheme"))?;
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    let mut b = Proxy::builder(protocol).host(authority.host());
    if let Some(port) = authority.port_u16() {
        b = b.port(port);
    }
    if let Some((userinfo, _)) = authority.as_str().rsplit_once('@') {
        let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (user, pass) = match userinfo.split_once(':') {
            Some((u, p)) => (dec(u), Some(dec(p))),
            None => (dec(userinfo), None),
        };
        b = b.username(&user);
        if let Some(p) = pass {
            log::register_secret(&p);
            b = b.password(&p);
        }
    }
    for entry in no_proxy.unwrap_or("").split(',') {
        let entry = entry.trim();
        if !entry.is_empty() {
            b = b.no_proxy(entry);
        }
    }
    b.build().map_err(|e| bad(&e.to_string()))
}

/// `NO_PROXY` (or `no_proxy`) from the environment.
pub fn no_proxy_from_env() -> Option<String> {
    std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .ok()
}

impl HttpClient {
    /// A client for the cloud APIs: `proxy` (else the usual proxy environment variables) for
    /// remote hosts except those of `no_proxy`, never for loopback; `ca_bundle` adds to the
    /// built-in Mozilla roots.
    pub fn new(
        proxy: Option<&str>,
        ca_bundle: Option<&Path>,
        retry: RetryPolicy,
        no_proxy: Option<&str>,
    ) -> Result<Self, ModinputError> {
        let tls = tls_config(ca_bundle)?;
        let proxy = match proxy {
            Some(p) => {
                Some(build_proxy(p, no_proxy).map_err(|m| ModinputError::param("proxy", m))?)
            }
            None => Proxy::try_from_env(),
        };
        Ok(HttpClient {
            remote: agent(tls.clone(), proxy.clone(), retry.timeout),
            loopback: agent(tls, None, retry.timeout),
            proxy,
            retry,
        })
    }

    /// Whether a request to `url` goes through the proxy (loopback never does; NO_PROXY hosts don't).
    pub fn goes_through_proxy(&self, url: &str) -> bool {
        let Ok(uri) = url.parse::<Uri>() else {
            return false;
        };
        if uri
            .host()
            .is_none_or(|h| is_loopback_host(h) || is_metadata_host(h))
        {
            return false;
        }
        self.proxy.as_ref().is_some_and(|p| !p.is_no_proxy(&uri))
    }

    /// A client for splunkd's REST API, never through a proxy. splunkd on loopback serves a
    /// self-signed certificate by default and the traffic never leaves the host, so verification
    /// is off there (as in Splunk's own SDKs); a remote splunkd is verified against `ca_bundle`
    /// or the built-in roots.
    pub fn for_splunkd(
        ca_bundle: Option<&Path>,
        retry: RetryPolicy,
    ) -> Result<Self, ModinputError> {
        let loopback_tls = TlsConfig::builder().disable_verification(true).build();
        Ok(HttpClient {
            remote: agent(tls_config(ca_bundle)?, None, retry.timeout),
            loopback: agent(loopback_tls, None, retry.timeout),
            proxy: None,
            retry,
        })
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Send a request once, without retries: `Ok` with whatever status came back (including
    /// 5xx and 429), `Err` only when no response arrived.
    pub fn send_once(&self, what: &str, req: HttpRequest) -> Result<HttpResponse, ModinputError> {
        check_endpoint(&req.url).map_err(|reason| ModinputError::Http {
            what: what.to_string(),
            reason,
        })?;
        match self.attempt(&req) {
            Attempt::Done(r) => Ok(r),
            Attempt::Retry {
                status: Some(status),
                body,
                ..
            } => Ok(HttpResponse {
                status,
                body,
                ratelimit_remaining: None,
            }),
            Attempt::Retry { reason, .. } => Err(ModinputError::Http {
                what: what.to_string(),
                reason,
            }),
        }
    }

    /// Send a request, retrying transient failures. `make` builds the request for each attempt.
    /// `what` names the call in log lines and errors (it must not contain secrets).
    pub fn send(
        &self,
        what: &str,
        mut make: impl FnMut() -> Result<HttpRequest, ModinputError>,
    ) -> Result<HttpResponse, ModinputError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = make()?;
            check_endpoint(&req.url).map_err(|reason| ModinputError::Http {
                what: what.to_string(),
                reason,
            })?;
            let (wait, reason) = match self.attempt(&req) {
                Attempt::Done(r) => return Ok(r),
                Attempt::Retry { wait, reason, .. } => (wait, reason),
            };
            if attempt >= self.retry.max_attempts {
                return Err(ModinputError::Http {
                    what: what.to_string(),
                    reason: format!("giving up after {attempt} attempts; last: {reason}"),
                });
            }
            let wait = match wait {
                Some(w) if w > self.retry.max_retry_after => {
                    return Err(ModinputError::Http {
                        what: what.to_string(),
                        reason: format!(
                            "{reason}; Retry-After of {}s exceeds the {}s limit",
                            w.as_secs(),
                            self.retry.max_retry_after.as_secs()
                        ),
                    })
                }
                Some(w) => w,
                None => self.retry.backoff(attempt),
            };
            log::warn(&format!(
                "{what}: {reason}; retry {attempt} of {} in {} ms",
                self.retry.max_attempts - 1,
                wait.as_millis()
            ));
            std::thread::sleep(wait);
        }
    }

    fn attempt(&self, req: &HttpRequest) -> Attempt {
        let uri: Uri = match req.url.parse() {
            Ok(u) => u,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    reason: format!("bad URL: {e}"),
                    status: None,
                    body: String::new(),
                }
            }
        };
        let agent = if uri
            .host()
            .is_some_and(|h| is_loopback_host(h) || is_metadata_host(h))
        {
            &self.loopback
        } else {
            &self.remote
        };
        let mut b = Request::builder().method(req.method).uri(uri);
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let request = match b.body(req.body.clone()) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    reason: format!("cannot build request: {e}"),
                    status: None,
                    body: String::new(),
                }
            }
        };
        let mut resp = match agent.run(request) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    reason: transport_reason(&e),
                    status: None,
                    body: String::new(),
                }
            }
        };
        let status = resp.status().as_u16();
        let ratelimit_remaining = resp
            .headers()
            .iter()
            .filter(|(k, _)| {
                let k = k.as_str();
                k.starts_with("x-ms-ratelimit-remaining-") && k.ends_with("-reads")
            })
            .filter_map(|(_, v)| v.to_str().ok()?.trim().parse::<u64>().ok())
            .min();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = match resp
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
        {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    reason: format!(
                        "HTTP {status}, reading the body failed: {}",
                        transport_reason(&e)
                    ),
                    status: None,
                    body: String::new(),
                }
            }
        };
        match status {
            429 | 503 => Attempt::Retry {
                wait: retry_after,
                reason: format!("HTTP {status} {}", excerpt(&body)),
                status: Some(status),
                body,
            },
            500..=599 => Attempt::Retry {
                wait: None,
                reason: format!("HTTP {status} {}", excerpt(&body)),
                status: Some(status),
                body,
            },
            400 if is_throttling(&body) => Attempt::Retry {
                wait: retry_after,
                reason: format!("HTTP 400 throttled {}", excerpt(&body)),
                status: Some(status),
                body,
            },
            _ => Attempt::Done(HttpResponse {
                status,
                body,
                ratelimit_remaining,
            }),
        }
    }
}

fn agent(tls: TlsConfig, proxy: Option<Proxy>, timeout: Duration) -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls)
        .proxy(proxy)
        .timeout_global(Some(timeout))
        .user_agent(concat!("t1651_cloud_audit/", env!("CARGO_PKG_VERSION")))
        .build();
    Agent::new_with_config(config)
}

fn transport_reason(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t:?})"),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

/// AWS JSON APIs signal throttling with HTTP 400 and an error code.
fn is_throttling(body: &str) -> bool {
    [
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    ]
    .iter()
    .any(|c| body.contains(c))
}

/// `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (when.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_policy() {
        assert!(check_endpoint("https://management.azure.com").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(check_endpoint("http://127.9.9.9:8080/x").is_ok());
        assert!(check_endpoint("http://[::1]:8080").is_ok());
        assert!(check_endpoint("http://localhost:1").is_ok());
        assert!(check_endpoint("http://management.azure.com").is_err());
        assert!(check_endpoint("http://10.0.0.1").is_err());
        assert!(check_endpoint("ftp://127.0.0.1").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    /// `ca_bundle` adds to the built-in roots (it used to replace them, so every public
    /// endpoint failed once a bundle for a TLS-inspecting proxy was configured).
    #[test]
    fn ca_bundle_adds_to_the_built_in_roots() {
        let builtin = root_certs(None).unwrap();
        assert!(builtin.len() > 100, "Mozilla roots: {}", builtin.len());
        let bundle =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modinput_support/tls/ca.pem");
        let with = root_certs(Some(&bundle)).unwrap();
        assert_eq!(with.len(), builtin.len() + 1);
        assert!(with[..builtin.len()]
            .iter()
            .zip(&builtin)
            .all(|(a, b)| a.der() == b.der()));
    }

    /// `proxy` honours NO_PROXY (it used to send every host through the proxy).
    #[test]
    fn proxy_skips_no_proxy_hosts_and_loopback() {
        let retry = RetryPolicy::default();
        let c = HttpClient::new(
            Some("http://user:pa%3Ass@proxy.example.com:3128"),
            None,
            retry,
            Some("login.microsoftonline.com, .internal.example"),
        )
        .unwrap();
        assert!(c.goes_through_proxy("https://management.azure.com/subscriptions"));
        assert!(!c.goes_through_proxy("https://login.microsoftonline.com/t/oauth2/v2.0/token"));
        assert!(!c.goes_through_proxy("https://api.internal.example/x"));
        assert!(!c.goes_through_proxy("http://127.0.0.1:8089/services"));
        let p = build_proxy("http://user:pa%3Ass@proxy.example.com:3128", None).unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.example.com", 3128));
        assert_eq!((p.username(), p.password()), (Some("user"), Some("pa:ss")));
        let e = build_proxy("http://user:hunter2secret@", None).unwrap_err();
        assert!(!e.contains("hunter2secret"), "{e}");
        let direct = HttpClient::new(None, None, retry, None).unwrap();
        assert_eq!(
            direct.goes_through_proxy("https://management.azure.com/"),
            Proxy::try_from_env().is_some()
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for retry in 1..20 {
            let d = p.backoff(retry);
            let full = (Duration::from_millis(100) * (1 << (retry - 1).min(16))).min(p.cap);
            assert!(d <= full && d >= full / 2, "{retry}: {d:?}");
        }
    }
}
