//! The control-plane operations that run code inside a VM (MITRE ATT&CK T1651).
//!
//! One list serves the detection command, the offline scan, the modular input's
//! server-side filter and the app's macros, so they can never disagree.

/// The cloud an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cloud {
    Azure,
    Aws,
    Gcp,
}

impl Cloud {
    /// The value of the `cloud` output column.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Azure => "azure",
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
        }
    }
}

/// Azure Resource Manager operation names detected by default, as the provider spells them.
/// Compared case-insensitively everywhere.
pub const AZURE_DEFAULT_OPERATIONS: &[&str] = &[
    "Microsoft.Compute/virtualMachines/runCommand/action",
    "Microsoft.Compute/virtualMachines/runCommands/write",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write",
    "Microsoft.Compute/virtualMachines/extensions/write",
    "Microsoft.Compute/virtualMachineScaleSets/extensions/write",
    "Microsoft.Automation/automationAccounts/jobs/write",
    "Microsoft.HybridCompute/machines/runCommands/write",
    "Microsoft.HybridCompute/machines/extensions/write",
];

/// AWS Systems Manager API calls detected by default (CloudTrail `eventSource` is
/// [`AWS_SSM_EVENT_SOURCE`]).
pub const AWS_DEFAULT_EVENT_NAMES: &[&str] = &[
    "SendCommand",
    "StartSession",
    "CreateAssociation",
    "StartAutomationExecution",
];

/// CloudTrail `eventSource` of AWS Systems Manager.
pub const AWS_SSM_EVENT_SOURCE: &str = "ssm.amazonaws.com";

/// Google Cloud audit-log method names (`protoPayload.methodName`) detected by default, as
/// the services spell them. Matched through [`gcp_operation_lower`], so the other API
/// versions of a method (`beta.compute.instances.setMetadata`, the `v1beta` OS Config API)
/// match too.
///
/// * `setMetadata` / `setCommonInstanceMetadata` count only when the keys they add or
///   modify include a startup, shutdown or sysprep script key ([`is_gcp_script_key`]);
///   see [`gcp_needs_script_key`].
/// * The OS Config (VM Manager) methods are **Data Access** audit logs, which Google Cloud
///   does not write unless Data Access logging is enabled for `osconfig.googleapis.com`.
pub const GCP_DEFAULT_METHODS: &[&str] = &[
    "v1.compute.instances.setMetadata",
    "v1.compute.projects.setCommonInstanceMetadata",
    "google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob",
    "google.cloud.osconfig.v1.OsConfigService.CreatePatchDeployment",
    "google.cloud.osconfig.v1.OsConfigService.UpdatePatchDeployment",
    "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment",
    "google.cloud.osconfig.v1.OsConfigZonalService.UpdateOSPolicyAssignment",
    "google.cloud.osconfig.v1beta.OsConfigService.CreateGuestPolicy",
    "google.cloud.osconfig.v1beta.OsConfigService.UpdateGuestPolicy",
];

/// The canonical `operation_lower` of a Google Cloud method name: lower case, a leading
/// `google.cloud.` or `google.` removed, API-version segments removed (`v1`, `v1beta`,
/// `v1beta1`, `v2alpha`, `beta`, `alpha`), and the gRPC service segment removed (a segment
/// ending in `service` that is not the last one). Empty segments are dropped.
///
/// * `v1.compute.instances.setMetadata`, `beta.compute.instances.setMetadata` →
///   `compute.instances.setmetadata`
/// * `google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob` → `osconfig.executepatchjob`
/// * `google.cloud.osconfig.v1beta.OsConfigService.CreateGuestPolicy` →
///   `osconfig.createguestpolicy`
pub fn gcp_operation_lower(method: &str) -> String {
    let lower = method.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("google.cloud.")
        .or_else(|| lower.strip_prefix("google."))
        .unwrap_or(&lower);
    let segs: Vec<&str> = rest.split('.').filter(|s| !s.is_empty()).collect();
    let last = segs.len().saturating_sub(1);
    segs.iter()
        .enumerate()
        .filter(|&(i, s)| {
            let service_segment = i < last && s.ends_with("service");
            !(is_api_version(s) || service_segment)
        })
        .map(|(_, s)| *s)
        .collect::<Vec<_>>()
        .join(".")
}

