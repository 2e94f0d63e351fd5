//! Tests of the service layer over a real data directory (SQLite store, ledger, Cedar policy): what
//! leaves through the reader is what the policy core's `disclose` releases and is logged first,
//! and every other service logs before it acts.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use accord_node::Node;
use accord_node::clock::{Clock, ManualClock};
use accord_node::gate::Channel;
use accord_node::ingest::import::{ImportOptions, Silent, import_objects};
use accord_node::quarantine::Refused;
use accord_policy::Action;
use accord_store::{Query, VersionFilter};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// A node initialised with the default configuration (its demo principals: `demo-analyst` of
/// the node's organisation, `demo-partner` of a French CSIRT under a CLEAR/GREEN agreement with
/// the strict redaction profile, `demo-oversight`), on a clock the test holds.
fn node() -> (tempfile::TempDir, Node, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    Node::init(dir.path()).unwrap();
    let clock = ManualClock::at(1_790_000_000_000_000);
    let node = Node::open_with_clock(dir.path(), clock.clone()).unwrap();
    (dir, node, clock)
}

fn import(node: &Node, objects: &[Value]) {
    let lines: Vec<String> = objects.iter().map(Value::to_string).collect();
    let opts = ImportOptions {
        collection: node.collection_id(None).unwrap(),
        strict: true,
        max_object_bytes: 1 << 20,
        from_partner: None,
    };
    let summary = import_objects(node, &lines, &opts, &Silent).unwrap();
    assert!(summary.committed && !summary.has_rejections(), "{summary:?}");
}

