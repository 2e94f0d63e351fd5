//! Fuzzes the small string parsers: timestamps, identifiers and language tags.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = accord_stix::Timestamp::parse(s) {
        // The sortable rendering parses back to the same instant.
        let back = accord_stix::Timestamp::parse(&t.sortable()).expect("sortable form parses");
        assert_eq!(back, t);
    }
    let _ = accord_stix::id::parse_identifier(s);
    let _ = accord_stix::validate::is_lang_tag(s);
});
