//! Integration tests of the policy decision point: the data-driven decision table, policy loading
//! errors, explanations, redaction of real shapes, and a no-leak property test against an
//! independent reference model.
#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use accord_policy::cedar::Source;
use accord_policy::decision::{Action, Effect, Request};
use accord_policy::egress::{Lookups, Release, Stored, Verdict, release};
use accord_policy::profile::Category;
use accord_policy::{Engine, Model, ModelSpec, Outcome, Transform};
use accord_stix::Timestamp;
use accord_stix::markings::{Marking, classify};
use proptest::strategy::Strategy;
use serde_json::{Map, Value, json};

const TLP: [(&str, &str); 7] = [
    (
        "clear",
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    ),
    (
        "white",
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    ),
    (
        "green",
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    ),
    (
        "amber",
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    ),
    (
        "amber1",
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    ),
    (
        "amber+strict",
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    ),
    ("red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
];

/// The disclosure of a batch, with the released objects owned (for comparisons).
struct Owned {
    objects: Vec<Map<String, Value>>,
    outcomes: Vec<Outcome>,
}

impl Owned {
    fn withheld(&self) -> usize {
        self.outcomes.len() - self.objects.len()
    }
}

fn disclose(
    engine: &Engine,
    req: &Request<'_>,
    objects: Vec<Map<String, Value>>,
    markings: &dyn accord_policy::MarkingSource,
    key: &[u8; 32],
    resolve: &dyn Fn(&str) -> Option<Value>,
    people: &[String],
) -> Owned {
    let out = accord_policy::disclose(engine, req, &objects, markings, key, resolve, people);
    Owned {
        objects: out
            .objects
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect(),
        outcomes: out.outcomes,
    }
}

/// Canonical JSON text (RFC 8785), as the store keeps versions.
fn canonical(o: &Map<String, Value>) -> String {
    accord_stix::jcs::to_canonical_string(&Value::Object(o.clone()))
}

/// What the fast path reads from the store, in memory: marking definitions, objects by id, and
/// the names of the individuals among them. Counts how often the names are asked for.
struct TestStore<'a> {
    markings: &'a HashMap<String, Marking>,
    objects: HashMap<String, Value>,
    people: Arc<Vec<String>>,
    asked: Cell<usize>,
}

impl<'a> TestStore<'a> {
    fn new<'o>(
        markings: &'a HashMap<String, Marking>,
        objects: impl IntoIterator<Item = &'o Map<String, Value>>,
    ) -> Self {
        let objects: HashMap<String, Value> = objects
            .into_iter()
            .map(|o| (o["id"].as_str().unwrap().to_owned(), Value::Object(o.clone())))
            .collect();
        let mut people: Vec<String> = objects
            .values()
            .filter_map(|o| accord_policy::egress::individual_name(o.as_object()?))
            .collect();
        people.sort();
        TestStore {
            markings,
            objects,
            people: Arc::new(people),
            asked: Cell::new(0),
        }
    }
}

impl Lookups for TestStore<'_> {
    type Error = std::convert::Infallible;
    fn marking(&self, id: &str) -> Option<Marking> {
        self.markings.get(id).cloned()
    }
    fn object(&self, id: &str) -> Option<Value> {
        self.objects.get(id).cloned()
    }
    fn people(&self) -> Result<Arc<Vec<String>>, Self::Error> {
        self.asked.set(self.asked.get() + 1);
        Ok(self.people.clone())
    }
}

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
    if let Some(p) = spec["pattern"].as_str() {
        o["pattern"] = p.into();
    }
    // Any other properties, as given (custom properties, extensions, external references).
    for (k, v) in spec["properties"].as_object().into_iter().flatten() {
        o[k] = v.clone();
    }
    let mut refs: Vec<Value> = spec["tlp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| tlp_id(t.as_str().unwrap()).into())
        .collect();
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
                let r = g["ref"]
                    .as_str()
                    .map_or_else(|| tlp_id(g["tlp"].as_str().unwrap()).to_owned(), str::to_owned);
                json!({"marking_ref": r, "selectors": g["selectors"]})
            })
            .collect();
        o["granular_markings"] = list.into();
    }
    if let Some(h) = spec["handling"].as_object() {
        let mut ext = h.clone();
        ext.insert("extension_type".into(), "property-extension".into());
        if !o["extensions"].is_object() {
            o["extensions"] = json!({});
        }
        o["extensions"][accord_policy::HANDLING_EXTENSION_ID] = ext.into();
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
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                classify(m.as_object().unwrap()),
            )
        })
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
            default_tlp: None,
        };
        let out = disclose(
            &t.engine,
            &req,
            vec![object],
            &t.markings,
            &[7; 32],
            &|_| None,
            &[],
        );
        let outcome = &out.outcomes[0];
        let got = effect_name(outcome.decision.effect);
        let reasons: BTreeSet<&str> = outcome
            .decision
            .reasons
            .iter()
            .map(|r| r.policy.as_str())
            .collect();
        let mut problems = Vec::new();
        if got != case["expect"] {
            problems.push(format!("effect {got}"));
        }
        for r in case["reasons"].as_array().into_iter().flatten() {
            if !reasons.contains(r.as_str().unwrap()) {
                problems.push(format!("missing reason {r}"));
            }
        }
        // A string names the agreement relied on; null says none is (an own read, say).
        if let Some(a) = case.get("agreement")
            && outcome.decision.agreement.as_deref() != a.as_str()
        {
            problems.push(format!("agreement {:?}", outcome.decision.agreement));
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
        // What leaves is valid STIX, and holds none of the values the case says must not leave,
        // wherever they were written.
        for o in &out.objects {
            let report = accord_stix::validate(&Value::Object(o.clone()));
            if !report.is_valid() {
                let errors: Vec<String> = report
                    .errors()
                    .map(|f| format!("{} {}", f.path, f.message))
                    .collect();
                problems.push(format!("released object is invalid: {errors:?}"));
            }
        }
        let text = serde_json::to_string(&out.objects).unwrap();
        for v in case["absent"].as_array().into_iter().flatten() {
            if text.contains(v.as_str().unwrap()) {
                problems.push(format!("{v} leaves in {text}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "case {i} {case}: {} (reasons {reasons:?})",
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        t.cases.len(),
        failures.join("\n")
    );
}

/// A small deterministic generator (SplitMix64), so a failing case is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn subset<T: Clone>(&mut self, items: &[T], percent: u64) -> Vec<T> {
        items.iter().filter(|_| self.chance(percent)).cloned().collect()
    }
}

const LEVELS: [&str; 5] = ["clear", "green", "amber", "amber+strict", "red"];
const PURPOSES: [(&str, i64, bool); 4] = [
    ("situational-awareness", 0, false),
    ("detection", 2, false),
    ("victim-notification", 3, true),
    ("blocking", 4, false),
];
const IEP_ACTIONS: [&str; 5] = [
    "none",
    "contact-for-instruction",
    "internally-visible-actions",
    "externally-visible-indirect-actions",
    "externally-visible-direct-actions",
];
const CATEGORIES: [&str; 3] = ["email", "network-identifier", "health"];
const BASES: [&str; 2] = ["gdpr-6-1-e", "consent"];
const JURISDICTIONS: [&str; 3] = ["DE", "FR", "US"];

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap()
}

/// The reference: the sharing rules of the issue written directly, without Cedar.
mod reference {
    use super::*;

    pub struct Org {
        pub id: String,
        pub jurisdiction: String,
        pub public: bool,
    }
    pub struct Agreement {
        pub parties: Vec<String>,
        pub tlp: Vec<String>,
        pub purposes: Vec<String>,
        pub bases: Vec<String>,
        pub categories: Vec<String>,
        pub onward_none: bool,
        pub in_force: bool,
    }
    pub struct World {
        pub node: String,
        pub orgs: Vec<Org>,
        pub clients: Vec<String>,
        pub agreements: Vec<Agreement>,
        /// principal → (organisation, declared purposes)
        pub principals: Vec<(String, String, Vec<String>)>,
    }
    pub struct Obj {
        pub levels: Vec<String>,
        pub originator: Option<String>,
        pub iep: Option<(String, i64, bool, bool)>, // (tlp, permitted rank, affected must-not, encrypt must)
        pub basis: Option<String>,
        pub categories: Vec<String>,
        pub origin: Option<String>,
        pub recipients: Vec<String>,
        pub expired: bool,
        pub unknown_marking: bool,
    }

