//! The splunkd contract of `t1651_cloud_audit`: scheme, validation, input decoding, credentials.

mod modinput_support;

use chrono::{DateTime, Duration, Utc};
use modinput_support::fixtures::{
    aws_backlog, azure_backlog, lookup_events_entry, AZURE_NOISE_OPERATIONS,
};
use modinput_support::*;
use serde_json::Value;

/// The parameter names the app's README/inputs.conf.spec declares.
const EXPECTED_PARAMS: &[&str] = &[
    "cloud",
    "azure_auth",
    "tenant_id",
    "client_id",
    "subscription_ids",
    "environment",
    "aws_auth",
    "access_key_id",
    "role_arn",
    "external_id",
    "regions",
    "aws_home_region",
    "aws_organization_role",
    "credential",
    "operations",
    "start_from",
    "overlap",
    "settle_lag",
    "late_window",
    "max_pages",
    "max_run_time",
    "workers",
    "azure_authority_url",
    "azure_management_url",
    "aws_endpoint_url",
    "aws_sts_url",
    "aws_ec2_url",
    "aws_organizations_url",
    "proxy",
    "ca_bundle",
];

#[test]
fn scheme_parses_and_lists_every_parameter() {
    use quick_xml::events::Event;
    let out = run_bin(&["--scheme"], b"", &[]);
    assert_eq!(out.code, Some(0));
    let mut r = quick_xml::Reader::from_str(&out.stdout);
    let mut path: Vec<String> = Vec::new();
    let mut args: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut top: Vec<(String, String)> = Vec::new();
    loop {
        match r.read_event().expect("scheme is well-formed XML") {
            Event::Start(s) => {
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                if name == "arg" {
                    let n = s.try_get_attribute("name").unwrap().unwrap();
                    args.push((String::from_utf8_lossy(&n.value).into_owned(), Vec::new()));
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.decode().unwrap().trim().to_string();
                if text.is_empty() {
                    continue;
                }
                let leaf = path.last().cloned().unwrap_or_default();
                if path.iter().any(|p| p == "arg") {
                    args.last_mut().unwrap().1.push((leaf, text));
                } else {
                    top.push((leaf, text));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let get = |k: &str| top.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("use_external_validation"), Some("true"));
    assert_eq!(get("use_single_instance"), Some("false"));
    assert_eq!(get("streaming_mode"), Some("xml"));
    assert!(get("title").is_some());
    let names: Vec<&str> = args.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, EXPECTED_PARAMS);
    for (name, fields) in &args {
        for f in [
            "title",
            "description",
            "data_type",
            "required_on_create",
            "required_on_edit",
        ] {
            assert!(
                fields.iter().any(|(k, v)| k == f && !v.is_empty()),
                "{name} lacks {f}"
            );
        }
        let roc = &fields
            .iter()
            .find(|(k, _)| k == "required_on_create")
            .unwrap()
            .1;
        assert_eq!(roc == "true", *name == "cloud", "{name}");
    }
}

fn items(params: &[(&str, &str)]) -> String {
    let mut p = String::new();
    for (k, v) in params {
        p.push_str(&format!(
            "<param name=\"{k}\">{}</param>",
            quick_xml::escape::escape(*v)
        ));
    }
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><items><server_host>sh</server_host><server_uri>https://127.0.0.1:8089</server_uri><session_key>{SESSION_KEY}</session_key><checkpoint_dir>/tmp/x</checkpoint_dir><item name=\"prod\">{p}</item></items>")
}

#[test]
fn validation_accepts_good_and_rejects_bad_values_naming_the_parameter() {
    let good_azure = [
        ("cloud", "azure"),
        ("tenant_id", TENANT),
        ("client_id", CLIENT_ID),
        ("credential", CREDENTIAL),
        ("subscription_ids", SUB_A),
    ];
    let out = run_bin(
        &["--validate-arguments"],
        items(&good_azure).as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let good_aws = [
        ("cloud", "aws"),
        ("access_key_id", AWS_KEY_ID),
        ("role_arn", ROLE_ARN),
        ("regions", "us-east-1, eu-west-1"),
        ("credential", "c"),
        ("operations", "SendCommand,StartSession"),
        ("start_from", "2024-05-01T00:00:00Z"),
        ("overlap", "30m"),
    ];
    let out = run_bin(&["--validate-arguments"], items(&good_aws).as_bytes(), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let good_org = [
        ("cloud", "aws"),
        ("aws_auth", "chain"),
        ("regions", "all"),
        ("aws_home_region", "us-gov-west-1"),
        ("aws_organization_role", "OrganizationAccountAccessRole"),
        ("external_id", "t1651-ext"),
    ];
    let out = run_bin(&["--validate-arguments"], items(&good_org).as_bytes(), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // (stanza parameters, parameter named in the error, text saying what is expected)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let bad: &[Case] = &[
        (
            &[("cloud", "gcp"), ("credential", "c")],
            "cloud",
            "azure or aws",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("client_id", CLIENT_ID),
            ],
            "tenant_id",
            "required",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("subscription_ids", "prod-sub"),
            ],
            "subscription_ids",
            "GUID",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("environment", "moon"),
            ],
            "environment",
            "public, usgov or china",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("start_from", "last tuesday"),
            ],
            "start_from",
            "-24h",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("azure_management_url", "http://management.example.com"),
            ],
            "azure_management_url",
            "https://",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("operations", "runCommand"),
            ],
            "operations",
            "Azure operation name",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("ca_bundle", "/nonexistent/ca.pem"),
            ],
            "ca_bundle",
            "PEM",
        ),
        (
            &[
                ("cloud", "azure"),
                ("credential", "c"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("proxy", "proxy.example.com"),
            ],
            "proxy",
            "proxy URL",
        ),
        (
            &[
                ("cloud", "aws"),
                ("credential", "c"),
                ("access_key_id", AWS_KEY_ID),
                ("regions", "us-east-1"),
                ("role_arn", "admin"),
            ],
            "role_arn",
            "arn:aws:iam::",
        ),
        (
            &[
                ("cloud", "aws"),
                ("credential", "c"),
                ("access_key_id", AWS_KEY_ID),
            ],
            "regions",
            "us-east-1",
        ),
        (
            &[
                ("cloud", "aws"),
                ("credential", "c"),
                ("access_key_id", AWS_KEY_ID),
                ("regions", "us-east-1"),
                ("overlap", "15 minutes please"),
            ],
            "overlap",
            "15m",
        ),
        (
            &[
                ("cloud", "aws"),
                ("access_key_id", AWS_KEY_ID),
                ("regions", "us-east-1"),
            ],
            "credential",
            "storage/passwords",
        ),
        (
            &[
                ("cloud", "aws"),
                ("credential", "c"),
                ("access_key_id", AWS_KEY_ID),
                ("regions", "us-east-1"),
                ("tenant_id", TENANT),
            ],
            "tenant_id",
            "does not apply",
        ),
        (
            &[
                ("cloud", "aws"),
                ("credential", "c"),
                ("access_key_id", AWS_KEY_ID),
                ("regions", "all, us-east-1"),
            ],
            "regions",
            "mixes `all` with named regions",
        ),
        (
            &[
                ("cloud", "aws"),
                ("aws_auth", "chain"),
                ("regions", "all"),
                ("aws_organization_role", "T1651"),
                ("aws_organizations_url", "https://organizations.example.com"),
            ],
            "aws_organizations_url",
            "not a known Organizations (aws) host",
        ),
    ];
    for (params, param, expected) in bad {
        let out = run_bin(&["--validate-arguments"], items(params).as_bytes(), &[]);
        assert_ne!(out.code, Some(0), "{params:?} accepted");
        let msg = out
            .stdout
            .trim()
            .strip_prefix("<error><message>")
            .and_then(|s| s.strip_suffix("</message></error>"))
            .unwrap_or_else(|| panic!("not an <error><message>: {}", out.stdout));
        assert!(
            msg.contains(&format!("`{param}`")),
            "{msg} does not name {param}"
        );
        assert!(
            msg.contains(expected),
            "{msg} does not say what is expected ({expected})"
        );
        assert!(out.stderr.starts_with("ERROR "), "{}", out.stderr);
        assert_no_secret("validation output", &(out.stdout + &out.stderr));
    }
    // A real PEM bundle is accepted (the system's, when this machine has one).
    let system_bundle = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(system_bundle).exists() {
        let with_bundle = [
            ("cloud", "azure"),
            ("tenant_id", TENANT),
            ("client_id", CLIENT_ID),
            ("credential", "c"),
            ("ca_bundle", system_bundle),
            ("proxy", "http://proxy.example.com:3128"),
        ];
        let out = run_bin(
            &["--validate-arguments"],
            items(&with_bundle).as_bytes(),
            &[],
        );
        assert_eq!(out.code, Some(0), "{} {}", out.stdout, out.stderr);
    }
    let not_pem = std::env::current_exe().unwrap();
    let with_junk = [
        ("cloud", "azure"),
        ("tenant_id", TENANT),
        ("client_id", CLIENT_ID),
        ("credential", "c"),
        ("ca_bundle", not_pem.to_str().unwrap()),
    ];
    let out = run_bin(&["--validate-arguments"], items(&with_junk).as_bytes(), &[]);
    assert!(
        out.code != Some(0)
            && out.stdout.contains("`ca_bundle`")
            && out.stdout.contains("no certificate"),
        "{}",
        out.stdout
    );
    let out = run_bin(&["--validate-arguments"], b"<items><item", &[]);
    assert_ne!(out.code, Some(0));
    assert!(out.stdout.starts_with("<error><message>"));
}

