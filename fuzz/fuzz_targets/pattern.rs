//! Fuzzes the STIX pattern parser: any text either parses, prints to text that parses to the same
//! tree, and checks without panicking, or is an error with a position inside the input.
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
        }
        Err(e) => assert!(e.at <= text.len()),
    }
});
