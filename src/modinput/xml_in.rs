//! Reading the XML splunkd writes on stdin: `<input>` for a run, `<items>` for validation.
//!
//! splunkd writes UTF-8; the SDK's fixtures are UTF-16 with a BOM and an encoding declaration,
//! and `print-modinput-config` output may carry a UTF-8 BOM. [`decode_document`] turns any of
//! these into a `str` first, so the parser never has to care about the declared encoding.

use std::collections::BTreeMap;
use std::path::PathBuf;

use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::error::ModinputError;
use super::secret::Secret;

/// One parameter value: `<param>` is a single value, `<param_list>` several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Single(String),
    List(Vec<String>),
}

/// The parameters of one stanza (or validation item), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub BTreeMap<String, ParamValue>);

impl Params {
    /// The value of a parameter, trimmed; `None` when absent or blank. A list is joined with commas.
    pub fn get(&self, name: &str) -> Option<String> {
        let v = match self.0.get(name)? {
            ParamValue::Single(s) => s.trim().to_string(),
            ParamValue::List(l) => l
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(","),
        };
        (!v.is_empty()).then_some(v)
    }

    /// A list parameter: `<param_list>` values and/or comma- or whitespace-separated items.
    pub fn get_list(&self, name: &str) -> Vec<String> {
        let raw: Vec<&str> = match self.0.get(name) {
            None => return Vec::new(),
            Some(ParamValue::Single(s)) => vec![s.as_str()],
            Some(ParamValue::List(l)) => l.iter().map(|s| s.as_str()).collect(),
        };
        raw.iter()
            .flat_map(|s| s.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Set a single value (used by tests and callers that build parameters by hand).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0
            .insert(name.to_string(), ParamValue::Single(value.to_string()));
    }
}

/// One `<stanza>` of a run, or the `<item>` of a validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// Full stanza name, e.g. `t1651_cloud_audit://prod`.
    pub name: String,
    pub params: Params,
}

/// The `<input>` document of a normal run.
#[derive(Debug, Clone)]
pub struct InputDoc {
    pub server_host: String,
    pub server_uri: String,
    pub session_key: Secret,
    pub checkpoint_dir: PathBuf,
    pub stanzas: Vec<Stanza>,
}

/// The `<items>` document of `--validate-arguments`.
#[derive(Debug, Clone)]
pub struct ValidationDoc {
    pub server_uri: String,
    pub session_key: Secret,
    pub checkpoint_dir: PathBuf,
    pub item: Stanza,
}

/// Decode stdin bytes to text: UTF-8 (with or without BOM), UTF-16 LE/BE (BOM or not), and as a
/// last resort Latin-1 when the declaration says so.
pub fn decode_document(bytes: &[u8]) -> Result<String, String> {
    fn utf16(body: &[u8], big_endian: bool) -> Result<String, String> {
        if !body.len().is_multiple_of(2) {
            return Err("UTF-16 input has an odd number of bytes".into());
        }
        let units = body.chunks_exact(2).map(|c| {
            if big_endian {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|e| format!("invalid UTF-16: {e}"))
    }
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|e| format!("invalid UTF-8: {e}"))
        }
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        [b'<', 0, ..] => utf16(bytes, false),
        [0, b'<', ..] => utf16(bytes, true),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => {
                let head = String::from_utf8_lossy(&bytes[..bytes.len().min(100)]).to_lowercase();
                if head.contains("iso-8859-1") || head.contains("latin1") {
                    Ok(bytes.iter().map(|&b| b as char).collect())
                } else {
                    Err(format!("invalid UTF-8: {e}"))
                }
            }
        },
    }
}

/// A minimal element tree: enough for splunkd's small, flat documents.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    fn child_text(&self, name: &str) -> String {
        self.child(name)
            .map(|c| c.text.trim().to_string())
            .unwrap_or_default()
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c.to_string());
    }
    let name = r.decode().map_err(|e| e.to_string())?;
    match name.as_ref() {
        "amp" => Ok("&".into()),
        "lt" => Ok("<".into()),
        "gt" => Ok(">".into()),
        "quot" => Ok("\"".into()),
        "apos" => Ok("'".into()),
        other => Err(format!("unknown entity &{other};")),
    }
}

