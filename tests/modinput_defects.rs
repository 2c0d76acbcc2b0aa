//! Regression tests for the defects of issue 13, each against the loopback emulators:
//! secret exfiltration (credential namespace, endpoint allow-list), unbounded paging, one bad
//! element blocking a source, and the small ones (huge `expires_in`, `:443` in a nextLink).
//! Late events have their own file (tests/modinput_late.rs).

mod modinput_support;

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use modinput_support::fixtures::{aws_backlog, azure_backlog};
use modinput_support::*;
use serde_json::json;

fn load_azure(emu: &Shared, sub: &str, seed: u64, n: usize) {
    let now = Utc::now();
    let evs = azure_backlog(
        seed,
        n,
        sub,
        TENANT,
        now - Duration::hours(2),
        now - Duration::minutes(1),
    );
    emu.lock()
        .unwrap()
        .azure_events
        .extend(evs.into_iter().map(|e| (sub.to_string(), e)));
}

fn load_aws(emu: &Shared, region: &str, seed: u64, n: usize) {
    let now = Utc::now();
    let evs = aws_backlog(
        seed,
        n,
        region,
        now - Duration::hours(2),
        now - Duration::minutes(1),
    );
    emu.lock()
        .unwrap()
        .aws_events
        .extend(evs.into_iter().map(|e| (region.to_string(), e)));
}

fn set(params: &mut Vec<(String, String)>, k: &str, v: &str) {
    params.retain(|(n, _)| n != k);
    params.push((k.into(), v.into()));
}

