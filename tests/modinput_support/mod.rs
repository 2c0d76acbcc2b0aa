//! Test support for the modular input: loopback emulators of splunkd's storage/passwords, the
//! Azure token endpoint and Activity Log API, AWS STS and CloudTrail LookupEvents, plus helpers
//! that run the `t1651_cloud_audit` binary and parse its event stream.
//!
//! The emulators follow the documented wire formats (paths, query parameters, headers, JSON and
//! XML bodies, paging tokens) and check credentials: bearer tokens, the Splunk session key and
//! SigV4 signatures (recomputed with the same `aws-sigv4` crate from the emulator's copy of the
//! secret key). Faults (status codes, Retry-After, truncated bodies, token expiry) are queued per
//! data request.
//!
//! AWS accounts: the long-term key belongs to [`MGMT_ACCOUNT`]; every STS session belongs to
//! the account of the role it was issued for, and LookupEvents returns only the records whose
//! `recipientAccountId` is the caller's account. Organizations `ListAccounts` (management
//! account only) serves [`Emu::org_accounts`]; EC2 `DescribeRegions` serves the caller
//! account's regions ([`Emu::account_regions`], else [`Emu::default_regions`]), honouring
//! `AllRegions`. Every call checks its SigV4 scope (service and region) and its action.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
pub mod fixtures;

use fixtures::azure_time;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_t1651_cloud_audit");

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
pub const CLIENT_SECRET: &str = "AzSecret~Qz8.kP2-VERY-SECRET-value_1";
pub const SESSION_KEY: &str = "SplunkSessionKey-9f8e7d6c5b4a-SECRET";
pub const AWS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-SECRET-KEY";
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/t1651-reader";
/// The account of [`AWS_KEY_ID`] and [`ROLE_ARN`]: the organization's management account.
pub const MGMT_ACCOUNT: &str = "123456789012";
/// The 17 regions enabled by default (no opt-in needed).
pub const DEFAULT_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];
pub const SUB_A: &str = "11111111-2222-4333-8444-555555555555";
pub const SUB_B: &str = "66666666-7777-4888-9999-aaaaaaaaaaaa";
pub const CREDENTIAL: &str = "t1651:prod-reader:";
/// Tokens of the metadata/federation flows (secrets: never in a log line).
pub const WEB_IDENTITY_TOKEN: &str = "eyJraWQiOiJ3ZWItaWRlbnRpdHktU0VDUkVUIn0.irsa";
pub const FEDERATED_TOKEN: &str = "eyJraWQiOiJmZWRlcmF0ZWQtU0VDUkVUIn0.aks";
pub const IMDS_SESSION: &str = "imds-session-SECRET-AQAEAKs";
pub const INSTANCE_ROLE: &str = "t1651-instance-role";
/// The app the input belongs to (its storage/passwords namespace).
pub const APP: &str = "t1651_cloud_admin_command";
/// Another app on the same search head, with a secret of its own that must never be read.
pub const OTHER_APP: &str = "other_app";
pub const OTHER_APP_SECRET: &str = "other-app-SECRET-must-never-leave";

/// One HTTP request as the emulator saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path and query, raw.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request was read.
    pub at: std::time::Instant,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    /// Percent-decoded query parameters.
    pub fn query(&self) -> HashMap<String, String> {
        let q = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_decode(q)
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn form_decode(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(status: u16, v: &Value) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }
    pub fn text(status: u16, content_type: &str, body: &str) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

fn read_request<S: Read>(stream: &mut S) -> Option<Req> {
    // The client waits for the response, so nothing past this request is buffered away.
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Req {
        method,
        target,
        headers,
        body,
        at: std::time::Instant::now(),
    })
}

fn write_response<S: Write>(stream: &mut S, resp: &Resp) {
    let reason = match resp.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", resp.status);
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&resp.body);
    let _ = stream.flush();
}

/// A fault applied to the next data request (Activity Log page or LookupEvents call).
#[derive(Debug, Clone)]
pub enum Fault {
    /// No fault: serve normally (lets a test aim a later fault at the n-th request).
    Pass,
    /// Answer with this status and a small error body.
    Status(u16),
    /// 429 (Azure) / ThrottlingException (AWS) with `Retry-After: secs`.
    RetryAfter(u64),
    /// Serve the page cut in the middle of its JSON.
    Truncate,
    /// Treat the presented token as expired (Azure 401 / AWS ExpiredTokenException).
    Expire,
    /// Answer only after this long (longer than the client's timeout: a timed-out request).
    Hang(Duration),
}