    pub fn allowed(w: &World, o: &Obj, principal: &str, purpose: &str, encrypted: bool) -> bool {
        let (_, org_id, declared) = w.principals.iter().find(|p| p.0 == principal).unwrap();
        let declared = if declared.is_empty() {
            vec!["situational-awareness".to_owned()]
        } else {
            declared.clone()
        };
        let own = *org_id == w.node;
        let originated = o.originator.as_deref() == Some(w.node.as_str());
        // An unknown marking hides an object from everyone but the organisation that made it.
        if !declared.iter().any(|d| d == purpose) || (o.unknown_marking && !(originated && own)) || o.expired
        {
            return false;
        }
        let (_, action, notifies) = PURPOSES.iter().find(|p| p.0 == purpose).copied().unwrap();
        let org = w.orgs.iter().find(|x| &x.id == org_id).unwrap();
        let node = w.orgs.iter().find(|x| x.id == w.node).unwrap();
        let mut levels: Vec<usize> = o.levels.iter().map(|l| rank(l)).collect();
        if let Some((t, ..)) = &o.iep {
            levels.push(rank(t));
        }
        let tlp = LEVELS[levels.into_iter().max().unwrap_or(rank("amber"))];
        if let Some((_, permitted, must_not, encrypt)) = &o.iep
            && (action > *permitted || (*must_not && notifies) || (*encrypt && !encrypted))
        {
            return false;
        }
        let binds = |a: &Agreement, x: &str| {
            a.in_force && a.parties.iter().any(|p| p == &w.node) && a.parties.iter().any(|p| p == x)
        };
        let client = !own && w.clients.contains(org_id);
        let named = o.recipients.iter().any(|r| r == principal || r == org_id);
        let origin = o.origin.clone().or_else(|| {
            o.originator
                .as_ref()
                .map(|x| w.orgs.iter().find(|y| &y.id == x).unwrap().jurisdiction.clone())
        });
        // Reading in house is no transfer.
        let cross =
            !own && (org.jurisdiction != node.jurisdiction || origin.is_some_and(|j| j != org.jurisdiction));
        let onward_blocked = !own
            && !originated
            && o.originator
                .as_ref()
                .is_some_and(|x| x != org_id && w.agreements.iter().any(|a| a.onward_none && binds(a, x)));
        if onward_blocked || (org.public && tlp != "clear") {
            return false;
        }
        // Each agreement with the recipient's organisation (none for this organisation itself),
        // and always relying on none: an agreement never takes away what the relation gives.
        let candidates: Vec<Option<&Agreement>> = w
            .agreements
            .iter()
            .filter(|a| !own && binds(a, org_id))
            .map(Some)
            .chain([None])
            .collect();
        let has_all = |a: &Agreement| o.categories.iter().all(|c| a.categories.contains(c));
        candidates.into_iter().any(|a| {
            let carries = |l: &str| a.is_some_and(|a| a.tlp.iter().any(|t| t == l));
            // TLP 2.0 for every object; objects originated here may go further under an
            // agreement carrying their level; RED only to named recipients, reached through an
            // agreement carrying RED unless they are this organisation or a declared client.
            let permitted = tlp == "clear"
                || (originated && own)
                || (originated && tlp != "red" && carries(tlp))
                || (tlp == "red" && named && (own || client || carries("red")))
                || (tlp == "green" && (own || client || carries("green")))
                || (tlp == "amber" && (own || client))
                || (tlp == "amber+strict" && own);
            let purpose_ok = own || a.is_none_or(|a| a.purposes.iter().any(|p| p == purpose));
            let categories_ok = own || a.is_none_or(has_all);
            let border_ok = !cross
                || (o.categories.is_empty() && o.basis.is_none())
                || a.is_some_and(|a| o.basis.as_ref().is_some_and(|b| a.bases.contains(b)) && has_all(a));
            permitted && purpose_ok && categories_ok && border_ok
        })
    }
}

fn identity(org: usize) -> String {
    format!("identity--{:08x}-0000-4000-8000-000000000000", org + 1)
}

/// Builds a random world and the same world as an Accord model.
fn random_world(r: &mut Rng) -> (reference::World, Model) {
    let n = 3 + r.below(3);
    let orgs: Vec<reference::Org> = (0..n)
        .map(|i| reference::Org {
            id: format!("org{i}"),
            jurisdiction: (*r.pick(&JURISDICTIONS)).to_owned(),
            public: i > 0 && r.chance(15),
        })
        .collect();
    let node = "org0".to_owned();
    let others: Vec<String> = orgs[1..].iter().map(|o| o.id.clone()).collect();
    let clients = r.subset(&others, 30);
    let purposes: Vec<String> = PURPOSES.iter().map(|p| p.0.to_owned()).collect();
    let agreements: Vec<reference::Agreement> = (0..r.below(4))
        .map(|_| reference::Agreement {
            parties: vec![node.clone(), r.pick(&others).clone()],
            tlp: r.subset(&LEVELS.map(str::to_owned), 50),
            purposes: r.subset(&purposes, 60),
            bases: r.subset(&BASES.map(str::to_owned), 50),
            categories: r.subset(&CATEGORIES.map(str::to_owned), 50),
            onward_none: r.chance(20),
            in_force: r.chance(85),
        })
        .collect();
    let principals: Vec<(String, String, Vec<String>)> = orgs
        .iter()
        .flat_map(|o| (0..2).map(move |k| (format!("{}-p{k}", o.id), o.id.clone())))
        .map(|(name, org)| (name, org, r.subset(&purposes, 50)))
        .collect();
    let world = reference::World {
        node: node.clone(),
        orgs,
        clients,
        agreements,
        principals,
    };
    let spec = json!({
        "node_organisation": node,
        "organisations": world.orgs.iter().enumerate().map(|(i, o)| json!({
            "id": o.id, "name": o.id, "jurisdiction": o.jurisdiction,
            "role": if o.public { "public" } else { "csirt" },
            "clients": if i == 0 { world.clients.clone() } else { Vec::new() },
            "identity": identity(i),
        })).collect::<Vec<_>>(),
        "agreements": world.agreements.iter().enumerate().map(|(i, a)| json!({
            "id": format!("a{i}"), "parties": a.parties, "tlp": a.tlp, "purposes": a.purposes,
            "legal_bases": a.bases, "data_categories": a.categories, "redaction_profile": "none",
            "onward_sharing": if a.onward_none { "none" } else { "tlp" },
            "valid_until": if a.in_force { "2099-01-01T00:00:00Z" } else { "2020-01-01T00:00:00Z" },
        })).collect::<Vec<_>>(),
        "principals": world.principals.iter().map(|(n, o, p)| json!({"name": n, "organisation": o, "purposes": p, "default_purpose": p.first()})).collect::<Vec<_>>(),
    });
    let model = Model::build(serde_json::from_value(spec).unwrap()).unwrap();
    (world, model)
}

fn random_object(
    r: &mut Rng,
    world: &reference::World,
    markings: &mut HashMap<String, Marking>,
) -> (reference::Obj, Map<String, Value>) {
    let levels: Vec<String> = (0..r.below(3)).map(|_| (*r.pick(&LEVELS)).to_owned()).collect();
    let n = world.orgs.len();
    let originator = match r.below(n + 1) {
        i if i < n => Some(i),
        _ => None,
    };
    let iep = r.chance(30).then(|| {
        let tlp = (*r.pick(&["white", "green", "amber", "red"])).to_owned();
        (tlp, r.below(5) as i64, r.chance(30), r.chance(30))
    });
    let handling = r.chance(50);
    let obj = reference::Obj {
        levels: levels.clone(),
        originator: originator.map(|i| world.orgs[i].id.clone()),
        iep: iep
            .clone()
            .map(|(t, p, m, e)| (if t == "white" { "clear".to_owned() } else { t }, p, m, e)),
        basis: (handling && r.chance(50)).then(|| (*r.pick(&BASES)).to_owned()),
        categories: if handling {
            r.subset(&CATEGORIES.map(str::to_owned), 30)
        } else {
            Vec::new()
        },
        origin: (handling && r.chance(30)).then(|| (*r.pick(&JURISDICTIONS)).to_owned()),
        recipients: if handling {
            let names: Vec<String> = world
                .principals
                .iter()
                .map(|p| p.0.clone())
                .chain(world.orgs.iter().map(|o| o.id.clone()))
                .collect();
            r.subset(&names, 10)
        } else {
            Vec::new()
        },
        expired: handling && r.chance(10),
        unknown_marking: r.chance(5),
    };
    let mut refs: Vec<String> = levels.iter().map(|l| tlp_id(l).to_owned()).collect();
    if let Some((tlp, permitted, must_not, encrypt)) = &iep {
        let id = format!("marking-definition--{}", uuid::Uuid::new_v4());
        let def = json!({"type": "marking-definition", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00.000Z",
            "extensions": {"extension-definition--762e2e97-ee51-43e5-a9ea-165fbb862c4a": {
                "extension_type": "property-extension", "iep_version": "2.0", "iep_id": uuid::Uuid::new_v4().to_string(),
                "description": "p", "start_date": "2024-01-01T00:00:00Z", "tlp": tlp,
                "permitted_actions": IEP_ACTIONS[*permitted as usize],
                "affected_party_notifications": if *must_not { "must-not" } else { "may" },
                "encrypt_in_transit": if *encrypt { "must" } else { "may" }}}});
        markings.insert(id.clone(), classify(def.as_object().unwrap()));
        refs.push(id);
    }
    if obj.unknown_marking {
        refs.push(format!("marking-definition--{}", uuid::Uuid::new_v4()));
    }
    let mut o = json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--{}", uuid::Uuid::new_v4()),
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '203.0.113.9']", "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z"});
    if !refs.is_empty() {
        o["object_marking_refs"] = refs.into();
    }
    if let Some(i) = originator {
        o["created_by_ref"] = identity(i).into();
    }
    if handling {
        let mut ext = json!({"extension_type": "property-extension", "personal_data_categories": obj.categories, "recipients": obj.recipients,
            "retention_until": if obj.expired { "2020-01-01T00:00:00Z" } else { "2099-01-01T00:00:00Z" }});
        if let Some(b) = &obj.basis {
            ext["legal_basis"] = b.clone().into();
        }
        if let Some(j) = &obj.origin {
            ext["origin_jurisdiction"] = j.clone().into();
        }
        o["extensions"] = json!({ accord_policy::HANDLING_EXTENSION_ID: ext });
    }
    (obj, o.as_object().unwrap().clone())
}

