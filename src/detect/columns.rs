//! The output columns of `t1651detect`, one list per mode: the single source the app's
//! documentation (searchbnf.conf, app/README.md) is checked against.
//!
//! Invariant: every column the engine emits in a mode is in that mode's list (the test
//! below runs the engine and checks it), so documentation checked against these lists
//! cannot fall behind the code. Conditional columns (`span_start`, the `*_truncated`
//! flags) are listed too: they appear only when their condition holds.

/// Columns of a summary row (`mode=summary`, the default), in display order.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "_time",
    "event_time",
    "caller_identity",
    "source_ips",
    "targeted_vms",
    "target_selectors",
    "resource_group",
    "subscription_id",
    "operation_lower",
    "invocation_count",
    "multi_vm_targeting",
    "first_seen",
    "last_seen",
    // ISO-8601 UTC renderings of first_seen/last_seen (replace the app's old t1651_ctime
    // macro, which rendered in the search user's zone).
    "first_seen_utc",
    "last_seen_utc",
    "duration_seconds",
    "vm_count",
    "failed_count",
    "cloud",
    "caller_type",
    "caller_tenant",
    "cross_tenant",
    "caller_session",
    "invoked_by",
    "targeted_resources",
    "documents",
    "correlation_ids",
    "user",
    "src",
    "dest",
    "vendor_account",
    "vendor_product",
    // Only with span=<timespan>: the start of the row's time bucket.
    "span_start",
    // Only when a multivalue column was cut to max_values: `<column>_truncated=TRUE`.
    "source_ips_truncated",
    "targeted_vms_truncated",
    "target_selectors_truncated",
    "caller_session_truncated",
    "invoked_by_truncated",
    "targeted_resources_truncated",
    "documents_truncated",
    "correlation_ids_truncated",
    "src_truncated",
    "dest_truncated",
];

