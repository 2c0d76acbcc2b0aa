//! Engine semantics: invocation collapse, aggregation, output columns, limits, warnings.

mod detect_support;

use detect_support::*;
use serde_json::json;
use t1651::detect::engine::{Disposition, Engine};
use t1651::detect::fields::FieldMap;
use t1651::detect::options::Options;
use t1651::detect::row::OutputRow;

const C1: &str = "aaaa0000-bb11-4222-83cc-444444dddddd";
const C2: &str = "bbbb0000-bb11-4222-83cc-444444dddddd";

fn lifecycle(vm: &str, corr: &str, final_status: &'static str, t0: u32) -> Vec<Activity> {
    vec![
        Activity::run_command(vm, "Started", corr, &format!("2024-05-01T10:00:{t0:02}Z")),
        Activity::run_command(
            vm,
            "Accepted",
            corr,
            &format!("2024-05-01T10:00:{:02}Z", t0 + 1),
        ),
        Activity::run_command(
            vm,
            final_status,
            corr,
            &format!("2024-05-01T10:00:{:02}Z", t0 + 5),
        ),
    ]
}

#[test]
fn three_row_lifecycle_collapses_to_one_invocation() {
    let raws: Vec<String> = lifecycle("Web-01", C1, "Succeeded", 0)
        .iter()
        .map(Activity::rest)
        .collect();
    let done = run(Options::default(), &raws);
    assert_eq!(done.rows.len(), 1);
    let r = &done.rows[0];
    assert_eq!(col(r, "invocation_count"), "1");
    assert_eq!(col(r, "failed_count"), "0");
    assert_eq!(multi(r, "targeted_vms"), ["web-01"]);
    assert_eq!(col(r, "vm_count"), "1");
    assert_eq!(col(r, "caller_identity"), "alice@contoso.com");
    assert_eq!(col(r, "user"), "alice@contoso.com");
    assert_eq!(col(r, "resource_group"), "rg-prod");
    assert_eq!(col(r, "subscription_id"), SUB);
    assert_eq!(col(r, "vendor_account"), SUB);
    assert_eq!(col(r, "operation_lower"), RUN_COMMAND.to_lowercase());
    assert_eq!(col(r, "multi_vm_targeting"), "FALSE");
    assert_eq!(col(r, "first_seen"), "1714557600");
    assert_eq!(col(r, "last_seen"), "1714557605");
    assert_eq!(col(r, "_time"), "1714557600");
    assert_eq!(col(r, "duration_seconds"), "5");
    assert_eq!(col(r, "event_time"), "2024-05-01T10:00:00Z");
    assert_eq!(multi(r, "source_ips"), ["203.0.113.7"]);
    assert_eq!(multi(r, "src"), ["203.0.113.7"]);
    assert_eq!(multi(r, "dest"), ["web-01"]);
    assert_eq!(multi(r, "correlation_ids"), [C1]);
    assert_eq!(col(r, "cloud"), "azure");
    assert_eq!(col(r, "caller_type"), "user");
    assert_eq!(col(r, "caller_tenant"), TENANT);
    assert_eq!(col(r, "cross_tenant"), "FALSE");
    assert_eq!(col(r, "vendor_product"), "Azure Activity Log");
    assert_eq!(done.warning, None);
    assert_eq!(done.stats.selected, 3);
}

#[test]
fn accepted_only_counts_as_in_progress_and_no_correlation_is_own_invocation() {
    let mut rows = lifecycle("vm1", C1, "Accepted", 0);
    rows.truncate(2); // Started + Accepted: in progress, still counted
    let mut raws: Vec<String> = rows.iter().map(Activity::rest).collect();
    let mut loose = Activity::run_command("vm2", "Succeeded", C2, "2024-05-01T10:01:00Z");
    loose.corr = None;
    raws.push(loose.rest());
    raws.push(loose.rest()); // no correlationId: two rows, two invocations
    let done = run(Options::default(), &raws);
    assert_eq!(col(&done.rows[0], "invocation_count"), "3");
    assert_eq!(multi(&done.rows[0], "targeted_vms"), ["vm1", "vm2"]);
}

