//! The app's user interface (app/default/data/ui, appserver/static, static/): the Dashboard
//! Studio overview (its JSON definition parsed and every search checked), the setup page
//! that writes the modular input and its storage/passwords entry, the navigation and the
//! icons.

mod app_support;

use std::collections::BTreeSet;
use std::process::Command;

use app_support::check::{
    assert_no_problems, load_app, search_problems, stages_without_options_macro, OUR_COMMAND,
};
use app_support::{app_conf, app_dir, read, repo_root};
use serde_json::Value;

// ------------------------------------------------------------------ helpers

/// The text between `open` and the next `close` after it.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let s = text.find(open)? + open.len();
    let e = text[s..].find(close)? + s;
    Some(&text[s..e])
}

/// Every `$token$` in `text` (filters such as `|s` removed).
fn tokens(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(s) = rest.find('$') {
        let after = &rest[s + 1..];
        let Some(e) = after.find('$') else { break };
        let tok = &after[..e];
        if !tok.is_empty()
            && tok
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._|".contains(c))
        {
            out.insert(tok.split('|').next().unwrap().to_string());
            rest = &after[e + 1..];
        } else {
            rest = after;
        }
    }
    out
}

fn views_dir() -> std::path::PathBuf {
    app_dir().join("default/data/ui/views")
}

/// The Dashboard Studio definition of the overview.
fn overview() -> Value {
    let xml = read(&views_dir().join("t1651_overview.xml"));
    assert!(
        xml.trim_start().starts_with("<dashboard version=\"2\""),
        "t1651_overview is a Dashboard Studio view (version=\"2\")"
    );
    let json = between(&xml, "<definition><![CDATA[", "]]></definition>")
        .expect("<definition><![CDATA[ … ]]></definition>");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("overview definition is not JSON: {e}"))
}

/// The full query of a data source: a chain's query appended to its base's.
fn full_query(def: &Value, id: &str) -> String {
    let ds = &def["dataSources"][id];
    let q = ds["options"]["query"].as_str().unwrap_or("").to_string();
    match ds["type"].as_str() {
        Some("ds.chain") => {
            let base = ds["options"]["extend"]
                .as_str()
                .expect("chain without extend");
            format!("{} {q}", full_query(def, base))
        }
        _ => q,
    }
}

fn obj(v: &Value) -> &serde_json::Map<String, Value> {
    v.as_object().expect("a JSON object")
}

// ------------------------------------------------------------------ overview dashboard

#[test]
fn overview_definition_is_complete_and_consistent() {
    let def = overview();
    for k in ["title", "dataSources", "visualizations", "inputs", "layout"] {
        assert!(def.get(k).is_some(), "definition has no {k}");
    }
    let sources = obj(&def["dataSources"]);
    let vizzes = obj(&def["visualizations"]);
    let inputs = obj(&def["inputs"]);
    let mut problems = Vec::new();
    for (id, ds) in sources {
        match ds["type"].as_str() {
            Some("ds.search") => {}
            Some("ds.chain") => {
                let base = ds["options"]["extend"].as_str().unwrap_or("");
                if !sources.contains_key(base) {
                    problems.push(format!("{id} extends unknown data source {base:?}"));
                }
            }
            other => problems.push(format!("{id}: unexpected data source type {other:?}")),
        }
        if ds["options"]["query"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{id} has no query"));
        }
    }
    let mut used = BTreeSet::new();
    for (id, v) in vizzes {
        let t = v["type"].as_str().unwrap_or("");
        if !t.starts_with("splunk.") {
            problems.push(format!("{id}: type {t:?}"));
        }
        match v["dataSources"]["primary"].as_str() {
            Some(p) if sources.contains_key(p) => {
                used.insert(p.to_string());
            }
            other => problems.push(format!("{id}: primary data source {other:?} is undefined")),
        }
    }
    for (id, ds) in sources {
        if ds["type"] == "ds.search"
            && !used.contains(id)
            && !sources
                .values()
                .any(|d| d["options"]["extend"] == id.as_str())
        {
            problems.push(format!("data source {id} feeds nothing"));
        }
    }
    // Layout: every visualization placed once, every placed item exists, inputs exist.
    let placed: Vec<&str> = def["layout"]["structure"]
        .as_array()
        .expect("layout.structure")
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    let placed_set: BTreeSet<&str> = placed.iter().copied().collect();
    assert_eq!(placed.len(), placed_set.len(), "an item is placed twice");
    let viz_set: BTreeSet<&str> = vizzes.keys().map(String::as_str).collect();
    assert_eq!(placed_set, viz_set, "layout vs visualizations");
    for i in def["layout"]["globalInputs"]
        .as_array()
        .expect("globalInputs")
    {
        if !inputs.contains_key(i.as_str().unwrap()) {
            problems.push(format!("global input {i} is undefined"));
        }
    }
    // Every token used is defined by an input (or is a click value in a handler).
    let mut defined: BTreeSet<String> = inputs
        .values()
        .map(|i| i["options"]["token"].as_str().unwrap().to_string())
        .collect();
    for t in defined.clone() {
        if def["inputs"]
            .as_object()
            .unwrap()
            .values()
            .any(|i| i["options"]["token"] == t.as_str() && i["type"] == "input.timerange")
        {
            defined.insert(format!("{t}.earliest"));
            defined.insert(format!("{t}.latest"));
        }
    }
    let text = def.to_string();
    for t in tokens(&text) {
        if !(defined.contains(&t) || t.starts_with("row.")) {
            problems.push(format!("token ${t}$ is not defined by an input"));
        }
    }
    assert_no_problems(problems);
}

