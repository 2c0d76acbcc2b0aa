//! The package itself: package.sh's archive (layout, modes, owners, reproducibility, what it
//! leaves out or refuses), the archive checker it runs, and the binary probes it runs.
//!
//! These tests run package.sh with stand-in binaries and without slim/AppInspect, so they are
//! fast and need no network and no musl build; `./package.sh` (in .ci/run) does the full job.
//! They need bash, GNU tar, gzip and python3, which package.sh itself needs.

mod app_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use app_support::{app_dir, input_params, read, repo_root, APP_ID};

const BINS: [&str; 2] = ["t1651detect", "t1651_cloud_audit"];

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("t1651-pkg-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The smallest file the archive checker accepts as an x86_64 ELF: the ELF identification and
/// e_machine = 62. It stands in for the real binaries, which these tests do not build.
fn fake_elf() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1;
    h[16] = 2; // ET_EXEC
    h[18] = 62; // EM_X86_64
    h
}

fn fake_bin_dir(dir: &Path) -> PathBuf {
    let bins = dir.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    for b in BINS {
        let p = bins.join(b);
        std::fs::write(&p, fake_elf()).unwrap();
        // A build directory may hold odd modes; packaging must normalise them.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    bins
}

fn package(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo_root().join("package.sh"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run package.sh")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn quick_package(dir: &Path, bins: &Path, out: &str, extra: &[&str]) -> (Output, PathBuf) {
    let out_dir = dir.join(out);
    let mut args = vec![
        "--bin-dir",
        bins.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--skip-validate",
        "--skip-binary-checks",
    ];
    args.extend_from_slice(extra);
    let o = package(&args);
    let tgz = out_dir.join(format!("{APP_ID}-{}.tgz", env!("CARGO_PKG_VERSION")));
    (o, tgz)
}

/// One archive entry as the tar headers describe it.
#[derive(Debug)]
struct Entry {
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    data: Vec<u8>,
}

fn entries(tgz: &Path) -> Vec<(String, Entry)> {
    let f = std::fs::File::open(tgz).unwrap_or_else(|e| panic!("{}: {e}", tgz.display()));
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let h = e.header();
        let entry = Entry {
            kind: h.entry_type(),
            mode: h.mode().unwrap() & 0o7777,
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            data: Vec::new(),
        };
        let mut entry = entry;
        e.read_to_end(&mut entry.data).unwrap();
        out.push((name, entry));
    }
    out
}

fn source_files(dir: &Path, rel: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if e.path().is_dir() {
            source_files(&e.path(), &r, out);
        } else {
            out.push(r);
        }
    }
}

