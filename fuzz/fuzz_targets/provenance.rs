//! Fuzzes what a node reads from partners for provenance: objects (as received, and in their
//! canonical form) checked against a pinned key, rotation statements, public key lines, and the
//! same-version comparison, and the member-by-member reading of canonical text. Nothing may panic;
//! a valid signature must never survive a change to the signed text.
#![no_main]

use accord_provenance::{Keyring, NodeSigner, PublicKey, same_apart_from_provenance};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(signer) = NodeSigner::new("node-a", &[7; 32]) else {
        return;
    };
    let mut ring = Keyring::new();
    ring.pin(signer.public());
    let _ = PublicKey::parse(text);
    let _ = ring.clone().apply_rotation(text);
    let _ = ring.verify_canonical(&[text, text]);
    let _ = same_apart_from_provenance(text, text);
    let members = accord_stix::jcs::canonical_members(text);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    // Where members are read without a parse, they are the object's keys, in order (raw key text
    // equals the key when it has no escapes).
    if let (Some(members), Some(object)) = (&members, value.as_object())
        && members.iter().all(|(k, _)| !k.contains('\\'))
    {
        let keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, object.keys().map(String::as_str).collect::<Vec<_>>());
    }
    let canonical = accord_stix::jcs::to_canonical_string(&value);
    let _ = ring.verify_canonical(&[&canonical]);
    let _ = signer.sign_canonical(text, "2026-11-27T00:00:00Z", None);
    // Signed by the pinned key, it verifies; any other text does not verify as that signature.
    if let Ok(signed) = signer.sign_canonical(&canonical, "2026-11-27T00:00:00Z", None) {
        assert!(ring.verify_canonical(&[&signed])[0].is_ok(), "{signed}");
        let altered = signed.replacen("node-a", "node-b", 1);
        if altered != signed {
            assert!(ring.verify_canonical(&[&altered])[0].is_err(), "{altered}");
        }
    }
});
