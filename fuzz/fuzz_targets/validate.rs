//! Fuzzes the validator with structured input: any JSON value, given a STIX type and id so that
//! the per-type rules run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(value) = accord_stix::json::parse_value(rest) else { return };
    let types = accord_stix::spec::ALL_TYPES;
    let t = types[usize::from(selector) % types.len()].name;
    let mut obj = match value {
        Value::Object(m) => m,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("x_value".into(), other);
            m
        }
    };
    obj.insert("type".into(), t.into());
    obj.insert("id".into(), format!("{t}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").into());
    let _ = accord_stix::validate(&Value::Object(obj));
});