/// Columns `mode=events` adds to each input event it recognises, in display order.
pub const EVENT_COLUMNS: &[&str] = &[
    "event_time",
    "cloud",
    "operation_lower",
    "result_status",
    "caller_identity",
    "caller_type",
    "caller_tenant",
    "cross_tenant",
    "caller_session",
    "invoked_by",
    "source_ip",
    "targeted_vms",
    "target_selectors",
    "targeted_resources",
    "resource_group",
    "subscription_id",
    "correlation_id",
    "document",
    "user",
    "src",
    "dest",
    "vendor_account",
    "vendor_product",
    "vendor_region",
    // Only when a multivalue column was cut to max_values.
    "targeted_vms_truncated",
    "target_selectors_truncated",
    "targeted_resources_truncated",
    "dest_truncated",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::engine::Engine;
    use crate::detect::options::Options;
    use crate::detect::row::OutputRow;
    use std::collections::BTreeSet;

    const SUB: &str = "5f1c2a3b-0000-4000-8000-00000000c0de";

    fn azure(vm: &str, corr: &str, ip: &str, time: &str) -> String {
        let id = format!(
            "/subscriptions/{SUB}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/{vm}"
        );
        serde_json::json!({
            "authorization": {"action": "Microsoft.Compute/virtualMachines/runCommand/action", "scope": id},
            "caller": "alice@contoso.com",
            "claims": {"ipaddr": ip, "http://schemas.microsoft.com/identity/claims/tenantid": "11111111-2222-4333-8444-555555555555"},
            "correlationId": corr,
            "eventTimestamp": time,
            "operationName": {"value": "Microsoft.Compute/virtualMachines/runCommand/action"},
            "resourceGroupName": "rg-prod",
            "resourceId": id,
            "status": {"value": "Succeeded"},
            "subscriptionId": SUB,
            "tenantId": "11111111-2222-4333-8444-555555555555",
            "httpRequest": {"clientIpAddress": ip}
        })
        .to_string()
    }

    fn aws() -> String {
        serde_json::json!({
            "awsRegion": "eu-west-1",
            "eventName": "SendCommand",
            "eventSource": "ssm.amazonaws.com",
            "eventTime": "2024-08-02T09:08:56Z",
            "eventID": "5288bfb8-e3fa-4c41-be02-000000000001",
            "recipientAccountId": "111122223333",
            "requestID": "1479b5e1-9751-4bf1-b548-000000000001",
            "requestParameters": {"instanceIds": ["i-0a", "i-0b", "i-0c"], "documentName": "AWS-RunShellScript"},
            "sourceIPAddress": "198.51.100.20",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333"}
        })
        .to_string()
    }

    /// Records that make every conditional column appear: several VMs, IPs and
    /// correlation IDs per group (cut by max_values=1), a span, both clouds.
    fn records() -> Vec<String> {
        vec![
            azure(
                "vm1",
                "c0000000-0000-4000-8000-000000000001",
                "203.0.113.7",
                "2024-08-02T09:00:00Z",
            ),
            azure(
                "vm2",
                "c0000000-0000-4000-8000-000000000002",
                "203.0.113.8",
                "2024-08-02T09:05:00Z",
            ),
            azure(
                "vm3",
                "c0000000-0000-4000-8000-000000000003",
                "203.0.113.9",
                "2024-08-02T09:10:00Z",
            ),
            aws(),
        ]
    }

    fn columns(rows: &[OutputRow]) -> BTreeSet<&'static str> {
        rows.iter()
            .flat_map(|r| r.columns.iter().map(|(n, _)| *n))
            .collect()
    }

    fn opts(pairs: &[(&str, &str)]) -> Options {
        Options::parse(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn lists_have_no_duplicates() {
        for list in [SUMMARY_COLUMNS, EVENT_COLUMNS] {
            let set: BTreeSet<_> = list.iter().collect();
            assert_eq!(set.len(), list.len(), "duplicate in {list:?}");
        }
    }

    #[test]
    fn every_summary_column_is_listed() {
        let mut emitted = BTreeSet::new();
        for pairs in [&[][..], &[("max_values", "1"), ("span", "1h")][..]] {
            let mut e = Engine::new(opts(pairs));
            for r in records() {
                e.ingest_json(r.as_bytes(), None);
            }
            let rows = e.finish().rows;
            assert!(!rows.is_empty());
            emitted.extend(columns(&rows));
        }
        let listed: BTreeSet<&str> = SUMMARY_COLUMNS.iter().copied().collect();
        let unlisted: Vec<_> = emitted.difference(&listed).collect();
        assert!(
            unlisted.is_empty(),
            "emitted but not in SUMMARY_COLUMNS: {unlisted:?}"
        );
        // The columns these records must produce, so the list names nothing imaginary.
        for c in [
            "span_start",
            "targeted_vms_truncated",
            "correlation_ids_truncated",
        ] {
            assert!(emitted.contains(c), "{c} not produced by the test records");
        }
    }

    #[test]
    fn every_events_column_is_listed() {
        let mut e = Engine::new(opts(&[("mode", "events"), ("max_values", "1")]));
        let rows: Vec<OutputRow> = records()
            .iter()
            .filter_map(|r| e.event_row_json(r.as_bytes(), None))
            .collect();
        assert_eq!(rows.len(), 4);
        let emitted = columns(&rows);
        let listed: BTreeSet<&str> = EVENT_COLUMNS.iter().copied().collect();
        let unlisted: Vec<_> = emitted.difference(&listed).collect();
        assert!(
            unlisted.is_empty(),
            "emitted but not in EVENT_COLUMNS: {unlisted:?}"
        );
        // The `*_truncated` flags need more targets than these records have.
        let missing: Vec<_> = listed
            .difference(&emitted)
            .filter(|c| !c.ends_with("_truncated"))
            .collect();
        assert!(missing.is_empty(), "listed but never emitted: {missing:?}");
    }
}
