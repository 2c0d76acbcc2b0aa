//! Property: for random event sets and ANY split across any number of map processes
//! (some events may also bypass the map phase), reduce(map(p1), …, map(pn)) == direct run,
//! row for row, including the warning. Copies of records (double ingestion) are spread
//! across the splits too: two indexers holding one record give the answer of one copy.

mod detect_support;

use detect_support::*;
use proptest::prelude::*;
use serde_json::json;
use t1651::detect::engine::{Engine, Finished};
use t1651::detect::fields::FieldMap;
use t1651::detect::options::Options;

#[derive(Debug, Clone)]
enum Ev {
    Azure {
        vm: u8,
        corr: Option<u8>,
        status: u8,
        caller: u8,
        eventhub: bool,
        ip: Option<u8>,
        secs: u16,
        op: u8,
    },
    Aws {
        user: u8,
        instances: Vec<u8>,
        failed: bool,
        secs: u16,
        start_session: bool,
        /// Tag targeting instead of instance ids.
        selector: bool,
    },
    /// A Google Cloud record: a metadata write (first or last record of an operation, or
    /// no operation), a project-metadata write, or an OS Config patch job.
    Gcp {
        vm: u8,
        op: Option<u8>,
        /// 0 no key list, 1 startup-script, 2 ssh-keys, 3 startup-script deleted.
        keys: u8,
        first: bool,
        failed: bool,
        caller: u8,
        secs: u16,
        /// 0 instance metadata, 1 project metadata, 2 patch job.
        kind: u8,
        /// 0 gcloud JSON, 1 Pub/Sub object, 2 Pub/Sub base64.
        shape: u8,
    },
    Junk(u8),
}

fn ev_strategy() -> impl Strategy<Value = Ev> {
    prop_oneof![
        6 => (0u8..6, proptest::option::of(0u8..6), 0u8..4, 0u8..3, any::<bool>(), proptest::option::of(0u8..3), 0u16..7200, 0u8..3)
            .prop_map(|(vm, corr, status, caller, eventhub, ip, secs, op)| Ev::Azure { vm, corr, status, caller, eventhub, ip, secs, op }),
        3 => (0u8..3, proptest::collection::vec(0u8..8, 0..4), proptest::bool::weighted(0.2), 0u16..7200, any::<bool>(), proptest::bool::weighted(0.2))
            .prop_map(|(user, instances, failed, secs, start_session, selector)| Ev::Aws { user, instances, failed, secs, start_session, selector }),
        4 => ((0u8..4, proptest::option::of(0u8..4), 0u8..4, any::<bool>(), proptest::bool::weighted(0.2)), (0u8..3, 0u16..7200, prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2)], 0u8..3))
            .prop_map(|((vm, op, keys, first, failed), (caller, secs, kind, shape))| Ev::Gcp { vm, op, keys, first, failed, caller, secs, kind, shape }),
        1 => (0u8..4).prop_map(Ev::Junk),
    ]
}

