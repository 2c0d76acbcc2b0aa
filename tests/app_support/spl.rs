//! Just enough SPL to check what a search refers to: macro expansion (as splunkd does it, by
//! text), pipeline stages, the command of each stage, lookup names and command options.
//!
//! Quoting: `"…"` (with `\"` escapes) and `'…'` (eval field names) are opaque; `[…]` is a
//! subsearch, analysed as a search of its own. Dashboard tokens (`$name$`, `$name|s$`) must be
//! replaced with [`neutralise_tokens`] first because their filters contain pipes.

use std::collections::BTreeMap;

use thiserror::Error;

use super::conf::Conf;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SplError {
    #[error("unknown macro `{0}` (no stanza [{0}] in macros.conf)")]
    UnknownMacro(String),
    #[error("unterminated macro reference after: {0:?}")]
    UnterminatedMacro(String),
    #[error("macro `{name}` expects {expected} argument(s) ({args}), got {got}")]
    Arity {
        name: String,
        expected: usize,
        got: usize,
        args: String,
    },
    #[error("macro expansion deeper than {0} levels (recursive macro?)")]
    TooDeep(usize),
    #[error("unbalanced quotes or brackets in: {0:?}")]
    Unbalanced(String),
}

/// A macro definition: its parameter names and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro {
    pub params: Vec<String>,
    pub definition: String,
}

/// Macros of a macros.conf, keyed by `name` or `name(N)` as Splunk does.
pub fn macros(conf: &Conf) -> BTreeMap<String, Macro> {
    conf.stanzas
        .iter()
        .map(|s| {
            let params = s
                .get("args")
                .map(|a| a.split(',').map(|p| p.trim().to_string()).collect())
                .unwrap_or_default();
            (
                s.name.clone(),
                Macro {
                    params,
                    definition: s.get("definition").unwrap_or("").to_string(),
                },
            )
        })
        .collect()
}

/// Replaces dashboard tokens (`$tok$`, `$row.x$`, `$tok|s$`) with a neutral word.
pub fn neutralise_tokens(search: &str) -> String {
    let mut out = String::new();
    let mut rest = search;
    while let Some(start) = rest.find('$') {
        let after = &rest[start + 1..];
        match after.find('$') {
            Some(end)
                if end > 0
                    && after[..end]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._|".contains(c)) =>
            {
                out.push_str(&rest[..start]);
                out.push_str("TOKEN");
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits a macro call's argument list on top-level commas.
fn split_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c)
            }
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                cur.push(c)
            }
            (None, '(') => {
                depth += 1;
                cur.push(c)
            }
            (None, ')') => {
                depth = depth.saturating_sub(1);
                cur.push(c)
            }
            (None, ',') if depth == 0 => args.push(std::mem::take(&mut cur).trim().to_string()),
            (None, c) => cur.push(c),
        }
    }
    args.push(cur.trim().to_string());
    args
}

/// Every macro reference `name` / `name(args)` in `search` (not recursing into definitions):
/// the stanza name it resolves to and its arguments.
pub fn macro_refs(search: &str) -> Result<Vec<(String, Vec<String>)>, SplError> {
    let mut refs = Vec::new();
    let mut rest = search;
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let end = after
            .find('`')
            .ok_or_else(|| SplError::UnterminatedMacro(after.chars().take(40).collect()))?;
        let call = after[..end].trim();
        let (name, args) = match call.find('(') {
            Some(open) if call.ends_with(')') => {
                let args = split_args(&call[open + 1..call.len() - 1]);
                (format!("{}({})", &call[..open], args.len()), args)
            }
            _ => (call.to_string(), Vec::new()),
        };
        refs.push((name, args));
        rest = &after[end + 1..];
    }
    Ok(refs)
}

/// Expands every macro, recursively, the way splunkd substitutes text.
pub fn expand(search: &str, macros: &BTreeMap<String, Macro>) -> Result<String, SplError> {
    expand_depth(search, macros, 0)
}

const MAX_DEPTH: usize = 20;

