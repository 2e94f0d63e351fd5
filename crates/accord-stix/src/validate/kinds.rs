//! Property checks by kind: each `spec::Kind` of the property tables is checked here, or handed
//! to the module that owns its rules (timestamps, references, embedded objects, extensions,
//! granular markings). Also custom property names, lists, nested property tables, vocabularies,
//! enumerations, hashes and the string forms (base64, language tags) the kinds need.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::report::Rule;
use super::{embedded, extensions, marking, refs, time};
use crate::spec::{self, Kind, Prop};
use crate::vocab;

pub(super) fn check_kind<'a>(value: &'a Value, kind: Kind, owner_type: Option<&str>, cx: &mut Cx<'a>) {
    match kind {
        Kind::Any => {}
        Kind::Str => {
            if !value.is_string() {
                cx.expected("a string", value);
            }
        }
        Kind::Bool => {
            if !value.is_boolean() {
                cx.expected("a boolean", value);
            }
        }
        Kind::Int(min, max) => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => {
                let ok = n.as_i64().is_some_and(|i| i >= min && i <= max);
                if !ok {
                    cx.err(
                        Rule::ValueRange,
                        format!("{n} is outside the allowed range {min}..={max}"),
                    );
                }
            }
            _ => cx.expected("an integer", value),
        },
        Kind::Float(min, max) => match value.as_f64() {
            Some(f) if f >= min && f <= max => {}
            Some(f) => cx.err(
                Rule::ValueRange,
                format!("{f} is outside the allowed range {min}..={max}"),
            ),
            None => cx.expected("a number", value),
        },
        Kind::Timestamp => time::check_timestamp(value, false, cx),
        Kind::TimestampMillis => time::check_timestamp(value, true, cx),
        Kind::Ref(targets) => match value.as_str() {
            Some(s) => refs::check_ref(s, targets, cx),
            None => cx.expected("an identifier string", value),
        },
        Kind::Refs(targets) => for_list(value, cx, |item, cx| match item.as_str() {
            Some(s) => refs::check_ref(s, targets, cx),
            None => cx.expected("an identifier string", item),
        }),
        Kind::Strs => for_list(value, cx, |item, cx| {
            if !item.is_string() {
                cx.expected("a string", item);
            }
        }),
        Kind::Vocab(words) => match value.as_str() {
            Some(s) => check_vocab(s, words, cx),
            None => cx.expected("a string", value),
        },
        Kind::Vocabs(words) => for_list(value, cx, |item, cx| match item.as_str() {
            Some(s) => check_vocab(s, words, cx),
            None => cx.expected("a string", item),
        }),
        Kind::Enum(words) => match value.as_str() {
            Some(s) => check_enum(s, words, cx),
            None => cx.expected("a string", value),
        },
        Kind::Enums(words) => for_list(value, cx, |item, cx| match item.as_str() {
            Some(s) => check_enum(s, words, cx),
            None => cx.expected("a string", item),
        }),
        Kind::Hashes => check_hashes(value, cx),
        Kind::Dict => match value.as_object() {
            Some(m) => {
                for key in m.keys() {
                    if key.len() > 250 {
                        cx.at_key(key, |cx| {
                            cx.err(
                                Rule::Dictionary,
                                format!("dictionary key of {} characters exceeds 250", key.len()),
                            )
                        });
                    }
                }
            }
            None => cx.expected("a dictionary (JSON object)", value),
        },
        Kind::Obj(props) => match value.as_object() {
            Some(m) => check_props(m, props, cx),
            None => cx.expected("an object", value),
        },
        Kind::Objs(props) => for_objects(value, props, cx, |_, _| {}),
        Kind::ExternalReferences => for_objects(
            value,
            spec::EXTERNAL_REFERENCE,
            cx,
            embedded::check_external_reference,
        ),
        Kind::KillChainPhases => for_objects(
            value,
            spec::KILL_CHAIN_PHASE,
            cx,
            embedded::check_kill_chain_phase,
        ),
        Kind::MimeParts => for_objects(value, spec::MIME_PART, cx, embedded::check_mime_part),
        Kind::Hex => match value.as_str() {
            Some(s) if s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {}
            Some(s) => cx.err(
                Rule::Hex,
                format!("{s:?} is not an even number of hexadecimal digits"),
            ),
            None => cx.expected("a hex string", value),
        },
        Kind::Binary => match value.as_str() {
            Some(s) if is_base64(s) => {}
            Some(_) => cx.err(Rule::Binary, "value is not valid base64 (RFC 4648, padded)"),
            None => cx.expected("a base64 string", value),
        },
        Kind::Lang => match value.as_str() {
            Some(s) if is_lang_tag(s) => {}
            Some(s) => cx.err(Rule::Lang, format!("{s:?} is not an RFC 5646 language tag")),
            None => cx.expected("a language tag string", value),
        },
        Kind::SpecVersion => match value.as_str() {
            Some("2.1") => {}
            Some(s) => cx.err(
                Rule::SpecVersion,
                format!("spec_version {s:?} is not \"2.1\"; only STIX 2.1 is accepted"),
            ),
            None => cx.expected("the string \"2.1\"", value),
        },
        Kind::Extensions => extensions::check_extensions(value, owner_type, cx),
        Kind::GranularMarkings => marking::check_granular_markings(value, cx),
    }
}

