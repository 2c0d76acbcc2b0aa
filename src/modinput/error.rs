//! Error types of the modular input. Messages name what was wrong and never carry a secret:
//! URLs and response excerpts included here come from requests that hold no secret in the URL.

use std::path::PathBuf;

/// Everything that can stop a run, a validation or a collection.
#[derive(Debug, thiserror::Error)]
pub enum ModinputError {
    /// The XML on stdin could not be decoded or parsed.
    #[error("cannot parse the {document} XML on stdin: {reason}")]
    InputXml {
        document: &'static str,
        reason: String,
    },
    /// A stanza parameter has a bad value.
    #[error("parameter `{param}`: {message}")]
    Param { param: String, message: String },
    /// The named storage/passwords entry does not exist (or cannot be seen with the session key).
    #[error("credential `{name}` was not found in storage/passwords of app t1651_cloud_admin_command (the name is the exact entry name, realm:username: such as t1651:prod-reader: ; create it with the app's setup page or in that app's namespace, and make sure the input's owner can list storage passwords)")]
    CredentialNotFound { name: String },
    /// splunkd refused the session key or answered with something unusable.
    #[error("reading credential `{name}` from splunkd failed: {reason}")]
    CredentialLookup { name: String, reason: String },
    /// An HTTP exchange failed for good (after retries).
    #[error("{what}: {reason}")]
    Http { what: String, reason: String },
    /// A response arrived but its body was not what the API documents.
    #[error("{what}: malformed response: {reason}")]
    Malformed { what: String, reason: String },
    /// The cloud refused the credentials themselves: nothing of this stanza can be collected.
    #[error("{what}: authentication failed: {reason}")]
    Auth { what: String, reason: String },
    /// The credentials work but may not read this source (e.g. no Reader role on one subscription).
    #[error("{what}: access denied: {reason}")]
    Forbidden { what: String, reason: String },
    /// Paging went wrong: a repeated `nextLink` / `NextToken`, or more pages than `max_pages`.
    #[error("{what}: {reason}")]
    Paging { what: String, reason: String },
    /// The run reached `max_run_time`; the next run continues from the checkpoint.
    #[error("{what}: max_run_time reached; the next run continues from the checkpoint")]
    Deadline { what: String },
    /// This splunkd is a search head cluster member: every member would collect the same
    /// events, so the input refuses to run there.
    #[error("this splunkd is a member of a search head cluster: every member would collect (and index) the same events, so the input does not run here; run it on one heavy forwarder or standalone instance instead (see the app's README, \"Where to run the input\")")]
    SearchHeadCluster,
    /// Reading or writing the checkpoint or its journal failed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// stdout is gone (splunkd closed the pipe): nothing more can be delivered.
    #[error("cannot write events to stdout: {0}")]
    Output(#[source] std::io::Error),
}

impl ModinputError {
    /// Shorthand for a parameter error.
    pub fn param(param: impl Into<String>, message: impl Into<String>) -> Self {
        ModinputError::Param {
            param: param.into(),
            message: message.into(),
        }
    }
}

/// Cut a response body to a short, single-line excerpt for an error message.
pub fn excerpt(body: &str) -> String {
    const MAX: usize = 200;
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if body.chars().count() > MAX {
        format!("{one_line}…")
    } else {
        one_line
    }
}
