//! `scp_frame`: an arbitrary byte stream into the chunk framer, delivered in arbitrary read
//! splits through a small `BufReader`.
//!
//! Input layout: byte 0 = flags (bit 0: tiny limits, else default limits; bits 1..=6: BufReader
//! capacity), byte 1 = number `k` of split bytes (mod 16), then `k` read sizes (cycled), then the
//! stream itself.
//!
//! Properties checked beyond "no panic, no hang":
//! * split-invariance: the chunks read and the final error are identical whether the stream
//!   arrives in one piece or in arbitrary short reads;
//! * write/read round trip: every chunk read, written back with `write_chunk`, reads back
//!   unchanged, and the written bytes are exactly `chunked 1.0,M,B\n` + metadata + body;
//! * limits: no chunk part is ever longer than its limit.
#![no_main]

use std::io::{BufReader, Cursor, Read};

use libfuzzer_sys::fuzz_target;
use splunk_scp::frame::{write_chunk, FrameLimits, FrameReader};

/// A reader that returns at most `splits[i % len]` bytes per call.
struct Splitter<'a> {
    data: &'a [u8],
    splits: &'a [u8],
    i: usize,
}

impl Read for Splitter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let cap = if self.splits.is_empty() {
            usize::MAX
        } else {
            // 0 maps to 1: a zero-length read would mean EOF.
            (self.splits[self.i % self.splits.len()] as usize).max(1)
        };
        self.i += 1;
        let n = cap.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

type Outcome = (Vec<(Vec<u8>, Vec<u8>)>, Option<String>);

fn read_all<R: std::io::BufRead>(r: R, limits: FrameLimits) -> Outcome {
    let mut fr = FrameReader::with_limits(r, limits);
    let (mut m, mut b) = (Vec::new(), Vec::new());
    let mut chunks = Vec::new();
    loop {
        match fr.read_chunk(&mut m, &mut b) {
            Ok(Some(h)) => {
                assert_eq!((h.metadata_len, h.body_len), (m.len(), b.len()));
                assert!(m.len() as u64 <= limits.max_metadata);
                assert!(b.len() as u64 <= limits.max_body);
                chunks.push((m.clone(), b.clone()));
            }
            Ok(None) => return (chunks, None),
            Err(e) => return (chunks, Some(e.to_string())),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let flags = data[0];
    let k = (data[1] % 16) as usize;
    if data.len() < 2 + k {
        return;
    }
    let splits = &data[2..2 + k];
    let stream = &data[2 + k..];
    let limits = if flags & 1 == 1 {
        FrameLimits {
            max_metadata: 64,
            max_body: 256,
        }
    } else {
        FrameLimits::default()
    };
    let cap = (((flags >> 1) & 0x3f) as usize).max(1);

    let whole = read_all(Cursor::new(stream), limits);
    let split = read_all(
        BufReader::with_capacity(
            cap,
            Splitter {
                data: stream,
                splits,
                i: 0,
            },
        ),
        limits,
    );
    assert_eq!(whole, split, "result depends on how the stream is split");

    // Round trip of what was read.
    let mut written = Vec::new();
    for (m, b) in &whole.0 {
        let start = written.len();
        write_chunk(&mut written, m, b).unwrap();
        let header = format!("chunked 1.0,{},{}\n", m.len(), b.len());
        assert_eq!(&written[start..start + header.len()], header.as_bytes());
    }
    let again = read_all(Cursor::new(&written), FrameLimits::default());
    assert_eq!(again.0, whole.0, "written chunks do not read back");
    assert!(again.1.is_none());
});
