//! Reading a secret from splunkd's `storage/passwords` with the session key.
//!
//! Invariant: the input reads exactly one entry, by its exact name, in this app's namespace:
//! `GET servicesNS/nobody/t1651_cloud_admin_command/storage/passwords/<name>`. It never lists
//! entries and never reads another app's namespace, and it refuses an entry whose ACL says it
//! belongs to another app (an entry shared globally by another app is visible from ours).
//! The name is splunkd's entry name, `realm:username:` (colons inside realm or username escaped
//! as `\:`), e.g. `t1651:prod-reader:`; the app's setup page stores entries under that name.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::error::{excerpt, ModinputError};
use super::http::{HttpClient, HttpRequest};
use super::log;
use super::secret::Secret;

/// The app whose storage/passwords namespace holds the input's credentials.
pub const APP: &str = "t1651_cloud_admin_command";

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    acl: Acl,
    #[serde(default)]
    content: Content,
}

#[derive(Deserialize, Default)]
struct Acl {
    #[serde(default)]
    app: Option<String>,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(default)]
    clear_password: Option<String>,
}

/// The URL of entry `name` in this app's namespace.
pub fn credential_url(server_uri: &str, name: &str) -> String {
    format!(
        "{}/servicesNS/nobody/{APP}/storage/passwords/{}?output_mode=json",
        server_uri.trim_end_matches('/'),
        utf8_percent_encode(name, NON_ALPHANUMERIC)
    )
}

/// Fetch the clear-text secret of credential `name` from splunkd at `server_uri`.
/// The secret is registered with the log redactor before it is returned.
pub fn fetch_credential(
    http: &HttpClient,
    server_uri: &str,
    session_key: &Secret,
    name: &str,
) -> Result<Secret, ModinputError> {
    let lookup_err = |reason: String| ModinputError::CredentialLookup {
        name: name.to_string(),
        reason,
    };
    if server_uri.is_empty() {
        return Err(lookup_err("splunkd did not pass a server_uri".into()));
    }
    let url = credential_url(server_uri, name);
    let what = format!("splunkd storage/passwords entry `{name}` of app {APP}");
    let resp = http.send(&what, || {
        Ok(HttpRequest::get(url.clone())
            .header("Authorization", &format!("Splunk {}", session_key.expose())))
    })?;
    match resp.status {
        200 => {}
        404 => {
            return Err(ModinputError::CredentialNotFound {
                name: name.to_string(),
            })
        }
        401 | 403 => {
            return Err(lookup_err(format!(
                "splunkd answered HTTP {}: the session key was refused or the input's owner lacks list_storage_passwords",
                resp.status
            )))
        }
        s => {
            return Err(lookup_err(format!(
                "splunkd answered HTTP {s}: {}",
                excerpt(&resp.body)
            )))
        }
    }
    let listing: Listing = serde_json::from_str(&resp.body)
        .map_err(|e| lookup_err(format!("unexpected storage/passwords JSON: {e}")))?;
    let entry = match listing.entry.as_slice() {
        [one] if one.name == name => one,
        [] => {
            return Err(ModinputError::CredentialNotFound {
                name: name.to_string(),
            })
        }
        _ => {
            return Err(lookup_err(format!(
                "splunkd answered with {} entries, none or several named exactly `{name}`",
                listing.entry.len()
            )))
        }
    };
    if entry.acl.app.as_deref() != Some(APP) {
        return Err(lookup_err(format!(
            "the entry belongs to app `{}`, not {APP}; store the credential in this app (its setup page or storage/passwords in the {APP} namespace)",
            entry.acl.app.as_deref().unwrap_or("?")
        )));
    }
    let secret = entry
        .content
        .clear_password
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            lookup_err(
                "the entry has no clear_password (is the input's owner allowed to read it?)".into(),
            )
        })?;
    log::register_secret(&secret);
    Ok(Secret::new(secret))
}
