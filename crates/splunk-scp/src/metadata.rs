//! The JSON metadata of requests (splunkd → command) and replies (command → splunkd).
//!
//! Requests are parsed as leniently as the Splunk SDK reads them (`MetadataDecoder`, Python's
//! `json` plus truthiness): unknown keys ignored, a repeated key keeps its last value, times
//! as string or number, `search` percent-decoded, `args: null` (or any non-list) as no
//! arguments, and the flags `preview`, `finished` and `streaming_command_will_restart` as
//! booleans, numbers (0 = false) or strings (`"true"`/`"false"`, `"1"`/`"0"`, `""` = false;
//! unlike Python, the string `"false"` is false). Replies are written compactly with `None` keys omitted and `inspector`
//! always serialised before `error` (MLTK notes splunkd reads them in that order).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::MetadataError;

/// A request's metadata as sent by splunkd; `action` selects getinfo or execute.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Request {
    /// `"getinfo"` or `"execute"`. Absent only in malformed or hand-made input.
    #[serde(default)]
    pub action: Option<String>,
    /// True when the search produces preview results (getinfo only).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub preview: Option<bool>,
    /// Present from Splunk 8.0 on; semantics unknown, always false in traces.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub streaming_command_will_restart: Option<bool>,
    /// The search context (getinfo only).
    #[serde(default)]
    pub searchinfo: Option<SearchInfo>,
    /// True on splunkd's last execute request.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub finished: Option<bool>,
}

impl Request {
    /// Parses metadata bytes; empty metadata (`M = 0`) counts as `{}`.
    pub fn parse(bytes: &[u8]) -> Result<Request, MetadataError> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Request::default());
        }
        let err = |source| MetadataError::Json {
            source,
            start: String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned(),
        };
        // Through `Value`: a repeated key keeps its last value (as Python's json), where a
        // derived struct would reject it.
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(err)?;
        serde_json::from_value(v).map_err(err)
    }
}

/// A flag as the SDK reads it: bool, number (0 = false), string (`true`/`false`/`1`/`0`/empty,
/// any case); null = absent.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde_json::Value;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        Value::Number(n) => Ok(Some(n.as_f64().is_some_and(|f| f != 0.0))),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Ok(Some(true)),
            "false" | "f" | "0" | "no" | "" => Ok(Some(false)),
            _ => Err(de::Error::custom(format!("expected a boolean, got {s:?}"))),
        },
        other => Err(de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

/// A list of strings as the SDK uses `args` (`if args and isinstance(args, list)`): null or
/// a non-list is empty; non-string elements are kept in their JSON text.
fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde_json::Value;
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// The getinfo request: what a command learns about the search it runs in.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GetInfo {
    /// `preview` from the request.
    pub preview: bool,
    /// `streaming_command_will_restart` from the request (false when absent).
    pub streaming_command_will_restart: bool,
    /// The search context.
    pub searchinfo: SearchInfo,
}

/// `searchinfo` of the getinfo request: every field of protocol.md §3.
///
/// String fields absent from the request are empty; `Debug` never prints `session_key`.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct SearchInfo {
    /// Arguments after SPL tokenisation, outer quotes removed.
    #[serde(default, deserialize_with = "lenient_list")]
    pub args: Vec<String>,
    /// Arguments as typed, quotes kept.
    #[serde(default, deserialize_with = "lenient_list")]
    pub raw_args: Vec<String>,
    /// The job's dispatch directory; empty or temporary in getinfo-only probes.
    #[serde(default, deserialize_with = "lenient_string")]
    pub dispatch_dir: String,
    /// Search id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub sid: String,
    /// App context.
    #[serde(default, deserialize_with = "lenient_string")]
    pub app: String,
    /// Owner of the app context.
    #[serde(default, deserialize_with = "lenient_string")]
    pub owner: String,
    /// User running the search.
    #[serde(default, deserialize_with = "lenient_string")]
    pub username: String,
    /// splunkd auth token. Secret: never log it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub session_key: String,
    /// e.g. `https://127.0.0.1:8089`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub splunkd_uri: String,
    /// e.g. `8.2.1` (6.3 sent build numbers such as `20150522`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub splunk_version: String,
    /// Full SPL of the (sub)search, **already percent-decoded**.
    #[serde(default, deserialize_with = "percent_decoded")]
    pub search: String,
    /// Command name (absent before Splunk 8).
    #[serde(default)]
    pub command: Option<String>,
    /// Row limit per chunk (usually 50,000; absent before Splunk 8).
    #[serde(default, deserialize_with = "opt_number")]
    pub maxresultrows: Option<u64>,
    /// Earliest time in epoch seconds; `Some(0.0)` means unbounded. String or number on the wire.
    #[serde(default, deserialize_with = "opt_time")]
    pub earliest_time: Option<f64>,
    /// Latest time in epoch seconds; `Some(0.0)` means unbounded. String or number on the wire.
    #[serde(default, deserialize_with = "opt_time")]
    pub latest_time: Option<f64>,
    /// Keys not listed above, kept for forward compatibility.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl fmt::Debug for SearchInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchInfo")
            .field("args", &self.args)
            .field("raw_args", &self.raw_args)
            .field("dispatch_dir", &self.dispatch_dir)
            .field("sid", &self.sid)
            .field("app", &self.app)
            .field("owner", &self.owner)
            .field("username", &self.username)
            .field("session_key", &"<redacted>")
            .field("splunkd_uri", &self.splunkd_uri)
            .field("splunk_version", &self.splunk_version)
            .field("search", &self.search)
            .field("command", &self.command)
            .field("maxresultrows", &self.maxresultrows)
            .field("earliest_time", &self.earliest_time)
            .field("latest_time", &self.latest_time)
            .finish_non_exhaustive()
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

