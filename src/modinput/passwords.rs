//! Reading a secret from splunkd's `storage/passwords` with the session key.

use serde::Deserialize;

use super::error::{excerpt, ModinputError};
use super::http::{HttpClient, HttpRequest};
use super::log;
use super::secret::Secret;

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
    content: Content,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(default)]
    clear_password: Option<String>,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// Whether a storage/passwords entry answers to the configured credential name. Entries are named
/// `realm:user:` (colons inside realm/user escaped); users may write the full name, `realm:user`,
/// or just `user` for an entry without realm.
fn matches(entry: &Entry, wanted: &str) -> bool {
    let realm = entry.content.realm.as_deref().unwrap_or("");
    let user = entry.content.username.as_deref().unwrap_or("");
    entry.name == wanted
        || entry.name == format!("{wanted}:")
        || entry.name == format!(":{wanted}:")
        || (!user.is_empty() && format!("{realm}:{user}") == wanted)
        || (!user.is_empty() && realm.is_empty() && user == wanted)
}

/// Fetch the clear-text secret of credential `name` from splunkd at `server_uri`.
/// The secret is registered with the log redactor before it is returned.
pub fn fetch_credential(
    http: &HttpClient,
    server_uri: &str,
    session_key: &Secret,
    name: &str,
) -> Result<Secret, ModinputError> {
    if server_uri.is_empty() {
        return Err(ModinputError::CredentialLookup {
            name: name.to_string(),
            reason: "splunkd did not pass a server_uri".into(),
        });
    }
    let url = format!(
        "{}/servicesNS/nobody/-/storage/passwords?output_mode=json&count=0",
        server_uri.trim_end_matches('/')
    );
    let what = format!("splunkd storage/passwords for credential `{name}`");
    let resp = http.send(&what, || {
        Ok(HttpRequest::get(url.clone())
            .header("Authorization", &format!("Splunk {}", session_key.expose())))
    })?;
    match resp.status {
        200 => {}
        401 | 403 => {
            return Err(ModinputError::CredentialLookup {
                name: name.to_string(),
                reason: format!(
                    "splunkd answered HTTP {}: the session key was refused or the input's owner lacks list_storage_passwords",
                    resp.status
                ),
            })
        }
        s => {
            return Err(ModinputError::CredentialLookup {
                name: name.to_string(),
                reason: format!("splunkd answered HTTP {s}: {}", excerpt(&resp.body)),
            })
        }
    }
    let listing: Listing =
        serde_json::from_str(&resp.body).map_err(|e| ModinputError::CredentialLookup {
            name: name.to_string(),
            reason: format!("unexpected storage/passwords JSON: {e}"),
        })?;
    let found: Vec<&Entry> = listing.entry.iter().filter(|e| matches(e, name)).collect();
    let entry = match found.as_slice() {
        [] => {
            return Err(ModinputError::CredentialNotFound {
                name: name.to_string(),
            })
        }
        [one] => *one,
        [first, ..] => {
            log::warn(&format!(
                "credential `{name}` matches {} storage/passwords entries; using `{}`",
                found.len(),
                first.name
            ));
            *first
        }
    };
    let secret = entry
        .content
        .clear_password
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ModinputError::CredentialLookup {
            name: name.to_string(),
            reason: "the entry has no clear_password (is the input's owner allowed to read it?)"
                .into(),
        })?;
    log::register_secret(&secret);
    Ok(Secret::new(secret))
}