#[test]
fn archive_has_one_top_folder_normal_modes_and_every_app_file() {
    let dir = tempdir("layout");
    let bins = fake_bin_dir(&dir);
    let (o, tgz) = quick_package(&dir, &bins, "out1", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("[ OK ] archive layout"), "{stdout}");

    let es = entries(&tgz);
    let by_name: BTreeMap<_, _> = es.iter().map(|(n, e)| (n.clone(), e)).collect();
    let top = format!("{APP_ID}/");
    let exes: Vec<String> = BINS
        .iter()
        .map(|b| format!("{APP_ID}/linux_x86_64/bin/{b}"))
        .collect();
    let mut names = Vec::new();
    for (name, e) in &es {
        assert!(name.starts_with(&top), "{name} outside {top}");
        assert!(!name.starts_with("./") && !name.starts_with('/'), "{name}");
        assert!(
            !name.split('/').any(|c| c.starts_with('.')),
            "dot-file in archive: {name}"
        );
        assert_eq!((e.uid, e.gid), (0, 0), "{name} owner");
        match e.kind {
            tar::EntryType::Directory => assert_eq!(e.mode, 0o755, "{name}"),
            tar::EntryType::Regular => {
                let want = if exes.contains(name) { 0o755 } else { 0o644 };
                assert_eq!(e.mode, want, "{name} mode {:o}", e.mode);
            }
            other => panic!("{name}: entry type {other:?}"),
        }
        names.push(name.clone());
    }
    // Sorted (by path component, as tar --sort=name walks), so the archive does not depend
    // on directory order.
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| {
        n.trim_end_matches('/')
            .split('/')
            .map(str::to_string)
            .collect::<Vec<_>>()
    });
    assert_eq!(names, sorted);
    // The binaries are there, executable and byte-identical to what was built.
    for exe in &exes {
        let e = by_name.get(exe).unwrap_or_else(|| panic!("{exe} missing"));
        assert_eq!(e.data, fake_elf());
    }
    // Every source file of app/ is packaged (nothing silently dropped).
    let mut src = Vec::new();
    source_files(&app_dir(), "", &mut src);
    for f in src {
        assert!(
            by_name.contains_key(&format!("{APP_ID}/{f}")),
            "{f} not packaged"
        );
    }
    // The version inside is Cargo's.
    let app_conf =
        String::from_utf8(by_name[&format!("{APP_ID}/default/app.conf")].data.clone()).unwrap();
    let c = app_support::conf::parse("app.conf", &app_conf).unwrap();
    assert_eq!(
        c.get("launcher", "version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(c.get("id", "version"), Some(env!("CARGO_PKG_VERSION")));

    // Reproducible: the same inputs give the same bytes.
    let (o2, tgz2) = quick_package(&dir, &bins, "out2", &[]);
    assert!(o2.status.success(), "{}", text(&o2));
    assert_eq!(
        std::fs::read(&tgz).unwrap(),
        std::fs::read(&tgz2).unwrap(),
        "archive is not reproducible"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn package_leaves_out_dot_files_and_refuses_local_and_symlinks() {
    let dir = tempdir("hygiene");
    let bins = fake_bin_dir(&dir);
    let app = dir.join("app");
    copy_tree(&app_dir(), &app);
    std::fs::write(app.join(".DS_Store"), b"junk").unwrap();
    std::fs::write(app.join("default/.macros.conf.swp"), b"junk").unwrap();
    let (o, tgz) = quick_package(&dir, &bins, "out", &["--app-dir", app.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not packaging dot-files"));
    assert!(entries(&tgz).iter().all(|(n, _)| !n.contains("/.")));

    std::fs::create_dir_all(app.join("local")).unwrap();
    std::fs::write(app.join("local/inputs.conf"), b"[x]\n").unwrap();
    let (o, _) = quick_package(
        &dir,
        &bins,
        "out-local",
        &["--app-dir", app.to_str().unwrap()],
    );
    assert!(
        !o.status.success(),
        "packaged a local/ folder:\n{}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("local/ exists"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn package_fails_clearly_when_a_binary_is_missing() {
    let dir = tempdir("missing-bin");
    let bins = fake_bin_dir(&dir);
    std::fs::remove_file(bins.join("t1651_cloud_audit")).unwrap();
    let (o, _) = quick_package(&dir, &bins, "out", &[]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("t1651_cloud_audit not found"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ------------------------------------------------------------------ the archive checker

/// How a test corrupts an archive: may rename (`name`), re-mode, re-own or change an entry's
/// data; returning false drops the entry.
type Edit = Box<dyn Fn(&mut String, &mut tar::Header, &mut Vec<u8>) -> bool>;

/// Writes `name` into the header's name field byte for byte (tar-rs would normalise `./`).
fn set_raw_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    assert!(
        name.len() < field.len(),
        "{name} too long for this test helper"
    );
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

/// Rewrites a good archive through `edit`, then appends `extra` entries (name, mode, type).
fn rewrite(good: &Path, bad: &Path, edit: &Edit, extra: &[(&str, u32, tar::EntryType)]) {
    let out = std::fs::File::create(bad).unwrap();
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let mut write = |name: &str, h: &mut tar::Header, data: &[u8]| {
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        set_raw_name(h, name);
        h.set_cksum();
        b.append(h, data).unwrap();
    };
    for (name, e) in entries(good) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        let mut name = name;
        let mut data = e.data.clone();
        if edit(&mut name, &mut h, &mut data) {
            write(&name, &mut h, &data);
        }
    }
    for (name, mode, kind) in extra {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        if *kind == tar::EntryType::Symlink {
            h.set_link_name("default/app.conf").unwrap();
        }
        write(name, &mut h, &[]);
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn check_archive(tgz: &Path, version: &str) -> Output {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/check_archive.py"))
        .arg(tgz)
        .arg(APP_ID)
        .arg(version);
    for b in BINS {
        cmd.arg(format!("linux_x86_64/bin/{b}"));
    }
    cmd.output().expect("run python3 scripts/check_archive.py")
}

#[test]
fn archive_checker_rejects_what_appinspect_and_splunkd_reject() {
    let dir = tempdir("checker");
    let bins = fake_bin_dir(&dir);
    let (o, good) = quick_package(&dir, &bins, "out", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v = env!("CARGO_PKG_VERSION");
    let ok = check_archive(&good, v);
    assert!(ok.status.success(), "{}", text(&ok));

    fn keep() -> Edit {
        Box::new(|_, _, _| true)
    }
    let d = tar::EntryType::Directory;
    let r = tar::EntryType::Regular;
    let v_line = format!("version = {v}");
    /// (tag, edit, extra entries, expected message)
    type Case<'a> = (&'a str, Edit, Vec<(&'a str, u32, tar::EntryType)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "dot-slash",
            Box::new(|n, _, _| {
                *n = format!("./{n}");
                true
            }),
            vec![],
            "must not start with './'",
        ),
        (
            "dot-file",
            keep(),
            vec![("t1651_cloud_admin_command/default/.DS_Store", 0o644, r)],
            "dot-file",
        ),
        (
            "exec-conf",
            Box::new(|n, h, _| {
                if n.ends_with("searchbnf.conf") {
                    h.set_mode(0o755)
                }
                true
            }),
            vec![],
            "searchbnf.conf: mode 0755, expected 0644",
        ),
        (
            "non-exec-binary",
            Box::new(|n, h, _| {
                if n.ends_with("bin/t1651detect") {
                    h.set_mode(0o644)
                }
                true
            }),
            vec![],
            "t1651detect: mode 0644, expected 0755",
        ),
        (
            "owner",
            Box::new(|_, h, _| {
                h.set_uid(1000);
                true
            }),
            vec![],
            "owner 1000:0",
        ),
        (
            "two-tops",
            keep(),
            vec![("other_app/", 0o755, d)],
            "outside the single top folder",
        ),
        (
            "symlink",
            keep(),
            vec![(
                "t1651_cloud_admin_command/default/link.conf",
                0o777,
                tar::EntryType::Symlink,
            )],
            "not a regular file",
        ),
        (
            "local",
            keep(),
            vec![("t1651_cloud_admin_command/local/", 0o755, d)],
            "must not be shipped",
        ),
        (
            "missing-binary",
            Box::new(|n, _, _| !n.ends_with("t1651_cloud_audit")),
            vec![],
            "t1651_cloud_audit: missing",
        ),
        (
            "not-elf",
            Box::new(|n, _, data| {
                if n.ends_with("bin/t1651detect") {
                    *data = b"#!/bin/sh\n".to_vec()
                }
                true
            }),
            vec![],
            "not a 64-bit little-endian ELF",
        ),
        (
            "version",
            Box::new(move |n, _, data| {
                if n.ends_with("default/app.conf") {
                    let t = String::from_utf8(data.clone()).unwrap();
                    *data = t.replace(&v_line, "version = 9.9.9").into_bytes();
                }
                true
            }),
            vec![],
            "[launcher] version is '9.9.9'",
        ),
    ];
    for (tag, edit, extra, expect) in cases {
        let bad = dir.join(format!("{tag}.tgz"));
        rewrite(&good, &bad, &edit, &extra);
        let o = check_archive(&bad, v);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{tag}: checker accepted a bad archive");
        assert!(
            err.contains(expect),
            "{tag}: expected {expect:?} in:\n{err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

// ------------------------------------------------------------------ the binary probes

/// Writes an executable bash script standing in for a binary.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/bash\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A fake chunked command: reads the getinfo chunk (saving it and its environment under
/// `record`), then answers with `reply` (raw bytes after the request is read) and exits `rc`.
fn fake_command(dir: &Path, record: &Path, reply: &str, rc: i32) -> PathBuf {
    let body = format!(
        r#"export LC_ALL=C
IFS= read -r header
m=${{header#chunked 1.0,}}; m=${{m%%,*}}
IFS= read -r -N "$m" req
printf '%s\n%s' "$header" "$req" > '{rec}.request'
export -p > '{rec}.env'
{reply}
exit {rc}
"#,
        rec = record.display()
    );
    script(dir, "t1651detect", &body)
}

fn reply_of(meta: &str) -> String {
    format!("printf 'chunked 1.0,%d,0\\n%s' {} '{}'", meta.len(), meta)
}

fn probe(args: &[&Path]) -> Output {
    Command::new("python3")
        .arg(repo_root().join("scripts/probe_binaries.py"))
        .args(args)
        .output()
        .expect("run python3 scripts/probe_binaries.py")
}

#[test]
fn getinfo_probe_accepts_a_correct_reply_from_an_empty_environment() {
    let dir = tempdir("probe-good");
    let rec = dir.join("rec");
    let cmd = fake_command(
        &dir.join("bin"),
        &rec,
        &reply_of(r#"{"type":"reporting","required_fields":["_raw"]}"#),
        0,
    );
    let o = probe(&[Path::new("getinfo"), &cmd]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("type=reporting"));

    // What the command received: one getinfo chunk whose length field is its byte length,
    // with the args ["threshold=3"], and no environment from the caller (env -i).
    let request = read(&rec.with_extension("request"));
    let (header, json) = request.split_once('\n').unwrap();
    assert_eq!(header, format!("chunked 1.0,{},0", json.len()));
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["action"], "getinfo");
    assert_eq!(v["searchinfo"]["args"], serde_json::json!(["threshold=3"]));
    assert_eq!(v["searchinfo"]["command"], "t1651detect");
    assert!(v["searchinfo"]["dispatch_dir"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    let env = read(&rec.with_extension("env"));
    for leaked in ["CARGO", "HOME=", "USER=", "RUST"] {
        assert!(
            !env.contains(leaked),
            "probe leaked {leaked} into the command's environment:\n{env}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn getinfo_probe_rejects_broken_commands_with_a_reason() {
    let dir = tempdir("probe-bad");
    let rec = dir.join("rec");
    let good = r#"{"type":"reporting"}"#;
    let cases: Vec<(&str, String, i32, &str)> = vec![
        (
            "placeholder",
            "echo 't1651detect: not built yet' >&2".into(),
            2,
            "exit status 2",
        ),
        ("silent", String::new(), 0, "no reply on stdout"),
        (
            "two-replies",
            format!("{}; {}", reply_of(good), reply_of(good)),
            0,
            "bytes after the reply chunk",
        ),
        (
            "short",
            "printf 'chunked 1.0,50,0\\n{}'".into(),
            0,
            "only 2 follow",
        ),
        (
            "bad-header",
            "printf 'chunked 1.0,x,0\\n{}'".into(),
            0,
            "does not start with",
        ),
        (
            "not-json",
            "printf 'chunked 1.0,3,0\\nabc'".into(),
            0,
            "not JSON",
        ),
        (
            "streaming",
            reply_of(r#"{"type":"streaming"}"#),
            0,
            "would run the x86_64 binary on indexers",
        ),
        (
            "default-type",
            reply_of(r#"{"required_fields":["_raw"]}"#),
            0,
            "'streaming'",
        ),
        (
            "error",
            reply_of(r#"{"type":"reporting","error":"bad option threshold"}"#),
            0,
            "bad option threshold",
        ),
        (
            "inspector-error",
            reply_of(r#"{"type":"reporting","inspector":{"messages":[["ERROR","boom"]]}}"#),
            0,
            "ERROR messages",
        ),
    ];
    for (tag, reply, rc, expect) in cases {
        let cmd = fake_command(&dir.join(tag), &rec, &reply, rc);
        let o = probe(&[Path::new("getinfo"), &cmd]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success(),
            "{tag}: probe accepted a broken command"
        );
        assert!(err.contains(expect), "{tag}: expected {expect:?} in {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn fake_modinput(dir: &Path, params: &[&str], streaming_mode: &str) -> PathBuf {
    let args: String = params
        .iter()
        .map(|p| format!("<arg name=\"{p}\"><title>{p}</title></arg>"))
        .collect();
    let xml = format!(
        "<scheme><title>T1651 cloud audit</title><description>d</description>\
         <use_external_validation>true</use_external_validation>\
         <use_single_instance>false</use_single_instance>\
         <streaming_mode>{streaming_mode}</streaming_mode><endpoint><args>{args}</args></endpoint></scheme>"
    );
    script(
        dir,
        "t1651_cloud_audit",
        &format!("[ \"$1\" = --scheme ] || exit 3\necho '{xml}'\n"),
    )
}

#[test]
fn scheme_probe_matches_the_scheme_against_inputs_conf_spec() {
    let dir = tempdir("scheme");
    let spec = app_dir().join("README/inputs.conf.spec");
    let params = input_params();
    let good = fake_modinput(&dir.join("good"), &params, "xml");
    let o = probe(&[Path::new("scheme"), &good, &spec]);
    assert!(o.status.success(), "{}", text(&o));

    let missing: Vec<&str> = params.iter().copied().filter(|p| *p != "proxy").collect();
    let bad = fake_modinput(&dir.join("missing"), &missing, "xml");
    let o = probe(&[Path::new("scheme"), &bad, &spec]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing from scheme ['proxy']"),
        "{}",
        text(&o)
    );

    let mut extra: Vec<&str> = params.clone();
    extra.push("secret");
    let bad = fake_modinput(&dir.join("extra"), &extra, "xml");
    let o = probe(&[Path::new("scheme"), &bad, &spec]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not in spec ['secret']"),
        "{}",
        text(&o)
    );

    let bad = fake_modinput(&dir.join("simple"), &params, "simple");
    let o = probe(&[Path::new("scheme"), &bad, &spec]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("streaming_mode is 'simple'"),
        "{}",
        text(&o)
    );

    let placeholder = script(&dir.join("placeholder"), "t1651_cloud_audit", "exit 2\n");
    let o = probe(&[Path::new("scheme"), &placeholder, &spec]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exit status 2"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}
