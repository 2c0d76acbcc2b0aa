//! AWS at account scale against the loopback emulators: `regions = all` (EC2 DescribeRegions,
//! once per account and run) and `aws_organization_role` (Organizations ListAccounts, one
//! AssumeRole per ACTIVE member account). Every call's SigV4 scope (service, region) and action
//! is checked by the emulator; every account's events are visible only to that account's
//! session, so an event collected proves the right session was used.

mod modinput_support;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use modinput_support::fixtures::aws_account_backlog;
use modinput_support::*;

#[allow(clippy::too_many_arguments)]
fn load(
    emu: &Shared,
    seed: u64,
    n: usize,
    account: &str,
    region: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let evs = aws_account_backlog(seed, n, account, region, from, to);
    emu.lock()
        .unwrap()
        .aws_events
        .extend(evs.into_iter().map(|e| (region.to_string(), e)));
}

fn ids(events: &[OutEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.json()["eventID"].as_str().unwrap().to_string())
        .collect()
}

/// Ids of every emulated record of `accounts` × `regions`.
fn records(emu: &Shared, accounts: &[&str], regions: &[&str]) -> HashSet<String> {
    emu.lock()
        .unwrap()
        .aws_events
        .iter()
        .filter(|(r, e)| {
            regions.contains(&r.as_str())
                && accounts.contains(&e["recipientAccountId"].as_str().unwrap())
        })
        .map(|(_, e)| e["eventID"].as_str().unwrap().to_string())
        .collect()
}

fn assert_exactly_once(all: &[String], expected: &HashSet<String>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in all {
        *counts.entry(id).or_default() += 1;
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "duplicates: {:?}",
        counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .take(3)
            .collect::<Vec<_>>()
    );
    let got: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "missing {:?}, unexpected {:?}",
        expected.difference(&got).take(3).collect::<Vec<_>>(),
        got.difference(expected).take(3).collect::<Vec<_>>()
    );
    assert_eq!(&got, expected);
}

fn run(emu: &Shared, cp: &str, stanza: &str, params: &[(String, String)]) -> RunOut {
    let base = emu.lock().unwrap().base_url.clone();
    let out = run_bin(
        &[],
        input_xml(&base, cp, stanza, &as_refs(params)).as_bytes(),
        &[],
    );
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("checkpoint", &dir_text(cp));
    out
}

fn with(base: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params = aws_params(base);
    params.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    params
}