/// All emulated services' state.
pub struct Emu {
    pub base_url: String,
    // splunkd
    pub session_key: String,
    /// (entry name, realm, username, clear_password, owning app)
    pub passwords: Vec<(String, String, String, String, String)>,
    // Azure
    pub client_secret: String,
    pub subscriptions: Vec<String>,
    /// (subscription, event) — the whole Activity Log.
    pub azure_events: Vec<(String, Value)>,
    pub azure_page_size: usize,
    /// Subscriptions on which the principal has no role (403 AuthorizationFailed).
    pub forbidden_subs: HashSet<String>,
    /// When set, nextLinks point at this origin instead of the emulator (must not be followed).
    pub next_link_origin: Option<String>,
    /// Pre-serialised, newest-first index of `azure_events` (rebuilt when the log grows).
    azure_index: Vec<AzIndexed>,
    azure_indexed_len: usize,
    pub valid_tokens: HashSet<String>,
    pub tokens_issued: u32,
    /// Tokens become invalid after serving this many ARM requests (None: never).
    pub token_uses: Option<u32>,
    token_use_count: HashMap<String, u32>,
    // AWS
    /// (region, record)
    pub aws_events: Vec<(String, Value)>,
    pub sts_calls: u32,
    /// Valid STS sessions: access key id → (secret, session token, account). A new session
    /// for an account replaces the older ones of that account (they count as expired).
    pub sessions: HashMap<String, (String, String, String)>,
    /// Every AssumeRole served or refused: (RoleArn, SigV4 scope region, ExternalId).
    pub assume_calls: Vec<(String, String, Option<String>)>,
    /// Organizations: (account id, State) in ListAccounts order; page size; every page
    /// answering with the same NextToken (a paging loop).
    pub org_accounts: Vec<(String, String)>,
    pub org_page_size: usize,
    pub org_repeat_token: bool,
    /// Role name that exists in every member account (`arn:aws:iam::<id>:role/<name>`), and
    /// the accounts whose role trust policy refuses the management account.
    pub org_role: String,
    pub org_denied: HashSet<String>,
    /// Accounts whose sessions LookupEvents refuses (UnrecognizedClientException).
    pub lookup_refused_accounts: HashSet<String>,
    /// ListAccounts calls served, and DescribeRegions calls as (caller account, scope region, AllRegions).
    pub list_accounts_calls: u32,
    pub describe_regions_calls: Vec<(String, String, String)>,
    /// Regions per account as (name, optInStatus); accounts not listed get `default_regions`.
    pub account_regions: HashMap<String, Vec<(String, String)>>,
    pub default_regions: Vec<(String, String)>,
    // faults and observations
    pub faults: VecDeque<Fault>,
    /// Page offsets (skiptoken / NextToken offsets) always served truncated.
    pub truncate_offsets: HashSet<usize>,
    pub log: Vec<Req>,
    pub data_requests: u32,
    /// The emulated "now" (None: the system clock). Events whose id is in `reveal_at` are
    /// served only once this clock reaches their reveal time (late delivery).
    pub clock: Option<DateTime<Utc>>,
    /// Event id (eventDataId / eventID) → when the API starts returning it.
    pub reveal_at: HashMap<String, DateTime<Utc>>,
    /// Activity Log: every nextLink points at the page just served (a paging loop).
    pub self_next_link_subs: HashSet<String>,
    /// LookupEvents: every page returns this same NextToken (a paging loop) for these regions.
    pub repeat_token_regions: HashSet<String>,
    /// Raw JSON elements put first in every Activity Log page / LookupEvents page.
    pub azure_bad_elements: Vec<String>,
    pub aws_bad_elements: Vec<Value>,
    /// `expires_in` of issued Azure tokens (JSON), default 3599.
    pub token_expires_in: Value,
    /// Added before every data response (emulated network latency; served without the lock).
    pub latency: Duration,
    /// Added before every AWS STS, Organizations and EC2 response (account set-up calls).
    pub setup_latency: Duration,
    /// `x-ms-ratelimit-remaining-subscription-reads` sent with Activity Log pages.
    pub ratelimit_remaining: Option<u32>,
    /// splunkd is a search head cluster member (`shcluster/member/info` answers 200).
    pub shc_member: bool,
    /// AssumeRole is refused unless it carries this ExternalId.
    pub external_id: Option<String>,
    /// Web identity token AssumeRoleWithWebIdentity accepts; federated token (client
    /// assertion) the Azure token endpoint accepts.
    pub web_identity_token: String,
    pub federated_token: String,
    /// Managed-identity token requests (query parameters) and IMDSv2 credential reads served.
    pub azure_mi_requests: Vec<HashMap<String, String>>,
    pub imds_credential_reads: u32,
    /// Data requests being served right now, and the most ever at once.
    pub in_flight: u32,
    pub max_in_flight: u32,
}

pub type Shared = Arc<Mutex<Emu>>;

/// One Activity Log event, serialised once (the emulator runs unoptimised in tests).
struct AzIndexed {
    id: String,
    sub: String,
    provider: String,
    time: String,
    json: String,
}

impl Emu {
    fn azure_index(&mut self) -> &[AzIndexed] {
        if self.azure_indexed_len != self.azure_events.len() {
            let mut idx: Vec<AzIndexed> = self
                .azure_events
                .iter()
                .map(|(sub, ev)| AzIndexed {
                    id: ev["eventDataId"].as_str().unwrap_or("").to_string(),
                    sub: sub.to_ascii_lowercase(),
                    provider: ev["resourceProviderName"]["value"]
                        .as_str()
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    time: ev["eventTimestamp"].as_str().unwrap_or("").to_string(),
                    json: ev.to_string(),
                })
                .collect();
            // Newest first, as the service returns them; ties in a stable order.
            idx.sort_by(|a, b| b.time.cmp(&a.time).then(a.json.cmp(&b.json)));
            self.azure_index = idx;
            self.azure_indexed_len = self.azure_events.len();
        }
        &self.azure_index
    }
}

/// Start all emulators on one loopback port; returns the shared state.
pub fn start() -> Shared {
    start_with(false)
}

/// Start all emulators behind TLS (certificate for `localhost` and `127.0.0.1`, issued by the
/// throwaway test CA in `tls/ca.pem`); `base_url` is `https://localhost:<port>`.
pub fn start_tls() -> Shared {
    start_with(true)
}

/// A CONNECT proxy on loopback that sends every tunnel to `127.0.0.1:<requested port>`,
/// whatever host was asked for; returns its URL and the list of CONNECT targets it served.
pub fn start_connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).ok() != Some(1) {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                if !head.starts_with("CONNECT ") {
                    let _ = client
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
                seen.lock().unwrap().push(target.clone());
                let port = target.rsplit(':').next().unwrap_or("443");
                let Ok(upstream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) else {
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut c1, mut u1) = (client, upstream);
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut u2);
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut u1, &mut c1);
                let _ = c1.shutdown(std::net::Shutdown::Write);
                let _ = t.join();
            });
        }
    });
    (url, seen)
}

/// Path of the test CA certificate that issued the TLS emulator's certificate.
pub fn test_ca_path() -> String {
    format!(
        "{}/tests/modinput_support/tls/ca.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // A throwaway key pair for tests only; its CA's private key was discarded after signing.
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(include_bytes!("tls/server.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("tls/server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    Arc::new(config)
}

fn serve<S: Read + Write>(emu: &Shared, stream: &mut S) {
    if let Some(req) = read_request(stream) {
        let resp = handle(emu, &req);
        write_response(stream, &resp);
    }
}

fn start_with(tls: bool) -> Shared {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let base_url = if tls {
        format!("https://localhost:{port}")
    } else {
        format!("http://127.0.0.1:{port}")
    };
    let tls = tls.then(tls_config);
    let emu = Arc::new(Mutex::new(Emu {
        base_url,
        session_key: SESSION_KEY.into(),
        passwords: vec![
            (
                "other:someone:".into(),
                "other".into(),
                "someone".into(),
                OTHER_APP_SECRET.into(),
                OTHER_APP.into(),
            ),
            (
                CREDENTIAL.into(),
                "t1651".into(),
                "prod-reader".into(),
                CLIENT_SECRET.into(),
                APP.into(),
            ),
            (
                "t1651:aws-reader:".into(),
                "t1651".into(),
                "aws-reader".into(),
                AWS_SECRET.into(),
                APP.into(),
            ),
            // Appended last: tests index the entries above.
            (
                "t1651:prod-cert:".into(),
                "t1651".into(),
                "prod-cert".into(),
                CLIENT_CERT_PEM.into(),
                APP.into(),
            ),
        ],
        client_secret: CLIENT_SECRET.into(),
        subscriptions: vec![SUB_A.into()],
        azure_events: Vec::new(),
        azure_page_size: 200,
        forbidden_subs: HashSet::new(),
        next_link_origin: None,
        azure_index: Vec::new(),
        azure_indexed_len: usize::MAX,
        valid_tokens: HashSet::new(),
        tokens_issued: 0,
        token_uses: None,
        token_use_count: HashMap::new(),
        aws_events: Vec::new(),
        sts_calls: 0,
        sessions: HashMap::new(),
        assume_calls: Vec::new(),
        org_accounts: Vec::new(),
        org_page_size: 2,
        org_repeat_token: false,
        org_role: "T1651Audit".into(),
        org_denied: HashSet::new(),
        lookup_refused_accounts: HashSet::new(),
        list_accounts_calls: 0,
        describe_regions_calls: Vec::new(),
        account_regions: HashMap::new(),
        default_regions: DEFAULT_REGIONS
            .iter()
            .map(|r| (r.to_string(), "opt-in-not-required".to_string()))
            .chain([("af-south-1".to_string(), "not-opted-in".to_string())])
            .collect(),
        faults: VecDeque::new(),
        truncate_offsets: HashSet::new(),
        log: Vec::new(),
        data_requests: 0,
        clock: None,
        reveal_at: HashMap::new(),
        self_next_link_subs: HashSet::new(),
        repeat_token_regions: HashSet::new(),
        azure_bad_elements: Vec::new(),
        aws_bad_elements: Vec::new(),
        token_expires_in: json!(3599),
        latency: Duration::ZERO,
        setup_latency: Duration::ZERO,
        in_flight: 0,
        max_in_flight: 0,
        shc_member: false,
        ratelimit_remaining: None,
        external_id: None,
        web_identity_token: WEB_IDENTITY_TOKEN.into(),
        federated_token: FEDERATED_TOKEN.into(),
        azure_mi_requests: Vec::new(),
        imds_credential_reads: 0,
    }));
    let e2 = emu.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let e3 = e2.clone();
            let tls = tls.clone();
            std::thread::spawn(move || match tls {
                None => serve(&e3, &mut { stream }),
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut s = rustls::StreamOwned::new(conn, stream);
                    serve(&e3, &mut s);
                    s.conn.send_close_notify();
                    let _ = s.flush();
                }
            });
        }
    });
    emu
}

