//! The state of one object's walk: where in the object the walk is (for each finding's JSON
//! path) and the findings so far.

use std::fmt::Write as _;

use serde_json::Value;

use super::report::{Finding, Report, Rule, Severity};

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The walk context. The path is kept as segments borrowed from the object and rendered only
/// when a finding is pushed: most objects have none, so valid objects cost no path strings.
pub(super) struct Cx<'a> {
    /// The whole object, for rules that look beyond the current property (granular selectors).
    pub(super) root: &'a Value,
    /// Whether a marking-definition id is defined in the same input.
    pub(super) defined_marking: &'a dyn Fn(&str) -> bool,
    path: Vec<Seg<'a>>,
    findings: Vec<Finding>,
}

impl<'a> Cx<'a> {
    pub(super) fn new(root: &'a Value, defined_marking: &'a dyn Fn(&str) -> bool) -> Self {
        Cx {
            root,
            defined_marking,
            path: Vec::with_capacity(8),
            findings: Vec::new(),
        }
    }

    pub(super) fn finish(self, object_id: Option<String>) -> Report {
        Report {
            object_id,
            findings: self.findings,
        }
    }

    fn path_string(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    let _ = crate::json::write_key(&mut s, k);
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        s
    }

    fn push(&mut self, severity: Severity, rule: Rule, message: String) {
        let path = self.path_string();
        self.findings.push(Finding {
            severity,
            rule,
            path,
            message,
        });
    }
    pub(super) fn err(&mut self, rule: Rule, message: impl Into<String>) {
        self.push(Severity::Error, rule, message.into());
    }
    pub(super) fn warn(&mut self, rule: Rule, message: impl Into<String>) {
        self.push(Severity::Warning, rule, message.into());
    }
    /// The error for a value of the wrong JSON kind: "expected {what}, found {kind}".
    pub(super) fn expected(&mut self, what: &str, found: &Value) {
        self.err(
            Rule::PropertyType,
            format!("expected {what}, found {}", kind_name(found)),
        );
    }
    pub(super) fn at_key<R>(&mut self, key: &'a str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(Seg::Key(key));
        let r = f(self);
        self.path.pop();
        r
    }
    pub(super) fn at_index<R>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(Seg::Index(i));
        let r = f(self);
        self.path.pop();
        r
    }
}

/// The JSON kind of a value, as messages name it.
pub(super) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
