//! Consistency of the Splunk app's configuration (app/): every file parses, every search
//! refers only to macros, lookups and commands that exist, the command's documentation matches
//! its options, versions match Cargo.toml, schedules are valid and cheap, metadata is sane.

mod app_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use app_support::conf::{self, Conf, Stanza};
use app_support::spl::{self, Macro, Stage};
use app_support::{app_conf, app_dir, read, repo_root, APP_ID};
use t1651::detect::operations::{
    AWS_DEFAULT_EVENT_NAMES, AWS_SSM_EVENT_SOURCE, AZURE_DEFAULT_OPERATIONS,
};

const OUR_COMMAND: &str = "t1651detect";
const MODINPUT: &str = "t1651_cloud_audit";

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

// ------------------------------------------------------------------ the app's facts

struct App {
    macros: BTreeMap<String, Macro>,
    /// Lookup name -> its CSV header columns.
    lookups: BTreeMap<String, Vec<String>>,
}

fn load_app() -> App {
    let macros = spl::macros(&app_conf("default/macros.conf"));
    let transforms = app_conf("default/transforms.conf");
    let mut lookups = BTreeMap::new();
    for s in &transforms.stanzas {
        let file = s
            .get("filename")
            .unwrap_or_else(|| panic!("transforms.conf [{}]: no filename", s.name));
        let path = app_dir().join("lookups").join(file);
        let text = read(&path);
        let header = text.lines().next().unwrap_or("");
        lookups.insert(
            s.name.clone(),
            header.split(',').map(|c| c.trim().to_string()).collect(),
        );
    }
    App { macros, lookups }
}

/// Field names of a `lookup` stage: (input fields, output fields), as named in the lookup.
fn lookup_fields(stage: &Stage) -> (Vec<String>, Vec<String>) {
    let words = spl::words(&stage.args);
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut in_output = false;
    let mut i = 1; // words[0] is the lookup name
    while i < words.len() {
        let w = words[i].trim_end_matches(',');
        if w.eq_ignore_ascii_case("OUTPUT") || w.eq_ignore_ascii_case("OUTPUTNEW") {
            in_output = true;
        } else if !w.is_empty() {
            if in_output {
                outputs.push(w.to_string());
            } else {
                inputs.push(w.to_string());
            }
            if words
                .get(i + 1)
                .is_some_and(|n| n.eq_ignore_ascii_case("AS"))
            {
                i += 2; // skip `AS <event field>`
            }
        }
        i += 1;
    }
    (inputs, outputs)
}

/// Every problem with one search: unknown macros, commands, lookups, lookup fields, options.
fn search_problems(ctx: &str, search: &str, app: &App) -> Vec<String> {
    let mut problems = Vec::new();
    let search = spl::neutralise_tokens(search);
    let expanded = match spl::expand(&search, &app.macros) {
        Ok(s) => s,
        Err(e) => return vec![format!("{ctx}: {e}")],
    };
    let stages = match spl::stages(&expanded) {
        Ok(s) => s,
        Err(e) => return vec![format!("{ctx}: {e}")],
    };
    for stage in &stages {
        let cmd = stage.command.as_str();
        if cmd != OUR_COMMAND && !app_support::BUILTIN_COMMANDS.contains(&cmd) {
            problems.push(format!("{ctx}: unknown command {cmd:?}"));
        }
        if matches!(cmd, "lookup" | "inputlookup" | "outputlookup") {
            match spl::lookup_name(stage) {
                Some(name) => match app.lookups.get(&name) {
                    None => problems.push(format!("{ctx}: {cmd} of undefined lookup {name:?}")),
                    Some(header) if cmd == "lookup" => {
                        let (inputs, outputs) = lookup_fields(stage);
                        for f in inputs.iter().chain(&outputs) {
                            if !header.contains(f) {
                                problems.push(format!(
                                    "{ctx}: lookup {name} has no column {f:?} (header {header:?})"
                                ));
                            }
                        }
                    }
                    Some(_) => {}
                },
                None => problems.push(format!("{ctx}: {cmd} without a lookup name")),
            }
        }
        if cmd == OUR_COMMAND {
            for w in spl::words(&stage.args) {
                let Some((k, v)) = w.split_once('=') else {
                    problems.push(format!(
                        "{ctx}: t1651detect argument {w:?} is not name=value"
                    ));
                    continue;
                };
                if !app_support::OPTION_NAMES.contains(&k) {
                    problems.push(format!("{ctx}: t1651detect has no option {k:?}"));
                }
                if v == "TOKEN" {
                    continue; // a dashboard token, checked where it is defined
                }
                let ok = match k {
                    "mode" => matches!(v, "summary" | "events"),
                    "threshold" | "max_values" | "max_groups" | "max_invocations" => {
                        v.parse::<u64>().is_ok()
                    }
                    "include_failed" | "distributed" => matches!(v, "true" | "false"),
                    _ => true,
                };
                if !ok {
                    problems.push(format!("{ctx}: t1651detect {k}={v} is not a valid value"));
                }
            }
        }
    }
    problems
}