#[test]
fn unknown_argument_is_a_usage_error() {
    let out = run_bin(&["--frobnicate"], b"", &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.starts_with("ERROR ") && out.stderr.contains("--frobnicate"));
}

#[test]
fn utf16_input_with_bom_and_declaration_runs() {
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    let now = chrono::Utc::now();
    emu.lock().unwrap().azure_events = modinput_support::fixtures::azure_backlog(
        1,
        30,
        SUB_A,
        TENANT,
        now - chrono::Duration::hours(2),
        now - chrono::Duration::minutes(1),
    )
    .into_iter()
    .map(|e| (SUB_A.to_string(), e))
    .collect();
    let cp = checkpoint_dir("utf16");
    let xml = input_xml(
        &base,
        &cp,
        "t1651_cloud_audit://utf16",
        &as_refs(&azure_params(&base)),
    )
    .replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    let mut bytes = vec![0xFF, 0xFE];
    for u in xml.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let out = run_bin(&[], &bytes, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
    utf8_bom.extend_from_slice(xml.replace("UTF-16", "UTF-8").as_bytes());
    let again = run_bin(&[], &utf8_bom, &[]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        again.events.is_empty(),
        "second run re-sent events already delivered"
    );
}

#[test]
fn missing_credential_is_a_clear_error_naming_it() {
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("missing-cred");
    let mut params = azure_params(&base);
    params.retain(|(k, _)| k != "credential");
    params.push(("credential".into(), "t1651:does-not-exist:".into()));
    let out = run_bin(
        &[],
        input_xml(&base, &cp, "t1651_cloud_audit://x", &as_refs(&params)).as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(1));
    assert!(out.events.is_empty());
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("ERROR "))
        .expect("an ERROR line");
    assert!(
        line.contains("credential `t1651:does-not-exist:` was not found"),
        "{line}"
    );
    assert_no_secret("stderr", &out.stderr);
}