/// Run to completion, but kill after `limit` (an input that never ends fails the test instead
/// of hanging it).
fn run_limited(
    emu: &Shared,
    cp: &str,
    stanza: &str,
    params: &[(String, String)],
    env: &[(&str, &str)],
    limit: StdDuration,
) -> RunOut {
    let base = emu.lock().unwrap().base_url.clone();
    let w = Watched::start(
        input_xml(&base, cp, stanza, &as_refs(params)).as_bytes(),
        env,
    );
    let started = Instant::now();
    let mut w = w;
    loop {
        if let Ok(Some(_)) = w.child.try_wait() {
            break;
        }
        if started.elapsed() > limit {
            let out = w.finish(true);
            panic!(
                "the input was still running after {limit:?}; stderr tail: {}",
                out.stderr
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        std::thread::sleep(StdDuration::from_millis(20));
    }
    let out = w.finish(false);
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("checkpoint", &dir_text(cp));
    out
}

fn run(emu: &Shared, cp: &str, stanza: &str, params: &[(String, String)]) -> RunOut {
    run_limited(emu, cp, stanza, params, &[], StdDuration::from_secs(60))
}

// ---------------------------------------------------------------------------------------------
// 1. Secret exfiltration

#[test]
fn credential_is_read_by_exact_name_in_this_app_only() {
    let emu = start();
    load_azure(&emu, SUB_A, 1, 50);
    let base = emu.lock().unwrap().base_url.clone();

    // Another app's entry, named by someone who may edit inputs: refused, never sent anywhere.
    let cp = checkpoint_dir("def-cred-other");
    let mut params = azure_params(&base);
    set(&mut params, "credential", "other:someone:");
    let out = run(&emu, &cp, "t1651_cloud_audit://steal", &params);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.events.is_empty());
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("ERROR "))
        .expect("ERROR line");
    assert!(
        err.contains("credential `other:someone:`") && err.contains(OTHER_APP),
        "{err}"
    );
    {
        let e = emu.lock().unwrap();
        for r in &e.log {
            assert!(
                !r.path().starts_with("/servicesNS/nobody/-/"),
                "listed every app's passwords: {}",
                r.target
            );
            assert!(
                !r.body_str().contains(OTHER_APP_SECRET) && !r.target.contains(OTHER_APP_SECRET),
                "another app's secret was sent to {}",
                r.target
            );
        }
        assert!(
            !e.log
                .iter()
                .any(|r| r.path().ends_with("/oauth2/v2.0/token")),
            "no token request with a refused credential"
        );
    }

    // A name that exists nowhere: a clear error naming it and the expected form.
    let mut params = azure_params(&base);
    set(&mut params, "credential", "prod-reader");
    let out = run(
        &emu,
        &checkpoint_dir("def-cred-none"),
        "t1651_cloud_audit://none",
        &params,
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("credential `prod-reader` was not found")
            && out.stderr.contains("realm:username:"),
        "{}",
        out.stderr
    );

    // The right entry: one GET of exactly that entry in this app's namespace.
    emu.lock().unwrap().log.clear();
    let out = run(
        &emu,
        &checkpoint_dir("def-cred-ok"),
        "t1651_cloud_audit://ok",
        &azure_params(&base),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    let e = emu.lock().unwrap();
    let reads: Vec<&Req> = e
        .log
        .iter()
        .filter(|r| r.path().contains("storage/passwords"))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(
        reads[0].path(),
        "/servicesNS/nobody/t1651_cloud_admin_command/storage/passwords/t1651%3Aprod%2Dreader%3A"
    );
}

fn validate(params: &[(&str, &str)], env: &[(&str, &str)]) -> RunOut {
    let mut p = String::new();
    for (k, v) in params {
        p.push_str(&format!(
            "<param name=\"{k}\">{}</param>",
            quick_xml::escape::escape(*v)
        ));
    }
    let doc = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><items><server_host>sh</server_host><server_uri>https://127.0.0.1:8089</server_uri><session_key>{SESSION_KEY}</session_key><checkpoint_dir>/tmp/x</checkpoint_dir><item name=\"prod\">{p}</item></items>");
    run_bin(&["--validate-arguments"], doc.as_bytes(), env)
}

#[test]
fn endpoint_overrides_accept_only_the_clouds_own_hosts() {
    let azure = |k: &'static str, v: &'static str, env: &'static str| {
        (
            vec![
                ("cloud", "azure"),
                ("tenant_id", TENANT),
                ("client_id", CLIENT_ID),
                ("credential", CREDENTIAL),
                ("environment", env),
                (k, v),
            ],
            k,
        )
    };
    let aws = |k: &'static str, v: &'static str, regions: &'static str| {
        (
            vec![
                ("cloud", "aws"),
                ("access_key_id", AWS_KEY_ID),
                ("role_arn", ROLE_ARN),
                ("credential", "t1651:aws-reader:"),
                ("regions", regions),
                (k, v),
            ],
            k,
        )
    };
    let off = [("T1651_MODINPUT_TEST_ONLY_ALLOW_LOOPBACK", "")];
    let accepted = [
        azure(
            "azure_management_url",
            "https://management.azure.com",
            "public",
        ),
        azure(
            "azure_management_url",
            "https://management.azure.com:443/",
            "public",
        ),
        azure(
            "azure_authority_url",
            "https://login.microsoftonline.us",
            "usgov",
        ),
        azure(
            "azure_management_url",
            "https://management.chinacloudapi.cn",
            "china",
        ),
        azure(
            "azure_authority_url",
            "https://login.partner.microsoftonline.cn",
            "china",
        ),
        aws(
            "aws_endpoint_url",
            "https://cloudtrail.{region}.amazonaws.com",
            "us-east-1,eu-west-1",
        ),
        aws(
            "aws_endpoint_url",
            "https://cloudtrail-fips.{region}.amazonaws.com",
            "us-east-1",
        ),
        aws(
            "aws_endpoint_url",
            "https://cloudtrail.{region}.amazonaws.com.cn",
            "cn-north-1",
        ),
        aws("aws_sts_url", "https://sts.amazonaws.com", "us-east-1"),
        aws(
            "aws_sts_url",
            "https://sts.eu-west-1.amazonaws.com",
            "eu-west-1",
        ),
        aws(
            "aws_sts_url",
            "https://sts.us-gov-west-1.amazonaws.com",
            "us-gov-west-1",
        ),
        aws(
            "aws_sts_url",
            "https://sts.cn-northwest-1.amazonaws.com.cn",
            "cn-north-1",
        ),
    ];
    for (params, _) in &accepted {
        let out = validate(params, &off);
        assert_eq!(out.code, Some(0), "{params:?}: {}", out.stdout);
    }
    let refused = [
        azure("azure_management_url", "https://evil.example.com", "public"),
        azure(
            "azure_authority_url",
            "https://login.microsoftonline.com.evil.example",
            "public",
        ),
        // Another cloud's host is not this environment's.
        azure(
            "azure_management_url",
            "https://management.azure.com",
            "usgov",
        ),
        azure(
            "azure_authority_url",
            "https://login.microsoftonline.com",
            "china",
        ),
        azure(
            "azure_management_url",
            "https://user@management.azure.com",
            "public",
        ),
        azure(
            "azure_management_url",
            "https://management.azure.com/steal?x=1",
            "public",
        ),
        azure("azure_management_url", "http://127.0.0.1:8080", "public"),
        azure("azure_authority_url", "https://localhost:8443", "public"),
        aws(
            "aws_endpoint_url",
            "https://attacker.example.com",
            "us-east-1",
        ),
        aws(
            "aws_endpoint_url",
            "https://cloudtrail.us-east-1.amazonaws.com.evil.example",
            "us-east-1",
        ),
        aws(
            "aws_endpoint_url",
            "https://ssm.{region}.amazonaws.com",
            "us-east-1",
        ),
        aws("aws_sts_url", "https://sts.attacker.example", "us-east-1"),
        // Another partition's STS: a signed request would go to the wrong partition.
        aws("aws_sts_url", "https://sts.amazonaws.com", "cn-north-1"),
        aws(
            "aws_sts_url",
            "https://sts.cn-north-1.amazonaws.com.cn",
            "us-east-1",
        ),
        aws("aws_sts_url", "http://127.0.0.1:9000", "us-east-1"),
    ];
    for (params, name) in &refused {
        let out = validate(params, &off);
        assert_eq!(out.code, Some(1), "{params:?} was accepted");
        assert!(
            out.stdout.contains(&format!("parameter `{name}`")),
            "{params:?}: {}",
            out.stdout
        );
    }
    // Loopback: only with the documented test-only switch.
    let (p, name) = azure("azure_management_url", "http://127.0.0.1:8080", "public");
    let out = validate(&p, &off);
    assert!(
        out.stdout.contains(name)
            && out
                .stdout
                .contains("T1651_MODINPUT_TEST_ONLY_ALLOW_LOOPBACK"),
        "{}",
        out.stdout
    );
    let out = validate(&p, &[("T1651_MODINPUT_TEST_ONLY_ALLOW_LOOPBACK", "1")]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    // A run is refused the same way (the switch is checked at run time too).
    let emu = start();
    let base = emu.lock().unwrap().base_url.clone();
    let out = run_limited(
        &emu,
        &checkpoint_dir("def-loopback-off"),
        "t1651_cloud_audit://lo",
        &azure_params(&base),
        &off,
        StdDuration::from_secs(30),
    );
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("azure_authority_url"), "{}", out.stderr);
    assert!(
        emu.lock().unwrap().log.is_empty(),
        "nothing was requested, not even the credential"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Unbounded paging

#[test]
fn a_next_link_loop_is_an_error_and_other_subscriptions_complete() {
    let emu = start();
    load_azure(&emu, SUB_A, 2, 100);
    load_azure(&emu, SUB_B, 3, 100);
    emu.lock()
        .unwrap()
        .self_next_link_subs
        .insert(SUB_A.to_string());
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = azure_params(&base);
    set(&mut params, "subscription_ids", &format!("{SUB_A},{SUB_B}"));
    let out = run(
        &emu,
        &checkpoint_dir("def-loop-az"),
        "t1651_cloud_audit://loop",
        &params,
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("same paging link/token again"),
        "{}",
        out.stderr
    );
    let subs: std::collections::HashSet<String> = out
        .events
        .iter()
        .map(|e| e.json()["subscriptionId"].as_str().unwrap().to_string())
        .collect();
    assert!(subs.contains(SUB_B), "the other subscription completed");
    let requests = emu.lock().unwrap().data_requests;
    assert!(requests < 50, "{requests} data requests");
}

#[test]
fn a_repeated_next_token_is_an_error_and_other_regions_complete() {
    let emu = start();
    load_aws(&emu, "us-east-1", 4, 60);
    load_aws(&emu, "eu-west-1", 5, 60);
    emu.lock()
        .unwrap()
        .repeat_token_regions
        .insert("us-east-1".into());
    let base = emu.lock().unwrap().base_url.clone();
    let out = run(
        &emu,
        &checkpoint_dir("def-loop-aws"),
        "t1651_cloud_audit://loop",
        &aws_params(&base),
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("same paging link/token again"),
        "{}",
        out.stderr
    );
    assert!(out
        .events
        .iter()
        .any(|e| e.json()["awsRegion"] == "eu-west-1"));
}

#[test]
fn page_cap_and_run_deadline_bound_a_run() {
    let emu = start();
    load_azure(&emu, SUB_A, 6, 300);
    load_azure(&emu, SUB_B, 7, 300);
    emu.lock().unwrap().azure_page_size = 10;
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = azure_params(&base);
    set(&mut params, "subscription_ids", &format!("{SUB_A},{SUB_B}"));
    set(&mut params, "max_pages", "3");
    let out = run(
        &emu,
        &checkpoint_dir("def-cap"),
        "t1651_cloud_audit://cap",
        &params,
    );
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("max_pages = 3"), "{}", out.stderr);

    // Deadline: 200 ms per data request, max_run_time 2s: the run ends in time, says so,
    // and a later run without the deadline delivers the rest exactly once.
    emu.lock().unwrap().latency = StdDuration::from_millis(200);
    let cp = checkpoint_dir("def-deadline");
    let mut params = azure_params(&base);
    set(&mut params, "subscription_ids", &format!("{SUB_A},{SUB_B}"));
    set(&mut params, "max_run_time", "2s");
    let started = Instant::now();
    let first = run(&emu, &cp, "t1651_cloud_audit://dl", &params);
    let took = started.elapsed();
    assert!(took < StdDuration::from_secs(8), "{took:?}");
    assert!(
        first.stderr.contains("max_run_time reached"),
        "{}",
        first.stderr
    );
    emu.lock().unwrap().latency = StdDuration::ZERO;
    set(&mut params, "max_run_time", "30m");
    let second = run(&emu, &cp, "t1651_cloud_audit://dl", &params);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let mut ids: Vec<String> = first
        .events
        .iter()
        .chain(&second.events)
        .map(|e| e.json()["eventDataId"].as_str().unwrap().to_string())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicates across the two runs");
    let wanted = emu
        .lock()
        .unwrap()
        .azure_events
        .iter()
        .filter(|(_, e)| {
            t1651::detect::operations::AZURE_DEFAULT_OPERATIONS
                .iter()
                .any(|o| o.eq_ignore_ascii_case(e["operationName"]["value"].as_str().unwrap()))
        })
        .count();
    assert_eq!(n, wanted, "nothing lost across the two runs");
}

