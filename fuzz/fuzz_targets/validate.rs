//! Fuzzes the validator with structured input: any JSON value, given a STIX type and id so that
//! the per-type rules run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

mod typed;

fuzz_target!(|data: &[u8]| {
    let Some((mut obj, t)) = typed::typed_object(data, "x_value") else { return };
    obj.insert("id".into(), format!("{t}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").into());
    let _ = accord_stix::validate(&Value::Object(obj));
});