/// A property no table describes: its name must be well formed, and (where `warn_prefix`) it
/// should carry the x_ prefix of custom properties.
pub(super) fn check_custom_property<'a>(key: &'a str, value: &'a Value, warn_prefix: bool, cx: &mut Cx<'a>) {
    let valid_name =
        (3..=250).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_name {
        cx.err(
            Rule::PropertyName,
            format!("property name {key:?} must be 3-250 characters of a-z, A-Z, 0-9 and _"),
        );
    } else if warn_prefix && !key.starts_with("x_") {
        cx.warn(
            Rule::CustomProperty,
            format!(
                "custom property {key:?} should start with x_ or be declared by a toplevel-property-extension"
            ),
        );
    }
    refs::check_custom_refs(key, value, cx);
}

/// A non-empty list, each item checked by `each` at its index.
pub(super) fn for_list<'a>(value: &'a Value, cx: &mut Cx<'a>, mut each: impl FnMut(&'a Value, &mut Cx<'a>)) {
    match value.as_array() {
        Some(items) if items.is_empty() => cx.err(Rule::EmptyList, "list must not be empty"),
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                cx.at_index(i, |cx| each(item, cx));
            }
        }
        None => cx.expected("a list", value),
    }
}

/// An object against a nested property table: known properties by kind, the rest as custom
/// properties (no x_ prefix expected inside nested objects), then the required ones.
pub(super) fn check_props<'a>(m: &'a Map<String, Value>, props: &'static [Prop], cx: &mut Cx<'a>) {
    for (key, value) in m {
        match props.iter().find(|p| p.name == key) {
            Some(p) => cx.at_key(key, |cx| check_kind(value, p.kind, None, cx)),
            None => cx.at_key(key, |cx| check_custom_property(key, value, false, cx)),
        }
    }
    for p in props {
        if p.required && !m.contains_key(p.name) {
            cx.err(
                Rule::RequiredProperty,
                format!("missing required property {:?}", p.name),
            );
        }
    }
}

/// A non-empty list of objects, each checked against `props` and then by `extra`.
fn for_objects<'a>(
    value: &'a Value,
    props: &'static [Prop],
    cx: &mut Cx<'a>,
    extra: impl Fn(&'a Map<String, Value>, &mut Cx<'a>),
) {
    for_list(value, cx, |item, cx| match item.as_object() {
        Some(m) => {
            check_props(m, props, cx);
            extra(m, cx);
        }
        None => cx.expected("an object", item),
    });
}

/// Open vocabularies suggest values: others are warnings.
fn check_vocab(s: &str, words: &[&str], cx: &mut Cx<'_>) {
    if !words.contains(&s) {
        cx.warn(
            Rule::OpenVocabulary,
            format!("{s:?} is not in the open vocabulary"),
        );
    }
}

/// Closed enumerations allow nothing else: others are errors.
fn check_enum(s: &str, words: &[&str], cx: &mut Cx<'_>) {
    if !words.contains(&s) {
        cx.err(Rule::Enum, format!("{s:?} is not one of: {}", words.join(", ")));
    }
}

fn check_hashes<'a>(value: &'a Value, cx: &mut Cx<'a>) {
    let Some(m) = value.as_object() else {
        return cx.expected("a hashes dictionary", value);
    };
    if m.is_empty() {
        return cx.err(Rule::Hashes, "hashes must contain at least one hash");
    }
    for (algo, v) in m {
        cx.at_key(algo, |cx| {
            let key_ok = (3..=250).contains(&algo.len())
                && algo
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !key_ok {
                return cx.err(
                    Rule::Hashes,
                    format!("hash algorithm name {algo:?} must be 3-250 of A-Z a-z 0-9 - _"),
                );
            }
            let Some(h) = v.as_str() else {
                return cx.expected("a hash string", v);
            };
            // The algorithms whose digest length is fixed are checked for it; others only for
            // their name.
            let hex_len = match algo.as_str() {
                "MD5" => Some(32),
                "SHA-1" => Some(40),
                "SHA-256" | "SHA3-256" => Some(64),
                "SHA-512" | "SHA3-512" => Some(128),
                _ => None,
            };
            if let Some(n) = hex_len {
                if h.len() != n || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    cx.err(
                        Rule::Hashes,
                        format!("{algo} value must be {n} hexadecimal digits"),
                    );
                }
            } else if !vocab::HASH_ALGORITHM.contains(&algo.as_str()) {
                let known = vocab::HASH_ALGORITHM
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(algo));
                match known {
                    Some(k) => cx.warn(
                        Rule::OpenVocabulary,
                        format!("hash algorithm {algo:?} should be written {k:?}"),
                    ),
                    None if !algo.starts_with("x_") => cx.warn(
                        Rule::OpenVocabulary,
                        format!("hash algorithm {algo:?} is not in hash-algorithm-ov"),
                    ),
                    None => {}
                }
            }
        });
    }
}

/// Padded base64 (RFC 4648 section 4).
fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// RFC 5646 well-formedness, simplified: a primary subtag of 2-8 letters (or a private-use `x`
/// or grandfathered `i` prefix) followed by alphanumeric subtags of 1-8 characters.
pub fn is_lang_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let Some(first) = parts.next() else { return false };
    let first_ok = (2..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic())
        || ((first == "x" || first == "i" || first == "X" || first == "I") && s.len() > 2);
    first_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}
