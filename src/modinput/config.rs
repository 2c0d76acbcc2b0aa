//! Turning a stanza's parameters into a typed, validated configuration.
//!
//! `--validate-arguments` and a normal run share [`StanzaConfig::from_stanza`], so anything
//! splunkd accepted at creation time is what the run gets. Errors name the parameter and
//! say what is expected.

use std::path::PathBuf;

use chrono::Duration;

use super::error::ModinputError;
use super::http::{check_endpoint, is_loopback_host};
use super::timespec::{parse_span, parse_start_from, StartFrom};
use super::xml_in::Stanza;
use crate::detect::operations::{AWS_DEFAULT_EVENT_NAMES, AZURE_DEFAULT_OPERATIONS};
use crate::detect::options::is_guid;

/// Azure cloud (sovereign clouds have their own login and management hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Public,
    UsGov,
    China,
}

impl Environment {
    /// Azure AD (Entra ID) authority base.
    pub fn authority_url(self) -> &'static str {
        match self {
            Environment::Public => "https://login.microsoftonline.com",
            Environment::UsGov => "https://login.microsoftonline.us",
            Environment::China => "https://login.chinacloudapi.cn",
        }
    }
    /// Hosts `azure_authority_url` may name in this cloud.
    pub fn authority_hosts(self) -> &'static [&'static str] {
        match self {
            Environment::Public => &["login.microsoftonline.com"],
            Environment::UsGov => &["login.microsoftonline.us"],
            Environment::China => &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
        }
    }
    /// Hosts `azure_management_url` may name in this cloud.
    pub fn management_hosts(self) -> &'static [&'static str] {
        match self {
            Environment::Public => &["management.azure.com"],
            Environment::UsGov => &["management.usgovcloudapi.net"],
            Environment::China => &["management.chinacloudapi.cn"],
        }
    }
    /// Azure Resource Manager base; also the token audience.
    pub fn management_url(self) -> &'static str {
        match self {
            Environment::Public => "https://management.azure.com",
            Environment::UsGov => "https://management.usgovcloudapi.net",
            Environment::China => "https://management.chinacloudapi.cn",
        }
    }
}

/// How the Azure input authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureAuth {
    /// App registration + client secret from storage/passwords (`credential`).
    ClientSecret,
    /// App registration + certificate: the credential holds the PEM certificate and its
    /// private key (PKCS#8 or PKCS#1 RSA); the input signs an RS256 client assertion.
    ClientCertificate,
    /// The managed identity of the VM / Arc server / scale set splunkd runs on (IMDS); a
    /// user-assigned identity is chosen by `client_id`.
    ManagedIdentity,
    /// Workload identity federation: the app registration trusts the token in the file named
    /// by `AZURE_FEDERATED_TOKEN_FILE` (AKS workload identity, other OIDC issuers).
    WorkloadIdentity,
}

fn azure_auth(stanza: &Stanza) -> Result<AzureAuth, ModinputError> {
    match stanza
        .params
        .get("azure_auth")
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("client_secret") => Ok(AzureAuth::ClientSecret),
        Some("client_certificate") => Ok(AzureAuth::ClientCertificate),
        Some("managed_identity") => Ok(AzureAuth::ManagedIdentity),
        Some("workload_identity") => Ok(AzureAuth::WorkloadIdentity),
        Some(other) => Err(ModinputError::param(
            "azure_auth",
            format!("`{other}` is not supported; expected client_secret, client_certificate, managed_identity or workload_identity"),
        )),
    }
}

/// How the AWS input gets its keys (see [`super::aws`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsAuth {
    /// `access_key_id` + secret access key from storage/passwords (`credential`).
    AccessKey,
    /// The standard chain: environment, shared config/credentials file profile, web identity
    /// (IRSA), ECS container credentials, EC2 instance metadata (IMDSv2), in that order; the
    /// first that is configured is used.
    Chain,
}

fn aws_auth(stanza: &Stanza) -> Result<AwsAuth, ModinputError> {
    match stanza
        .params
        .get("aws_auth")
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("access_key") => Ok(AwsAuth::AccessKey),
        Some("chain") => Ok(AwsAuth::Chain),
        Some(other) => Err(ModinputError::param(
            "aws_auth",
            format!("`{other}` is not supported; expected access_key or chain"),
        )),
    }
}

/// Azure-specific settings.
#[derive(Debug, Clone)]
pub struct AzureConfig {
    pub auth: AzureAuth,
    pub tenant_id: String,
    pub client_id: String,
    /// Empty: every subscription the principal can list.
    pub subscription_ids: Vec<String>,
    pub environment: Environment,
    /// Token endpoint base (no trailing slash).
    pub authority_url: String,
    /// ARM base (no trailing slash).
    pub management_url: String,
}

