//! Checks shared by the app tests: the app's macros and lookups, and the problems of one
//! search (unknown macros, commands, lookups, lookup fields, command options).

use std::collections::{BTreeMap, BTreeSet};

use super::spl::{self, Macro, Stage};
use super::{app_conf, app_dir, read};

pub const OUR_COMMAND: &str = "t1651detect";

/// The options macro every `t1651detect` stage of the app carries (issue 14).
pub const OPTIONS_MACRO: &str = "`t1651_detect_options`";

pub struct App {
    pub macros: BTreeMap<String, Macro>,
    /// Lookup name -> its columns: a KV store lookup's `fields_list` (without `_key`),
    /// or a file lookup's CSV header.
    pub lookups: BTreeMap<String, Vec<String>>,
}

/// The macros and lookups the app defines. A KV store lookup must name a collection of
/// collections.conf, and every field it lists must be a declared field of that collection.
pub fn load_app() -> App {
    let macros = spl::macros(&app_conf("default/macros.conf"));
    let transforms = app_conf("default/transforms.conf");
    let collections_path = app_dir().join("default/collections.conf");
    let collections = collections_path
        .exists()
        .then(|| app_conf("default/collections.conf"));
    let mut lookups = BTreeMap::new();
    for s in &transforms.stanzas {
        let columns: Vec<String> = if s.get("external_type") == Some("kvstore") {
            let coll = s.get("collection").unwrap_or(&s.name);
            let c = collections
                .as_ref()
                .and_then(|c| c.stanza(coll))
                .unwrap_or_else(|| panic!("transforms.conf [{}]: no collection [{coll}]", s.name));
            let fields: Vec<String> = s
                .get("fields_list")
                .unwrap_or_else(|| panic!("transforms.conf [{}]: no fields_list", s.name))
                .split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| f != "_key")
                .collect();
            for f in &fields {
                assert!(
                    c.get(&format!("field.{f}")).is_some(),
                    "collections.conf [{coll}] does not declare field.{f}"
                );
            }
            fields
        } else {
            let file = s
                .get("filename")
                .unwrap_or_else(|| panic!("transforms.conf [{}]: no filename", s.name));
            let text = read(&app_dir().join("lookups").join(file));
            let header = text.lines().next().unwrap_or("");
            header.split(',').map(|c| c.trim().to_string()).collect()
        };
        lookups.insert(s.name.clone(), columns);
    }
    App { macros, lookups }
}

/// Field names of a `lookup` stage: (input fields, output fields), as named in the lookup.
pub fn lookup_fields(stage: &Stage) -> (Vec<String>, Vec<String>) {
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
pub fn search_problems(ctx: &str, search: &str, app: &App) -> Vec<String> {
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
        if cmd != OUR_COMMAND && !super::BUILTIN_COMMANDS.contains(&cmd) {
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
            let mut seen = BTreeSet::new();
            for k in spl::option_names(stage) {
                if !seen.insert(k.clone()) {
                    problems.push(format!(
                        "{ctx}: t1651detect option {k} given twice (the command rejects that)"
                    ));
                }
            }
            for w in spl::words(&stage.args) {
                let Some((k, v)) = w.split_once('=') else {
                    problems.push(format!(
                        "{ctx}: t1651detect argument {w:?} is not name=value"
                    ));
                    continue;
                };
                if !super::OPTION_NAMES.contains(&k) {
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

pub fn assert_no_problems(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// `t1651detect` stages of `search` (macros not expanded) that lack the options macro.
pub fn stages_without_options_macro(ctx: &str, search: &str) -> Vec<String> {
    let search = spl::neutralise_tokens(search);
    let stages = match spl::stages(&search) {
        Ok(s) => s,
        Err(e) => return vec![format!("{ctx}: {e}")],
    };
    stages
        .iter()
        .filter(|s| s.command == OUR_COMMAND && !s.args.contains(OPTIONS_MACRO))
        .map(|s| {
            format!(
                "{ctx}: `t1651detect {}` lacks {OPTIONS_MACRO}",
                s.args.trim()
            )
        })
        .collect()
}