#[test]
fn failures_and_include_failed() {
    let mut raws: Vec<String> = lifecycle("vm1", C1, "Succeeded", 0)
        .iter()
        .map(Activity::rest)
        .collect();
    raws.extend(
        lifecycle("vm2", C2, "Failed", 10)
            .iter()
            .map(Activity::eventhub),
    );
    let done = run(Options::default(), &raws);
    assert_eq!(done.rows.len(), 1);
    let r = &done.rows[0];
    assert_eq!(col(r, "invocation_count"), "1");
    assert_eq!(col(r, "failed_count"), "1");
    assert_eq!(
        multi(r, "targeted_vms"),
        ["vm1"],
        "failed invocation's target not counted"
    );
    let done = run(opts(&[("include_failed", "true")]), &raws);
    let r = &done.rows[0];
    assert_eq!(col(r, "invocation_count"), "2");
    assert_eq!(col(r, "failed_count"), "1");
    assert_eq!(multi(r, "targeted_vms"), ["vm1", "vm2"]);
    // A group with only failed invocations is emitted only with include_failed.
    let failed = vec![cloudtrail(
        "SendCommand",
        iam_user("eve"),
        json!({"instanceIds": ["i-1"]}),
        json!({"errorCode": "AccessDenied"}),
    )];
    assert!(run(Options::default(), &failed).rows.is_empty());
    let done = run(opts(&[("include_failed", "1")]), &failed);
    assert_eq!(col(&done.rows[0], "failed_count"), "1");
    assert_eq!(col(&done.rows[0], "invocation_count"), "1");
}

#[test]
fn same_activity_same_answer_in_every_shape() {
    let acts: Vec<Activity> = [
        lifecycle("Web-01", C1, "Succeeded", 0),
        lifecycle("WEB-02", C2, "Succeeded", 20),
    ]
    .concat();
    let rest = run(
        Options::default(),
        &acts.iter().map(Activity::rest).collect::<Vec<_>>(),
    );
    let eh = run(
        Options::default(),
        &acts.iter().map(Activity::eventhub).collect::<Vec<_>>(),
    );
    let flat: Vec<FieldMap> = acts.iter().map(|a| a.flattened("1")).collect();
    let flat = run_fields(Options::default(), &flat);
    let mscs: Vec<FieldMap> = acts.iter().map(Activity::mscs_flattened).collect();
    let mscs = run_fields(Options::default(), &mscs);
    // JSON _raw through the fields door.
    let via_raw: Vec<FieldMap> = acts
        .iter()
        .map(|a| {
            let mut f = FieldMap::new();
            f.set("_raw", a.eventhub()).set("_time", "1");
            f
        })
        .collect();
    let via_raw = run_fields(Options::default(), &via_raw);
    assert_eq!(rest.rows.len(), 1);
    assert_eq!(col(&rest.rows[0], "invocation_count"), "2");
    assert_eq!(multi(&rest.rows[0], "targeted_vms"), ["web-01", "web-02"]);
    for other in [&eh, &flat, &mscs, &via_raw] {
        assert_eq!(other.rows, rest.rows);
    }
}

#[test]
fn vmss_extension_arc_and_automation_targets() {
    let mk = |op: &str, rid: String, corr: &str| {
        json!({"operationName": op, "resultType": "Success", "resourceId": rid, "correlationId": corr,
               "time": "2024-05-01T10:00:00Z", "identity": {"claims": {"upn": "ops@contoso.com"}}})
        .to_string()
    };
    let base = format!("/subscriptions/{SUB}/resourceGroups/rg/providers");
    let raws = vec![
        mk(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
            format!("{base}/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/0"),
            "c-1",
        ),
        mk(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
            format!("{base}/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/1"),
            "c-2",
        ),
        mk(
            JOBS_WRITE,
            format!("{base}/Microsoft.Automation/automationAccounts/Acct/jobs/j1"),
            "c-3",
        ),
        mk(
            JOBS_WRITE,
            format!("{base}/Microsoft.Automation/automationAccounts/Acct/jobs/j2"),
            "c-4",
        ),
        mk(
            EXT_WRITE,
            format!(
                "{base}/Microsoft.Compute/virtualMachines/vm9/extensions/CustomScriptExtension"
            ),
            "c-5",
        ),
    ];
    let done = run(Options::default(), &raws);
    assert_eq!(done.rows.len(), 3);
    let by_op = |op: &str| {
        done.rows
            .iter()
            .find(|r| col(r, "operation_lower") == op.to_lowercase())
            .unwrap()
            .clone()
    };
    let ss = by_op("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action");
    assert_eq!(multi(&ss, "targeted_vms"), ["ss/0", "ss/1"]);
    let jobs = by_op(JOBS_WRITE);
    assert_eq!(col(&jobs, "invocation_count"), "2");
    assert_eq!(col(&jobs, "vm_count"), "0");
    assert!(multi(&jobs, "targeted_vms").is_empty());
    assert_eq!(multi(&jobs, "targeted_resources"), ["acct"]);
    assert_eq!(multi(&jobs, "dest"), ["acct"]);
    let ext = by_op(EXT_WRITE);
    assert_eq!(multi(&ext, "documents"), ["customscriptextension"]);
}

