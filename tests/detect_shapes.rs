//! Every input shape and case variant normalises to the same facts.

mod detect_support;

use detect_support::*;
use serde_json::json;
use t1651::detect::engine::Engine;
use t1651::detect::fields::FieldMap;
use t1651::detect::normalize::{
    normalize_fields, normalize_json, CallerType, Normalized, SkipReason, Status,
};
use t1651::detect::operations::Cloud;
use t1651::detect::options::Options;

fn ev(raw: &str) -> t1651::detect::normalize::NormalizedEvent<'static> {
    let raw: &'static str = Box::leak(raw.to_owned().into_boxed_str());
    let o: &'static Options = Box::leak(Box::new(Options::default()));
    match normalize_json(raw.as_bytes(), None, o) {
        Normalized::Event(e) => e,
        other => panic!("not an event: {other:?}\n{raw}"),
    }
}

#[test]
fn rest_shape() {
    let a = Activity::run_command(
        "Web-01",
        "Succeeded",
        "AAAA0000-BB11-4222-83CC-444444DDDDDD",
        "2024-05-01T10:00:00.1234567Z",
    );
    let e = ev(&a.rest());
    assert_eq!(e.cloud, Cloud::Azure);
    assert_eq!(e.status, Status::Succeeded);
    assert_eq!(e.caller.as_deref(), Some("alice@contoso.com"));
    assert_eq!(e.caller_type, CallerType::User);
    assert_eq!(e.caller_tenant.as_deref(), Some(TENANT));
    assert!(!e.cross_tenant);
    assert_eq!(e.src.as_deref(), Some("203.0.113.7"));
    assert_eq!(e.subscription.as_deref(), Some(SUB));
    assert_eq!(e.resource_group.as_deref(), Some("rg-prod"));
    assert_eq!(e.targets.len(), 1);
    assert_eq!(e.targets[0].1, "web-01");
    assert_eq!(
        e.correlation_id.as_deref(),
        Some("aaaa0000-bb11-4222-83cc-444444dddddd")
    );
}

#[test]
fn eventhub_shape_uppercase_and_identity_claims() {
    let a = Activity::run_command("Web-01", "Started", "c1", "2024-05-01T10:00:00Z");
    let e = ev(&a.eventhub());
    assert_eq!(e.status, Status::Started);
    assert_eq!(
        e.caller.as_deref(),
        Some("alice@contoso.com"),
        "upn claim under identity.claims"
    );
    assert_eq!(e.resource_group.as_deref(), Some("rg-prod"));
    assert_eq!(e.subscription.as_deref(), Some(SUB));
    assert_eq!(e.targets[0].1, "web-01");
    for (rt, st) in [
        ("Accept", Status::Accepted),
        ("Success", Status::Succeeded),
        ("Failure", Status::Failed),
    ] {
        let raw = a.eventhub().replace(
            "\"resultType\":\"Start\"",
            &format!("\"resultType\":\"{rt}\""),
        );
        assert_eq!(ev(&raw).status, st, "{rt}");
    }
}

#[test]
fn identity_as_plain_string_and_intune_record_is_ignored() {
    let intune = r#"{"time":"2024-04-29T13:30:28.8622000Z","tenantId":"26db52ee-0000-4000-8000-129e25dc0388","category":"AuditLogs","operationName":"createDeviceHealthScript DeviceHealthScript","resultType":"Success","correlationId":"949ac544-0000-4000-8000-915c47c0ee00","identity":"brian@example.com"}"#;
    let o = Options::default();
    assert_eq!(
        normalize_json(intune.as_bytes(), None, &o),
        Normalized::Ignored
    );
    // Same record with a T1651 operation: identity string is the caller of last resort.
    let sel = intune.replace("createDeviceHealthScript DeviceHealthScript", RUN_COMMAND);
    let e = ev(&sel);
    assert_eq!(e.caller.as_deref(), Some("brian@example.com"));
    assert!(e.targets.is_empty());
}