// ---------------------------------------------------------------------------------------------
// 4. One bad element

#[test]
fn a_bad_azure_element_is_set_aside_and_the_rest_delivered() {
    let emu = start();
    load_azure(&emu, SUB_A, 8, 120);
    emu.lock().unwrap().azure_bad_elements = vec![
        "42".into(),
        r#"{"eventDataId":"bad-element-1","eventTimestamp":17,"operationName":[]}"#.into(),
    ];
    let base = emu.lock().unwrap().base_url.clone();
    let cp = checkpoint_dir("def-bad-az");
    let params = azure_params(&base);
    let out = run(&emu, &cp, "t1651_cloud_audit://bad", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let expected = emu
        .lock()
        .unwrap()
        .azure_events
        .iter()
        .filter(|(_, e)| {
            t1651::detect::operations::AZURE_DEFAULT_OPERATIONS
                .iter()
                .any(|o| o.eq_ignore_ascii_case(e["operationName"]["value"].as_str().unwrap()))
        })
        .count();
    assert_eq!(out.events.len(), expected);
    assert!(
        out.stderr.contains("element 0 (no eventDataId) set aside")
            && out
                .stderr
                .contains("element 1 (eventDataId bad-element-1) set aside"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unreadable elements") && !out.stderr.contains("set aside 0 "),
        "{}",
        out.stderr
    );
    // The checkpoint moved on: the next run re-reads only the overlap and sends nothing again.
    emu.lock().unwrap().log.clear();
    let again = run(&emu, &cp, "t1651_cloud_audit://bad", &params);
    assert_eq!(again.code, Some(0));
    assert!(again.events.is_empty());
    let earliest = emu
        .lock()
        .unwrap()
        .log
        .iter()
        .filter_map(|r| r.query().get("$filter").cloned())
        .filter_map(|f| parse_filter(&f))
        .map(|(ge, _, _)| ge)
        .min()
        .unwrap();
    assert!(earliest > Utc::now() - Duration::minutes(20), "{earliest}");
}

#[test]
fn a_bad_lookup_events_element_is_set_aside_and_the_rest_delivered() {
    let emu = start();
    load_aws(&emu, "us-east-1", 9, 40);
    emu.lock().unwrap().aws_bad_elements = vec![
        json!({"EventId": "no-inner-1", "EventTime": 1.7e9}),
        json!({"EventId": "bad-inner-2", "CloudTrailEvent": "{not json"}),
        json!({"EventId": 5, "EventTime": "yesterday"}),
    ];
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = aws_params(&base);
    set(&mut params, "regions", "us-east-1");
    let out = run(
        &emu,
        &checkpoint_dir("def-bad-aws"),
        "t1651_cloud_audit://bad",
        &params,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.events.len(), 40);
    for needle in [
        "(EventId no-inner-1) set aside: it has no CloudTrailEvent",
        "(EventId bad-inner-2) set aside: CloudTrailEvent is not a JSON object",
        "(no EventId) set aside: not a LookupEvents entry",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Panics and small defects

#[test]
fn huge_expires_in_does_not_panic() {
    for expires in [
        json!(u64::MAX),
        json!(u64::MAX.to_string()),
        json!(-5),
        json!(1e300),
    ] {
        let emu = start();
        load_azure(&emu, SUB_A, 10, 30);
        emu.lock().unwrap().token_expires_in = expires.clone();
        let base = emu.lock().unwrap().base_url.clone();
        let out = run(
            &emu,
            &checkpoint_dir("def-expires"),
            "t1651_cloud_audit://exp",
            &azure_params(&base),
        );
        assert_eq!(out.code, Some(0), "expires_in {expires}: {}", out.stderr);
        assert!(!out.events.is_empty());
    }
}

/// The emulators cannot listen on 443, so the origin rule is checked on the function the
/// collector applies to every nextLink (the run-level refusal of a foreign nextLink is
/// tests/modinput_azure.rs::next_link_to_another_host_is_not_followed).
#[test]
fn a_next_link_with_an_explicit_default_port_is_followed() {
    use t1651::modinput::azure::same_origin;
    let mgmt = "https://management.azure.com";
    for ok in [
        "https://management.azure.com:443/subscriptions/x?$skiptoken=1",
        "https://MANAGEMENT.azure.com/subscriptions/x",
        "HTTPS://management.azure.com/x",
    ] {
        assert!(same_origin(ok, mgmt, "t").is_ok(), "{ok}");
    }
    assert!(same_origin(
        "https://management.azure.com/x",
        "https://management.azure.com:443",
        "t"
    )
    .is_ok());
    for bad in [
        "https://management.azure.com:8443/x",
        "http://management.azure.com/x",
        "https://user@management.azure.com/x",
        "https://management.azure.com.evil.example/x",
    ] {
        assert!(same_origin(bad, mgmt, "t").is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Search head clustering

#[test]
fn a_search_head_cluster_member_refuses_to_collect() {
    let emu = start();
    load_azure(&emu, SUB_A, 12, 30);
    emu.lock().unwrap().shc_member = true;
    let base = emu.lock().unwrap().base_url.clone();
    let out = run(
        &emu,
        &checkpoint_dir("def-shc"),
        "t1651_cloud_audit://shc",
        &azure_params(&base),
    );
    assert_eq!(out.code, Some(1));
    assert!(out.events.is_empty());
    assert!(
        out.stderr.contains("member of a search head cluster")
            && out.stderr.contains("heavy forwarder"),
        "{}",
        out.stderr
    );
    assert!(
        !emu.lock()
            .unwrap()
            .log
            .iter()
            .any(|r| r.path().contains("storage/passwords") || r.path().contains("oauth2")),
        "neither the credential nor a token was fetched"
    );
    // Not a member (splunkd answers 503 once, without retries): collects.
    emu.lock().unwrap().shc_member = false;
    emu.lock().unwrap().log.clear();
    let out = run(
        &emu,
        &checkpoint_dir("def-shc-no"),
        "t1651_cloud_audit://shc",
        &azure_params(&base),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    let asked = emu
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|r| r.path() == "/services/shcluster/member/info")
        .count();
    assert_eq!(asked, 1);
}
