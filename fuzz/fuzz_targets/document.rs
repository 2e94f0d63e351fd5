//! Fuzzes the whole untrusted-input path: locate objects in a document, then parse, validate,
//! canonicalise and hash each one. Checks that an accepted object's canonical form is what
//! reserialising it gives (text kept as it came must be canonical) and re-parses to itself.
#![no_main]

use accord_stix::input::{self, Hint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for hint in [Hint::Auto, Hint::JsonLines] {
        let Ok(doc) = input::split(data, hint) else { continue };
        for item in &doc.items {
            if let Ok(obj) = doc.check(item, 1 << 20) {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(item.bytes) {
                    assert_eq!(obj.canonical, accord_stix::jcs::to_canonical_string(&value));
                }
                let again = accord_stix::check_bytes(obj.canonical.as_bytes(), 1 << 20)
                    .expect("a canonical object must validate again");
                assert_eq!(again.canonical, obj.canonical);
                assert_eq!(again.hash, obj.hash);
            }
        }
    }
});