fn is_data_request(req: &Req) -> bool {
    req.path().ends_with("/eventtypes/management/values")
        || req
            .header("x-amz-target")
            .is_some_and(|t| t.contains("CloudTrail"))
}

fn handle(emu: &Shared, req: &Req) -> Resp {
    let hang = {
        let mut e = emu.lock().unwrap();
        match e.faults.front() {
            Some(Fault::Hang(d)) if is_data_request(req) => {
                let d = *d;
                e.faults.pop_front();
                e.data_requests += 1;
                e.log.push(req.clone());
                Some(d)
            }
            _ => None,
        }
    };
    if let Some(d) = hang {
        // Without holding the lock, so the client's retry is served meanwhile.
        std::thread::sleep(d);
        return Resp::json(200, &json!({"value": []}));
    }
    let latency = {
        let mut e = emu.lock().unwrap();
        if is_data_request(req) {
            e.in_flight += 1;
            e.max_in_flight = e.max_in_flight.max(e.in_flight);
        }
        e.latency
    };
    if !latency.is_zero() && is_data_request(req) {
        std::thread::sleep(latency);
    }
    let setup_latency = emu.lock().unwrap().setup_latency;
    if !setup_latency.is_zero()
        && req.method == "POST"
        && req.path() == "/"
        && !is_data_request(req)
    {
        std::thread::sleep(setup_latency);
    }
    let resp = handle_now(emu, req);
    if is_data_request(req) {
        emu.lock().unwrap().in_flight -= 1;
    }
    resp
}

fn handle_now(emu: &Shared, req: &Req) -> Resp {
    let mut e = emu.lock().unwrap();
    e.log.push(req.clone());
    let path = req.path().to_string();
    if path == "/servicesNS/nobody/-/storage/passwords" {
        return splunkd_passwords(&e, req);
    }
    if path == "/services/shcluster/member/info" {
        if req.header("authorization") != Some(&format!("Splunk {}", e.session_key)) {
            return Resp::json(
                401,
                &json!({"messages": [{"type": "WARN", "text": "call not properly authenticated"}]}),
            );
        }
        return if e.shc_member {
            Resp::json(
                200,
                &json!({"entry": [{"name": "member", "content": {"status": "Up", "is_registered": true, "label": "sh1"}}]}),
            )
        } else {
            Resp::json(
                503,
                &json!({"messages": [{"type": "ERROR", "text": "Search head clustering is not enabled on this node."}]}),
            )
        };
    }
    if let Some(rest) = path.strip_prefix("/servicesNS/nobody/") {
        if let Some((app, name)) = rest.split_once("/storage/passwords/") {
            return splunkd_password_entry(&e, req, app, name);
        }
    }
    if path.ends_with("/oauth2/v2.0/token") {
        return azure_token(&mut e, req, &path);
    }
    if path == "/metadata/identity/oauth2/token" {
        return azure_imds(&mut e, req);
    }
    if path.starts_with("/latest/") || path.starts_with("/v2/credentials/") {
        return aws_metadata(&mut e, req, &path);
    }
    if path == "/subscriptions" {
        return match azure_auth(&mut e, req) {
            Err(r) => r,
            Ok(()) => Resp::json(
                200,
                &json!({"value": e.subscriptions.iter().map(|s| json!({
                    "id": format!("/subscriptions/{s}"), "subscriptionId": s, "displayName": "prod", "state": "Enabled"
                })).collect::<Vec<_>>(), "count": {"type": "Total", "value": e.subscriptions.len()}}),
            ),
        };
    }
    if path.starts_with("/subscriptions/") && path.ends_with("/eventtypes/management/values") {
        return activity_log(&mut e, req);
    }
    if req.method == "POST" && path == "/" {
        if req
            .header("x-amz-target")
            .is_some_and(|t| t.starts_with("AWSOrganizationsV20161128."))
        {
            return organizations(&mut e, req);
        }
        if req.header("x-amz-target").is_some() {
            return lookup_events(&mut e, req);
        }
        if req.body_str().starts_with("Action=AssumeRole") {
            return sts(&mut e, req);
        }
        if req.body_str().starts_with("Action=DescribeRegions") {
            return ec2(&mut e, req);
        }
    }
    Resp::json(
        404,
        &json!({"error": {"code": "NotFound", "message": format!("no route for {} {}", req.method, req.target)}}),
    )
}

fn splunkd_passwords(e: &Emu, req: &Req) -> Resp {
    if req.header("authorization") != Some(&format!("Splunk {}", e.session_key)) {
        return Resp::json(
            401,
            &json!({"messages": [{"type": "WARN", "text": "call not properly authenticated"}]}),
        );
    }
    let q = req.query();
    assert_eq!(q.get("output_mode").map(String::as_str), Some("json"));
    let entries: Vec<Value> = e
        .passwords
        .iter()
        .map(|(name, realm, user, pw, app)| {
            json!({"name": name, "id": format!("https://127.0.0.1:8089/servicesNS/nobody/{app}/storage/passwords/{name}"),
                   "acl": {"app": app, "owner": "nobody"},
                   "content": {"clear_password": pw, "encr_password": "$7$abc", "password": "********", "realm": realm, "username": user}})
        })
        .collect();
    Resp::json(
        200,
        &json!({"links": {}, "origin": "https://127.0.0.1:8089/servicesNS/nobody/-/storage/passwords", "entry": entries, "paging": {"total": entries.len(), "perPage": 0, "offset": 0}}),
    )
}