fn iso(secs: u16) -> String {
    let s = u32::from(secs);
    format!(
        "2024-05-01T{:02}:{:02}:{:02}Z",
        10 + s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

fn render(e: &Ev) -> String {
    match e {
        Ev::Azure { vm, corr, status, caller, eventhub, ip, secs, op } => {
            let st = ["Started", "Accepted", "Succeeded", "Failed"][*status as usize];
            let mut a = Activity::run_command(&format!("VM-{vm}"), st, "x", &iso(*secs));
            a.corr = corr.map(|c| format!("0000000{c}-0000-4000-8000-00000000000{}", c % 3));
            a.upn = Some(["Alice@Contoso.com", "bob@contoso.com", "carol@partner.com"][*caller as usize].into());
            if *caller == 2 {
                a.idp = Some(format!("https://sts.windows.net/{PARTNER}/"));
            }
            a.ip = ip.map(|i| format!("198.51.100.{i}"));
            if *op == 1 {
                a.op = EXT_WRITE.into();
                a.resource_id = format!("{}/extensions/ext{}", a.resource_id, vm % 2);
            } else if *op == 2 {
                a.op = JOBS_WRITE.into();
                a.resource_id = format!(
                    "/subscriptions/{SUB}/resourceGroups/RG-Prod/providers/Microsoft.Automation/automationAccounts/acct{}/jobs/j{vm}",
                    vm % 2
                );
            }
            if *eventhub {
                a.eventhub()
            } else {
                a.rest()
            }
        }
        Ev::Aws { user, instances, failed, secs, start_session, selector } => {
            let ids: Vec<String> = instances.iter().map(|i| format!("i-{i:03}")).collect();
            let (name, params) = if *start_session {
                ("StartSession", json!({"target": ids.first().cloned().unwrap_or_else(|| "i-999".into())}))
            } else if *selector {
                ("SendCommand", json!({"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Env", "values": [format!("e{}", instances.len())]}]}))
            } else {
                ("SendCommand", json!({"documentName": "AWS-RunShellScript", "instanceIds": ids}))
            };
            let who = if *user == 2 { assumed_role("Ops", &format!("s{secs}")) } else { iam_user(&format!("u{user}")) };
            let mut extra = json!({"eventTime": iso(*secs), "requestID": format!("{secs:08x}-0000-4000-8000-000000000000")});
            if *failed {
                extra["errorCode"] = json!("AccessDenied");
            }
            cloudtrail(name, who, params, extra)
        }
        Ev::Gcp { vm, op, keys, first, failed, caller, secs, kind, shape } => {
            let mut r = GcpRecord::set_metadata(&format!("vm-{vm}"), "x", &[], &iso(*secs));
            r.operation = op.map(|o| (format!("operation-{o}"), *first, !*first));
            r.keys = match keys {
                0 => Keys::None,
                1 => Keys::added(&["startup-script"]),
                2 => Keys::added(&["ssh-keys"]),
                _ => Keys::Delta { added: vec![], modified: vec![], deleted: vec!["startup-script".into()] },
            };
            r.principal = Some(["mallory@example.com", "deployer@acme-prod.iam.gserviceaccount.com", "service-1@gcp-sa-osconfig.iam.gserviceaccount.com"][*caller as usize].into());
            if *failed {
                r.status_code = Some(7);
                r.severity = "ERROR";
            }
            if *kind == 1 {
                r.method = SET_PROJECT_METADATA.into();
                r.resource_name = format!("projects/{GCP_PROJECT}");
            } else if *kind == 2 {
                r.method = EXECUTE_PATCH_JOB.into();
                r.resource_name = format!("projects/{GCP_PROJECT}/patchJobs/j{vm}");
            }
            r.insert_id = Some(format!("{e:?}").chars().filter(|c| c.is_ascii_alphanumeric()).collect());
            match shape {
                0 => r.json(),
                1 => r.pubsub(),
                _ => r.pubsub_base64(),
            }
        }
        Ev::Junk(k) => match k {
            0 => "{\"broken\": ".into(),
            1 => "{\"a\":1,,}".into(),
            2 => "{\"correlationId\":\"c\"}".into(),
            _ => json!({"operationName": "Microsoft.Network/networkSecurityGroups/write", "time": iso(1)}).to_string(),
        },
    }
}

fn event_fields(raw: &str) -> FieldMap {
    let mut f = FieldMap::new();
    f.set("_raw", raw).set("_time", "1714557600");
    f
}

fn direct(opts: &Options, raws: &[String]) -> Finished {
    let mut e = Engine::new(opts.clone());
    for r in raws {
        e.ingest_fields(&event_fields(r));
    }
    e.finish()
}

/// Map each partition (part == parts means: sent straight to the reducer), then reduce.
fn distributed(
    pairs: &[(&str, &str)],
    raws: &[String],
    assign: &[usize],
    parts: usize,
    reverse: bool,
) -> Finished {
    let mut map_pairs = pairs.to_vec();
    map_pairs.push(("phase", "map"));
    let map_opts = Options::parse(map_pairs.iter().copied()).unwrap();
    let mut partials = Vec::new();
    for p in 0..parts {
        let mut m = Engine::new(map_opts.clone());
        for (r, a) in raws.iter().zip(assign) {
            if *a == p {
                m.ingest_fields(&event_fields(r));
            }
        }
        let done = m.finish();
        assert_eq!(
            done.warning, None,
            "the map phase leaves warnings to the reducer"
        );
        partials.extend(done.rows);
    }
    if reverse {
        partials.reverse();
    }
    let mut reduce = Engine::new(Options::parse(pairs.iter().copied()).unwrap());
    // Raw events that skipped the map phase, interleaved before and after the partials.
    let (before, after): (Vec<_>, Vec<_>) = raws
        .iter()
        .zip(assign)
        .filter(|(_, a)| **a == parts)
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    for (_, (r, _)) in before {
        reduce.ingest_fields(&event_fields(r));
    }
    for row in &partials {
        reduce.ingest_fields(row);
    }
    for (_, (r, _)) in after {
        reduce.ingest_fields(&event_fields(r));
    }
    reduce.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn reduce_of_maps_equals_direct_run(
        events in proptest::collection::vec(ev_strategy(), 0..40),
        copies in proptest::collection::vec(0usize..40, 0..12),
        parts in 1usize..5,
        seed in proptest::collection::vec(0usize..100, 52),
        span in any::<bool>(),
        include_failed in any::<bool>(),
        small_values in any::<bool>(),
        reverse in any::<bool>(),
    ) {
        let mut pairs: Vec<(&str, &str)> = vec![("threshold", "2")];
        if span { pairs.push(("span", "30m")); }
        if include_failed { pairs.push(("include_failed", "true")); }
        if small_values { pairs.push(("max_values", "2")); }
        let mut raws: Vec<String> = events.iter().map(render).collect();
        let originals = raws.len();
        for c in copies {
            if c < originals {
                raws.push(raws[c].clone());
            }
        }
        let assign: Vec<usize> = seed.iter().take(raws.len()).map(|s| s % (parts + 1)).collect();
        let opts = Options::parse(pairs.iter().copied()).unwrap();
        let want = direct(&opts, &raws);
        let got = distributed(&pairs, &raws, &assign, parts, reverse);
        prop_assert_eq!(&got.rows, &want.rows);
        prop_assert_eq!(&got.warning, &want.warning);
        prop_assert_eq!(got.stats.skipped, want.stats.skipped);
        prop_assert_eq!(got.stats.duplicates, want.stats.duplicates);
    }
}

