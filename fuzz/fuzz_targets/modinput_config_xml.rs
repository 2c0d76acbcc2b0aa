//! `modinput_config_xml`: arbitrary bytes as the XML splunkd writes to the modular input's
//! stdin (`<input>` for a run, `<items>` for `--validate-arguments`), in any encoding.
//!
//! Properties checked beyond "no panic, no hang":
//! * every stanza of a parsed document goes through the stanza validator without panicking;
//! * the session key never shows in `Debug` output of a parsed document, nor in any error text
//!   (when it is long enough to be recognisable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use t1651::modinput::config::StanzaConfig;
use t1651::modinput::xml_in::{decode_document, parse_input, parse_validation};

/// Fails if `key` shows in `text`. Only judged for keys that are recognisable (12+ bytes) and
/// occur exactly once in the document: a key that also appears as some other value could
/// rightly be printed as that value.
fn assert_hidden(key: &str, text: &str) {
    if !key.is_empty() {
        assert!(!text.contains(key), "session key leaked: {text}");
    }
}

fn judged_key(doc_text: Option<&str>, key: &str) -> String {
    match doc_text {
        // Digits and letters, no spaces: cannot be a piece of a fixed message or of `Debug`.
        Some(t)
            if key.len() >= 12
                && key.bytes().any(|b| b.is_ascii_digit())
                && key.bytes().any(|b| b.is_ascii_alphabetic())
                && !key.bytes().any(|b| b.is_ascii_whitespace())
                && t.matches(key).count() == 1 =>
        {
            key.to_owned()
        }
        _ => String::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = decode_document(data).ok();
    match parse_input(data) {
        Ok(doc) => {
            let key = judged_key(text.as_deref(), doc.session_key.expose());
            assert_hidden(&key, &format!("{:?}", doc.session_key));
            for s in &doc.stanzas {
                match StanzaConfig::from_stanza(s) {
                    Ok(c) => assert_hidden(&key, &format!("{c:?}")),
                    Err(e) => assert_hidden(&key, &e.to_string()),
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(doc) = parse_validation(data) {
        let key = judged_key(text.as_deref(), doc.session_key.expose());
        assert_hidden(&key, &format!("{:?}", doc.session_key));
        if let Err(e) = StanzaConfig::from_stanza(&doc.item) {
            assert_hidden(&key, &e.to_string());
        }
    }
});
