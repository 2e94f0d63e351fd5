//! Fuzzes the STIX pattern parser and evaluator: any text either parses, prints to text that
//! parses to the same tree, checks, compiles or is refused with a position, and evaluates
//! against a few observations without panicking; or it is an error with a position inside the
//! input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match accord_pattern::parse(text) {
        Ok(tree) => {
            let printed = tree.to_string();
            let again = accord_pattern::parse(&printed);
            assert_eq!(again.as_ref().ok(), Some(&tree), "{printed}");
            let _ = accord_pattern::check(&tree);
            match accord_pattern::Matcher::new(&tree) {
                Ok(m) => {
                    let _ = m.find(&observations());
                }
                Err(e) => assert!(e.at <= text.len()),
            }
        }
        Err(e) => assert!(e.at <= text.len()),
    }
});

fn observations() -> Vec<accord_pattern::Observed> {
    let event = |at: i64, v: serde_json::Value| accord_pattern::Observed::event(at, v, Vec::new());
    vec![
        event(0, serde_json::json!({"type": "ipv4-addr", "value": "10.0.0.1"})),
        event(1_000_000_000, serde_json::json!({"type": "file", "name": "a", "size": 3, "hashes": {"MD5": "x"}, "x_hex": "4142", "l": [1, "a", true]})),
        event(2_000_000_000, serde_json::json!({"type": "domain-name", "value": "a.example", "resolves_to_refs": ["0"]})),
    ]
}
