//! `accord corroboration`: how many distinct originators reported the same indicator pattern or
//! the same cyber observable, counting an originator only when its provenance signature was
//! verified on arrival (objects without one count as this node's own), with each originator's
//! Admiralty source-reliability grade. Exported as STIX `opinion`s carrying
//! `x_accord_corroboration` and `x_accord_source_reliability`.

use std::collections::{BTreeMap, BTreeSet};

use crate::federation::Sources;

use serde_json::{Value, json};

/// What several originators agree on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Corroboration {
    /// The canonical pattern, or `type:value` (`file:hashes.SHA-256=…` for files).
    pub key: String,
    /// Each originator with its reliability grade.
    pub originators: BTreeMap<String, char>,
    /// The objects (ids) that say it.
    pub objects: BTreeSet<String>,
}

/// What an object reports, as a comparable key.
fn key(o: &Value) -> Option<String> {
    let ty = o.get("type")?.as_str()?;
    if ty == "indicator" {
        if o.get("pattern_type").and_then(Value::as_str) != Some("stix") {
            return None;
        }
        let pattern = o.get("pattern")?.as_str()?;
        // Written differently, meaning the same: the canonical form decides.
        return accord_pattern::parse(pattern).ok().map(|p| p.to_string());
    }
    if let Some(v) = o.get("value").and_then(Value::as_str) {
        return Some(format!("{ty}:{v}"));
    }
    let hashes = o.get("hashes")?.as_object()?;
    let (algo, h) = ["SHA-256", "SHA-1", "MD5", "SHA-512"]
        .iter()
        .find_map(|a| Some((*a, hashes.get(*a)?.as_str()?)))?;
    Some(format!("{ty}:hashes.{algo}={}", h.to_ascii_lowercase()))
}

/// Groups `objects` (as stored: signatures were verified when they arrived) by what they report,
/// counting only originators graded `min_grade` or better; returns the groups with at least
/// `min` distinct originators, most corroborated first.
pub fn corroborate(objects: &[Value], sources: &Sources, min: usize, min_grade: char) -> Vec<Corroboration> {
    let mut groups: BTreeMap<String, Corroboration> = BTreeMap::new();
    for o in objects {
        let Some(k) = key(o) else { continue };
        let signer = o
            .get("extensions")
            .and_then(|e| e.get(accord_provenance::EXTENSION_ID))
            .and_then(|p| p.get("signer"))
            .and_then(Value::as_str);
        let originator = sources.originator(signer);
        if !sources.at_least(originator, min_grade) {
            continue;
        }
        let g = groups.entry(k.clone()).or_insert_with(|| Corroboration {
            key: k,
            originators: BTreeMap::new(),
            objects: BTreeSet::new(),
        });
        g.originators
            .insert(originator.to_owned(), sources.grade(originator));
        if let Some(id) = o.get("id").and_then(Value::as_str) {
            g.objects.insert(id.to_owned());
        }
    }
    let mut out: Vec<Corroboration> = groups
        .into_values()
        .filter(|g| g.originators.len() >= min)
        .collect();
    out.sort_by(|a, b| {
        b.originators
            .len()
            .cmp(&a.originators.len())
            .then(a.key.cmp(&b.key))
    });
    out
}

/// A STIX opinion stating the corroboration: `strongly-agree` when three or more originators,
/// or at least two reliable ones (graded A or B), report it; `agree` otherwise.
pub fn opinion(c: &Corroboration, by: &str, now: &str) -> Value {
    let n = c.originators.len();
    let reliable = c.originators.values().filter(|g| **g <= 'B').count();
    json!({
        "type": "opinion",
        "spec_version": "2.1",
        "id": format!("opinion--{}", uuid::Uuid::new_v4()),
        "created": now,
        "modified": now,
        "created_by_ref": by,
        "opinion": if n >= 3 || reliable >= 2 { "strongly-agree" } else { "agree" },
        "explanation": format!(
            "{} reported by {n} independent originators: {}",
            c.key,
            describe(c)
        ),
        "object_refs": c.objects.iter().collect::<Vec<_>>(),
        "x_accord_corroboration": n,
        "x_accord_source_reliability": c.originators.iter().map(|(o, g)| (o.clone(), g.to_string())).collect::<BTreeMap<_, _>>(),
    })
}