#[test]
fn flattened_reference_spl_fields_and_mscs_fields() {
    let a = Activity::run_command("Web-01", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    let o = Options::default();
    let f = a.flattened("1714557600");
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    assert_eq!(e.status, Status::Succeeded);
    assert_eq!(e.caller.as_deref(), Some("alice@contoso.com"));
    assert_eq!(e.targets[0].1, "web-01");
    assert_eq!(e.time, 1_714_557_600 * 1_000_000);
    let f = a.mscs_flattened();
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    assert_eq!(e.status, Status::Succeeded);
    assert_eq!(e.src.as_deref(), Some("203.0.113.7"));
    assert_eq!(e.resource_group.as_deref(), Some("rg-prod"));
    // Only the reference SPL's short names: claims.upn and properties.principalOid.
    let mut f = FieldMap::new();
    f.set("_raw", "x")
        .set("_time", "1714557600")
        .set("operationName", EXT_WRITE)
        .set("status", "Succeeded");
    f.set("claims.upn", "Bob@Contoso.com")
        .set("resourceId", vm_id("rg", "vm1") + "/extensions/CSE");
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    assert_eq!(e.caller.as_deref(), Some("bob@contoso.com"));
    assert_eq!(e.document.as_deref(), Some("cse"));
    let mut f = FieldMap::new();
    f.set("_time", "1714557600")
        .set("operationName", EXT_WRITE)
        .set("properties.principalOid", "OID-1");
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    assert_eq!(e.caller.as_deref(), Some("oid-1"));
}

#[test]
fn json_raw_wins_over_fields_and_time_falls_back_to_splunk_time() {
    let a = Activity::run_command("Web-01", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    let mut f = FieldMap::new();
    f.set("_raw", a.rest())
        .set("_time", "1")
        .set("caller", "someone-else@x.com");
    let o = Options::default();
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    assert_eq!(e.caller.as_deref(), Some("alice@contoso.com"));
    assert_eq!(
        e.time,
        1_714_557_600 * 1_000_000,
        "record time wins over _time"
    );
    let no_time = a
        .rest()
        .replace("eventTimestamp", "x1")
        .replace("submissionTimestamp", "x2");
    f.set("_raw", no_time.clone());
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    assert_eq!(e.time, 1_000_000);
    assert_eq!(
        normalize_json(no_time.as_bytes(), None, &o),
        Normalized::Skip(SkipReason::NoTime)
    );
}

#[test]
fn operation_and_status_case_variants() {
    let o = Options::default();
    for op in [
        RUN_COMMAND.to_string(),
        RUN_COMMAND.to_uppercase(),
        RUN_COMMAND.to_lowercase(),
    ] {
        for status in ["Succeeded", "SUCCEEDED", "succeeded", "Success", "success"] {
            let raw =
                json!({"operationName": op, "status": status, "time": "2024-05-01T10:00:00Z"})
                    .to_string();
            let Normalized::Event(e) = normalize_json(raw.as_bytes(), None, &o) else {
                panic!("{raw}")
            };
            assert_eq!(e.status, Status::Succeeded);
        }
    }
    // ActivityStatusValue (Log Analytics export) and subStatus/resultSignature fallbacks.
    for (k, v, st) in [
        ("ActivityStatusValue", "Success", Status::Succeeded),
        ("resultSignature", "Failed.NotFound", Status::Failed),
        ("resultSignature", "Started.", Status::Started),
        ("subStatus", "Accepted", Status::Accepted),
    ] {
        let raw =
            json!({"operationName": RUN_COMMAND, k: v, "time": "2024-05-01T10:00:00Z"}).to_string();
        let Normalized::Event(e) = normalize_json(raw.as_bytes(), None, &o) else {
            panic!()
        };
        assert_eq!(e.status, st, "{k}={v}");
    }
    let raw = json!({"operationName": RUN_COMMAND, "time": "2024-05-01T10:00:00Z"}).to_string();
    let Normalized::Event(e) = normalize_json(raw.as_bytes(), None, &o) else {
        panic!()
    };
    assert_eq!(e.status, Status::Unknown);
}

#[test]
fn resource_id_variants() {
    let cases = [
        ("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
         format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/Web-SS/virtualMachines/7"),
         "web-ss/7", true),
        ("Microsoft.Compute/virtualMachines/runCommands/write", vm_id("rg", "VM-A") + "/runCommands/MyRun", "vm-a", true),
        ("Microsoft.Compute/virtualMachineScaleSets/extensions/write",
         format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/Web-SS/extensions/CSE"),
         "scaleset=web-ss", false),
        ("Microsoft.HybridCompute/machines/runCommands/write",
         format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/OnPrem-1/runCommands/r"),
         "onprem-1", true),
        ("Microsoft.HybridCompute/machines/extensions/write",
         format!("/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.HYBRIDCOMPUTE/MACHINES/ONPREM-1/EXTENSIONS/X"),
         "onprem-1", true),
        (JOBS_WRITE,
         format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/Ops-Acct/jobs/0f0f0f0f-0000-4000-8000-000000000000"),
         "ops-acct", false),
    ];
    for (op, rid, target, is_vm) in cases {
        let raw = json!({"operationName": op, "resultType": "Success", "resourceId": rid, "time": "2024-05-01T10:00:00Z"}).to_string();
        let e = ev(&raw);
        assert_eq!(e.targets.len(), 1, "{rid}");
        assert_eq!(e.targets[0].1, target, "{rid}");
        assert_eq!(
            e.targets[0].0 == t1651::detect::normalize::TargetKind::Vm,
            is_vm,
            "{rid}"
        );
        assert_eq!(e.subscription.as_deref(), Some(SUB));
        assert_eq!(e.resource_group.as_deref(), Some("rg"));
    }
}

#[test]
fn guest_msa_caller_like_the_escu_sample() {
    // No upn claim; name claim "<idp>#<user>"; identity provider not the tenant's STS.
    let mut a = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    a.upn = None;
    a.idp = Some("live.com".into());
    a.extra_claims = vec![
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name".into(),
            "live.com#evilAdmin@contoso.com".into(),
        ),
        ("altsecid".into(), "1:live.com:000161008492EF5F".into()),
    ];
    let rest = a
        .rest()
        .replace("\"caller\":null", "\"caller\":\"evilAdmin@contoso.com\"");
    let e = ev(&rest);
    assert_eq!(e.caller.as_deref(), Some("eviladmin@contoso.com"));
    assert_eq!(e.caller_type, CallerType::Guest);
    assert!(e.cross_tenant);
    assert_eq!(e.caller_tenant.as_deref(), Some("live.com"));
    // Event Hub: no caller field, the name claim gives the same identity.
    let e = ev(&a.eventhub());
    assert_eq!(e.caller.as_deref(), Some("eviladmin@contoso.com"));
    assert_eq!(e.caller_type, CallerType::Guest);
}

#[test]
fn service_principal_and_managed_identity() {
    let mut a = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    a.upn = None;
    a.ip = None;
    a.evidence_type = Some("ServicePrincipal".into());
    a.extra_claims = vec![
        (
            "appid".into(),
            "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into(),
        ),
        ("idtyp".into(), "app".into()),
        (
            "http://schemas.microsoft.com/identity/claims/objectidentifier".into(),
            "7e57a1b2-0000-4000-8000-00000000beef".into(),
        ),
    ];
    let rest = a.rest().replace(
        "\"caller\":null",
        "\"caller\":\"7E57A1B2-0000-4000-8000-00000000BEEF\"",
    );
    let e = ev(&rest);
    assert_eq!(
        e.caller.as_deref(),
        Some("7e57a1b2-0000-4000-8000-00000000beef")
    );
    assert_eq!(e.caller_type, CallerType::ServicePrincipal);
    assert!(!e.cross_tenant);
    // Event Hub record: appid is the caller (no caller field, no upn, no name claim).
    let e = ev(&a.eventhub());
    assert_eq!(
        e.caller.as_deref(),
        Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    );
    assert_eq!(e.caller_type, CallerType::ServicePrincipal);
    // Managed identity: xms_mirid claim.
    a.extra_claims.push((
        "xms_mirid".into(),
        format!("/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"),
    ));
    assert_eq!(ev(&a.eventhub()).caller_type, CallerType::ManagedIdentity);
    // Only evidence.principalId left.
    let bare = json!({"operationName": RUN_COMMAND, "resultType": "Success", "time": "2024-05-01T10:00:00Z",
        "identity": {"authorization": {"evidence": {"principalId": "ABCDEF038C6444C18F1C31311FABCDEF", "principalType": "ServicePrincipal"}}}}).to_string();
    let e = ev(&bare);
    assert_eq!(
        e.caller.as_deref(),
        Some("abcdef038c6444c18f1c31311fabcdef")
    );
    assert_eq!(e.caller_type, CallerType::ServicePrincipal);
}

#[test]
fn cross_tenant_callers() {
    // AOBO / GDAP technician: token issued by the customer tenant, identity provider = partner STS.
    let mut a = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    a.idp = Some(format!("https://sts.windows.net/{PARTNER}/"));
    let e = ev(&a.rest());
    assert!(e.cross_tenant);
    assert_eq!(e.caller_tenant.as_deref(), Some(PARTNER));
    assert_eq!(e.caller_type, CallerType::Guest);
    // Same STS as the tenant: not cross-tenant.
    a.idp = Some(format!("https://sts.windows.net/{TENANT}/"));
    assert!(!ev(&a.rest()).cross_tenant);
    // Lighthouse: token tenant is the managing tenant.
    a.idp = None;
    a.tenant_claim = Some(PARTNER.into());
    let e = ev(&a.rest());
    assert!(e.cross_tenant);
    assert_eq!(e.caller_tenant.as_deref(), Some(PARTNER));
    // ... unless the managing tenant is declared home via the option.
    let o = opts(&[("home_tenant", &format!("{TENANT},{PARTNER}"))]);
    let raw = a.rest();
    let Normalized::Event(e) = normalize_json(raw.as_bytes(), None, &o) else {
        panic!()
    };
    assert!(!e.cross_tenant);
    // home_tenant overrides the event's tenantId.
    a.tenant_claim = Some(TENANT.into());
    let o = opts(&[("home_tenant", PARTNER)]);
    let raw = a.rest();
    let Normalized::Event(e) = normalize_json(raw.as_bytes(), None, &o) else {
        panic!()
    };
    assert!(e.cross_tenant);
    // ForeignGroup principal (AOBO role assignment).
    let mut b = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    b.evidence_type = Some("ForeignGroup".into());
    let e = ev(&b.eventhub());
    assert!(e.cross_tenant);
    assert_eq!(e.caller_type, CallerType::Guest);
    // B2B guest UPN.
    let mut c = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    c.upn = Some("bob_partner.com#EXT#@contoso.onmicrosoft.com".into());
    let e = ev(&c.rest());
    assert!(e.cross_tenant);
    assert_eq!(e.caller_type, CallerType::Guest);
    // Event Hub (no caller field): the B2B UPN is kept whole, not cut at a '#'.
    let e = ev(&c.eventhub());
    assert_eq!(
        e.caller.as_deref(),
        Some("bob_partner.com#ext#@contoso.onmicrosoft.com")
    );
    c.upn = None;
    c.extra_claims = vec![(
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name".into(),
        "bob_partner.com#EXT#@contoso.onmicrosoft.com".into(),
    )];
    let e = ev(&c.eventhub());
    assert_eq!(
        e.caller.as_deref(),
        Some("bob_partner.com#ext#@contoso.onmicrosoft.com")
    );
    assert!(e.cross_tenant);
}

#[test]
fn aws_callers() {
    let params = json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-00456A8D163f546Ff", "i-0b"], "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"});
    let e = ev(&cloudtrail(
        "SendCommand",
        iam_user("christophe"),
        params.clone(),
        json!({}),
    ));
    assert_eq!(e.cloud, Cloud::Aws);
    assert_eq!(
        e.caller.as_deref(),
        Some("arn:aws:iam::111122223333:user/christophe")
    );
    assert_eq!(e.caller_type, CallerType::IamUser);
    assert_eq!(e.status, Status::Succeeded);
    assert_eq!(e.subscription.as_deref(), Some("111122223333"));
    assert_eq!(e.resource_group, None);
    let t: Vec<&str> = e.targets.iter().map(|(_, t)| t.as_ref()).collect();
    assert_eq!(t, ["i-00456a8d163f546ff", "i-0b"]);
    assert_eq!(e.document.as_deref(), Some("AWS-RunShellScript"));
    assert_eq!(e.src.as_deref(), Some("198.51.100.20"));
    assert!(!e.cross_tenant);

    let e = ev(&cloudtrail(
        "SendCommand",
        assumed_role("SampleRole", "bobson.dugnutt"),
        params.clone(),
        json!({}),
    ));
    assert_eq!(
        e.caller.as_deref(),
        Some("arn:aws:iam::111122223333:role/SampleRole")
    );
    assert_eq!(e.caller_session.as_deref(), Some("bobson.dugnutt"));
    assert_eq!(e.caller_type, CallerType::AssumedRole);

    // EC2 instance role: session name is the instance id.
    let e = ev(&cloudtrail(
        "SendCommand",
        assumed_role("WebRole", "i-0abc123"),
        params.clone(),
        json!({}),
    ));
    assert_eq!(e.caller_session.as_deref(), Some("i-0abc123"));
    assert_eq!(e.caller_type, CallerType::AssumedRole);
    // Assumed role without sessionContext: role ARN derived from the STS ARN.
    let bare = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/R1/s1", "accountId": "111122223333"});
    let e = ev(&cloudtrail("SendCommand", bare, params.clone(), json!({})));
    assert_eq!(
        e.caller.as_deref(),
        Some("arn:aws:iam::111122223333:role/R1")
    );

    let root = json!({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"});
    let e = ev(&cloudtrail(
        "StartSession",
        root,
        json!({"target": "i-0ff"}),
        json!({}),
    ));
    assert_eq!(e.caller_type, CallerType::Root);
    assert_eq!(e.caller.as_deref(), Some("arn:aws:iam::111122223333:root"));
    assert_eq!(e.targets[0].1, "i-0ff");

    let svc = json!({"type": "AWSService", "invokedBy": "ssm.amazonaws.com"});
    let e = ev(&cloudtrail(
        "SendCommand",
        svc,
        params.clone(),
        json!({"sourceIPAddress": "ssm.amazonaws.com"}),
    ));
    assert_eq!(e.caller_type, CallerType::AwsService);
    assert_eq!(e.caller.as_deref(), Some("ssm.amazonaws.com"));
    assert_eq!(e.invoked_by.as_deref(), Some("ssm.amazonaws.com"));
    // `source_ips` holds addresses only: a service's DNS name is not one.
    assert_eq!(e.src, None);

    // Cross-account: caller's account differs from the recipient account.
    let mut foreign = iam_user("x");
    foreign["accountId"] = json!("999988887777");
    let e = ev(&cloudtrail(
        "SendCommand",
        foreign,
        params.clone(),
        json!({}),
    ));
    assert!(e.cross_tenant);
    assert_eq!(e.caller_tenant.as_deref(), Some("999988887777"));
}

#[test]
fn aws_status_and_targets() {
    let u = iam_user("a");
    for (code, st) in [
        (json!(null), Status::Succeeded),
        (json!("success"), Status::Succeeded),
        (json!("AccessDenied"), Status::Failed),
    ] {
        let e = ev(&cloudtrail(
            "SendCommand",
            u.clone(),
            json!({"instanceIds": ["i-1"]}),
            json!({"errorCode": code}),
        ));
        assert_eq!(e.status, st, "{code}");
    }
    let tags = json!({"documentName": "AWS-RunPowerShellScript", "targets": [{"key": "tag:Env", "values": ["prod", "dev"]}, {"key": "InstanceIds", "values": ["i-0AA"]}]});
    let e = ev(&cloudtrail("SendCommand", u.clone(), tags, json!({})));
    let t: Vec<&str> = e.targets.iter().map(|(_, t)| t.as_ref()).collect();
    assert_eq!(t, ["tag:Env=prod", "tag:Env=dev", "i-0aa"]);
    // CreateAssociation: document in `name`.
    let e = ev(&cloudtrail(
        "CreateAssociation",
        u.clone(),
        json!({"name": "AWS-RunPatchBaseline", "targets": [{"key": "tag:Patch", "values": ["yes"]}]}),
        json!({}),
    ));
    assert_eq!(e.document.as_deref(), Some("AWS-RunPatchBaseline"));
    // Flattened CloudTrail fields (no JSON _raw).
    let mut f = FieldMap::new();
    f.set("_time", "1722589736")
        .set("eventSource", "ssm.amazonaws.com")
        .set("eventName", "SendCommand");
    f.set("userIdentity.type", "IAMUser")
        .set("userIdentity.arn", "arn:aws:iam::1:user/u")
        .set("userIdentity.accountId", "1");
    f.set("recipientAccountId", "1")
        .push("requestParameters.instanceIds{}", "i-1")
        .push("requestParameters.instanceIds{}", "i-2");
    f.push("requestParameters.targets{}.key", "tag:Role")
        .push("requestParameters.targets{}.values{}", "web");
    f.set("errorCode", "success");
    let o = Options::default();
    let Normalized::Event(e) = normalize_fields(&f, &o) else {
        panic!()
    };
    let t: Vec<&str> = e.targets.iter().map(|(_, t)| t.as_ref()).collect();
    assert_eq!(t, ["i-1", "i-2", "tag:Role=web"]);
    assert_eq!(e.status, Status::Succeeded);
    // Read-only noise is ignored, not skipped.
    let noise = cloudtrail("DescribeInstanceInformation", u, json!({}), json!({}));
    assert_eq!(
        normalize_json(noise.as_bytes(), None, &o),
        Normalized::Ignored
    );
}

#[test]
fn bad_input_reasons() {
    let o = Options::default();
    let cases: Vec<(&str, Normalized)> = vec![
        (
            r#"{"caller": "a@b", "operationN"#,
            Normalized::Skip(SkipReason::Truncated),
        ),
        // Truncated after an operation that is not selected: ignored, not an error.
        (r#"{"operationName": "x", "#, Normalized::Ignored),
        (r#"{"a":1,,,}"#, Normalized::Skip(SkipReason::BrokenJson)),
        (
            r#"{"records":[{"operationName":"x"}]}"#,
            Normalized::Skip(SkipReason::RecordsWrapper),
        ),
        (
            r#"{"hello":"world"}"#,
            Normalized::Skip(SkipReason::NotAuditRecord),
        ),
        (r#"[1,2]"#, Normalized::Skip(SkipReason::NotAuditRecord)),
        (
            r#"{"correlationId":"c","caller":"x@y"}"#,
            Normalized::Skip(SkipReason::NoOperation),
        ),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize_json(raw.as_bytes(), None, &o), want, "{raw}");
    }
    // A truncated record is salvaged when everything the detection needs was read whole.
    let a = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z");
    let full = a.eventhub();
    // (Keys are sorted: operationName, resourceId and the status precede the cut, time
    // follows it.) Cut before the status: the row's outcome is unknown, so it is skipped.
    let cut = &full[..full.find("\"resultSignature\"").unwrap() + 5];
    assert_eq!(
        normalize_json(cut.as_bytes(), Some("1714557600"), &o),
        Normalized::Skip(SkipReason::Truncated),
        "{cut}"
    );
    let cut = &full[..full.find("\"time\"").unwrap() + 3];
    let Normalized::Event(e) = normalize_json(cut.as_bytes(), Some("1714557600"), &o) else {
        panic!("{cut}")
    };
    assert_eq!(e.targets[0].1, "vm1");
    assert_eq!(e.caller.as_deref(), Some("alice@contoso.com"));
    // Broken JSON _raw with good extracted fields uses the fields.
    let mut f = a.flattened("1714557600");
    f.set("_raw", "{\"broken\": ");
    assert!(matches!(normalize_fields(&f, &o), Normalized::Event(_)));
    let mut f = FieldMap::new();
    f.set("_raw", "{\"a\":1,,}");
    assert_eq!(
        normalize_fields(&f, &o),
        Normalized::Skip(SkipReason::BrokenJson)
    );
    assert_eq!(
        normalize_fields(&FieldMap::new(), &o),
        Normalized::Skip(SkipReason::NotAuditRecord)
    );
}

#[test]
fn fuzzish_inputs_never_panic() {
    let o = Options::default();
    let a = Activity::run_command("vm1", "Succeeded", "c1", "2024-05-01T10:00:00Z").rest();
    let bytes = a.as_bytes();
    let mut e = Engine::new(Options::default());
    // Every prefix, and single-byte corruptions, of a real record.
    for i in 0..bytes.len() {
        let _ = normalize_json(&bytes[..i], Some("1"), &o);
        let mut c = bytes.to_vec();
        let junk = b"{}[]\":,\\x\x00\xff";
        c[i] = junk[i % junk.len()];
        e.ingest_json(&c, None);
    }
    let _ = e.finish();
}
