//! The XML event stream on stdout: `<stream>`, one `<event … unbroken="1">…<done/></event>` per
//! event, flushed one by one, `</stream>` at the end.
//!
//! Invariant: [`EventWriter::write_event`] formats the complete event element into one buffer
//! first and hands it to the sink in one `write_all`, then flushes; on the unbuffered stdout
//! the normal run uses, that is exactly one `write(2)` (a blocking pipe write completes
//! whole). So when it returns `Ok` the whole element is in the kernel, and a process killed at
//! any instant leaves either the whole element or — only for an element larger than
//! `PIPE_BUF` (4096 bytes), which the kernel may copy in pieces — a truncated fragment, which
//! is not an event.

use std::io::Write;

use chrono::{DateTime, Utc};
use quick_xml::escape::{escape, partial_escape};

use super::error::ModinputError;

/// Writes events for one stanza to a sink (stdout in production).
pub struct EventWriter<W: Write> {
    out: W,
    started: bool,
    buf: String,
}

impl<W: Write> EventWriter<W> {
    pub fn new(out: W) -> Self {
        EventWriter {
            out,
            started: false,
            buf: String::new(),
        }
    }

    fn start(&mut self) -> Result<(), ModinputError> {
        if !self.started {
            self.out
                .write_all(b"<stream>\n")
                .map_err(ModinputError::Output)?;
            self.started = true;
        }
        Ok(())
    }

    /// Write one whole event with a single `write_all` and flush it.
    pub fn write_event(
        &mut self,
        stanza: &str,
        time: Option<DateTime<Utc>>,
        data: &str,
        sourcetype: &str,
    ) -> Result<(), ModinputError> {
        self.start()?;
        self.buf.clear();
        self.buf.push_str("<event stanza=\"");
        self.buf.push_str(&escape(stanza));
        self.buf.push_str("\" unbroken=\"1\">");
        if let Some(t) = time {
            self.buf.push_str(&format!(
                "<time>{}.{:03}</time>",
                t.timestamp(),
                t.timestamp_subsec_millis()
            ));
        }
        self.buf.push_str("<data>");
        // Element content only needs <, > and & escaped; quotes stay as they are, which keeps
        // JSON readable and the stream small.
        self.buf.push_str(&partial_escape(data));
        self.buf.push_str("</data><sourcetype>");
        self.buf.push_str(&escape(sourcetype));
        self.buf.push_str("</sourcetype><done/></event>\n");
        self.out
            .write_all(self.buf.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(ModinputError::Output)
    }

    /// Close the stream (only if it was opened) and flush.
    pub fn finish(&mut self) -> Result<(), ModinputError> {
        if self.started {
            self.out
                .write_all(b"</stream>\n")
                .and_then(|_| self.out.flush())
                .map_err(ModinputError::Output)?;
            self.started = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_shape_and_escaping() {
        let mut w = EventWriter::new(Vec::new());
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T08:00:00.1234567Z")
            .unwrap()
            .with_timezone(&Utc);
        w.write_event(
            "t1651_cloud_audit://a\"b",
            Some(t),
            r#"{"x":"<&>"}"#,
            "aws:cloudtrail",
        )
        .unwrap();
        w.finish().unwrap();
        let s = String::from_utf8(w.out).unwrap();
        assert_eq!(
            s,
            "<stream>\n<event stanza=\"t1651_cloud_audit://a&quot;b\" unbroken=\"1\"><time>1714550400.123</time><data>{\"x\":\"&lt;&amp;&gt;\"}</data><sourcetype>aws:cloudtrail</sourcetype><done/></event>\n</stream>\n"
        );
    }

    /// A sink that records every `write` call it receives.
    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_event_is_one_write_call_holding_the_whole_element() {
        let mut w = EventWriter::new(Calls::default());
        let big = format!("{{\"k\":\"{}\"}}", "x".repeat(100_000));
        for data in [r#"{"a":1}"#, big.as_str(), "{\"multi\":\n\"line\"}"] {
            w.write_event("t1651_cloud_audit://s", None, data, "aws:cloudtrail")
                .unwrap();
        }
        let calls = &w.out.0;
        assert_eq!(calls.len(), 4, "<stream> plus one call per event");
        assert_eq!(calls[0], b"<stream>\n");
        for c in &calls[1..] {
            let text = std::str::from_utf8(c).unwrap();
            assert!(text.starts_with("<event ") && text.ends_with("<done/></event>\n"));
        }
    }

    #[test]
    fn no_events_no_stream() {
        let mut w = EventWriter::new(Vec::new());
        w.finish().unwrap();
        assert!(w.out.is_empty());
    }
}
