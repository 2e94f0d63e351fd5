//! Co-constraints of SDOs, SROs and language-content that the property tables cannot express:
//! start/end orders, properties required together or apart, and language-content's per-language
//! contents.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::driver::has;
use super::kinds::is_lang_tag;
use super::report::Rule;
use super::time::order;

pub(super) fn type_rules<'a>(type_name: &str, obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    match type_name {
        "campaign" | "intrusion-set" | "threat-actor" | "infrastructure" | "sighting" => {
            order(obj, "first_seen", "last_seen", false, cx)
        }
        "indicator" => order(obj, "valid_from", "valid_until", true, cx),
        "relationship" => order(obj, "start_time", "stop_time", true, cx),
        "malware-analysis" if !has(obj, "result") && !has(obj, "analysis_sco_refs") => {
            cx.err(
                Rule::CoConstraint,
                "malware-analysis needs result or analysis_sco_refs",
            );
        }
        "observed-data" => {
            order(obj, "first_observed", "last_observed", false, cx);
            match (has(obj, "objects"), has(obj, "object_refs")) {
                (true, true) => cx.err(
                    Rule::CoConstraint,
                    "observed-data must not have both objects and object_refs",
                ),
                (false, false) => cx.err(
                    Rule::CoConstraint,
                    "observed-data needs object_refs (or the deprecated objects)",
                ),
                (true, false) => cx.at_key("objects", |cx| {
                    cx.warn(
                        Rule::Deprecated,
                        "objects is deprecated in STIX 2.1; use object_refs",
                    )
                }),
                _ => {}
            }
        }
        "location" => {
            let (lat, lon) = (has(obj, "latitude"), has(obj, "longitude"));
            if lat != lon {
                cx.err(
                    Rule::CoConstraint,
                    "latitude and longitude must be given together",
                );
            }
            if has(obj, "precision") && !(lat && lon) {
                cx.err(Rule::CoConstraint, "precision requires latitude and longitude");
            }
            if !(has(obj, "region") || has(obj, "country") || (lat && lon)) {
                cx.err(
                    Rule::CoConstraint,
                    "location needs region, country, or latitude and longitude",
                );
            }
        }
        "malware" => {
            order(obj, "first_seen", "last_seen", false, cx);
            if obj.get("is_family") == Some(&Value::Bool(true)) && !has(obj, "name") {
                cx.err(
                    Rule::RequiredProperty,
                    "a malware family (is_family: true) must have a name",
                );
            }
        }
        "language-content" => {
            if let Some(contents) = obj.get("contents").and_then(Value::as_object) {
                cx.at_key("contents", |cx| {
                    for (lang, v) in contents {
                        cx.at_key(lang, |cx| {
                            if !is_lang_tag(lang) {
                                cx.err(Rule::Lang, format!("{lang:?} is not an RFC 5646 language tag"));
                            }
                            if !v.is_object() {
                                cx.expected("an object of translated properties", v);
                            }
                        });
                    }
                });
            }
        }
        _ => {}
    }
}