#[test]
fn overview_searches_are_valid_and_run_the_summary_once() {
    let def = overview();
    let app = load_app();
    let mut problems = Vec::new();
    let mut summary_runs = Vec::new();
    for (id, ds) in obj(&def["dataSources"]) {
        let q = full_query(&def, id);
        problems.extend(search_problems(&format!("overview {id}"), &q, &app));
        let own = ds["options"]["query"].as_str().unwrap();
        problems.extend(stages_without_options_macro(&format!("overview {id}"), own));
        if own.contains(OUR_COMMAND) && !own.contains("mode=events") {
            summary_runs.push(id.clone());
        }
        // Every search runs over the dashboard's time range (the defaults apply it).
    }
    assert_no_problems(problems);
    // Issue 14: a base search feeds the panels instead of running the command per panel.
    assert_eq!(
        summary_runs,
        vec!["ds_base"],
        "exactly one summary run of t1651detect"
    );
    let chains: Vec<&String> = obj(&def["dataSources"])
        .iter()
        .filter(|(_, d)| d["options"]["extend"] == "ds_base")
        .map(|(id, _)| id)
        .collect();
    assert!(chains.len() >= 2, "panels fed by ds_base: {chains:?}");
    assert_eq!(
        def["defaults"]["dataSources"]["ds.search"]["options"]["queryParameters"]["earliest"],
        "$global_time.earliest$"
    );
    // The panels of the overview: invocations over time by cloud and operation, callers
    // ranked with the multi-VM and cross-tenant flags, and the selected caller's events.
    let all: String = obj(&def["dataSources"])
        .keys()
        .map(|id| full_query(&def, id))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("timechart") && all.contains("operation_lower") && all.contains("cloud"));
    assert!(all.contains("multi_vm_targeting") && all.contains("cross_tenant"));
    assert!(all.contains("mode=events"));
}

/// The event handlers of a visualization, by type.
fn handlers<'a>(viz: &'a Value, kind: &str) -> Vec<&'a Value> {
    viz["eventHandlers"]
        .as_array()
        .map(|a| a.iter().filter(|h| h["type"] == kind).collect())
        .unwrap_or_default()
}