/// No-leak property: random organisations, agreements and marked objects; Accord's decision
/// must equal the reference model's, 100,000 times, through the fast path production takes
/// (`release` over stored text, in batches, with the engine's memo and, for half the batches,
/// without it) and through `Engine::decide`.
#[test]
fn no_leak_against_reference_model() {
    const WORLDS: u64 = 500;
    const PER_WORLD: usize = 200;
    let mut disagreements = Vec::new();
    let mut allowed = 0usize;
    for seed in 0..WORLDS {
        let mut r = Rng(seed);
        let (world, model) = random_world(&mut r);
        let memo = Engine::new(model.clone(), &[]).unwrap();
        let plain = Engine::new(model, &[]).unwrap().without_memo();
        let mut markings = HashMap::new();
        let objects: Vec<_> = (0..40)
            .map(|_| random_object(&mut r, &world, &mut markings))
            .collect();
        let texts: Vec<(String, String)> = objects
            .iter()
            .map(|(_, o)| (o["id"].as_str().unwrap().to_owned(), canonical(o)))
            .collect();
        let store = TestStore::new(&markings, objects.iter().map(|(_, o)| o));
        let (mut case, mut batch_no) = (0, 0);
        while case < PER_WORLD {
            let principal = r.pick(&world.principals).0.clone();
            let purpose = r.pick(&PURPOSES).0;
            let encrypted = r.chance(80);
            let req = Request {
                principal: &principal,
                action: Action::Read,
                purpose: Some(purpose),
                encrypted,
                now: now(),
                default_tlp: None,
            };
            // A batch of one to four versions (repeats included), as a page is read.
            let batch: Vec<usize> = (0..(1 + r.below(4)).min(PER_WORLD - case))
                .map(|_| r.below(objects.len()))
                .collect();
            let stored: Vec<Stored<'_>> = batch
                .iter()
                .map(|&i| Stored {
                    id: &texts[i].0,
                    json: &texts[i].1,
                })
                .collect();
            let fast = release(&memo.decider(&req), &stored, &store, &[7; 32]).unwrap();
            let unmemoised = (batch_no % 2 == 0)
                .then(|| release(&plain.decider(&req), &stored, &store, &[7; 32]).unwrap());
            batch_no += 1;
            for (k, &i) in batch.iter().enumerate() {
                let (obj, stix) = &objects[i];
                let expected = reference::allowed(&world, obj, &principal, purpose, encrypted);
                allowed += usize::from(expected);
                let got = memo.decide(&req, stix, &markings);
                let leaves = |x: &Verdict| (x.outcome.decision.allowed(), x.release != Release::Withheld);
                let bad = got.allowed() != expected
                    || leaves(&fast[k]) != (expected, expected)
                    || unmemoised
                        .as_ref()
                        .is_some_and(|u| leaves(&u[k]) != (expected, expected));
                if bad {
                    disagreements.push(format!(
                        "seed {seed} case {case}: {principal} {purpose} enc={encrypted} object {} expected {expected}, got {:?} {:?}, fast path {:?} {:?}",
                        serde_json::to_string(stix).unwrap(), got.effect, got.reasons,
                        fast[k].outcome.decision.effect, fast[k].outcome.decision.reasons
                    ));
                }
                case += 1;
            }
        }
    }
    // The generator must exercise both outcomes, or agreement would prove nothing.
    let total = WORLDS as usize * PER_WORLD;
    assert!(
        allowed > total / 10 && allowed < total * 9 / 10,
        "{allowed} of {total} allowed"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree; first:\n{}",
        disagreements.len(),
        WORLDS as usize * PER_WORLD,
        disagreements
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Redaction on real shapes.

/// A model where `partner` (another country) receives CLEAR data under an agreement with the
/// given redaction profile.
fn redaction_engine(profile: &str) -> Engine {
    let spec = json!({
        "node_organisation": "home",
        "organisations": [
            {"id": "home", "name": "Home CSIRT", "jurisdiction": "DE", "role": "csirt"},
            {"id": "abroad", "name": "Partner CSIRT", "jurisdiction": "FR", "role": "csirt"}
        ],
        "agreements": [{"id": "bilateral", "parties": ["home", "abroad"], "tlp": ["clear", "green"],
            "purposes": ["detection"], "legal_bases": ["gdpr-6-1-e"],
            "data_categories": ["email", "network-identifier"], "redaction_profile": profile}],
        "principals": [{"name": "partner", "organisation": "abroad", "purposes": ["detection"]},
                       {"name": "analyst", "organisation": "home", "purposes": ["detection"]}]
    });
    let mut spec: ModelSpec = serde_json::from_value(spec).unwrap();
    spec.profiles.push(
        serde_json::from_value(json!({"name": "dropper", "email": "drop", "individual": "drop",
        "user_account": "drop", "url": "drop", "network": "drop"}))
        .unwrap(),
    );
    Engine::new(Model::build(spec).unwrap(), &[]).unwrap()
}

fn clear(mut o: Value) -> Map<String, Value> {
    o["object_marking_refs"] = json!([tlp_id("clear")]);
    o.as_object().unwrap().clone()
}

fn partner_request() -> Request<'static> {
    Request {
        principal: "partner",
        action: Action::Read,
        purpose: None,
        encrypted: true,
        now: now(),
        default_tlp: None,
    }
}

/// Every `*_ref`/`*_refs` value in `objects` that names an object type present in `ids`' kinds
/// must resolve to an object in `ids`.
fn dangling(objects: &[Map<String, Value>], known: &BTreeSet<String>) -> Vec<String> {
    fn walk(v: &Value, key: &str, known: &BTreeSet<String>, out: &mut Vec<String>) {
        match v {
            Value::String(s)
                if (key.ends_with("_ref") || key.ends_with("_refs"))
                    && !known.contains(s)
                    && !s.starts_with("marking-definition--") =>
            {
                out.push(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, known, out)),
            Value::Object(m) => m.iter().for_each(|(k, x)| walk(x, k, known, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for o in objects {
        for (k, v) in o {
            walk(v, k, known, &mut out);
        }
    }
    out
}

fn ids(objects: &[Map<String, Value>]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn oasis_apt1_report_leaks_no_personal_data() {
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string("../../../shared/data/stix/examples/threat-reports_apt1.json").unwrap(),
    )
    .unwrap();
    let objects: Vec<Map<String, Value>> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| clear(o.clone()))
        .collect();
    let individuals: Vec<(String, String)> = objects
        .iter()
        .filter(|o| o["type"] == "identity" && o["identity_class"] == "individual")
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_owned(),
                o["contact_information"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(individuals.len(), 4);
    let no_markings = HashMap::new();
    for profile in ["strict", "dropper"] {
        let engine = redaction_engine(profile);
        let out = disclose(
            &engine,
            &partner_request(),
            objects.clone(),
            &no_markings,
            &[1; 32],
            &|_| None,
            &[],
        );
        let text = serde_json::to_string(&out.objects).unwrap();
        for (name, contact) in &individuals {
            assert!(!text.contains(name.as_str()), "{profile}: name {name} survived");
            assert!(
                !text.contains(contact.as_str()),
                "{profile}: contact {contact} survived"
            );
        }
        let known = ids(&out.objects);
        assert_eq!(
            dangling(&out.objects, &known),
            Vec::<String>::new(),
            "{profile}: dangling references"
        );
        for o in &out.objects {
            let report = accord_stix::validate(&Value::Object(o.clone()));
            assert!(
                report.is_valid(),
                "{profile}: redacted object is invalid: {report:?}"
            );
        }
        assert!(
            out.outcomes
                .iter()
                .any(|o| o.decision.effect == Effect::AllowWithRedaction)
        );
        // Every redaction names the object, the path and the kind of data, never the value.
        let log = serde_json::to_string(&out.outcomes).unwrap();
        assert!(
            !individuals
                .iter()
                .any(|(n, c)| log.contains(n.as_str()) || log.contains(c.as_str()))
        );
    }
    // Inside the organisation nothing is redacted.
    let engine = redaction_engine("strict");
    let req = Request {
        principal: "analyst",
        ..partner_request()
    };
    let out = disclose(
        &engine,
        &req,
        objects.clone(),
        &no_markings,
        &[1; 32],
        &|_| None,
        &[],
    );
    assert_eq!(out.objects, objects);
}

fn sco_id(ty: &str, value: &Value) -> String {
    let spec = accord_stix::spec::type_spec(ty).unwrap();
    accord_stix::id::deterministic_sco_id(ty, value.as_object().unwrap(), spec.id_contributing).unwrap()
}

/// SCOs, references between them, and personal data in free text.
fn personal_shapes() -> Vec<Map<String, Value>> {
    let ext = |cats: &[&str]| json!({ accord_policy::HANDLING_EXTENSION_ID: {"extension_type": "property-extension", "personal_data_categories": cats} });
    let email = json!({"type": "email-addr", "spec_version": "2.1", "value": "alice.victim@corp.example", "display_name": "Alice Victim"});
    let email = json!({"id": sco_id("email-addr", &email)})
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .chain(email.as_object().unwrap().clone())
        .collect::<Map<_, _>>();
    let account = json!({"type": "user-account", "spec_version": "2.1", "user_id": "alice", "account_login": "alice", "account_type": "unix", "credential": "hunter2"});
    let account_id = sco_id("user-account", &account);
    let dir = json!({"type": "directory", "spec_version": "2.1", "path": "/home/alice/Downloads"});
    let dir_id = sco_id("directory", &dir);
    let url = json!({"type": "url", "spec_version": "2.1", "value": "https://alice:s3cret@portal.example/login?session=abc123&user=alice"});
    let url_id = sco_id("url", &url);
    let mut ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "value": "192.0.2.77", "extensions": ext(&["network-identifier"])});
    ip["extensions"][accord_policy::HANDLING_EXTENSION_ID]["legal_basis"] = "gdpr-6-1-e".into();
    let ip_id = sco_id("ipv4-addr", &json!({"type": "ipv4-addr", "value": "192.0.2.77"}));
    let victim = json!({"type": "identity", "spec_version": "2.1", "id": "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "name": "Victim Corp", "identity_class": "organization"});
    let malware = json!({"type": "malware", "spec_version": "2.1", "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "name": "Dropper", "is_family": false});
    let mut list = vec![
        Value::Object(email.clone()),
        {
            let mut a = account.clone();
            a["id"] = account_id.clone().into();
            a
        },
        {
            let mut d = dir.clone();
            d["id"] = dir_id.clone().into();
            d
        },
        json!({"type": "file", "spec_version": "2.1", "id": sco_id("file", &json!({"name": "invoice.pdf.exe", "parent_directory_ref": dir_id})), "name": "invoice.pdf.exe", "parent_directory_ref": dir_id}),
        {
            let mut u = url.clone();
            u["id"] = url_id.clone().into();
            u
        },
        {
            let mut i = ip.clone();
            i["id"] = ip_id.clone().into();
            i
        },
        json!({"type": "email-message", "spec_version": "2.1", "id": "email-message--8d2b1c6e-7a35-4a8b-9c4e-0f5d9e1c2b3a",
            "is_multipart": false, "from_ref": email["id"], "subject": "Invoice", "body": "see attachment"}),
        victim.clone(),
        malware.clone(),
        json!({"type": "observed-data", "spec_version": "2.1", "id": "observed-data--6a2b7c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
            "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
            "first_observed": "2025-01-01T00:00:00Z", "last_observed": "2025-01-01T00:00:00Z", "number_observed": 1,
            "object_refs": [ip_id, url_id, account_id, email["id"]]}),
        json!({"type": "sighting", "spec_version": "2.1", "id": "sighting--5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
            "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
            "sighting_of_ref": malware["id"], "where_sighted_refs": [victim["id"]],
            "observed_data_refs": ["observed-data--6a2b7c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]}),
        json!({"type": "note", "spec_version": "2.1", "id": "note--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
            "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
            "content": "Reported by bob.helpdesk@corp.example (+44 20 7946 0958). Payload in C:\\Users\\bob\\AppData\\Local\\Temp on 2025-01-01.",
            "object_refs": [malware["id"]], "x_reporter_name": "Bob Helpdesk"}),
    ];
    for o in &mut list {
        o["object_marking_refs"] = json!([tlp_id("clear")]);
    }
    list.into_iter().map(|o| o.as_object().unwrap().clone()).collect()
}

const PERSONAL_VALUES: [&str; 12] = [
    "alice.victim@corp.example",
    "Alice Victim",
    "hunter2",
    "/home/alice",
    "alice:s3cret",
    "session=abc123",
    "192.0.2.77",
    "bob.helpdesk@corp.example",
    "+44 20 7946 0958",
    "Users\\\\bob",
    "Bob Helpdesk",
    "where_sighted_refs",
];

#[test]
fn scos_free_text_and_references_are_minimised_consistently() {
    let engine = redaction_engine("strict");
    let objects = personal_shapes();
    for o in &objects {
        assert!(
            accord_stix::validate(&Value::Object(o.clone())).is_valid(),
            "fixture {o:?}"
        );
    }
    let out = disclose(
        &engine,
        &partner_request(),
        objects.clone(),
        &HashMap::new(),
        &[1; 32],
        &|_| None,
        &[],
    );
    assert_eq!(out.objects.len(), objects.len(), "{:#?}", out.outcomes);
    let text = serde_json::to_string(&out.objects).unwrap();
    for v in PERSONAL_VALUES {
        assert!(!text.contains(v), "{v} survived in {text}");
    }
    assert!(text.contains("192.0.2.0/24"), "IPv4 generalised to its /24");
    assert!(
        text.contains("https://portal.example/login"),
        "URL kept without user-info and query"
    );
    assert!(
        text.contains("2025-01-01"),
        "dates are not mistaken for phone numbers"
    );
    // Rewritten SCO ids are the deterministic ids of the redacted content, and every reference
    // points at an object in the output.
    for o in &out.objects {
        let ty = o["type"].as_str().unwrap();
        let spec = accord_stix::spec::type_spec(ty).unwrap();
        if !spec.id_contributing.is_empty() {
            let expected = accord_stix::id::deterministic_sco_id(ty, o, spec.id_contributing).unwrap();
            assert_eq!(o["id"], expected.as_str(), "{ty}");
        }
        assert!(
            accord_stix::validate(&Value::Object(o.clone())).is_valid(),
            "{o:?}"
        );
    }
    assert_eq!(dangling(&out.objects, &ids(&out.objects)), Vec::<String>::new());

    // Pages: the same objects disclosed one at a time, with the rest found through the resolver,
    // give the same result; pseudonyms are stable.
    let store: HashMap<String, Value> = objects
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_owned(), Value::Object(o.clone())))
        .collect();
    let resolve = |id: &str| store.get(id).cloned();
    let paged: Vec<Map<String, Value>> = objects
        .iter()
        .flat_map(|o| {
            disclose(
                &engine,
                &partner_request(),
                vec![o.clone()],
                &HashMap::new(),
                &[1; 32],
                &resolve,
                &[],
            )
            .objects
        })
        .collect();
    assert_eq!(paged, out.objects);

    // Another key (another agreement or node) gives other pseudonyms.
    let other = disclose(
        &engine,
        &partner_request(),
        objects.clone(),
        &HashMap::new(),
        &[2; 32],
        &|_| None,
        &[],
    );
    assert_ne!(other.objects, out.objects);

    // Drop profile: personal SCOs are withheld and references to them removed, never dangling.
    let dropper = redaction_engine("dropper");
    let out = disclose(
        &dropper,
        &partner_request(),
        objects,
        &HashMap::new(),
        &[1; 32],
        &|_| None,
        &[],
    );
    let text = serde_json::to_string(&out.objects).unwrap();
    for v in PERSONAL_VALUES {
        assert!(!text.contains(v), "{v} survived the drop profile");
    }
    assert!(out.withheld() >= 4, "{:#?}", out.outcomes);
    assert_eq!(dangling(&out.objects, &ids(&out.objects)), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Operator policies, bad input and explanations.

fn table_model() -> Model {
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/decisions.json").unwrap()).unwrap();
    Model::build(serde_json::from_value(data["model"].clone()).unwrap()).unwrap()
}

fn operator(text: &str) -> Result<Engine, String> {
    Engine::new(
        table_model(),
        &[Source {
            name: "site.cedar".into(),
            text: text.into(),
        }],
    )
    .map_err(|e| e.to_string())
}

#[test]
fn broken_operator_policies_are_rejected_with_file_and_position() {
    let err = operator("permit(principal, action, resource)\nwhen { resource.tlp == };").unwrap_err();
    assert!(err.starts_with("site.cedar:2:"), "{err}");
    let err =
        operator("forbid(principal, action, resource) when { resource.colour == \"red\" };").unwrap_err();
    assert!(err.contains("site.cedar") && err.contains("colour"), "{err}");
    let err = operator("forbid(principal == Accord::Principal::\"mallory\", action, resource);").unwrap_err();
    assert!(err.contains("unknown entity") && err.contains("mallory"), "{err}");
    let err = operator(
        "forbid(principal, action, resource) when { context.agreement == Accord::Agreement::\"nope\" };",
    )
    .unwrap_err();
    assert!(err.contains("nope"), "{err}");
    let mut spec_json: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/decisions.json").unwrap()).unwrap();
    spec_json["model"]["agreements"][0]["parties"][1] = "atlantis".into();
    let err = Model::build(serde_json::from_value(spec_json["model"].clone()).unwrap()).unwrap_err();
    assert_eq!((err.section, err.index), ("agreements", 0));
    assert!(err.to_string().contains("atlantis"), "{err}");
}

#[test]
fn operator_policies_add_to_the_shipped_ones_and_are_explained() {
    // An operator forbids giving anything to the bank for blocking-style purposes and names itself.
    let engine = operator(
        "@id(\"no-research-for-fr\")\n@reason(\"research use is not approved for cert-fr\")\n\
         forbid(principal in Accord::Organisation::\"cert-fr\", action, resource) when { context.purpose == \"situational-awareness\" };",
    )
    .unwrap();
    let t = load_table();
    let object = &t.objects["green-received"];
    let req = Request {
        principal: "fr-node",
        action: Action::Read,
        purpose: Some("situational-awareness"),
        encrypted: true,
        now: now(),
        default_tlp: None,
    };
    let d = engine.decide(&req, object, &t.markings);
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(d.reasons[0].policy, "no-research-for-fr");
    assert_eq!(d.reasons[0].text, "research use is not approved for cert-fr");
    let req = Request {
        purpose: Some("detection"),
        ..req
    };
    assert!(engine.decide(&req, object, &t.markings).allowed());

    let e = engine.explain(&req, object, &t.markings);
    assert!(e.decision.allowed());
    assert_eq!(e.evaluations.len(), 1);
    assert_eq!(e.evaluations[0].agreement.as_deref(), Some("eu-csirts"));
    assert_eq!(e.evaluations[0].context["relation"], "community");
    assert_eq!(e.evaluations[0].context["cross_border"], true);
    assert_eq!(e.principal["organisation"], "cert-fr");
    assert_eq!(e.handling.tlp.as_str(), "green");
}

/// The shipped extension-definition is valid STIX, and its JSON schema describes exactly the
/// properties the handling derivation reads.
#[test]
fn shipped_handling_extension_matches_what_is_read() {
    let def: Value = serde_json::from_str(include_str!("../extension/accord-handling.json")).unwrap();
    assert!(accord_stix::validate(&def).is_valid());
    assert_eq!(def["id"], accord_policy::HANDLING_EXTENSION_ID);
    let schema: Value =
        serde_json::from_str(include_str!("../extension/accord-handling.schema.json")).unwrap();
    assert_eq!(def["schema"], schema["$id"]);
    let props: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let ext = json!({"extension_type": "property-extension", "purposes": ["detection"], "legal_basis": "gdpr-6-1-e",
        "personal_data_categories": ["email"], "origin_jurisdiction": "FR", "retention_until": "2030-01-01T00:00:00Z",
        "consent_ref": "consent-42", "recipients": ["cert-fr"]});
    let written: BTreeSet<&str> = ext.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(props, written);
    let mut o = build_object("ext", &json!({"tlp": ["green"]}), &json!({"organisations": []}));
    o.insert(
        "extensions".into(),
        json!({ accord_policy::HANDLING_EXTENSION_ID: ext }),
    );
    let h = accord_policy::Handling::derive(&o, &table_model(), &HashMap::new(), None);
    let d = &h.declared;
    assert_eq!(d.purposes, ["detection"]);
    assert_eq!(d.legal_basis.as_deref(), Some("gdpr-6-1-e"));
    assert!(d.personal_data_categories.contains("email"));
    assert_eq!(d.origin_jurisdiction.as_deref(), Some("FR"));
    assert!(h.retention_until.is_some());
    assert_eq!(d.consent_ref.as_deref(), Some("consent-42"));
    assert_eq!(d.recipients, ["cert-fr"]);
}

fn json_leaf() -> impl Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Strings that look like what the detectors look for, and anything else.
        prop_oneof![
            "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}",
            "\\+[0-9]{2} [0-9]{2,4} [0-9]{3,4} [0-9]{3,4}",
            "/home/[a-z]{1,8}/[a-z]{0,8}",
            "https?://[a-z]{0,5}(:[a-z]{0,5})?@?[a-z]{1,8}\\.example/[a-z]{0,5}\\??[a-z=&]{0,10}",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,2})?",
            "(email-addr|identity|ipv4-addr|url|relationship|directory|file)--[0-9a-f]{8}-0000-4000-8000-[0-9a-f]{12}",
            ".{0,20}",
        ]
        .prop_map(Value::from),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Whatever an object holds, egress decides and minimises it without panicking, and what it
    /// releases still serialises.
    #[test]
    fn egress_never_panics_on_arbitrary_objects(
        ty in proptest::sample::select(vec!["indicator", "identity", "email-addr", "user-account", "url", "ipv4-addr",
            "ipv6-addr", "directory", "file", "process", "sighting", "observed-data", "note", "relationship", "x-custom"]),
        props in proptest::collection::btree_map(
            proptest::sample::select(vec!["id", "name", "value", "description", "contact_information", "x_person_name",
                "identity_class", "where_sighted_refs", "object_refs", "source_ref", "parent_directory_ref", "path",
                "command_line", "objects", "object_marking_refs", "created_by_ref", "granular_markings", "extensions",
                "user_id", "credential"]).prop_map(str::to_owned),
            proptest::prop_oneof![
                json_leaf(),
                proptest::collection::vec(json_leaf(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z_]{1,8}", json_leaf(), 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ],
            0..10,
        ),
    ) {
        let mut o: Map<String, Value> = props.into_iter().collect();
        o.insert("type".into(), ty.into());
        if ty == "identity" && o.contains_key("name") {
            o.insert("identity_class".into(), "individual".into());
        }
        let engine = redaction_engine("strict");
        let batch = vec![o.clone(), o];
        let store: HashMap<String, Value> = batch
            .iter()
            .filter_map(|o| Some((o.get("id")?.as_str()?.to_owned(), Value::Object(o.clone()))))
            .collect();
        let out = disclose(&engine, &partner_request(), batch, &HashMap::new(), &[5; 32], &|id| store.get(id).cloned(),
            &["Jane Doe".to_owned()]);
        proptest::prop_assert_eq!(out.outcomes.len(), 2);
        proptest::prop_assert!(serde_json::to_string(&out.objects).is_ok());
    }
}

// ---------------------------------------------------------------------------------------------
// The fast path of egress against the reference (`disclose`), and the facts given to Cedar
// against the schema.

const TLP1: [&str; 4] = [
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
];
const IEP_ATTRIBUTION: &str = "marking-definition--1e900000-0000-4000-8000-000000000001";
const IEP_CLEAR_STRICT: &str = "marking-definition--1e900000-0000-4000-8000-000000000002";
const IEP_NO_TLP: &str = "marking-definition--1e900000-0000-4000-8000-000000000003";
const STATEMENT: &str = "marking-definition--57a70000-0000-4000-8000-000000000001";
const UNKNOWN: &str = "marking-definition--dead0000-0000-4000-8000-000000000001";
const NAMES: [&str; 4] = ["Jane Doe", "Bob Helpdesk", "Alice Victim", "Li"];
const EGRESS_PRINCIPALS: [&str; 10] = [
    "analyst",
    "teller",
    "fr-analyst",
    "nl-analyst",
    "isac-bot",
    "us-analyst",
    "reporter",
    "wanderer",
    "@node",
    "nobody",
];

fn org_identity(n: usize) -> String {
    format!("identity--0000000{n}-0000-4000-8000-00000000000{n}")
}

/// A community with an agreement for each redaction profile (one expired, one forbidding
/// onward sharing, one organisation bound by two), clients, a public recipient and strangers.
fn egress_model() -> Model {
    let org = |n: usize, id: &str, j: &str, role: &str| json!({"id": id, "name": id, "jurisdiction": j, "role": role, "identity": org_identity(n)});
    let mut home = org(1, "home", "DE", "csirt");
    home["clients"] = json!(["bank"]);
    let all = [
        "situational-awareness",
        "detection",
        "incident-response",
        "research",
        "victim-notification",
        "law-enforcement",
        "blocking",
    ];
    let spec = json!({
        "node_organisation": "home",
        "organisations": [home, org(2, "bank", "DE", "operator"), org(3, "cert-fr", "FR", "csirt"),
            org(4, "cert-nl", "NL", "csirt"), org(5, "isac", "DE", "isac"), org(6, "cert-us", "US", "csirt"),
            org(7, "news", "DE", "public"),
            {"id": "stranger", "name": "stranger", "jurisdiction": "JP", "role": "vendor"}],
        "agreements": [
            {"id": "fr", "parties": ["home", "cert-fr"], "tlp": ["clear", "green", "amber"],
             "purposes": ["detection", "situational-awareness", "incident-response", "victim-notification"],
             "legal_bases": ["gdpr-6-1-e"], "data_categories": ["email", "network-identifier"], "redaction_profile": "strict"},
            {"id": "nl", "parties": ["home", "cert-nl"], "tlp": ["clear", "green"], "purposes": ["detection", "situational-awareness"],
             "legal_bases": ["gdpr-6-1-e", "consent"], "data_categories": ["email", "network-identifier", "health"],
             "redaction_profile": "masker", "onward_sharing": "none"},
            {"id": "isac", "parties": ["home", "isac"], "tlp": ["clear", "green", "amber", "amber+strict"], "purposes": all,
             "data_categories": ["email"], "redaction_profile": "none"},
            {"id": "isac-clear", "parties": ["home", "isac"], "tlp": ["clear"], "purposes": ["detection", "situational-awareness"],
             "redaction_profile": "pseudo"},
            {"id": "us", "parties": ["home", "cert-us"], "tlp": ["clear", "green"], "purposes": ["detection"],
             "redaction_profile": "dropper", "valid_until": "2020-01-01T00:00:00Z"}
        ],
        "profiles": [
            {"name": "dropper", "email": "drop", "individual": "drop", "user_account": "drop", "url": "drop", "network": "drop",
             "phone": "drop", "contact": "drop", "home_directory": "drop"},
            {"name": "masker", "email": "mask", "phone": "mask", "individual": "mask", "user_account": "mask", "url": "mask",
             "network": "generalise", "contact": "mask", "home_directory": "mask", "victim": "drop"},
            {"name": "pseudo", "email": "pseudonymise", "phone": "pseudonymise", "individual": "pseudonymise",
             "user_account": "pseudonymise", "url": "pseudonymise", "network": "drop", "contact": "pseudonymise",
             "home_directory": "pseudonymise", "victim": "keep"},
            {"name": "mixed", "email": "keep", "phone": "drop", "individual": "pseudonymise", "user_account": "mask",
             "url": "keep", "network": "keep", "contact": "drop", "home_directory": "drop", "victim": "keep"}
        ],
        "settings": {"default_redaction_profile": "mixed"},
        "principals": [
            {"name": "analyst", "organisation": "home", "purposes": ["detection", "blocking", "incident-response"], "default_purpose": "detection"},
            {"name": "teller", "organisation": "bank"},
            {"name": "fr-analyst", "organisation": "cert-fr", "purposes": ["detection", "victim-notification", "situational-awareness"], "default_purpose": "detection"},
            {"name": "nl-analyst", "organisation": "cert-nl", "purposes": ["detection"]},
            {"name": "isac-bot", "organisation": "isac"},
            {"name": "us-analyst", "organisation": "cert-us", "purposes": ["detection"]},
            {"name": "reporter", "organisation": "news"},
            {"name": "wanderer", "organisation": "stranger"}
        ]
    });
    let spec: ModelSpec = serde_json::from_value(spec).unwrap();
    Model::build(spec).unwrap()
}

/// IEP policies (one forbidding attribution), a statement, and a definition that is not one.
fn egress_markings() -> HashMap<String, Marking> {
    let iep = |id: &str, terms: Value| {
        let mut ext = json!({"extension_type": "property-extension", "iep_version": "2.0",
            "iep_id": "4d1c5b3e-0000-4000-8000-000000000000", "description": "p", "start_date": "2024-01-01T00:00:00Z"});
        ext.as_object_mut()
            .unwrap()
            .extend(terms.as_object().unwrap().clone());
        json!({"type": "marking-definition", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00.000Z",
            "extensions": {"extension-definition--762e2e97-ee51-43e5-a9ea-165fbb862c4a": ext}})
    };
    [
        iep(IEP_ATTRIBUTION, json!({"tlp": "amber", "permitted_actions": "internally-visible-actions", "provider_attribution": "must-not"})),
        iep(IEP_CLEAR_STRICT, json!({"tlp": "white", "affected_party_notifications": "must-not", "encrypt_in_transit": "must"})),
        iep(IEP_NO_TLP, json!({"provider_attribution": "must-not", "permitted_actions": "externally-visible-direct-actions"})),
        json!({"type": "marking-definition", "spec_version": "2.1", "id": STATEMENT, "created": "2024-01-01T00:00:00.000Z",
            "definition_type": "statement", "definition": {"statement": "Copyright"}}),
    ]
    .iter()
    .map(|m| (m["id"].as_str().unwrap().to_owned(), classify(m.as_object().unwrap())))
    .collect()
}

/// Free text, now and then naming people and their contacts.
fn free_text(r: &mut Rng, n: usize, raw: &mut Raw) -> String {
    let parts = [
        "Beacon to the C2 node".to_owned(),
        format!("reported by user{n}@corp.example"),
        "call +49 30 1234 5678".to_owned(),
        format!("dump in /home/hd{n}/tmp"),
        format!("seen on {}'s laptop", r.pick(&NAMES)),
        "on 2025-01-01 at 10:00".to_owned(),
        format!("upload to https://fu{n}:pw@files.example/put?t=fq{n}"),
    ];
    raw.extend([
        (format!("user{n}@corp.example"), "email"),
        ("+49 30 1234 5678".to_owned(), "phone"),
        (format!("hd{n}"), "home-directory"),
        (format!("fu{n}"), "url"),
        (format!("fq{n}"), "url"),
    ]);
    r.subset(&parts, 35).join("; ")
}

type Objects = Vec<Map<String, Value>>;

/// Personal values a batch holds, each with its category (`Category::as_str`): wherever they
/// were written, none may leave to a recipient whose profile does not keep that category.
type Raw = Vec<(String, &'static str)>;

/// Whether `v` occurs in `text` as a whole token (not inside a longer name, number or address).
fn occurs(text: &str, v: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(v)
        .any(|(at, _)| !word(text[..at].chars().next_back()) && !word(text[at + v.len()..].chars().next()))
}

/// Indicator patterns with personal data at every kind of place a pattern can hold it, one that
/// does not parse, and one without; the values each holds.
fn random_pattern(r: &mut Rng, i: usize) -> (String, Raw, bool) {
    let (pattern, raw, network): (String, Raw, bool) = match r.below(9) {
        0 => (
            format!("[email-addr:value = 'pat{i}@corp.example']"),
            vec![(format!("pat{i}@corp.example"), "email")],
            false,
        ),
        1 => (
            format!("[user-account:account_login = 'acct{i}x'] AND [file:name = 'a.exe']"),
            vec![(format!("acct{i}x"), "user-account")],
            false,
        ),
        2 => (
            format!("[url:value = 'https://pu{i}:pw@portal.example/x?pq{i}=1'] REPEATS 2 TIMES"),
            vec![(format!("pu{i}"), "url"), (format!("pq{i}"), "url")],
            false,
        ),
        3 => (
            format!("[directory:path = '/home/ph{i}/x' OR process:cwd LIKE 'C:\\\\Users\\\\pw{i}\\\\%']"),
            vec![
                (format!("ph{i}"), "home-directory"),
                (format!("pw{i}"), "home-directory"),
            ],
            false,
        ),
        4 => (
            format!(
                "[email-message:from_ref.value LIKE 'from{i}@corp.example' AND email-message:to_refs[*].value IN ('to{i}@corp.example', 'cc{i}@corp.example')]"
            ),
            vec![
                (format!("from{i}@corp.example"), "email"),
                (format!("to{i}@corp.example"), "email"),
                (format!("cc{i}@corp.example"), "email"),
            ],
            false,
        ),
        5 => (
            format!(
                "[network-traffic:dst_ref.value = '203.0.113.{i}'] FOLLOWEDBY [ipv4-addr:value IN ('203.0.113.{}', '10.9.8.7')]",
                100 + i
            ),
            vec![
                (format!("203.0.113.{i}"), "network"),
                (format!("203.0.113.{}", 100 + i), "network"),
            ],
            true,
        ),
        6 => (
            format!("[x-crm:x_contact = 'cx{i}@corp.example']"),
            vec![(format!("cx{i}@corp.example"), "email")],
            false,
        ),
        // Does not parse: it cannot be minimised, so it must not leave where a profile applies.
        7 => (
            format!("[email-addr:value = 'broken{i}@corp.example'"),
            vec![(format!("broken{i}@corp.example"), "email")],
            false,
        ),
        _ => ("[ipv4-addr:value = '198.51.100.7']".to_owned(), Vec::new(), false),
    };
    (pattern, raw, network)
}

/// One random batch: objects with random handling (TLP 1.0 and 2.0, IEP, unknown markings,
/// statements, granular markings, creators, the handling extension) and personal data (SCOs,
/// individuals, free text), referring to each other and to objects only in the store.
fn egress_batch(r: &mut Rng, seed: u64) -> (Objects, Objects, Raw) {
    let n = 6 + r.below(10);
    let mut raw: Raw = Vec::new();
    let sdo_id = |ty: &str, i: usize| format!("{ty}--{:08x}-0000-4000-8000-{i:012x}", seed);
    // Objects only in the store: an individual named in free text, and an e-mail address.
    let mut store_only = vec![
        json!({"type": "identity", "spec_version": "2.1", "id": sdo_id("identity", 999),
            "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
            "name": r.pick(&NAMES), "identity_class": "individual"}),
        {
            let mut e = json!({"type": "email-addr", "spec_version": "2.1", "value": format!("stored{seed}@corp.example")});
            e["id"] = sco_id("email-addr", &e).into();
            e
        },
    ];
    // Handling shared by many objects, so that a batch holds versions decided alike.
    let common = [
        vec![tlp_id("green")],
        vec![tlp_id("amber")],
        vec![tlp_id("clear")],
        vec![TLP1[1]],
    ];
    let shared_refs: Vec<&str> = r.pick(&common).clone();
    let mut objects: Vec<Value> = Vec::new();
    for i in 0..n {
        let kind = r.below(12);
        let (pattern, pattern_raw, network) = random_pattern(r, i);
        let mut o = match kind {
            0 | 1 => {
                raw.extend(
                    pattern_raw
                        .into_iter()
                        .filter(|(_, c)| *c != "network" || network),
                );
                raw.extend([
                    (format!("ru{i}"), "url"),
                    (format!("rq{i}"), "url"),
                    (format!("ed{i}@corp.example"), "email"),
                    (format!("ei{i}@corp.example"), "email"),
                ]);
                json!({"type": "indicator", "spec_version": "2.1", "id": sdo_id("indicator", i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                "pattern": pattern, "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                "labels": ["c2", "botnet"], "external_references": [{"source_name": "s", "url": format!("https://ru{i}:pw@ref.example/?id=rq{i}"),
                    "description": format!("from ed{i}@corp.example"), "external_id": format!("ticket ei{i}@corp.example")}]})
            }
            2 => {
                raw.extend([
                    (format!("person{i}@mail.example"), "email"),
                    ("+44 20 7946 0958".to_owned(), "phone"),
                ]);
                json!({"type": "identity", "spec_version": "2.1", "id": sdo_id("identity", i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                "name": r.pick(&NAMES), "identity_class": if r.chance(70) { "individual" } else { "organization" },
                "contact_information": format!("person{i}@mail.example, +44 20 7946 0958")})
            }
            3 => {
                raw.push((format!("user{seed}x{i}@corp.example"), "email"));
                json!({"type": "email-addr", "spec_version": "2.1", "value": format!("user{seed}x{i}@corp.example"),
                "display_name": r.pick(&NAMES)})
            }
            4 => {
                raw.extend([
                    (format!("u{seed}x{i}"), "user-account"),
                    (format!("lg{seed}x{i}"), "user-account"),
                    ("hunter2".to_owned(), "user-account"),
                    (format!("uh{i}"), "home-directory"),
                ]);
                let mut a = json!({"type": "user-account", "spec_version": "2.1", "user_id": format!("u{seed}x{i}"),
                "account_login": format!("lg{seed}x{i}"), "credential": "hunter2", "display_name": r.pick(&NAMES)});
                if r.chance(50) {
                    a["extensions"] =
                        json!({"unix-account-ext": {"home_dir": format!("/home/uh{i}"), "shell": "/bin/sh"}});
                }
                a
            }
            5 => json!({"type": "ipv4-addr", "spec_version": "2.1", "value": format!("192.0.2.{i}")}),
            6 => {
                raw.extend([(format!("su{i}"), "url"), (format!("sq{i}"), "url")]);
                json!({"type": "url", "spec_version": "2.1",
                "value": if r.chance(50) { format!("https://su{i}:p@portal.example/{i}?s=sq{i}") } else { format!("https://portal.example/{i}") }})
            }
            7 => {
                raw.push((format!("user{seed}x{i}"), "home-directory"));
                json!({"type": "directory", "spec_version": "2.1", "path": format!("/home/user{seed}x{i}/Downloads")})
            }
            8 => {
                raw.extend([
                    (format!("nc{i}@corp.example"), "email"),
                    (format!("nu{i}"), "url"),
                ]);
                json!({"type": "note", "spec_version": "2.1", "id": sdo_id("note", i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                "content": if r.chance(50) { format!("ask nc{i}@corp.example, or see https://nu{i}:pw@x.example/") } else { "see".to_owned() }})
            }
            9 => json!({"type": "sighting", "spec_version": "2.1", "id": sdo_id("sighting", i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z"}),
            10 => json!({"type": "relationship", "spec_version": "2.1", "id": sdo_id("relationship", i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "relationship_type": "related-to"}),
            _ => json!({"type": "observed-data", "spec_version": "2.1", "id": sdo_id("observed-data", i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                "first_observed": "2025-01-01T00:00:00Z", "last_observed": "2025-01-01T00:00:00Z", "number_observed": 1}),
        };
        if r.chance(60) && matches!(kind, 0..=2 | 8..=11) {
            o["description"] = free_text(r, i, &mut raw).into();
        }
        // Custom properties and extensions, nested.
        if r.chance(25) {
            o["x_report"] = json!({"by": format!("xr{i}@corp.example"), "calls": ["+49 30 1234 5678"],
                "seen_at": format!("/Users/xh{i}/Desktop")});
            raw.extend([
                (format!("xr{i}@corp.example"), "email"),
                ("+49 30 1234 5678".to_owned(), "phone"),
                (format!("xh{i}"), "home-directory"),
            ]);
        }
        if r.chance(20) {
            if !o["extensions"].is_object() {
                o["extensions"] = json!({});
            }
            o["extensions"]["extension-definition--a1b2c3d4-0000-4000-8000-000000000001"] = json!({
                "extension_type": "property-extension", "owner": format!("ex{i}@corp.example"),
                "link": format!("https://eu{i}:pw@crm.example/c?eq{i}=1")});
            raw.extend([
                (format!("ex{i}@corp.example"), "email"),
                (format!("eu{i}"), "url"),
                (format!("eq{i}"), "url"),
            ]);
        }
        // Markings: mostly the shared handling; otherwise any mix.
        if r.chance(55) {
            o["object_marking_refs"] = json!(shared_refs);
        } else if r.chance(85) {
            let pool: Vec<&str> = TLP
                .iter()
                .map(|t| t.1)
                .chain(TLP1)
                .chain([IEP_ATTRIBUTION, IEP_CLEAR_STRICT, IEP_NO_TLP, STATEMENT, UNKNOWN])
                .collect();
            let refs: Vec<&str> = (0..1 + r.below(2)).map(|_| *r.pick(&pool)).collect();
            o["object_marking_refs"] = json!(refs);
        }
        if r.chance(50) {
            o["created_by_ref"] = if r.chance(90) {
                org_identity(1 + r.below(7))
            } else {
                sdo_id("identity", 998)
            }
            .into();
        }
        if r.chance(35) {
            let mut ext = json!({"extension_type": "property-extension",
                "personal_data_categories": r.subset(&["email", "network-identifier", "health"], 40)});
            if r.chance(50) {
                ext["legal_basis"] = (*r.pick(&["gdpr-6-1-e", "consent"])).into();
            }
            if r.chance(20) {
                ext["recipients"] = json!(r.subset(&["fr-analyst", "cert-nl", "isac", "teller"], 50));
            }
            if r.chance(20) {
                ext["origin_jurisdiction"] = (*r.pick(&["DE", "FR", "US"])).into();
            }
            if r.chance(15) {
                ext["retention_until"] = (*r.pick(&["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])).into();
            }
            if r.chance(10) {
                ext["purposes"] = json!(["detection"]);
            }
            if !o["extensions"].is_object() {
                o["extensions"] = json!({});
            }
            o["extensions"][accord_policy::HANDLING_EXTENSION_ID] = ext;
        }
        // The victims' addresses in a pattern are personal where the indicator says so.
        if network && matches!(kind, 0 | 1) {
            let ext = o["extensions"]
                .as_object_mut()
                .and_then(|e| e.get_mut(accord_policy::HANDLING_EXTENSION_ID))
                .and_then(Value::as_object_mut);
            match ext {
                Some(ext) => {
                    let mut cats = ext.get("personal_data_categories").cloned().unwrap_or(json!([]));
                    if let Some(list) = cats.as_array_mut() {
                        list.push("network-identifier".into());
                    }
                    ext.insert("personal_data_categories".into(), cats);
                }
                None => {
                    if !o["extensions"].is_object() {
                        o["extensions"] = json!({});
                    }
                    o["extensions"][accord_policy::HANDLING_EXTENSION_ID] = json!({"extension_type": "property-extension",
                        "personal_data_categories": ["network-identifier"]});
                }
            }
        }
        if o["type"] == "ipv4-addr"
            && o["extensions"][accord_policy::HANDLING_EXTENSION_ID]["personal_data_categories"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == "network-identifier"))
        {
            raw.push((o["value"].as_str().unwrap().to_owned(), "network"));
        }
        if r.chance(25) {
            let selectors: Vec<&str> = [
                "description",
                "labels.[0]",
                "labels",
                "external_references.[0].url",
                "name",
                "pattern",
                "value",
                "display_name",
                "content",
                "contact_information",
                "credential",
                "x_report.by",
                "x_report.calls.[0]",
                "external_references.[0].description",
                "extensions",
            ]
            .into_iter()
            // Only selectors that resolve: the input is valid STIX, so what leaves must be.
            .filter(|s| accord_stix::validate::resolve_selector(&o, s).is_some())
            .collect();
            let refs = [
                tlp_id("red"),
                tlp_id("amber+strict"),
                tlp_id("amber"),
                tlp_id("green"),
                TLP1[3],
                UNKNOWN,
                IEP_ATTRIBUTION,
                STATEMENT,
            ];
            let list: Vec<Value> = (0..1 + r.below(2))
                .map(|_| {
                    if selectors.is_empty() {
                        return None;
                    }
                    let sel = r.subset(&selectors, 30);
                    let sel = if sel.is_empty() {
                        vec![*r.pick(&selectors)]
                    } else {
                        sel
                    };
                    Some(if r.chance(10) {
                        json!({"lang": "de", "selectors": sel})
                    } else {
                        json!({"marking_ref": r.pick(&refs), "selectors": sel})
                    })
                })
                .collect::<Option<_>>()
                .unwrap_or_default();
            if !list.is_empty() {
                o["granular_markings"] = list.into();
            }
        }
        objects.push(o);
    }
    // References, to objects of the batch and of the store; then the SCOs' deterministic ids.
    let mut ids: Vec<String> = Vec::new();
    for o in &mut objects {
        let ty = o["type"].as_str().unwrap().to_owned();
        if o.get("id").is_none() {
            let spec = accord_stix::spec::type_spec(&ty).unwrap();
            let id = accord_stix::id::deterministic_sco_id(&ty, o.as_object().unwrap(), spec.id_contributing)
                .unwrap();
            o["id"] = id.into();
        }
        ids.push(o["id"].as_str().unwrap().to_owned());
    }
    ids.extend(store_only.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
    // References of the types STIX allows each property (the store always has some of each).
    let of = |types: &dyn Fn(&str) -> bool| -> Vec<String> {
        ids.iter()
            .filter(|id| id.split_once("--").is_some_and(|(t, _)| types(t)))
            .cloned()
            .collect()
    };
    let sco = |t: &str| accord_stix::spec::type_spec(t).is_some_and(|s| !s.id_contributing.is_empty());
    let observable = of(&|t| sco(t) || t == "relationship");
    let sdo = of(&|t| !sco(t) && !matches!(t, "relationship" | "sighting"));
    let places = of(&|t| t == "identity");
    let related = of(&|t| !matches!(t, "relationship" | "sighting"));
    for o in &mut objects {
        match o["type"].as_str().unwrap() {
            "note" => {
                o["object_refs"] = json!(
                    r.subset(&ids, 40)
                        .into_iter()
                        .chain([r.pick(&ids).clone()])
                        .collect::<Vec<_>>()
                )
            }
            "observed-data" => {
                o["object_refs"] = json!(
                    r.subset(&observable, 40)
                        .into_iter()
                        .chain([r.pick(&observable).clone()])
                        .collect::<Vec<_>>()
                )
            }
            "sighting" => {
                o["sighting_of_ref"] = r.pick(&sdo).clone().into();
                o["where_sighted_refs"] = json!([r.pick(&places)]);
            }
            "relationship" => {
                o["source_ref"] = r.pick(&related).clone().into();
                o["target_ref"] = r.pick(&related).clone().into();
            }
            _ => {}
        }
    }
    store_only.push(json!({"type": "relationship", "spec_version": "2.1", "id": sdo_id("relationship", 997),
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "relationship_type": "related-to",
        "source_ref": r.pick(&ids), "target_ref": r.pick(&ids)}));
    let objects: Vec<Map<String, Value>> = objects
        .into_iter()
        .map(|o| o.as_object().unwrap().clone())
        .collect();
    let store_only = store_only
        .into_iter()
        .map(|o| o.as_object().unwrap().clone())
        .collect();
    (objects, store_only, raw)
}

/// The members an object's handling is derived from, alone.
fn handling_head(o: &Map<String, Value>) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| accord_policy::HANDLING_MEMBERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The fast path (`release` over stored text) gives what the reference (`disclose` over the
/// parsed objects) gives: the same outcomes (effect, reasons, agreement, profile, redactions)
/// and the same released objects, for random batches, principals, purposes and actions. And an
/// object's handling is the handling of its `HANDLING_MEMBERS` alone.
#[test]
fn fast_path_releases_what_disclose_releases() {
    const BATCHES: u64 = 400;
    let engine = Engine::new(egress_model(), &[]).unwrap();
    let model = egress_model();
    let markings = egress_markings();
    let key = [9; 32];
    let mut failures = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for seed in 0..BATCHES {
        let mut r = Rng(1_000_000 + seed);
        let (objects, store_only, raw) = egress_batch(&mut r, seed);
        for o in &objects {
            let report = accord_stix::validate(&Value::Object(o.clone()));
            if !report.is_valid() {
                failures.push(format!("seed {seed}: invalid fixture {o:?}: {report:?}"));
            }
        }
        for o in &objects {
            let full = accord_policy::Handling::derive(o, &model, &markings, None);
            let head = accord_policy::Handling::derive(&handling_head(o), &model, &markings, None);
            if full != head {
                failures.push(format!(
                    "seed {seed}: handling read beyond HANDLING_MEMBERS: {full:?} != {head:?}"
                ));
            }
        }
        let store = TestStore::new(&markings, objects.iter().chain(&store_only));
        // Stored text is canonical, but for some versions (the fallback that parses it all).
        let texts: Vec<String> = objects
            .iter()
            .map(|o| {
                if r.chance(10) {
                    serde_json::to_string_pretty(o).unwrap()
                } else {
                    canonical(o)
                }
            })
            .collect();
        let stored: Vec<Stored<'_>> = objects
            .iter()
            .zip(&texts)
            .map(|(o, json)| Stored {
                id: o["id"].as_str().unwrap(),
                json,
            })
            .collect();
        for _ in 0..3 {
            let req = Request {
                principal: EGRESS_PRINCIPALS[r.below(EGRESS_PRINCIPALS.len())],
                action: *r.pick(&[Action::Read, Action::Read, Action::Export, Action::Push]),
                purpose: *r.pick(&[
                    None,
                    None,
                    Some("detection"),
                    Some("situational-awareness"),
                    Some("victim-notification"),
                    Some("incident-response"),
                    Some("blocking"),
                    Some("gossip"),
                ]),
                encrypted: r.chance(85),
                now: now(),
                default_tlp: *r.pick(&[None, None, None, Some(accord_stix::markings::TlpLevel::Clear)]),
            };
            store.asked.set(0);
            let fast = release(&engine.decider(&req), &stored, &store, &key).unwrap();
            let reference = accord_policy::disclose(
                &engine,
                &req,
                &objects,
                &markings,
                &key,
                &|id| store.object(id),
                &store.people,
            );
            let parsed = fast
                .iter()
                .filter(|f| !f.outcome.decision.leaves_unchanged())
                .count();
            if store.asked.get() != usize::from(parsed > 0) {
                failures.push(format!(
                    "seed {seed}: names of individuals asked {} times, {parsed} versions parsed",
                    store.asked.get()
                ));
            }
            let mut released = reference.objects.iter();
            for (k, f) in fast.iter().enumerate() {
                let expected = &reference.outcomes[k];
                let object: Option<&Map<String, Value>> = expected
                    .decision
                    .allowed()
                    .then(|| released.next().unwrap().as_ref());
                if let Some(o) = object {
                    // What leaves is valid STIX (the inputs are) ...
                    let report = accord_stix::validate(&Value::Object(o.clone()));
                    if !report.is_valid() {
                        let errors: Vec<String> = report
                            .errors()
                            .map(|f| format!("{} {}", f.path, f.message))
                            .collect();
                        failures.push(format!(
                            "seed {seed} {req:?}: released object is invalid: {errors:?}\n{o:?}"
                        ));
                    }
                    // ... and holds no personal value of the batch that its profile transforms,
                    // wherever it was written.
                    let profile = expected
                        .decision
                        .profile
                        .as_deref()
                        .and_then(|p| model.profiles.get(p));
                    let text = canonical(o);
                    for (v, category) in &raw {
                        let category = Category::ALL
                            .into_iter()
                            .find(|c| c.as_str() == *category)
                            .unwrap();
                        if profile.is_some_and(|p| p.transform(category) != Transform::Keep)
                            && occurs(&text, v)
                        {
                            failures.push(format!(
                                "seed {seed} {req:?}: {v} ({}) leaves under profile {:?}: {text}",
                                category.as_str(),
                                expected.decision.profile
                            ));
                        }
                    }
                }
                let want = object.map(canonical);
                let got = f
                    .text(stored[k].json)
                    .map(|t| canonical(&serde_json::from_str(&t).unwrap()));
                if f.outcome != *expected || got != want {
                    failures.push(format!(
                        "seed {seed} {req:?} object {}:\n fast {:?}\n  ref {:?}\n fast json {got:?}\n  ref json {want:?}",
                        stored[k].json,
                        f.outcome,
                        expected
                    ));
                }
                seen.insert(match (&f.release, f.outcome.decision.effect) {
                    (Release::Withheld, _) if f.outcome.decision.leaves_unchanged() => {
                        "withheld by the policies"
                    }
                    (Release::Withheld, _) => "withheld by minimisation",
                    (Release::Unchanged, _) if f.outcome.decision.leaves_unchanged() => {
                        "unchanged without parsing"
                    }
                    (Release::Unchanged, _) => "unchanged after parsing",
                    (Release::Redacted(o), _) if o.get("id") != objects[k].get("id") => {
                        "redacted with a new id"
                    }
                    (Release::Redacted(_), _) => "redacted",
                });
                for rd in &f.outcome.redactions {
                    seen.insert(rd.category);
                    if rd.path == "$.pattern" {
                        seen.insert("pattern");
                    }
                    if rd.path.starts_with("$.extensions.extension-definition--") {
                        seen.insert("extension");
                    }
                    if rd.path.starts_with("$.external_references") {
                        seen.insert("external reference");
                    }
                    if rd.path.starts_with("$.x_report") {
                        seen.insert("custom property");
                    }
                }
            }
        }
        if failures.len() > 5 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures; first:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
    // The generator must reach every kind of outcome, or agreement would prove little.
    for kind in [
        "withheld by the policies",
        "withheld by minimisation",
        "unchanged without parsing",
        "unchanged after parsing",
        "redacted with a new id",
        "redacted",
        "granular-marking",
        "provider-attribution",
        "email",
        "phone",
        "user-account",
        "individual",
        "contact",
        "victim",
        "network",
        "url",
        "home-directory",
        "reference",
        "derived-id",
        "pattern",
        "extension",
        "external reference",
        "custom property",
    ] {
        assert!(seen.contains(kind), "never {kind}: {seen:?}");
    }
}

/// The entities and context built for Cedar conform to the schema, for every request of the
/// decision table and of random worlds: an engine that checks each against the schema decides
/// exactly as one that does not, and never reports an evaluation error.
#[test]
fn cedar_requests_conform_to_the_schema() {
    let t = load_table();
    let checking = Engine::new(table_model(), &[])
        .unwrap()
        .validating()
        .without_memo();
    let mut decided = 0;
    for case in &t.cases {
        let object = &t.objects[case["object"].as_str().unwrap()];
        for action in [Action::Read, Action::Export, Action::Push] {
            let req = Request {
                principal: case["principal"].as_str().unwrap(),
                action,
                purpose: case["purpose"].as_str(),
                encrypted: case["encrypted"].as_bool().unwrap_or(true),
                now: now(),
                default_tlp: None,
            };
            let got = checking.explain(&req, object, &t.markings);
            assert_eq!(got.decision, t.engine.decide(&req, object, &t.markings), "{case}");
            for e in &got.evaluations {
                assert!(
                    !e.policies.iter().any(|p| p.policy == "evaluation-error"),
                    "{case}: {:?}",
                    e.policies
                );
            }
            decided += got.evaluations.len();
        }
    }
    for seed in 0..20 {
        let mut r = Rng(seed);
        let (world, model) = random_world(&mut r);
        let plain = Engine::new(model.clone(), &[]).unwrap();
        let checking = Engine::new(model, &[]).unwrap().validating();
        let mut markings = HashMap::new();
        for _ in 0..50 {
            let (_, stix) = random_object(&mut r, &world, &mut markings);
            let principal = r.pick(&world.principals).0.clone();
            let req = Request {
                principal: &principal,
                action: *r.pick(&[Action::Read, Action::Export, Action::Push]),
                purpose: Some(r.pick(&PURPOSES).0),
                encrypted: r.chance(80),
                now: now(),
                default_tlp: None,
            };
            let got = checking.decide(&req, &stix, &markings);
            assert_eq!(got, plain.decide(&req, &stix, &markings));
            assert!(
                !got.reasons.iter().any(|p| p.policy == "evaluation-error"),
                "{:?}",
                got.reasons
            );
            decided += 1;
        }
    }
    assert!(decided > 1000, "{decided}");
}

/// The table's model with one change to its JSON.
fn table_model_with(change: impl FnOnce(&mut Value)) -> Result<Model, accord_policy::ModelError> {
    let mut data: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/decisions.json").unwrap()).unwrap();
    change(&mut data["model"]);
    Model::build(serde_json::from_value(data["model"].take()).unwrap())
}

/// `explain` for this organisation's own principals shows the one evaluation that applied
/// (relying on no agreement), not one per partner agreement; a partner's shows its agreement
/// and the evaluation relying on none.
#[test]
fn explain_shows_only_the_agreements_that_applied() {
    let t = load_table();
    let object = &t.objects["green-received"];
    let explain = |principal: &str| {
        let req = Request {
            principal,
            action: Action::Read,
            purpose: None,
            encrypted: true,
            now: now(),
            default_tlp: None,
        };
        t.engine.explain(&req, object, &t.markings)
    };
    let own = explain("analyst");
    let tried: Vec<Option<&str>> = own.evaluations.iter().map(|e| e.agreement.as_deref()).collect();
    assert_eq!(tried, [None], "{tried:?}");
    assert_eq!(own.decision.agreement, None);
    let partner = explain("fr-node");
    let tried: Vec<Option<&str>> = partner
        .evaluations
        .iter()
        .map(|e| e.agreement.as_deref())
        .collect();
    assert_eq!(
        tried,
        [Some("eu-csirts")],
        "the first that permits ends the search"
    );
    let stranger = explain("nl");
    let tried: Vec<Option<&str>> = stranger
        .evaluations
        .iter()
        .map(|e| e.agreement.as_deref())
        .collect();
    assert_eq!(tried, [Some("nl-red")], "{tried:?}");
    let denied = explain("us");
    let tried: Vec<Option<&str>> = denied
        .evaluations
        .iter()
        .map(|e| e.agreement.as_deref())
        .collect();
    assert_eq!(tried, [None], "the expired agreement is not in force: {tried:?}");
}

/// The default purpose is explicit: several purposes without `default_purpose` is an error
/// naming the principal; a default outside its purposes too; exactly one purpose is the default.
#[test]
fn default_purpose_is_explicit() {
    let err = table_model_with(|m| {
        m["principals"][0]
            .as_object_mut()
            .unwrap()
            .remove("default_purpose");
    })
    .unwrap_err();
    assert_eq!(
        (err.section, err.index, err.name.as_str()),
        ("principals", 0, "analyst")
    );
    assert!(err.to_string().contains("default_purpose"), "{err}");
    let err = table_model_with(|m| m["principals"][0]["default_purpose"] = "research".into()).unwrap_err();
    assert!(err.to_string().contains("\"research\""), "{err}");
    let model = table_model();
    let one = &model.principals["bank"];
    assert_eq!(model.default_purpose(one), "detection");
    assert_eq!(
        model.default_purpose(&model.principals["ciso"]),
        "situational-awareness"
    );
    assert_eq!(model.default_purpose(&model.principals["water"]), "detection");
    // Several purposes and no default: the first purpose is not taken silently.
    assert!(table_model_with(|m| m["principals"][1]["default_purpose"] = Value::Null).is_err());
}

/// Data categories are a vocabulary: an agreement naming an unknown one is refused on load,
/// naming the category and the agreement; declared ones are accepted; an object's unknown
/// categories are listed for a warning.
#[test]
fn data_categories_are_a_declared_vocabulary() {
    let err =
        table_model_with(|m| m["agreements"][0]["data_categories"] = json!(["email", "emial"])).unwrap_err();
    assert_eq!((err.section, err.name.as_str()), ("agreements", "eu-csirts"));
    assert!(err.to_string().contains("\"emial\""), "{err}");
    let declared = table_model_with(|m| {
        m["agreements"][0]["data_categories"] = json!(["email", "licence-plate"]);
        m["data_categories"] = json!([{"name": "licence-plate", "description": "vehicle registrations"}]);
    })
    .unwrap();
    assert!(declared.data_categories.contains("licence-plate"));
    let twice = table_model_with(|m| m["data_categories"] = json!([{"name": "email"}])).unwrap_err();
    assert_eq!(twice.section, "data_categories");

    let t = load_table();
    let mut object = t.objects["pd-basis"].clone();
    object["extensions"][accord_policy::HANDLING_EXTENSION_ID]["personal_data_categories"] =
        json!(["email", "emial", "health"]);
    assert_eq!(t.engine.model().unknown_data_categories(&object), ["emial"]);
    assert!(
        t.engine
            .model()
            .unknown_data_categories(&t.objects["pd-basis"])
            .is_empty()
    );
    let req = Request {
        principal: "analyst",
        action: Action::Read,
        purpose: None,
        encrypted: true,
        now: now(),
        default_tlp: None,
    };
    let d = t.engine.decide(&req, &object, &t.markings);
    assert!(
        d.warnings.iter().any(|w| w.contains("\"emial\"")),
        "{:?}",
        d.warnings
    );
}
