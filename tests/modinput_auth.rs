//! Credential sources other than a stored secret (issue 13, "Credentials"), against the
//! loopback emulators: Azure managed identity (IMDS) and workload identity federation; the AWS
//! standard chain (environment, shared-file profiles: static keys, role profiles and
//! credential_process; web identity, ECS, IMDSv2) and AssumeRole with ExternalId.
//! The metadata endpoints are pointed at the emulator with T1651_MODINPUT_IMDS_URL /
//! T1651_MODINPUT_ECS_URL, which the input honours only for loopback with the test-only switch.

mod modinput_support;

use chrono::{Duration, Utc};
use modinput_support::fixtures::{aws_backlog, azure_backlog};
use modinput_support::*;

/// The AWS chain variables, all unset (empty counts as unset), so the host's own never leak in.
const NO_AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", ""),
    ("AWS_SECRET_ACCESS_KEY", ""),
    ("AWS_SESSION_TOKEN", ""),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", ""),
    ("AWS_ROLE_ARN", ""),
    ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ""),
    ("AWS_CONTAINER_CREDENTIALS_FULL_URI", ""),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/t1651-no-aws-credentials",
    ),
    ("AWS_CONFIG_FILE", "/nonexistent/t1651-no-aws-config"),
    ("AWS_PROFILE", ""),
];

fn azure_emu() -> (Shared, String) {
    let emu = start();
    let now = Utc::now();
    emu.lock().unwrap().azure_events = azure_backlog(
        41,
        60,
        SUB_A,
        TENANT,
        now - Duration::hours(1),
        now - Duration::minutes(1),
    )
    .into_iter()
    .map(|e| (SUB_A.to_string(), e))
    .collect();
    let base = emu.lock().unwrap().base_url.clone();
    (emu, base)
}

fn aws_emu() -> (Shared, String) {
    let emu = start();
    let now = Utc::now();
    emu.lock().unwrap().aws_events = aws_backlog(
        42,
        30,
        "us-east-1",
        now - Duration::hours(1),
        now - Duration::minutes(1),
    )
    .into_iter()
    .map(|e| ("us-east-1".to_string(), e))
    .collect();
    let base = emu.lock().unwrap().base_url.clone();
    (emu, base)
}

fn without(params: Vec<(String, String)>, drop: &[&str]) -> Vec<(String, String)> {
    params
        .into_iter()
        .filter(|(k, _)| !drop.contains(&k.as_str()))
        .collect()
}

fn run(emu: &Shared, name: &str, params: &[(String, String)], env: &[(&str, &str)]) -> RunOut {
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir(name);
    let out = run_bin(
        &[],
        input_xml(&base, &cp, "t1651_cloud_audit://auth", &as_refs(params)).as_bytes(),
        env,
    );
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("checkpoint", &dir_text(&cp));
    out
}

fn no_password_read(emu: &Shared) {
    assert!(
        !emu.lock()
            .unwrap()
            .log
            .iter()
            .any(|r| r.path().contains("storage/passwords")),
        "no stored secret is read"
    );
}