/// (account, region) of every LookupEvents call logged since `from`, from its SigV4 scope and
/// its session.
fn lookup_scopes(emu: &Shared, from: usize) -> Vec<(String, String)> {
    let e = emu.lock().unwrap();
    e.log[from..]
        .iter()
        .filter(|r| {
            r.header("x-amz-target")
                .is_some_and(|t| t.contains("LookupEvents"))
        })
        .map(|r| {
            let cred = r
                .header("authorization")
                .unwrap()
                .split("Credential=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .to_string();
            let parts: Vec<&str> = cred.split('/').collect();
            let account = if parts[0] == AWS_KEY_ID {
                MGMT_ACCOUNT.to_string()
            } else {
                e.sessions
                    .get(parts[0])
                    .map(|s| s.2.clone())
                    .unwrap_or_else(|| "expired".into())
            };
            (account, parts[2].to_string())
        })
        .collect()
}

fn regions(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect()
}

#[test]
fn regions_all_collects_every_enabled_region_listed_once_per_run() {
    let emu = start();
    let now = Utc::now();
    emu.lock().unwrap().account_regions.insert(
        MGMT_ACCOUNT.into(),
        regions(&[
            ("us-east-1", "opt-in-not-required"),
            ("eu-west-1", "opt-in-not-required"),
            ("ap-east-1", "opted-in"),
            // Served only with AllRegions=true: must not be collected.
            ("af-south-1", "not-opted-in"),
            // Hostile names: another partition, not a region at all.
            ("cn-north-1", "opt-in-not-required"),
            ("evil.example.com", "opt-in-not-required"),
        ]),
    );
    for (i, r) in ["us-east-1", "eu-west-1", "ap-east-1", "af-south-1"]
        .iter()
        .enumerate()
    {
        load(
            &emu,
            10 + i as u64,
            60,
            MGMT_ACCOUNT,
            r,
            now - Duration::hours(5),
            now - Duration::minutes(1),
        );
    }
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(&base, &[("regions", "all"), ("aws_ec2_url", &base)]);
    let cp = checkpoint_dir("aws-all-regions");
    let out = run(&emu, &cp, "t1651_cloud_audit://all", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_exactly_once(
        &ids(&out.events),
        &records(
            &emu,
            &[MGMT_ACCOUNT],
            &["us-east-1", "eu-west-1", "ap-east-1"],
        ),
    );
    assert_eq!(
        emu.lock().unwrap().describe_regions_calls,
        vec![(MGMT_ACCOUNT.into(), "us-east-1".into(), "false".into())],
        "one DescribeRegions, signed for ec2 in the home region, AllRegions=false"
    );
    let scoped: HashSet<String> = lookup_scopes(&emu, 0).into_iter().map(|s| s.1).collect();
    assert_eq!(
        scoped,
        ["us-east-1", "eu-west-1", "ap-east-1"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    for skipped in ["cn-north-1", "evil.example.com"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("WARN") && l.contains(skipped) && l.contains("skipped")),
            "{skipped}: {}",
            out.stderr
        );
    }
    // Checkpoint keys of the stanza's own account are unchanged: aws:<region>:<event>.
    assert!(dir_text(&cp).contains("aws:ap-east-1:SendCommand"));

    let again = run(&emu, &cp, "t1651_cloud_audit://all", &params);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.events.is_empty(), "re-sent {}", again.events.len());
    assert_eq!(emu.lock().unwrap().describe_regions_calls.len(), 2);
}

/// A region disabled between runs is no longer queried (its checkpoint is kept and named in an
/// INFO line); a newly enabled one starts at `start_from`; a region that comes back resumes
/// from its checkpoint. Nothing lost, nothing twice across the three runs.
#[test]
fn regions_that_disappear_and_appear_between_runs() {
    let emu = start();
    let now = Utc::now();
    let set = |list: &[&str]| {
        emu.lock().unwrap().account_regions.insert(
            MGMT_ACCOUNT.into(),
            list.iter()
                .map(|r| (r.to_string(), "opt-in-not-required".to_string()))
                .collect(),
        );
    };
    set(&["us-east-1", "eu-west-1"]);
    load(
        &emu,
        20,
        80,
        MGMT_ACCOUNT,
        "us-east-1",
        now - Duration::hours(5),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        21,
        80,
        MGMT_ACCOUNT,
        "eu-west-1",
        now - Duration::hours(5),
        now - Duration::minutes(1),
    );
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(
        &base,
        &[
            ("regions", "all"),
            ("aws_ec2_url", &base),
            ("operations", "SendCommand,StartSession"),
        ],
    );
    let cp = checkpoint_dir("aws-regions-change");
    let first = run(&emu, &cp, "t1651_cloud_audit://chg", &params);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let mut all = ids(&first.events);
    let end1 = Utc::now();

    // eu-west-1 disabled, ap-south-1 enabled (with a backlog), late arrivals in us-east-1.
    set(&["us-east-1", "ap-south-1"]);
    load(
        &emu,
        22,
        50,
        MGMT_ACCOUNT,
        "ap-south-1",
        now - Duration::hours(5),
        now - Duration::minutes(1),
    );
    load(
        &emu,
        23,
        30,
        MGMT_ACCOUNT,
        "us-east-1",
        end1 - Duration::minutes(10),
        end1,
    );
    let mark = emu.lock().unwrap().log.len();
    let second = run(&emu, &cp, "t1651_cloud_audit://chg", &params);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    all.extend(ids(&second.events));
    assert!(
        lookup_scopes(&emu, mark)
            .iter()
            .all(|(_, r)| r != "eu-west-1"),
        "a disabled region is not queried"
    );
    assert!(
        second.stderr.lines().any(|l| l.starts_with("INFO")
            && l.contains("not collected this run")
            && l.contains("aws:eu-west-1:")),
        "{}",
        second.stderr
    );

    // eu-west-1 comes back, with events from while the input was not reading it.
    set(&["us-east-1", "ap-south-1", "eu-west-1"]);
    load(
        &emu,
        24,
        30,
        MGMT_ACCOUNT,
        "eu-west-1",
        end1 - Duration::minutes(10),
        Utc::now() - Duration::seconds(1),
    );
    let third = run(&emu, &cp, "t1651_cloud_audit://chg", &params);
    assert_eq!(third.code, Some(0), "{}", third.stderr);
    all.extend(ids(&third.events));
    let wanted: HashSet<String> = emu
        .lock()
        .unwrap()
        .aws_events
        .iter()
        .filter(|(_, e)| e["eventName"] == "SendCommand" || e["eventName"] == "StartSession")
        .map(|(_, e)| e["eventID"].as_str().unwrap().to_string())
        .collect();
    assert_exactly_once(&all, &wanted);
}

const DENIED: &str = "333333333333";

/// An organization of six accounts: three ACTIVE and reachable (the management account among
/// them), one ACTIVE whose role refuses us, one SUSPENDED, one PENDING_CLOSURE.
fn organization(emu: &Shared) {
    let mut e = emu.lock().unwrap();
    e.org_accounts = [
        (MGMT_ACCOUNT, "ACTIVE"),
        ("111111111111", "ACTIVE"),
        ("222222222222", "SUSPENDED"),
        (DENIED, "ACTIVE"),
        ("444444444444", "ACTIVE"),
        ("555555555555", "PENDING_CLOSURE"),
    ]
    .iter()
    .map(|(a, s)| (a.to_string(), s.to_string()))
    .collect();
    e.org_denied.insert(DENIED.into());
    e.external_id = Some("t1651-ext-42".into());
}

const COLLECTED: &[&str] = &[MGMT_ACCOUNT, "111111111111", "444444444444"];

#[test]
fn organization_member_accounts_denied_and_inactive_ones_across_two_runs() {
    let emu = start();
    let now = Utc::now();
    organization(&emu);
    let accounts: Vec<String> = emu
        .lock()
        .unwrap()
        .org_accounts
        .iter()
        .map(|a| a.0.clone())
        .collect();
    for (i, a) in accounts.iter().enumerate() {
        for (j, r) in ["us-east-1", "eu-west-1"].iter().enumerate() {
            load(
                &emu,
                100 + (i * 10 + j) as u64,
                40,
                a,
                r,
                now - Duration::hours(5),
                now - Duration::minutes(1),
            );
        }
    }
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(
        &base,
        &[
            ("regions", "us-east-1,eu-west-1"),
            ("aws_home_region", "eu-west-1"),
            ("aws_organization_role", "T1651Audit"),
            ("external_id", "t1651-ext-42"),
            ("aws_organizations_url", &base),
        ],
    );
    let cp = checkpoint_dir("aws-org");
    let first = run(&emu, &cp, "t1651_cloud_audit://org", &params);
    // A member account could not be read: the run says so with its exit code.
    assert_eq!(first.code, Some(1), "{}", first.stderr);
    let errors: Vec<&str> = first
        .stderr
        .lines()
        .filter(|l| l.starts_with("ERROR"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", first.stderr);
    assert!(
        errors[0].contains(&format!("account {DENIED}")) && errors[0].contains("AccessDenied"),
        "{}",
        errors[0]
    );
    assert!(
        first.stderr.contains("1 accounts failed"),
        "{}",
        first.stderr
    );
    for inactive in [
        "222222222222 is SUSPENDED",
        "555555555555 is PENDING_CLOSURE",
    ] {
        assert!(first.stderr.contains(inactive), "{}", first.stderr);
    }
    let mut all = ids(&first.events);
    {
        let e = emu.lock().unwrap();
        // Six accounts, two per page: three pages.
        assert_eq!(e.list_accounts_calls, 3);
        let arns: Vec<&str> = e.assume_calls.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(arns.len(), 4, "one AssumeRole per ACTIVE account: {arns:?}");
        for a in ["222222222222", "555555555555"] {
            assert!(!arns.iter().any(|r| r.contains(a)), "{a} is not active");
        }
        for (arn, region, external_id) in &e.assume_calls {
            assert!(arn.starts_with("arn:aws:iam::") && arn.ends_with(":role/T1651Audit"));
            assert_eq!(region, "eu-west-1", "regional STS of the home region");
            assert_eq!(external_id.as_deref(), Some("t1651-ext-42"));
        }
    }
    let scopes = lookup_scopes(&emu, 0);
    assert!(scopes.iter().all(|(a, _)| COLLECTED.contains(&a.as_str())));
    assert!(dir_text(&cp).contains("aws:111111111111:us-east-1:SendCommand"));

    // Late arrivals within the overlap in two member accounts; the second run sends those only.
    let end1 = Utc::now();
    load(
        &emu,
        900,
        20,
        "111111111111",
        "eu-west-1",
        end1 - Duration::minutes(10),
        end1,
    );
    load(
        &emu,
        901,
        20,
        "444444444444",
        "us-east-1",
        end1 - Duration::minutes(10),
        end1,
    );
    let second = run(&emu, &cp, "t1651_cloud_audit://org", &params);
    assert_eq!(second.code, Some(1), "{}", second.stderr);
    assert_eq!(second.events.len(), 40, "{}", second.stderr);
    all.extend(ids(&second.events));
    assert_exactly_once(&all, &records(&emu, COLLECTED, &["us-east-1", "eu-west-1"]));
}

/// `regions = all` in each member account: DescribeRegions once per account and run, with that
/// account's own session; each account's own set of regions is collected.
#[test]
fn organization_with_regions_all_lists_each_accounts_regions() {
    let emu = start();
    let now = Utc::now();
    {
        let mut e = emu.lock().unwrap();
        e.org_accounts = vec![
            ("111111111111".into(), "ACTIVE".into()),
            ("444444444444".into(), "ACTIVE".into()),
        ];
        e.account_regions.insert(
            "111111111111".into(),
            regions(&[
                ("us-east-1", "opt-in-not-required"),
                ("ap-east-1", "opted-in"),
            ]),
        );
        e.account_regions.insert(
            "444444444444".into(),
            regions(&[
                ("eu-west-1", "opt-in-not-required"),
                ("ap-east-1", "not-opted-in"),
            ]),
        );
    }
    let mut seed = 300;
    for a in ["111111111111", "444444444444"] {
        for r in ["us-east-1", "eu-west-1", "ap-east-1"] {
            seed += 1;
            load(
                &emu,
                seed,
                25,
                a,
                r,
                now - Duration::hours(3),
                now - Duration::minutes(1),
            );
        }
    }
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(
        &base,
        &[
            ("regions", "all"),
            ("aws_organization_role", "T1651Audit"),
            ("aws_organizations_url", &base),
            ("aws_ec2_url", &base),
            ("workers", "4"),
        ],
    );
    let cp = checkpoint_dir("aws-org-all");
    let out = run(&emu, &cp, "t1651_cloud_audit://orgall", &params);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut want = records(&emu, &["111111111111"], &["us-east-1", "ap-east-1"]);
    want.extend(records(&emu, &["444444444444"], &["eu-west-1"]));
    assert_exactly_once(&ids(&out.events), &want);
    let mut calls = emu.lock().unwrap().describe_regions_calls.clone();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            ("111111111111".into(), "us-east-1".into(), "false".into()),
            ("444444444444".into(), "us-east-1".into(), "false".into()),
        ]
    );
    let scopes: HashSet<(String, String)> = lookup_scopes(&emu, 0).into_iter().collect();
    assert!(!scopes.contains(&("444444444444".into(), "ap-east-1".into())));
    assert!(!scopes.iter().any(|(a, _)| a == MGMT_ACCOUNT));
}

#[test]
fn organization_paging_loop_is_an_error() {
    let emu = start();
    organization(&emu);
    emu.lock().unwrap().org_repeat_token = true;
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(
        &base,
        &[
            ("aws_organization_role", "T1651Audit"),
            ("external_id", "t1651-ext-42"),
            ("aws_organizations_url", &base),
        ],
    );
    let cp = checkpoint_dir("aws-org-loop");
    let out = run(&emu, &cp, "t1651_cloud_audit://orgloop", &params);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.lines().any(|l| l.starts_with("ERROR")
            && l.contains("Organizations ListAccounts")
            && l.contains("same paging link/token again")),
        "{}",
        out.stderr
    );
    {
        let e = emu.lock().unwrap();
        assert_eq!(e.list_accounts_calls, 2, "stopped at the repeated token");
        assert!(lookup_scopes_empty(&e.log));
    }

    // The page cap applies to ListAccounts too: six accounts, two per page, max_pages = 2.
    emu.lock().unwrap().org_repeat_token = false;
    let mut capped = params.clone();
    capped.push(("max_pages".into(), "2".into()));
    let out = run(&emu, &cp, "t1651_cloud_audit://orgcap", &capped);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.lines().any(|l| l.starts_with("ERROR")
            && l.contains("Organizations ListAccounts")
            && l.contains("max_pages = 2")),
        "{}",
        out.stderr
    );
    assert!(lookup_scopes_empty(&emu.lock().unwrap().log));
}