fn assert_no_problems(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ------------------------------------------------------------------ files

#[test]
fn every_conf_and_meta_file_parses() {
    let mut files = Vec::new();
    all_files(&app_dir(), &mut files);
    let confs: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf" || e == "meta"))
        .collect();
    assert!(
        confs.len() >= 8,
        "expected the app's .conf files, found {confs:?}"
    );
    for p in confs {
        conf::parse_file(p).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn app_tree_has_no_local_dot_files_or_links() {
    let mut files = Vec::new();
    all_files(&app_dir(), &mut files);
    let mut problems = Vec::new();
    for p in &files {
        let rel = p.strip_prefix(app_dir()).unwrap();
        for c in rel.components() {
            let c = c.as_os_str().to_string_lossy();
            if c.starts_with('.') {
                problems.push(format!("dot-file {}", rel.display()));
            }
            if c == "local" || c == "local.meta" || c == "passwords.conf" {
                problems.push(format!("must not ship {}", rel.display()));
            }
        }
        if std::fs::symlink_metadata(p)
            .unwrap()
            .file_type()
            .is_symlink()
        {
            problems.push(format!("symlink {}", rel.display()));
        }
    }
    assert_no_problems(problems);
}

// ------------------------------------------------------------------ app.conf and versions

#[test]
fn app_identity_and_version_match_cargo() {
    let c = app_conf("default/app.conf");
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(c.get("package", "id"), Some(APP_ID));
    assert_eq!(c.get("id", "name"), Some(APP_ID));
    assert_eq!(
        c.get("ui", "label"),
        Some("T1651 Cloud Administration Command Detection")
    );
    assert_eq!(
        c.get("launcher", "version"),
        Some(v),
        "[launcher] version vs Cargo.toml"
    );
    assert_eq!(
        c.get("id", "version"),
        Some(v),
        "[id] version vs Cargo.toml"
    );
    let build = build_number_via_script(v);
    assert_eq!(c.get("install", "build"), Some(build.as_str()));
    let desc = c.get("launcher", "description").unwrap();
    assert!(
        desc.len() <= 200,
        "launcher description is {} chars",
        desc.len()
    );

    let manifest: serde_json::Value =
        serde_json::from_str(&read(&app_dir().join("app.manifest"))).unwrap();
    assert_eq!(manifest["info"]["id"]["name"], APP_ID);
    assert_eq!(manifest["info"]["id"]["version"], v);
    assert_eq!(manifest["info"]["title"], c.get("ui", "label").unwrap());
}

fn version_script(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("scripts/app_version.sh"))
        .args(args)
        .output()
        .expect("run scripts/app_version.sh")
}

fn build_number_via_script(v: &str) -> String {
    let out = version_script(&["build-number", v]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn version_script_reads_cargo_toml_like_cargo() {
    let out = version_script(&[
        "cargo-version",
        repo_root().join("Cargo.toml").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(build_number_via_script("12.34.56"), "12034056");
    assert_eq!(build_number_via_script("0.1.0"), "1000");
}

#[test]
fn version_script_rewrites_exactly_the_version_settings() {
    let dir = tempdir("set-version");
    let path = dir.join("app.conf");
    let original = read(&app_dir().join("default/app.conf"));
    std::fs::write(&path, &original).unwrap();

    let out = version_script(&["set", path.to_str().unwrap(), "12.34.56-rc.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rewritten = read(&path);
    let c = conf::parse("app.conf", &rewritten).unwrap();
    assert_eq!(c.get("launcher", "version"), Some("12.34.56-rc.1"));
    assert_eq!(c.get("id", "version"), Some("12.34.56-rc.1"));
    assert_eq!(c.get("install", "build"), Some("12034056"));
    // Everything else is untouched.
    let before: Vec<_> = original.lines().collect();
    let after: Vec<_> = rewritten.lines().collect();
    assert_eq!(before.len(), after.len());
    let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!(changed, 3, "exactly the two versions and build change");

    // Not semver, or a setting missing: non-zero exit and the file is left as it was.
    let out = version_script(&["set", path.to_str().unwrap(), "1.2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not semver"));
    assert_eq!(read(&path), rewritten);
    let no_id = dir.join("no_id.conf");
    std::fs::write(
        &no_id,
        "[install]\nbuild = 1\n[launcher]\nversion = 1.0.0\n",
    )
    .unwrap();
    let out = version_script(&["set", no_id.to_str().unwrap(), "2.0.0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[id] version"));
    assert_eq!(
        read(&no_id),
        "[install]\nbuild = 1\n[launcher]\nversion = 1.0.0\n"
    );

    let manifest = dir.join("app.manifest");
    std::fs::write(&manifest, read(&app_dir().join("app.manifest"))).unwrap();
    let out = version_script(&["set-manifest", manifest.to_str().unwrap(), "3.4.5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_str(&read(&manifest)).unwrap();
    assert_eq!(m["info"]["id"]["version"], "3.4.5");
    assert_eq!(m["info"]["id"]["name"], APP_ID);
    std::fs::remove_dir_all(dir).ok();
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "t1651-app-test-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ------------------------------------------------------------------ the command

#[test]
fn commands_conf_runs_the_binary_chunked_on_the_search_head() {
    let c = app_conf("default/commands.conf");
    assert_eq!(c.names(), vec![OUR_COMMAND]);
    let s = c.stanza(OUR_COMMAND).unwrap();
    assert_eq!(s.get("chunked"), Some("true"));
    assert_eq!(s.get("filename"), Some(OUR_COMMAND));
    assert_eq!(
        s.get("local"),
        Some("true"),
        "AppInspect check_idx_binary_compatibility"
    );
    assert!(
        s.keys().all(|k| !k.starts_with("python.")),
        "python.* settings on a binary command: {:?}",
        s.entries
    );
    // The file it names is a binary the crate builds.
    let cargo = read(&repo_root().join("Cargo.toml"));
    assert!(cargo.contains(&format!("name = \"{OUR_COMMAND}\"")));
    assert!(cargo.contains(&format!("name = \"{MODINPUT}\"")));
}

#[test]
fn searchbnf_documents_exactly_the_options() {
    let c = app_conf("default/searchbnf.conf");
    let s = c
        .stanza(&format!("{OUR_COMMAND}-command"))
        .expect("[t1651detect-command]");
    let syntax = s.get("syntax").expect("syntax");
    assert!(syntax.starts_with(OUR_COMMAND));
    let documented: BTreeSet<String> = syntax
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '='))
        .filter_map(|w| {
            w.strip_suffix('=')
                .or_else(|| w.split_once('=').map(|(k, _)| k))
        })
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let expected: BTreeSet<String> = app_support::OPTION_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        documented, expected,
        "searchbnf syntax vs the command's options"
    );
    let description = s.get("description").expect("description");
    for o in app_support::OPTION_NAMES {
        assert!(
            description.contains(&format!("{o}:")),
            "description does not explain option {o}"
        );
    }
    assert!(description.contains("phase: internal"));
    assert_eq!(s.get("usage"), Some("public"));
    assert!(s.get("shortdesc").is_some_and(|d| !d.is_empty()));

    // Every example has a comment, and every example is a valid use of the command.
    let app = load_app();
    let mut n = 0;
    let mut problems = Vec::new();
    for (k, v) in &s.entries {
        if let Some(i) = k.strip_prefix("example") {
            n += 1;
            assert!(
                s.get(&format!("comment{i}")).is_some_and(|c| !c.is_empty()),
                "{k} has no comment{i}"
            );
            problems.extend(search_problems(&format!("searchbnf {k}"), v, &app));
        }
    }
    assert!(n >= 3, "searchbnf has {n} examples");
    assert_no_problems(problems);
}

// ------------------------------------------------------------------ macros

fn quoted_terms(definition: &str) -> Vec<String> {
    definition
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn data_source_macros_cover_every_sourcetype_and_operation() {
    let c = app_conf("default/macros.conf");
    let azure_ops = c.get("t1651_azure_operations", "definition").unwrap();
    assert_eq!(
        quoted_terms(azure_ops),
        AZURE_DEFAULT_OPERATIONS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        "t1651_azure_operations vs detect::operations::AZURE_DEFAULT_OPERATIONS"
    );
    let aws = c.get("t1651_aws_operations", "definition").unwrap();
    let mut expected_aws = vec![AWS_SSM_EVENT_SOURCE.to_string()];
    expected_aws.extend(AWS_DEFAULT_EVENT_NAMES.iter().map(|s| s.to_string()));
    assert_eq!(quoted_terms(aws), expected_aws);
    assert!(aws.starts_with("(eventSource="));

    let mut sourcetypes = quoted_terms(c.get("t1651_azure_sourcetypes", "definition").unwrap());
    sourcetypes.extend(quoted_terms(
        c.get("t1651_aws_sourcetypes", "definition").unwrap(),
    ));
    let got: BTreeSet<_> = sourcetypes.iter().map(String::as_str).collect();
    let want: BTreeSet<_> = app_support::SOURCETYPES.iter().copied().collect();
    assert_eq!(got, want);

    // The data-source macro combines them and starts from the user-overridable index macro.
    let app = load_app();
    let expanded = spl::expand("`t1651_cloud_admin_events`", &app.macros).unwrap();
    assert!(expanded.starts_with("index=*"), "{expanded}");
    for term in AZURE_DEFAULT_OPERATIONS
        .iter()
        .chain(AWS_DEFAULT_EVENT_NAMES)
        .chain(app_support::SOURCETYPES)
    {
        assert!(
            expanded.contains(term),
            "{term} missing from the base search"
        );
    }
    // Every macro documents itself (ESCU style).
    for s in &c.stanzas {
        assert!(
            s.get("definition").is_some_and(|d| !d.is_empty()),
            "[{}] definition",
            s.name
        );
        assert!(
            s.get("description").is_some_and(|d| !d.is_empty()),
            "[{}] description",
            s.name
        );
    }
}

#[test]
fn reference_spl_rule_detects_the_default_operations() {
    let c = app_conf("default/savedsearches.conf");
    let s = c
        .stanzas
        .iter()
        .find(|s| s.name.contains("pure SPL"))
        .expect("the pure-SPL rule");
    let search = s.get("search").unwrap();
    let start = search
        .find("where in(operation_lower,")
        .expect("operation filter");
    let list = &search[start..search[start..].find(')').unwrap() + start];
    let got: BTreeSet<String> = quoted_terms(list).into_iter().collect();
    let mut want: BTreeSet<String> = AZURE_DEFAULT_OPERATIONS
        .iter()
        .map(|o| o.to_lowercase())
        .collect();
    want.extend(
        AWS_DEFAULT_EVENT_NAMES
            .iter()
            .map(|e| format!("{AWS_SSM_EVENT_SOURCE}/{}", e.to_lowercase())),
    );
    assert_eq!(got, want);
    // The corrections the reference search lacked.
    for needed in [
        "\"succeeded\"",
        "correlationId",
        "rex field=resource_id \"/virtualmachines/",
        "coalesce('operationName.value', operationName)",
        "aws:cloudtrail",
    ] {
        assert!(search.contains(needed), "pure-SPL rule lacks {needed}");
    }
    assert!(!search.contains("spath"));
    let stats = search.rfind("| stats").unwrap();
    let event_time = search.find("eval event_time").unwrap();
    assert!(
        event_time > stats,
        "event_time must be computed after stats"
    );
}

// ------------------------------------------------------------------ saved searches

fn saved_searches() -> Conf {
    app_conf("default/savedsearches.conf")
}

fn is_alert(s: &Stanza) -> bool {
    s.get("alert.track") == Some("1")
}

#[test]
fn saved_searches_reference_only_what_the_app_defines() {
    let app = load_app();
    let mut problems = Vec::new();
    let c = saved_searches();
    // The hunting searches (issue 17) are checked by tests/app_content.rs.
    let detections = c.names().into_iter().filter(|n| !n.contains("Hunting"));
    assert_eq!(
        detections.count(),
        6,
        "saved searches (a)-(f): {:?}",
        c.names()
    );
    for s in &c.stanzas {
        for key in [
            "search",
            "alert_condition",
            "action.notable.param.drilldown_search",
        ] {
            if let Some(v) = s.get(key) {
                problems.extend(search_problems(&format!("[{}] {key}", s.name), v, &app));
            }
        }
    }
    assert_no_problems(problems);
}

#[test]
fn saved_searches_are_disabled_scheduled_and_windowed() {
    let mut problems = Vec::new();
    for s in &saved_searches().stanzas {
        let n = &s.name;
        if s.get("disabled") != Some("1") {
            problems.push(format!("[{n}] must ship disabled = 1"));
        }
        if s.get("enableSched") != Some("1") {
            problems.push(format!("[{n}] is not scheduled"));
        }
        match s.get("cron_schedule").map(app_support::cron::parse) {
            None => problems.push(format!("[{n}] has no cron_schedule")),
            Some(Err(e)) => problems.push(format!("[{n}] {e}")),
            Some(Ok(c)) if c.max_runs_per_hour() > 12 => problems.push(format!(
                "[{n}] runs {} times an hour (AppInspect allows 12)",
                c.max_runs_per_hour()
            )),
            Some(Ok(_)) => {}
        }
        for key in ["dispatch.earliest_time", "dispatch.latest_time"] {
            match s.get(key) {
                None => problems.push(format!("[{n}] has no {key}")),
                Some(v) if v.starts_with("rt") => {
                    problems.push(format!("[{n}] {key} is real-time"))
                }
                Some(_) => {}
            }
        }
        if s.get("description").is_none_or(|d| d.is_empty()) {
            problems.push(format!("[{n}] has no description"));
        }
    }
    assert_no_problems(problems);
}

#[test]
fn alerts_are_ready_for_email_suppression_and_enterprise_security() {
    let macros = spl::macros(&app_conf("default/macros.conf"));
    let mut problems = Vec::new();
    let c = saved_searches();
    let alerts: Vec<_> = c.stanzas.iter().filter(|s| is_alert(s)).collect();
    assert_eq!(alerts.len(), 4, "rules (a), (b), (d), (f)");
    for s in alerts {
        let n = &s.name;
        let get = |k: &str| s.get(k).unwrap_or("");
        if get("alert.suppress") != "1" || get("alert.suppress.period").is_empty() {
            problems.push(format!("[{n}] no suppression"));
        }
        if !get("alert.suppress.fields").contains("caller_identity") {
            problems.push(format!("[{n}] does not suppress per caller"));
        }
        if !matches!(get("alert.severity"), "1" | "2" | "3" | "4" | "5" | "6") {
            problems.push(format!("[{n}] alert.severity {:?}", get("alert.severity")));
        }
        if get("action.email") != "0"
            || get("action.email.to").is_empty()
            || get("action.email.subject").is_empty()
        {
            problems.push(format!(
                "[{n}] e-mail action not ready to enable (action.email = 0 with to/subject)"
            ));
        }
        if get("action.correlationsearch.label") != n.as_str() {
            problems.push(format!(
                "[{n}] correlationsearch label differs from the name"
            ));
        }
        match serde_json::from_str::<serde_json::Value>(get("action.correlationsearch.annotations"))
        {
            Ok(a)
                if a["mitre_attack"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|t| t == "T1651")) => {}
            other => problems.push(format!(
                "[{n}] annotations lack mitre_attack T1651: {other:?}"
            )),
        }
        match serde_json::from_str::<Vec<serde_json::Value>>(get("action.risk.param._risk")) {
            Ok(risk) => {
                let has = |k: &str, v: &str| risk.iter().any(|r| r[k] == v);
                if !has("risk_object_type", "user")
                    || !has("risk_object_type", "system")
                    || !has("threat_object_type", "ip_address")
                {
                    problems.push(format!(
                        "[{n}] _risk needs a user and a system risk object and an IP threat object"
                    ));
                }
            }
            Err(e) => problems.push(format!("[{n}] action.risk.param._risk is not JSON: {e}")),
        }
        for k in [
            "action.notable.param.rule_title",
            "action.notable.param.severity",
            "action.risk.param._risk_message",
        ] {
            if get(k).is_empty() {
                problems.push(format!("[{n}] no {k}"));
            }
        }
    }
    // Every detection and report ends with its own `search *` filter macro.
    for s in &c.stanzas {
        if s.get("search").is_some_and(|q| q.contains("outputlookup")) {
            continue; // the baseline writes a lookup; it has nothing to filter
        }
        let stages = spl::stages(s.get("search").unwrap()).unwrap();
        let last = &stages.last().unwrap().command;
        let name = last.trim_matches('`');
        if !(last.starts_with('`') && name.ends_with("_filter")) {
            problems.push(format!(
                "[{}] does not end with a filter macro: {last}",
                s.name
            ));
        } else if macros.get(name).map(|m| m.definition.as_str()) != Some("search *") {
            problems.push(format!(
                "[{}] filter macro {name} is not `search *`",
                s.name
            ));
        }
    }
    assert_no_problems(problems);
}

#[test]
fn baseline_and_new_caller_searches_use_the_lookups() {
    let c = saved_searches();
    let baseline = c
        .stanzas
        .iter()
        .find(|s| s.name.contains("Baseline"))
        .unwrap();
    let q = baseline.get("search").unwrap();
    let stages = spl::stages(q).unwrap();
    let cmds: Vec<_> = stages.iter().map(|s| s.command.as_str()).collect();
    let pos = |c: &str| cmds.iter().position(|x| *x == c);
    assert!(pos("inputlookup") < pos("outputlookup") && pos("inputlookup").is_some());
    assert!(q.contains("inputlookup append=true t1651_known_callers"));
    assert!(q.contains("outputlookup t1651_known_callers"));
    for f in ["first_seen", "last_seen"] {
        assert!(q.contains(&format!("min({f})")) || q.contains(&format!("max({f})")));
    }
    let new_caller = c.stanzas.iter().find(|s| s.name.contains("New")).unwrap();
    let q = new_caller.get("search").unwrap();
    assert!(q.contains("lookup t1651_known_callers"));
    assert!(q.contains("lookup t1651_allowlist"));
    assert!(q.contains("reason") && q.contains("expires"));
}

// ------------------------------------------------------------------ dashboard

/// The text of every `<tag>…</tag>` element, XML entities decoded.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(s) = rest.find(&open) {
        let after = &rest[s + open.len()..];
        let e = after
            .find(&close)
            .unwrap_or_else(|| panic!("unclosed <{tag}>"));
        out.push(
            after[..e]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[e + close.len()..];
    }
    out
}

/// Tags open and close in order (enough to catch a hand-edit gone wrong).
fn check_balanced(xml: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(s) = rest.find('<') {
        let after = &rest[s + 1..];
        let e = after.find('>').ok_or("unterminated tag")?;
        let tag = &after[..e];
        rest = &after[e + 1..];
        if tag.starts_with('!') || tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        if tag.starts_with('/') {
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else {
            stack.push(name.to_string());
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

#[test]
fn dashboard_searches_reference_only_what_the_app_defines() {
    let app = load_app();
    let views = app_dir().join("default/data/ui/views");
    let mut n = 0;
    let mut problems = Vec::new();
    let mut all_queries = String::new();
    for entry in std::fs::read_dir(&views).unwrap() {
        let path = entry.unwrap().path();
        let xml = read(&path);
        check_balanced(&xml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let searches = elements(&xml, "search");
        for (i, q) in elements(&xml, "query").iter().enumerate() {
            n += 1;
            problems.extend(search_problems(
                &format!("{} query {i}", path.display()),
                q,
                &app,
            ));
            all_queries.push_str(q);
            all_queries.push('\n');
        }
        for s in &searches {
            if !(s.contains("<earliest>") && s.contains("<latest>")) {
                problems.push(format!(
                    "{}: a <search> without <earliest>/<latest>",
                    path.display()
                ));
            }
        }
    }
    assert!(n >= 3, "dashboard queries: {n}");
    assert_no_problems(problems);
    // The panels issue 4 asks for.
    assert!(
        all_queries.contains("timechart")
            && all_queries.contains("operation_lower")
            && all_queries.contains("cloud")
    );
    assert!(all_queries.contains("multi_vm_targeting") && all_queries.contains("cross_tenant"));
    assert!(all_queries.contains("t1651detect mode=events"));
    check_balanced(&read(&app_dir().join("default/data/ui/nav/default.xml"))).unwrap();
}

// ------------------------------------------------------------------ metadata, lookups, inputs

#[test]
fn default_meta_exports_command_help_and_macros_and_limits_writes() {
    let c = app_conf("metadata/default.meta");
    let root = c.stanza("").expect("[] stanza");
    let access = root.get("access").expect("[] access");
    assert!(access.contains("read : [ * ]"), "{access}");
    assert!(access.contains("write : [ admin, sc_admin ]"), "{access}");
    for s in ["commands", "searchbnf", "macros"] {
        assert_eq!(c.get(s, "export"), Some("system"), "[{s}] export");
    }
    for s in &c.stanzas {
        if let Some(a) = s.get("access") {
            assert!(
                a.contains("sc_admin"),
                "[{}] write access without sc_admin",
                s.name
            );
        }
    }
}

#[test]
fn lookups_ship_header_rows_only() {
    let t = app_conf("default/transforms.conf");
    assert_eq!(t.names(), vec!["t1651_known_callers", "t1651_allowlist"]);
    let mut shipped = BTreeSet::new();
    for s in &t.stanzas {
        let file = s.get("filename").unwrap();
        shipped.insert(file.to_string());
        let text = read(&app_dir().join("lookups").join(file));
        assert_eq!(
            text.lines().count(),
            1,
            "{file} must hold only its header row"
        );
        assert!(text.ends_with('\n'));
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(app_dir().join("lookups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        on_disk, shipped,
        "every lookup file has a transforms stanza"
    );
    let allow = read(&app_dir().join("lookups/t1651_allowlist.csv"));
    for col in ["caller_identity", "reason", "expires"] {
        assert!(allow.contains(col));
    }
}

/// Parameter names of the `[t1651_cloud_audit://<name>]` stanza of inputs.conf.spec
/// (description lines start with `*`).
fn spec_params() -> Vec<String> {
    let text = read(&app_dir().join("README/inputs.conf.spec"));
    let filtered: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('*'))
        .map(|l| format!("{l}\n"))
        .collect();
    let c = conf::parse("inputs.conf.spec", &filtered).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.names(), vec![format!("{MODINPUT}://<name>")]);
    c.stanzas[0].keys().map(str::to_string).collect()
}

#[test]
fn modular_input_spec_and_defaults_agree() {
    let params = spec_params();
    assert_eq!(
        params,
        app_support::input_params(),
        "README/inputs.conf.spec parameters"
    );
    let c = app_conf("default/inputs.conf");
    let scheme = c.stanza(MODINPUT).expect("[t1651_cloud_audit] defaults");
    for k in ["interval", "index"] {
        assert!(scheme.get(k).is_some(), "[{MODINPUT}] has no {k}");
    }
    assert!(scheme.get("interval").unwrap().parse::<u32>().is_ok());
    let builtin = [
        "disabled",
        "interval",
        "index",
        "sourcetype",
        "start_by_shell",
        "host",
    ];
    let mut instances = 0;
    for s in &c.stanzas {
        if s.name == MODINPUT {
            continue;
        }
        instances += 1;
        assert!(
            s.name.starts_with(&format!("{MODINPUT}://")),
            "[{}]",
            s.name
        );
        assert_eq!(
            s.get("disabled"),
            Some("1"),
            "[{}] must ship disabled",
            s.name
        );
        for k in s.keys() {
            assert!(
                params.iter().any(|p| p == k) || builtin.contains(&k),
                "[{}] {k} is not a declared parameter",
                s.name
            );
        }
        assert!(!s
            .keys()
            .any(|k| k.contains("secret") || k.contains("password")));
    }
    assert!(instances >= 1);
}
