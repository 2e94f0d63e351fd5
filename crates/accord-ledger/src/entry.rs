//! What the transparency log records. Entries hold identifiers, content hashes and policy
//! outcomes, never object content or personal data, and are stored as RFC 8785 canonical JSON.

use serde::{Deserialize, Serialize};

/// One log entry: its position in the log, when it happened, and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log (0-based). Recorded in the entry, so a missing or moved entry is named.
    pub index: u64,
    /// RFC 3339 UTC time with microseconds.
    pub time: String,
    #[serde(flatten)]
    pub event: Event,
}

impl Entry {
    /// The entry's canonical JSON (RFC 8785): the bytes that are stored and hashed.
    pub fn to_canonical(&self) -> Vec<u8> {
        canonical(self.index, &self.time, &self.event)
    }
}

/// The canonical JSON of the entry at `index` recording `event` at `time`.
pub fn canonical(index: u64, time: &str, event: &Event) -> Vec<u8> {
    #[derive(Serialize)]
    struct EntryRef<'a> {
        index: u64,
        time: &'a str,
        #[serde(flatten)]
        event: &'a Event,
    }
    let mut out = Vec::with_capacity(256);
    // Serialising these plain structs cannot fail; an empty entry would fail verification.
    if let Ok(v) = serde_json::to_value(EntryRef { index, time, event }) {
        accord_stix::jcs::write_canonical(&v, &mut out);
    }
    out
}

/// Something the node did that oversight must be able to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Decision(Decision),
    Share(Share),
    Redaction(Redaction),
    Ingest(Ingest),
    Deletion(Deletion),
    Config(ConfigChange),
    Token(TokenEvent),
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Decision(_) => "decision",
            Event::Share(_) => "share",
            Event::Redaction(_) => "redaction",
            Event::Ingest(_) => "ingest",
            Event::Deletion(_) => "deletion",
            Event::Config(_) => "config",
            Event::Token(_) => "token",
        }
    }
}

/// A policy decision about one object version for one principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub principal: String,
    /// read, export or push.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub object: String,
    pub version: String,
    /// SHA-256 of the version's canonical JSON (hex).
    pub hash: String,
    /// allow, allow_with_redaction or deny.
    pub effect: String,
    /// Ids of the policies that decided.
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The version of the policy in force (hash of configuration and policies).
    pub policy: String,
}

/// Object versions that left the node in one response, export or push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub principal: String,
    /// taxii, export or sync.
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub objects: Vec<Shared>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    pub id: String,
    pub version: String,
    /// Hash of what was sent.
    pub hash: String,
    /// Hash of the stored version, when what was sent is a redacted copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
}

/// What minimisation changed in one object version: paths and kinds of change, never values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redaction {
    pub principal: String,
    pub object: String,
    pub version: String,
    /// Hash of the stored version.
    pub hash: String,
    /// Hash of the released copy, if it was released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The property path (or object, when the whole object is withheld).
    pub path: String,
    /// The kind of personal data, or why a marked part was removed.
    pub category: String,
    /// remove, pseudonymise, generalise, withhold…
    pub transform: String,
}

/// Object versions a principal added to a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ingest {
    pub principal: String,
    pub collection: String,
    /// The TAXII status resource, when the objects came in by TAXII.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub objects: Vec<Version>,
    /// Objects rejected in the same request.
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    pub version: String,
    pub hash: String,
}

/// Object versions removed from a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deletion {
    pub principal: String,
    pub collection: String,
    pub object: String,
    pub versions: Vec<Version>,
}

/// A configuration, policy or agreement change taking effect (also at start-up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// start or reload.
    pub reason: String,
    /// SHA-256 of the configuration file and the operator policy files (hex).
    pub config_sha256: String,
    /// The policy version the decisions that follow carry.
    pub policy: String,
}

/// An API token issued or revoked (its id, never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenEvent {
    /// issued or revoked.
    pub action: String,
    pub token: String,
    pub principal: String,
}