#[test]
fn one_deployment_correlation_id_across_vms_keeps_every_target() {
    // ARM deployments share one correlationId across resources: still one invocation per VM.
    let raws: Vec<String> = (0..5)
        .map(|i| {
            let mut a =
                Activity::run_command(&format!("vm{i}"), "Succeeded", C1, "2024-05-01T10:00:00Z");
            a.op = EXT_WRITE.into();
            a.resource_id = vm_id("rg-prod", &format!("vm{i}")) + "/extensions/cse";
            a.rest()
        })
        .collect();
    let done = run(Options::default(), &raws);
    let r = &done.rows[0];
    assert_eq!(col(r, "invocation_count"), "5");
    assert_eq!(col(r, "vm_count"), "5");
    assert_eq!(col(r, "multi_vm_targeting"), "TRUE");
    assert_eq!(multi(r, "correlation_ids"), [C1]);
}

#[test]
fn threshold_boundaries() {
    let ids =
        |n: usize| json!({"instanceIds": (0..n).map(|i| format!("i-{i:04}")).collect::<Vec<_>>()});
    for (n, threshold, want) in [
        (3, "3", "FALSE"),
        (4, "3", "TRUE"),
        (1, "0", "TRUE"),
        (0, "0", "FALSE"),
        (10, "10", "FALSE"),
        (11, "10", "TRUE"),
    ] {
        let raws = vec![cloudtrail(
            "SendCommand",
            iam_user("bob"),
            ids(n),
            json!({}),
        )];
        let done = run(opts(&[("threshold", threshold)]), &raws);
        let r = &done.rows[0];
        assert_eq!(col(r, "vm_count"), n.to_string());
        assert_eq!(
            col(r, "multi_vm_targeting"),
            want,
            "n={n} threshold={threshold}"
        );
    }
}

#[test]
fn aws_rows() {
    let raws = vec![
        cloudtrail(
            "SendCommand",
            assumed_role("Ops", "alice"),
            json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-1", "i-2"]}),
            json!({}),
        ),
        cloudtrail(
            "SendCommand",
            assumed_role("Ops", "bob"),
            json!({"documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Env", "values": ["prod"]}]}),
            json!({"requestID": "2479b5e1-9751-4bf1-b548-000000000002"}),
        ),
        cloudtrail(
            "StartSession",
            iam_user("carol"),
            json!({"target": "i-3"}),
            json!({}),
        ),
    ];
    let done = run(Options::default(), &raws);
    assert_eq!(done.rows.len(), 2);
    let r = &done.rows[0];
    assert_eq!(col(r, "operation_lower"), "ssm.amazonaws.com/sendcommand");
    assert_eq!(
        col(r, "caller_identity"),
        "arn:aws:iam::111122223333:role/Ops"
    );
    assert_eq!(col(r, "caller_type"), "assumed_role");
    assert_eq!(multi(r, "caller_session"), ["alice", "bob"]);
    assert_eq!(col(r, "invocation_count"), "2");
    assert_eq!(multi(r, "targeted_vms"), ["i-1", "i-2"]);
    // A tag target selects instances: listed apart, not counted, and a finding.
    assert_eq!(multi(r, "target_selectors"), ["tag:Env=prod"]);
    assert_eq!(col(r, "vm_count"), "2");
    assert_eq!(col(r, "multi_vm_targeting"), "TRUE");
    assert_eq!(col(r, "subscription_id"), "111122223333");
    assert_eq!(col(r, "resource_group"), "");
    assert_eq!(col(r, "cloud"), "aws");
    assert_eq!(col(r, "vendor_product"), "AWS CloudTrail");
    assert_eq!(multi(r, "documents"), ["AWS-RunShellScript"]);
    assert_eq!(multi(r, "correlation_ids").len(), 2);
    assert_eq!(
        col(&done.rows[1], "operation_lower"),
        "ssm.amazonaws.com/startsession"
    );
}

