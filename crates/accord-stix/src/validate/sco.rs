//! Rules particular to SCO types: co-constraints the property tables cannot express, and the
//! forms of address values (IPv4/IPv6 address or CIDR block, MAC-48).

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use super::cx::Cx;
use super::driver::has;
use super::report::Rule;
use super::time::order;

pub(super) fn type_rules<'a>(type_name: &str, obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    match type_name {
        "artifact" => {
            if has(obj, "payload_bin") == has(obj, "url") {
                cx.err(
                    Rule::CoConstraint,
                    "artifact needs exactly one of payload_bin and url",
                );
            }
            // Content fetched from a URL is only trustworthy if it can be checked.
            if has(obj, "url") && !has(obj, "hashes") {
                cx.err(Rule::CoConstraint, "an artifact with url must have hashes");
            }
            if has(obj, "decryption_key") && !has(obj, "encryption_algorithm") {
                cx.err(Rule::CoConstraint, "decryption_key requires encryption_algorithm");
            }
        }
        "file" if !has(obj, "hashes") && !has(obj, "name") => {
            cx.err(Rule::CoConstraint, "file needs hashes or name");
        }
        "network-traffic" => {
            if !has(obj, "src_ref") && !has(obj, "dst_ref") {
                cx.err(Rule::CoConstraint, "network-traffic needs src_ref or dst_ref");
            }
            order(obj, "start", "end", false, cx);
            if obj.get("is_active") == Some(&Value::Bool(true)) && has(obj, "end") {
                cx.err(
                    Rule::CoConstraint,
                    "end must not be present when is_active is true",
                );
            }
        }
        "email-message" => match obj.get("is_multipart") {
            Some(Value::Bool(true)) if has(obj, "body") => cx.err(
                Rule::CoConstraint,
                "body must not be present when is_multipart is true (use body_multipart)",
            ),
            Some(Value::Bool(false)) if has(obj, "body_multipart") => cx.err(
                Rule::CoConstraint,
                "body_multipart must not be present when is_multipart is false",
            ),
            _ => {}
        },
        "ipv4-addr" => check_value(obj, cx, "an IPv4 address or CIDR block", |s| {
            ip_or_cidr::<Ipv4Addr>(s, 32)
        }),
        "ipv6-addr" => check_value(obj, cx, "an IPv6 address or CIDR block", |s| {
            ip_or_cidr::<Ipv6Addr>(s, 128)
        }),
        "mac-addr" => check_value(obj, cx, "a lowercase, colon-delimited MAC-48 address", is_mac),
        // These types have no required property of their own, but an object with none says
        // nothing at all.
        "process" | "user-account" | "x509-certificate" | "windows-registry-key" => {
            let common = [
                "type",
                "id",
                "spec_version",
                "object_marking_refs",
                "granular_markings",
                "defanged",
            ];
            if obj.keys().all(|k| common.contains(&k.as_str())) {
                cx.err(
                    Rule::CoConstraint,
                    format!("{type_name} must have at least one property of its own or an extension"),
                );
            }
        }
        _ => {}
    }
}

/// The `value` property, when it is a string, has the form `ok` accepts.
fn check_value(obj: &Map<String, Value>, cx: &mut Cx<'_>, what: &str, ok: impl Fn(&str) -> bool) {
    if let Some(s) = obj.get("value").and_then(Value::as_str)
        && !ok(s)
    {
        cx.at_key("value", |cx| cx.err(Rule::Value, format!("{s:?} is not {what}")));
    }
}

/// An address, or an address and a decimal prefix length of at most `max_prefix`.
fn ip_or_cidr<A: std::str::FromStr>(s: &str, max_prefix: u8) -> bool {
    match s.split_once('/') {
        Some((addr, prefix)) => {
            addr.parse::<A>().is_ok()
                && !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_digit())
                && prefix.parse::<u8>().is_ok_and(|p| p <= max_prefix)
        }
        None => s.parse::<A>().is_ok(),
    }
}

/// `aa:bb:cc:dd:ee:ff`, lowercase, as the spec requires.
fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(c)
            }
        })
}