fn percent_decoded<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(percent_decode(&lenient_string(d)?))
}

/// Decodes `%XX` escapes (not `+`: splunklib uses `unquote`). Invalid escapes stay literal;
/// invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => Ok(n.as_f64()),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(None),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected a number, got {s:?}"))),
        other => Err(de::Error::custom(format!("expected a number, got {other}"))),
    }
}

fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    number_or_string(d)
}

fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match number_or_string(d)? {
        None => Ok(None),
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(Some(f as u64)),
        Some(f) => Err(de::Error::custom(format!(
            "expected a non-negative integer, got {f}"
        ))),
    }
}

/// An execute request's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExecuteRequest {
    /// splunkd's last request.
    pub finished: bool,
}

impl Request {
    /// Interprets the first chunk; it must be a getinfo.
    pub fn into_getinfo(self) -> Result<GetInfo, MetadataError> {
        match self.action.as_deref() {
            Some("getinfo") => Ok(GetInfo {
                preview: self.preview.unwrap_or(false),
                streaming_command_will_restart: self
                    .streaming_command_will_restart
                    .unwrap_or(false),
                searchinfo: self.searchinfo.unwrap_or_default(),
            }),
            other => Err(MetadataError::NotGetinfo(
                other.unwrap_or("<none>").to_owned(),
            )),
        }
    }

    /// Interprets a later chunk; it must be an execute (a missing action is taken as execute).
    pub fn into_execute(self) -> Result<ExecuteRequest, MetadataError> {
        match self.action.as_deref() {
            Some("execute") | None => Ok(ExecuteRequest {
                finished: self.finished.unwrap_or(false),
            }),
            Some(other) => Err(MetadataError::NotExecute(other.to_owned())),
        }
    }
}

/// The command type announced in the getinfo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CommandType {
    /// Stateless per record, distributable to indexers.
    Streaming,
    /// Per record, in order, on the search head (keeps state).
    Stateful,
    /// Needs all events, may reorder; receives every field.
    Events,
    /// Transforming (stats-like); may declare a `streaming_preop` map phase.
    Reporting,
}

/// Severity of an inspector message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Level {
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN` (splunklib's name for Python's WARNING).
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL`.
    Fatal,
}

/// One `[level, text]` inspector message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Severity.
    pub level: Level,
    /// Text shown to the user.
    pub text: String,
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.level, &self.text).serialize(s)
    }
}

/// `inspector` of a reply: messages and `metric.<name>` entries (splunklib's
/// `write_metric`), serialised as `{"messages":[...],"metric.<name>":<value>,...}` (keys
/// without content omitted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspector {
    /// `[level, text]` messages.
    pub messages: Vec<Message>,
    /// `(name, value)` metrics, sent as `"metric.<name>": value`.
    pub metrics: Vec<(String, serde_json::Value)>,
}

impl Inspector {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.metrics.is_empty()
    }
}

impl Serialize for Inspector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if !self.messages.is_empty() || self.metrics.is_empty() {
            m.serialize_entry("messages", &self.messages)?;
        }
        for (name, value) in &self.metrics {
            m.serialize_entry(&format!("metric.{name}"), value)?;
        }
        m.end()
    }
}

