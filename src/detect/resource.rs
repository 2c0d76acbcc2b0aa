//! Azure resource-ID parsing by segment NAME, case-insensitively.
//!
//! Real IDs come upper-cased (Event Hub records), mixed-case, with trailing slashes,
//! repeated segments, and sanitisation artefacts such as `resourceGroup1providers`. The
//! parser never fails and never panics: it reports what it could find. Values are
//! borrowed from the input in their original case; callers lower-case them (see
//! [`Target::write_lower`]).

/// What a resource ID targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A virtual machine: a VM, a scale-set instance (`scale_set` set) or an Arc machine.
    Vm {
        scale_set: Option<&'a str>,
        name: &'a str,
    },
    /// A whole scale set (a scale-set-level extension): every instance, present and future.
    ScaleSet(&'a str),
    /// An Automation account (the target of `automationAccounts/jobs/write`): not a VM.
    AutomationAccount(&'a str),
    /// Any other resource: the last resource name in the ID.
    Other(&'a str),
}

impl Target<'_> {
    /// Whether this target counts towards `vm_count`.
    pub fn is_vm(&self) -> bool {
        matches!(self, Target::Vm { .. })
    }

    /// Append the lower-case display form (`vm`, `vmss/0`, `account`) to `out`.
    pub fn write_lower(&self, out: &mut String) {
        match self {
            Target::Vm {
                scale_set: Some(s),
                name,
            } => {
                push_lower(out, s);
                out.push('/');
                push_lower(out, name);
            }
            Target::Vm {
                scale_set: None,
                name,
            } => push_lower(out, name),
            Target::ScaleSet(a) | Target::AutomationAccount(a) | Target::Other(a) => {
                push_lower(out, a)
            }
        }
    }

    /// The lower-case display form.
    pub fn to_lower(&self) -> String {
        let mut s = String::new();
        self.write_lower(&mut s);
        s
    }
}

fn push_lower(out: &mut String, s: &str) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| b.to_ascii_lowercase() as char));
    } else {
        out.push_str(&s.to_lowercase());
    }
}

/// The parts of a resource ID. All fields are borrowed, in original case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceRef<'a> {
    pub subscription: Option<&'a str>,
    pub resource_group: Option<&'a str>,
    /// Provider namespace, e.g. `Microsoft.Compute`.
    pub provider: Option<&'a str>,
    pub target: Option<Target<'a>>,
    /// The name of an `extensions/<x>` or `runCommands/<x>` child, if any (what was run).
    pub child: Option<&'a str>,
}

const PROVIDERS: &str = "providers";

/// Fills `segs` with the trimmed, non-empty segments of `id` between `/`s, in order, as many
/// as fit; returns how many. (`id.split('/')` and `str::trim` per segment, as a byte scan:
/// segments are short, so a search per segment and a Unicode trim of every one cost more
/// than the scan.)
fn segments<'a>(id: &'a str, segs: &mut [&'a str]) -> usize {
    let b = id.as_bytes();
    let (mut n, mut start) = (0, 0);
    while start <= b.len() && n < segs.len() {
        let mut end = start;
        while end < b.len() && b[end] != b'/' {
            end += 1;
        }
        // `/` is ASCII: both ends are char boundaries.
        let s = &id[start..end];
        let s = if crate::detect::raw::is_trimmed(s) {
            s
        } else {
            s.trim()
        };
        if !s.is_empty() {
            segs[n] = s;
            n += 1;
        }
        start = end + 1;
    }
    n
}

