//! The introspection scheme printed by `--scheme`, and the one list of parameters it declares.

use quick_xml::escape::escape;

/// Scheme name: the executable's file name and the `inputs.conf` stanza prefix.
pub const SCHEME_NAME: &str = "t1651_cloud_audit";

/// One stanza parameter as declared to splunkd.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// `string`, `number` or `boolean` (all ours are strings: lists and spans are text).
    pub data_type: &'static str,
    pub required_on_create: bool,
    pub required_on_edit: bool,
}

const fn p(name: &'static str, title: &'static str, description: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        title,
        description,
        data_type: "string",
        required_on_create: false,
        required_on_edit: false,
    }
}

/// Every parameter, in the order the UI shows them. `app/README/inputs.conf.spec` lists the same names.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        required_on_create: true,
        ..p("cloud", "Cloud", "Which audit log to collect: azure (Activity Log) or aws (CloudTrail).")
    },
    p("azure_auth", "Azure authentication", "Azure only: client_secret (default; the secret is the credential), client_certificate (the credential holds the PEM certificate and its RSA private key; an RS256 client assertion is signed), managed_identity (the identity of the VM or Arc server splunkd runs on; client_id selects a user-assigned one; no credential) or workload_identity (federated token file named by AZURE_FEDERATED_TOKEN_FILE; no credential)."),
    p("tenant_id", "Azure tenant ID", "Azure only, required: the directory (tenant) ID or domain of the app registration."),
    p("client_id", "Azure client ID", "Azure only, required: the application (client) ID of the app registration."),
    p("subscription_ids", "Azure subscription IDs", "Azure only: comma-separated subscription IDs. Empty: every subscription the app registration can read."),
    p("environment", "Azure environment", "Azure only: public (default), usgov or china."),
    p("aws_auth", "AWS authentication", "AWS only: access_key (default; access_key_id plus the secret key stored as the credential) or chain (the standard chain: environment, shared config/credentials file profile (static keys, role_arn + source_profile, or credential_process; not SSO), web identity/IRSA, ECS container credentials, EC2 instance metadata with IMDSv2; no credential)."),
    p("access_key_id", "AWS access key ID", "AWS only, required: the access key ID whose secret key is stored in the credential."),
    p("role_arn", "AWS role ARN", "AWS only, optional: a role to assume with STS AssumeRole before calling CloudTrail (and, with aws_organization_role, before listing the organization)."),
    p("external_id", "AWS external ID", "AWS only, optional: the ExternalId sent with AssumeRole (role_arn and aws_organization_role) when the role's trust policy requires one."),
    p("regions", "AWS regions", "AWS only, required: comma-separated regions to query, e.g. us-east-1,eu-west-1, or all: every region enabled for each account (EC2 DescribeRegions, once per account and run; needs ec2:DescribeRegions). all cannot be combined with named regions."),
    p("aws_home_region", "AWS home region", "AWS only, optional: region of STS and EC2 DescribeRegions; its partition (aws, aws-us-gov, aws-cn) is the stanza's. Default: the first of regions, or us-east-1 with regions = all."),
    p("aws_organization_role", "AWS Organizations member role", "AWS only, optional: a role name (e.g. OrganizationAccountAccessRole). The stanza's identity (management or delegated administrator account) lists the organization's accounts (organizations:ListAccounts), assumes arn:<partition>:iam::<account>:role/<name> in every ACTIVE account and collects each across the regions. An account whose role cannot be assumed is logged and counted; the others are collected."),
    // Not required on create: managed identity, workload identity and the AWS chain need none
    // (validation requires it for client_secret and access_key).
    p("credential", "Credential name", "Exact name (realm:username:, e.g. t1651:prod-reader:) of this app's storage/passwords entry holding the client secret (Azure) or the secret access key (AWS). Required for azure_auth = client_secret and aws_auth = access_key. The secret itself never goes into inputs.conf."),
    p("operations", "Operations", "Comma-separated operations to collect: Azure operation names or CloudTrail event names. Default: the operations t1651detect detects."),
    p("start_from", "Start from", "Where a new input starts: relative (-24h, -7d) or ISO-8601 (2024-05-01T00:00:00Z). Default -24h. Ignored once a checkpoint exists."),
    p("overlap", "Overlap", "How far back each run re-reads to catch late-arriving events, e.g. 60m (default). Events already sent are not sent again."),
    p("settle_lag", "Settle lag", "Each run reads up to this long before now, leaving the newest minutes (still being delivered) to the next run. Default 5m."),
    p("late_window", "Late window", "Once an hour each source re-reads this far back, beyond the overlap, and sends (with a WARN naming the id) events that arrived later than the overlap. Default 6h; 0 turns it off."),
    p("max_pages", "Max pages per query", "Most pages one query (one source, one hour) may take before it is reported as an error. Default 2000."),
    p("max_run_time", "Max run time", "A run starts no new query after this long; the next run continues from the checkpoint. Default 30m."),
    p("workers", "Concurrent sources", "How many sources (subscription x resource provider, account x region x event name) are collected at the same time, and how many AWS accounts are set up at once. Default 8, at most 64. LookupEvents calls stay within 2 per second per account and region whatever this is."),
    p("azure_authority_url", "Azure authority URL", "Override of the Entra ID token endpoint base; only the environment's own hosts are accepted (e.g. https://login.microsoftonline.com). Default from environment."),
    p("azure_management_url", "Azure management URL", "Override of the Azure Resource Manager base URL; only the environment's own host is accepted (e.g. https://management.azure.com). Default from environment."),
    p("aws_endpoint_url", "AWS CloudTrail endpoint URL", "Override of the CloudTrail endpoint; {region} is replaced by each region. Only cloudtrail[-fips].<region> hosts of the regions' partition are accepted. Default https://cloudtrail.{region}.amazonaws.com."),
    p("aws_sts_url", "AWS STS endpoint URL", "Override of the STS endpoint used for role_arn and aws_organization_role. Only sts[-fips].<region> hosts of the partition (or sts.amazonaws.com) are accepted. Default: the home region's regional endpoint."),
    p("aws_ec2_url", "AWS EC2 endpoint URL", "Override of the EC2 endpoint used for DescribeRegions (regions = all). Only ec2[-fips].<region> hosts of the partition are accepted. Default: the home region's endpoint."),
    p("aws_organizations_url", "AWS Organizations endpoint URL", "Override of the Organizations endpoint (aws_organization_role). Only organizations[-fips].<region> hosts of the partition are accepted. Default: the partition's endpoint (organizations.us-east-1.amazonaws.com)."),
    p("proxy", "Proxy", "Optional HTTP(S) proxy URL for the cloud APIs, e.g. http://proxy.example.com:3128. Hosts listed in NO_PROXY are reached directly."),
    p("ca_bundle", "CA bundle", "Optional path of a PEM file with CA certificates to trust in addition to the built-in roots (e.g. for a TLS-inspecting proxy)."),
];

/// The scheme XML: external validation on, one process per stanza, XML streaming.
pub fn scheme_xml() -> String {
    let mut x = String::new();
    x.push_str("<scheme>\n");
    x.push_str("  <title>T1651 cloud audit</title>\n");
    x.push_str("  <description>Collects Azure Activity Log and AWS CloudTrail events of cloud administration commands (MITRE ATT&amp;CK T1651) from the cloud APIs.</description>\n");
    x.push_str("  <use_external_validation>true</use_external_validation>\n");
    x.push_str("  <use_single_instance>false</use_single_instance>\n");
    x.push_str("  <streaming_mode>xml</streaming_mode>\n");
    x.push_str("  <endpoint>\n    <args>\n");
    for a in PARAMS {
        x.push_str(&format!(
            "      <arg name=\"{}\">\n        <title>{}</title>\n        <description>{}</description>\n        <data_type>{}</data_type>\n        <required_on_create>{}</required_on_create>\n        <required_on_edit>{}</required_on_edit>\n      </arg>\n",
            a.name,
            escape(a.title),
            escape(a.description),
            a.data_type,
            a.required_on_create,
            a.required_on_edit
        ));
    }
    x.push_str("    </args>\n  </endpoint>\n</scheme>\n");
    x
}
