//! Integration tests for accord-stix: the OASIS and ATT&CK corpora, data-driven valid and invalid
//! cases, ids computed by the OASIS library, and property tests for JCS and SCO ids.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use accord_stix::input::{self, Hint};
use accord_stix::{Rule, Severity, id, jcs, json, spec, validate};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/stix")
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    out
}

/// Every object of every shared file validates without errors and survives parse → canonical
/// JSON → parse unchanged, compared with an independent parse of the original text.
#[test]
fn shared_corpus_is_valid_and_lossless() {
    let mut files = json_files(&shared().join("examples"));
    files.extend(json_files(&shared().join("attack")));
    assert!(
        files.len() >= 9,
        "shared corpus not found at {}",
        shared().display()
    );
    let mut total = 0;
    for file in files {
        let bytes = fs::read(&file).unwrap();
        let doc = input::split(&bytes, Hint::Auto).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            doc.envelope_problems.is_empty(),
            "{}: {:?}",
            file.display(),
            doc.envelope_problems
        );
        for item in &doc.items {
            let checked = doc
                .check(item, usize::MAX)
                .unwrap_or_else(|e| panic!("{} item {}: {e} {:?}", file.display(), item.index, e.findings()));
            let original: Value = serde_json::from_slice(item.bytes).unwrap();
            let reparsed: Value = serde_json::from_str(&checked.canonical).unwrap();
            assert_eq!(
                original,
                reparsed,
                "{} {} not lossless",
                file.display(),
                checked.id
            );
            total += 1;
        }
    }
    assert!(total >= 1826 + 260, "only {total} objects checked");
}

#[test]
fn attack_ics_has_its_custom_types_and_count() {
    let bytes = fs::read(shared().join("attack/ics-attack-18.1.json")).unwrap();
    let doc = input::split(&bytes, Hint::Auto).unwrap();
    assert_eq!(doc.items.len(), 1826);
    let custom = doc
        .items
        .iter()
        .filter_map(|i| doc.check(i, usize::MAX).ok())
        .filter(|o| o.type_name.starts_with("x-mitre-"))
        .count();
    assert!(custom > 200, "{custom}");
}

#[test]
fn valid_cases_have_no_errors() {
    let files = json_files(&data().join("valid"));
    assert!(files.len() >= 20);
    for file in files {
        let v: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        let report = validate(&v);
        assert!(report.is_valid(), "{}: {:#?}", file.display(), report.findings);
    }
}

/// Each invalid case is rejected with (at least) the expected rule at the expected path.
#[test]
fn invalid_cases_report_rule_and_path() {
    let files = json_files(&data().join("invalid"));
    assert!(files.len() >= 50);
    let mut rules_seen = std::collections::HashSet::new();
    for file in files {
        let case: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        let rule = case["expect"]["rule"].as_str().unwrap();
        let path = case["expect"]["path"].as_str().unwrap();
        let rule = Rule::from_name(rule).unwrap_or_else(|| panic!("{}: unknown rule {rule}", file.display()));
        let report = validate(&case["object"]);
        let hit = report.errors().any(|f| f.rule == rule && f.path == path);
        assert!(
            hit,
            "{}: expected {rule} at {path}, got {:#?}",
            file.display(),
            report.findings
        );
        rules_seen.insert(rule);
    }
    // Every error-level rule the validator can raise is exercised by at least one case.
    for rule in Rule::ALL {
        let warning_only = rule.description().starts_with("warning:");
        assert!(
            warning_only || rules_seen.contains(rule),
            "no invalid case for rule {rule}"
        );
    }
}