#[test]
fn span_buckets() {
    let at = |t: &str| {
        cloudtrail(
            "SendCommand",
            iam_user("bob"),
            json!({"instanceIds": ["i-1"]}),
            json!({"eventTime": t}),
        )
    };
    let raws = vec![
        at("2024-05-01T10:05:00Z"),
        at("2024-05-01T10:55:00Z"),
        at("2024-05-01T12:30:00Z"),
    ];
    let done = run(Options::default(), &raws);
    assert_eq!(done.rows.len(), 1);
    let done = run(opts(&[("span", "1h")]), &raws);
    assert_eq!(done.rows.len(), 2);
    let r = &done.rows[0];
    assert_eq!(col(r, "invocation_count"), "2");
    assert_eq!(col(r, "_time"), "1714557600"); // 10:00 bucket start
    assert_eq!(col(r, "first_seen"), "1714557900");
    assert_eq!(col(&done.rows[1], "_time"), "1714564800"); // 12:00
                                                           // An Azure invocation straddling a bucket boundary belongs to its first row's bucket.
    let acts = [
        Activity::run_command("vm1", "Started", C1, "2024-05-01T10:59:59Z"),
        Activity::run_command("vm1", "Succeeded", C1, "2024-05-01T11:00:03Z"),
    ];
    let done = run(
        opts(&[("span", "1h")]),
        &acts.iter().map(Activity::rest).collect::<Vec<_>>(),
    );
    assert_eq!(done.rows.len(), 1);
    assert_eq!(col(&done.rows[0], "_time"), "1714557600");
}

#[test]
fn sorted_by_invocation_count_then_deterministic_keys() {
    let cmd = |user: &str| {
        cloudtrail(
            "SendCommand",
            iam_user(user),
            json!({"instanceIds": ["i-1"]}),
            json!({}),
        )
    };
    let raws = vec![
        cmd("zed"),
        cmd("amy"),
        cmd("bob"),
        cmd("bob"),
        cmd("zed"),
        cmd("zed"),
    ];
    let done = run(Options::default(), &raws);
    let order: Vec<(&str, &str)> = done
        .rows
        .iter()
        .map(|r| (col(r, "caller_identity"), col(r, "invocation_count")))
        .collect();
    assert_eq!(
        order,
        [
            ("arn:aws:iam::111122223333:user/zed", "3"),
            ("arn:aws:iam::111122223333:user/bob", "2"),
            ("arn:aws:iam::111122223333:user/amy", "1")
        ]
    );
}

#[test]
fn operations_option_selects() {
    let raws = vec![
        cloudtrail(
            "SendCommand",
            iam_user("a"),
            json!({"instanceIds": ["i-1"]}),
            json!({}),
        ),
        Activity::run_command("vm1", "Succeeded", C1, "2024-05-01T10:00:00Z").rest(),
    ];
    let done = run(opts(&[("operations", "sendcommand")]), &raws);
    assert_eq!(done.rows.len(), 1);
    assert_eq!(col(&done.rows[0], "cloud"), "aws");
    assert_eq!(done.stats.ignored, 1);
    assert_eq!(done.warning, None, "not_selected is not a warning");
}

