//! The control-plane operations that run code inside a VM (MITRE ATT&CK T1651).
//!
//! One list serves the detection command, the offline scan, the modular input's
//! server-side filter and the app's macros, so they can never disagree.

/// The cloud an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cloud {
    Azure,
    Aws,
}

impl Cloud {
    /// The value of the `cloud` output column.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Azure => "azure",
            Cloud::Aws => "aws",
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
