//! Command options: parsed from the `name=value` pairs of the SPL invocation.
//!
//! The option set is fixed ([`OPTION_NAMES`]); the app's `searchbnf.conf` documents exactly
//! this list. Every error names the option and what it accepts, because it is shown to the
//! user verbatim at getinfo.

use crate::detect::operations::{
    gcp_operation_lower, Cloud, AWS_DEFAULT_EVENT_NAMES, AWS_SSM_EVENT_SOURCE,
    AZURE_DEFAULT_OPERATIONS, GCP_DEFAULT_METHODS,
};
use thiserror::Error;

/// Every option the command accepts, in the order `searchbnf.conf` lists them.
pub const OPTION_NAMES: &[&str] = &[
    "mode",
    "threshold",
    "include_failed",
    "span",
    "home_tenant",
    "operations",
    "distributed",
    "phase",
    "max_values",
    "max_groups",
    "max_invocations",
    "max_event_ids",
    "threads",
];

/// Name of the command, used when building the `streaming_preop` string.
pub const COMMAND_NAME: &str = "t1651detect";

const BOOL_VALUES: &str = "true, false, t, f, 1, 0, yes, no (any case)";

/// An option that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OptionError {
    #[error("unknown option '{name}'; valid options are: {}", OPTION_NAMES.join(", "))]
    Unknown { name: String },
    #[error("option '{name}' is given more than once")]
    Duplicate { name: &'static str },
    #[error("invalid value '{value}' for option '{name}'; expected {expected}")]
    InvalidValue {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error("option '{name}={value}' cannot be combined with {conflict}")]
    Conflict {
        name: &'static str,
        value: String,
        conflict: &'static str,
    },
}

/// Output mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One row per (caller, resource group, subscription, operation[, time bucket]).
    Summary,
    /// One row per recognised event, with the normalised fields.
    Events,
}

/// The phase of a distributed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The indexer-side `streaming_preop`: emits mergeable partial state rows.
    Map,
}

/// One operation the command detects. Invariant: `lower` is the lower-case canonical
/// `operation_lower` value (`microsoft.compute/…`, `ssm.amazonaws.com/sendcommand`, or a
/// Google Cloud method as [`gcp_operation_lower`] renders it: `compute.instances.setmetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationSpec {
    pub cloud: Cloud,
    pub lower: String,
    /// AWS only: byte length of the `eventSource` prefix in `lower` (before the `/`).
    source_len: usize,
}

impl OperationSpec {
    /// The AWS event source (`ssm.amazonaws.com`) and event name (lower case), or `None`
    /// for Azure.
    pub fn aws_parts(&self) -> Option<(&str, &str)> {
        match self.cloud {
            Cloud::Aws => Some((
                &self.lower[..self.source_len],
                &self.lower[self.source_len + 1..],
            )),
            Cloud::Azure | Cloud::Gcp => None,
        }
    }
}

/// The operations to detect, matched case-insensitively. Index = operation id (`u16`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationSet {
    ops: Vec<OperationSpec>,
}

impl OperationSet {
    /// The default lists from [`crate::detect::operations`].
    pub fn defaults() -> Self {
        let mut items: Vec<&str> = AZURE_DEFAULT_OPERATIONS.to_vec();
        items.extend(AWS_DEFAULT_EVENT_NAMES.iter().copied());
        items.extend(GCP_DEFAULT_METHODS.iter().copied());
        Self::parse(&items.join(",")).expect("default operation lists are valid")
    }