/// Parse a resource ID (`/subscriptions/<sub>/resourceGroups/<rg>/providers/<ns>/<type>/<name>…`).
/// Tolerant: empty segments are skipped, the first occurrence of a segment name wins,
/// a resource-group segment glued to `providers` (`rg1providers`) is split.
pub fn parse(id: &str) -> ResourceRef<'_> {
    // Segments without empty ones (leading/trailing/double slashes). At most 64 kept: real
    // IDs have < 20; a bound keeps fuzzed input cheap.
    let mut segs: [&str; 64] = [""; 64];
    let n = segments(id, &mut segs);
    let segs = &segs[..n];
    let mut r = ResourceRef::default();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);

    // Subscription and resource group: first occurrence by name.
    let mut provider_at: Option<usize> = None; // index of the namespace segment
    let mut i = 0;
    while i + 1 < segs.len() {
        let (name, value) = (segs[i], segs[i + 1]);
        if r.subscription.is_none() && eq(name, "subscriptions") {
            r.subscription = Some(value);
            i += 2;
            continue;
        }
        if r.resource_group.is_none() && eq(name, "resourcegroups") {
            let glued = value.len() > PROVIDERS.len()
                && value.is_char_boundary(value.len() - PROVIDERS.len())
                && eq(&value[value.len() - PROVIDERS.len()..], PROVIDERS);
            if glued {
                // `resourceGroup1providers/Microsoft.X/…`: the namespace follows directly.
                r.resource_group = Some(&value[..value.len() - PROVIDERS.len()]);
                if provider_at.is_none() && i + 2 < segs.len() {
                    provider_at = Some(i + 2);
                }
            } else {
                r.resource_group = Some(value);
            }
            i += 2;
            continue;
        }
        if provider_at.is_none() && eq(name, PROVIDERS) {
            provider_at = Some(i + 1);
            i += 2;
            continue;
        }
        i += 1;
    }
    if let Some(p) = provider_at {
        r.provider = Some(segs[p]);
    }

    // Resource type/name pairs after the namespace (or, with no namespace, anywhere).
    let start = provider_at.map_or(0, |p| p + 1);
    let rest = &segs[start.min(segs.len())..];
    let find = |name: &str| rest.iter().position(|s| eq(s, name));
    let name_after = |pos: usize| rest.get(pos + 1).copied();
    let provider_is = |ns: &str| r.provider.is_none_or(|p| eq(p, ns));

    // Child names: extensions/<x>, runCommands/<x> (first occurrence).
    for (pos, seg) in rest.iter().enumerate() {
        if eq(seg, "extensions") || eq(seg, "runcommands") {
            if let Some(c) = name_after(pos) {
                r.child = Some(c);
                break;
            }
        }
    }

    if let Some(pos) = find("virtualmachinescalesets").filter(|_| provider_is("microsoft.compute"))
    {
        if let Some(ss) = name_after(pos) {
            let inst = rest[pos + 2..]
                .iter()
                .position(|s| eq(s, "virtualmachines"))
                .and_then(|p| rest.get(pos + 2 + p + 1).copied());
            r.target = Some(match inst {
                Some(id) => Target::Vm {
                    scale_set: Some(ss),
                    name: id,
                },
                None => Target::ScaleSet(ss),
            });
            return r;
        }
    }
    if let Some(vm) = find("virtualmachines")
        .filter(|_| provider_is("microsoft.compute"))
        .and_then(name_after)
    {
        r.target = Some(Target::Vm {
            scale_set: None,
            name: vm,
        });
        return r;
    }
    if let Some(m) = find("machines")
        .filter(|_| provider_is("microsoft.hybridcompute"))
        .and_then(name_after)
    {
        r.target = Some(Target::Vm {
            scale_set: None,
            name: m,
        });
        return r;
    }
    if let Some(a) = find("automationaccounts").and_then(name_after) {
        r.target = Some(Target::AutomationAccount(a));
        return r;
    }
    // Any other resource: the name of the first type/name pair after the namespace.
    if provider_at.is_some() && rest.len() >= 2 {
        r.target = Some(Target::Other(rest[1]));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segments are those of `split('/')`, trimmed, without empty ones, at most as many
    /// as fit.
    #[test]
    fn segments_are_split_trimmed_and_bounded() {
        let ids = [
            "",
            "/",
            "//",
            "/subscriptions/S1/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/vm1",
            "subscriptions/S1//resourceGroups/ rg 1 /providers/",
            "/ /\u{a0}x\u{a0}/\u{3000}/é/ä b /\t/x\n",
            "no-slash",
            " padded ",
            &"/a".repeat(70),
            &"/ab/".repeat(40),
        ];
        for id in ids {
            for cap in [0, 1, 3, 64] {
                let want: Vec<&str> = id
                    .split('/')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .take(cap)
                    .collect();
                let mut segs = vec![""; cap];
                let n = segments(id, &mut segs);
                assert_eq!(&segs[..n], &want[..], "{id:?} cap {cap}");
            }
        }
    }

    fn t(id: &str) -> Option<String> {
        parse(id).target.map(|t| t.to_lower())
    }

    #[test]
    fn vm_shapes() {
        let rest = "/subscriptions/S1/resourceGroups/RG-A/providers/Microsoft.Compute/virtualMachines/Vm-1";
        let r = parse(rest);
        assert_eq!(r.subscription, Some("S1"));
        assert_eq!(r.resource_group, Some("RG-A"));
        assert_eq!(r.provider, Some("Microsoft.Compute"));
        assert_eq!(t(rest).as_deref(), Some("vm-1"));
        assert!(r.target.unwrap().is_vm());
        let upper = "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG-A/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-1/EXTENSIONS/CUSTOMSCRIPT";
        assert_eq!(t(upper).as_deref(), Some("vm-1"));
        assert_eq!(parse(upper).child, Some("CUSTOMSCRIPT"));
        assert_eq!(
            t(&format!("{rest}/runCommands/rc1/")).as_deref(),
            Some("vm-1")
        );
        assert_eq!(
            t("/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/Web-VMSS/virtualMachines/0").as_deref(),
            Some("web-vmss/0")
        );
        assert_eq!(
            t("/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss/virtualMachines/3/runCommands/x").as_deref(),
            Some("web-vmss/3")
        );
        assert_eq!(
            t("/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss/extensions/ext").as_deref(),
            Some("web-vmss")
        );
        assert_eq!(
            t("/subscriptions/s/resourceGroups/r/providers/Microsoft.HybridCompute/machines/Arc-1/runCommands/c").as_deref(),
            Some("arc-1")
        );
        // REST `id` with the events/ticks suffix.
        assert_eq!(
            t(&format!("{rest}/events/abc/ticks/123")).as_deref(),
            Some("vm-1")
        );
    }

    #[test]
    fn automation_and_other() {
        let j = parse("/subscriptions/s/resourceGroups/r/providers/Microsoft.Automation/automationAccounts/Acct1/jobs/1234");
        assert_eq!(j.target, Some(Target::AutomationAccount("Acct1")));
        assert!(!j.target.unwrap().is_vm());
        let glued = parse("/subscriptions/e0/resourceGroups/resourceGroup1providers/Microsoft.Automation/automationAccounts/Susp/webhooks/W");
        assert_eq!(glued.resource_group, Some("resourceGroup1"));
        assert_eq!(glued.provider, Some("Microsoft.Automation"));
        assert_eq!(glued.target, Some(Target::AutomationAccount("Susp")));
        let other = parse("/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityGroups/nsg1");
        assert_eq!(other.target, Some(Target::Other("nsg1")));
        // A `machines` segment under another provider is not an Arc machine.
        let ml = parse("/subscriptions/s/resourceGroups/r/providers/Microsoft.Other/machines/m1");
        assert_eq!(ml.target, Some(Target::Other("m1")));
    }

    #[test]
    fn junk_never_panics() {
        for id in [
            "", "/", "//", "subscriptions", "/subscriptions/", "/resourceGroups/providers",
            "/subscriptions/s/subscriptions/t/resourceGroups/a/resourceGroups/b",
            "/virtualMachines", "/virtualMachines/", "providers/x", "/resourceGroups/providers/providers",
            "/resourceGroups/éproviders/x", "/resourceGroups/ßßßproviders", "a/b/c/d/e/f/g",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines",
        ] {
            let _ = parse(id);
        }
        let rep = parse("/subscriptions/s/subscriptions/t/resourceGroups/a/resourceGroups/b");
        assert_eq!(
            (rep.subscription, rep.resource_group),
            (Some("s"), Some("a"))
        );
        let long = "/x".repeat(10_000);
        assert_eq!(parse(&long).target, None);
        assert_eq!(t("/virtualMachines/vm9").as_deref(), Some("vm9"));
        assert_eq!(
            t("/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines").as_deref(),
            Some("ss")
        );
    }
}
