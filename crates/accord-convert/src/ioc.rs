//! Indicators of compromise as single values: which ones a STIX pattern stands for, and the
//! pattern for one value. Only patterns that are a disjunction of exact values (`=`, `IN`, and
//! `ISSUBSET` for networks) on the paths below reduce to a list of values; anything else is
//! reported with the reason.

use std::fmt;

use accord_pattern::{Comparison, Literal, ObjectPath, Observation, Op, Step, Test};

/// What a single value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Ipv4,
    Ipv6,
    /// An IPv4 or IPv6 network in CIDR notation.
    Cidr,
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Email,
    FileName,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Cidr,
        Kind::Domain,
        Kind::Url,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Sha512,
        Kind::Email,
        Kind::FileName,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Cidr => "cidr",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Sha512 => "sha512",
            Kind::Email => "email",
            Kind::FileName => "filename",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    pub fn is_hash(self) -> bool {
        matches!(self, Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512)
    }

    /// The STIX hashes key for a hash kind.
    fn hash_key(self) -> Option<&'static str> {
        match self {
            Kind::Md5 => Some("MD5"),
            Kind::Sha1 => Some("SHA-1"),
            Kind::Sha256 => Some("SHA-256"),
            Kind::Sha512 => Some("SHA-512"),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ioc {
    pub kind: Kind,
    pub value: String,
}

/// The values a pattern matches, or why it is more than a list of values.
pub fn iocs(pattern: &Observation) -> Result<Vec<Ioc>, String> {
    let mut out = Vec::new();
    observation(pattern, &mut out)?;
    out.dedup();
    Ok(out)
}

fn observation(o: &Observation, out: &mut Vec<Ioc>) -> Result<(), String> {
    match o {
        Observation::Simple(c) => comparison(c, out),
        Observation::Or(a, b) => {
            observation(a, out)?;
            observation(b, out)
        }
        Observation::And(..) => Err("it needs several observations together (AND between [...])".into()),
        Observation::FollowedBy(..) => Err("it needs observations in order (FOLLOWEDBY)".into()),
        Observation::Qualified(..) => Err("it has a WITHIN, REPEATS or START/STOP qualifier".into()),
    }
}

fn comparison(c: &Comparison, out: &mut Vec<Ioc>) -> Result<(), String> {
    match c {
        Comparison::Or(a, b) => {
            comparison(a, out)?;
            comparison(b, out)
        }
        Comparison::And(..) => Err("it combines several conditions on one object (AND)".into()),
        Comparison::Test(Test::Exists(p)) => Err(format!("EXISTS {p} is not a value")),
        Comparison::Test(Test::Compare {
            path,
            negated,
            op,
            value,
        }) => {
            if *negated {
                return Err(format!("{path} NOT {} excludes values", op.as_str()));
            }
            let values: Vec<&Literal> = match (op, value) {
                (Op::Eq | Op::IsSubset, v) => vec![v],
                (Op::In, Literal::Set(items)) => items.iter().collect(),
                (op, _) => {
                    return Err(format!("{path} {} is not an exact value", op.as_str()));
                }
            };
            for v in values {
                let Literal::Str(s) = v else {
                    return Err(format!("{path} is compared with a non-string literal"));
                };
                out.push(classify(path, *op, s)?);
            }
            Ok(())
        }
    }
}

fn keys(path: &ObjectPath) -> Option<Vec<&str>> {
    path.steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

fn classify(path: &ObjectPath, op: Op, value: &str) -> Result<Ioc, String> {
    let unsupported = || format!("{path} has no counterpart in flat indicator lists");
    let keys = keys(path).ok_or_else(unsupported)?;
    let ty = path.object_type.as_str();
    let address = matches!(
        (ty, keys.as_slice()),
        ("ipv4-addr" | "ipv6-addr", ["value"]) | ("network-traffic", ["src_ref" | "dst_ref", "value"])
    );
    let kind = if address {
        match (op, value.contains('/')) {
            (Op::IsSubset, true) => Kind::Cidr,
            _ if value.parse::<std::net::Ipv4Addr>().is_ok() => Kind::Ipv4,
            _ if value.parse::<std::net::Ipv6Addr>().is_ok() => Kind::Ipv6,
            // A value written as a network (STIX allows CIDR in ipv4-addr values).
            (_, true) => Kind::Cidr,
            _ => return Err(format!("{path} = {value:?} is not an IP address")),
        }
    } else if op == Op::IsSubset {
        return Err(format!("{path} ISSUBSET applies only to addresses"));
    } else {
        match (ty, keys.as_slice()) {
            ("domain-name", ["value"]) => Kind::Domain,
            ("url", ["value"]) => Kind::Url,
            ("email-addr", ["value"]) => Kind::Email,
            ("file", ["name"]) => Kind::FileName,
            ("file", ["hashes", algo]) => match algo.to_ascii_uppercase().replace('-', "").as_str() {
                "MD5" => Kind::Md5,
                "SHA1" => Kind::Sha1,
                "SHA256" => Kind::Sha256,
                "SHA512" => Kind::Sha512,
                _ => {
                    return Err(format!(
                        "hash algorithm {algo} has no counterpart in flat indicator lists"
                    ));
                }
            },
            _ => return Err(unsupported()),
        }
    };
    Ok(Ioc {
        kind,
        value: value.to_owned(),
    })
}

/// A STIX string literal for `s`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Ioc {
    /// The STIX pattern matching this value.
    pub fn pattern(&self) -> String {
        let v = quote(&self.value);
        match self.kind {
            Kind::Ipv4 => format!("[ipv4-addr:value = {v}]"),
            Kind::Ipv6 => format!("[ipv6-addr:value = {v}]"),
            Kind::Cidr if self.value.contains(':') => format!("[ipv6-addr:value ISSUBSET {v}]"),
            Kind::Cidr => format!("[ipv4-addr:value ISSUBSET {v}]"),
            Kind::Domain => format!("[domain-name:value = {v}]"),
            Kind::Url => format!("[url:value = {v}]"),
            Kind::Email => format!("[email-addr:value = {v}]"),
            Kind::FileName => format!("[file:name = {v}]"),
            k => format!("[file:hashes.'{}' = {v}]", k.hash_key().unwrap_or("MD5")),
        }
    }

    /// Recognises a bare value: an IP address or network, a URL, an e-mail address, a hash by
    /// its length in hex digits, or a domain name.
    pub fn detect(value: &str) -> Option<Ioc> {
        let v = value.trim();
        let kind = if v.parse::<std::net::Ipv4Addr>().is_ok() {
            Kind::Ipv4
        } else if v.parse::<std::net::Ipv6Addr>().is_ok() {
            Kind::Ipv6
        } else if accord_pattern::eval::Net::parse(v).is_some() {
            Kind::Cidr
        } else if v.contains("://") {
            Kind::Url
        } else if v.bytes().all(|b| b.is_ascii_hexdigit()) && matches!(v.len(), 32 | 40 | 64 | 128) {
            match v.len() {
                32 => Kind::Md5,
                40 => Kind::Sha1,
                64 => Kind::Sha256,
                _ => Kind::Sha512,
            }
        } else if let Some((local, domain)) = v.split_once('@') {
            if local.is_empty() || !is_domain(domain) {
                return None;
            }
            Kind::Email
        } else if is_domain(v) {
            Kind::Domain
        } else {
            return None;
        };
        Some(Ioc {
            kind,
            value: v.to_owned(),
        })
    }
}

/// Dot-separated labels of letters, digits and hyphens, not starting or ending with a hyphen,
/// with an alphabetic last label.
fn is_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
        && labels
            .last()
            .is_some_and(|t| t.chars().all(char::is_alphabetic) || t.starts_with("xn--"))
}