    /// Parse a comma-separated list: Azure operation names (`Provider/type/…/action`),
    /// AWS event names (`SendCommand`, event source `ssm.amazonaws.com` implied) or
    /// `source.amazonaws.com/EventName`, or Google Cloud method names (dotted, no `/`:
    /// `v1.compute.instances.setMetadata`, `osconfig.executepatchjob`; canonicalised by
    /// [`gcp_operation_lower`]). Case-insensitive; duplicates removed.
    pub fn parse(list: &str) -> Result<Self, OptionError> {
        let bad = |v: &str| OptionError::InvalidValue {
            name: "operations",
            value: v.to_owned(),
            expected: "a comma-separated list of Azure operation names \
                       (e.g. Microsoft.Compute/virtualMachines/runCommand/action), \
                       AWS event names (e.g. SendCommand or ssm.amazonaws.com/SendCommand) \
                       and Google Cloud method names (e.g. v1.compute.instances.setMetadata)"
                .to_owned(),
        };
        let mut ops: Vec<OperationSpec> = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let lower = item.to_ascii_lowercase();
            if lower
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'\'' || !b.is_ascii())
            {
                return Err(bad(item));
            }
            let spec = if let Some(pos) = lower.find(".amazonaws.com/") {
                let source_len = pos + ".amazonaws.com".len();
                let name = &lower[source_len + 1..];
                if pos == 0 || !is_aws_event_name(name) {
                    return Err(bad(item));
                }
                OperationSpec {
                    cloud: Cloud::Aws,
                    lower,
                    source_len,
                }
            } else if lower.contains('/') {
                if lower.split('/').any(str::is_empty) || lower.split('/').count() < 3 {
                    return Err(bad(item));
                }
                OperationSpec {
                    cloud: Cloud::Azure,
                    lower,
                    source_len: 0,
                }
            } else if lower.contains('.') && !lower.starts_with("microsoft.") {
                // Dotted without `/`: a Google Cloud method (`Microsoft.X` without `/` is an
                // incomplete Azure name, refused below).
                let lower = gcp_operation_lower(&lower);
                let valid = lower.split('.').count() >= 2
                    && lower
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
                if !valid {
                    return Err(bad(item));
                }
                OperationSpec {
                    cloud: Cloud::Gcp,
                    lower,
                    source_len: 0,
                }
            } else if is_aws_event_name(&lower) {
                OperationSpec {
                    cloud: Cloud::Aws,
                    lower: format!("{AWS_SSM_EVENT_SOURCE}/{lower}"),
                    source_len: AWS_SSM_EVENT_SOURCE.len(),
                }
            } else {
                return Err(bad(item));
            };
            if !ops.iter().any(|o| o.lower == spec.lower) {
                ops.push(spec);
            }
        }
        if ops.is_empty() || ops.len() > u16::MAX as usize {
            return Err(bad(list));
        }
        Ok(OperationSet { ops })
    }

    /// All operations; the index of each is its id.
    pub fn specs(&self) -> &[OperationSpec] {
        &self.ops
    }

    /// The spec of an operation id. Panics on an id not issued by this set.
    pub fn spec(&self, id: u16) -> &OperationSpec {
        &self.ops[id as usize]
    }

    /// The id of an Azure operation name, compared case-insensitively.
    pub fn find_azure(&self, name: &str) -> Option<u16> {
        let name = name.trim();
        self.ops
            .iter()
            .position(|o| o.cloud == Cloud::Azure && o.lower.eq_ignore_ascii_case(name))
            .map(|i| i as u16)
    }

    /// The id of an AWS (event source, event name) pair, compared case-insensitively.
    pub fn find_aws(&self, source: &str, name: &str) -> Option<u16> {
        let (source, name) = (source.trim(), name.trim());
        self.ops
            .iter()
            .position(|o| match o.aws_parts() {
                Some((s, n)) => s.eq_ignore_ascii_case(source) && n.eq_ignore_ascii_case(name),
                None => false,
            })
            .map(|i| i as u16)
    }

    /// The id of a Google Cloud method name (`protoPayload.methodName`, any API version),
    /// through [`gcp_operation_lower`].
    pub fn find_gcp(&self, method: &str) -> Option<u16> {
        let lower = gcp_operation_lower(method);
        self.ops
            .iter()
            .position(|o| o.cloud == Cloud::Gcp && o.lower == lower)
            .map(|i| i as u16)
    }

    /// The id of a canonical `operation_lower` value (as found in partial state rows).
    pub fn find_lower(&self, lower: &str) -> Option<u16> {
        self.ops
            .iter()
            .position(|o| o.lower.eq_ignore_ascii_case(lower))
            .map(|i| i as u16)
    }

    /// The list in option syntax (`a,b,c`), for re-emitting to the map phase.
    pub fn to_option_value(&self) -> String {
        self.ops
            .iter()
            .map(|o| o.lower.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn is_aws_event_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parsed options. Construct with [`Options::parse`] or [`Options::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// `multi_vm_targeting` is TRUE when `vm_count > threshold`.
    pub threshold: u64,
    /// Count failed invocations in `invocation_count` (they are always in `failed_count`).
    pub include_failed: bool,
    /// Time bucket width in microseconds (`span=`), or `None` for no bucketing.
    pub span_micros: Option<i64>,
    /// Lower-case tenant GUIDs the resources belong to (`home_tenant=`); empty = use the
    /// event's own `tenantId`.
    pub home_tenants: Vec<String>,
    pub operations: OperationSet,
    pub distributed: bool,
    pub phase: Option<Phase>,
    /// Values kept per multivalue output column.
    pub max_values: usize,
    /// Bound on the number of groups; new groups beyond it are dropped and counted.
    pub max_groups: usize,
    /// Bound on the invocation collapse table; new invocations beyond it are dropped and counted.
    pub max_invocations: usize,
    /// Bound on the event identities remembered for de-duplication (about 40 bytes each);
    /// events beyond it are not checked for duplicates, and counted in the warning.
    pub max_event_ids: usize,
    /// Threads that read and normalise events; the answer never
    /// depends on it (see [`crate::parallel`]). Default: two when the process may use two
    /// cores, else one.
    pub threads: usize,
    /// The options given explicitly, as `(name, value)` in the order given, for re-emitting.
    given: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Summary,
            threshold: 3,
            include_failed: false,
            span_micros: None,
            home_tenants: Vec::new(),
            operations: OperationSet::defaults(),
            distributed: false,
            phase: None,
            max_values: 100,
            max_groups: 100_000,
            max_invocations: 5_000_000,
            max_event_ids: 5_000_000,
            threads: crate::parallel::default_threads(),
            given: Vec::new(),
        }
    }
}

impl Options {
    /// Parse `(name, value)` pairs as they come from `name=value` SPL arguments (quotes
    /// already removed by splunkd). Option names are matched exactly (lower case).
    pub fn parse<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, OptionError> {
        let mut o = Options::default();
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            let canon =
                *OPTION_NAMES
                    .iter()
                    .find(|n| **n == name)
                    .ok_or_else(|| OptionError::Unknown {
                        name: name.to_owned(),
                    })?;
            if o.given.iter().any(|(n, _)| *n == canon) {
                return Err(OptionError::Duplicate { name: canon });
            }
            o.apply(canon, value)?;
            o.given.push((canon, value.to_owned()));
        }
        if o.phase == Some(Phase::Map) && o.mode == Mode::Events {
            return Err(OptionError::Conflict {
                name: "phase",
                value: "map".into(),
                conflict: "mode=events (the map phase only exists for mode=summary)",
            });
        }
        Ok(o)
    }

    fn apply(&mut self, name: &'static str, value: &str) -> Result<(), OptionError> {
        let invalid = |expected: &str| OptionError::InvalidValue {
            name,
            value: value.to_owned(),
            expected: expected.to_owned(),
        };
        let v = value.trim();
        match name {
            "mode" => {
                self.mode = match v.to_ascii_lowercase().as_str() {
                    "summary" => Mode::Summary,
                    "events" => Mode::Events,
                    _ => return Err(invalid("one of: summary, events")),
                }
            }
            "threshold" => {
                self.threshold = v.parse::<u64>().map_err(|_| invalid("an integer >= 0"))?
            }
            "include_failed" => {
                self.include_failed = parse_bool(v).ok_or_else(|| invalid(BOOL_VALUES))?
            }
            "distributed" => {
                self.distributed = parse_bool(v).ok_or_else(|| invalid(BOOL_VALUES))?
            }
            "span" => {
                let secs = parse_span(v).ok_or_else(|| {
                    invalid(
                        "a time span: <integer><unit> with unit s, sec, m, min, h, hr, d, day, \
                         w, week (or their plurals), e.g. 30s, 15m, 1h, 1d, 1w",
                    )
                })?;
                self.span_micros = Some(secs * 1_000_000);
            }
            "home_tenant" => {
                let mut tenants = Vec::new();
                for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !is_guid(t) {
                        return Err(invalid(
                            "a comma-separated list of tenant GUIDs \
                             (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                        ));
                    }
                    tenants.push(t.to_ascii_lowercase());
                }
                if tenants.is_empty() {
                    return Err(invalid("a comma-separated list of tenant GUIDs"));
                }
                self.home_tenants = tenants;
            }
            "operations" => self.operations = OperationSet::parse(v)?,
            "phase" => {
                self.phase = match v.to_ascii_lowercase().as_str() {
                    "map" => Some(Phase::Map),
                    _ => return Err(invalid("map (internal: set by the distributed search)")),
                }
            }
            "max_values" => {
                self.max_values = parse_positive(v).ok_or_else(|| invalid("an integer >= 1"))?
            }
            "max_groups" => {
                self.max_groups = parse_positive(v).ok_or_else(|| invalid("an integer >= 1"))?
            }
            "max_invocations" => {
                self.max_invocations =
                    parse_positive(v).ok_or_else(|| invalid("an integer >= 1"))?
            }
            "max_event_ids" => {
                self.max_event_ids = parse_positive(v).ok_or_else(|| invalid("an integer >= 1"))?
            }
            "threads" => {
                self.threads = parse_positive(v)
                    .filter(|n| *n <= MAX_THREADS)
                    .ok_or_else(|| invalid("an integer from 1 to 16"))?
            }
            _ => unreachable!("name comes from OPTION_NAMES"),
        }
        Ok(())
    }

    /// The options given explicitly, in the order given.
    pub fn given(&self) -> &[(&'static str, String)] {
        &self.given
    }

    /// The argument string of the map phase: `phase=map` followed by every explicitly set
    /// option except `phase` and `distributed`, values double-quoted SPL-style
    /// (`\` and `"` escaped with a backslash).
    pub fn map_phase_args(&self) -> String {
        let mut out = String::from("phase=map");
        for (name, value) in &self.given {
            if *name == "phase" || *name == "distributed" {
                continue;
            }
            out.push(' ');
            out.push_str(name);
            out.push('=');
            out.push_str(&spl_quote(value));
        }
        out
    }

    /// Whether getinfo should return a `streaming_preop` ([`Options::map_phase_command`]):
    /// `distributed=true` in summary mode, and not already the map phase.
    pub fn wants_map_phase(&self) -> bool {
        self.distributed && self.mode == Mode::Summary && self.phase.is_none()
    }

    /// The full `streaming_preop` command: `t1651detect phase=map …`.
    pub fn map_phase_command(&self) -> String {
        format!("{COMMAND_NAME} {}", self.map_phase_args())
    }
}

/// Quote a value for an SPL command line: `"…"` with `\` and `"` backslash-escaped.
pub fn spl_quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Splunk-style boolean: true/false/t/f/1/0/yes/no, any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// The largest `threads=` accepted. More than about four gains nothing: the in-order fold
/// on the search's own thread becomes the bottleneck.
pub const MAX_THREADS: usize = 16;

fn parse_positive(v: &str) -> Option<usize> {
    v.parse::<usize>().ok().filter(|n| *n >= 1)
}

/// Parse a Splunk-style time span into seconds. A bare integer is seconds.
/// Months and years are refused: they have no fixed width.
pub fn parse_span(v: &str) -> Option<i64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: i64 = num.parse().ok().filter(|n| *n >= 1)?;
    let unit_secs: i64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    // Bound: bucket arithmetic is done in microseconds in an i64.
    n.checked_mul(unit_secs)
        .filter(|s| *s <= 100 * 365 * 86_400)
}

/// The value of each hex digit (either case); `0xff` for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut d = 0;
    while d < 16 {
        let v = d as u8;
        t[b"0123456789abcdef"[d] as usize] = v;
        t[b"0123456789ABCDEF"[d] as usize] = v;
        d += 1;
    }
    t
};

