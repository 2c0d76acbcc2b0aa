//! Options declared once: names, types, defaults, validation and help, like the Splunk SDK's
//! `Option(doc=..., require=..., default=..., validate=...)` class attributes.
//!
//! An [`OptionSet`] parses `searchinfo.args` into [`OptionValues`] with the same errors as
//! [`crate::Options`] (unknown, missing, invalid and repeated options, each named), renders
//! the searchbnf.conf `syntax` line ([`OptionSet::syntax`]) and the option help
//! ([`OptionSet::help`]), and turns the given options back into SPL
//! ([`OptionValues::to_spl`], used for a reporting command's `streaming_preop`).
//!
//! ```
//! use splunk_scp::spec::{OptionSet, OptionSpec};
//! use splunk_scp::Args;
//!
//! let set = OptionSet::new([
//!     OptionSpec::fieldname("total").required().help("Field that receives the sum"),
//!     OptionSpec::integer("limit").range(1, 1000).default("10").help("Most rows returned"),
//!     OptionSpec::boolean("verbose").default("false"),
//! ]);
//! let v = set.parse(&Args::parse(&["total=t", "bytes", "limit=5"])).unwrap();
//! assert_eq!(v.str("total"), Some("t"));
//! assert_eq!(v.int("limit"), Some(5));
//! assert_eq!(v.bool("verbose"), Some(false));
//! assert_eq!(v.fields(), ["bytes"]);
//! assert_eq!(v.to_spl(), r#"total="t" limit="5" bytes"#);
//! assert_eq!(set.syntax("mysum"), "mysum total=<field> (limit=<int>)? (verbose=<bool>)? <field-list>");
//! let e = set.parse(&Args::parse(&["total=t", "limit=0"])).unwrap_err().to_string();
//! assert_eq!(e, "Invalid value for limit: \"0\" (expected an integer from 1 to 1000)");
//! ```

use crate::args::{ArgError, Args};

/// The type of an option's value, with its validation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptionKind {
    /// Any text.
    Text,
    /// `t`/`true`/`1`/`yes`/`y` or `f`/`false`/`0`/`no`/`n` (any case).
    Boolean,
    /// A whole number within `min..=max`.
    Integer {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A finite decimal number.
    Float,
    /// A field name as the SDK's `validators.Fieldname`: `[_.a-zA-Z-][_.a-zA-Z0-9-]*`.
    Fieldname,
    /// One of these values (case-sensitive).
    Choice(Vec<&'static str>),
}

/// One declared option.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionSpec {
    name: &'static str,
    kind: OptionKind,
    required: bool,
    default: Option<&'static str>,
    help: &'static str,
}

impl OptionSpec {
    /// An option of type `kind`, optional, without default or help.
    pub fn new(name: &'static str, kind: OptionKind) -> Self {
        OptionSpec {
            name,
            kind,
            required: false,
            default: None,
            help: "",
        }
    }

    /// A text option.
    pub fn text(name: &'static str) -> Self {
        Self::new(name, OptionKind::Text)
    }

    /// A boolean option.
    pub fn boolean(name: &'static str) -> Self {
        Self::new(name, OptionKind::Boolean)
    }

    /// An integer option (any `i64`; narrow it with [`Self::range`]).
    pub fn integer(name: &'static str) -> Self {
        Self::new(
            name,
            OptionKind::Integer {
                min: i64::MIN,
                max: i64::MAX,
            },
        )
    }

    /// A decimal number option.
    pub fn float(name: &'static str) -> Self {
        Self::new(name, OptionKind::Float)
    }

    /// A field-name option.
    pub fn fieldname(name: &'static str) -> Self {
        Self::new(name, OptionKind::Fieldname)
    }