#[test]
fn invocation_split_across_indexers_is_still_one() {
    let rows: Vec<String> = [("Started", 0u16), ("Accepted", 1), ("Succeeded", 5)]
        .iter()
        .map(|(st, s)| {
            Activity::run_command("vm1", st, "aaaa0000-bb11-4222-83cc-444444dddddd", &iso(*s))
                .eventhub()
        })
        .collect();
    let pairs = [("threshold", "3")];
    let got = distributed(&pairs, &rows, &[0, 1, 2], 3, false);
    assert_eq!(got.rows.len(), 1);
    assert_eq!(col(&got.rows[0], "invocation_count"), "1");
    assert_eq!(got.rows, direct(&Options::default(), &rows).rows);
    // A failed final row on another indexer fails the whole invocation.
    let mut failed = rows.clone();
    failed[2] = Activity::run_command(
        "vm1",
        "Failed",
        "aaaa0000-bb11-4222-83cc-444444dddddd",
        &iso(5),
    )
    .eventhub();
    let got = distributed(&pairs, &failed, &[0, 1, 2], 3, false);
    assert!(got.rows.is_empty());
}

#[test]
fn partial_rows_for_other_options_are_rejected() {
    // Without eventID/requestID the event cannot be de-duplicated, so the map folds it into
    // a (bucketed) group partial instead of shipping it whole.
    let raw = cloudtrail(
        "SendCommand",
        iam_user("a"),
        json!({"instanceIds": ["i-1"]}),
        json!({"eventID": null, "requestID": null}),
    );
    let mut m = Engine::new(opts(&[("phase", "map"), ("span", "1h")]));
    m.ingest_json(raw.as_bytes(), None);
    let partials = m.finish().rows;
    // Reducer without span: the bucketed group partial does not fit.
    let mut r = Engine::new(Options::default());
    for p in &partials {
        r.ingest_fields(p);
    }
    let done = r.finish();
    assert!(done.rows.is_empty());
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect skipped 1 event: 1 bad_partial_state")
    );
    // Reducer with a different operation list.
    let mut r = Engine::new(opts(&[("operations", "StartSession")]));
    for p in &partials {
        r.ingest_fields(p);
    }
    assert!(r.finish().warning.unwrap().contains("bad_partial_state"));
}

/// A Google Cloud operation whose records are held by different indexers: the script key
/// on one, the failure on another. The reducer merges the gate and the status like the
/// direct run does; an operation whose records never name a script key stays out.
#[test]
fn gcp_operation_split_across_indexers_is_still_gated_as_one() {
    let first = GcpRecord::set_metadata("web-1", "operation-7", &["startup-script"], &iso(0));
    let mut last = first.last(&iso(5));
    last.status_code = Some(13);
    let mut ssh = GcpRecord::set_metadata("web-2", "operation-8", &[], &iso(1));
    ssh.keys = Keys::None;
    let mut ssh_last = ssh.last(&iso(2));
    ssh_last.keys = Keys::added(&["ssh-keys"]);
    let raws = vec![
        first.json(),
        last.pubsub(),
        ssh.json(),
        ssh_last.pubsub_base64(),
    ];
    for pairs in [vec![], vec![("include_failed", "t")]] {
        let want = direct(&Options::parse(pairs.iter().copied()).unwrap(), &raws);
        for assign in [[0, 1, 2, 0], [1, 0, 0, 1], [0, 2, 1, 2], [2, 2, 2, 2]] {
            let got = distributed(&pairs, &raws, &assign, 2, false);
            assert_eq!(got.rows, want.rows, "{pairs:?} {assign:?}");
        }
        if pairs.is_empty() {
            assert!(want.rows.is_empty(), "{:?}", want.rows);
        } else {
            assert_eq!(want.rows.len(), 1);
            assert_eq!(col(&want.rows[0], "failed_count"), "1");
            assert_eq!(multi(&want.rows[0], "documents"), ["startup-script"]);
        }
    }
}
