//! Signing and verification over the OASIS examples, tampering of every kind, relay paths, key
//! rotation, and the inbound verdict.

use accord_provenance::{
    EXTENSION_ID, Keyring, NodeSigner, PublicKey, Unverified, claimed_path, inbound, with_hop,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use serde_json::{Value, json};

fn node(name: &str, seed: u8) -> NodeSigner {
    NodeSigner::new(name, &[seed; 32]).expect("node name")
}

fn ring(keys: &[&NodeSigner]) -> Keyring {
    let mut r = Keyring::new();
    for k in keys {
        r.pin(PublicKey::parse(&k.public().to_string()).expect("public key text"));
    }
    r
}

fn indicator() -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "C2", "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "labels": ["a", "b"],
        "extensions": {"extension-definition--11111111-2222-4333-8444-555555555555": {"extension_type": "property-extension", "x": 1}}
    })
}

#[test]
fn every_oasis_example_object_signs_and_verifies() {
    let a = node("node-a", 1);
    let keys = ring(&[&a]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/stix/examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        for o in doc["objects"].as_array().into_iter().flatten() {
            let signed = a.sign(o.clone(), "2026-11-26T00:00:00Z", None).expect("sign");
            // The text signing yields is the canonical form of the signed object.
            let text = a
                .sign_canonical(&canonical(o), "2026-11-26T00:00:00Z", Some("sha256:ab"))
                .expect("sign");
            assert_eq!(
                text,
                canonical(&serde_json::from_str(&text).expect("json")),
                "{}",
                o["id"]
            );
            let p = keys
                .verify(&signed)
                .unwrap_or_else(|e| panic!("{}: {e}", o["id"]));
            assert_eq!(p.signer, "node-a");
            // Signing adds only the extension: the rest is the object as it was.
            let mut stripped = signed.clone();
            let exts = stripped["extensions"].as_object_mut().expect("extensions");
            exts.remove(EXTENSION_ID);
            if exts.is_empty() && o.get("extensions").is_none() {
                stripped.as_object_mut().expect("object").remove("extensions");
            }
            assert_eq!(&stripped, o);
            n += 1;
        }
    }
    assert!(n > 50, "only {n} objects");
}