#[test]
fn skips_are_counted_in_one_warning() {
    let mut e = Engine::new(Options::default());
    assert_eq!(
        e.ingest_json(b"{\"a\":1,,}", None),
        Disposition::Skipped(t1651::detect::normalize::SkipReason::BrokenJson)
    );
    e.ingest_json(b"{\"a\":1,,}", None);
    e.ingest_json(b"{\"correlationId\":\"x\"}", None);
    e.ingest_json(br#"{"records":[]}"#, None);
    let mut f = FieldMap::new();
    f.set("t1651_state", "{not json");
    e.ingest_fields(&f);
    let done = e.finish();
    assert!(done.rows.is_empty());
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect skipped 5 events: 2 broken_json, 1 bad_partial_state, 1 no_operation, 1 records_wrapper")
    );
}

#[test]
fn max_values_cuts_columns_and_flags_them() {
    let ids: Vec<String> = (0..7).map(|i| format!("i-{i}")).collect();
    let raws = vec![cloudtrail(
        "SendCommand",
        iam_user("a"),
        json!({"instanceIds": ids}),
        json!({}),
    )];
    let done = run(opts(&[("max_values", "3")]), &raws);
    let r = &done.rows[0];
    assert_eq!(multi(r, "targeted_vms"), ["i-0", "i-1", "i-2"]);
    assert_eq!(
        col(r, "vm_count"),
        "7",
        "count is exact even when the column is cut"
    );
    assert_eq!(col(r, "targeted_vms_truncated"), "TRUE");
    assert_eq!(col(r, "dest_truncated"), "TRUE");
    assert!(r.get("source_ips_truncated").is_none());
    assert!(done.warning.unwrap().contains("max_values=3 in 1 rows"));
    // Correlation ids keep the smallest ones.
    let corr: Vec<String> = (0..5)
        .map(|i| {
            Activity::run_command(
                "vm",
                "Succeeded",
                &format!("0000000{i}-0000-4000-8000-000000000000"),
                "2024-05-01T10:00:00Z",
            )
            .rest()
        })
        .rev()
        .collect();
    let done = run(opts(&[("max_values", "2")]), &corr);
    let r = &done.rows[0];
    assert_eq!(
        multi(r, "correlation_ids"),
        [
            "00000000-0000-4000-8000-000000000000",
            "00000001-0000-4000-8000-000000000000"
        ]
    );
    assert_eq!(col(r, "correlation_ids_truncated"), "TRUE");
}

/// Which groups `max_groups` keeps must not depend on the invocation table's hash order
/// (every engine has its own random hash seed): the same input gives the same rows.
#[test]
fn max_groups_keeps_the_same_groups_in_every_engine() {
    let raws: Vec<String> = (0..40)
        .flat_map(|i| {
            let mut a = Activity::run_command(
                &format!("vm{i}"),
                "Succeeded",
                &format!("00000000-0000-4000-8000-{i:012}"),
                &format!("2026-03-14T02:{:02}:00Z", 59 - i),
            );
            a.upn = Some(format!("user{}@contoso.com", i / 4));
            [a.rest()]
        })
        .collect();
    let first = run(opts(&[("max_groups", "4")]), &raws);
    assert_eq!(first.rows.len(), 4);
    for _ in 0..20 {
        let again = run(opts(&[("max_groups", "4")]), &raws);
        assert_eq!(again.rows, first.rows);
        assert_eq!(again.stats, first.stats);
    }
    // The groups of the earliest invocations are the ones kept (user9 ran first).
    let mut callers: Vec<&str> = first
        .rows
        .iter()
        .map(|r| col(r, "caller_identity"))
        .collect();
    callers.sort_unstable();
    assert_eq!(
        callers,
        [
            "user6@contoso.com",
            "user7@contoso.com",
            "user8@contoso.com",
            "user9@contoso.com"
        ]
    );
}

#[test]
fn group_and_invocation_limits() {
    let raws: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|u| {
            cloudtrail(
                "SendCommand",
                iam_user(u),
                json!({"instanceIds": ["i-1"]}),
                json!({}),
            )
        })
        .collect();
    let done = run(opts(&[("max_groups", "2")]), &raws);
    assert_eq!(done.rows.len(), 2);
    assert_eq!(done.stats.dropped_by_max_groups, 1);
    assert!(done
        .warning
        .unwrap()
        .contains("max_groups=2 reached: 1 invocations"));
    let raws: Vec<String> = [
        lifecycle("vm1", C1, "Succeeded", 0),
        lifecycle("vm2", C2, "Succeeded", 10),
    ]
    .concat()
    .iter()
    .map(Activity::rest)
    .collect();
    let done = run(opts(&[("max_invocations", "1")]), &raws);
    assert_eq!(col(&done.rows[0], "invocation_count"), "1");
    assert_eq!(done.stats.dropped_by_max_invocations, 3);
    assert!(done
        .warning
        .unwrap()
        .contains("max_invocations=1 reached: 3 events"));
}

