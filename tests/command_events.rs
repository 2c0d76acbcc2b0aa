//! `mode=events` through the protocol: each recognised event comes back with the fields
//! splunkd sent, the normalised columns and its `_chunked_idx`; other events are dropped and
//! counted in one WARN on the final reply.

mod command_fixtures;
mod command_support;
mod detect_support;
mod scp_emulator;

use command_fixtures::{bad_events, scenario};
use command_support::{chunks, get, one, session, Finish};

#[test]
fn events_mode_answers_each_chunk_with_its_recognised_events() {
    let mut events = scenario();
    events.extend(bad_events());
    let parts = chunks(&events, 7);
    for finish in [Finish::LastChunk, Finish::HeaderOnly] {
        let s = session(&["mode=events"], &parts, finish, true);
        assert_eq!(s.code, 0, "{}", s.stderr);
        let mut recognised = 0;
        for (i, part) in parts.iter().enumerate() {
            let recs = command_support::records(&s.replies[i]);
            let mut last_idx = None;
            for r in &recs {
                let idx: usize = one(r, "_chunked_idx").parse().expect("_chunked_idx kept");
                assert!(
                    last_idx.is_none_or(|l| idx > l),
                    "records stay in input order"
                );
                last_idx = Some(idx);
                let input = &part[idx];
                assert_eq!(
                    get(r, "_raw"),
                    input["_raw"],
                    "chunk {i} row {idx}: _raw passed through"
                );
                assert_eq!(get(r, "_time"), input["_time"]);
                assert!(!one(r, "operation_lower").is_empty());
                assert!(!one(r, "caller_identity").is_empty());
                assert!(!one(r, "event_time").is_empty());
                assert!(["azure", "aws"].contains(&one(r, "cloud")));
            }
            recognised += recs.len();
        }
        // 12 + 2 failed Alice rows, VMSS, extension, Arc, 2 job rows, guest, SPN,
        // cross-tenant, 5 CloudTrail calls: 27 of the 29 scenario events (2 are noise).
        assert_eq!(recognised, 27);
        assert_eq!(events.len(), 29 + 4);
        let all = s.records();
        let vmss = all
            .iter()
            .find(|r| one(r, "operation_lower").contains("virtualmachinescalesets"))
            .unwrap();
        assert_eq!(get(vmss, "targeted_vms"), ["vmss-web/3"]);
        let tag = all
            .iter()
            .find(|r| one(r, "caller_identity").ends_with("role/PatchAutomation"))
            .unwrap();
        assert!(get(tag, "targeted_vms").is_empty());
        assert_eq!(get(tag, "target_selectors"), ["tag:Environment=prod"]);
        assert_eq!(one(tag, "caller_session"), "i-0fedcba9876543210");
        let failed = all
            .iter()
            .filter(|r| one(r, "caller_identity").ends_with("user/intern"))
            .count();
        assert_eq!(failed, 1, "failed events are shown in events mode");
        let msgs = s.messages();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert_eq!(msgs[0].0, "WARN");
        assert!(msgs[0].1.contains("skipped 4 events"), "{}", msgs[0].1);
        assert_eq!(s.last().messages().len(), 1, "WARN on the final reply");
    }
}