#[test]
fn overview_selects_clears_and_links_to_raw_records() {
    let def = overview();
    let vizzes = obj(&def["visualizations"]);
    let caller_input = obj(&def["inputs"])
        .values()
        .find(|i| i["options"]["token"] == "caller")
        .expect("an input for the caller token");
    assert_eq!(caller_input["options"]["defaultValue"], "*");

    // Clicking a caller row sets the token from the row.
    let setters: Vec<(&String, &Value)> = vizzes
        .iter()
        .flat_map(|(id, v)| {
            handlers(v, "drilldown.setToken")
                .into_iter()
                .flat_map(|h| h["options"]["tokens"].as_array().unwrap().iter())
                .filter(|t| t["token"] == "caller")
                .map(move |t| (id, t))
        })
        .collect();
    assert!(
        setters
            .iter()
            .any(|(_, t)| t["key"] == "row.caller_identity.value"),
        "a caller row click sets the caller: {setters:?}"
    );
    // A way to clear the selection: a click that sets the token back to "*" (every caller),
    // from a data source whose only row holds caller="*".
    let reset = setters
        .iter()
        .find(|(_, t)| t["key"] == "row.caller.value")
        .map(|(id, _)| *id)
        .expect("a visualization that clears the selected caller");
    let src = vizzes[reset]["dataSources"]["primary"].as_str().unwrap();
    let q = full_query(&def, src);
    assert!(
        q.starts_with("| makeresults") && q.contains("caller=\"*\""),
        "reset data source: {q}"
    );

    // The events table filters on the token and links each row to its raw records.
    let events = vizzes
        .values()
        .find(|v| {
            full_query(&def, v["dataSources"]["primary"].as_str().unwrap()).contains("mode=events")
        })
        .expect("an events table");
    let eq = full_query(&def, events["dataSources"]["primary"].as_str().unwrap());
    assert!(eq.contains("caller_identity=$caller|s$"), "{eq}");
    for col in ["correlation_id", "raw_earliest", "raw_latest"] {
        assert!(eq.contains(col), "events table lacks {col}");
    }
    let link = handlers(events, "drilldown.linkToSearch");
    assert_eq!(link.len(), 1, "the events table links to the raw records");
    let lq = link[0]["options"]["query"].as_str().unwrap();
    assert!(lq.starts_with("`t1651_cloud_admin_events`"), "{lq}");
    for t in [
        "$row.correlation_id.value$",
        "$row.raw_earliest.value$",
        "$row.raw_latest.value$",
    ] {
        assert!(lq.contains(t), "raw-record link lacks {t}: {lq}");
    }
    assert!(
        !lq.contains(OUR_COMMAND),
        "the link opens the raw records, not the command's view"
    );
    let app = load_app();
    assert_no_problems(search_problems("raw-record link", lq, &app));
}

/// The text of every `<query>…</query>` of a Simple XML view, XML entities decoded.
fn simple_xml_queries(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(q) = between(rest, "<query>", "</query>") {
        out.push(
            q.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[rest.find("</query>").unwrap() + "</query>".len()..];
    }
    out
}

#[test]
fn every_view_runs_t1651detect_with_the_options_macro_and_the_nav_lists_it() {
    let mut names = BTreeSet::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(views_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let xml = read(&path);
        if xml.trim_start().starts_with("<dashboard version=\"2\"") {
            let json = between(&xml, "<definition><![CDATA[", "]]></definition>")
                .unwrap_or_else(|| panic!("{name}: Studio view without a definition"));
            let def: Value = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("{name}: definition is not JSON: {e}"));
            for (id, ds) in def["dataSources"].as_object().into_iter().flatten() {
                let q = ds["options"]["query"].as_str().unwrap_or("");
                problems.extend(stages_without_options_macro(&format!("{name} {id}"), q));
            }
        } else {
            for (i, q) in simple_xml_queries(&xml).iter().enumerate() {
                problems.extend(stages_without_options_macro(
                    &format!("{name} query {i}"),
                    q,
                ));
            }
        }
        names.insert(name);
    }
    assert_no_problems(problems);
    // The Simple XML overview is retired: the overview is the Studio view (checked above), and
    // the setup page is Simple XML 1.1 without searches.
    let setup = read(&views_dir().join("t1651_setup.xml"));
    assert!(
        setup.contains("<dashboard version=\"1.1\""),
        "t1651_setup: Simple XML 1.1"
    );
    assert!(
        !setup.contains("<search"),
        "the setup page runs no searches"
    );
    let nav = read(&app_dir().join("default/data/ui/nav/default.xml"));
    for n in &names {
        assert!(
            nav.contains(&format!("<view name=\"{n}\"")),
            "nav does not list {n}"
        );
    }
    assert!(nav.contains("<view name=\"t1651_overview\" default=\"true\""));
}

