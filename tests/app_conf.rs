//! Consistency of the Splunk app's configuration (app/): every file parses, every search
//! refers only to macros, lookups and commands that exist, the command's documentation matches
//! its options and columns, versions match Cargo.toml, schedules are valid and cheap, metadata
//! is sane, alerting searches return only findings and are ready for Enterprise Security, and
//! the baseline and allowlist are KV store collections. The UI is checked in tests/app_ui.rs.

mod app_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use app_support::check::{assert_no_problems, load_app, search_problems, OUR_COMMAND};
use app_support::conf::{self, Conf, Stanza};
use app_support::spl;
use app_support::{app_conf, app_dir, read, repo_root, APP_ID};
use t1651::detect::operations::{
    AWS_DEFAULT_EVENT_NAMES, AWS_SSM_EVENT_SOURCE, AZURE_DEFAULT_OPERATIONS, GCP_DEFAULT_METHODS,
};

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
    let deployments: Vec<&str> = manifest["supportedDeployments"]
        .as_array()
        .expect("supportedDeployments")
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    for d in ["_standalone", "_distributed", "_search_head_clustering"] {
        assert!(
            deployments.contains(&d),
            "app.manifest supportedDeployments lacks {d}"
        );
    }
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

/// Identifier-like words of `text` (letters, digits, `_`).
fn words_of(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The backticked names in the first cell of each row of the markdown table that follows
/// `heading` in `text` (cells may list several names).
fn table_names(text: &str, heading: &str) -> BTreeSet<String> {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README lacks {heading:?}"));
    let mut names = BTreeSet::new();
    let mut in_table = false;
    for line in text[start..].lines().skip(1) {
        if line.starts_with('|') {
            in_table = true;
            let cell = line.split('|').nth(1).unwrap_or("");
            for (i, part) in cell.split('`').enumerate() {
                if i % 2 == 1 && part != "column" {
                    names.insert(part.to_string());
                }
            }
        } else if in_table {
            break;
        }
    }
    names
}

#[test]
fn searchbnf_and_readme_document_every_output_column() {
    use t1651::detect::columns::{EVENT_COLUMNS, SUMMARY_COLUMNS};
    let set = |l: &[&str]| -> BTreeSet<String> { l.iter().map(|s| s.to_string()).collect() };
    let (summary, events) = (set(SUMMARY_COLUMNS), set(EVENT_COLUMNS));

    // searchbnf: the "Summary columns" and "Events columns" sentences name every column.
    let c = app_conf("default/searchbnf.conf");
    let d = c
        .get(&format!("{OUR_COMMAND}-command"), "description")
        .unwrap();
    let s_at = d
        .find("Summary columns")
        .expect("Summary columns in searchbnf");
    let e_at = d
        .find("Events columns")
        .expect("Events columns in searchbnf");
    let o_at = d.find("Options:").expect("Options: in searchbnf");
    assert!(s_at < e_at && e_at < o_at);
    let in_summary = words_of(&d[s_at..e_at]);
    let in_events = words_of(&d[e_at..o_at]);
    let missing: Vec<_> = summary.difference(&in_summary).collect();
    assert!(
        missing.is_empty(),
        "searchbnf summary columns lack {missing:?}"
    );
    let missing: Vec<_> = events.difference(&in_events).collect();
    assert!(
        missing.is_empty(),
        "searchbnf events columns lack {missing:?}"
    );
    // And names no column the command does not emit (words with `_` are column-like).
    for (words, list, mode) in [
        (&in_summary, &summary, "summary"),
        (&in_events, &events, "events"),
    ] {
        let extra: Vec<_> = words
            .iter()
            .filter(|w| w.contains('_') && !list.contains(*w) && *w != "max_values")
            .collect();
        assert!(
            extra.is_empty(),
            "searchbnf {mode} columns name unknown {extra:?}"
        );
    }

    // README: exactly the command's columns in each table.
    let readme = read(&app_dir().join("README.md"));
    let out = &readme[readme
        .find("### Output columns")
        .expect("### Output columns")..];
    assert_eq!(
        table_names(out, "Summary mode"),
        summary,
        "README summary table"
    );
    assert_eq!(
        table_names(out, "Events mode"),
        events,
        "README events table"
    );
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

    // Google Cloud: the last segment of each default method (every API version matches),
    // then the term that passes base64-encoded Pub/Sub messages through.
    let gcp = c.get("t1651_gcp_operations", "definition").unwrap();
    let mut expected_gcp: Vec<String> = Vec::new();
    for m in GCP_DEFAULT_METHODS {
        let last = m.rsplit('.').next().unwrap().to_string();
        if !expected_gcp.contains(&last) {
            expected_gcp.push(last);
        }
    }
    expected_gcp.push("protoPayload".into());
    assert_eq!(
        quoted_terms(gcp),
        expected_gcp,
        "t1651_gcp_operations vs detect::operations::GCP_DEFAULT_METHODS"
    );
    assert!(gcp.ends_with(r#"OR NOT "protoPayload")"#), "{gcp}");

    let mut sourcetypes = quoted_terms(c.get("t1651_azure_sourcetypes", "definition").unwrap());
    sourcetypes.extend(quoted_terms(
        c.get("t1651_aws_sourcetypes", "definition").unwrap(),
    ));
    sourcetypes.extend(quoted_terms(
        c.get("t1651_gcp_sourcetypes", "definition").unwrap(),
    ));
    let got: BTreeSet<_> = sourcetypes.iter().map(String::as_str).collect();
    let want: BTreeSet<_> = app_support::SOURCETYPES.iter().copied().collect();
    assert_eq!(got, want);

    // The data-source macro combines them and starts from the user-overridable index macro.
    let app = load_app();
    let expanded = spl::expand("`t1651_cloud_admin_events`", &app.macros).unwrap();
    assert!(expanded.starts_with("index=*"), "{expanded}");
    let gcp_terms: Vec<&str> = GCP_DEFAULT_METHODS
        .iter()
        .map(|m| m.rsplit('.').next().unwrap())
        .collect();
    for term in AZURE_DEFAULT_OPERATIONS
        .iter()
        .chain(AWS_DEFAULT_EVENT_NAMES)
        .chain(app_support::SOURCETYPES)
        .chain(&gcp_terms)
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

/// The fields t1651detect's summary rows are grouped by (without span=).
const COMMAND_GROUP_KEY: &[&str] = &[
    "caller_identity",
    "resource_group",
    "subscription_id",
    "operation_lower",
];

/// The fields one result row of `search` stands for: the `by` fields of the last `stats`,
/// or the command's own grouping key when t1651detect is the last aggregation.
fn grouping_key(search: &str) -> BTreeSet<String> {
    let mut key = BTreeSet::new();
    for st in spl::stages(search).unwrap() {
        if st.command == OUR_COMMAND && !st.args.contains("mode=events") {
            key = COMMAND_GROUP_KEY.iter().map(|s| s.to_string()).collect();
        } else if matches!(st.command.as_str(), "stats" | "chart" | "timechart") {
            let words = spl::words(&st.args);
            key = match words.iter().position(|w| w.eq_ignore_ascii_case("by")) {
                Some(i) => words[i + 1..]
                    .iter()
                    .map(|w| w.trim_end_matches(',').to_string())
                    .collect(),
                None => BTreeSet::new(),
            };
        }
    }
    key
}

/// Stages that only filter, reshape or reorder rows: allowed after an alert's finding filter.
const ROW_PRESERVING: &[&str] = &["sort", "fields", "table", "rename", "eval", "fillnull"];

/// Issue 14, defect 1: alert actions receive every result row, so an alerting search must end
/// in its finding filter (a `search`/`where` after the last aggregation, followed only by
/// row-preserving stages and the tuning macro) and fire on "number of events > 0".
fn finding_filter_problems(n: &str, s: &Stanza) -> Vec<String> {
    let mut problems = Vec::new();
    let stages = spl::stages(s.get("search").unwrap_or("")).unwrap();
    let last_agg = stages
        .iter()
        .rposition(|st| {
            matches!(
                st.command.as_str(),
                "stats" | "chart" | "timechart" | "inputlookup" | "append"
            ) || st.command == OUR_COMMAND
        })
        .unwrap_or(0);
    let tail = &stages[last_agg + 1..];
    let filter = tail
        .iter()
        .position(|st| matches!(st.command.as_str(), "search" | "where"));
    match filter {
        None => problems.push(format!(
            "[{n}] returns every row: no search/where finding filter after the last aggregation"
        )),
        Some(i) => {
            let f = &tail[i];
            if f.command == "search" && !f.args.contains("=TRUE") {
                problems.push(format!(
                    "[{n}] finding filter `search {}` tests no flag",
                    f.args.trim()
                ));
            }
            for st in &tail[i + 1..] {
                let macro_stage = st.command.starts_with('`');
                if !(macro_stage || ROW_PRESERVING.contains(&st.command.as_str())) {
                    problems.push(format!(
                        "[{n}] `{}` after the finding filter may add rows",
                        st.command
                    ));
                }
            }
        }
    }
    if s.get("alert_condition").is_some() || s.get("counttype") != Some("number of events") {
        problems.push(format!(
            "[{n}] must trigger on the number of (finding) events, not a custom condition"
        ));
    }
    if s.get("relation") != Some("greater than") || s.get("quantity") != Some("0") {
        problems.push(format!(
            "[{n}] must trigger when there is more than 0 findings"
        ));
    }
    problems
}

/// Issue 14, defect 4: notable drilldowns run over the finding's own time range, in both the
/// single-drilldown settings (ES 7) and the drilldown_searches list (ES 7.3+ and 8).
fn notable_drilldown_problems(n: &str, s: &Stanza) -> Vec<String> {
    let mut problems = Vec::new();
    let get = |k: &str| s.get(k).unwrap_or("");
    if get("action.notable.param.drilldown_search").is_empty()
        || get("action.notable.param.drilldown_name").is_empty()
    {
        problems.push(format!("[{n}] has no notable drilldown search"));
    }
    if get("action.notable.param.drilldown_earliest_offset") != "$info_min_time$"
        || get("action.notable.param.drilldown_latest_offset") != "$info_max_time$"
    {
        problems.push(format!(
            "[{n}] drilldown offsets must be $info_min_time$/$info_max_time$"
        ));
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(get(
        "action.notable.param.drilldown_searches",
    )) {
        Ok(list) if !list.is_empty() => {
            for d in &list {
                if d["name"].as_str().is_none_or(str::is_empty)
                    || d["search"].as_str() != Some(get("action.notable.param.drilldown_search"))
                    || d["earliest_offset"] != "$info_min_time$"
                    || d["latest_offset"] != "$info_max_time$"
                {
                    problems.push(format!("[{n}] drilldown_searches entry {d}"));
                }
            }
        }
        other => problems.push(format!(
            "[{n}] drilldown_searches is not a JSON list: {other:?}"
        )),
    }
    problems
}

/// Every search text of a saved search: the search, its alert condition and its notable
/// drilldowns (single and JSON list).
fn searches_of(s: &Stanza) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in [
        "search",
        "alert_condition",
        "action.notable.param.drilldown_search",
    ] {
        if let Some(v) = s.get(key) {
            out.push((format!("[{}] {key}", s.name), v.to_string()));
        }
    }
    if let Some(v) = s.get("action.notable.param.drilldown_searches") {
        let list: Vec<serde_json::Value> = serde_json::from_str(v)
            .unwrap_or_else(|e| panic!("[{}] drilldown_searches: {e}", s.name));
        for (i, d) in list.iter().enumerate() {
            out.push((
                format!("[{}] drilldown_searches[{i}]", s.name),
                d["search"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

#[test]
fn every_t1651detect_stage_in_saved_searches_carries_the_options_macro() {
    let mut problems = Vec::new();
    let mut n = 0;
    for s in &saved_searches().stanzas {
        for (ctx, q) in searches_of(s) {
            n += q.matches(OUR_COMMAND).count();
            problems.extend(app_support::check::stages_without_options_macro(&ctx, &q));
        }
    }
    assert!(
        n >= 8,
        "t1651detect stages in saved searches and drilldowns: {n}"
    );
    assert_no_problems(problems);
}

#[test]
fn timestamps_are_not_rendered_in_the_search_users_zone_under_a_utc_name() {
    // Defect 6: strftime renders in the user's zone; the command emits *_utc itself.
    let macros = app_conf("default/macros.conf");
    assert!(
        macros.names().iter().all(|n| !n.starts_with("t1651_ctime")),
        "the t1651_ctime macro is gone: {:?}",
        macros.names()
    );
    for s in &saved_searches().stanzas {
        let q = s.get("search").unwrap();
        assert!(!q.contains("t1651_ctime"), "[{}]", s.name);
        for st in spl::stages(q).unwrap() {
            assert!(
                !(st.args.contains("_utc=strftime") || st.args.contains("_utc = strftime")),
                "[{}] computes a *_utc field with strftime: {}",
                s.name,
                st.args
            );
        }
    }
    for col in ["first_seen_utc", "last_seen_utc"] {
        assert!(t1651::detect::columns::SUMMARY_COLUMNS.contains(&col));
    }
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
        for (ctx, q) in searches_of(s) {
            problems.extend(search_problems(&ctx, &q, &app));
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
        // Throttle on the rule's grouping key: a second finding for the same caller in
        // another subscription (or resource group, or operation) is a new finding.
        let key = grouping_key(get("search"));
        for setting in ["alert.suppress.fields", "action.notable.param.nes_fields"] {
            let fields: BTreeSet<String> = get(setting)
                .split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect();
            if fields != key {
                problems.push(format!(
                    "[{n}] {setting} {fields:?} is not the grouping key {key:?}"
                ));
            }
        }
        problems.extend(finding_filter_problems(n, s));
        problems.extend(notable_drilldown_problems(n, s));
        match serde_json::from_str::<serde_json::Value>(get("action.correlationsearch.metadata")) {
            Ok(m)
                if m["detection_id"].as_str().is_some_and(|i| i.len() == 36)
                    && m["detection_version"].is_string() => {}
            other => problems.push(format!(
                "[{n}] action.correlationsearch.metadata needs detection_id and detection_version: {other:?}"
            )),
        }
        if get("action.correlationsearch.enabled") != "1" {
            problems.push(format!("[{n}] action.correlationsearch.enabled is not 1"));
        }
        match serde_json::from_str::<serde_json::Value>(get(
            "action.notable.param.extract_artifacts",
        )) {
            Ok(a) if a["identity"].is_array() && a["asset"].is_array() => {}
            other => problems.push(format!(
                "[{n}] action.notable.param.extract_artifacts: {other:?}"
            )),
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
    // Every detection and report ends with its own `search *` filter macro; the baseline,
    // which writes a lookup, runs its filter macro just before the outputlookup.
    for s in &c.stanzas {
        let mut stages = spl::stages(s.get("search").unwrap()).unwrap();
        if stages.last().is_some_and(|l| l.command == "outputlookup") {
            stages.pop();
        }
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

// ------------------------------------------------------------------ metadata, lookups, inputs

#[test]
fn default_meta_exports_command_help_and_macros_and_limits_writes() {
    let c = app_conf("metadata/default.meta");
    let root = c.stanza("").expect("[] stanza");
    let access = root.get("access").expect("[] access");
    assert!(access.contains("read : [ * ]"), "{access}");
    assert!(access.contains("write : [ admin, sc_admin ]"), "{access}");
    // savedsearches: ES Content Management lists only exported correlation searches.
    for s in ["commands", "searchbnf", "macros", "savedsearches"] {
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
fn baseline_and_allowlist_are_kv_store_collections_with_no_shipped_files() {
    // Defect 5: files under lookups/ are replaced on upgrade, SHC deployer push and Splunk
    // Cloud app update; KV store collections are not.
    let t = app_conf("default/transforms.conf");
    let c = app_conf("default/collections.conf");
    assert_eq!(t.names(), vec!["t1651_known_callers", "t1651_allowlist"]);
    assert_eq!(c.names(), vec!["t1651_known_callers", "t1651_allowlist"]);
    for s in &t.stanzas {
        assert_eq!(s.get("external_type"), Some("kvstore"), "[{}]", s.name);
        assert_eq!(s.get("collection"), Some(s.name.as_str()), "[{}]", s.name);
        assert!(s.get("filename").is_none(), "[{}] names a file", s.name);
        let fields = s.get("fields_list").expect("fields_list");
        assert!(
            fields.starts_with("_key,"),
            "[{}] fields_list starts with _key",
            s.name
        );
    }
    // load_app checks every fields_list entry against the collection's declared fields.
    let app = load_app();
    for col in ["caller_key", "first_seen", "last_seen", "invocation_count"] {
        assert!(
            app.lookups["t1651_known_callers"].iter().any(|f| f == col),
            "{col}"
        );
    }
    for col in ["caller_identity", "reason", "expires", "added_by"] {
        assert!(
            app.lookups["t1651_allowlist"].iter().any(|f| f == col),
            "{col}"
        );
    }
    // Numbers stay numbers (min/max and the retention macro compare them).
    for f in ["first_seen", "last_seen", "invocation_count"] {
        assert_eq!(
            c.get("t1651_known_callers", &format!("field.{f}")),
            Some("number")
        );
    }
    assert!(c
        .get("t1651_known_callers", "accelerated_fields.by_key")
        .is_some_and(|a| a.contains("caller_key")));
    // No data file ships for them (a lookups/ folder may hold none of their files).
    let lookups = app_dir().join("lookups");
    if lookups.exists() {
        for e in std::fs::read_dir(&lookups).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with("t1651_known_callers") && !name.starts_with("t1651_allowlist"),
                "lookups/{name} ships data for a KV store lookup"
            );
        }
    }
    let meta = app_conf("metadata/default.meta");
    assert!(
        meta.stanza("collections").is_some(),
        "[collections] in default.meta"
    );
}

#[test]
fn readme_documents_the_csv_to_kv_store_migration_search() {
    let readme = read(&app_dir().join("README.md"));
    let start = readme
        .find("### Upgrading from CSV lookups")
        .expect("README section 'Upgrading from CSV lookups'");
    let section = &readme[start..];
    let block = section
        .split("```")
        .nth(1)
        .expect("a code block with the migration search");
    let search = block.trim_start_matches("spl").trim();
    assert!(
        !search.contains('\n'),
        "the migration is one search on one line: {search}"
    );
    for needed in [
        "inputlookup t1651_known_callers.csv",
        "outputlookup append=true t1651_known_callers",
        "inputlookup t1651_allowlist.csv",
        "outputlookup append=true t1651_allowlist",
    ] {
        assert!(
            search.contains(needed),
            "migration search lacks `{needed}`: {search}"
        );
    }
    let stages = spl::stages(search).unwrap();
    for st in &stages {
        assert!(
            app_support::BUILTIN_COMMANDS.contains(&st.command.as_str()),
            "migration uses {}",
            st.command
        );
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
