//! Signing and verification over the OASIS examples, tampering of every kind, relay paths, key
//! rotation, and the inbound verdict.

use accord_provenance::{
    EXTENSION_ID, Keyring, NodeSigner, PublicKey, Unverified, claimed_path, inbound, with_hop,
};
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
            let signed = a.sign(o, "2026-11-26T00:00:00Z", None).expect("sign");
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
    let signed = a.sign(&indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
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
    let relayed = with_hop(&with_hop(&signed, "node-b"), "node-c");
    let p = keys.verify(&relayed).expect("a relayed object still verifies");
    assert_eq!(p.path, ["node-b", "node-c"]);
    // Who it must not be sent back to: its signer and every node on its path.
    assert_eq!(
        claimed_path(&relayed).expect("signed"),
        ["node-a", "node-b", "node-c"]
    );
    assert_eq!(claimed_path(&indicator()), None);
}

#[test]
fn keys_must_be_pinned_and_belong_to_the_signer() {
    let (a, rogue) = (node("node-a", 1), node("node-a", 9));
    let keys = ring(&[&a]);
    let forged = rogue
        .sign(&indicator(), "2026-11-26T00:00:00Z", None)
        .expect("sign");
    assert!(matches!(keys.verify(&forged), Err(Unverified::UnknownKey { .. })));
    assert_eq!(keys.verify(&indicator()), Err(Unverified::Unsigned));
    // B's key pinned, but the object claims to be A's.
    let b = node("node-b", 2);
    let mut claimed = b.sign(&indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    claimed["extensions"][EXTENSION_ID]["signer"] = json!("node-a");
    assert!(matches!(
        ring(&[&a, &b]).verify(&claimed),
        Err(Unverified::WrongSigner { .. })
    ));
    let mut broken = a.sign(&indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    broken["extensions"][EXTENSION_ID]["signature"] = json!("not base64!");
    assert!(matches!(keys.verify(&broken), Err(Unverified::Malformed(_))));
}

#[test]
fn redacted_copies_name_their_original() {
    let b = node("node-b", 2);
    let signed = b
        .sign(&indicator(), "2026-11-26T00:00:00Z", Some("sha256:abcd"))
        .expect("sign");
    let p = ring(&[&b]).verify(&signed).expect("verifies");
    assert_eq!(p.original_hash.as_deref(), Some("sha256:abcd"));
}

#[test]
fn a_key_is_replaced_only_by_a_statement_its_predecessor_signed() {
    let (old, new, other) = (node("node-a", 1), node("node-a", 3), node("node-x", 4));
    let mut keys = ring(&[&old]);
    let before = old
        .sign(&indicator(), "2026-06-01T00:00:00Z", None)
        .expect("sign");
    let after = old
        .sign(&indicator(), "2026-08-01T00:00:00Z", None)
        .expect("sign");
    let by_new = new
        .sign(&indicator(), "2026-08-01T00:00:00Z", None)
        .expect("sign");
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
        &a.sign(&indicator(), "2026-11-26T00:00:00Z", None).expect("sign"),
        "node-b",
    );
    assert!(
        inbound(&keys, &from_a, "node-b", |sender, signer| sender == "node-b"
            && signer == "node-a")
        .is_ok()
    );
    assert_eq!(
        inbound(&keys, &from_a, "node-b", |_, _| false),
        Err(Unverified::NotAllowedToRelay {
            sender: "node-b".into(),
            signer: "node-a".into()
        })
    );
    let own = b.sign(&indicator(), "2026-11-26T00:00:00Z", None).expect("sign");
    assert!(
        inbound(&keys, &own, "node-b", |_, _| false).is_ok(),
        "a node may always send its own"
    );
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
    ] {
        assert!(PublicKey::parse(bad).is_err(), "{bad}");
    }
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
        let mut signed = a.sign(&o, "2026-11-26T00:00:00Z", None).expect("sign");
        prop_assert!(keys.verify(&signed).is_ok());
        signed[&key] = json!(replacement);
        prop_assert_eq!(keys.verify(&signed), Err(Unverified::BadSignature));
    }
}
