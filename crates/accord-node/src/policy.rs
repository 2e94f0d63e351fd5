//! `accord policy`: explain one decision, run a table of expected decisions (for operators' CI),
//! and check the configuration and policy files without starting anything.

use std::path::Path;

use accord_policy::{Action, Effect, Explanation, Request};
use accord_store::{Query, VersionFilter};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{NodeError, Result};
use crate::node::Node;

/// Parses an action named on the command line or in a test table.
pub fn parse_action(name: &str) -> Result<Action> {
    match name {
        "read" => Ok(Action::Read),
        "export" => Ok(Action::Export),
        "push" => Ok(Action::Push),
        other => Err(NodeError::Invalid(format!(
            "action {other:?} is not read, export or push"
        ))),
    }
}

/// Finds the latest version of an object in the given collection, or in any configured one. Only
/// its decision is explained, never its content shown.
fn find_object(node: &Node, id: &str, collection: Option<&str>) -> Result<(String, Map<String, Value>)> {
    accord_stix::id::parse_identifier(id)
        .map_err(|e| NodeError::Invalid(format!("object id {id:?}: {e}")))?;
    let collections = match collection {
        Some(c) => vec![node.collection_id(Some(c))?],
        None => node.config().collections.iter().map(|c| c.id.clone()).collect(),
    };
    for c in collections {
        let mut q = Query::new(&c);
        q.ids = vec![id.to_owned()];
        q.versions = VersionFilter::last();
        q.limit = 1;
        if let Some(o) = node.store().query(&q)?.objects.into_iter().next() {
            let map = serde_json::from_str(&o.json)
                .map_err(|e| NodeError::Corrupt(format!("stored {id} is corrupt: {e}")))?;
            return Ok((c, map));
        }
    }
    Err(NodeError::NotFound(format!(
        "no object {id} in {}",
        collection.unwrap_or("any configured collection")
    )))
}

/// What would be decided for `principal` doing `action` to an object: a decision and its reasons,
/// never the object's content.
fn explain_object(
    node: &Node,
    collection: &str,
    principal: &str,
    purpose: Option<&str>,
    action: Action,
    object: &Map<String, Value>,
) -> Result<Explanation> {
    let req = Request {
        principal,
        action,
        purpose,
        encrypted: true,
        now: node.clock().now(),
        default_tlp: None,
    };
    Ok(node.gate()?.explain(node.store(), collection, &req, object)?)
}

/// Explains the decision for `principal` reading `object_id`.
pub fn explain(
    node: &Node,
    principal: &str,
    object_id: &str,
    purpose: Option<&str>,
    collection: Option<&str>,
    action: Action,
) -> Result<Explanation> {
    let (coll, object) = find_object(node, object_id, collection)?;
    explain_object(node, &coll, principal, purpose, action, &object)
}

/// A human-readable rendering of an explanation.
pub fn render(e: &Explanation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let effect = serde_json::to_value(e.decision.effect).unwrap_or_default();
    let _ = writeln!(
        out,
        "decision: {} (policy version {})",
        effect.as_str().unwrap_or("?"),
        e.policy_version
    );
    if let Some(a) = &e.decision.agreement {
        let _ = writeln!(out, "agreement: {a}");
    }
    if let Some(p) = &e.decision.profile {
        let _ = writeln!(out, "redaction profile: {p}");
    }
    let _ = writeln!(out, "reasons:");
    for r in e.decision.reasons.iter() {
        let _ = writeln!(out, "  {:<32} {}", r.policy, r.text);
    }
    for p in &e.decision.redact_parts {
        let _ = writeln!(out, "redacts {}: {}", p.selectors.join(", "), p.reason);
    }
    for r in &e.redactions {
        let transform = serde_json::to_value(r.transform).unwrap_or_default();
        let _ = writeln!(
            out,
            "redacts {} ({}, {})",
            r.path,
            r.category,
            transform.as_str().unwrap_or("?")
        );
    }
    if e.decision.strip_attribution {
        let _ = writeln!(out, "strips created_by_ref (IEP provider_attribution: must-not)");
    }
    for w in &e.decision.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out, "principal: {}", e.principal);
    let h = &e.handling;
    let _ = writeln!(
        out,
        "object: {} type {} tlp {}{} originated here: {} originator: {} iep: {}",
        e.object["id"].as_str().unwrap_or("?"),
        h.stix_type,
        h.tlp.as_str(),
        if h.tlp_defaulted { " (default)" } else { "" },
        h.originated_here,
        h.originator.as_deref().unwrap_or("unknown"),
        serde_json::to_string(&h.iep).unwrap_or_default(),
    );
    let _ = writeln!(
        out,
        "declared handling: {}",
        serde_json::to_string(&h.declared).unwrap_or_default()
    );
    for ev in &e.evaluations {
        let policies: Vec<&str> = ev.policies.iter().map(|p| p.policy.as_str()).collect();
        // A deny that no policy gave is Cedar's default: no permit applied.
        let verdict = match (ev.allowed, policies.is_empty()) {
            (false, true) => "deny: no policy permits it (deny by default)".to_owned(),
            (allowed, _) => format!(
                "{} by {}",
                if allowed { "allow" } else { "deny" },
                policies.join(", ")
            ),
        };
        let _ = writeln!(
            out,
            "evaluated under {}: {verdict}",
            ev.agreement.as_deref().unwrap_or("no agreement"),
        );
        let _ = writeln!(out, "  context: {}", ev.context);
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(rename = "case")]
    cases: Vec<TestCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    principal: String,
    /// An object id in the store (latest version) …
    object: Option<String>,
    /// … or a file holding one STIX object, relative to the test file.
    object_file: Option<String>,
    collection: Option<String>,
    purpose: Option<String>,
    #[serde(default = "read_action")]
    action: String,
    /// allow, allow-with-redaction or deny.
    expect: String,
    /// A policy id that must be among the decision's reasons.
    reason: Option<String>,
}