/// One entry by name, as splunkd serves it: visible in an app's namespace when it belongs to
/// that app or is shared globally (the emulator shares every entry globally, the worst case).
fn splunkd_password_entry(e: &Emu, req: &Req, _app: &str, name: &str) -> Resp {
    if req.header("authorization") != Some(&format!("Splunk {}", e.session_key)) {
        return Resp::json(
            401,
            &json!({"messages": [{"type": "WARN", "text": "call not properly authenticated"}]}),
        );
    }
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned();
    let Some((n, realm, user, pw, owner)) = e.passwords.iter().find(|p| p.0 == name) else {
        return Resp::json(
            404,
            &json!({"messages": [{"type": "ERROR", "text": format!("Could not find object id={name}")}]}),
        );
    };
    Resp::json(
        200,
        &json!({"entry": [{"name": n, "acl": {"app": owner, "owner": "nobody", "sharing": "global"},
                 "content": {"clear_password": pw, "encr_password": "$7$abc", "password": "********", "realm": realm, "username": user}}]}),
    )
}

/// Azure IMDS managed identity token (`GET /metadata/identity/oauth2/token`, `Metadata: true`).
fn azure_imds(e: &mut Emu, req: &Req) -> Resp {
    let q = req.query();
    if req.header("metadata") != Some("true")
        || q.get("api-version").map(String::as_str) != Some("2018-02-01")
        || q.get("resource").map(String::as_str) != Some("https://management.azure.com/")
    {
        return Resp::json(
            400,
            &json!({"error": "invalid_request", "error_description": "Required metadata header not specified or bad query"}),
        );
    }
    e.azure_mi_requests.push(q);
    e.tokens_issued += 1;
    let tok = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.mi-token-{}",
        e.tokens_issued
    );
    e.valid_tokens.insert(tok.clone());
    Resp::json(
        200,
        &json!({"access_token": tok, "expires_in": "3599", "expires_on": "1700000000", "resource": "https://management.azure.com/", "token_type": "Bearer"}),
    )
}

/// Issue session credentials for `account` (its only valid session from now on).
fn new_session(e: &mut Emu, account: &str) -> (String, String, String) {
    e.sts_calls += 1;
    let n = e.sts_calls;
    let creds = (
        format!("ASIAEMULATED{n:08}"),
        format!("assumed-secret-{n}-xyz/abc+SECRET"),
        format!("FwoGZXIvYXdzEB-session-token-{n}"),
    );
    e.sessions.retain(|_, (_, _, a)| a != account);
    e.sessions.insert(
        creds.0.clone(),
        (creds.1.clone(), creds.2.clone(), account.to_string()),
    );
    creds
}

