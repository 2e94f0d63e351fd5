//! Integration tests of the policy decision point: the data-driven decision table, policy loading
//! errors, explanations, redaction of real shapes, and a no-leak property test against an
//! independent reference model.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};

use accord_policy::engine::{Action, Effect, Request, Source};
use accord_policy::{Engine, Model, ModelSpec, disclose};
use accord_stix::Timestamp;
use accord_stix::markings::{Marking, classify};
use serde_json::{Map, Value, json};

const TLP: [(&str, &str); 7] = [
    ("clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"),
    ("white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
    ("green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"),
    ("amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"),
    ("amber1", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"),
    ("amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"),
    ("red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
];

fn tlp_id(name: &str) -> &'static str {
    TLP.iter().find(|(n, _)| *n == name).unwrap().1
}

fn now() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
}

struct Table {
    engine: Engine,
    markings: HashMap<String, Marking>,
    objects: HashMap<String, Map<String, Value>>,
    cases: Vec<Value>,
}

fn identity_of(model: &Value, org: &str) -> Option<String> {
    model["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == org)
        .and_then(|o| o["identity"].as_str().map(str::to_owned))
}

/// Builds an indicator from a compact description in the table.
fn build_object(name: &str, spec: &Value, model: &Value) -> Map<String, Value> {
    let uuid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
    let mut o = json!({
        "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{uuid}"),
        "created": "2025-06-01T00:00:00.000Z", "modified": "2025-06-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2025-06-01T00:00:00Z",
        "description": "Command and control server seen in the campaign",
    });
    if spec["pii"] == true {
        o["description"] = "Phishing reported by jane.doe@example.org, call +49 30 1234 5678".into();
    }
    let mut refs: Vec<Value> = spec["tlp"].as_array().unwrap().iter().map(|t| tlp_id(t.as_str().unwrap()).into()).collect();
    if spec["iep"] == true {
        refs.push("marking-definition--a0a0a0a0-0000-4000-8000-000000000001".into());
    }
    if let Some(extra) = spec["extra_markings"].as_array() {
        refs.extend(extra.iter().cloned());
    }
    if !refs.is_empty() {
        o["object_marking_refs"] = refs.into();
    }
    if let Some(by) = spec["by"].as_str() {
        o["created_by_ref"] = identity_of(model, by).unwrap().into();
    }
    if let Some(g) = spec["granular"].as_array() {
        let list: Vec<Value> = g
            .iter()
            .map(|g| {
                let r = g["ref"].as_str().map_or_else(|| tlp_id(g["tlp"].as_str().unwrap()).to_owned(), str::to_owned);
                json!({"marking_ref": r, "selectors": g["selectors"]})
            })
            .collect();
        o["granular_markings"] = list.into();
    }
    if let Some(h) = spec["handling"].as_object() {
        let mut ext = h.clone();
        ext.insert("extension_type".into(), "property-extension".into());
        o["extensions"] = json!({ accord_policy::HANDLING_EXTENSION_ID: ext });
    }
    o.as_object().unwrap().clone()
}

fn load_table() -> Table {
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/decisions.json").unwrap()).unwrap();
    let spec: ModelSpec = serde_json::from_value(data["model"].clone()).unwrap();
    let engine = Engine::new(Model::build(spec).unwrap(), &[]).unwrap();
    let markings = data["markings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_owned(), classify(m.as_object().unwrap())))
        .collect();
    let objects = data["objects"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), build_object(k, v, &data["model"])))
        .collect();
    Table {
        engine,
        markings,
        objects,
        cases: data["cases"].as_array().unwrap().clone(),
    }
}

fn effect_name(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allow",
        Effect::AllowWithRedaction => "allow-with-redaction",
        Effect::Deny => "deny",
    }
}

#[test]
fn decision_table() {
    let t = load_table();
    let mut failures = Vec::new();
    for (i, case) in t.cases.iter().enumerate() {
        let object = t.objects[case["object"].as_str().unwrap()].clone();
        let action = match case["action"].as_str() {
            Some("push") => Action::Push,
            Some("export") => Action::Export,
            _ => Action::Read,
        };
        let req = Request {
            principal: case["principal"].as_str().unwrap(),
            action,
            purpose: case["purpose"].as_str(),
            encrypted: case["encrypted"].as_bool().unwrap_or(true),
            now: now(),
        };
        let out = disclose(&t.engine, &req, vec![object], &t.markings, &[7; 32], &|_| None);
        let outcome = &out.outcomes[0];
        let got = effect_name(outcome.decision.effect);
        let reasons: BTreeSet<&str> = outcome.decision.reasons.iter().map(|r| r.policy.as_str()).collect();
        let mut problems = Vec::new();
        if got != case["expect"] {
            problems.push(format!("effect {got}"));
        }
        for r in case["reasons"].as_array().into_iter().flatten() {
            if !reasons.contains(r.as_str().unwrap()) {
                problems.push(format!("missing reason {r}"));
            }
        }
        if let Some(a) = case["agreement"].as_str() {
            if outcome.decision.agreement.as_deref() != Some(a) {
                problems.push(format!("agreement {:?}", outcome.decision.agreement));
            }
        }
        for p in case["redacted"].as_array().into_iter().flatten() {
            if !outcome.redactions.iter().any(|r| r.path == p.as_str().unwrap()) {
                problems.push(format!("{p} not redacted"));
            }
        }
        // A denied object never leaves; an allowed one always does.
        if (got == "deny") != out.objects.is_empty() {
            problems.push("disclosed objects disagree with the decision".into());
        }
        if !problems.is_empty() {
            failures.push(format!("case {i} {case}: {} (reasons {reasons:?})", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), t.cases.len(), failures.join("\n"));
}
