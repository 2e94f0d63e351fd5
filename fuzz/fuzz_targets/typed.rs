//! Shared by the fuzz targets: turns fuzz input into a JSON object of a chosen STIX type.

use serde_json::{Map, Value};

/// The first byte picks a STIX type; the rest is parsed as JSON. A non-object value is placed
/// under `key`. Returns `None` when the rest is not JSON.
pub fn typed_object(data: &[u8], key: &str) -> Option<(Map<String, Value>, &'static str)> {
    let (&selector, rest) = data.split_first()?;
    let value = accord_stix::json::parse_value(rest).ok()?;
    let types = accord_stix::spec::ALL_TYPES;
    let t = types[usize::from(selector) % types.len()].name;
    let mut obj = match value {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert(key.into(), other);
            m
        }
    };
    obj.insert("type".into(), t.into());
    Some((obj, t))
}