#[test]
fn warnings_are_separate_from_errors() {
    let v: Value = serde_json::from_str(
        r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z",
            "indicator_types":["very-bad"],"pattern":"[x:y = 1]","pattern_type":"stix",
            "valid_from":"2016-04-06T20:03:00Z","acme_score":3}"#,
    )
    .unwrap();
    let r = validate(&v);
    assert!(r.is_valid(), "{:#?}", r.findings);
    let w: Vec<_> = r.warnings().map(|f| (f.rule, f.path.as_str())).collect();
    assert!(
        w.contains(&(Rule::OpenVocabulary, "$.indicator_types[0]")),
        "{w:?}"
    );
    assert!(w.contains(&(Rule::CustomProperty, "$.acme_score")), "{w:?}");
    assert!(r.findings.iter().all(|f| f.severity == Severity::Warning));
    assert_eq!(
        r.object_id.as_deref(),
        Some("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    );
}

/// Ids computed by the OASIS `stix2` library agree with ours.
#[test]
fn sco_ids_agree_with_oasis_library() {
    let objs: Vec<Value> = serde_json::from_slice(&fs::read(data().join("sco-ids.json")).unwrap()).unwrap();
    assert!(objs.len() >= 20);
    for o in objs {
        let m = o.as_object().unwrap();
        let t = m["type"].as_str().unwrap();
        let contributing = spec::type_spec(t).unwrap().id_contributing;
        let ours = id::deterministic_sco_id(t, m, contributing).unwrap();
        assert_eq!(ours, m["id"].as_str().unwrap(), "{o}");
        let r = validate(&o);
        assert!(
            r.findings.iter().all(|f| f.rule != Rule::ScoId),
            "{:?}",
            r.findings
        );
    }
}

#[test]
fn mismatching_sco_id_is_a_warning_with_the_expected_id() {
    let v: Value = serde_json::from_str(
        r#"{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"10.0.0.1"}"#,
    )
    .unwrap();
    let r = validate(&v);
    assert!(r.is_valid());
    let f = r
        .warnings()
        .find(|f| f.rule == Rule::ScoId)
        .expect("sco-id warning");
    assert!(f.message.contains("ipv4-addr--"), "{}", f.message);
}

#[test]
fn bad_documents_get_positions() {
    let cases: &[(&[u8], &str)] = &[
        (b"{\"type\": \"indicator\",, }", "line 1"),
        (b"{\"a\": 1, \"a\": 2}", "duplicate key"),
        (b"\xff\xfe", "invalid UTF-8"),
        (b"   ", "empty document"),
        (b"42", "expected a STIX object"),
    ];
    for (doc, want) in cases {
        let err = match input::split(doc, Hint::Auto) {
            Err(e) => e.to_string(),
            Ok(d) => d.check(&d.items[0], 1 << 20).unwrap_err().to_string(),
        };
        assert!(err.contains(want), "{:?}: {err}", String::from_utf8_lossy(doc));
    }
}

#[test]
fn oversized_object_is_rejected_before_parsing() {
    let big = format!(
        "{{\"type\":\"x-big\",\"x_blob\":\"{}\"}}",
        "a".repeat(50 * 1024 * 1024)
    );
    let err = accord_stix::check_bytes(big.as_bytes(), accord_stix::DEFAULT_MAX_OBJECT_BYTES).unwrap_err();
    assert!(matches!(err, accord_stix::Rejection::TooLarge { .. }), "{err}");
}

/// An object sent in canonical form is stored as sent; sent any other way, it is stored in the
/// same canonical form, with the same hash.
#[test]
fn every_layout_of_an_object_checks_to_one_canonical_form() {
    let canonical = r#"{"created":"2024-01-02T03:04:05.000Z","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"2024-01-02T03:04:05.000Z","name":"caf\u001f \"é\"","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","spec_version":"2.1","type":"indicator","valid_from":"2024-01-02T03:04:05Z","x_score":72.5}"#;
    let value: Value = serde_json::from_str(canonical).unwrap();
    let mut reordered: Vec<(&String, &Value)> = value.as_object().unwrap().iter().collect();
    reordered.reverse();
    let reordered = format!(
        "{{{}}}",
        reordered
            .iter()
            .map(|(k, v)| format!("{:?}:{v}", k))
            .collect::<Vec<_>>()
            .join(",")
    );
    let layouts = [
        canonical.to_owned(),
        serde_json::to_string_pretty(&value).unwrap(),
        reordered,
        canonical.replace(r"\u001f", r"\u001F"),
    ];
    for text in &layouts {
        let checked = accord_stix::check_bytes(text.as_bytes(), 1 << 20).unwrap();
        assert_eq!(checked.canonical, canonical, "{text}");
        assert_eq!(
            checked.hash,
            accord_stix::ContentHash::of_canonical(canonical.as_bytes())
        );
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn reversed_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(reversed_keys).collect()),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// JCS output does not depend on key order, and parses back to the same value.
    #[test]
    fn jcs_is_stable_and_parses_back(v in arb_json()) {
        let a = jcs::to_canonical_string(&v);
        let b = jcs::to_canonical_string(&reversed_keys(&v));
        prop_assert_eq!(&a, &b);
        let back = json::parse_value(a.as_bytes()).unwrap();
        // Numbers compare as doubles: JCS writes them as ECMAScript does.
        prop_assert_eq!(jcs::to_canonical_string(&back), a);
    }

    /// The one-pass canonical check agrees with parsing and re-serialising: on canonical text, on
    /// text with a byte changed, inserted or removed, and on pretty-printed text. What the
    /// quicker check calls canonical is canonical.
    #[test]
    fn is_canonical_agrees_with_reserialising(v in arb_json(), at in any::<usize>(), byte in any::<u8>(), op in 0u8..4) {
        let slow = |b: &[u8]| serde_json::from_slice::<Value>(b).is_ok_and(|v| jcs::to_canonical_string(&v).as_bytes() == b);
        let canonical = jcs::to_canonical_string(&v).into_bytes();
        prop_assert!(jcs::is_canonical(&canonical));
        let mut changed = canonical.clone();
        let i = at % (changed.len() + 1);
        match op {
            0 if i < changed.len() => changed[i] = byte,
            1 => changed.insert(i, byte),
            2 if i < changed.len() => { changed.remove(i); }
            _ => changed = serde_json::to_vec_pretty(&v).unwrap(),
        }
        prop_assert_eq!(jcs::is_canonical(&changed), slow(&changed), "{:?}", String::from_utf8_lossy(&changed));
        for text in [&canonical, &changed] {
            prop_assert!(!jcs::is_plainly_canonical(text) || slow(text), "{:?}", String::from_utf8_lossy(text));
        }
    }

    /// Selecting members from canonical text gives what a full parse gives for those members,
    /// whatever the other members hold (strings with quotes and backslashes, nesting); text laid
    /// out otherwise is refused (`None`), never read wrongly.
    #[test]
    fn select_agrees_with_a_full_parse(
        members in prop::collection::vec((prop_oneof!["\\PC{0,8}", Just("id".to_owned()), Just("object_marking_refs".to_owned()), Just("type".to_owned())], arb_json()), 0..8),
    ) {
        let names = ["id", "object_marking_refs", "type", "granular_markings"];
        let value = Value::Object(members.into_iter().collect());
        let canonical = jcs::to_canonical_string(&value);
        let parsed = |text: &str| serde_json::from_str::<Map<String, Value>>(text).ok().map(|m| {
            m.into_iter().filter(|(k, _)| names.contains(&k.as_str())).collect::<Map<String, Value>>()
        });
        // Compared with a parse of the same text: numbers as JCS writes them.
        let selected = jcs::select(&canonical, &names);
        match selected {
            Some(m) => prop_assert_eq!(Some(m), parsed(&canonical)),
            // Only keys whose raw text may order differently from the keys themselves (escaped
            // characters, or beyond ASCII, which JCS orders by UTF-16) may make it decline.
            None => prop_assert!(value.as_object().is_some_and(|o| o.keys().any(|k| k.chars().any(|c| c as u32 > 0x7e || c < ' ' || c == '"' || c == '\\')))),
        }
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        if let Some(m) = jcs::select(&pretty, &names) {
            prop_assert_eq!(Some(m), parsed(&pretty));
        }
    }

    /// The SCO id depends only on the contributing properties, never on order or other properties.
    #[test]
    fn sco_id_is_deterministic(value in "\\PC{1,30}", extra in "\\PC{0,10}", port in 0u16..) {
        let mut a = Map::new();
        a.insert("type".into(), "network-traffic".into());
        a.insert("protocols".into(), serde_json::json!(["tcp"]));
        a.insert("dst_port".into(), port.into());
        a.insert("x_note".into(), extra.into());
        a.insert("src_ref".into(), value.clone().into());
        let b: Map<String, Value> = a.iter().rev().filter(|(k, _)| *k != "x_note").map(|(k, v)| (k.clone(), v.clone())).collect();
        let c = spec::type_spec("network-traffic").unwrap().id_contributing;
        prop_assert_eq!(id::deterministic_sco_id("network-traffic", &a, c), id::deterministic_sco_id("network-traffic", &b, c));
    }

    /// Arbitrary bytes never panic the reader or the validator.
    #[test]
    fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(doc) = input::split(&bytes, Hint::Auto) {
            for item in &doc.items {
                let _ = doc.check(item, 1 << 20);
            }
        }
    }

    /// Arbitrary JSON shaped like a STIX object never panics the validator.
    #[test]
    fn arbitrary_objects_never_panic(v in arb_json(), t in prop::sample::select(spec::ALL_TYPES.iter().map(|t| t.name).collect::<Vec<_>>())) {
        let mut obj = match v { Value::Object(m) => m, other => { let mut m = Map::new(); m.insert("x_v".into(), other); m } };
        obj.insert("type".into(), t.into());
        obj.insert("id".into(), format!("{t}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").into());
        let _ = validate(&Value::Object(obj));
    }
}

