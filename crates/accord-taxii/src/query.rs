//! TAXII query parameters (`added_after`, `limit`, `next`, `match[…]`) and the opaque, signed
//! `next` cursor that keeps a client on the same filtered set while writes arrive.

use accord_node::VersionFilter;
use accord_stix::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::TaxiiError;

/// A query parameter an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    AddedAfter,
    Limit,
    Next,
    Id,
    Type,
    Version,
    SpecVersion,
}

impl Param {
    fn name(self) -> &'static str {
        match self {
            Param::AddedAfter => "added_after",
            Param::Limit => "limit",
            Param::Next => "next",
            Param::Id => "match[id]",
            Param::Type => "match[type]",
            Param::Version => "match[version]",
            Param::SpecVersion => "match[spec_version]",
        }
    }
    fn from_name(name: &str) -> Option<Param> {
        // The list endpoint accepts every parameter.
        LIST_ENDPOINT.iter().copied().find(|p| p.name() == name)
    }
}

pub const LIST_ENDPOINT: &[Param] = &[
    Param::AddedAfter,
    Param::Limit,
    Param::Next,
    Param::Id,
    Param::Type,
    Param::Version,
    Param::SpecVersion,
];
pub const OBJECT_ENDPOINT: &[Param] = &[
    Param::AddedAfter,
    Param::Limit,
    Param::Next,
    Param::Version,
    Param::SpecVersion,
];
pub const DELETE_ENDPOINT: &[Param] = &[Param::Version, Param::SpecVersion];
pub const VERSIONS_ENDPOINT: &[Param] = &[Param::AddedAfter, Param::Limit, Param::Next, Param::SpecVersion];

/// Most ids one `match[id]` may list; longer lists are refused rather than slowly scanned.
pub const MAX_MATCH_VALUES: usize = 1000;

/// Parsed, validated filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub added_after: Option<i64>,
    pub limit: Option<usize>,
    pub next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// `None`: the endpoint's default (latest version).
    pub versions: Option<VersionFilter>,
    pub spec_versions: Vec<String>,
    /// The raw `match[version]` values, for the cursor fingerprint.
    raw_versions: Vec<String>,
}

fn bad(msg: String) -> TaxiiError {
    TaxiiError::BadRequest(msg)
}

/// Parses a query string, accepting only the TAXII parameters in `allowed` (others named
/// `match[…]` or TAXII's own are an error; unrelated parameters are ignored).
pub fn parse(query: Option<&str>, allowed: &[Param]) -> Result<Filters, TaxiiError> {
    let mut f = Filters::default();
    let Some(query) = query else { return Ok(f) };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(param) = Param::from_name(&key) else {
            if key.starts_with("match[") {
                return Err(bad(format!("unknown filter {key:?}")));
            }
            continue;
        };
        if !allowed.contains(&param) {
            return Err(bad(format!("{key} is not supported on this endpoint")));
        }
        let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
        match param {
            Param::AddedAfter => {
                let t = Timestamp::parse(&value).map_err(|e| bad(format!("added_after: {e}")))?;
                f.added_after = Some(t.as_micros());
            }
            Param::Limit => {
                let n: usize = value
                    .parse()
                    .map_err(|_| bad(format!("limit: {value:?} is not a positive integer")))?;
                if n == 0 {
                    return Err(bad("limit must be at least 1".into()));
                }
                f.limit = Some(n);
            }
            Param::Next => f.next = Some(value.into_owned()),
            Param::Id => {
                for v in values() {
                    accord_stix::id::parse_identifier(v).map_err(|e| bad(format!("match[id]: {e}")))?;
                    f.ids.push(v.to_owned());
                }
            }
            Param::Type => {
                for v in values() {
                    accord_stix::id::check_type_name(v)
                        .map_err(|e| bad(format!("match[type]: {v:?}: {e}")))?;
                    f.types.push(v.to_owned());
                }
            }
            Param::Version => {
                let vf = f.versions.get_or_insert_with(VersionFilter::default);
                for v in values() {
                    match v {
                        "first" => vf.first = true,
                        "last" => vf.last = true,
                        "all" => vf.all = true,
                        t => vf.at.push(Timestamp::parse(t).map_err(|e| {
                            bad(format!(
                                "match[version]: expected first, last, all or a timestamp: {e}"
                            ))
                        })?),
                    }
                    f.raw_versions.push(v.to_owned());
                }
            }
            Param::SpecVersion => {
                for v in values() {
                    if !matches!(v, "2.0" | "2.1") {
                        return Err(bad(format!(
                            "match[spec_version]: {v:?} is not a STIX version (2.0 or 2.1)"
                        )));
                    }
                    f.spec_versions.push(v.to_owned());
                }
            }
        }
        if f.ids.len() > MAX_MATCH_VALUES || f.types.len() > MAX_MATCH_VALUES {
            return Err(bad(format!("at most {MAX_MATCH_VALUES} values per match filter")));
        }
    }
    Ok(f)
}