#[test]
fn events_mode_rows() {
    let mut e = Engine::new(opts(&[("mode", "events")]));
    let a = Activity::run_command("Web-01", "Accepted", C1, "2024-05-01T10:00:00Z");
    let mut f = FieldMap::new();
    f.set("_raw", a.eventhub());
    let row: OutputRow = e.event_row(&f).unwrap();
    assert_eq!(col(&row, "result_status"), "accepted");
    assert_eq!(col(&row, "caller_identity"), "alice@contoso.com");
    assert_eq!(multi(&row, "targeted_vms"), ["web-01"]);
    assert_eq!(col(&row, "correlation_id"), C1);
    assert_eq!(col(&row, "event_time"), "2024-05-01T10:00:00Z");
    assert_eq!(col(&row, "source_ip"), "203.0.113.7");
    let noise = cloudtrail("GetCommandInvocation", iam_user("a"), json!({}), json!({}));
    assert!(e.event_row_json(noise.as_bytes(), None).is_none());
    assert!(e.event_row_json(b"{broken", None).is_none());
    let done = e.finish();
    assert!(done.rows.is_empty());
    assert_eq!(done.stats.selected, 1);
    assert_eq!(done.stats.ignored, 1);
    assert_eq!(
        done.warning.as_deref(),
        Some("t1651detect skipped 1 event: 1 broken_json")
    );
}

#[test]
fn cross_tenant_and_guest_columns_in_summary() {
    let mut a = Activity::run_command("vm1", "Succeeded", C1, "2024-05-01T10:00:00Z");
    a.idp = Some(format!("https://sts.windows.net/{PARTNER}/"));
    let done = run(Options::default(), &[a.rest()]);
    let r = &done.rows[0];
    assert_eq!(col(r, "cross_tenant"), "TRUE");
    assert_eq!(col(r, "caller_type"), "guest");
    assert_eq!(col(r, "caller_tenant"), PARTNER);
}

#[test]
fn finish_with_streams_the_same_rows() {
    let raws: Vec<String> = ["zed", "amy", "amy"]
        .iter()
        .map(|u| {
            cloudtrail(
                "SendCommand",
                iam_user(u),
                json!({"instanceIds": ["i-1", "i-2"]}),
                json!({}),
            )
        })
        .chain(std::iter::once("{broken".to_string()))
        .collect();
    let whole = run(opts(&[("max_values", "1")]), &raws);
    let mut e = Engine::new(opts(&[("max_values", "1")]));
    for r in &raws {
        e.ingest_json(r.as_bytes(), None);
    }
    let mut streamed = Vec::new();
    let info = e.finish_with(|r| streamed.push(r.clone()));
    assert_eq!(streamed, whole.rows);
    assert_eq!(info.warning, whole.warning);
    assert!(info.warning.unwrap().contains("max_values=1 in 2 rows"));
}

/// A SendCommand by IAM user `user` on `vms` at `t`.
fn call(user: &str, vms: &[&str], t: &str) -> String {
    cloudtrail(
        "SendCommand",
        iam_user(user),
        json!({"instanceIds": vms}),
        json!({"eventTime": t}),
    )
}

