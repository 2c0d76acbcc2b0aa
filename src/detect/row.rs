//! Output rows: what the detection produces, independent of how it is rendered
//! (SCP CSV body, terminal table, CSV or JSON in the offline scan).

/// One output value: a single value or a multivalue field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutValue {
    Single(String),
    Multi(Vec<String>),
}

impl OutValue {
    /// The values as a slice-like list: a single value is a list of one, an empty single
    /// value is an empty list.
    pub fn values(&self) -> Vec<&str> {
        match self {
            OutValue::Single(s) if s.is_empty() => Vec::new(),
            OutValue::Single(s) => vec![s.as_str()],
            OutValue::Multi(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl From<String> for OutValue {
    fn from(s: String) -> Self {
        OutValue::Single(s)
    }
}

impl From<&str> for OutValue {
    fn from(s: &str) -> Self {
        OutValue::Single(s.to_owned())
    }
}

/// One output row. Invariant: column names are unique within a row and appear in the
/// order they should be displayed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputRow {
    pub columns: Vec<(&'static str, OutValue)>,
}

impl OutputRow {
    /// The value of a column, if present.
    pub fn get(&self, name: &str) -> Option<&OutValue> {
        self.columns
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}