impl Filters {
    /// Identifies the filtered set (not the page size or position): a `next` cursor only works
    /// with the filters it was issued for.
    fn fingerprint(&self, scope: &str) -> [u8; 16] {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.join(",")
        };
        let text = format!(
            "{scope}|{:?}|{}|{}|{}|{}",
            self.added_after,
            sorted(&self.ids),
            sorted(&self.types),
            sorted(&self.raw_versions),
            sorted(&self.spec_versions),
        );
        let digest = Sha256::digest(text.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }
}

type HmacSha256 = Hmac<Sha256>;

/// How long a `next` cursor stays valid.
pub const CURSOR_LIFETIME_SECS: i64 = 24 * 3600;

/// Issues and checks `next` cursors: (date_added of the last object sent, issue time, filter
/// fingerprint), authenticated with HMAC-SHA-256 so that a forged or altered cursor is refused.
#[derive(Debug, Clone)]
pub struct Cursors {
    key: [u8; 32],
}

impl Cursors {
    pub fn new(key: [u8; 32]) -> Self {
        Cursors { key }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(payload);
        mac
    }

    fn tag(&self, payload: &[u8]) -> [u8; 16] {
        let full = self.mac(payload).finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    pub fn issue(&self, after: i64, now_secs: i64, filters: &Filters, scope: &str) -> String {
        let mut payload = Vec::with_capacity(48);
        payload.extend_from_slice(&after.to_be_bytes());
        payload.extend_from_slice(&now_secs.to_be_bytes());
        payload.extend_from_slice(&filters.fingerprint(scope));
        let tag = self.tag(&payload);
        payload.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// Returns the `date_added` to continue after.
    pub fn check(
        &self,
        token: &str,
        now_secs: i64,
        filters: &Filters,
        scope: &str,
    ) -> Result<i64, TaxiiError> {
        let invalid = || bad("next is not a cursor this server issued".into());
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if raw.len() != 48 {
            return Err(invalid());
        }
        let (payload, tag) = raw.split_at(32);
        // A constant-time comparison of the tag's 16 bytes with the left of the full MAC.
        if self.mac(payload).verify_truncated_left(tag).is_err() {
            return Err(invalid());
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&payload[i..i + 8]);
            i64::from_be_bytes(b)
        };
        let (after, issued) = (word(0), word(8));
        if now_secs.saturating_sub(issued) > CURSOR_LIFETIME_SECS {
            return Err(bad("next has expired; start again without it".into()));
        }
        if payload[16..32] != filters.fingerprint(scope) {
            return Err(bad(
                "next was issued for different filters; repeat the original filters with it".into(),
            ));
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters() {
        let f = parse(Some("match[type]=indicator,malware&match[version]=first,last&limit=5&added_after=2020-01-01T00:00:00Z"), LIST_ENDPOINT).unwrap();
        assert_eq!(f.types, ["indicator", "malware"]);
        let v = f.versions.unwrap();
        assert!(v.first && v.last && !v.all);
        assert_eq!(f.limit, Some(5));
        assert!(parse(Some("limit=0"), LIST_ENDPOINT).is_err());
        assert!(parse(Some("limit=-3"), LIST_ENDPOINT).is_err());
        assert!(parse(Some("added_after=yesterday"), LIST_ENDPOINT).is_err());
        assert!(parse(Some("match[id]=x"), LIST_ENDPOINT).is_err());
        assert!(parse(Some("match[type]=indicator"), VERSIONS_ENDPOINT).is_err());
        assert!(parse(Some("match[colour]=red"), LIST_ENDPOINT).is_err());
        assert!(parse(Some("cachebuster=1"), LIST_ENDPOINT).is_ok());
    }

    #[test]
    fn cursors_are_bound_to_filters_and_signed() {
        let c = Cursors::new([9; 32]);
        let f = parse(Some("match[type]=indicator"), LIST_ENDPOINT).unwrap();
        let token = c.issue(1234, 1000, &f, "coll");
        assert_eq!(c.check(&token, 1000, &f, "coll").unwrap(), 1234);
        let g = parse(Some("match[type]=malware"), LIST_ENDPOINT).unwrap();
        assert!(c.check(&token, 1000, &g, "coll").is_err());
        assert!(c.check(&token, 1000, &f, "other").is_err());
        assert!(
            c.check(&token, 1000 + CURSOR_LIFETIME_SECS + 1, &f, "coll")
                .is_err()
        );
        let mut forged = URL_SAFE_NO_PAD.decode(&token).unwrap();
        forged[7] ^= 1;
        assert!(
            c.check(&URL_SAFE_NO_PAD.encode(forged), 1000, &f, "coll")
                .is_err()
        );
        assert!(Cursors::new([8; 32]).check(&token, 1000, &f, "coll").is_err());
    }
}