/// AWS-specific settings.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub auth: AwsAuth,
    /// Set with `aws_auth = access_key`.
    pub access_key_id: String,
    /// `ExternalId` sent with AssumeRole (the role's trust policy may require it).
    pub external_id: Option<String>,
    pub role_arn: Option<String>,
    /// Named regions (empty with `regions = all`).
    pub regions: Vec<String>,
    /// `regions = all`: every region enabled for the account (EC2 DescribeRegions with
    /// `AllRegions=false`, once per account and run), within [`AwsConfig::partition`].
    pub all_regions: bool,
    /// Region of the account-level calls (STS, EC2 DescribeRegions): `aws_home_region`, else
    /// the first named region, else us-east-1. Its partition is the stanza's.
    pub home_region: String,
    /// `aws`, `aws-us-gov` or `aws-cn`: every endpoint and role ARN of the stanza is in it.
    pub partition: &'static str,
    /// `aws_organization_role`: the role name assumed in every ACTIVE member account that
    /// Organizations ListAccounts returns (the stanza's identity is the management or
    /// delegated-administrator account).
    pub organization_role: Option<String>,
    /// CloudTrail endpoint template; `{region}` is replaced per region.
    pub endpoint_template: String,
    pub sts_url: String,
    /// Region STS requests are signed for: the one in the STS host, us-east-1 for the global
    /// endpoint, else (an emulator on loopback) the home region.
    pub sts_region: String,
    /// EC2 endpoint of the home region (DescribeRegions).
    pub ec2_url: String,
    /// Organizations endpoint and the region its requests are signed for.
    pub organizations_url: String,
    pub organizations_region: String,
}

impl AwsConfig {
    /// The CloudTrail URL of `region`, a name that may come from the network (DescribeRegions):
    /// it must be a region name of the stanza's partition, and the endpoint it makes must pass
    /// the same host allow-list as `aws_endpoint_url` itself.
    pub fn cloudtrail_url(&self, region: &str) -> Result<String, ModinputError> {
        if !is_region(region) || partition_of(region) != self.partition {
            return Err(ModinputError::param(
                "regions",
                format!(
                    "`{}` is not a region of partition {}",
                    super::error::excerpt(region),
                    self.partition
                ),
            ));
        }
        let url = self.endpoint_template.replace("{region}", region);
        check_allowed(
            "aws_endpoint_url",
            &url,
            Allowed::Aws {
                service: "cloudtrail",
                suffix: suffix_of(self.partition),
                partition: self.partition,
                global: false,
            },
            &format!("CloudTrail ({})", self.partition),
        )?;
        Ok(url)
    }

    /// The role ARN assumed in member account `account` (a 12-digit id) with
    /// `aws_organization_role`.
    pub fn member_role_arn(&self, account: &str) -> Option<String> {
        self.organization_role
            .as_ref()
            .map(|r| format!("arn:{}:iam::{account}:role/{r}", self.partition))
    }
}

/// The DNS suffix of a partition's endpoints.
fn suffix_of(partition: &str) -> &'static str {
    if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The region a request to `url` is signed for, when the host names one
/// (`sts.eu-west-1.amazonaws.com`).
fn region_in_host(url: &str) -> Option<String> {
    let host = url
        .parse::<ureq::http::Uri>()
        .ok()?
        .host()?
        .to_ascii_lowercase();
    host.split('.').find(|p| is_region(p)).map(str::to_string)
}

/// Which cloud the stanza collects from.
#[derive(Debug, Clone)]
pub enum CloudConfig {
    Azure(AzureConfig),
    Aws(AwsConfig),
}

/// A validated stanza.
#[derive(Debug, Clone)]
pub struct StanzaConfig {
    pub stanza: String,
    pub cloud: CloudConfig,
    /// Name of the storage/passwords entry (never the secret); `None` when the stanza's
    /// authentication needs no stored secret (managed identity, workload identity, ...).
    pub credential: Option<String>,
    /// Operation names (Azure) or event names (AWS), as configured.
    pub operations: Vec<String>,
    pub start_from: StartFrom,
    /// Each run re-reads this far before where the previous run stopped.
    pub overlap: Duration,
    /// Each run's window ends this long before the run's start (events still being delivered).
    pub settle_lag: Duration,
    /// Once an hour each source re-reads this far back (beyond `overlap`) for very late events;
    /// zero turns that off.
    pub late_window: Duration,
    /// Most pages one query may take (a slice of one source).
    pub max_pages: u32,
    /// A run stops starting new queries after this long; the next run continues.
    pub max_run_time: std::time::Duration,
    /// Sources (subscription × provider, region × event name) collected at the same time.
    pub workers: usize,
    pub proxy: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    /// Sourcetype written with each event.
    pub sourcetype: String,
}

/// Sourcetype of Azure events unless the stanza sets one (what Splunk content expects for the REST shape).
pub const AZURE_SOURCETYPE: &str = "mscs:azure:audit";
/// Sourcetype of CloudTrail events unless the stanza sets one.
pub const AWS_SOURCETYPE: &str = "aws:cloudtrail";

/// Default `overlap`: Activity Log and CloudTrail events commonly arrive minutes late, sometimes
/// much later; an hour of re-reading costs one extra query per source and catches nearly all.
pub const DEFAULT_OVERLAP: Duration = Duration::minutes(60);
/// Default `settle_lag`: the newest minutes are still being delivered.
pub const DEFAULT_SETTLE_LAG: Duration = Duration::minutes(5);
/// Default `late_window`: the hourly deep re-read for events later than the overlap.
pub const DEFAULT_LATE_WINDOW: Duration = Duration::hours(6);
/// Default `max_pages` per query (200 events per Activity Log page, 50 per LookupEvents page).
pub const DEFAULT_MAX_PAGES: u32 = 2000;
/// Default `workers`: enough to hide API latency for hundreds of sources, few enough to stay
/// well inside ARM's per-principal read limits.
pub const DEFAULT_WORKERS: usize = 8;
/// Largest `workers`.
pub const MAX_WORKERS: usize = 64;
/// Default `max_run_time`.
pub const DEFAULT_MAX_RUN_TIME: Duration = Duration::minutes(30);

