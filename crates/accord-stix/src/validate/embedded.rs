//! Rules of the embedded object types beyond their property tables: external references
//! (section 2.5), kill chain phases (section 2.8) and the MIME parts of an email-message.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::report::Rule;

pub(super) fn check_external_reference<'a>(m: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    if !["description", "url", "external_id"]
        .iter()
        .any(|k| m.contains_key(*k))
    {
        cx.err(
            Rule::ExternalReference,
            "an external reference needs at least one of description, url, external_id",
        );
    }
    // The two sources whose ids the spec fixes: CVE-YYYY-NNNN… and CAPEC-N….
    let source = m.get("source_name").and_then(Value::as_str).unwrap_or_default();
    let ext_id = m.get("external_id").and_then(Value::as_str);
    let check = |prefix: &str, id: &str| -> bool {
        id.strip_prefix(prefix).is_some_and(|rest| {
            let mut parts = rest.split('-');
            match prefix {
                "CVE-" => {
                    let (y, n) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    parts.next().is_none()
                        && y.len() == 4
                        && n.len() >= 4
                        && y.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
                }
                _ => !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()),
            }
        })
    };
    match (source, ext_id) {
        ("cve", Some(id)) if !check("CVE-", id) => cx.at_key("external_id", |cx| {
            cx.err(
                Rule::ExternalReference,
                format!("{id:?} is not a CVE id (CVE-YYYY-NNNN…)"),
            )
        }),
        ("capec", Some(id)) if !check("CAPEC-", id) => cx.at_key("external_id", |cx| {
            cx.err(
                Rule::ExternalReference,
                format!("{id:?} is not a CAPEC id (CAPEC-N…)"),
            )
        }),
        ("cve" | "capec", None) => {
            cx.err(
                Rule::ExternalReference,
                format!("source_name {source:?} requires external_id"),
            );
        }
        _ => {}
    }
}

pub(super) fn check_kill_chain_phase<'a>(m: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    for key in ["kill_chain_name", "phase_name"] {
        if let Some(s) = m.get(key).and_then(Value::as_str) {
            let good = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !good {
                cx.at_key(key, |cx| {
                    cx.warn(
                        Rule::KillChainPhase,
                        format!("{s:?} should be lowercase with hyphens"),
                    )
                });
            }
        }
    }
}

pub(super) fn check_mime_part(m: &Map<String, Value>, cx: &mut Cx<'_>) {
    if !m.contains_key("body") && !m.contains_key("body_raw_ref") {
        cx.err(Rule::CoConstraint, "a MIME part must have body or body_raw_ref");
    }
}
