//! STIX 2.1 object layer: lossless parsing, validation of MUST rules (errors) and SHOULD rules
//! (warnings), RFC 8785 canonical JSON, content hashes, deterministic SCO ids and TLP/IEP markings.
//!
//! This crate does no I/O. Objects are kept as JSON values so that custom properties, custom
//! objects and extensions survive unchanged; the STIX model lives in data tables (`spec`) that the
//! validator interprets.

pub mod handling;
pub mod id;
pub mod input;
pub mod jcs;
pub mod json;
pub mod markings;
pub mod object;
pub mod spec;
pub mod timestamp;
pub mod validate;
pub mod vocab;

pub use jcs::ContentHash;
pub use object::{CheckedObject, DEFAULT_MAX_OBJECT_BYTES, Rejection, check_bytes, check_value};
pub use timestamp::Timestamp;
pub use validate::{Finding, Report, Rule, Severity, validate};

/// A STIX 2.1 bundle of `objects`, with a fresh id.
pub fn bundle(objects: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": objects,
    })
}