const AZURE_ONLY: &[&str] = &[
    "azure_auth",
    "tenant_id",
    "client_id",
    "subscription_ids",
    "environment",
    "azure_authority_url",
    "azure_management_url",
];
const AWS_ONLY: &[&str] = &[
    "aws_auth",
    "external_id",
    "access_key_id",
    "role_arn",
    "regions",
    "aws_home_region",
    "aws_organization_role",
    "aws_endpoint_url",
    "aws_sts_url",
    "aws_ec2_url",
    "aws_organizations_url",
];

fn is_domain(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// A region name such as `us-east-1`, `us-gov-west-1` or `cn-northwest-1`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// A role ARN of any partition: `arn:aws:iam::123456789012:role/NAME`.
pub fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

/// Environment switch that lets endpoint overrides point at loopback (`127.0.0.0/8`, `::1`,
/// `localhost`) for tests and local emulators. Off unless set to exactly `1` in the environment
/// splunkd starts the input with: a user who may edit inputs cannot turn it on.
pub const LOOPBACK_SWITCH: &str = "T1651_MODINPUT_TEST_ONLY_ALLOW_LOOPBACK";

/// Whether [`LOOPBACK_SWITCH`] is on.
pub fn loopback_allowed() -> bool {
    std::env::var(LOOPBACK_SWITCH).is_ok_and(|v| v == "1")
}

/// The instance metadata service (Azure IMDS and AWS IMDSv2 share the link-local address).
pub const IMDS_URL: &str = "http://169.254.169.254";
/// The ECS container credentials endpoint for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
pub const ECS_CREDENTIALS_URL: &str = "http://169.254.170.2";

/// A metadata endpoint: `default`, or the loopback URL in the environment variable `var` when
/// the test-only loopback switch is on (tests point IMDS/ECS at the emulator that way; anything
/// else in `var` is ignored with a WARN).
pub fn metadata_url(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(u) => {
            let loopback = u
                .parse::<ureq::http::Uri>()
                .ok()
                .and_then(|x| x.host().map(is_loopback_host))
                .unwrap_or(false);
            if loopback && loopback_allowed() {
                u.trim_end_matches('/').to_string()
            } else {
                super::log::warn(&format!(
                    "{var} is ignored: only a loopback URL with {LOOPBACK_SWITCH}=1 (tests) may replace {default}"
                ));
                default.to_string()
            }
        }
        Err(_) => default.to_string(),
    }
}

/// Which hosts an endpoint setting may name.
#[derive(Debug, Clone, Copy)]
enum Allowed<'a> {
    /// Exactly these hosts.
    Hosts(&'a [&'a str]),
    /// `<service>[-fips].<region>.<suffix>` for a region of the partition, or
    /// `<service>.<suffix>` when `global` (the global STS endpoint).
    Aws {
        service: &'a str,
        suffix: &'a str,
        partition: &'a str,
        global: bool,
    },
}

impl Allowed<'_> {
    fn permits(&self, host: &str) -> bool {
        match *self {
            Allowed::Hosts(hosts) => hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
            Allowed::Aws {
                service,
                suffix,
                partition,
                global,
            } => {
                let host = host.to_ascii_lowercase();
                let Some(rest) = host.strip_suffix(suffix).and_then(|r| r.strip_suffix('.')) else {
                    return false;
                };
                if global && rest == service {
                    return true;
                }
                let Some((svc, region)) = rest.split_once('.') else {
                    return false;
                };
                (svc == service || svc.strip_suffix("-fips") == Some(service))
                    && is_region(region)
                    && partition_of(region) == partition
            }
        }
    }

    fn describe(&self) -> String {
        match *self {
            Allowed::Hosts(hosts) => hosts.join(" or "),
            Allowed::Aws {
                service,
                suffix,
                global,
                ..
            } => {
                let mut s =
                    format!("{service}.<region>.{suffix} (or {service}-fips.<region>.{suffix})");
                if global {
                    s.push_str(&format!(" or {service}.{suffix}"));
                }
                s
            }
        }
    }
}

/// Check one endpoint URL (after `{region}` substitution) against the allow-list: https, a
/// known host, no path beyond `/`, no query, no user info. Loopback only with [`LOOPBACK_SWITCH`].
fn check_allowed(
    name: &str,
    url: &str,
    allowed: Allowed<'_>,
    what: &str,
) -> Result<(), ModinputError> {
    check_endpoint(url).map_err(|m| ModinputError::param(name, m))?;
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|_| ModinputError::param(name, format!("`{url}` is not a URL")))?;
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if authority.contains('@') {
        return Err(ModinputError::param(
            name,
            "must not contain user information (user@host)",
        ));
    }
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return Err(ModinputError::param(
            name,
            format!("`{url}` must be a base URL without path or query, such as https://host"),
        ));
    }
    let host = uri.host().unwrap_or("");
    if is_loopback_host(host) {
        if loopback_allowed() {
            return Ok(());
        }
        return Err(ModinputError::param(
            name,
            format!("`{url}` points at loopback, which is refused unless the test-only switch {LOOPBACK_SWITCH}=1 is set in splunkd's environment"),
        ));
    }
    if allowed.permits(host) {
        Ok(())
    } else {
        Err(ModinputError::param(
            name,
            format!(
                "host `{host}` is not a known {what} host; expected {} (the credential is sent there, so only the cloud's own hosts are accepted)",
                allowed.describe()
            ),
        ))
    }
}