/// Every ledger entry, parsed.
fn entries(node: &Node) -> Vec<Value> {
    let ledger = node.ledger().unwrap();
    ledger
        .entries(0, ledger.size())
        .unwrap()
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

const TLP: [Option<&str>; 5] = [
    None,
    Some("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"), // clear
    Some("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"), // green
    Some("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9d13c"), // amber
    Some("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"), // red
];

fn tlp(o: &mut Value, which: usize) {
    if let Some(m) = TLP[which % TLP.len()] {
        o["object_marking_refs"] = json!([m]);
    }
}

/// A small world of objects: indicators (some with personal data in their descriptions), an
/// individual, e-mail addresses and the relationships between them, each with its TLP.
fn world(markings: &[usize], people: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, m) in markings.iter().enumerate() {
        let person = people[i % people.len()];
        let mut o = json!({
            "type": "indicator", "spec_version": "2.1",
            "id": format!("indicator--00000000-0000-4000-8000-{i:012}"),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": format!("indicator {i}"),
            "description": format!("reported by {person}, contact {person}@mail.example"),
            "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", i % 250),
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
        });
        tlp(&mut o, *m);
        let indicator = o["id"].clone();
        out.push(o);
        let mut email = json!({
            "type": "email-addr", "spec_version": "2.1", "value": format!("{person}@mail.example"),
        });
        let id = accord_stix::id::deterministic_sco_id(
            "email-addr",
            email.as_object().unwrap(),
            accord_stix::spec::type_spec("email-addr")
                .unwrap()
                .id_contributing,
        )
        .unwrap();
        email["id"] = Value::String(id);
        tlp(&mut email, m + 1);
        if !out.iter().any(|o: &Value| o["id"] == email["id"]) {
            out.push(email.clone());
        }
        let mut rel = json!({
            "type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-9000-{i:012}"),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "relationship_type": "related-to", "source_ref": indicator, "target_ref": email["id"],
        });
        tlp(&mut rel, m + 2);
        out.push(rel);
    }
    out.push(json!({
        "type": "identity", "spec_version": "2.1", "id": "identity--00000000-0000-4000-8000-00000000aaaa",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": people[0], "identity_class": "individual",
    }));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// What the reader lets leave for each principal is exactly what the policy core's
    /// `disclose` releases for the same objects, byte for byte; every version it decided is in
    /// a decisions entry, and the share lists exactly what left, with each released hash.
    #[test]
    fn the_reader_releases_what_disclose_releases_and_logs_it_first(
        markings in proptest::collection::vec(0usize..5, 1..12),
        who in proptest::sample::select(vec!["demo-analyst", "demo-partner", "@node"]),
    ) {
        let (_dir, node, _clock) = node();
        let objects = world(&markings, &["Jane Doe", "Max Mustermann"]);
        import(&node, &objects);
        let collection = node.collection_id(None).unwrap();
        let before = node.ledger().unwrap().size();
        let reader = node.reader(who, Action::Read, Channel::Taxii, None);
        let mut q = Query::new(&collection);
        q.limit = 1000;
        q.versions = VersionFilter::all();
        let page = reader.page(q.clone()).unwrap();
        prop_assert_eq!(node.ledger().unwrap().size(), before, "nothing is logged before it leaves");
        let released = page.disclose_blocking(&reader).unwrap();

        // The reference: disclose over the stored objects, parsed, in the store's order.
        let stored: Vec<Map<String, Value>> = {
            let mut all = Vec::new();
            let store = accord_store::SqliteStore::open(_dir.path().join("accord.db")).unwrap();
            for o in accord_store::Store::query(&store, &q).unwrap().objects {
                all.push(serde_json::from_str(&o.json).unwrap());
            }
            all
        };
        let key = accord_node::secrets::read_key(&_dir.path().join(accord_node::secrets::PSEUDONYM_KEY_FILE)).unwrap();
        let engine = node.policy_engine().unwrap();
        let req = accord_policy::Request {
            principal: who,
            action: Action::Read,
            purpose: None,
            encrypted: true,
            now: node.clock().now(),
            default_tlp: None,
        };
        let by_id = |id: &str| stored.iter().find(|o| o["id"] == id).cloned().map(Value::Object);
        let people: Vec<String> = stored.iter().filter_map(accord_policy::egress::individual_name).collect();
        let markings = std::collections::HashMap::new();
        let expected = accord_policy::disclose(&engine, &req, &stored, &markings, &key, &by_id, &people);
        let expected: Vec<String> = expected
            .objects
            .iter()
            .map(|o| accord_stix::jcs::to_canonical_string(&Value::Object(o.clone().into_owned())))
            .collect();
        let got: Vec<&str> = released.iter().map(|o| o.json.as_str()).collect();
        prop_assert_eq!(&got, &expected);

        // The ledger: one decision per version, one share naming what left and its hash.
        let logged = entries(&node);
        let new = &logged[before as usize..];
        let decided: usize = new
            .iter()
            .filter(|e| e["kind"] == "decisions")
            .map(|e| e["objects"].as_array().unwrap().len())
            .sum();
        prop_assert_eq!(decided, stored.len());
        let shares: Vec<&Value> = new.iter().filter(|e| e["kind"] == "share").collect();
        if released.is_empty() {
            prop_assert!(shares.is_empty());
        } else {
            prop_assert_eq!(shares.len(), 1);
            prop_assert_eq!(&shares[0]["principal"], who);
            prop_assert_eq!(&shares[0]["channel"], "taxii");
            let listed: Vec<(String, String)> = shares[0]["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["id"].as_str().unwrap().to_owned(), s["hash"].as_str().unwrap().to_owned()))
                .collect();
            let left: Vec<(String, String)> = released
                .iter()
                .map(|o| (o.id.clone(), accord_stix::ContentHash::of_canonical(o.json.as_bytes()).to_hex()))
                .collect();
            prop_assert_eq!(listed, left);
        }
        // Redactions name paths, never values.
        for e in new.iter().filter(|e| e["kind"] == "redaction") {
            let text = e.to_string();
            prop_assert!(!text.contains("Jane Doe") && !text.contains("mail.example"), "{}", text);
        }
    }
}

#[test]
fn quarantine_logs_then_keeps_and_a_review_is_logged_as_a_share() {
    let (_dir, node, _clock) = node();
    let collection = node.collection_id(None).unwrap();
    let json = r#"{"id":"indicator--00000000-0000-4000-8000-000000000001","type":"indicator"}"#;
    let kept = node
        .quarantine(
            &collection,
            "partner-node",
            vec![Refused {
                json: json.into(),
                reason: "no provenance signature".into(),
            }],
        )
        .unwrap();
    assert_eq!(kept.len(), 1);
    let logged = entries(&node);
    let q = logged.iter().find(|e| e["kind"] == "quarantine").unwrap();
    assert_eq!(q["object"], "indicator--00000000-0000-4000-8000-000000000001");
    assert_eq!(q["hash"], kept[0].hash);
    assert!(
        !q.to_string().contains("\"type\":\"indicator\""),
        "no content in the ledger"
    );
    // Listing shows no content and logs nothing; a review shows it and is logged first.
    let size = node.ledger().unwrap().size();
    assert_eq!(node.quarantined().unwrap()[0].object_id, kept[0].object_id);
    assert_eq!(node.ledger().unwrap().size(), size);
    let reviewed = node.review_quarantined("@node").unwrap();
    assert_eq!(reviewed[0].json, json);
    let share = entries(&node).pop().unwrap();
    assert_eq!(
        (share["kind"].as_str(), share["channel"].as_str()),
        (Some("share"), Some("quarantine-review"))
    );
    assert_eq!(share["objects"][0]["hash"], kept[0].hash);
}