#[test]
fn refused_session_key_is_an_error_without_the_key() {
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    emu.lock().unwrap().session_key = "a-different-key".into();
    let cp = checkpoint_dir("bad-session");
    let out = run_bin(
        &[],
        input_xml(
            &base,
            &cp,
            "t1651_cloud_audit://x",
            &as_refs(&azure_params(&base)),
        )
        .as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("ERROR ") && out.stderr.contains("HTTP 401"),
        "{}",
        out.stderr
    );
    assert_no_secret("stderr", &out.stderr);
}

#[test]
fn wrong_client_secret_is_an_auth_error_without_the_secret() {
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    emu.lock().unwrap().client_secret = "rotated".into();
    let cp = checkpoint_dir("bad-secret");
    let out = run_bin(
        &[],
        input_xml(
            &base,
            &cp,
            "t1651_cloud_audit://x",
            &as_refs(&azure_params(&base)),
        )
        .as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("authentication failed") && out.stderr.contains("AADSTS7000215"),
        "{}",
        out.stderr
    );
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("checkpoint", &dir_text(&cp));
}

// Test support's own check: the fixture generators are deterministic with unique ids.
#[test]
fn backlog_is_deterministic_with_unique_ids_and_lifecycles() {
    let from = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let a = azure_backlog(7, 500, "sub", "ten", from, from + Duration::hours(5));
    let b = azure_backlog(7, 500, "sub", "ten", from, from + Duration::hours(5));
    assert_eq!(a, b);
    assert_eq!(a.len(), 500);
    let ids: std::collections::HashSet<_> = a
        .iter()
        .map(|e| e["eventDataId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 500);
    let started = a
        .iter()
        .filter(|e| e["status"]["value"] == "Started")
        .count();
    assert!(started > 0, "run-command lifecycles present");
    assert!(a
        .iter()
        .any(|e| AZURE_NOISE_OPERATIONS.contains(&e["operationName"]["value"].as_str().unwrap())));
    let aws = aws_backlog(3, 50, "eu-west-1", from, from + Duration::hours(1));
    let entry = lookup_events_entry(&aws[0]);
    let inner: Value = serde_json::from_str(entry["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(inner, aws[0]);
    assert_eq!(inner["eventSource"], "ssm.amazonaws.com");
}