#[test]
fn azure_managed_identity_system_and_user_assigned() {
    let (emu, base) = azure_emu();
    let mut params = without(azure_params(&base), &["credential", "client_id"]);
    params.push(("azure_auth".into(), "managed_identity".into()));
    let env = [("T1651_MODINPUT_IMDS_URL", base.as_str())];
    let out = run(&emu, "auth-mi", &params, &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    no_password_read(&emu);
    {
        let e = emu.lock().unwrap();
        assert_eq!(e.azure_mi_requests.len(), 1, "one token for the run");
        assert!(!e.azure_mi_requests[0].contains_key("client_id"));
        assert!(!e
            .log
            .iter()
            .any(|r| r.path().ends_with("/oauth2/v2.0/token")));
    }
    // User-assigned: client_id picks the identity.
    let mut params = without(azure_params(&base), &["credential"]);
    params.push(("azure_auth".into(), "managed_identity".into()));
    let out = run(&emu, "auth-mi-user", &params, &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let e = emu.lock().unwrap();
    assert_eq!(
        e.azure_mi_requests
            .last()
            .unwrap()
            .get("client_id")
            .map(String::as_str),
        Some(CLIENT_ID)
    );
}

#[test]
fn azure_workload_identity_federation() {
    let (emu, base) = azure_emu();
    let dir = checkpoint_dir("auth-wi-token");
    let file = format!("{dir}/azure-identity-token");
    std::fs::write(&file, format!("{FEDERATED_TOKEN}\n")).unwrap();
    let mut params = without(azure_params(&base), &["credential"]);
    params.push(("azure_auth".into(), "workload_identity".into()));
    let out = run(
        &emu,
        "auth-wi",
        &params,
        &[("AZURE_FEDERATED_TOKEN_FILE", file.as_str())],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    no_password_read(&emu);
    // A token the app registration does not trust: an auth error that names the cause, not the token.
    std::fs::write(&file, "eyJ-not-trusted-SECRET").unwrap();
    let out = run(
        &emu,
        "auth-wi-bad",
        &params,
        &[("AZURE_FEDERATED_TOKEN_FILE", file.as_str())],
    );
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("AADSTS700213"), "{}", out.stderr);
    assert!(!out.stderr.contains("eyJ-not-trusted-SECRET"));
    // Missing variable: says so.
    let out = run(&emu, "auth-wi-none", &params, &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("AZURE_FEDERATED_TOKEN_FILE is not set"),
        "{}",
        out.stderr
    );
}

fn chain_params(base: &str) -> Vec<(String, String)> {
    let mut p = without(
        aws_params(base),
        &["credential", "access_key_id", "regions"],
    );
    p.push(("aws_auth".into(), "chain".into()));
    p.push(("regions".into(), "us-east-1".into()));
    p
}

#[test]
fn aws_chain_environment_keys() {
    let (emu, base) = aws_emu();
    let mut env = NO_AWS_ENV.to_vec();
    env.push(("AWS_ACCESS_KEY_ID", AWS_KEY_ID));
    env.push(("AWS_SECRET_ACCESS_KEY", AWS_SECRET));
    let out = run(&emu, "auth-env", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    no_password_read(&emu);
}

#[test]
fn aws_chain_instance_metadata_imdsv2() {
    let (emu, base) = aws_emu();
    let mut env = NO_AWS_ENV.to_vec();
    env.push(("T1651_MODINPUT_IMDS_URL", base.as_str()));
    let out = run(&emu, "auth-imds", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    no_password_read(&emu);
    let e = emu.lock().unwrap();
    let first = e
        .log
        .iter()
        .find(|r| r.path().starts_with("/latest/"))
        .unwrap();
    assert_eq!(
        (first.method.as_str(), first.path()),
        ("PUT", "/latest/api/token")
    );
    assert!(e
        .log
        .iter()
        .filter(|r| r.path().starts_with("/latest/meta-data/"))
        .all(|r| r.header("x-aws-ec2-metadata-token") == Some(IMDS_SESSION)));
    assert_eq!(
        e.imds_credential_reads, 1,
        "one credential read per run (shared by workers)"
    );
}

#[test]
fn aws_chain_web_identity_and_ecs() {
    let (emu, base) = aws_emu();
    let dir = checkpoint_dir("auth-irsa-token");
    let file = format!("{dir}/token");
    std::fs::write(&file, WEB_IDENTITY_TOKEN).unwrap();
    let mut env = NO_AWS_ENV.to_vec();
    env.push(("AWS_WEB_IDENTITY_TOKEN_FILE", file.as_str()));
    env.push(("AWS_ROLE_ARN", ROLE_ARN));
    let out = run(&emu, "auth-irsa", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    {
        let e = emu.lock().unwrap();
        let sts: Vec<&Req> = e
            .log
            .iter()
            .filter(|r| r.body_str().starts_with("Action=AssumeRoleWithWebIdentity"))
            .collect();
        assert_eq!(sts.len(), 1);
        assert!(sts[0].header("authorization").is_none(), "unsigned");
    }
    let mut env = NO_AWS_ENV.to_vec();
    env.push((
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "/v2/credentials/7f3a9c",
    ));
    env.push(("T1651_MODINPUT_ECS_URL", base.as_str()));
    let out = run(&emu, "auth-ecs", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    no_password_read(&emu);
}

#[test]
fn assume_role_sends_the_external_id() {
    let (emu, base) = aws_emu();
    emu.lock().unwrap().external_id = Some("t1651-7Hq2".into());
    let mut params = without(aws_params(&base), &["regions"]);
    params.push(("regions".into(), "us-east-1".into()));
    params.push(("role_arn".into(), ROLE_ARN.into()));
    let out = run(&emu, "auth-xid-missing", &params, &[]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("ExternalId"), "{}", out.stderr);
    params.push(("external_id".into(), "t1651-7Hq2".into()));
    let out = run(&emu, "auth-xid", &params, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
}

#[test]
fn aws_chain_shared_credentials_profile() {
    let (emu, base) = aws_emu();
    let dir = checkpoint_dir("auth-profile-file");
    let file = format!("{dir}/credentials");
    std::fs::write(
        &file,
        format!("[default]\naws_access_key_id = AKIAWRONGWRONGWRONG1\naws_secret_access_key = wrong\n\n[splunk]\n# the input's keys\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n"),
    )
    .unwrap();
    let mut env = NO_AWS_ENV.to_vec();
    env.retain(|(k, _)| !k.starts_with("AWS_SHARED") && *k != "AWS_PROFILE");
    env.push(("AWS_SHARED_CREDENTIALS_FILE", file.as_str()));
    env.push(("AWS_PROFILE", "splunk"));
    let out = run(&emu, "auth-profile", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    no_password_read(&emu);
    // A profile without keys (e.g. a role or SSO profile): an error naming it, no fall-through.
    std::fs::write(
        &file,
        "[splunk]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n",
    )
    .unwrap();
    let out = run(&emu, "auth-profile-role", &chain_params(&base), &env);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("AWS profile `splunk`"),
        "{}",
        out.stderr
    );
}

/// Environment for a profile test: the two shared files in `dir`, profile `profile`.
fn profile_env<'a>(
    config: &'a str,
    credentials: &'a str,
    profile: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut env = NO_AWS_ENV.to_vec();
    env.retain(|(k, _)| {
        !matches!(
            *k,
            "AWS_SHARED_CREDENTIALS_FILE" | "AWS_CONFIG_FILE" | "AWS_PROFILE"
        )
    });
    env.push(("AWS_CONFIG_FILE", config));
    env.push(("AWS_SHARED_CREDENTIALS_FILE", credentials));
    env.push(("AWS_PROFILE", profile));
    env
}

/// A role profile of ~/.aws/config (`role_arn` + `source_profile`, `external_id`,
/// `role_session_name`) assumes its role with the source profile's static keys from the
/// credentials file; the STS call is signed with those keys and carries the profile's settings.
#[test]
fn aws_chain_role_profile_of_the_config_file() {
    let (emu, base) = aws_emu();
    emu.lock().unwrap().external_id = Some("prof-xid-77".into());
    let dir = checkpoint_dir("auth-role-profile-files");
    let (config, credentials) = (format!("{dir}/config"), format!("{dir}/credentials"));
    std::fs::write(
        &config,
        format!("[default]\nregion = eu-west-1\n\n[profile splunk]\nrole_arn = {ROLE_ARN}\nsource_profile = keys\nexternal_id = prof-xid-77\nrole_session_name = splunk-audit\ns3 =\n  max_concurrent_requests = 20\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        format!("[keys]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n"),
    )
    .unwrap();
    let env = profile_env(&config, &credentials, "splunk");
    let out = run(&emu, "auth-role-profile", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    let e = emu.lock().unwrap();
    assert_eq!(e.sts_calls, 1);
    assert_eq!(e.assume_calls[0].0, ROLE_ARN);
    assert_eq!(e.assume_calls[0].2.as_deref(), Some("prof-xid-77"));
    let sts = e
        .log
        .iter()
        .find(|r| r.body_str().starts_with("Action=AssumeRole"))
        .unwrap();
    assert_eq!(
        form_decode(&sts.body_str())["RoleSessionName"],
        "splunk-audit"
    );
    assert!(sts
        .header("authorization")
        .unwrap()
        .contains(&format!("Credential={AWS_KEY_ID}/")));
    drop(e);
    no_password_read(&emu);

    // A loop of source_profile links, an SSO profile, MFA: errors naming the profile and why.
    for (text, needle) in [
        (
            format!("[profile splunk]\nrole_arn = {ROLE_ARN}\nsource_profile = other\n[profile other]\nrole_arn = {ROLE_ARN}\nsource_profile = splunk\n"),
            "loop",
        ),
        (
            "[profile splunk]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Audit\n".to_string(),
            "SSO profiles are not supported",
        ),
        (
            format!("[profile splunk]\nrole_arn = {ROLE_ARN}\nsource_profile = keys\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n"),
            "mfa_serial",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = run(&emu, "auth-role-profile-bad", &chain_params(&base), &env);
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        assert!(
            out.stderr.lines().any(|l| l.starts_with("ERROR")
                && l.contains("AWS profile `")
                && l.contains(needle)),
            "{needle}: {}",
            out.stderr
        );
    }
}

/// `credential_process`: its JSON gives the keys; its output never reaches a log line, not when
/// it succeeds, fails or prints something that is not the documented JSON.
#[test]
fn aws_chain_credential_process() {
    let (emu, base) = aws_emu();
    let dir = checkpoint_dir("auth-process-files");
    let (config, credentials) = (format!("{dir}/config"), format!("{dir}/nonexistent"));
    let script = format!("{dir}/creds.sh");
    let write_script = |body: &str| {
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    };
    std::fs::write(
        &config,
        format!("[default]\ncredential_process = /bin/sh {script} --profile x\n"),
    )
    .unwrap();
    write_script(&format!(
        "echo 'PROCESS-STDERR-SECRET' >&2\n[ \"$2\" = x ] || exit 9\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"{AWS_KEY_ID}\", \"SecretAccessKey\": \"{AWS_SECRET}\"}}'"
    ));
    // AWS_PROFILE unset: the default profile.
    let env = profile_env(&config, &credentials, "");
    let out = run(&emu, "auth-process", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    assert!(!out.stderr.contains("PROCESS-STDERR-SECRET"));
    no_password_read(&emu);

    for (body, needle) in [
        (
            format!("printf '{{\"Version\": 1, \"AccessKeyId\": \"{AWS_KEY_ID}\", \"SecretAccessKey\": \"{AWS_SECRET}\"}}'; exit 3"),
            "exit status: 3",
        ),
        (
            "printf '{\"Version\": \"v-PROCESS-SECRET-1\", \"AccessKeyId\": 1}'".to_string(),
            "not the documented JSON",
        ),
        (
            format!("printf '{{\"Version\": 2, \"AccessKeyId\": \"{AWS_KEY_ID}\", \"SecretAccessKey\": \"{AWS_SECRET}\"}}'"),
            "Version 2",
        ),
    ] {
        write_script(&body);
        let out = run(&emu, "auth-process-bad", &chain_params(&base), &env);
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("ERROR") && l.contains("credential_process") && l.contains(needle)),
            "{needle}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("PROCESS-SECRET"), "{}", out.stderr);
    }
}

/// A default profile with only settings (a region) is not a credential source: the chain goes
/// on to the instance metadata.
#[test]
fn aws_chain_default_profile_without_credentials_falls_through() {
    let (emu, base) = aws_emu();
    let dir = checkpoint_dir("auth-region-only-files");
    let config = format!("{dir}/config");
    std::fs::write(&config, "[default]\nregion = us-east-1\noutput = json\n").unwrap();
    let mut env = profile_env(&config, "/nonexistent/t1651-creds", "");
    env.push(("T1651_MODINPUT_IMDS_URL", base.as_str()));
    let out = run(&emu, "auth-region-only", &chain_params(&base), &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 30);
    assert_eq!(emu.lock().unwrap().imds_credential_reads, 1);
}

#[test]
fn azure_client_certificate_assertion() {
    let (emu, base) = azure_emu();
    let mut params = without(azure_params(&base), &["credential"]);
    params.push(("azure_auth".into(), "client_certificate".into()));
    params.push(("credential".into(), "t1651:prod-cert:".into()));
    let out = run(&emu, "auth-cert", &params, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    {
        let e = emu.lock().unwrap();
        let token_req = e
            .log
            .iter()
            .find(|r| r.path().ends_with("/oauth2/v2.0/token"))
            .unwrap();
        let body = token_req.body_str();
        assert!(body.contains("client_assertion=") && !body.contains("client_secret"));
        assert!(!body.contains("PRIVATE"), "the key never leaves the input");
    }
    for line in out.stderr.lines() {
        assert!(
            !line.contains("PRIVATE KEY") && !line.contains("BEGIN CERTIFICATE"),
            "{line}"
        );
    }
    // The emulator really checks the signature: an assertion with a flipped bit is refused.
    let good = {
        let e = emu.lock().unwrap();
        let b = e
            .log
            .iter()
            .find(|r| r.path().ends_with("/oauth2/v2.0/token"))
            .unwrap()
            .body_str();
        form_decode(&b)["client_assertion"].clone()
    };
    let aud = format!("{base}/{TENANT}/oauth2/v2.0/token");
    assert!(certificate_assertion_ok(&good, &aud));
    let mut bad = good.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    assert!(!certificate_assertion_ok(
        &String::from_utf8(bad).unwrap(),
        &aud
    ));
    assert!(!certificate_assertion_ok(
        &good,
        "https://login.microsoftonline.com/other/oauth2/v2.0/token"
    ));
    // A credential that is not a certificate + key: an auth error that does not quote it.
    let mut params = without(params, &["credential"]);
    params.push(("credential".into(), CREDENTIAL.into()));
    let out = run(&emu, "auth-cert-bad", &params, &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("holds no -----BEGIN CERTIFICATE----- block"),
        "{}",
        out.stderr
    );
}
