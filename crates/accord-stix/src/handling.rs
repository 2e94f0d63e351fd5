//! Where Accord's own handling extension keeps a version's retention: here, below the policy,
//! so that the store can index when each version's retention ends without knowing the policy.

use serde_json::{Map, Value};

use crate::Timestamp;

/// The Accord handling extension (`extension-definition` shipped in `extension/`).
pub const HANDLING_EXTENSION_ID: &str = "extension-definition--c7faab37-9b2e-4706-a1ca-408bbe2e04dc";

/// A declared `retention_until`, read. `None`: not limited. An unreadable one counts as already
/// passed (the earliest instant) rather than as unlimited, and comes with the reason.
pub fn parse_retention(raw: Option<&str>) -> (Option<Timestamp>, Option<String>) {
    match raw.map(Timestamp::parse) {
        Some(Ok(t)) => (Some(t), None),
        Some(Err(e)) => (
            Some(Timestamp::from_micros(i64::MIN / 2)),
            Some(format!("handling extension retention_until: {e}")),
        ),
        None => (None, None),
    }
}

/// When an object's retention ends, from the handling extension (`None`: not limited).
pub fn retention_until(object: &Map<String, Value>) -> Option<Timestamp> {
    let raw = object
        .get("extensions")
        .and_then(|e| e.get(HANDLING_EXTENSION_ID))
        .and_then(|ext| ext.get("retention_until"))
        .and_then(Value::as_str);
    parse_retention(raw).0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(ext: Value) -> Map<String, Value> {
        let Value::Object(m) = json!({"type": "indicator", "extensions": {HANDLING_EXTENSION_ID: ext}})
        else {
            unreachable!()
        };
        m
    }

    #[test]
    fn retention_is_read_from_the_extension() {
        let until = retention_until(&object(json!({"retention_until": "2025-01-01T00:00:00.5Z"})));
        assert_eq!(until, Some(Timestamp::parse("2025-01-01T00:00:00.500Z").unwrap()));
        assert_eq!(retention_until(&object(json!({"purposes": ["x"]}))), None);
        // Not a string: not a retention the extension declares.
        assert_eq!(retention_until(&object(json!({"retention_until": 5}))), None);
    }

    #[test]
    fn an_unreadable_retention_has_already_passed() {
        let until = retention_until(&object(json!({"retention_until": "next year"}))).unwrap();
        assert!(until < Timestamp::parse("1970-01-01T00:00:00Z").unwrap());
        assert!(
            parse_retention(Some("next year"))
                .1
                .unwrap()
                .contains("retention_until")
        );
    }
}
