//! Checked object versions: parsed, validated, canonicalised and hashed once, ready to store or sign.

use serde_json::Value;

use crate::jcs::{self, ContentHash};
use crate::json::{self, JsonError};
use crate::timestamp::Timestamp;
use crate::validate::{self, Finding, Report};

/// Default limit on the serialized size of one object (bundles may be larger; each object is checked).
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 16 * 1024 * 1024;

/// A valid STIX object version. Holds its RFC 8785 canonical JSON (which is also how it is
/// stored and served) and the SHA-256 of that canonical form.
#[derive(Debug, Clone)]
pub struct CheckedObject {
    pub id: String,
    pub type_name: String,
    /// `spec_version` as written (absent on some SCOs).
    pub spec_version: Option<String>,
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    /// `modified`, else `created`, exactly as written: the version TAXII reports.
    pub version_text: Option<String>,
    pub canonical: String,
    pub hash: ContentHash,
    /// When the Accord handling extension says this version's retention ends (`None`: not
    /// limited); the store indexes it so that removing expired versions reads only those.
    pub retention_until: Option<Timestamp>,
    /// SHOULD-level findings; the object is accepted with them.
    pub warnings: Vec<Finding>,
}

impl CheckedObject {
    /// The version key TAXII and the store use: `modified`, else `created`; `None` for
    /// unversioned objects (most SCOs), whose versions are told apart by arrival time.
    pub fn version(&self) -> Option<Timestamp> {
        self.modified.or(self.created)
    }
}

/// Why one object was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed JSON: {0}")]
    Json(JsonError),
    #[error("object is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid STIX: {}", first_error(.0))]
    Invalid(Report),
}

fn first_error(report: &Report) -> String {
    let n = report.errors().count();
    match report.errors().next() {
        Some(f) if n > 1 => format!("{f} (and {} more)", n - 1),
        Some(f) => f.to_string(),
        None => "no errors".into(),
    }
}

impl Rejection {
    /// The findings behind the rejection (for JSON output); empty for JSON and size errors.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Rejection::Invalid(r) => &r.findings,
            _ => &[],
        }
    }
}

/// Validates a parsed value and, if it has no errors, canonicalises and hashes it.
pub fn check_value(value: Value) -> Result<CheckedObject, Rejection> {
    check_parsed(value, None, &|_| false)
}

/// [`check_value`], given the text `value` was parsed from when there is one: text that is
/// already canonical (what a node sends) is kept as it is instead of being written again.
/// `defined_marking` tells the marking definitions defined in the same input.
fn check_parsed(
    value: Value,
    source: Option<&[u8]>,
    defined_marking: &dyn Fn(&str) -> bool,
) -> Result<CheckedObject, Rejection> {
    let report = validate::validate_in(&value, defined_marking);
    if !report.is_valid() {
        return Err(Rejection::Invalid(report));
    }
    let Value::Object(map) = &value else {
        return Err(Rejection::Invalid(report));
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    let time = |k: &str| text(k).and_then(|s| Timestamp::parse(s).ok());
    let canonical = match source
        .filter(|s| jcs::is_plainly_canonical(s))
        .map(std::str::from_utf8)
    {
        Some(Ok(same)) => same.to_owned(),
        _ => jcs::to_canonical_string(&value),
    };
    let hash = ContentHash::of_canonical(canonical.as_bytes());
    Ok(CheckedObject {
        id: text("id").unwrap_or_default().to_owned(),
        type_name: text("type").unwrap_or_default().to_owned(),
        spec_version: text("spec_version").map(str::to_owned),
        created: time("created"),
        modified: time("modified"),
        version_text: text("modified").or_else(|| text("created")).map(str::to_owned),
        canonical,
        hash,
        retention_until: crate::handling::retention_until(map),
        warnings: report.findings,
    })
}

/// Parses, validates, canonicalises and hashes one object from its bytes.
/// JSON error positions are relative to `bytes`.
pub fn check_bytes(bytes: &[u8], max_bytes: usize) -> Result<CheckedObject, Rejection> {
    check_bytes_in(bytes, max_bytes, &|_| false)
}

/// [`check_bytes`] for one object of an input whose marking definitions `defined_marking` knows.
pub(crate) fn check_bytes_in(
    bytes: &[u8],
    max_bytes: usize,
    defined_marking: &dyn Fn(&str) -> bool,
) -> Result<CheckedObject, Rejection> {
    if bytes.len() > max_bytes {
        return Err(Rejection::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    let value = json::parse_value(bytes).map_err(Rejection::Json)?;
    check_parsed(value, Some(bytes), defined_marking)
}