/// `v1`, `v1beta`, `v1beta1`, `v2alpha3`, `beta`, `alpha` (lower case).
fn is_api_version(s: &str) -> bool {
    if s == "beta" || s == "alpha" {
        return true;
    }
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    let tail = tail
        .strip_prefix("beta")
        .or_else(|| tail.strip_prefix("alpha"))
        .unwrap_or(tail);
    tail.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a GCP operation (canonical lower name) counts only when a record of its
/// invocation adds or modifies a script key: the instance and project metadata writes.
pub fn gcp_needs_script_key(lower: &str) -> bool {
    lower.starts_with("compute.")
        && (lower.ends_with(".setmetadata") || lower.ends_with(".setcommoninstancemetadata"))
}

/// Compute Engine metadata keys whose value the guest environment runs as a script: the
/// startup and shutdown scripts (Linux and Windows) and the Windows sysprep-specialize
/// scripts. Compared case-insensitively ([`is_gcp_script_key`]).
pub const GCP_SCRIPT_KEYS: &[&str] = &[
    "startup-script",
    "startup-script-url",
    "shutdown-script",
    "shutdown-script-url",
    "windows-startup-script-ps1",
    "windows-startup-script-cmd",
    "windows-startup-script-bat",
    "windows-startup-script-url",
    "windows-shutdown-script-ps1",
    "windows-shutdown-script-cmd",
    "windows-shutdown-script-bat",
    "windows-shutdown-script-url",
    "sysprep-specialize-script-ps1",
    "sysprep-specialize-script-cmd",
    "sysprep-specialize-script-bat",
    "sysprep-specialize-script-url",
];

/// Whether a metadata key (as an audit record lists it) is a script key. The key is the
/// text up to the first blank (some renderings append a value preview), trimmed,
/// compared case-insensitively.
pub fn is_gcp_script_key(key: &str) -> bool {
    let k = key.split_whitespace().next().unwrap_or("");
    GCP_SCRIPT_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcp_lower_names() {
        for (m, l) in [
            (
                "v1.compute.instances.setMetadata",
                "compute.instances.setmetadata",
            ),
            (
                "beta.compute.instances.setMetadata",
                "compute.instances.setmetadata",
            ),
            (
                "compute.instances.setMetadata",
                "compute.instances.setmetadata",
            ),
            (
                "v1.compute.projects.setCommonInstanceMetadata",
                "compute.projects.setcommoninstancemetadata",
            ),
            (
                "google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob",
                "osconfig.executepatchjob",
            ),
            (
                "google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment",
                "osconfig.createospolicyassignment",
            ),
            (
                "google.cloud.osconfig.v1beta.OsConfigService.CreateGuestPolicy",
                "osconfig.createguestpolicy",
            ),
            ("osconfig.executepatchjob", "osconfig.executepatchjob"),
            (" V2alpha1.Foo..Bar ", "foo.bar"),
        ] {
            assert_eq!(gcp_operation_lower(m), l, "{m}");
        }
        assert!(gcp_needs_script_key("compute.instances.setmetadata"));
        assert!(gcp_needs_script_key(
            "compute.projects.setcommoninstancemetadata"
        ));
        assert!(!gcp_needs_script_key("osconfig.executepatchjob"));
        assert!(is_gcp_script_key("startup-script"));
        assert!(is_gcp_script_key(" Windows-Startup-Script-PS1 "));
        assert!(is_gcp_script_key("startup-script value-preview"));
        assert!(!is_gcp_script_key("ssh-keys"));
        assert!(!is_gcp_script_key("startup-script-extra"));
        assert!(!is_api_version("vm"));
        assert!(is_api_version("v1beta1"));
    }
}
