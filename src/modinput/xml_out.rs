//! The XML event stream on stdout: `<stream>`, one `<event … unbroken="1">…<done/></event>` per
//! event, flushed one by one, `</stream>` at the end.
//!
//! Invariant: when [`EventWriter::write_event`] returns `Ok`, the whole event element has been
//! handed to the kernel (one `write` of the complete element, then a flush). A process killed
//! before that leaves at most a truncated element, which is not an event.

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

    /// Write one whole event and flush it.
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

    #[test]
    fn no_events_no_stream() {
        let mut w = EventWriter::new(Vec::new());
        w.finish().unwrap();
        assert!(w.out.is_empty());
    }
}