fn expand_depth(
    search: &str,
    macros: &BTreeMap<String, Macro>,
    depth: usize,
) -> Result<String, SplError> {
    if depth > MAX_DEPTH {
        return Err(SplError::TooDeep(MAX_DEPTH));
    }
    let mut out = String::new();
    let mut rest = search;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('`')
            .ok_or_else(|| SplError::UnterminatedMacro(after.chars().take(40).collect()))?;
        let call = &after[..end];
        let (name, args) = macro_refs(&format!("`{call}`"))?.remove(0);
        let m = macros
            .get(&name)
            .ok_or_else(|| SplError::UnknownMacro(name.clone()))?;
        if m.params.len() != args.len() {
            return Err(SplError::Arity {
                name,
                expected: m.params.len(),
                got: args.len(),
                args: m.params.join(","),
            });
        }
        let mut body = m.definition.clone();
        for (p, a) in m.params.iter().zip(&args) {
            body = body.replace(&format!("${p}$"), a);
        }
        out.push_str(&expand_depth(&body, macros, depth + 1)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One pipeline stage: its command (`search` for an implicit base search) and its text
/// after the command name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub command: String,
    pub args: String,
}

/// Splits an expanded search into stages, including the stages of subsearches.
pub fn stages(search: &str) -> Result<Vec<Stage>, SplError> {
    let mut parts: Vec<String> = Vec::new();
    let mut subsearches: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut depth = 0usize;
    let mut sub = String::new();
    for c in search.chars() {
        if let Some(q) = quote {
            if depth > 0 {
                sub.push(c)
            } else {
                cur.push(c)
            }
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                if depth > 0 {
                    sub.push(c)
                } else {
                    cur.push(c)
                }
            }
            '[' => {
                if depth > 0 {
                    sub.push(c)
                }
                depth += 1;
            }
            ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| SplError::Unbalanced(search.chars().take(60).collect()))?;
                if depth > 0 {
                    sub.push(c)
                } else {
                    subsearches.push(std::mem::take(&mut sub));
                    cur.push_str("SUBSEARCH");
                }
            }
            '|' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            c => {
                if depth > 0 {
                    sub.push(c)
                } else {
                    cur.push(c)
                }
            }
        }
    }
    if quote.is_some() || depth != 0 {
        return Err(SplError::Unbalanced(search.chars().take(60).collect()));
    }
    parts.push(cur);

    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let t = part.trim();
        if t.is_empty() {
            continue;
        }
        if i == 0 {
            // The text before the first pipe is an implicit `search` (unless it names
            // `search` itself).
            let body = t.strip_prefix("search ").unwrap_or(t);
            out.push(Stage {
                command: "search".into(),
                args: body.into(),
            });
            continue;
        }
        let (cmd, args) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        out.push(Stage {
            command: cmd.to_string(),
            args: args.trim().to_string(),
        });
    }
    for s in subsearches {
        out.extend(stages(&s)?);
    }
    Ok(out)
}

/// The words of a stage's arguments, quotes kept, split on whitespace outside quotes.
pub fn words(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in args.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c)
            }
            (Some(_), c) => cur.push(c),
            (None, '"') => {
                quote = Some(c);
                cur.push(c)
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur))
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur)
    }
    out
}

/// The lookup a lookup/inputlookup/outputlookup stage names (first word without `=`).
pub fn lookup_name(stage: &Stage) -> Option<String> {
    words(&stage.args)
        .into_iter()
        .find(|w| !w.contains('='))
        .map(|w| w.trim_matches('"').to_string())
}

/// `name=value` options of a stage (keys only), in order.
pub fn option_names(stage: &Stage) -> Vec<String> {
    words(&stage.args)
        .into_iter()
        .filter_map(|w| w.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_support::conf::parse;

    fn m() -> BTreeMap<String, Macro> {
        macros(
            &parse(
                "macros.conf",
                "[a]\ndefinition = index=x `b`\n[b]\ndefinition = sourcetype=y\n\
                 [c(2)]\nargs = f, g\ndefinition = eval $f$=$g$\n[loop]\ndefinition = `loop`\n",
            )
            .unwrap(),
        )
    }

    #[test]
    fn expands_nested_and_argument_macros() {
        let s = expand("`a` | `c(x, \"1,2\")` | stats count", &m()).unwrap();
        assert_eq!(s, "index=x sourcetype=y | eval x=\"1,2\" | stats count");
    }

    #[test]
    fn reports_unknown_macros_arity_and_recursion() {
        assert_eq!(
            expand("`nope`", &m()),
            Err(SplError::UnknownMacro("nope".into()))
        );
        assert_eq!(
            expand("`c(1)`", &m()),
            Err(SplError::UnknownMacro("c(1)".into()))
        );
        assert_eq!(expand("`loop`", &m()), Err(SplError::TooDeep(MAX_DEPTH)));
        assert!(matches!(
            expand("`a", &m()),
            Err(SplError::UnterminatedMacro(_))
        ));
    }

    #[test]
    fn splits_stages_outside_quotes_and_subsearches() {
        let st = stages(
            "index=a \"x|y\" | eval z=if(a=\"|\", 1, 'f|g') | search [| inputlookup t | fields u] | lookup L k OUTPUT v",
        )
        .unwrap();
        let cmds: Vec<_> = st.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(
            cmds,
            vec![
                "search",
                "eval",
                "search",
                "lookup",
                "inputlookup",
                "fields"
            ]
        );
        assert_eq!(lookup_name(&st[3]).as_deref(), Some("L"));
        assert!(stages("a | b \"open").is_err());
        assert!(stages("a ] b").is_err());
    }

    #[test]
    fn neutralises_dashboard_tokens() {
        assert_eq!(
            neutralise_tokens("search u=$caller|s$ t=$row.x$ cost $5"),
            "search u=TOKEN t=TOKEN cost $5"
        );
    }

    #[test]
    fn finds_options_and_lookup_names() {
        let st = Stage {
            command: "inputlookup".into(),
            args: "append=true known".into(),
        };
        assert_eq!(lookup_name(&st).as_deref(), Some("known"));
        assert_eq!(option_names(&st), vec!["append"]);
    }
}