/// Where the 16 digit pairs of an 8-4-4-4-12 GUID start (groups have even lengths, so no
/// pair straddles a dash).
const GUID_PAIRS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// Parse a hyphenated GUID (any case) into its 16 bytes. Byte order equals the order of
/// the lower-case text, so comparing bytes compares strings. One table look-up per digit,
/// checked once at the end
/// (it runs for every correlation id the engine folds, on the thread that folds).
pub(crate) fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if [b[8], b[13], b[18], b[23]] != [b'-'; 4] {
        return None;
    }
    let mut out = [0u8; 16];
    // A non-digit's value has its high bits set.
    let mut seen = 0u8;
    for (o, &i) in out.iter_mut().zip(&GUID_PAIRS) {
        let (hi, lo) = (
            HEX_VALUE[usize::from(b[i])],
            HEX_VALUE[usize::from(b[i + 1])],
        );
        seen |= hi | lo;
        *o = hi << 4 | lo;
    }
    (seen < 16).then_some(out)
}

/// A GUID in 8-4-4-4-12 hex form (any case): what [`parse_guid`] reads.
pub fn is_guid(s: &str) -> bool {
    parse_guid(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Result<Options, OptionError> {
        Options::parse(pairs.iter().copied())
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(o.mode, Mode::Summary);
        assert_eq!(o.threshold, 3);
        assert!(!o.include_failed);
        assert_eq!(o.span_micros, None);
        assert_eq!(o.max_values, 100);
        assert_eq!(o.max_groups, 100_000);
        assert_eq!(o.max_invocations, 5_000_000);
        assert_eq!(o.operations.specs().len(), 22);
        assert_eq!(
            o.operations.find_gcp("beta.compute.instances.setMetadata"),
            o.operations.find_lower("compute.instances.setmetadata")
        );
        assert!(o
            .operations
            .find_gcp("google.cloud.osconfig.v1beta.OsConfigService.ExecutePatchJob")
            .is_some());
        assert!(o
            .operations
            .find_gcp("v1.compute.instances.insert")
            .is_none());
        assert!(o
            .operations
            .find_azure("MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION")
            .is_some());
        assert!(o
            .operations
            .find_aws("ssm.amazonaws.com", "sendcommand")
            .is_some());
        assert!(o
            .operations
            .find_aws("ec2.amazonaws.com", "SendCommand")
            .is_none());
    }

    #[test]
    fn bools_spans_and_numbers() {
        for (v, b) in [
            ("TRUE", true),
            ("t", true),
            ("1", true),
            ("Yes", true),
            ("no", false),
            ("F", false),
            ("0", false),
        ] {
            assert_eq!(
                p(&[("include_failed", v)]).unwrap().include_failed,
                b,
                "{v}"
            );
        }
        for (v, s) in [
            ("30s", 30),
            ("15m", 900),
            ("1h", 3600),
            ("2hr", 7200),
            ("1d", 86400),
            ("1w", 604800),
            ("5min", 300),
            ("3 days", 259200),
            ("10", 10),
        ] {
            assert_eq!(
                p(&[("span", v)]).unwrap().span_micros,
                Some(s * 1_000_000),
                "{v}"
            );
        }
        for v in ["", "0s", "1mon", "h", "-1h", "1.5h", "99999999999999w"] {
            let e = p(&[("span", v)]).unwrap_err();
            assert!(e.to_string().contains("'span'"), "{e}");
        }
        assert_eq!(p(&[("threshold", "0")]).unwrap().threshold, 0);
        assert!(p(&[("threshold", "-1")]).is_err());
        assert!(p(&[("max_values", "0")]).is_err());
        assert_eq!(p(&[("max_groups", "7")]).unwrap().max_groups, 7);
    }

    #[test]
    fn errors_name_the_option_and_valid_values() {
        let e = p(&[("mode", "table")]).unwrap_err().to_string();
        assert!(e.contains("'mode'") && e.contains("summary, events"), "{e}");
        let e = p(&[("include_failed", "maybe")]).unwrap_err().to_string();
        assert!(e.contains("'include_failed'") && e.contains("yes"), "{e}");
        let e = p(&[("bogus", "1")]).unwrap_err().to_string();
        assert!(
            e.contains("'bogus'") && e.contains("max_invocations"),
            "{e}"
        );
        let e = p(&[("threshold", "1"), ("threshold", "2")]).unwrap_err();
        assert_eq!(e, OptionError::Duplicate { name: "threshold" });
        let e = p(&[("home_tenant", "not-a-guid")]).unwrap_err().to_string();
        assert!(e.contains("'home_tenant'"), "{e}");
        let e = p(&[("operations", "Microsoft.Compute")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'operations'"), "{e}");
        assert!(p(&[("phase", "reduce")]).is_err());
        assert!(p(&[("phase", "map"), ("mode", "events")]).is_err());
    }

    #[test]
    fn operations_option() {
        let o = p(&[("operations", " microsoft.compute/virtualMachines/runCommand/action , StartSession,ec2.amazonaws.com/ModifyInstanceAttribute,SENDCOMMAND,sendcommand")]).unwrap();
        let lows: Vec<&str> = o
            .operations
            .specs()
            .iter()
            .map(|s| s.lower.as_str())
            .collect();
        assert_eq!(
            lows,
            [
                "microsoft.compute/virtualmachines/runcommand/action",
                "ssm.amazonaws.com/startsession",
                "ec2.amazonaws.com/modifyinstanceattribute",
                "ssm.amazonaws.com/sendcommand"
            ]
        );
        assert_eq!(
            o.operations
                .find_aws("EC2.amazonaws.com", "modifyInstanceAttribute"),
            Some(2)
        );
        assert!(o
            .operations
            .find_azure("Microsoft.Compute/virtualMachines/extensions/write")
            .is_none());
    }

    #[test]
    fn gcp_operations_option() {
        let o = p(&[(
            "operations",
            "v1.compute.instances.setMetadata,beta.compute.instances.setMetadata,osconfig.ExecutePatchJob",
        )])
        .unwrap();
        let lows: Vec<&str> = o
            .operations
            .specs()
            .iter()
            .map(|s| s.lower.as_str())
            .collect();
        assert_eq!(
            lows,
            ["compute.instances.setmetadata", "osconfig.executepatchjob"]
        );
        assert!(o.operations.specs().iter().all(|s| s.cloud == Cloud::Gcp));
        assert!(p(&[("operations", "v1.")]).is_err());
        assert!(p(&[("operations", "compute.instances.set*")]).is_err());
    }

    #[test]
    fn map_phase_args_reemit_set_options_quoted() {
        let o = p(&[
            ("distributed", "true"),
            ("threshold", "5"),
            ("span", "1h"),
            ("home_tenant", "AAAAAAAA-0000-0000-0000-000000000001"),
            ("operations", "SendCommand,a\"b/c/d"),
        ]);
        // A quote inside an operation name is refused, so use a valid list.
        assert!(o.is_err());
        let o = p(&[
            ("distributed", "true"),
            ("threshold", "5"),
            ("span", "1h"),
            ("operations", "SendCommand, StartSession"),
        ])
        .unwrap();
        assert_eq!(
            o.map_phase_args(),
            r#"phase=map threshold="5" span="1h" operations="SendCommand, StartSession""#
        );
        assert!(o.map_phase_command().starts_with("t1651detect phase=map "));
        assert!(o.wants_map_phase());
        assert!(!p(&[]).unwrap().wants_map_phase());
        assert!(!p(&[("distributed", "t"), ("mode", "events")])
            .unwrap()
            .wants_map_phase());
        assert!(!p(&[("distributed", "t"), ("phase", "map")])
            .unwrap()
            .wants_map_phase());
        assert_eq!(spl_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        // Re-parsing the emitted arguments yields the same options plus phase=map.
        let again = p(&[
            ("phase", "map"),
            ("threshold", "5"),
            ("span", "1h"),
            ("operations", "SendCommand, StartSession"),
        ])
        .unwrap();
        assert_eq!(again.threshold, o.threshold);
        assert_eq!(again.operations, o.operations);
        assert_eq!(again.phase, Some(Phase::Map));
    }
}
