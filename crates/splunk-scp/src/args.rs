//! `searchinfo.args` parsing: `name=value` options and positional field names.
//!
//! As the Splunk SDK (`SearchCommand._protocol_v2_option_parser`): splunkd sends the arguments
//! tokenised with outer quotes already removed (`pattern="\w+"` arrives as `pattern=\w+`), so
//! nothing is unquoted again: a token `total="q"` means the user typed the quotes as part of
//! the value (`total="\"q\""`), and the value is `"q"`. Each token is split on its first
//! `=`: with one, it is an option (whatever its name: `1x=2` is the option `1x`, reported by
//! [`Options::finish`] as `Unrecognized option: 1x=2` exactly as the SDK does), without one
//! it is a positional field name.
//!
//! [`Options`] hands out option values and, in [`Options::finish`], rejects every option the
//! command did not ask for, naming it and the valid options.

use std::str::FromStr;

use thiserror::Error;

/// An argument problem, worded for the Splunk user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ArgError {
    /// An option the command does not know.
    #[error("Unrecognized option: {name}={value} (valid options: {})", valid.join(", "))]
    Unknown {
        /// The option's name.
        name: String,
        /// Its value.
        value: String,
        /// The options the command knows.
        valid: Vec<String>,
    },
    /// A required option is absent.
    #[error("A value for \"{name}\" is required")]
    Missing {
        /// The option's name.
        name: String,
    },
    /// A value that does not parse or is not among the allowed ones.
    #[error("Invalid value for {name}: {value:?} (expected {expected})")]
    Invalid {
        /// The option's name.
        name: String,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// The same option twice.
    #[error("Option {name} is given more than once")]
    Duplicate {
        /// The option's name.
        name: String,
    },
    /// Positional arguments where none (or fewer/more) are accepted.
    #[error("{0}")]
    Positional(String),
}

/// Parsed arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    options: Vec<(String, String)>,
    positional: Vec<String>,
}

impl Args {
    /// Splits `searchinfo.args` into options and positional names.
    pub fn parse<S: AsRef<str>>(tokens: &[S]) -> Args {
        let mut a = Args::default();
        for t in tokens {
            let t = t.as_ref();
            match t.split_once('=') {
                Some((name, value)) => a.options.push((name.to_owned(), value.to_owned())),
                None => a.positional.push(t.to_owned()),
            }
        }
        a
    }

    /// Positional arguments (field names), in order.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// All `name=value` options, in order.
    pub fn options(&self) -> &[(String, String)] {
        &self.options
    }

    /// A checker that hands out option values and rejects the rest in [`Options::finish`].
    pub fn checker(&self) -> Options<'_> {
        Options {
            args: self,
            known: Vec::new(),
        }
    }
}

/// Hands out option values; remembers which names the command knows.
#[derive(Debug)]
pub struct Options<'a> {
    args: &'a Args,
    known: Vec<String>,
}

impl<'a> Options<'a> {
    /// The raw value of `name`, if given. Declares `name` as valid.
    pub fn get(&mut self, name: &str) -> Result<Option<&'a str>, ArgError> {
        if !self.known.iter().any(|k| k == name) {
            self.known.push(name.to_owned());
        }
        let mut found = None;
        for (n, v) in &self.args.options {
            if n == name {
                if found.is_some() {
                    return Err(ArgError::Duplicate {
                        name: name.to_owned(),
                    });
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// The value of a required option.
    pub fn required(&mut self, name: &str) -> Result<&'a str, ArgError> {
        self.get(name)?.ok_or_else(|| ArgError::Missing {
            name: name.to_owned(),
        })
    }

    /// Parses an option with `FromStr`; `expected` describes valid values for the error.
    pub fn parse<T: FromStr>(&mut self, name: &str, expected: &str) -> Result<Option<T>, ArgError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| ArgError::Invalid {
                name: name.to_owned(),
                value: v.to_owned(),
                expected: expected.to_owned(),
            }),
        }
    }

    /// An option restricted to `choices` (case-sensitive); returns the matching choice.
    pub fn choice(
        &mut self,
        name: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, ArgError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => choices
                .iter()
                .copied()
                .find(|c| *c == v)
                .map(Some)
                .ok_or_else(|| ArgError::Invalid {
                    name: name.to_owned(),
                    value: v.to_owned(),
                    expected: format!("one of {}", choices.join(", ")),
                }),
        }
    }

    /// A boolean option: `t`/`true`/`1`/`yes`/`y` or `f`/`false`/`0`/`no`/`n` (any case).
    pub fn flag(&mut self, name: &str) -> Result<Option<bool>, ArgError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "t" | "true" | "1" | "yes" | "y" => Ok(Some(true)),
                "f" | "false" | "0" | "no" | "n" => Ok(Some(false)),
                _ => Err(ArgError::Invalid {
                    name: name.to_owned(),
                    value: v.to_owned(),
                    expected: "a boolean (true/false, t/f, 1/0, yes/no)".to_owned(),
                }),
            },
        }
    }

    /// Declares options that are accepted but not read.
    pub fn allow(&mut self, names: &[&str]) {
        for n in names {
            if !self.known.iter().any(|k| k == n) {
                self.known.push((*n).to_owned());
            }
        }
    }

    /// Fails on the first option that was never asked for.
    pub fn finish(self) -> Result<(), ArgError> {
        for (n, v) in &self.args.options {
            if !self.known.iter().any(|k| k == n) {
                return Err(ArgError::Unknown {
                    name: n.clone(),
                    value: v.clone(),
                    valid: self.known.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_positionals_and_quotes() {
        let a = Args::parse(&[
            "total=total",
            "value1",
            "phase=map",
            "text=\"Hello World!\"",
            "\"f 2\"",
            "x>=3",
            "=v",
        ]);
        // As the SDK: no second unquoting; every token with `=` is an option.
        assert_eq!(a.positional(), ["value1", "\"f 2\""]);
        let mut o = a.checker();
        assert_eq!(o.required("total").unwrap(), "total");
        assert_eq!(o.choice("phase", &["map", "reduce"]).unwrap(), Some("map"));
        assert_eq!(o.get("text").unwrap(), Some("\"Hello World!\""));
        assert_eq!(o.parse::<u32>("count", "an integer").unwrap(), None);
        let e = o.finish().unwrap_err().to_string();
        assert!(e.starts_with("Unrecognized option: x>=3"), "{e}");
    }

    #[test]
    fn errors_name_the_option() {
        let a = Args::parse(&["count=ten", "nosuch=1", "mode=x", "f=maybe"]);
        let mut o = a.checker();
        let e = o
            .parse::<u64>("count", "a non-negative integer")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid value for count: \"ten\" (expected a non-negative integer)"
        );
        let e = o.choice("mode", &["fast", "slow"]).unwrap_err();
        assert!(e.to_string().contains("one of fast, slow"), "{e}");
        assert!(o.flag("f").unwrap_err().to_string().contains("boolean"));
        let e = o.required("total").unwrap_err();
        assert_eq!(e.to_string(), "A value for \"total\" is required");
        let e = o.finish().unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unrecognized option: nosuch=1 (valid options: count, mode, f, total)"
        );
        let a = Args::parse(&["a=1", "a=2"]);
        assert!(matches!(
            a.checker().get("a"),
            Err(ArgError::Duplicate { .. })
        ));
    }
}
