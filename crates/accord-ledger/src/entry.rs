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
    let mut out = Vec::with_capacity(256);
    Prepared::new(time, event).write(index, &mut out);
    out
}

/// An entry serialised in canonical form except for its index, which only the log's writer
/// assigns: the expensive part happens on the thread that records the event.
///
/// Every event struct declares its fields in canonical (sorted) order, so serde_json's compact
/// output of the payload is already canonical (its string escapes are RFC 8785's); `index`, `kind`
/// and `time` are spliced in among the payload's top-level keys. A test checks the result against
/// a full canonicalisation for every kind.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    /// Where the index's digits go.
    at: usize,
    /// Where the time is (its JSON string); after `at`, as `time` sorts after `index`.
    time: std::ops::Range<usize>,
}

impl Prepared {
    pub fn new(time: &str, event: &Event) -> Prepared {
        let payload = match event {
            Event::Decision(e) => serde_json::to_vec(e),
            Event::Decisions(e) => serde_json::to_vec(e),
            Event::Share(e) => serde_json::to_vec(e),
            Event::Redaction(e) => serde_json::to_vec(e),
            Event::Ingest(e) => serde_json::to_vec(e),
            Event::Deletion(e) => serde_json::to_vec(e),
            Event::Expiry(e) => serde_json::to_vec(e),
            Event::Submission(e) => serde_json::to_vec(e),
            Event::Config(e) => serde_json::to_vec(e),
            Event::Token(e) => serde_json::to_vec(e),
            Event::Quarantine(e) => serde_json::to_vec(e),
        };
        // Serialising these plain structs cannot fail; an empty entry would fail verification.
        let payload = payload.unwrap_or_default();
        let time = serde_json::to_string(time).unwrap_or_default();
        let kind = format!("\"{}\"", event.kind());
        let (bytes, [at, _, time_at]) = splice(
            &payload,
            [("index", None), ("kind", Some(&kind)), ("time", Some(&time))],
        );
        Prepared {
            bytes,
            at,
            time: time_at..time_at + time.len(),
        }
    }

    /// Gives the entry another time: for an event prepared before it happened (a page read ahead
    /// is shared when it is asked for).
    pub fn restamp(&mut self, time: &str) {
        let time = serde_json::to_string(time).unwrap_or_default();
        let end = self.time.start + time.len();
        self.bytes.splice(self.time.clone(), time.into_bytes());
        self.time.end = end;
    }

    /// Appends the entry's bytes, with `index`, to `out`.
    pub fn write(&self, index: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes[..self.at]);
        out.extend_from_slice(index.to_string().as_bytes());
        out.extend_from_slice(&self.bytes[self.at..]);
    }

    /// Bytes without the index.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Inserts `extra` (sorted, keys not in `object`) among the top-level members of the compact
/// JSON object `object`, keeping keys sorted. A member without a value is written as its key
/// and colon only. Returns where each extra member's value starts.
fn splice<const N: usize>(object: &[u8], extra: [(&str, Option<&str>); N]) -> (Vec<u8>, [usize; N]) {
    let mut out = Vec::with_capacity(object.len() + 64);
    out.push(b'{');
    let mut at = [0; N];
    let mut extra = extra.iter().zip(&mut at).peekable();
    // A comma before every member but the first (the object is `{` until then).
    let comma = |out: &mut Vec<u8>| {
        if out.len() > 1 {
            out.push(b',');
        }
    };
    let put = |out: &mut Vec<u8>, key: &str, value: Option<&str>, at: &mut usize| {
        comma(out);
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        *at = out.len();
        if let Some(v) = value {
            out.extend_from_slice(v.as_bytes());
        }
    };
    for (key, member) in accord_stix::jcs::members(object) {
        while let Some(((k, v), at)) = extra.next_if(|((k, _), _)| k.as_bytes() < key) {
            put(&mut out, k, *v, at);
        }
        comma(&mut out);
        out.extend_from_slice(member);
    }
    for ((k, v), at) in extra {
        put(&mut out, k, *v, at);
    }
    out.push(b'}');
    (out, at)
}