fn endpoint(
    stanza: &Stanza,
    name: &str,
    default: &str,
    allowed: Allowed<'_>,
    what: &str,
    regions: &[String],
) -> Result<String, ModinputError> {
    let url = stanza
        .params
        .get(name)
        .unwrap_or_else(|| default.to_string());
    let url = url.trim_end_matches('/').to_string();
    if regions.is_empty() {
        check_allowed(name, &url, allowed, what)?;
    }
    for r in regions {
        check_allowed(name, &url.replace("{region}", r), allowed, what)?;
    }
    Ok(url)
}

/// The AWS partition of a region name.
pub fn partition_of(r: &str) -> &'static str {
    if r.starts_with("cn-") {
        "aws-cn"
    } else if r.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl StanzaConfig {
    /// Validate a stanza. The first problem found is returned, naming its parameter.
    pub fn from_stanza(stanza: &Stanza) -> Result<Self, ModinputError> {
        let p = &stanza.params;
        let cloud_name = p
            .get("cloud")
            .ok_or_else(|| ModinputError::param("cloud", "is required; expected azure or aws"))?
            .to_ascii_lowercase();
        let (wrong, cloud_is) = match cloud_name.as_str() {
            "azure" => (AWS_ONLY, "azure"),
            "aws" => (AZURE_ONLY, "aws"),
            other => {
                return Err(ModinputError::param(
                    "cloud",
                    format!("`{other}` is not supported; expected azure or aws"),
                ))
            }
        };
        if let Some(name) = wrong.iter().find(|n| p.get(n).is_some()) {
            return Err(ModinputError::param(
                *name,
                format!("does not apply to cloud = {cloud_is}; remove it or change cloud"),
            ));
        }
        let needs_secret = if cloud_is == "azure" {
            matches!(
                azure_auth(stanza)?,
                AzureAuth::ClientSecret | AzureAuth::ClientCertificate
            )
        } else {
            aws_auth(stanza)? == AwsAuth::AccessKey
        };
        let credential = match p.get("credential") {
            Some(c) => Some(c),
            None if !needs_secret => None,
            None => return Err(ModinputError::param(
                "credential",
                "is required; expected the name of the storage/passwords entry holding the secret",
            )),
        };
        if credential
            .as_deref()
            .is_some_and(|c| c.chars().any(|c| c.is_control()))
        {
            return Err(ModinputError::param(
                "credential",
                "contains control characters",
            ));
        }
        let cloud = if cloud_is == "azure" {
            CloudConfig::Azure(azure(stanza)?)
        } else {
            CloudConfig::Aws(aws(stanza)?)
        };
        let operations = {
            let configured = p.get_list("operations");
            if configured.is_empty() {
                let defaults = match cloud {
                    CloudConfig::Azure(_) => AZURE_DEFAULT_OPERATIONS,
                    CloudConfig::Aws(_) => AWS_DEFAULT_EVENT_NAMES,
                };
                defaults.iter().map(|s| s.to_string()).collect()
            } else {
                configured
            }
        };
        for op in &operations {
            let ok = match cloud {
                CloudConfig::Azure(_) => {
                    let mut segs = op.split('/');
                    let provider = segs.next().unwrap_or_default();
                    provider.contains('.') && segs.count() >= 2
                }
                CloudConfig::Aws(_) => op.chars().all(|c| c.is_ascii_alphanumeric()),
            };
            if !ok {
                let expected = match cloud {
                    CloudConfig::Azure(_) => "an Azure operation name such as Microsoft.Compute/virtualMachines/runCommand/action",
                    CloudConfig::Aws(_) => "a CloudTrail event name such as SendCommand",
                };
                return Err(ModinputError::param(
                    "operations",
                    format!("`{op}` is not {expected}"),
                ));
            }
        }
        let start_from = match p.get("start_from") {
            None => StartFrom::Ago(Duration::hours(24)),
            Some(s) => parse_start_from(&s).map_err(|m| ModinputError::param("start_from", m))?,
        };
        let span = |name: &str, default: Duration| -> Result<Duration, ModinputError> {
            let d = match p.get(name) {
                None => default,
                Some(s) => parse_span(&s).map_err(|m| ModinputError::param(name, m))?,
            };
            if d > Duration::days(7) {
                return Err(ModinputError::param(
                    name,
                    "is longer than 7d; expected a span of minutes or hours such as 60m",
                ));
            }
            Ok(d)
        };
        let overlap = span("overlap", DEFAULT_OVERLAP)?;
        let settle_lag = span("settle_lag", DEFAULT_SETTLE_LAG)?;
        if settle_lag > Duration::hours(1) {
            return Err(ModinputError::param(
                "settle_lag",
                "is longer than 1h; expected a few minutes such as 5m",
            ));
        }
        let late_window = span("late_window", DEFAULT_LATE_WINDOW)?;
        let max_pages = match p.get("max_pages") {
            None => DEFAULT_MAX_PAGES,
            Some(s) => match s.trim().parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(ModinputError::param(
                        "max_pages",
                        format!("`{s}` is not a whole number from 1 to 1000000"),
                    ))
                }
            },
        };
        let max_run_time = span("max_run_time", DEFAULT_MAX_RUN_TIME)?;
        if max_run_time < Duration::seconds(1) {
            return Err(ModinputError::param(
                "max_run_time",
                "must be at least 1s; expected a span such as 30m",
            ));
        }
        let max_run_time =
            std::time::Duration::from_secs(max_run_time.num_seconds().unsigned_abs());
        let workers = match p.get("workers") {
            None => DEFAULT_WORKERS,
            Some(s) => match s.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_WORKERS).contains(&n) => n,
                _ => {
                    return Err(ModinputError::param(
                        "workers",
                        format!("`{s}` is not a whole number from 1 to {MAX_WORKERS}"),
                    ))
                }
            },
        };
        let proxy = match p.get("proxy") {
            None => None,
            Some(u) => {
                let lower = u.to_ascii_lowercase();
                let ok = ["http://", "https://", "socks4://", "socks5://"]
                    .iter()
                    .any(|s| lower.starts_with(s))
                    && ureq::Proxy::new(&u).is_ok();
                if !ok {
                    return Err(ModinputError::param(
                        "proxy",
                        "expected a proxy URL such as http://proxy.example.com:3128",
                    ));
                }
                Some(u)
            }
        };
        let ca_bundle = match p.get("ca_bundle") {
            None => None,
            Some(path) => {
                let path = PathBuf::from(path);
                super::http::load_ca_bundle(&path)
                    .map_err(|m| ModinputError::param("ca_bundle", m))?;
                Some(path)
            }
        };
        let sourcetype = p.get("sourcetype").unwrap_or_else(|| {
            match cloud {
                CloudConfig::Azure(_) => AZURE_SOURCETYPE,
                CloudConfig::Aws(_) => AWS_SOURCETYPE,
            }
            .to_string()
        });
        Ok(StanzaConfig {
            stanza: stanza.name.clone(),
            cloud,
            credential,
            operations,
            start_from,
            overlap,
            settle_lag,
            late_window,
            max_pages,
            max_run_time,
            workers,
            proxy,
            ca_bundle,
            sourcetype,
        })
    }
}

