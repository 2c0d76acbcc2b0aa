//! File-system behaviour of `scan::input`: directory walking, order, gzip files, mixed
//! directories, unreadable and missing paths, and the shipped samples.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use t1651::scan::input::{
    collect_files, read_paths, Event, InputError, Problem, ProblemKind, ReadStats, Sink,
};

/// A fresh, empty directory under cargo's per-target temporary directory.
fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scan_input_{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[derive(Default)]
struct Collect {
    events: Vec<String>,
    problems: Vec<Problem>,
}

impl Sink for Collect {
    fn event(&mut self, e: &Event<'_>) {
        assert!(e.bytes().starts_with(b"{"));
        let file = e.location.file.file_name().unwrap().to_string_lossy();
        self.events.push(format!(
            "{file}:{}{}",
            e.location.line,
            e.location
                .index
                .map(|i| format!("[{i}]"))
                .unwrap_or_default()
        ));
    }
    fn problem(&mut self, p: &Problem) {
        self.problems.push(p.clone());
    }
}

fn scan(paths: &[PathBuf]) -> (Collect, ReadStats) {
    let mut c = Collect::default();
    let stats = read_paths(paths, &mut c).unwrap();
    (c, stats)
}

#[test]
fn mixed_directory_is_read_recursively_in_sorted_order() {
    let d = tempdir("mixed");
    write(
        &d.join("b/ct.json.gz"),
        &gzip(b"{\"Records\":[{\"eventName\":\"SendCommand\"},{\"eventName\":\"StartSession\"}]}"),
    );
    write(
        &d.join("a/PT1H.json"),
        b"{\"time\":\"1\"}\n{\"time\":\"2\"}\n",
    );
    write(&d.join("a/portal.json"), b"[\n  {\"caller\": \"x\"}\n]\n");
    write(
        &d.join("c/hub.jsonl"),
        b"{\"records\":[{\"time\":\"3\"}]}\n",
    );
    write(&d.join("c/notes.txt"), b"not a log");
    write(&d.join(".hidden/x.json"), b"{}");
    // gzip detected by magic bytes even without the .gz suffix.
    write(&d.join("c/zipped.ndjson"), &gzip(b"{\"time\":\"4\"}\n"));
    let (c, s) = scan(std::slice::from_ref(&d));
    assert_eq!(
        c.events,
        [
            "PT1H.json:1",
            "PT1H.json:2",
            "portal.json:2[0]",
            "ct.json.gz:1[0]",
            "ct.json.gz:1[1]",
            "hub.jsonl:1[0]",
            "zipped.ndjson:1",
        ]
    );
    assert_eq!(s.files, 5);
    assert_eq!(s.files_ignored, 2, "notes.txt and .hidden");
    assert_eq!(s.events, 7);
    assert!(c.problems.is_empty(), "{:?}", c.problems);
}

#[test]
fn named_files_are_read_whatever_their_name_and_in_the_order_given() {
    let d = tempdir("named");
    write(&d.join("z.txt"), b"{\"a\":1}\n");
    write(&d.join("a.log"), b"{\"a\":2}\n");
    let (c, _) = scan(&[d.join("z.txt"), d.join("a.log")]);
    assert_eq!(c.events, ["z.txt:1", "a.log:1"]);
}

#[test]
fn malformed_files_are_counted_and_the_scan_goes_on() {
    let d = tempdir("malformed");
    write(
        &d.join("1-bad-gzip.json.gz"),
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
    );
    write(
        &d.join("2-bad-line.jsonl"),
        b"{\"a\":1}\n{\"a\":\n{\"a\":3}\n",
    );
    write(
        &d.join("3-broken-doc.json"),
        b"[\n {\"a\": 1},\n {\"a\" 2}\n]\n",
    );
    write(&d.join("4-utf16.json"), b"\xff\xfe{\x00}\x00");
    write(&d.join("5-scalar.json"), b"[1, {\"a\": 5}]");
    write(&d.join("6-good.json"), b"{\"a\":6}");
    let (c, s) = scan(std::slice::from_ref(&d));
    assert_eq!(
        c.events,
        [
            "2-bad-line.jsonl:1",
            "2-bad-line.jsonl:3",
            "3-broken-doc.json:2[0]",
            "5-scalar.json:1[1]",
            "6-good.json:1"
        ]
    );
    assert_eq!(s.files, 6);
    assert_eq!(s.problems.get(&ProblemKind::BadGzip), Some(&1));
    assert_eq!(s.problems.get(&ProblemKind::BadJson), Some(&2));
    assert_eq!(s.problems.get(&ProblemKind::BadEncoding), Some(&1));
    assert_eq!(s.problems.get(&ProblemKind::NotAnObject), Some(&1));
    let positions: Vec<String> = c.problems.iter().map(Problem::position).collect();
    let file = |n: &str| d.join(n).display().to_string();
    // The truncated line ends at column 5; the broken document fails at the `2` of line 3.
    assert_eq!(positions[1], format!("{}:2:5", file("2-bad-line.jsonl")));
    assert_eq!(positions[2], format!("{}:3:7", file("3-broken-doc.json")));
    assert_eq!(positions[4], format!("{}:1[0]", file("5-scalar.json")));
    // Every problem's message names the file and the reason.
    for p in &c.problems {
        let msg = p.to_string();
        assert!(
            msg.contains(&d.display().to_string()) && msg.contains(p.kind.as_str()),
            "{msg}"
        );
    }
}

#[test]
fn missing_path_is_an_error_naming_it() {
    let d = tempdir("missing");
    let err = collect_files(&[d.join("nope")]).unwrap_err();
    assert!(matches!(err, InputError::NotFound { .. }));
    assert!(err.to_string().contains("nope"), "{err}");
}

#[cfg(unix)]
#[test]
fn symlinked_directories_are_not_followed_but_linked_files_are() {
    let d = tempdir("links");
    write(&d.join("real/x.json"), b"{\"a\":1}");
    std::os::unix::fs::symlink(&d, d.join("real/loop")).unwrap();
    std::os::unix::fs::symlink(d.join("real/x.json"), d.join("real/y.json")).unwrap();
    let list = collect_files(std::slice::from_ref(&d)).unwrap();
    let names: Vec<_> = list
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["x.json", "y.json"]);
    assert_eq!(list.ignored, 1);
}

/// The shipped samples read cleanly: every file, every event, no problem.
#[test]
fn shipped_samples_read_without_problems() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let (c, s) = scan(&[samples]);
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(s.files, 7, "seven log files");
    assert_eq!(
        s.files_ignored, 3,
        "README.md, make_samples.py and make_gcp_samples.py"
    );
    let per_file = |name: &str| c.events.iter().filter(|e| e.starts_with(name)).count();
    assert_eq!(per_file("az-monitor-activity-log-2026-03-14.json:"), 32);
    assert_eq!(
        per_file("111122223333_CloudTrail_us-east-1_20260314T0320Z_SampleFile0001.json.gz:"),
        10
    );
    assert_eq!(per_file("insights-activity-logs-capture.json:"), 5);
    assert_eq!(per_file("mscs_azure_audit.jsonl:"), 11);
    assert_eq!(per_file("PT1H.json:"), 7);
    assert_eq!(per_file("gcloud-logging-read-2026-03-14.json:"), 14);
    assert_eq!(per_file("pubsub-messages-2026-03-14.jsonl:"), 4);
    assert_eq!(s.events, 83);
}