/// EC2 IMDSv2 and the ECS container credentials endpoint.
fn aws_metadata(e: &mut Emu, req: &Req, path: &str) -> Resp {
    let json_creds = |e: &mut Emu| {
        let (a, s, t) = new_session(e, MGMT_ACCOUNT);
        let exp = (Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
        Resp::json(
            200,
            &json!({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": a, "SecretAccessKey": s, "Token": t, "Expiration": exp.to_string()}),
        )
    };
    if let Some(rest) = path.strip_prefix("/v2/credentials/") {
        if rest.is_empty() {
            return Resp::text(404, "text/plain", "not found");
        }
        return json_creds(e);
    }
    if path == "/latest/api/token" {
        if req.method != "PUT" || req.header("x-aws-ec2-metadata-token-ttl-seconds").is_none() {
            return Resp::text(400, "text/plain", "bad token request");
        }
        return Resp::text(200, "text/plain", IMDS_SESSION);
    }
    if req.header("x-aws-ec2-metadata-token") != Some(IMDS_SESSION) {
        // IMDSv1 is disabled on this emulated instance.
        return Resp::text(401, "text/plain", "Unauthorized");
    }
    match path.strip_prefix("/latest/meta-data/iam/security-credentials/") {
        Some("") => Resp::text(200, "text/plain", INSTANCE_ROLE),
        Some(r) if r == INSTANCE_ROLE => {
            e.imds_credential_reads += 1;
            json_creds(e)
        }
        _ => Resp::text(404, "text/plain", "not found"),
    }
}

/// The certificate credential of the emulated app registration: the PEM (certificate and
/// PKCS#8 key, what a user stores as the credential) and the public key (PKCS#1 DER). A
/// throwaway RSA-2048 key made for these tests.
pub const CLIENT_CERT_PEM: &str = include_str!("tls/client_cert.pem");
const CLIENT_PUBLIC_KEY: &[u8] = include_bytes!("tls/client_pub.der");

/// Verify an RS256 certificate assertion as Entra ID does: the thumbprint names the registered
/// certificate, the signature verifies with its key, the audience is the token endpoint, the
/// subject and issuer are the client, and it has not expired.
pub fn certificate_assertion_ok(jwt: &str, audience: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts[..] else { return false };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).ok();
    let (Some(hb), Some(cb), Some(sb)) = (decode(h), decode(c), decode(sig)) else {
        return false;
    };
    let (Ok(header), Ok(claims)) = (
        serde_json::from_slice::<Value>(&hb),
        serde_json::from_slice::<Value>(&cb),
    ) else {
        return false;
    };
    let cert_der = fixtures_cert_der();
    let thumb = URL_SAFE_NO_PAD.encode(Sha256::digest(&cert_der));
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        CLIENT_PUBLIC_KEY,
    );
    header["alg"] == "RS256"
        && header["x5t#S256"] == thumb.as_str()
        && key.verify(format!("{h}.{c}").as_bytes(), &sb).is_ok()
        && claims["aud"] == audience
        && claims["iss"] == CLIENT_ID
        && claims["sub"] == CLIENT_ID
        && claims["exp"]
            .as_i64()
            .is_some_and(|x| x > Utc::now().timestamp())
        && claims["jti"].as_str().is_some_and(|j| j.len() >= 16)
}

fn fixtures_cert_der() -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(CLIENT_CERT_PEM.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

fn azure_token(e: &mut Emu, req: &Req, path: &str) -> Resp {
    let f = form_decode(&req.body_str());
    if f.contains_key("client_assertion") {
        let assertion = f.get("client_assertion").cloned().unwrap_or_default();
        let audience = format!("{}{path}", e.base_url);
        let trusted =
            assertion == e.federated_token || certificate_assertion_ok(&assertion, &audience);
        let ok = path == format!("/{TENANT}/oauth2/v2.0/token")
            && f.get("grant_type").map(String::as_str) == Some("client_credentials")
            && f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && f.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && trusted
            && !f.contains_key("client_secret");
        if !ok {
            return Resp::json(
                401,
                &json!({"error": "invalid_client", "error_description": "AADSTS700213: No matching federated identity record found."}),
            );
        }
        e.tokens_issued += 1;
        let tok = format!(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.wi-token-{}",
            e.tokens_issued
        );
        e.valid_tokens.insert(tok.clone());
        return Resp::json(
            200,
            &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": tok}),
        );
    }
    let tenant_ok = path == format!("/{TENANT}/oauth2/v2.0/token");
    if !tenant_ok
        || f.get("grant_type").map(String::as_str) != Some("client_credentials")
        || f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("scope").map(String::as_str) != Some("https://management.azure.com/.default")
    {
        return Resp::json(
            400,
            &json!({"error": "invalid_request", "error_description": "AADSTS900144: bad request"}),
        );
    }
    if f.get("client_secret") != Some(&e.client_secret) {
        return Resp::json(
            401,
            &json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    e.tokens_issued += 1;
    let tok = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.token-{}",
        e.tokens_issued
    );
    e.valid_tokens.insert(tok.clone());
    Resp::json(
        200,
        &json!({"token_type": "Bearer", "expires_in": e.token_expires_in, "ext_expires_in": 3599, "access_token": tok}),
    )
}

fn azure_auth(e: &mut Emu, req: &Req) -> Result<(), Resp> {
    let tok = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    if !e.valid_tokens.contains(&tok) {
        return Err(Resp::json(
            401,
            &json!({"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time is earlier than current UTC time."}}),
        ));
    }
    if let Some(limit) = e.token_uses {
        let n = e.token_use_count.entry(tok.clone()).or_insert(0);
        *n += 1;
        if *n > limit {
            e.valid_tokens.remove(&tok);
            return Err(Resp::json(
                401,
                &json!({"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time is earlier than current UTC time."}}),
            ));
        }
    }
    Ok(())
}

/// Parse `eventTimestamp ge '…' and eventTimestamp le '…' and resourceProvider eq '…'`.
pub fn parse_filter(f: &str) -> Option<(DateTime<Utc>, DateTime<Utc>, String)> {
    let grab = |key: &str| -> Option<String> {
        let i = f.find(key)? + key.len();
        let rest = &f[i..];
        let start = rest.find('\'')? + 1;
        let end = rest[start..].find('\'')? + start;
        Some(rest[start..end].to_string())
    };
    let t = |s: String| {
        DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    };
    Some((
        t(grab("eventTimestamp ge")?)?,
        t(grab("eventTimestamp le")?)?,
        grab("resourceProvider eq")?,
    ))
}

fn take_fault(e: &mut Emu) -> Option<Fault> {
    e.data_requests += 1;
    e.faults.pop_front()
}

fn truncate(body: &[u8]) -> Vec<u8> {
    body[..body.len() / 2].to_vec()
}

fn activity_log(e: &mut Emu, req: &Req) -> Resp {
    let fault = take_fault(e);
    if let Some(Fault::Expire) = fault {
        if let Some(t) = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            e.valid_tokens.remove(t);
        }
    }
    if let Err(r) = azure_auth(e, req) {
        return r;
    }
    match fault {
        Some(Fault::Status(s)) => {
            return Resp::json(
                s,
                &json!({"error": {"code": "InternalServerError", "message": "Encountered internal server error."}}),
            )
        }
        Some(Fault::RetryAfter(secs)) => {
            let mut r = Resp::json(
                429,
                &json!({"error": {"code": "TooManyRequests", "message": "Rate limit exceeded."}}),
            );
            r.headers.push(("Retry-After".into(), secs.to_string()));
            return r;
        }
        _ => {}
    }
    let q = req.query();
    assert_eq!(q.get("api-version").map(String::as_str), Some("2015-04-01"));
    let sub = req.path().split('/').nth(2).unwrap_or("").to_string();
    if e.forbidden_subs.contains(&sub.to_ascii_lowercase()) {
        return Resp::json(
            403,
            &json!({"error": {"code": "AuthorizationFailed", "message": format!("The client '{CLIENT_ID}' does not have authorization to perform action 'Microsoft.Insights/eventtypes/values/read' over scope '/subscriptions/{sub}'.")}}),
        );
    }
    let Some((ge, le, provider)) = q.get("$filter").and_then(|f| parse_filter(f)) else {
        return Resp::json(
            400,
            &json!({"error": {"code": "BadRequest", "message": "The $filter is not valid."}}),
        );
    };
    let (ge_s, le_s) = (azure_time(ge), azure_time(le));
    let (sub_l, prov_l) = (sub.to_ascii_lowercase(), provider.to_ascii_lowercase());
    let page_size = e.azure_page_size;
    let base_url = e
        .next_link_origin
        .clone()
        .unwrap_or_else(|| e.base_url.clone());
    let offset: usize = q
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Fixture timestamps all have 7 fraction digits: text order is time order.
    let now = e.clock.unwrap_or_else(Utc::now);
    let reveal = std::mem::take(&mut e.reveal_at);
    let bad = e.azure_bad_elements.clone();
    let self_link = e.self_next_link_subs.contains(&sub_l);
    let matching: Vec<&AzIndexed> = e
        .azure_index()
        .iter()
        .filter(|x| x.sub == sub_l && x.provider == prov_l && x.time >= ge_s && x.time <= le_s)
        .filter(|x| reveal.get(&x.id).is_none_or(|r| *r <= now))
        .collect();
    let mut page: Vec<&str> = bad.iter().map(String::as_str).collect();
    page.extend(
        matching
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|x| x.json.as_str()),
    );
    let next = offset + page.len() - bad.len();
    let mut body = format!("{{\"value\":[{}]", page.join(","));
    let matching_len = matching.len();
    e.reveal_at = reveal;
    if self_link {
        body.push_str(&format!(
            ",\"nextLink\":{}",
            json!(format!("{base_url}{}", req.target))
        ));
    } else if next < matching_len {
        let base: String = req.target.split("&$skiptoken=").next().unwrap().to_string();
        body.push_str(&format!(
            ",\"nextLink\":{}",
            json!(format!("{base_url}{base}&$skiptoken={next}"))
        ));
    }
    body.push('}');
    let mut r = Resp::text(200, "application/json; charset=utf-8", &body);
    if let Some(n) = e.ratelimit_remaining {
        r.headers.push((
            "x-ms-ratelimit-remaining-subscription-reads".into(),
            n.to_string(),
        ));
    }
    if matches!(fault, Some(Fault::Truncate)) || e.truncate_offsets.contains(&offset) {
        r.body = truncate(&r.body);
    }
    r
}

/// Who signed a request: the account of the key and the scope's region.
pub struct Caller {
    pub account: String,
    pub region: String,
    pub access_key_id: String,
}

