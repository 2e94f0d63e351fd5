//! Fuzzes what the obligations engine reads from operators and reporters: rule files, calendar
//! files and incident reports, then evaluates what parsed. Nothing may panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SHIPPED: LazyLock<Option<accord_obligations::Pack>> = LazyLock::new(|| accord_obligations::Pack::shipped().ok());

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(mut pack) = SHIPPED.clone() else {
        return;
    };
    let _ = pack.add(&[("fuzz.toml", text)], &[]);
    let _ = accord_obligations::Calendar::parse("fuzz.toml", text);
    if let Ok(report) = serde_json::from_str::<accord_obligations::Report>(text) {
        for now in ["2026-01-01T00:00:00Z", "2027-06-30T12:00:00Z"] {
            if let Ok(now) = now.parse() {
                let _ = accord_obligations::evaluate(&pack, &report, &[], now);
            }
        }
    }
});