#[test]
fn a_delete_is_authorised_and_logged_before_it_happens() {
    let (_dir, node, _clock) = node();
    let id = "indicator--00000000-0000-4000-8000-000000000000";
    import(&node, &world(&[1], &["Jane Doe"]));
    let collection = node.collection_id(None).unwrap();
    let dir = node.directory();
    let partner = &dir.principals["demo-partner"];
    let analyst = &dir.principals["demo-analyst"];
    let refused = node
        .delete_object(partner, &collection, id, &VersionFilter::all())
        .unwrap_err();
    assert!(
        matches!(refused, accord_node::NodeError::Forbidden(_)),
        "{refused}"
    );
    assert_eq!(
        node.delete_object(analyst, &collection, id, &VersionFilter::all())
            .unwrap(),
        1
    );
    let deletion = entries(&node)
        .into_iter()
        .find(|e| e["kind"] == "deletion")
        .unwrap();
    assert_eq!(
        (deletion["object"].as_str(), deletion["principal"].as_str()),
        (Some(id), Some("demo-analyst"))
    );
    assert!(!node.has_object(&collection, id).unwrap());
    let again = node
        .delete_object(analyst, &collection, id, &VersionFilter::all())
        .unwrap_err();
    assert!(matches!(again, accord_node::NodeError::NotFound(_)), "{again}");
}

#[test]
fn tokens_are_logged_before_they_exist_and_revoked_at_once() {
    let (_dir, node, clock) = node();
    let t = node.issue_token("demo-analyst", None).unwrap();
    let issued = entries(&node).into_iter().find(|e| e["kind"] == "token").unwrap();
    assert_eq!(
        (issued["action"].as_str(), issued["token"].as_str()),
        (Some("issued"), Some(t.record.id.as_str()))
    );
    assert!(
        !issued.to_string().contains(&t.secret),
        "the secret is never logged"
    );
    assert_eq!(
        node.token_principal(&t.record.id, &t.secret)
            .unwrap()
            .unwrap()
            .name,
        "demo-analyst"
    );
    assert!(node.token_principal(&t.record.id, "wrong").unwrap().is_none());
    assert!(node.revoke_token(&t.record.id).unwrap());
    assert!(
        node.token_principal(&t.record.id, &t.secret).unwrap().is_none(),
        "at once, not after the cache's lifetime"
    );
    assert!(!node.revoke_token(&t.record.id).unwrap(), "already revoked");
    assert!(node.issue_token("nobody", None).is_err());
    // Entries are dated by the node's clock.
    clock.advance(std::time::Duration::from_secs(60));
    node.issue_token("demo-analyst", None).unwrap();
    let last = entries(&node).pop().unwrap();
    let at = accord_stix::Timestamp::parse(last["time"].as_str().unwrap()).unwrap();
    assert_eq!(at.as_micros(), clock.now_micros());
}

#[test]
fn incidents_are_read_for_people_through_the_gate() {
    let (dir, node, _clock) = node();
    let report = dir.path().join("report.json");
    std::fs::write(
        &report,
        json!({
            "organisation": {"name": "Hospital", "home_jurisdiction": "DE"},
            "clocks": {"detected": "2026-09-01T08:00:00Z"}
        })
        .to_string(),
    )
    .unwrap();
    let pack = accord_node::obligations::pack(&node).unwrap();
    let id = accord_node::obligations::report(&node, &report, Some("Ransomware")).unwrap();
    let before = node.ledger().unwrap().size();
    let (object, _) = accord_node::obligations::timeline(&node, &pack, &id).unwrap();
    assert_eq!(object["id"], id.as_str());
    let new: Vec<Value> = entries(&node).split_off(before as usize);
    let share = new.iter().find(|e| e["kind"] == "share").unwrap();
    assert_eq!(
        (share["channel"].as_str(), share["principal"].as_str()),
        (Some("cli"), Some("@node"))
    );
    assert_eq!(share["objects"][0]["id"], id.as_str());
}