fn sigv4_check(e: &Emu, req: &Req, service: &str, signed: &[&str]) -> Result<Caller, Resp> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let deny = |msg: &str| {
        Err(Resp::json(
            403,
            &json!({"__type": "InvalidSignatureException", "message": msg}),
        ))
    };
    let Some(auth) = req.header("authorization") else {
        return deny("no Authorization");
    };
    let Some(cred) = auth
        .split("Credential=")
        .nth(1)
        .and_then(|s| s.split(',').next())
    else {
        return deny("no Credential");
    };
    let scope: Vec<&str> = cred.split('/').collect();
    if scope.len() != 5 || scope[3] != service {
        return deny("bad credential scope");
    }
    let (akid, region) = (scope[0], scope[2]);
    let token = req.header("x-amz-security-token").map(str::to_string);
    let (secret, account) = if akid == AWS_KEY_ID && token.is_none() {
        (AWS_SECRET.to_string(), MGMT_ACCOUNT.to_string())
    } else if token.is_some() {
        // Session credentials: only each account's latest session is valid; older ones expired.
        match e.sessions.get(akid) {
            Some((s, t, a)) if token.as_deref() == Some(t.as_str()) => (s.clone(), a.clone()),
            _ => {
                return Err(Resp::json(
                    400,
                    &json!({"__type": "ExpiredTokenException", "message": "The security token included in the request is expired"}),
                ))
            }
        }
    } else {
        return Err(Resp::json(
            403,
            &json!({"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}),
        ));
    };
    let Some(date) = req.header("x-amz-date") else {
        return deny("no X-Amz-Date");
    };
    let time: SystemTime = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc()
        .into();
    let identity = aws_credential_types::Credentials::new(akid, secret, token, None, "emu").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{}{}", req.header("host").unwrap_or(""), req.target);
    let headers: Vec<(&str, &str)> = signed
        .iter()
        .map(|h| (*h, req.header(h).unwrap_or("")))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.into_iter(),
        SignableBody::Bytes(&req.body),
    )
    .unwrap();
    let (_, expected) = sign(signable, &params).unwrap().into_parts();
    if !auth.ends_with(&format!("Signature={expected}")) {
        return deny(
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    Ok(Caller {
        account,
        region: region.to_string(),
        access_key_id: akid.to_string(),
    })
}

fn sts(e: &mut Emu, req: &Req) -> Resp {
    let f = form_decode(&req.body_str());
    let denied = |what: &str| {
        Resp::text(403, "text/xml", &format!("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform {what}</Message></Error></ErrorResponse>"))
    };
    if f.get("Action").map(String::as_str) == Some("AssumeRoleWithWebIdentity") {
        // Unsigned: the web identity token is the proof.
        if req.header("authorization").is_some()
            || f.get("RoleArn").map(String::as_str) != Some(ROLE_ARN)
            || f.get("WebIdentityToken") != Some(&e.web_identity_token)
        {
            return denied("sts:AssumeRoleWithWebIdentity");
        }
    }
    let mut account = MGMT_ACCOUNT.to_string();
    if f.get("Action").map(String::as_str) != Some("AssumeRoleWithWebIdentity")
        && f.get("Action").map(String::as_str) != Some("AssumeRole")
    {
        return denied("an unknown STS action");
    }
    if f.get("Action").map(String::as_str) == Some("AssumeRole") {
        let caller = match sigv4_check(e, req, "sts", &["content-type"]) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let arn = f.get("RoleArn").cloned().unwrap_or_default();
        e.assume_calls.push((
            arn.clone(),
            caller.region.clone(),
            f.get("ExternalId").cloned(),
        ));
        // A member role: arn:aws:iam::<id>:role/<org_role> of an ACTIVE organization account,
        // trusting the management account only.
        let member = arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":role/"))
            .filter(|(id, name)| {
                *name == e.org_role
                    && e.org_accounts
                        .iter()
                        .any(|(a, state)| a == id && state == "ACTIVE")
            })
            .map(|(id, _)| id.to_string());
        if arn == ROLE_ARN {
            account = MGMT_ACCOUNT.into();
        } else if let Some(id) = member {
            if caller.account != MGMT_ACCOUNT || e.org_denied.contains(&id) {
                return denied("sts:AssumeRole");
            }
            account = id;
        } else {
            return denied("sts:AssumeRole");
        }
        if e.external_id.is_some() && f.get("ExternalId") != e.external_id.as_ref() {
            return denied("sts:AssumeRole (ExternalId mismatch)");
        }
    }
    let creds = new_session(e, &account);
    let exp = (Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    Resp::text(200, "text/xml", &format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><SourceIdentity/><AssumedRoleUser><AssumedRoleId>AROA3XFRBF535PLBIFPI4:t1651-cloud-audit</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/t1651-reader/t1651-cloud-audit</Arn></AssumedRoleUser><Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{exp}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></AssumeRoleResponse>",
        creds.0, creds.1, creds.2
    ))
}

