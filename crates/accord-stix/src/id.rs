//! STIX identifiers (`type--UUID`) and deterministic UUIDv5 identifiers for cyber-observables.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::jcs;

/// The namespace STIX 2.1 section 2.9 fixes for deterministic SCO identifiers.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// Why a string is not a STIX identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{0:?} is not of the form type--UUID")]
    Syntax(String),
    #[error("{0:?} has an invalid type part: {1}")]
    Type(String, TypeNameError),
    #[error("{0:?} does not hold an RFC 4122 UUID (8-4-4-4-12 hex digits with the RFC 4122 variant)")]
    Uuid(String),
}

/// A syntactically valid identifier, borrowed from the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identifier<'a> {
    pub type_name: &'a str,
    pub uuid: Uuid,
}

/// Parses `type--UUID`. The type part must be a valid type name and the UUID must carry
/// the RFC 4122 variant; the UUID version is checked by the validator (a SHOULD rule).
pub fn parse_identifier(s: &str) -> Result<Identifier<'_>, IdError> {
    let Some((type_name, uuid_str)) = s.rsplit_once("--") else {
        return Err(IdError::Syntax(s.to_owned()));
    };
    check_type_name(type_name).map_err(|e| IdError::Type(s.to_owned(), e))?;
    let b = uuid_str.as_bytes();
    let well_formed = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if !well_formed {
        return Err(IdError::Uuid(s.to_owned()));
    }
    let uuid = Uuid::parse_str(uuid_str).map_err(|_| IdError::Uuid(s.to_owned()))?;
    if uuid.get_variant() != uuid::Variant::RFC4122 {
        return Err(IdError::Uuid(s.to_owned()));
    }
    Ok(Identifier { type_name, uuid })
}

/// Why a string is not a valid STIX type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeNameError {
    #[error("it must be 3 to 250 characters long")]
    Length,
    #[error("it may only contain a-z, 0-9 and hyphen, starting with a letter and not ending with a hyphen")]
    Characters,
}

/// STIX 2.1 section 3.1: type names are 3–250 chars of `a-z 0-9 -`. The OASIS schema's pattern
/// additionally requires a leading letter and no trailing hyphen; so do we.
pub fn check_type_name(t: &str) -> Result<(), TypeNameError> {
    if t.len() < 3 || t.len() > 250 {
        return Err(TypeNameError::Length);
    }
    let b = t.as_bytes();
    let ok = b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(TypeNameError::Characters)
    }
}

/// Computes the deterministic identifier of a cyber-observable from its ID-contributing
/// properties (STIX 2.1 section 2.9). Returns `None` when the type has no contributing
/// properties (e.g. `process`) or none of them is present, in which case producers use UUIDv4.
pub fn deterministic_sco_id(
    type_name: &str,
    object: &Map<String, Value>,
    contributing: &[&str],
) -> Option<String> {
    let mut selected = Map::new();
    for &prop in contributing {
        let Some(v) = object.get(prop) else { continue };
        if prop == "hashes" {
            if let Some(one) = choose_one_hash(v) {
                selected.insert(prop.to_owned(), one);
            }
        } else {
            selected.insert(prop.to_owned(), v.clone());
        }
    }
    if selected.is_empty() {
        return None;
    }
    let canonical = jcs::to_canonical_string(&Value::Object(selected));
    let uuid = Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes());
    Some(format!("{type_name}--{uuid}"))
}

/// Only one hash contributes, chosen in the order MD5, SHA-1, SHA-256, SHA-512; failing those,
/// the first by name. (The OASIS Python library takes the first one written; objects with only
/// non-standard hash algorithms are rare, and the mismatch is at most a warning.)
fn choose_one_hash(hashes: &Value) -> Option<Value> {
    let map = hashes.as_object()?;
    let key = ["MD5", "SHA-1", "SHA-256", "SHA-512"]
        .into_iter()
        .find(|k| map.contains_key(*k))
        .or_else(|| map.keys().next().map(String::as_str))?;
    let mut one = Map::new();
    one.insert(key.to_owned(), map.get(key)?.clone());
    Some(Value::Object(one))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_rejects() {
        let id = parse_identifier("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.type_name, "indicator");
        assert!(parse_identifier("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_err());
        assert!(parse_identifier("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f").is_err());
        // Variant bits 0xxx (NCS) are not RFC 4122.
        assert!(parse_identifier("indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f").is_err());
        assert!(parse_identifier("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_err());
    }

    #[test]
    fn spec_example_ids() {
        // Values computed by the OASIS stix2 library (see tests/data/sco-ids.json for many more).
        let obj = json!({"type": "ipv4-addr", "value": "198.51.100.3"});
        let id = deterministic_sco_id("ipv4-addr", obj.as_object().unwrap(), &["value"]).unwrap();
        assert_eq!(id, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");
    }
}