/// A reply's metadata. Field order is the serialisation order; `None` keys are omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Reply {
    /// `type` (getinfo reply).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub command_type: Option<CommandType>,
    /// `generating` (getinfo reply of a generator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generating: Option<bool>,
    /// `required_fields` (getinfo reply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_fields: Option<Vec<String>>,
    /// `streaming_preop`: the map phase's SPL (getinfo reply of a reporting command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming_preop: Option<String>,
    /// `maxwait` (getinfo reply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxwait: Option<u64>,
    /// `run_in_preview` (getinfo reply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_in_preview: Option<bool>,
    /// `finished`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
    /// Messages and metrics; serialised before `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspector: Option<Inspector>,
    /// `error`: the fatal error text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    /// `{"finished":<f>}` with the given messages as `inspector` (omitted when empty).
    pub fn execute(finished: bool, messages: Vec<Message>) -> Reply {
        Reply {
            finished: Some(finished),
            inspector: (!messages.is_empty()).then_some(Inspector {
                messages,
                metrics: Vec::new(),
            }),
            ..Reply::default()
        }
    }

    /// The fatal-error reply:
    /// `{"finished":true,"inspector":{"messages":[...,["ERROR",text]]},"error":text}`.
    pub fn fatal(text: &str, mut messages: Vec<Message>) -> Reply {
        messages.push(Message {
            level: Level::Error,
            text: text.to_owned(),
        });
        Reply {
            finished: Some(true),
            inspector: Some(Inspector {
                messages,
                metrics: Vec::new(),
            }),
            error: Some(text.to_owned()),
            ..Reply::default()
        }
    }

    /// Compact JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings, bools and numbers into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"finished":true}"#.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getinfo_with_every_field() {
        let raw = br#"{"action":"getinfo","preview":false,"streaming_command_will_restart":false,
          "searchinfo":{"args":["total=total","value1"],"raw_args":["total=\"total\"","value1"],
          "dispatch_dir":"/tmp/d","sid":"1433261392.159","app":"search","owner":"admin",
          "username":"admin","session_key":"SECRET","splunkd_uri":"https://127.0.0.1:8089",
          "splunk_version":"8.2.1","search":"%7C%20sum%20total%3Dtotal%20%C3%A9","command":"sum",
          "maxresultrows":50000,"earliest_time":"1627333200","latest_time":1627419600.5,"new_key":1}}"#;
        let g = Request::parse(raw).unwrap().into_getinfo().unwrap();
        let si = &g.searchinfo;
        assert_eq!(si.args, ["total=total", "value1"]);
        assert_eq!(si.raw_args[0], "total=\"total\"");
        assert_eq!(si.search, "| sum total=total é");
        assert_eq!(si.command.as_deref(), Some("sum"));
        assert_eq!(si.maxresultrows, Some(50000));
        assert_eq!(si.earliest_time, Some(1627333200.0));
        assert_eq!(si.latest_time, Some(1627419600.5));
        assert_eq!(si.session_key, "SECRET");
        assert!(si.extra.contains_key("new_key"));
        assert!(!format!("{si:?}").contains("SECRET"));
    }

    #[test]
    fn old_style_getinfo_and_execute() {
        let g = Request::parse(br#"{"action": "getinfo", "searchinfo": {"earliest_time": 0, "args": []}, "preview": false}"#)
            .unwrap()
            .into_getinfo()
            .unwrap();
        assert_eq!(g.searchinfo.earliest_time, Some(0.0));
        assert_eq!(g.searchinfo.command, None);
        let e = Request::parse(br#"{ "action": "execute", "finished": true }"#)
            .unwrap()
            .into_execute()
            .unwrap();
        assert!(e.finished);
        assert!(Request::parse(b"").unwrap().into_execute().is_ok());
        assert!(matches!(
            Request::parse(br#"{"action":"execute"}"#)
                .unwrap()
                .into_getinfo(),
            Err(MetadataError::NotGetinfo(_))
        ));
        let err = Request::parse(b"not json").unwrap_err();
        assert!(err.to_string().contains("not json"));
    }

    #[test]
    fn percent_decoding_edges() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("a+b%"), "a+b%");
    }

    #[test]
    fn reply_serialisation_order_and_omission() {
        let r = Reply {
            command_type: Some(CommandType::Reporting),
            streaming_preop: Some("sum phase=\"map\"".into()),
            ..Reply::default()
        };
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"type":"reporting","streaming_preop":"sum phase=\"map\""}"#
        );
        let f = Reply::fatal("boom", vec![]);
        assert_eq!(
            String::from_utf8(f.to_json()).unwrap(),
            r#"{"finished":true,"inspector":{"messages":[["ERROR","boom"]]},"error":"boom"}"#
        );
        assert_eq!(
            String::from_utf8(Reply::execute(false, vec![]).to_json()).unwrap(),
            r#"{"finished":false}"#
        );
    }
}