/// The originators with their grades: `node-a (A), node-b (C)`.
pub fn describe(c: &Corroboration) -> String {
    c.originators
        .iter()
        .map(|(o, g)| format!("{o} ({g})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What several originators agree on in a collection of `node` (read through the gate for this
/// node's operator), with the STIX opinions that say so, attributed to this organisation.
pub fn report(
    node: &crate::Node,
    collection: &str,
    min: usize,
    min_grade: char,
) -> crate::Result<(Vec<Corroboration>, Value)> {
    let objects = crate::detect::read_collection(node, collection, Vec::new(), crate::gate::Channel::Cli)?;
    let sources = Sources::for_node(node);
    let found = corroborate(&objects, &sources, min, min_grade);
    let now = accord_stix::Timestamp::format_micros(node.clock().now_micros());
    let (by, identity) = crate::detect::node_identity(node, &now);
    let mut out: Vec<Value> = identity.into_iter().collect();
    out.extend(found.iter().map(|c| opinion(c, &by, &now)));
    let bundle = accord_stix::bundle(out);
    Ok((found, bundle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(id: &str, pattern: &str, signer: Option<&str>) -> Value {
        let mut o = json!({"type": "indicator", "id": id, "pattern": pattern, "pattern_type": "stix"});
        if let Some(s) = signer {
            o["extensions"] = json!({ accord_provenance::EXTENSION_ID: { "signer": s } });
        }
        o
    }

    #[test]
    fn counts_distinct_originators_of_the_same_meaning() {
        let objects = vec![
            signed(
                "indicator--1",
                "[ipv4-addr:value = '198.51.100.7']",
                Some("node-a"),
            ),
            // The same pattern written differently, from another node.
            signed(
                "indicator--2",
                "[ ipv4-addr:value  =  '198.51.100.7' ]",
                Some("node-b"),
            ),
            // node-a again: not a second originator.
            signed(
                "indicator--3",
                "[ipv4-addr:value = '198.51.100.7']",
                Some("node-a"),
            ),
            // Our own.
            signed("indicator--4", "[ipv4-addr:value = '198.51.100.7']", None),
            signed(
                "indicator--5",
                "[ipv4-addr:value = '203.0.113.1']",
                Some("node-a"),
            ),
            json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"}),
            json!({"type": "file", "id": "file--1", "hashes": {"SHA-256": "AB"}}),
            json!({"type": "file", "id": "file--2", "hashes": {"SHA-256": "ab"},
                   "extensions": { accord_provenance::EXTENSION_ID: { "signer": "node-c" } }}),
        ];
        let sources = Sources::new("here", [("node-a".to_owned(), 'B'), ("node-b".to_owned(), 'D')]);
        let got = corroborate(&objects, &sources, 2, 'F');
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].key, "[ipv4-addr:value = '198.51.100.7']");
        assert_eq!(describe(&got[0]), "here (A), node-a (B), node-b (D)");
        assert_eq!(got[0].objects.len(), 4);
        // node-c is no partner: it cannot be judged.
        assert_eq!(got[1].key, "file:hashes.SHA-256=ab");
        assert_eq!(describe(&got[1]), "here (A), node-c (F)");
        let o = opinion(&got[0], "identity--x", "2026-01-01T00:00:00Z");
        assert_eq!(
            (o["opinion"].as_str(), o["x_accord_corroboration"].as_u64()),
            (Some("strongly-agree"), Some(3))
        );
        assert_eq!(o["x_accord_source_reliability"]["node-b"], "D");
        // Two originators, one of them not judged: agree, not strongly.
        assert_eq!(
            opinion(&got[1], "identity--x", "2026-01-01T00:00:00Z")["opinion"],
            "agree"
        );
        // Counting only sources graded B or better: node-b and node-c drop out.
        let reliable = corroborate(&objects, &sources, 2, 'B');
        assert_eq!(reliable.len(), 1);
        assert_eq!(describe(&reliable[0]), "here (A), node-a (B)");
        assert_eq!(
            opinion(&reliable[0], "identity--x", "2026-01-01T00:00:00Z")["opinion"],
            "strongly-agree"
        );
    }
}