fn lookup_scopes_empty(log: &[Req]) -> bool {
    !log.iter().any(|r| {
        r.header("x-amz-target")
            .is_some_and(|t| t.contains("LookupEvents"))
    })
}

/// Organizations refuses a principal outside the management account: the stanza fails with
/// the hint, nothing is collected.
#[test]
fn organization_listing_refused_names_the_permission() {
    let emu = start();
    organization(&emu);
    let base = emu.lock().unwrap().base_url.clone();
    // Assume a member's role first: its session is not the management account.
    emu.lock().unwrap().org_role = "T1651Audit".into();
    let params = with(
        &base,
        &[
            ("role_arn", "arn:aws:iam::111111111111:role/T1651Audit"),
            ("aws_organization_role", "T1651Audit"),
            ("external_id", "t1651-ext-42"),
            ("aws_organizations_url", &base),
        ],
    );
    let cp = checkpoint_dir("aws-org-refused");
    let out = run(&emu, &cp, "t1651_cloud_audit://orgno", &params);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.lines().any(|l| l.starts_with("ERROR")
            && l.contains("AccessDeniedException")
            && l.contains("organizations:ListAccounts")),
        "{}",
        out.stderr
    );
    assert!(out.events.is_empty());
}

/// Credentials refused by CloudTrail in one member account fail that account's sources only
/// (in a single-account stanza the same refusal stops the stanza: nothing else could work).
#[test]
fn member_account_refused_by_cloudtrail_does_not_stop_the_others() {
    let emu = start();
    let now = Utc::now();
    {
        let mut e = emu.lock().unwrap();
        e.org_accounts = vec![
            ("111111111111".into(), "ACTIVE".into()),
            ("444444444444".into(), "ACTIVE".into()),
        ];
        e.lookup_refused_accounts.insert("111111111111".into());
    }
    for (i, a) in ["111111111111", "444444444444"].iter().enumerate() {
        load(
            &emu,
            500 + i as u64,
            60,
            a,
            "us-east-1",
            now - Duration::hours(2),
            now - Duration::minutes(1),
        );
    }
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(
        &base,
        &[
            ("regions", "us-east-1"),
            ("aws_organization_role", "T1651Audit"),
            ("aws_organizations_url", &base),
            // One at a time: a stanza-wide stop at the first refusal would skip the rest.
            ("workers", "1"),
        ],
    );
    let cp = checkpoint_dir("aws-org-refused-member");
    let out = run(&emu, &cp, "t1651_cloud_audit://orgref", &params);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_exactly_once(
        &ids(&out.events),
        &records(&emu, &["444444444444"], &["us-east-1"]),
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ERROR"))
        .collect();
    assert_eq!(
        errors.len(),
        4,
        "one per event name of the refused account: {}",
        out.stderr
    );
    assert!(errors
        .iter()
        .all(|l| l.contains("account 111111111111") && l.contains("UnrecognizedClientException")));
}

/// LookupEvents pacing holds per account and region when accounts are collected concurrently:
/// the k-th call of one account in one region comes at least k × the pacing after its first
/// (less a margin for the first call's own send delay), whatever `workers` is.
#[test]
fn lookup_pacing_is_per_account_and_region() {
    let emu = start();
    let now = Utc::now();
    {
        let mut e = emu.lock().unwrap();
        e.org_accounts = vec![
            ("111111111111".into(), "ACTIVE".into()),
            ("444444444444".into(), "ACTIVE".into()),
        ];
    }
    for (i, a) in ["111111111111", "444444444444"].iter().enumerate() {
        load(
            &emu,
            600 + i as u64,
            400,
            a,
            "us-east-1",
            now - Duration::minutes(50),
            now - Duration::minutes(1),
        );
    }
    let base = emu.lock().unwrap().base_url.clone();
    let params = with(
        &base,
        &[
            ("regions", "us-east-1"),
            ("aws_organization_role", "T1651Audit"),
            ("aws_organizations_url", &base),
            ("workers", "8"),
            ("start_from", "-1h"),
        ],
    );
    let cp = checkpoint_dir("aws-org-pacing");
    let xml = input_xml(&base, &cp, "t1651_cloud_audit://orgpace", &as_refs(&params));
    let out = run_bin(
        &[],
        xml.as_bytes(),
        &[("T1651_MODINPUT_AWS_PACING_MS", "200")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_no_secret("stderr", &out.stderr);
    let e = emu.lock().unwrap();
    let mut per_account: BTreeMap<String, Vec<std::time::Instant>> = BTreeMap::new();
    for r in e.log.iter().filter(|r| {
        r.header("x-amz-target")
            .is_some_and(|t| t.contains("LookupEvents"))
    }) {
        let akid = r
            .header("authorization")
            .unwrap()
            .split("Credential=")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        let account = e.sessions.get(akid).map(|s| s.2.clone()).unwrap();
        per_account.entry(account).or_default().push(r.at);
    }
    assert_eq!(per_account.len(), 2);
    for (account, mut times) in per_account {
        times.sort();
        assert!(times.len() >= 6, "{account}: {} calls", times.len());
        // Slots are reserved 200 ms apart; a call may leave its slot late (load), so compare
        // each call with the first, less a margin for the first call's own delay.
        for (k, t) in times.iter().enumerate().skip(1) {
            let floor = std::time::Duration::from_millis(200 * k as u64 - 100);
            assert!(
                *t - times[0] >= floor,
                "{account}: call {k} only {:?} after the first",
                *t - times[0]
            );
        }
    }
}