/// A marking reference that is neither a fixed TLP id nor defined in the same input is a warning
/// (`unknown-marking-ref`) at the reference, in object-level and granular markings; one defined
/// in the same document, or a TLP id, is not.
#[test]
fn unknown_marking_references_are_warned_about() {
    let iep = "marking-definition--a0a0a0a0-0000-4000-8000-000000000001";
    let unknown = "marking-definition--a0a0a0a0-0000-4000-8000-0000000000ff";
    let clear = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
    let indicator = serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2016-04-06T20:03:00Z", "description": "x",
        "object_marking_refs": [clear, iep, unknown],
        "granular_markings": [{"marking_ref": unknown, "selectors": ["description"]},
                              {"marking_ref": iep, "selectors": ["pattern"]}],
    });
    let definition = serde_json::json!({
        "type": "marking-definition", "spec_version": "2.1", "id": iep,
        "created": "2024-01-01T00:00:00.000Z", "name": "a statement",
        "definition_type": "statement", "definition": {"statement": "ours"},
    });
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [indicator, definition]});
    let bytes = serde_json::to_vec(&bundle).unwrap();
    let doc = input::split(&bytes, Hint::Auto).unwrap();
    let checked = doc.check(&doc.items[0], usize::MAX).unwrap();
    let found: Vec<(&str, Severity)> = checked
        .warnings
        .iter()
        .filter(|f| f.rule == Rule::UnknownMarkingRef)
        .map(|f| (f.path.as_str(), f.severity))
        .collect();
    assert_eq!(
        found,
        [
            ("$.object_marking_refs[2]", Severity::Warning),
            ("$.granular_markings[0].marking_ref", Severity::Warning)
        ],
        "{:?}",
        checked.warnings
    );
    assert!(checked.warnings.iter().all(|f| !f.message.contains(iep)));
    assert!(checked.warnings.iter().any(|f| f.message.contains(unknown)));
    // On its own, the statement's definition is not in the input either.
    let alone = validate(&bundle["objects"][0]);
    assert!(alone.is_valid());
    assert_eq!(
        alone
            .warnings()
            .filter(|f| f.rule == Rule::UnknownMarkingRef)
            .count(),
        4
    );
}
