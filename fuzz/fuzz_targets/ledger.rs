//! Fuzzes what `accord audit verify` reads from an untrusted node or directory: verifier keys,
//! signed checkpoints, entry lines, and whole-log verification. Nothing may panic, and the
//! one-pass canonical check must agree with parsing and re-serialising.
#![no_main]

use accord_ledger::verify::LogInput;
use accord_ledger::{Checkpoint, NoteSigner, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let slow = serde_json::from_slice::<serde_json::Value>(data)
        .is_ok_and(|v| accord_stix::jcs::to_canonical_string(&v).as_bytes() == data);
    assert_eq!(accord_stix::jcs::is_canonical(data), slow);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = text.parse::<VerifierKey>();
    let _ = Checkpoint::parse_body(text);
    let Ok(signer) = NoteSigner::new("fuzz.example/log", &[7; 32]) else {
        return;
    };
    let key = signer.verifier();
    let _ = key.open(text);
    // The input split into entry lines and a checkpoints part at the first NUL.
    let (entries, notes) = text.split_once('\0').unwrap_or((text, ""));
    let lines: Vec<&[u8]> = entries.lines().map(str::as_bytes).collect();
    let checkpoints = vec![notes.to_owned()];
    let _ = accord_ledger::verify_log(&LogInput {
        entries: &lines,
        stored_hashes: None,
        checkpoints: &checkpoints,
        key: &key,
        origin: "fuzz.example/log",
        seen: None,
    });
});