/// Something the node did that oversight must be able to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// One decision per entry: what earlier versions of Accord wrote; still read and verified.
    Decision(Decision),
    Decisions(Decisions),
    Share(Share),
    Redaction(Redaction),
    Ingest(Ingest),
    Deletion(Deletion),
    Expiry(Expiry),
    Submission(Submission),
    Config(ConfigChange),
    Token(TokenEvent),
    Quarantine(Quarantine),
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Decision(_) => "decision",
            Event::Decisions(_) => "decisions",
            Event::Share(_) => "share",
            Event::Redaction(_) => "redaction",
            Event::Ingest(_) => "ingest",
            Event::Deletion(_) => "deletion",
            Event::Expiry(_) => "expiry",
            Event::Submission(_) => "submission",
            Event::Config(_) => "config",
            Event::Token(_) => "token",
            Event::Quarantine(_) => "quarantine",
        }
    }
}

/// A policy decision about one object version for one principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// read, export or push.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// allow, allow_with_redaction or deny.
    pub effect: String,
    /// SHA-256 of the version's canonical JSON (hex).
    pub hash: String,
    pub object: String,
    /// The version of the policy in force (hash of configuration and policies).
    pub policy: String,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Ids of the policies that decided.
    pub reasons: Vec<String>,
    pub version: String,
}

/// Policy decisions for one principal and action that came out the same (effect, reasons,
/// agreement, profile), with every object version they were about: one entry per outcome of a
/// response, export or push, rather than one per version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decisions {
    /// read, export or push.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// allow, allow_with_redaction or deny.
    pub effect: String,
    /// The versions decided, each with the SHA-256 of its canonical JSON (hex).
    pub objects: Vec<Version>,
    /// The version of the policy in force (hash of configuration and policies).
    pub policy: String,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Ids of the policies that decided.
    pub reasons: Vec<String>,
}

/// Object versions that left the node in one response, export or push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// taxii, export or sync.
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    pub objects: Vec<Shared>,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// Hash of what was sent.
    pub hash: String,
    pub id: String,
    /// Hash of the stored version, when what was sent is a redacted copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    pub version: String,
}

/// What minimisation changed in one object version: paths and kinds of change, never values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redaction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    pub changes: Vec<Change>,
    /// Hash of the stored version.
    pub hash: String,
    pub object: String,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Hash of the released copy, if it was released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The kind of personal data, or why a marked part was removed.
    pub category: String,
    /// The property path (or object, when the whole object is withheld).
    pub path: String,
    /// remove, pseudonymise, generalise, withhold…
    pub transform: String,
}

/// Object versions a principal added to a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ingest {
    pub collection: String,
    /// Objects rejected in the same request.
    pub failed: u64,
    pub objects: Vec<Version>,
    pub principal: String,
    /// The TAXII status resource, when the objects came in by TAXII.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub hash: String,
    pub id: String,
    pub version: String,
}

/// Object versions removed from a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deletion {
    pub collection: String,
    pub object: String,
    pub principal: String,
    pub versions: Vec<Version>,
}

/// Object versions removed because their retention (`retention_until`) ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expiry {
    pub collection: String,
    pub hash: String,
    pub object: String,
    /// When retention ended (RFC 3339).
    pub retention_until: String,
    pub version: String,
}

/// A reporting obligation's stage recorded as submitted to its recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// When it was submitted (RFC 3339).
    pub at: String,
    pub by: String,
    /// The STIX id of the incident.
    pub incident: String,
    /// The recipient's reference.
    pub reference: String,
    pub regime: String,
    pub stage: String,
}

/// A configuration, policy or agreement change taking effect (also at start-up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// SHA-256 of the configuration file and the operator policy files (hex).
    pub config_sha256: String,
    /// The policy version the decisions that follow carry.
    pub policy: String,
    /// start or reload.
    pub reason: String,
}

/// An API token issued or revoked (its id, never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenEvent {
    /// issued or revoked.
    pub action: String,
    pub principal: String,
    pub token: String,
}

/// An object received from a partner and quarantined because its provenance did not verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantine {
    pub collection: String,
    /// SHA-256 of the object as received (canonical JSON, hex).
    pub hash: String,
    pub object: String,
    pub reason: String,
    /// The partner node it came from.
    pub sender: String,
}