    /// An option restricted to `choices`.
    pub fn choice(name: &'static str, choices: &[&'static str]) -> Self {
        Self::new(name, OptionKind::Choice(choices.to_vec()))
    }

    /// Makes the option required (`A value for "<name>" is required` when absent).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The value used when the option is absent (validated like a given value).
    pub fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// Help text (searchbnf.conf description, [`OptionSet::help`]).
    pub fn help(mut self, text: &'static str) -> Self {
        self.help = text;
        self
    }

    /// Limits an integer option to `min..=max` (no effect on other kinds).
    pub fn range(mut self, min: i64, max: i64) -> Self {
        if let OptionKind::Integer { .. } = self.kind {
            self.kind = OptionKind::Integer { min, max };
        }
        self
    }

    /// The option's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The option's kind.
    pub fn kind(&self) -> &OptionKind {
        &self.kind
    }

    /// The searchbnf placeholder of the value: `<field>`, `<int>`, `(a|b)`, ...
    fn placeholder(&self) -> String {
        match &self.kind {
            OptionKind::Text => "<string>".into(),
            OptionKind::Boolean => "<bool>".into(),
            OptionKind::Integer { .. } => "<int>".into(),
            OptionKind::Float => "<num>".into(),
            OptionKind::Fieldname => "<field>".into(),
            OptionKind::Choice(c) => format!("({})", c.join("|")),
        }
    }

    /// Checks `value`; the error says what would be valid.
    fn validate(&self, value: &str) -> Result<(), ArgError> {
        let invalid = |expected: String| ArgError::Invalid {
            name: self.name.to_owned(),
            value: value.to_owned(),
            expected,
        };
        match &self.kind {
            OptionKind::Text => Ok(()),
            OptionKind::Boolean => parse_bool(value)
                .map(|_| ())
                .ok_or_else(|| invalid("a boolean (true/false, t/f, 1/0, yes/no)".into())),
            OptionKind::Integer { min, max } => match value.trim().parse::<i64>() {
                Ok(n) if (*min..=*max).contains(&n) => Ok(()),
                _ if (*min, *max) == (i64::MIN, i64::MAX) => Err(invalid("an integer".into())),
                _ => Err(invalid(format!("an integer from {min} to {max}"))),
            },
            OptionKind::Float => match value.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(()),
                _ => Err(invalid("a number".into())),
            },
            OptionKind::Fieldname => {
                if is_fieldname(value) {
                    Ok(())
                } else {
                    Err(invalid("a field name".into()))
                }
            }
            OptionKind::Choice(c) => {
                if c.contains(&value) {
                    Ok(())
                } else {
                    Err(invalid(format!("one of {}", c.join(", "))))
                }
            }
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "t" | "true" | "1" | "yes" | "y" => Some(true),
        "f" | "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// The SDK's `validators.Fieldname`: `[_.a-zA-Z-][_.a-zA-Z0-9-]*`.
fn is_fieldname(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || matches!(c, b'_' | b'.' | b'-'))
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The declared options of a command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptionSet {
    specs: Vec<OptionSpec>,
    /// Whether positional field names are accepted (default true).
    fields: bool,
}

impl OptionSet {
    /// A set of options; positional field names are accepted.
    pub fn new(specs: impl IntoIterator<Item = OptionSpec>) -> Self {
        OptionSet {
            specs: specs.into_iter().collect(),
            fields: true,
        }
    }

    /// Refuses positional arguments (`<name> takes no field names`).
    pub fn no_fields(mut self) -> Self {
        self.fields = false;
        self
    }

    /// Adds an option in front (e.g. a helper's own `phase`).
    pub fn with_first(mut self, spec: OptionSpec) -> Self {
        self.specs.insert(0, spec);
        self
    }

    /// The declared options, in order.
    pub fn specs(&self) -> &[OptionSpec] {
        &self.specs
    }

    /// Parses and validates `args`: unknown, repeated, missing and invalid options are errors
    /// naming the option (the SDK's wording); defaults fill absent options.
    pub fn parse(&self, args: &Args) -> Result<OptionValues, ArgError> {
        let mut checker = args.checker();
        let mut values = Vec::with_capacity(self.specs.len());
        let mut given = Vec::new();
        for spec in &self.specs {
            let v = checker.get(spec.name)?;
            if let Some(v) = v {
                spec.validate(v)?;
                given.push((spec.name, v.to_owned()));
            } else if spec.required {
                return Err(ArgError::Missing {
                    name: spec.name.to_owned(),
                });
            } else if let Some(d) = spec.default {
                spec.validate(d)?;
            }
            values.push((
                spec.name,
                v.map(str::to_owned).or(spec.default.map(str::to_owned)),
            ));
        }
        checker.finish()?;
        if !self.fields {
            if let Some(p) = args.positional().first() {
                return Err(ArgError::Positional(format!(
                    "this command takes no field names, got {p:?}"
                )));
            }
        }
        Ok(OptionValues {
            values,
            given,
            fields: args.positional().to_vec(),
        })
    }

    /// The searchbnf.conf `syntax` line: required options bare, optional ones as `(...)?`,
    /// then `<field-list>` when fields are accepted.
    pub fn syntax(&self, command: &str) -> String {
        let mut s = command.to_owned();
        for spec in &self.specs {
            let one = format!("{}={}", spec.name, spec.placeholder());
            s.push(' ');
            if spec.required {
                s.push_str(&one);
            } else {
                s.push_str(&format!("({one})?"));
            }
        }
        if self.fields {
            s.push_str(" <field-list>");
        }
        s
    }

    /// One help line per option: `name=<type> (required|default: d): help`.
    pub fn help(&self) -> Vec<String> {
        self.specs
            .iter()
            .map(|s| {
                let when = match (s.required, s.default) {
                    (true, _) => " (required)".to_owned(),
                    (false, Some(d)) => format!(" (default: {d})"),
                    (false, None) => String::new(),
                };
                let sep = if s.help.is_empty() { "" } else { ": " };
                format!("{}={}{when}{sep}{}", s.name, s.placeholder(), s.help)
            })
            .collect()
    }
}

/// Validated option values: given values, else defaults; and the positional field names.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionValues {
    values: Vec<(&'static str, Option<String>)>,
    given: Vec<(&'static str, String)>,
    fields: Vec<String>,
}

impl OptionValues {
    /// The value of `name` (given or default); `None` for an absent option without default
    /// or an undeclared name.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// A boolean option's value.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.str(name).and_then(parse_bool)
    }

    /// An integer option's value.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.str(name).and_then(|v| v.trim().parse().ok())
    }

    /// A number option's value.
    pub fn float(&self, name: &str) -> Option<f64> {
        self.str(name).and_then(|v| v.trim().parse().ok())
    }

    /// Whether `name` was given in the search (not defaulted).
    pub fn is_given(&self, name: &str) -> bool {
        self.given.iter().any(|(n, _)| *n == name)
    }

    /// The positional field names, in order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The given options and the field names as SPL, the way the SDK builds a map phase:
    /// `name="<JSON-quoted value>"` for each option given (declaration order), then the field
    /// names, space-separated.
    pub fn to_spl(&self) -> String {
        let mut parts: Vec<String> = self
            .given
            .iter()
            .map(|(n, v)| format!("{n}={}", serde_json::Value::String(v.clone())))
            .collect();
        parts.extend(self.fields.iter().cloned());
        parts.join(" ")
    }
}