// ------------------------------------------------------------------ setup page

#[test]
fn setup_page_is_the_apps_setup_view_and_its_files_exist() {
    let app = app_conf("default/app.conf");
    assert_eq!(app.get("ui", "setup_view"), Some("t1651_setup"));
    assert_eq!(app.get("install", "is_configured"), Some("false"));
    let xml = read(&views_dir().join("t1651_setup.xml"));
    let script = between(&xml, "script=\"", "\"").expect("script=");
    let style = between(&xml, "stylesheet=\"", "\"").expect("stylesheet=");
    for f in [script, style] {
        assert!(
            app_dir().join("appserver/static").join(f).is_file(),
            "appserver/static/{f}"
        );
    }
    assert!(
        !app_dir().join("default/setup.xml").exists(),
        "no legacy setup.xml"
    );
}

#[test]
fn setup_page_writes_what_the_modular_input_reads() {
    let js = read(&app_dir().join("appserver/static/t1651_setup.js"));
    let xml = read(&views_dir().join("t1651_setup.xml"));
    // The storage/passwords convention (README.md, "Setup page"): this app's namespace,
    // realm t1651_cloud_audit, user = input name, credential = "<realm>:<input name>",
    // which the input's matcher accepts (src/modinput/passwords.rs: `realm:user`).
    for needed in [
        "var APP = 't1651_cloud_admin_command';",
        "var SCHEME = 't1651_cloud_audit';",
        "var REALM = 't1651_cloud_audit';",
        "var NS = '/servicesNS/nobody/' + APP;",
        "NS + '/storage/passwords'",
        "{ name: name, realm: REALM, password: secret }",
        "credential: REALM + ':' + name",
        "NS + '/data/inputs/' + SCHEME",
    ] {
        assert!(js.contains(needed), "t1651_setup.js lacks {needed:?}");
    }
    // The secret goes in a POST body only: never logged, never in a URL.
    assert!(!js.contains("console."), "the setup page logs nothing");
    assert!(!js.contains("password=") && !js.contains("?password"));
    assert!(
        xml.contains("type=\"password\""),
        "the secret field is a password field"
    );
    assert!(
        !js.contains(".html("),
        "values are rendered with .text(), never as HTML"
    );

    // Every input parameter the form sets is one the input declares.
    let params = app_support::input_params();
    let builtin = ["index", "interval", "name", "secret"];
    let mut ids = BTreeSet::new();
    let mut rest = xml.as_str();
    while let Some(i) = rest.find("id=\"t1651-") {
        let after = &rest[i + "id=\"t1651-".len()..];
        let id = &after[..after.find('"').unwrap()];
        ids.insert(id.to_string());
        rest = after;
    }
    let form_fields: Vec<&String> = ids
        .iter()
        .filter(|id| !["setup", "form", "status", "inputs", "save"].contains(&id.as_str()))
        .collect();
    assert!(form_fields.len() >= 10, "{form_fields:?}");
    for f in form_fields {
        assert!(
            params.contains(&f.as_str()) || builtin.contains(&f.as_str()),
            "setup form field {f} is not a parameter of the input"
        );
        if !["name", "secret", "cloud"].contains(&f.as_str()) {
            assert!(
                js.contains(&format!("'{f}'")),
                "t1651_setup.js never sends {f}"
            );
        }
    }
}

// ------------------------------------------------------------------ icons

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

#[test]
fn icons_exist_with_splunks_sizes_and_match_their_generator() {
    for (name, size) in [
        ("appIcon.png", 36),
        ("appIcon_2x.png", 72),
        ("appIconAlt.png", 36),
        ("appIconAlt_2x.png", 72),
    ] {
        let bytes = std::fs::read(app_dir().join("static").join(name))
            .unwrap_or_else(|e| panic!("static/{name}: {e}"));
        assert_eq!(png_size(&bytes), (size, size), "static/{name}");
    }
    let out = Command::new("python3")
        .arg(repo_root().join("scripts/app_icons.py"))
        .arg("--check")
        .arg(app_dir().join("static"))
        .output()
        .expect("run python3 scripts/app_icons.py --check");
    assert!(
        out.status.success(),
        "committed icons differ from scripts/app_icons.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
