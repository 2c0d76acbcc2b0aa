//! The setup page's storage/passwords convention, end to end: an entry written the way
//! appserver/static/t1651_setup.js writes it (this app, realm from the page, user name = the
//! input's name) is found by the real `t1651_cloud_audit` binary through the `credential`
//! value the page sets (the entry's exact name `<realm>:<input name>:`), against the loopback
//! splunkd and Azure
//! emulators of the modular input's own tests (tests/modinput_support, used as is).

mod app_support;
mod modinput_support;

use app_support::{app_dir, read};
use modinput_support::*;

/// The value of `var <name> = '<value>';` in the setup page's script.
fn js_const(js: &str, name: &str) -> String {
    let pat = format!("var {name} = '");
    let s = js
        .find(&pat)
        .unwrap_or_else(|| panic!("t1651_setup.js has no {name}"))
        + pat.len();
    js[s..s + js[s..].find('\'').unwrap()].to_string()
}

/// Run one Azure input named `input` whose `credential` is `credential`, with storage/passwords
/// holding `entries` (name, realm, user, password, owning app). Returns the run and the
/// tokens issued.
fn run_with(
    input: &str,
    credential: &str,
    entries: Vec<(String, String, String, String, String)>,
) -> (RunOut, u32) {
    let emu = start();
    emu.lock().unwrap().passwords = entries;
    let base = emu.lock().unwrap().base_url.clone();
    let mut params = azure_params(&base);
    for (k, v) in params.iter_mut() {
        if k == "credential" {
            *v = credential.to_string();
        }
    }
    let cp = checkpoint_dir(&format!("app-setup-{input}"));
    let out = run_bin(
        &[],
        input_xml(
            &base,
            &cp,
            &format!("t1651_cloud_audit://{input}"),
            &as_refs(&params),
        )
        .as_bytes(),
        FAST_ENV,
    );
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    let tokens = emu.lock().unwrap().tokens_issued;
    (out, tokens)
}

#[test]
fn the_input_reads_the_secret_the_setup_page_stores() {
    let js = read(&app_dir().join("appserver/static/t1651_setup.js"));
    let realm = js_const(&js, "REALM");
    let input = "prod_azure";
    // What the page POSTs: name=<input>, realm=<realm>; splunkd names the entry realm:user:.
    let page_entry = (
        format!("{realm}:{input}:"),
        realm.clone(),
        input.to_string(),
        CLIENT_SECRET.to_string(),
        APP.to_string(),
    );
    // The same user name under another realm, in another app: must never be picked.
    let decoy = (
        format!("other_realm:{input}:"),
        "other_realm".to_string(),
        input.to_string(),
        OTHER_APP_SECRET.to_string(),
        OTHER_APP.to_string(),
    );
    // What the page writes into the input: the entry's exact name.
    assert!(js.contains("credential: REALM + ':' + name + ':'"));
    let credential = format!("{realm}:{input}:");

    let (out, tokens) = run_with(input, &credential, vec![decoy.clone(), page_entry.clone()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(tokens >= 1, "the secret was not accepted: {}", out.stderr);

    // Without the page's entry the input fails and says which credential it could not find.
    let (out, tokens) = run_with(input, &credential, vec![decoy]);
    assert_eq!(tokens, 0);
    assert!(
        out.code != Some(0) || out.stderr.contains(&credential),
        "a missing credential must be reported: code {:?}, {}",
        out.code,
        out.stderr
    );
    assert!(out.stderr.contains(&credential), "{}", out.stderr);
}
