//! `detect_resource_id`: arbitrary text as an Azure resource ID.
//!
//! Properties checked beyond "no panic, no hang":
//! * every part returned is a slice of the input (borrowed, original case) and holds no `/`;
//! * parsing is by segment name, case-insensitively: upper- and lower-casing the ID (ASCII)
//!   gives the same parts up to ASCII case;
//! * empty segments do not matter: doubling every `/` or adding a trailing one changes
//!   nothing;
//! * the display forms (`write_lower`, `to_lower`) never panic and agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t1651::detect::resource::{parse, ResourceRef, Target};

/// The parts, ASCII-lower-cased and owned, for comparisons across spellings.
type Parts = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<(u8, Option<String>, String)>,
    Option<String>,
);

fn lower(s: Option<&str>) -> Option<String> {
    s.map(str::to_ascii_lowercase)
}

fn parts(r: &ResourceRef<'_>) -> Parts {
    let target = r.target.map(|t| match t {
        Target::Vm { scale_set, name } => (0, lower(scale_set), name.to_ascii_lowercase()),
        Target::AutomationAccount(a) => (1, None, a.to_ascii_lowercase()),
        Target::Other(o) => (2, None, o.to_ascii_lowercase()),
        Target::ScaleSet(s) => (3, None, s.to_ascii_lowercase()),
    });
    (
        lower(r.subscription),
        lower(r.resource_group),
        lower(r.provider),
        target,
        lower(r.child),
    )
}

fn check_borrowed(id: &str, s: Option<&str>) {
    if let Some(s) = s {
        let (start, end) = (id.as_ptr() as usize, id.as_ptr() as usize + id.len());
        let p = s.as_ptr() as usize;
        assert!(
            p >= start && p + s.len() <= end,
            "{s:?} is not a slice of the input"
        );
        assert!(!s.contains('/'), "part {s:?} contains a slash");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    let r = parse(id);
    for s in [r.subscription, r.resource_group, r.provider, r.child] {
        check_borrowed(id, s);
    }
    if let Some(t) = r.target {
        match t {
            Target::Vm { scale_set, name } => {
                check_borrowed(id, scale_set);
                check_borrowed(id, Some(name));
            }
            Target::AutomationAccount(a) | Target::Other(a) | Target::ScaleSet(a) => {
                check_borrowed(id, Some(a))
            }
        }
        let mut s = String::new();
        t.write_lower(&mut s);
        assert_eq!(s, t.to_lower());
        assert_eq!(t.is_vm(), matches!(t, Target::Vm { .. }));
    }
    let p = parts(&r);
    let upper = id.to_ascii_uppercase();
    assert_eq!(parts(&parse(&upper)), p, "upper-casing changed the parse");
    let low = id.to_ascii_lowercase();
    assert_eq!(parts(&parse(&low)), p, "lower-casing changed the parse");
    let doubled = id.replace('/', "//");
    assert_eq!(
        parts(&parse(&doubled)),
        p,
        "doubling slashes changed the parse"
    );
    let trailing = format!("{id}/");
    assert_eq!(
        parts(&parse(&trailing)),
        p,
        "a trailing slash changed the parse"
    );
});