fn lookup_events(e: &mut Emu, req: &Req) -> Resp {
    if req.header("x-amz-target")
        != Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
        || req.header("content-type") != Some("application/x-amz-json-1.1")
    {
        return Resp::json(400, &json!({"__type": "UnknownOperationException"}));
    }
    let fault = take_fault(e);
    if let Some(Fault::Expire) = fault {
        e.sessions.clear();
    }
    let caller = match sigv4_check(e, req, "cloudtrail", &["content-type", "x-amz-target"]) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if e.lookup_refused_accounts.contains(&caller.account) {
        return Resp::json(
            403,
            &json!({"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}),
        );
    }
    match fault {
        Some(Fault::Status(s)) => {
            return Resp::json(
                s,
                &json!({"__type": "InternalFailure", "message": "internal error"}),
            )
        }
        Some(Fault::RetryAfter(secs)) => {
            let mut r = Resp::json(
                400,
                &json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
            );
            r.headers.push(("Retry-After".into(), secs.to_string()));
            return r;
        }
        _ => {}
    }
    let region = req
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("")
        .to_string();
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return Resp::json(400, &json!({"__type": "SerializationException"})),
    };
    let attr = &body["LookupAttributes"][0];
    assert_eq!(attr["AttributeKey"], "EventName");
    let name = attr["AttributeValue"].as_str().unwrap_or("").to_string();
    let start = body["StartTime"].as_f64().unwrap_or(0.0);
    let end = body["EndTime"].as_f64().unwrap_or(f64::MAX);
    let max = body["MaxResults"].as_u64().unwrap_or(50).min(50) as usize;
    let offset: usize = body["NextToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("emu-token-"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let now = e.clock.unwrap_or_else(Utc::now);
    let mut matching: Vec<Value> = e
        .aws_events
        .iter()
        .filter(|(r, rec)| {
            // Cheap comparisons first: the bench holds tens of thousands of records.
            *r == region
                && rec["recipientAccountId"] == caller.account.as_str()
                && rec["eventName"] == name.as_str()
                && {
                    let t = DateTime::parse_from_rfc3339(rec["eventTime"].as_str().unwrap())
                        .unwrap()
                        .timestamp() as f64;
                    t >= start && t <= end
                }
        })
        .filter(|(_, rec)| {
            rec["eventID"]
                .as_str()
                .and_then(|id| e.reveal_at.get(id))
                .is_none_or(|r| *r <= now)
        })
        .map(|(_, rec)| fixtures::lookup_events_entry(rec))
        .collect();
    matching.sort_by(|a, b| {
        b["EventTime"]
            .as_f64()
            .partial_cmp(&a["EventTime"].as_f64())
            .unwrap()
            .then(a["EventId"].as_str().cmp(&b["EventId"].as_str()))
    });
    let page: Vec<Value> = matching.iter().skip(offset).take(max).cloned().collect();
    let next = offset + page.len();
    let mut events = e.aws_bad_elements.clone();
    events.extend(page);
    let mut out = json!({"Events": events});
    if e.repeat_token_regions.contains(&region) {
        out["NextToken"] = json!("emu-token-loop");
    } else if next < matching.len() {
        out["NextToken"] = json!(format!("emu-token-{next}"));
    }
    let mut r = Resp::json(200, &out);
    if matches!(fault, Some(Fault::Truncate)) || e.truncate_offsets.contains(&offset) {
        r.body = truncate(&r.body);
    }
    r
}

/// Organizations ListAccounts (JSON 1.1): management account only, signed for
/// `organizations` in us-east-1, paged by NextToken.
fn organizations(e: &mut Emu, req: &Req) -> Resp {
    if req.header("x-amz-target") != Some("AWSOrganizationsV20161128.ListAccounts")
        || req.header("content-type") != Some("application/x-amz-json-1.1")
    {
        return Resp::json(400, &json!({"__type": "UnknownOperationException"}));
    }
    let caller = match sigv4_check(e, req, "organizations", &["content-type", "x-amz-target"]) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if caller.region != "us-east-1" {
        return Resp::json(
            403,
            &json!({"__type": "InvalidSignatureException", "message": format!("Credential should be scoped to a valid region, not '{}'.", caller.region)}),
        );
    }
    e.list_accounts_calls += 1;
    if caller.account != MGMT_ACCOUNT {
        return Resp::json(
            400,
            &json!({"__type": "AccessDeniedException", "Message": "You don't have permissions to access this resource."}),
        );
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let offset: usize = body["NextToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("org-token-"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = e
        .org_accounts
        .iter()
        .skip(offset)
        .take(e.org_page_size)
        .map(|(id, state)| {
            json!({
                "Id": id,
                "Arn": format!("arn:aws:organizations::{MGMT_ACCOUNT}:account/o-exampleorgid/{id}"),
                "Email": format!("aws+{id}@example.com"),
                "Name": format!("acct-{id}"),
                "Status": if state == "CLOSED" { "SUSPENDED" } else { state.as_str() },
                "State": state,
                "JoinedMethod": "CREATED",
                "JoinedTimestamp": 1.7e9,
            })
        })
        .collect();
    let next = offset + page.len();
    let mut out = json!({"Accounts": page});
    if e.org_repeat_token {
        out["NextToken"] = json!("org-token-loop");
    } else if next < e.org_accounts.len() {
        out["NextToken"] = json!(format!("org-token-{next}"));
    }
    Resp::json(200, &out)
}

/// EC2 DescribeRegions (Query API, XML): the caller account's regions; `AllRegions=true`
/// adds the ones not opted in.
fn ec2(e: &mut Emu, req: &Req) -> Resp {
    let f = form_decode(&req.body_str());
    if f.get("Action").map(String::as_str) != Some("DescribeRegions")
        || f.get("Version").map(String::as_str) != Some("2016-11-15")
    {
        return Resp::text(400, "text/xml", "<Response><Errors><Error><Code>InvalidAction</Code><Message>bad action</Message></Error></Errors></Response>");
    }
    let caller = match sigv4_check(e, req, "ec2", &["content-type"]) {
        Ok(c) => c,
        Err(_) => return Resp::text(401, "text/xml", "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors></Response>"),
    };
    let all = f
        .get("AllRegions")
        .cloned()
        .unwrap_or_else(|| "false".into());
    e.describe_regions_calls
        .push((caller.account.clone(), caller.region.clone(), all.clone()));
    let regions = e
        .account_regions
        .get(&caller.account)
        .unwrap_or(&e.default_regions);
    let items: String = regions
        .iter()
        .filter(|(_, status)| all == "true" || status != "not-opted-in")
        .map(|(r, status)| {
            format!("<item><regionName>{}</regionName><regionEndpoint>ec2.{}.amazonaws.com</regionEndpoint><optInStatus>{status}</optInStatus></item>", quick_xml::escape::escape(r.as_str()), quick_xml::escape::escape(r.as_str()))
        })
        .collect();
    Resp::text(200, "text/xml", &format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>"))
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// The `<input>` document splunkd would send for one stanza.
pub fn input_xml(
    server_uri: &str,
    checkpoint_dir: &str,
    stanza: &str,
    params: &[(&str, &str)],
) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut p = String::new();
    for (k, v) in params {
        p.push_str(&format!(
            "      <param name=\"{}\">{}</param>\n",
            esc(k),
            esc(v)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<input>\n  <server_host>idx1</server_host>\n  <server_uri>{}</server_uri>\n  <session_key>{}</session_key>\n  <checkpoint_dir>{}</checkpoint_dir>\n  <configuration>\n    <stanza name=\"{}\" app=\"t1651_cloud_admin_command\">\n{p}      <param name=\"interval\">300</param>\n      <param name=\"index\">main</param>\n    </stanza>\n  </configuration>\n</input>\n",
        esc(server_uri), SESSION_KEY, esc(checkpoint_dir), esc(stanza)
    )
}

/// Azure stanza parameters pointing at the emulator.
pub fn azure_params(base: &str) -> Vec<(String, String)> {
    vec![
        ("cloud".into(), "azure".into()),
        ("tenant_id".into(), TENANT.into()),
        ("client_id".into(), CLIENT_ID.into()),
        ("subscription_ids".into(), SUB_A.into()),
        ("credential".into(), CREDENTIAL.into()),
        ("start_from".into(), "-12h".into()),
        ("overlap".into(), "15m".into()),
        // Events up to "now" are served at once by the emulator; the late-arrival tests use
        // the default settle lag.
        ("settle_lag".into(), "0".into()),
        // The hourly late re-read is exercised by tests/modinput_late.rs; off here so that
        // request-counting tests see only the overlap.
        ("late_window".into(), "0".into()),
        ("azure_authority_url".into(), base.into()),
        ("azure_management_url".into(), base.into()),
    ]
}

/// AWS stanza parameters pointing at the emulator.
pub fn aws_params(base: &str) -> Vec<(String, String)> {
    vec![
        ("cloud".into(), "aws".into()),
        ("access_key_id".into(), AWS_KEY_ID.into()),
        ("regions".into(), "us-east-1,eu-west-1".into()),
        ("credential".into(), "t1651:aws-reader:".into()),
        ("start_from".into(), "-12h".into()),
        ("overlap".into(), "15m".into()),
        ("settle_lag".into(), "0".into()),
        ("late_window".into(), "0".into()),
        ("aws_endpoint_url".into(), base.into()),
        ("aws_sts_url".into(), base.into()),
    ]
}

pub fn as_refs(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Environment that makes retries fast in tests.
pub const FAST_ENV: &[(&str, &str)] = &[
    // The emulators listen on loopback: the documented test-only switch lets the endpoint
    // overrides point there (off by default; tests that check the refusal unset it).
    ("T1651_MODINPUT_TEST_ONLY_ALLOW_LOOPBACK", "1"),
    ("T1651_MODINPUT_AWS_PACING_MS", "0"),
    ("T1651_MODINPUT_BACKOFF_MS", "5"),
    ("T1651_MODINPUT_TIMEOUT_MS", "5000"),
];

/// One event read back from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct OutEvent {
    pub stanza: String,
    pub time: Option<String>,
    pub data: String,
    pub sourcetype: String,
}

impl OutEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// Parse every complete `<event>` element of a (possibly cut-off) stream.
pub fn parse_events(stdout: &str) -> Vec<OutEvent> {
    use quick_xml::events::Event;
    let mut out = Vec::new();
    for chunk in stdout.split("<event ").skip(1) {
        let Some(end) = chunk.find("</event>") else {
            continue;
        };
        let xml = format!("<event {}</event>", &chunk[..end]);
        let mut r = quick_xml::Reader::from_str(&xml);
        let mut ev = OutEvent {
            stanza: String::new(),
            time: None,
            data: String::new(),
            sourcetype: String::new(),
        };
        let mut field = String::new();
        let mut done = false;
        loop {
            match r.read_event().expect("well-formed event element") {
                Event::Start(s) => {
                    let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                    if name == "event" {
                        for a in s.attributes() {
                            let a = a.unwrap();
                            if a.key.as_ref() == b"stanza" {
                                ev.stanza = a
                                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .unwrap()
                                    .into_owned();
                            }
                            if a.key.as_ref() == b"unbroken" {
                                assert_eq!(a.value.as_ref(), b"1");
                            }
                        }
                    }
                    field = name;
                }
                Event::Empty(s) if s.name().as_ref() == b"done" => done = true,
                Event::Text(t) => push(&mut ev, &field, &t.decode().unwrap()),
                Event::GeneralRef(g) => {
                    let s = match g.decode().unwrap().as_ref() {
                        "lt" => "<".to_string(),
                        "gt" => ">".to_string(),
                        "amp" => "&".to_string(),
                        "quot" => "\"".to_string(),
                        "apos" => "'".to_string(),
                        other => panic!("entity {other}"),
                    };
                    push(&mut ev, &field, &s);
                }
                Event::End(_) => field.clear(),
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(done, "every event ends with <done/>");
        out.push(ev);
    }
    out
}

fn push(ev: &mut OutEvent, field: &str, s: &str) {
    match field {
        "data" => ev.data.push_str(s),
        "sourcetype" => ev.sourcetype.push_str(s),
        "time" => ev.time.get_or_insert_with(String::new).push_str(s),
        _ => {}
    }
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct RunOut {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<OutEvent>,
    pub elapsed: Duration,
}

/// Run the binary with `args`, `stdin` and extra environment, to completion.
pub fn run_bin(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> RunOut {
    let started = std::time::Instant::now();
    let mut child = spawn(args, env);
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    RunOut {
        code: out.status.code(),
        events: parse_events(&stdout),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY");
    for (k, v) in FAST_ENV.iter().chain(env) {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn t1651_cloud_audit")
}

/// A child whose stdout/stderr are drained by threads; `events()` counts complete events so far.
pub struct Watched {
    pub child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    events: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Watched {
    pub fn start(stdin: &[u8], env: &[(&str, &str)]) -> Watched {
        let mut child = spawn(&[], env);
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let events = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let (mut so, o, n) = (child.stdout.take().unwrap(), stdout.clone(), events.clone());
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match so.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        let c = buf[..k].windows(8).filter(|w| w == b"</event>").count();
                        o.lock().unwrap().extend_from_slice(&buf[..k]);
                        n.fetch_add(c, Ordering::SeqCst);
                    }
                }
            }
        }));
        let (mut se, e) = (child.stderr.take().unwrap(), stderr.clone());
        threads.push(std::thread::spawn(move || {
            let _ = se.read_to_end(&mut e.lock().unwrap());
        }));
        Watched {
            child,
            stdout,
            stderr,
            events,
            threads,
        }
    }

    /// Complete events seen so far (approximate while running: a tag may span two reads).
    pub fn events_seen(&self) -> usize {
        self.events.load(Ordering::SeqCst)
    }

    /// Wait for exit (or kill first) and collect the output.
    pub fn finish(mut self, kill: bool) -> RunOut {
        if kill {
            let _ = self.child.kill(); // SIGKILL on Unix
        }
        let status = self.child.wait().unwrap();
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        let stdout = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
        RunOut {
            code: status.code(),
            events: parse_events(&stdout),
            stdout,
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
            elapsed: Duration::ZERO,
        }
    }
}

/// A fresh, empty checkpoint directory under the target dir (removed at the start of each test).
///
/// On Linux the directory is on tmpfs (`/dev/shm`) when available, which keeps the per-slice
/// checkpoint fsyncs cheap on a busy shared disk; `T1651_TEST_DISK_CHECKPOINTS=1` puts it under
/// the target dir instead. The code path is the same: durability against a SIGKILL never
/// depends on fsync (written data is in the page cache).
pub fn checkpoint_dir(name: &str) -> String {
    let shm = std::path::Path::new("/dev/shm");
    let root = if shm.is_dir() && std::env::var_os("T1651_TEST_DISK_CHECKPOINTS").is_none() {
        shm.join(format!("t1651-modinput-{}", std::process::id()))
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf()
    };
    let d = root.join(format!("modinput-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.to_string_lossy().into_owned()
}

/// Every byte of every file in a directory, as lossy text.
pub fn dir_text(dir: &str) -> String {
    let mut s = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            s.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    s
}

/// Assert no secret appears in a text.
pub fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        CLIENT_SECRET,
        SESSION_KEY,
        AWS_SECRET,
        "assumed-secret-",
        "session-token-",
        OTHER_APP_SECRET,
        WEB_IDENTITY_TOKEN,
        FEDERATED_TOKEN,
        IMDS_SESSION,
    ] {
        assert!(
            !text.contains(secret),
            "{what} contains a secret ({secret})"
        );
    }
}