#[test]
fn any_change_after_signing_is_detected() {
    let a = node("node-a", 1);
    let keys = ring(&[&a]);
    let signed = a.sign(indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut v = signed.clone();
    v["name"] = json!("C3");
    cases.push(("a property", v));
    let mut v = signed.clone();
    v["labels"] = json!(["b", "a"]);
    cases.push(("list order", v));
    let mut v = signed.clone();
    v.as_object_mut()
        .expect("object")
        .insert("x_new".into(), json!(true));
    cases.push(("an added property", v));
    let mut v = signed.clone();
    v["extensions"][EXTENSION_ID]["signed_at"] = json!("2026-11-27T00:00:00Z");
    cases.push(("the signing time", v));
    let mut v = signed.clone();
    v["extensions"]["extension-definition--11111111-2222-4333-8444-555555555555"]["x"] = json!(2);
    cases.push(("another extension", v));
    for (what, v) in cases {
        assert_eq!(keys.verify(&v), Err(Unverified::BadSignature), "{what}");
    }
    // The relay path is outside the signature.
    let relayed = with_hop(with_hop(signed.clone(), "node-b"), "node-c");
    let p = keys.verify(&relayed).expect("a relayed object still verifies");
    assert_eq!(p.path, ["node-b", "node-c"]);
    // Who it must not be sent back to: its signer and every node on its path.
    assert_eq!(
        claimed_path(&canonical(&relayed)).expect("signed"),
        ["node-a", "node-b", "node-c"]
    );
    assert_eq!(claimed_path(&canonical(&indicator())), None);
}

#[test]
fn keys_must_be_pinned_and_belong_to_the_signer() {
    let (a, rogue) = (node("node-a", 1), node("node-a", 9));
    let keys = ring(&[&a]);
    let forged = rogue
        .sign(indicator(), "2026-11-26T00:00:00Z", None)
        .expect("sign");
    assert!(matches!(keys.verify(&forged), Err(Unverified::UnknownKey { .. })));
    assert_eq!(keys.verify(&indicator()), Err(Unverified::Unsigned));
    // B's key pinned, but the object claims to be A's.
    let b = node("node-b", 2);
    let mut claimed = b.sign(indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    claimed["extensions"][EXTENSION_ID]["signer"] = json!("node-a");
    assert!(matches!(
        ring(&[&a, &b]).verify(&claimed),
        Err(Unverified::WrongSigner { .. })
    ));
    let mut broken = a.sign(indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    broken["extensions"][EXTENSION_ID]["signature"] = json!("not base64!");
    assert!(matches!(keys.verify(&broken), Err(Unverified::Malformed(_))));
}

#[test]
fn redacted_copies_name_their_original() {
    let b = node("node-b", 2);
    let signed = b
        .sign(indicator(), "2026-11-26T00:00:00Z", Some("sha256:abcd"))
        .expect("sign");
    let p = ring(&[&b]).verify(&signed).expect("verifies");
    assert_eq!(p.original_hash.as_deref(), Some("sha256:abcd"));
}

#[test]
fn a_key_is_replaced_only_by_a_statement_its_predecessor_signed() {
    let (old, new, other) = (node("node-a", 1), node("node-a", 3), node("node-x", 4));
    let mut keys = ring(&[&old]);
    let before = old.sign(indicator(), "2026-06-01T00:00:00Z", None).expect("sign");
    let after = old.sign(indicator(), "2026-08-01T00:00:00Z", None).expect("sign");
    let by_new = new.sign(indicator(), "2026-08-01T00:00:00Z", None).expect("sign");
    assert!(matches!(keys.verify(&by_new), Err(Unverified::UnknownKey { .. })));

    // Statements not signed by the pinned key are refused, and change nothing.
    let forged = other.rotate_to(&new.public(), "2026-07-01T00:00:00Z");
    assert!(keys.apply_rotation(&forged).is_err());
    let mut tampered: Value =
        serde_json::from_str(&old.rotate_to(&new.public(), "2026-07-01T00:00:00Z")).expect("json");
    tampered["at"] = json!("2026-01-01T00:00:00Z");
    assert!(keys.apply_rotation(&tampered.to_string()).is_err());
    assert!(keys.verify(&after).is_ok());

    let statement = old.rotate_to(&new.public(), "2026-07-01T00:00:00Z");
    let pinned = keys.apply_rotation(&statement).expect("rotation accepted");
    assert_eq!(pinned, new.public());
    assert!(keys.verify(&by_new).is_ok());
    assert!(keys.verify(&before).is_ok(), "signed before the rotation");
    assert!(matches!(keys.verify(&after), Err(Unverified::RetiredKey { .. })));
    assert!(
        keys.apply_rotation(&statement).is_err(),
        "a retired key cannot rotate again"
    );
}

#[test]
fn relaying_needs_permission() {
    let (a, b) = (node("node-a", 1), node("node-b", 2));
    let keys = ring(&[&a, &b]);
    let from_a = with_hop(
        a.sign(indicator(), "2026-11-26T00:00:00Z", None).expect("sign"),
        "node-b",
    );
    let own = b.sign(indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    let texts = [canonical(&from_a), canonical(&own)];
    let verdicts = |may: fn(&str, &str) -> bool| inbound(&keys, &[&texts[0], &texts[1]], "node-b", may);
    assert!(verdicts(|sender, signer| sender == "node-b" && signer == "node-a")[0].is_ok());
    let refused = verdicts(|_, _| false);
    assert_eq!(
        refused[0],
        Err(Unverified::NotAllowedToRelay {
            sender: "node-b".into(),
            signer: "node-a".into()
        })
    );
    assert!(refused[1].is_ok(), "a node may always send its own");
}

#[test]
fn public_keys_round_trip_as_text_and_reject_garbage() {
    assert!(NodeSigner::new("node+a", &[1; 32]).is_err());
    let a = node("node-a.example", 1);
    let text = a.public().to_string();
    assert_eq!(PublicKey::parse(&text).expect("parses"), a.public());
    for bad in [
        "",
        "a+b",
        "node+0011223344556677+AAAA",
        &text.replace('+', "-"),
        &text[..text.len() - 2],
        // The identity point: a small-order key, refused so that batch verification stays sound.
        &weak_key_text(),
    ] {
        assert!(PublicKey::parse(bad).is_err(), "{bad}");
    }
}

/// Copies of one version that differ only in their provenance (signed again by a rotated key,
/// relayed along another path) are the same version; any other difference is not.
#[test]
fn copies_differing_only_in_provenance_are_the_same_version() {
    let (old, new) = (node("node-a", 1), node("node-a", 3));
    let first = old.sign(indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    let again = with_hop(
        new.sign(indicator(), "2026-11-27T00:00:00Z", None).expect("sign"),
        "node-c",
    );
    assert!(accord_provenance::same_apart_from_provenance(
        &canonical(&first),
        &canonical(&again)
    ));
    assert!(accord_provenance::same_apart_from_provenance(
        &canonical(&indicator()),
        &canonical(&first)
    ));
    let mut other = indicator();
    other["name"] = json!("another name");
    let other = new.sign(other, "2026-11-27T00:00:00Z", None).expect("sign");
    assert!(!accord_provenance::same_apart_from_provenance(
        &canonical(&first),
        &canonical(&other)
    ));
    assert!(!accord_provenance::same_apart_from_provenance(
        "not json", "not json"
    ));
    let mut bare = indicator();
    bare.as_object_mut().expect("object").remove("extensions");
    let signed = old
        .sign(bare.clone(), "2026-11-26T00:00:00Z", None)
        .expect("sign");
    assert!(accord_provenance::same_apart_from_provenance(
        &canonical(&bare),
        &canonical(&signed)
    ));
}

fn weak_key_text() -> String {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&identity).expect("decompresses");
    format!(
        "node-w+{}+{}",
        accord_provenance::key_id(&key),
        B64.encode(identity)
    )
}

/// Many objects verified at once: each gets its own verdict, whether the batch holds or one bad
/// signature among good ones makes it fail, and the objects come back as they were.
#[test]
fn many_signatures_are_verified_together_with_a_verdict_each() {
    let (a, b) = (node("node-a", 1), node("node-b", 2));
    let keys = ring(&[&a, &b]);
    let good: Vec<Value> = (0..40)
        .map(|i| {
            let mut o = indicator();
            o["name"] = json!(format!("indicator {i}"));
            let signer = if i % 3 == 0 { &b } else { &a };
            with_hop(
                signer.sign(o, "2026-11-26T00:00:00Z", None).expect("sign"),
                "node-x",
            )
        })
        .collect();
    let all_of = |objects: &[Value]| {
        let texts: Vec<String> = objects.iter().map(canonical).collect();
        keys.verify_canonical(&texts.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert!(all_of(&good).iter().all(Result::is_ok));

    let mut mixed = good.clone();
    mixed[7]["name"] = json!("altered");
    mixed[21]["name"] = json!("altered too");
    mixed[30] = indicator();
    mixed[33] = node("node-z", 9)
        .sign(indicator(), "2026-11-26T00:00:00Z", None)
        .expect("sign");
    let verdicts = all_of(&mixed);
    for (i, v) in verdicts.iter().enumerate() {
        match i {
            7 | 21 => assert_eq!(v, &Err(Unverified::BadSignature), "{i}"),
            30 => assert_eq!(v, &Err(Unverified::Unsigned), "{i}"),
            33 => assert!(matches!(v, Err(Unverified::UnknownKey { .. })), "{i}"),
            _ => assert_eq!(
                v.as_ref().map(|p| p.path.clone()),
                Ok(vec!["node-x".to_owned()]),
                "{i}"
            ),
        }
    }
    assert!(keys.verify_canonical(&[]).is_empty());
    // Text that is not canonical is not what was signed.
    let pretty = serde_json::to_string_pretty(&good[0]).expect("json");
    assert_eq!(
        keys.verify_canonical(&[&pretty])[0],
        Err(Unverified::BadSignature)
    );
    assert!(matches!(
        keys.verify_canonical(&["[1,2]"])[0],
        Err(Unverified::Malformed(_))
    ));
    // The extension's name written with an escape is still found, but canonical JSON would not
    // write it so: the text is not what was signed.
    let escaped = canonical(&good[0]).replace("extension-definition--", "extension\\u002ddefinition--");
    assert_eq!(
        keys.verify_canonical(&[&escaped])[0],
        Err(Unverified::BadSignature)
    );
}

fn canonical(v: &Value) -> String {
    accord_stix::jcs::to_canonical_string(v)
}

proptest! {
    /// Changing any string property of a signed object breaks the signature.
    #[test]
    fn altered_strings_never_verify(key in "[a-z_]{1,12}", value in "\\PC{0,30}", replacement in "\\PC{0,30}") {
        prop_assume!(value != replacement && key != "extensions");
        let a = node("node-a", 1);
        let keys = ring(&[&a]);
        let mut o = indicator();
        o[&key] = json!(value);
        let mut signed = a.sign(o.clone(), "2026-11-26T00:00:00Z", None).expect("sign");
        prop_assert!(keys.verify(&signed).is_ok());
        signed[&key] = json!(replacement);
        prop_assert_eq!(keys.verify(&signed), Err(Unverified::BadSignature));
    }
}