fn azure(stanza: &Stanza) -> Result<AzureConfig, ModinputError> {
    let p = &stanza.params;
    let tenant_id = p.get("tenant_id").ok_or_else(|| {
        ModinputError::param(
            "tenant_id",
            "is required for cloud = azure; expected the tenant GUID or domain",
        )
    })?;
    if !is_guid(&tenant_id) && !is_domain(&tenant_id) {
        return Err(ModinputError::param(
            "tenant_id",
            format!("`{tenant_id}` is not a tenant GUID (00000000-0000-0000-0000-000000000000) or domain (contoso.onmicrosoft.com)"),
        ));
    }
    let auth = azure_auth(stanza)?;
    let client_id = match p.get("client_id") {
        Some(c) => c,
        // System-assigned managed identity: no client id.
        None if auth == AzureAuth::ManagedIdentity => String::new(),
        None => {
            return Err(ModinputError::param(
                "client_id",
                "is required for cloud = azure; expected the application (client) GUID",
            ))
        }
    };
    if !client_id.is_empty() && !is_guid(&client_id) {
        return Err(ModinputError::param(
            "client_id",
            format!("`{client_id}` is not a GUID (00000000-0000-0000-0000-000000000000)"),
        ));
    }
    let subscription_ids = p.get_list("subscription_ids");
    if let Some(bad) = subscription_ids.iter().find(|s| !is_guid(s)) {
        return Err(ModinputError::param(
            "subscription_ids",
            format!("`{bad}` is not a subscription GUID; expected a comma-separated list of GUIDs, or nothing for all subscriptions"),
        ));
    }
    let environment = match p
        .get("environment")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("public") | Some("azurecloud") => Environment::Public,
        Some("usgov") | Some("azureusgovernment") => Environment::UsGov,
        Some("china") | Some("azurechinacloud") => Environment::China,
        Some(other) => {
            return Err(ModinputError::param(
                "environment",
                format!("`{other}` is not supported; expected public, usgov or china"),
            ))
        }
    };
    Ok(AzureConfig {
        auth,
        tenant_id,
        client_id,
        subscription_ids,
        environment,
        authority_url: endpoint(
            stanza,
            "azure_authority_url",
            environment.authority_url(),
            Allowed::Hosts(environment.authority_hosts()),
            "Entra ID authority",
            &[],
        )?,
        management_url: endpoint(
            stanza,
            "azure_management_url",
            environment.management_url(),
            Allowed::Hosts(environment.management_hosts()),
            "Azure Resource Manager",
            &[],
        )?,
    })
}

