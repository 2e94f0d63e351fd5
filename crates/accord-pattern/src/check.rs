//! Semantic checks, reported as warnings: object types that are not STIX 2.1 cyber-observables
//! (custom `x-` types excepted), first properties an object type does not have (custom `x_`
//! properties and extensions excepted), and comparisons whose literal cannot match the property's
//! type.

use accord_stix::spec::{Category, Kind, type_spec};

use crate::ast::{Comparison, Literal, ObjectPath, Observation, Op, Step, Test};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Byte position of the object path the warning is about.
    pub at: usize,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.at, self.message)
    }
}

/// Warnings for a parsed pattern, in pattern order.
pub fn check(o: &Observation) -> Vec<Warning> {
    let mut out = Vec::new();
    walk(o, &mut out);
    out.sort_by_key(|w| w.at);
    out
}

fn walk(o: &Observation, out: &mut Vec<Warning>) {
    match o {
        Observation::Simple(c) => comparison(c, out),
        Observation::And(a, b) | Observation::Or(a, b) | Observation::FollowedBy(a, b) => {
            walk(a, out);
            walk(b, out);
        }
        Observation::Qualified(inner, _) => walk(inner, out),
    }
}

fn comparison(c: &Comparison, out: &mut Vec<Warning>) {
    match c {
        Comparison::And(a, b) | Comparison::Or(a, b) => {
            comparison(a, out);
            comparison(b, out);
        }
        Comparison::Test(Test::Exists(p)) => {
            path(p, out);
        }
        Comparison::Test(Test::Compare {
            path: p, op, value, ..
        }) => {
            if let Some(kind) = path(p, out)
                && let Some(problem) = incompatible(kind, *op, value)
            {
                out.push(Warning {
                    at: p.at,
                    message: format!("{p} {} {value}: {problem}", op.as_str()),
                });
            }
        }
    }
}

/// Checks the type and first property; gives the property's kind when the path names it directly.
fn path(p: &ObjectPath, out: &mut Vec<Warning>) -> Option<Kind> {
    let spec = match type_spec(&p.object_type) {
        Some(s) if s.category == Category::Sco => s,
        Some(_) => {
            out.push(Warning {
                at: p.at,
                message: format!(
                    "{} is not a cyber-observable object type; patterns match observed SCOs",
                    p.object_type
                ),
            });
            return None;
        }
        None if p.object_type.starts_with("x-") => return None,
        None => {
            out.push(Warning {
                at: p.at,
                message: format!(
                    "unknown object type {} (not a STIX 2.1 cyber-observable, and not a custom x- type)",
                    p.object_type
                ),
            });
            return None;
        }
    };
    let Some(Step::Key(first)) = p.steps.first() else {
        return None;
    };
    if first.starts_with("x_") || first == "extensions" {
        return None;
    }
    let prop = spec.props.iter().chain(spec.common()).find(|pr| pr.name == first);
    match prop {
        None => {
            out.push(Warning {
                at: p.at,
                message: format!("{} has no property {first}", p.object_type),
            });
            None
        }
        Some(pr) if p.steps.len() == 1 => Some(pr.kind),
        Some(_) => None,
    }
}

fn incompatible(kind: Kind, op: Op, value: &Literal) -> Option<&'static str> {
    let scalar = match value {
        Literal::Set(items) => items.first()?,
        v => v,
    };
    let numeric = matches!(scalar, Literal::Int(_) | Literal::Float(_));
    let textual = matches!(scalar, Literal::Str(_));
    match kind {
        Kind::Int(..) | Kind::Float(..) if textual && !matches!(op, Op::Like | Op::Matches) => {
            Some("a numeric property compared with a string")
        }
        Kind::Str | Kind::Vocab(_) if numeric => Some("a string property compared with a number"),
        Kind::Timestamp | Kind::TimestampMillis if numeric => {
            Some("a timestamp property compared with a number")
        }
        Kind::Bool if !matches!(scalar, Literal::Bool(_)) => {
            Some("a boolean property compared with a non-boolean")
        }
        _ => None,
    }
}