/// Summary rows are built one after another in reused buffers: a row must not keep a
/// column, flag or value of the row before it. Each row of a run over several groups (cut
/// and uncut columns, more and fewer values, with and without `span`) equals the row of
/// that group's events run alone.
#[test]
fn each_summary_row_equals_the_row_built_alone() {
    let groups: Vec<Vec<String>> = vec![
        // Most invocations first: three VMs each, cut at max_values=2.
        (0..4)
            .map(|i| {
                call(
                    "amy",
                    &["i-1", "i-2", "i-3"],
                    &format!("2024-05-01T10:0{i}:00Z"),
                )
            })
            .collect(),
        (0..3)
            .map(|i| call("bob", &["i-9"], &format!("2024-05-01T11:0{i}:00Z")))
            .collect(),
        (0..2)
            .map(|i| call("cat", &["i-4", "i-5"], &format!("2024-05-01T12:0{i}:00Z")))
            .collect(),
        vec![call("dan", &[], "2024-05-01T13:00:00Z")],
    ];
    for extra in [vec![], vec![("span", "1h")]] {
        let mut pairs = vec![("max_values", "2"), ("threshold", "1")];
        pairs.extend(extra.iter().copied());
        let all: Vec<String> = groups.iter().flatten().cloned().collect();
        let together = run(opts(&pairs), &all);
        let alone: Vec<OutputRow> = groups
            .iter()
            .flat_map(|g| run(opts(&pairs), g).rows)
            .collect();
        assert_eq!(together.rows.len(), groups.len(), "{pairs:?}");
        assert!(
            together.rows[0].get("targeted_vms_truncated").is_some(),
            "the first row is cut: {:?}",
            together.rows[0]
        );
        assert!(together.rows[1].get("targeted_vms_truncated").is_none());
        assert_eq!(together.rows, alone, "{pairs:?}");
    }
}

#[test]
fn summary_rows_on_demand_are_the_rows_of_finish() {
    let raws: Vec<String> = (0..40)
        .map(|i| {
            let vms: Vec<String> = (0..1 + i % 4).map(|v| format!("i-{v}")).collect();
            let vms: Vec<&str> = vms.iter().map(String::as_str).collect();
            call(
                &format!("u{}", i % 9),
                &vms,
                &format!("2024-05-01T10:{:02}:00Z", i),
            )
        })
        .collect();
    let pairs = [("max_values", "2"), ("threshold", "1")];
    let want = run(opts(&pairs), &raws);
    assert!(want.stats.truncated_rows > 0 && want.warning.is_some());
    let mut e = Engine::new(opts(&pairs));
    for r in &raws {
        e.ingest_json(r.as_bytes(), None);
    }
    let mut s = e.into_summary().ok().expect("a summary run");
    assert_eq!(s.len(), want.rows.len());
    // Any ranges, any number of times, the same rows; cut rows counted once.
    for (a, b) in [(0, 3), (0, 3), (3, 4), (4, s.len()), (2, 6), (0, s.len())] {
        let mut rows = Vec::new();
        s.rows(a..b, &mut |r| rows.push(r.clone()));
        assert_eq!(rows, want.rows[a..b], "rows {a}..{b}");
    }
    let info = s.info();
    assert_eq!(info.warning, want.warning);
    assert_eq!(info.stats, want.stats);
    // Rows never made are made (and counted) by `info`.
    let mut e = Engine::new(opts(&pairs));
    for r in &raws {
        e.ingest_json(r.as_bytes(), None);
    }
    let info = e.into_summary().ok().unwrap().info();
    assert_eq!(info.stats.truncated_rows, want.stats.truncated_rows);
    // Other modes have no summary.
    for other in [("mode", "events"), ("phase", "map")] {
        assert!(
            Engine::new(opts(&[other])).into_summary().is_err(),
            "{other:?}"
        );
    }
}

#[test]
fn events_mode_cuts_multivalue_columns_too() {
    let mut e = Engine::new(opts(&[("mode", "events"), ("max_values", "1")]));
    let raw = cloudtrail(
        "SendCommand",
        iam_user("a"),
        json!({"instanceIds": ["i-2", "i-1"]}),
        json!({}),
    );
    let row = e.event_row_json(raw.as_bytes(), Some("1")).unwrap();
    assert_eq!(
        multi(&row, "targeted_vms"),
        ["i-2"],
        "event order kept in events mode"
    );
    assert_eq!(col(&row, "targeted_vms_truncated"), "TRUE");
    assert_eq!(col(&row, "caller_type"), "iam_user");
    let done = e.finish();
    assert!(done.warning.unwrap().contains("max_values=1 in 1 rows"));
}
