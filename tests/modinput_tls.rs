//! HTTPS paths: splunkd's self-signed loopback certificate, `ca_bundle` for the cloud APIs.

mod modinput_support;

use chrono::{Duration, Utc};
use modinput_support::*;

fn load(emu: &Shared) {
    let now = Utc::now();
    emu.lock().unwrap().azure_events = modinput_support::fixtures::azure_backlog(
        3,
        60,
        SUB_A,
        TENANT,
        now - Duration::hours(1),
        now - Duration::minutes(1),
    )
    .into_iter()
    .map(|e| (SUB_A.to_string(), e))
    .collect();
}

#[test]
fn https_everywhere_with_ca_bundle() {
    let emu = start_tls();
    load(&emu);
    let base = emu.lock().unwrap().base_url.clone();
    assert!(base.starts_with("https://localhost:"));
    let port = base.rsplit(':').next().unwrap().to_string();
    // splunkd as splunkd really is: https on 127.0.0.1 with a certificate nobody trusts.
    let server_uri = format!("https://127.0.0.1:{port}");
    let cp = checkpoint_dir("tls-ok");
    let mut params = azure_params(&base);
    params.push(("ca_bundle".into(), test_ca_path()));
    let out = run_bin(
        &[],
        input_xml(
            &server_uri,
            &cp,
            "t1651_cloud_audit://tls",
            &as_refs(&params),
        )
        .as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    assert_no_secret("stderr", &out.stderr);
}

#[test]
fn untrusted_cloud_certificate_is_refused() {
    let emu = start_tls();
    load(&emu);
    let base = emu.lock().unwrap().base_url.clone();
    let port = base.rsplit(':').next().unwrap().to_string();
    let cp = checkpoint_dir("tls-untrusted");
    // No ca_bundle: the cloud endpoints' certificate does not chain to the built-in roots.
    let out = run_bin(
        &[],
        input_xml(
            &format!("https://127.0.0.1:{port}"),
            &cp,
            "t1651_cloud_audit://tls",
            &as_refs(&azure_params(&base)),
        )
        .as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(1));
    assert!(out.events.is_empty());
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("ERROR "))
        .expect("ERROR line");
    assert!(
        err.contains("Azure token") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // The credential was read over splunkd's self-signed HTTPS before the cloud call failed.
    assert!(emu
        .lock()
        .unwrap()
        .log
        .iter()
        .any(|r| r.path().contains("/storage/passwords/")));
}

#[test]
fn cloud_calls_go_through_the_configured_proxy() {
    let emu = start_tls();
    load(&emu);
    let base = emu.lock().unwrap().base_url.clone();
    let port = base.rsplit(':').next().unwrap().to_string();
    let (proxy, tunnels) = start_connect_proxy();
    // The cloud's own host names (the only ones the endpoint policy accepts); the proxy sends
    // every tunnel to the emulator, whose test certificate also names these hosts. splunkd
    // stays direct on loopback.
    let login = format!("login.microsoftonline.com:{port}");
    let management = format!("management.azure.com:{port}");
    let cp = checkpoint_dir("tls-proxy");
    let mut params = azure_params(&format!("https://{management}"));
    params.retain(|(k, _)| k != "azure_authority_url");
    params.push(("azure_authority_url".into(), format!("https://{login}")));
    params.push(("ca_bundle".into(), test_ca_path()));
    params.push(("proxy".into(), proxy));
    let out = run_bin(
        &[],
        input_xml(
            &format!("https://127.0.0.1:{port}"),
            &cp,
            "t1651_cloud_audit://proxy",
            &as_refs(&params),
        )
        .as_bytes(),
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.events.is_empty());
    let tunnels = tunnels.lock().unwrap().clone();
    assert!(
        tunnels.contains(&login)
            && tunnels.contains(&management)
            && tunnels.iter().all(|t| *t == login || *t == management),
        "{tunnels:?}"
    );
}