fn read_action() -> String {
    "read".into()
}

/// One case's result.
#[derive(Debug, serde::Serialize)]
pub struct CaseResult {
    pub case: usize,
    pub principal: String,
    pub object: String,
    pub expected: String,
    pub got: String,
    pub reasons: Vec<String>,
    pub pass: bool,
}

/// Runs a table of expected decisions against the node's configuration and policies.
pub fn test(node: &Node, file: &Path) -> Result<Vec<CaseResult>> {
    let text = std::fs::read_to_string(file).map_err(NodeError::io(file))?;
    let table: TestFile = toml::from_str(&text).map_err(|e| {
        let (line, col) = e
            .span()
            .map_or((1, 1), |s| accord_stix::json::line_col(text.as_bytes(), s.start));
        NodeError::Invalid(format!("{}:{line}:{col}: {}", file.display(), e.message()))
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut results = Vec::new();
    for (i, c) in table.cases.iter().enumerate() {
        let at = format!("{} case {}", file.display(), i + 1);
        let case = |e: &dyn std::fmt::Display| NodeError::Invalid(format!("{at}: {e}"));
        let (coll, object) = match (&c.object, &c.object_file) {
            (Some(id), None) => find_object(node, id, c.collection.as_deref()).map_err(|e| case(&e))?,
            (None, Some(f)) => {
                let path = base.join(f);
                let bytes = std::fs::read(&path)
                    .map_err(|e| case(&format!("cannot read {}: {e}", path.display())))?;
                let checked = accord_stix::check_bytes(&bytes, usize::MAX)
                    .map_err(|e| case(&format!("{}: {e}", path.display())))?;
                let map = serde_json::from_str(&checked.canonical).map_err(|e| case(&e))?;
                (node.collection_id(c.collection.as_deref())?, map)
            }
            _ => return Err(case(&"give exactly one of object or object_file")),
        };
        let action = parse_action(&c.action).map_err(|e| case(&e))?;
        if !matches!(c.expect.as_str(), "allow" | "allow-with-redaction" | "deny") {
            return Err(case(&format!(
                "expect {:?} is not allow, allow-with-redaction or deny",
                c.expect
            )));
        }
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let outcome = explain_object(node, &coll, &c.principal, c.purpose.as_deref(), action, &object)?;
        let got = match outcome.decision.effect {
            Effect::Allow => "allow",
            Effect::AllowWithRedaction => "allow-with-redaction",
            Effect::Deny => "deny",
        };
        let reasons: Vec<String> = outcome
            .decision
            .reasons
            .iter()
            .map(|r| r.policy.clone())
            .collect();
        let pass = got == c.expect && c.reason.as_ref().is_none_or(|r| reasons.contains(r));
        results.push(CaseResult {
            case: i + 1,
            principal: c.principal.clone(),
            object: id,
            expected: c.expect.clone() + &c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
            got: got.to_owned(),
            reasons,
            pass,
        });
    }
    Ok(results)
}