/// The innermost open element (the synthetic root is never popped while parsing).
fn top(stack: &mut [Element]) -> Result<&mut Element, String> {
    stack
        .last_mut()
        .ok_or_else(|| "unbalanced end tag".to_string())
}

fn parse_tree(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match ev {
            Event::Start(s) => stack.push(element_from(&s)?),
            Event::Empty(s) => {
                let el = element_from(&s)?;
                top(&mut stack)?.children.push(el);
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    return Err("unbalanced end tag".into());
                }
                let el = stack.pop().ok_or("unbalanced end tag")?;
                top(&mut stack)?.children.push(el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| e.to_string())?;
                top(&mut stack)?.text.push_str(&s);
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| e.to_string())?;
                top(&mut stack)?.text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let s = resolve_ref(&r)?;
                top(&mut stack)?.text.push_str(&s);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if stack.len() != 1 {
        return Err("document ended inside an element".into());
    }
    let mut root = stack.pop().ok_or("empty document")?;
    root.children
        .pop()
        .filter(|_| root.children.is_empty())
        .ok_or_else(|| "expected exactly one root element".to_string())
}

fn element_from(s: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

fn params_of(el: &Element) -> Params {
    let mut params = Params::default();
    for c in &el.children {
        let Some(name) = c.attr("name") else { continue };
        match c.name.as_str() {
            "param" => {
                params
                    .0
                    .insert(name.to_string(), ParamValue::Single(c.text.clone()));
            }
            "param_list" => {
                let values = c
                    .children
                    .iter()
                    .filter(|v| v.name == "value")
                    .map(|v| v.text.clone())
                    .collect();
                params.0.insert(name.to_string(), ParamValue::List(values));
            }
            _ => {}
        }
    }
    params
}

fn bad(document: &'static str, reason: impl Into<String>) -> ModinputError {
    ModinputError::InputXml {
        document,
        reason: reason.into(),
    }
}

/// Parse the `<input>` document of a normal run.
pub fn parse_input(bytes: &[u8]) -> Result<InputDoc, ModinputError> {
    const DOC: &str = "<input>";
    let text = decode_document(bytes).map_err(|e| bad(DOC, e))?;
    let root = parse_tree(&text).map_err(|e| bad(DOC, e))?;
    if root.name != "input" {
        return Err(bad(
            DOC,
            format!("root element is <{}>, expected <input>", root.name),
        ));
    }
    let mut stanzas = Vec::new();
    if let Some(conf) = root.child("configuration") {
        for s in conf.children.iter().filter(|c| c.name == "stanza") {
            let name = s
                .attr("name")
                .ok_or_else(|| bad(DOC, "a <stanza> has no name attribute"))?;
            stanzas.push(Stanza {
                name: name.to_string(),
                params: params_of(s),
            });
        }
    }
    let checkpoint_dir = root.child_text("checkpoint_dir");
    if checkpoint_dir.is_empty() {
        return Err(bad(DOC, "<checkpoint_dir> is missing or empty"));
    }
    Ok(InputDoc {
        server_host: root.child_text("server_host"),
        server_uri: root.child_text("server_uri"),
        session_key: Secret::new(root.child_text("session_key")),
        checkpoint_dir: PathBuf::from(checkpoint_dir),
        stanzas,
    })
}

/// Parse the `<items>` document of `--validate-arguments`.
pub fn parse_validation(bytes: &[u8]) -> Result<ValidationDoc, ModinputError> {
    const DOC: &str = "<items>";
    let text = decode_document(bytes).map_err(|e| bad(DOC, e))?;
    let root = parse_tree(&text).map_err(|e| bad(DOC, e))?;
    if root.name != "items" {
        return Err(bad(
            DOC,
            format!("root element is <{}>, expected <items>", root.name),
        ));
    }
    let item = root
        .child("item")
        .ok_or_else(|| bad(DOC, "no <item> element"))?;
    Ok(ValidationDoc {
        server_uri: root.child_text("server_uri"),
        session_key: Secret::new(root.child_text("session_key")),
        checkpoint_dir: PathBuf::from(root.child_text("checkpoint_dir")),
        item: Stanza {
            name: item.attr("name").unwrap_or_default().to_string(),
            params: params_of(item),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = r#"<?xml version="1.0" encoding="UTF-16"?>
<input>
  <server_host>sh1</server_host>
  <server_uri>https://127.0.0.1:8089</server_uri>
  <session_key>abc&amp;def</session_key>
  <checkpoint_dir>/opt/splunk/var/lib/splunk/modinputs/t1651_cloud_audit</checkpoint_dir>
  <configuration>
    <stanza name="t1651_cloud_audit://prod" app="t1651_cloud_admin_command">
      <param name="cloud">azure</param>
      <param name="operations">a &lt;b&gt;, c</param>
      <param_list name="subscription_ids"><value>s1</value><value>s2, s3</value></param_list>
      <param name="empty"/>
    </stanza>
  </configuration>
</input>"#;

    fn check(doc: InputDoc) {
        assert_eq!(doc.server_uri, "https://127.0.0.1:8089");
        assert_eq!(doc.session_key.expose(), "abc&def");
        assert_eq!(doc.stanzas.len(), 1);
        let s = &doc.stanzas[0];
        assert_eq!(s.name, "t1651_cloud_audit://prod");
        assert_eq!(s.params.get("cloud").as_deref(), Some("azure"));
        assert_eq!(s.params.get("operations").as_deref(), Some("a <b>, c"));
        assert_eq!(s.params.get_list("subscription_ids"), ["s1", "s2", "s3"]);
        assert_eq!(s.params.get("empty"), None);
    }

    #[test]
    fn utf8_plain_and_with_bom() {
        check(parse_input(INPUT.as_bytes()).unwrap());
        let mut b = vec![0xEF, 0xBB, 0xBF];
        b.extend_from_slice(INPUT.as_bytes());
        check(parse_input(&b).unwrap());
    }

    #[test]
    fn utf16_le_and_be_with_bom() {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in INPUT.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        check(parse_input(&le).unwrap());
        check(parse_input(&be).unwrap());
    }

    #[test]
    fn bad_documents_are_errors_not_panics() {
        for doc in [
            &b""[..],
            b"<input>",
            b"<input></oops>",
            b"<other/>",
            b"<input><server_uri>x</server_uri></input>",
            b"\xff\xfe\x00",
            b"<input>&bogus;</input>",
        ] {
            assert!(
                parse_input(doc).is_err(),
                "{:?}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    /// Deterministic SplitMix64 for the mutation test (no random crate).
    struct SplitMix(u64);
    impl SplitMix {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n.max(1)
        }
    }

    #[test]
    fn mutated_documents_never_panic() {
        let mut rng = SplitMix(5);
        let base = INPUT.as_bytes();
        for _ in 0..3000 {
            let mut doc = base.to_vec();
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(doc.len() as u64) as usize;
                match rng.below(3) {
                    0 => doc[i] = rng.next_u64() as u8,
                    1 => {
                        doc.remove(i);
                    }
                    _ => doc.truncate(i),
                }
                if doc.is_empty() {
                    break;
                }
            }
            let _ = parse_input(&doc);
            let _ = parse_validation(&doc);
        }
    }

    #[test]
    fn validation_items() {
        let doc = br#"<items><server_host>h</server_host><server_uri>https://127.0.0.1:8089</server_uri><session_key>k</session_key><checkpoint_dir>/tmp</checkpoint_dir><item name="x"><param name="cloud">aws</param></item></items>"#;
        let v = parse_validation(doc).unwrap();
        assert_eq!(v.item.name, "x");
        assert_eq!(v.item.params.get("cloud").as_deref(), Some("aws"));
    }
}