fn aws(stanza: &Stanza) -> Result<AwsConfig, ModinputError> {
    let p = &stanza.params;
    let auth = aws_auth(stanza)?;
    let access_key_id = match (auth, p.get("access_key_id")) {
        (AwsAuth::AccessKey, Some(k)) => k,
        (AwsAuth::AccessKey, None) => return Err(ModinputError::param(
            "access_key_id",
            "is required for cloud = aws; expected an access key ID such as AKIAIOSFODNN7EXAMPLE",
        )),
        (AwsAuth::Chain, None) => String::new(),
        (AwsAuth::Chain, Some(_)) => {
            return Err(ModinputError::param(
                "access_key_id",
                "does not apply to aws_auth = chain (the chain finds the keys); remove it",
            ))
        }
    };
    let external_id = p.get("external_id");
    if let Some(x) = &external_id {
        if !(2..=1224).contains(&x.len())
            || !x
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c))
        {
            return Err(ModinputError::param(
                "external_id",
                "expected 2 to 1224 letters, digits or +=,.@:/-_ (the value the role's trust policy names)",
            ));
        }
    }
    if auth == AwsAuth::Chain {
        // validated below with the other settings
    } else if !(16..=128).contains(&access_key_id.len())
        || !access_key_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(ModinputError::param(
            "access_key_id",
            "expected 16 to 128 upper-case letters and digits, such as AKIAIOSFODNN7EXAMPLE",
        ));
    }
    let role_arn = p.get("role_arn");
    if let Some(arn) = &role_arn {
        if !is_role_arn(arn) {
            return Err(ModinputError::param(
                "role_arn",
                format!("`{arn}` is not a role ARN; expected arn:aws:iam::123456789012:role/NAME"),
            ));
        }
    }
    let named = p.get_list("regions");
    let all_regions = named.iter().any(|r| r.eq_ignore_ascii_case("all"));
    if all_regions && named.len() > 1 {
        return Err(ModinputError::param(
            "regions",
            "mixes `all` with named regions; expected either all (every region enabled for the account) or a list such as us-east-1,eu-west-1",
        ));
    }
    let regions = if all_regions { Vec::new() } else { named };
    if regions.is_empty() && !all_regions {
        return Err(ModinputError::param(
            "regions",
            "is required for cloud = aws; expected all or a comma-separated list such as us-east-1,eu-west-1",
        ));
    }
    if let Some(bad) = regions.iter().find(|r| !is_region(r)) {
        return Err(ModinputError::param(
            "regions",
            format!("`{bad}` is not a region name; expected all or names such as us-east-1"),
        ));
    }
    // One stanza, one partition: endpoints, STS and the signing keys all differ between them.
    if regions
        .iter()
        .any(|r| partition_of(r) != partition_of(&regions[0]))
    {
        return Err(ModinputError::param(
            "regions",
            "mixes AWS partitions (China cn-*, GovCloud us-gov-*, commercial); expected regions of one partition per stanza",
        ));
    }
    let home_region = match p.get("aws_home_region") {
        Some(h) => {
            if !is_region(&h) {
                return Err(ModinputError::param(
                    "aws_home_region",
                    format!("`{h}` is not a region name; expected a name such as us-east-1"),
                ));
            }
            if regions
                .first()
                .is_some_and(|r| partition_of(r) != partition_of(&h))
            {
                return Err(ModinputError::param(
                    "aws_home_region",
                    "is in another partition than regions; expected a region of the same partition",
                ));
            }
            h
        }
        None => regions
            .first()
            .cloned()
            .unwrap_or_else(|| "us-east-1".to_string()),
    };
    let partition = partition_of(&home_region);
    let suffix = suffix_of(partition);
    let organization_role = p.get("aws_organization_role");
    if let Some(r) = &organization_role {
        if !(1..=64).contains(&r.len())
            || !r
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return Err(ModinputError::param(
                "aws_organization_role",
                format!("`{}` is not a role name; expected 1 to 64 letters, digits or +=,.@_- such as OrganizationAccountAccessRole", super::error::excerpt(r)),
            ));
        }
    }
    let default_ct = format!("https://cloudtrail.{{region}}.{suffix}");
    // Regional STS by default (AWS's recommendation): the home region's endpoint.
    let default_sts = format!("https://sts.{home_region}.{suffix}");
    let checked_regions: Vec<String> = if all_regions {
        vec![home_region.clone()]
    } else {
        regions.clone()
    };
    let endpoint_template = endpoint(
        stanza,
        "aws_endpoint_url",
        &default_ct,
        Allowed::Aws {
            service: "cloudtrail",
            suffix,
            partition,
            global: false,
        },
        &format!("CloudTrail ({partition})"),
        &checked_regions,
    )?;
    let sts_url = endpoint(
        stanza,
        "aws_sts_url",
        &default_sts,
        Allowed::Aws {
            service: "sts",
            suffix,
            partition,
            global: partition == "aws",
        },
        &format!("STS ({partition})"),
        &[],
    )?;
    if sts_url.contains("{region}") {
        return Err(ModinputError::param(
            "aws_sts_url",
            "must name one STS endpoint, without {region}",
        ));
    }
    let sts_region = region_in_host(&sts_url).unwrap_or_else(|| {
        if sts_url.contains(&format!("//sts.{suffix}")) {
            "us-east-1".to_string()
        } else {
            home_region.clone()
        }
    });
    let ec2_url = endpoint(
        stanza,
        "aws_ec2_url",
        &format!("https://ec2.{home_region}.{suffix}"),
        Allowed::Aws {
            service: "ec2",
            suffix,
            partition,
            global: false,
        },
        &format!("EC2 ({partition})"),
        &[],
    )?;
    // Organizations has one endpoint per partition.
    let org_home = match partition {
        "aws-cn" => "cn-northwest-1",
        "aws-us-gov" => "us-gov-west-1",
        _ => "us-east-1",
    };
    let organizations_url = endpoint(
        stanza,
        "aws_organizations_url",
        &format!("https://organizations.{org_home}.{suffix}"),
        Allowed::Aws {
            service: "organizations",
            suffix,
            partition,
            global: false,
        },
        &format!("Organizations ({partition})"),
        &[],
    )?;
    let organizations_region =
        region_in_host(&organizations_url).unwrap_or_else(|| org_home.to_string());
    for (name, url) in [
        ("aws_ec2_url", &ec2_url),
        ("aws_organizations_url", &organizations_url),
    ] {
        if url.contains("{region}") {
            return Err(ModinputError::param(
                name,
                "must name one endpoint, without {region}",
            ));
        }
    }
    if external_id.is_some() && role_arn.is_none() && organization_role.is_none() {
        return Err(ModinputError::param(
            "external_id",
            "applies only with role_arn or aws_organization_role (it is sent with AssumeRole)",
        ));
    }
    Ok(AwsConfig {
        auth,
        access_key_id,
        external_id,
        role_arn,
        regions,
        all_regions,
        home_region,
        partition,
        organization_role,
        endpoint_template,
        sts_url,
        sts_region,
        ec2_url,
        organizations_url,
        organizations_region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modinput::xml_in::Params;

    fn stanza(pairs: &[(&str, &str)]) -> Stanza {
        let mut params = Params::default();
        for (k, v) in pairs {
            params.set(k, v);
        }
        Stanza {
            name: "t1651_cloud_audit://t".into(),
            params,
        }
    }

    const GUID: &str = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";

    /// The GUID fields take the 8-4-4-4-12 hex form in either case and refuse every near
    /// miss with an error naming the field: a dash moved, a digit not hex, a group short,
    /// braces, a trailing space, a non-ASCII digit.
    #[test]
    fn guid_fields_refuse_near_misses() {
        let azure = |field: &str, v: &str| {
            let mut pairs = vec![
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", GUID),
                ("client_id", GUID),
            ];
            pairs.retain(|(k, _)| *k != field);
            pairs.push((field, v));
            StanzaConfig::from_stanza(&stanza(&pairs))
        };
        let upper = GUID.to_uppercase();
        for field in ["tenant_id", "client_id", "subscription_ids"] {
            assert!(azure(field, &upper).is_ok(), "{field}");
            for bad in [
                "0b1f64711-bf0-4dda-aec3-cb9272f09590",
                "0b1f6471-1bf0-4dda-aec3-cb9272f0959g",
                "0b1f6471-1bf0-4dda-aec3-cb9272f0959",
                "{0b1f6471-1bf0-4dda-aec3-cb9272f09590}",
                "0b1f6471-1bf0-4dda-aec3-cb9272f09590 x",
                "0b1f6471-1bf0-4dda-aec3-cb9272f0959\u{0663}",
            ] {
                let e = azure(field, bad).unwrap_err().to_string();
                assert!(e.contains(&format!("`{field}`")), "{field}={bad}: {e}");
                assert!(e.contains("GUID"), "{field}={bad}: {e}");
            }
        }
    }

    #[test]
    fn azure_defaults() {
        let c = StanzaConfig::from_stanza(&stanza(&[
            ("cloud", "azure"),
            ("tenant_id", "contoso.onmicrosoft.com"),
            ("client_id", GUID),
            ("credential", "t1651:prod:"),
        ]))
        .unwrap();
        assert_eq!(c.operations.len(), AZURE_DEFAULT_OPERATIONS.len());
        assert_eq!(c.sourcetype, AZURE_SOURCETYPE);
        assert_eq!(c.overlap, Duration::minutes(60));
        assert_eq!(c.settle_lag, Duration::minutes(5));
        let CloudConfig::Azure(a) = c.cloud else {
            panic!("azure")
        };
        assert_eq!(a.management_url, "https://management.azure.com");
        assert!(a.subscription_ids.is_empty());
    }

    /// STS defaults to the first region's regional endpoint, in the regions' partition.
    #[test]
    fn aws_defaults_are_regional_endpoints() {
        for (regions, ct, sts) in [
            (
                "eu-west-1,us-east-1",
                "https://cloudtrail.{region}.amazonaws.com",
                "https://sts.eu-west-1.amazonaws.com",
            ),
            (
                "us-gov-west-1",
                "https://cloudtrail.{region}.amazonaws.com",
                "https://sts.us-gov-west-1.amazonaws.com",
            ),
            (
                "cn-northwest-1",
                "https://cloudtrail.{region}.amazonaws.com.cn",
                "https://sts.cn-northwest-1.amazonaws.com.cn",
            ),
        ] {
            let c = StanzaConfig::from_stanza(&stanza(&[
                ("cloud", "aws"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("credential", "t1651:aws:"),
                ("regions", regions),
            ]))
            .unwrap();
            let CloudConfig::Aws(a) = c.cloud else {
                panic!("aws")
            };
            assert_eq!(
                (a.endpoint_template.as_str(), a.sts_url.as_str()),
                (ct, sts)
            );
        }
    }

    fn aws_stanza(extra: &[(&str, &str)]) -> Result<AwsConfig, ModinputError> {
        let mut pairs = vec![
            ("cloud", "aws"),
            ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
            ("credential", "t1651:aws:"),
        ];
        pairs.extend_from_slice(extra);
        StanzaConfig::from_stanza(&stanza(&pairs)).map(|c| match c.cloud {
            CloudConfig::Aws(a) => a,
            CloudConfig::Azure(_) => panic!("aws"),
        })
    }

    /// `regions = all`: no named region, the home region decides the partition and the
    /// account-level endpoints; `all` next to a named region is an error naming `regions`.
    #[test]
    fn aws_regions_all_and_home_region() {
        let a = aws_stanza(&[("regions", "all")]).unwrap();
        assert!(a.all_regions && a.regions.is_empty());
        assert_eq!(
            (a.home_region.as_str(), a.partition, a.sts_region.as_str()),
            ("us-east-1", "aws", "us-east-1")
        );
        assert_eq!(a.ec2_url, "https://ec2.us-east-1.amazonaws.com");
        assert_eq!(
            a.organizations_url,
            "https://organizations.us-east-1.amazonaws.com"
        );
        let g = aws_stanza(&[("regions", "ALL"), ("aws_home_region", "us-gov-west-1")]).unwrap();
        assert_eq!(g.partition, "aws-us-gov");
        assert_eq!(g.sts_url, "https://sts.us-gov-west-1.amazonaws.com");
        assert_eq!(
            g.organizations_url,
            "https://organizations.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            g.cloudtrail_url("us-gov-east-1").unwrap(),
            "https://cloudtrail.us-gov-east-1.amazonaws.com"
        );
        // Names from DescribeRegions outside the partition, or not region names, are refused.
        for bad in ["us-east-1", "evil.example.com", "us-gov-east-1/x", ""] {
            assert!(g.cloudtrail_url(bad).is_err(), "{bad}");
        }
        let c = aws_stanza(&[("regions", "all"), ("aws_home_region", "cn-north-1")]).unwrap();
        assert_eq!(
            c.member_role_arn("111122223333"),
            None,
            "no organization role configured"
        );
        assert_eq!(
            c.organizations_url,
            "https://organizations.cn-northwest-1.amazonaws.com.cn"
        );
        let o = aws_stanza(&[
            ("regions", "cn-north-1"),
            ("aws_organization_role", "OrganizationAccountAccessRole"),
        ])
        .unwrap();
        assert_eq!(
            o.member_role_arn("111122223333").as_deref(),
            Some("arn:aws-cn:iam::111122223333:role/OrganizationAccountAccessRole")
        );
        for (extra, param) in [
            (&[("regions", "all,us-east-1")][..], "`regions`"),
            (&[("regions", "eu-west-1, all")][..], "`regions`"),
            (
                &[("regions", "eu-west-1"), ("aws_home_region", "cn-north-1")][..],
                "`aws_home_region`",
            ),
            (
                &[("regions", "all"), ("aws_home_region", "moon")][..],
                "`aws_home_region`",
            ),
            (
                &[("regions", "all"), ("aws_organization_role", "a/b")][..],
                "`aws_organization_role`",
            ),
            (
                &[
                    ("regions", "all"),
                    ("aws_ec2_url", "https://ec2.evil.example.com"),
                ][..],
                "`aws_ec2_url`",
            ),
            (
                &[
                    ("regions", "all"),
                    (
                        "aws_organizations_url",
                        "https://organizations.us-east-1.evil.com",
                    ),
                ][..],
                "`aws_organizations_url`",
            ),
            (
                &[
                    ("regions", "all"),
                    ("aws_organizations_url", "http://127.0.0.1:9"),
                ][..],
                "`aws_organizations_url`",
            ),
            (
                &[("regions", "all"), ("external_id", "abc123")][..],
                "`external_id`",
            ),
        ] {
            let e = aws_stanza(extra).unwrap_err().to_string();
            assert!(e.contains(param), "{extra:?}: {e}");
        }
        // external_id goes with aws_organization_role too.
        aws_stanza(&[
            ("regions", "all"),
            ("aws_organization_role", "Audit"),
            ("external_id", "abc123"),
        ])
        .unwrap();
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "`cloud`"),
            (&[("cloud", "gcp")], "`cloud`"),
            (&[("cloud", "aws"), ("credential", "c")], "`access_key_id`"),
            (
                &[
                    ("cloud", "aws"),
                    ("credential", "c"),
                    ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                    ("regions", "mars"),
                ],
                "`regions`",
            ),
            (
                &[("cloud", "aws"), ("credential", "c"), ("tenant_id", GUID)],
                "`tenant_id`",
            ),
            (
                &[
                    ("cloud", "aws"),
                    ("credential", "c"),
                    ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                    ("regions", "us-east-1,cn-north-1"),
                ],
                "`regions`",
            ),
            (
                &[
                    ("cloud", "azure"),
                    ("credential", "c"),
                    ("tenant_id", GUID),
                    ("client_id", "nope"),
                ],
                "`client_id`",
            ),
            (
                &[
                    ("cloud", "azure"),
                    ("credential", "c"),
                    ("tenant_id", GUID),
                    ("client_id", GUID),
                    ("overlap", "5 fortnights"),
                ],
                "`overlap`",
            ),
            (
                &[
                    ("cloud", "azure"),
                    ("credential", "c"),
                    ("tenant_id", GUID),
                    ("client_id", GUID),
                    ("azure_management_url", "http://example.com"),
                ],
                "`azure_management_url`",
            ),
            (
                &[("cloud", "azure"), ("tenant_id", GUID), ("client_id", GUID)],
                "`credential`",
            ),
        ];
        for (pairs, needle) in cases {
            let e = StanzaConfig::from_stanza(&stanza(pairs))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{pairs:?}: {e}");
        }
    }
}
