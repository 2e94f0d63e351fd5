//! `accord corroboration`: how many distinct originators reported the same indicator pattern or
//! the same cyber observable, counting an originator only when its provenance signature was
//! verified on arrival (objects without one count as this node's own). Exported as STIX
//! `opinion`s carrying `x_accord_corroboration`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// What several originators agree on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Corroboration {
    /// The canonical pattern, or `type:value` (`file:hashes.SHA-256=…` for files).
    pub key: String,
    pub originators: BTreeSet<String>,
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

/// Groups `objects` (as stored: signatures were verified when they arrived) by what they report;
/// returns those with at least `min` distinct originators, most corroborated first.
pub fn corroborate(objects: &[Value], this_node: &str, min: usize) -> Vec<Corroboration> {
    let mut groups: BTreeMap<String, Corroboration> = BTreeMap::new();
    for o in objects {
        let Some(k) = key(o) else { continue };
        let originator = o
            .get("extensions")
            .and_then(|e| e.get(accord_provenance::EXTENSION_ID))
            .and_then(|p| p.get("signer"))
            .and_then(Value::as_str)
            .unwrap_or(this_node)
            .to_owned();
        let g = groups.entry(k.clone()).or_insert_with(|| Corroboration {
            key: k,
            originators: BTreeSet::new(),
            objects: BTreeSet::new(),
        });
        g.originators.insert(originator);
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

/// A STIX opinion stating the corroboration (`agree` for two originators, `strongly-agree` for
/// three or more).
pub fn opinion(c: &Corroboration, by: &str, now: &str) -> Value {
    let n = c.originators.len();
    json!({
        "type": "opinion",
        "spec_version": "2.1",
        "id": format!("opinion--{}", uuid::Uuid::new_v4()),
        "created": now,
        "modified": now,
        "created_by_ref": by,
        "opinion": if n >= 3 { "strongly-agree" } else { "agree" },
        "explanation": format!(
            "{} reported by {n} independent originators: {}",
            c.key,
            c.originators.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        "object_refs": c.objects.iter().collect::<Vec<_>>(),
        "x_accord_corroboration": n,
    })
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
        let got = corroborate(&objects, "here", 2);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].key, "[ipv4-addr:value = '198.51.100.7']");
        assert_eq!(
            got[0].originators.iter().collect::<Vec<_>>(),
            ["here", "node-a", "node-b"]
        );
        assert_eq!(got[0].objects.len(), 4);
        assert_eq!(got[1].key, "file:hashes.SHA-256=ab");
        let o = opinion(&got[0], "identity--x", "2026-01-01T00:00:00Z");
        assert_eq!(
            (o["opinion"].as_str(), o["x_accord_corroboration"].as_u64()),
            (Some("strongly-agree"), Some(3))
        );
    }
}
