//! Shared helpers of the scan tests: temporary directories, gzip, and generated Azure Event
//! Hubs Capture (Avro) files.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A fresh, empty directory under cargo's per-target temporary directory.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scan_{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The Avro schema Azure Event Hubs Capture writes (as documented by Microsoft).
pub const CAPTURE_SCHEMA: &str = r#"{
  "type": "record", "name": "EventData", "namespace": "Microsoft.ServiceBus.Messaging",
  "fields": [
    {"name": "SequenceNumber", "type": "long"},
    {"name": "Offset", "type": "string"},
    {"name": "EnqueuedTimeUtc", "type": "string"},
    {"name": "SystemProperties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
    {"name": "Properties", "type": {"type": "map", "values": ["long", "double", "string", "bytes", "null"]}},
    {"name": "Body", "type": ["null", "bytes"]}
  ]
}"#;

/// A Capture file with one message per body, written by `apache-avro` with `codec`.
pub fn capture_avro(bodies: &[Vec<u8>], codec: apache_avro::Codec) -> Vec<u8> {
    use apache_avro::types::{Record, Value};
    let schema = apache_avro::Schema::parse_str(CAPTURE_SCHEMA).unwrap();
    let mut w = apache_avro::Writer::with_codec(&schema, Vec::new(), codec);
    for (i, body) in bodies.iter().enumerate() {
        let mut r = Record::new(&schema).unwrap();
        r.put("SequenceNumber", Value::Long(i as i64));
        r.put("Offset", Value::String(format!("{}", i * 4096)));
        r.put(
            "EnqueuedTimeUtc",
            Value::String("3/14/2026 2:11:05 AM".into()),
        );
        r.put(
            "SystemProperties",
            Value::Map(
                [(
                    "x-opt-enqueued-time".to_string(),
                    Value::Union(0, Box::new(Value::Long(1_773_454_265_000))),
                )]
                .into(),
            ),
        );
        r.put("Properties", Value::Map(Default::default()));
        r.put(
            "Body",
            Value::Union(1, Box::new(Value::Bytes(body.clone()))),
        );
        w.append(r).unwrap();
        // One block per message, so a cut file loses only the last ones.
        w.flush().unwrap();
    }
    w.into_inner().unwrap()
}
