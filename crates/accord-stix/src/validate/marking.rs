//! Data markings: the marking-definition object's rules (including the reserved TLP ids with
//! their fixed content, and the IEP 2.0 extension) and granular markings with their selectors.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::driver::has;
use super::kinds::{check_props, for_list};
use super::report::Rule;
use crate::markings;
use crate::spec;

pub(super) fn check_marking_definition<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    let (has_type, has_def) = (has(obj, "definition_type"), has(obj, "definition"));
    if has_type != has_def {
        cx.err(
            Rule::MarkingDefinition,
            "definition_type and definition must be given together",
        );
    }
    if !has_def && !has(obj, "extensions") {
        cx.err(
            Rule::MarkingDefinition,
            "a marking-definition needs definition_type and definition, or an extension",
        );
    }
    // A reserved TLP id with other content would let a forged marking pass as TLP.
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    let reserved = markings::tlp_by_id(id);
    if let Some(t) = reserved
        && !t.matches(obj)
    {
        cx.err(
            Rule::MarkingDefinition,
            format!(
                "{id} is the fixed id of {} (TLP {}); its content must say {:?}",
                t.name,
                match t.version {
                    markings::TlpVersion::V1 => "1.0",
                    markings::TlpVersion::V2 => "2.0",
                },
                t.value
            ),
        );
    }
    if obj.get("definition_type").and_then(Value::as_str) == Some("tlp") {
        let level = obj
            .get("definition")
            .and_then(|d| d.get("tlp"))
            .and_then(Value::as_str);
        if !matches!(level, Some("white" | "green" | "amber" | "red")) {
            cx.at_key("definition", |cx| {
                cx.err(
                    Rule::MarkingDefinition,
                    "a TLP definition must be {\"tlp\": white|green|amber|red}",
                )
            });
        }
        if reserved.is_none() {
            cx.warn(
                Rule::UnknownMarking,
                format!(
                    "{id} claims TLP but is not one of the fixed TLP ids; it is treated as an unknown marking"
                ),
            );
        }
    }
    let Some(exts) = obj.get("extensions").and_then(Value::as_object) else {
        return;
    };
    if exts.contains_key(markings::TLP2_EXTENSION_ID) && reserved.is_none() {
        cx.warn(Rule::UnknownMarking, format!("{id} uses the TLP 2.0 extension but is not one of the fixed TLP 2.0 ids; it is treated as an unknown marking"));
    }
    if let Some((key, ext)) = exts.get_key_value(markings::IEP_EXTENSION_ID) {
        let Some(body) = ext.as_object() else { return };
        if let Err(errors) = markings::Iep::parse(body) {
            cx.at_key("extensions", |cx| {
                cx.at_key(key, |cx| {
                    for e in errors {
                        cx.at_key(e.field, |cx| cx.err(Rule::Iep, e.message));
                    }
                })
            });
        }
    }
}

/// Marking references this node cannot interpret: neither a fixed TLP id nor a definition in the
/// same input. The object is valid, but the policy withholds it from partners (an unknown
/// marking may restrict in a way this node cannot honour), so the operator should know at once.
pub(super) fn check_marking_refs<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    let defined = cx.defined_marking;
    let unknown = |id: &str| {
        id.starts_with("marking-definition--") && markings::tlp_by_id(id).is_none() && !defined(id)
    };
    let message = |id: &str| {
        format!(
            "marking definition {id} is neither a TLP marking nor defined in this input; \
             until this node knows it, the object is withheld from every other organisation"
        )
    };
    let mut found = Vec::new();
    if let Some(refs) = obj.get("object_marking_refs").and_then(Value::as_array) {
        for (i, r) in refs.iter().enumerate() {
            if let Some(id) = r.as_str().filter(|id| unknown(id)) {
                found.push(("object_marking_refs", i, None, id));
            }
        }
    }
    if let Some(list) = obj.get("granular_markings").and_then(Value::as_array) {
        for (i, g) in list.iter().enumerate() {
            if let Some(id) = g
                .get("marking_ref")
                .and_then(Value::as_str)
                .filter(|id| unknown(id))
            {
                found.push(("granular_markings", i, Some("marking_ref"), id));
            }
        }
    }
    for (key, i, inner, id) in found {
        cx.at_key(key, |cx| {
            cx.at_index(i, |cx| match inner {
                Some(k) => cx.at_key(k, |cx| cx.warn(Rule::UnknownMarkingRef, message(id))),
                None => cx.warn(Rule::UnknownMarkingRef, message(id)),
            })
        });
    }
}

/// `granular_markings`: each with exactly one of marking_ref and lang, and selectors that
/// resolve against this object (a marking on nothing is a mistake, not a no-op).
pub(super) fn check_granular_markings<'a>(value: &'a Value, cx: &mut Cx<'a>) {
    let root = cx.root;
    for_list(value, cx, |item, cx| {
        let Some(m) = item.as_object() else {
            return cx.expected("a granular marking object", item);
        };
        check_props(m, spec::GRANULAR_MARKING, cx);
        if m.contains_key("lang") == m.contains_key("marking_ref") {
            cx.err(
                Rule::GranularMarking,
                "a granular marking must have exactly one of marking_ref and lang",
            );
        }
        if let Some(sels) = m.get("selectors").and_then(Value::as_array) {
            for (i, sel) in sels.iter().enumerate() {
                if let Some(s) = sel.as_str()
                    && resolve_selector(root, s).is_none()
                {
                    cx.at_key("selectors", |cx| {
                        cx.at_index(i, |cx| {
                            cx.err(
                                Rule::GranularMarking,
                                format!("selector {s:?} does not resolve to a property of this object"),
                            )
                        })
                    });
                }
            }
        }
    });
}

/// Resolves a granular-marking selector (`a.b.[0].c`) against an object.
pub fn resolve_selector<'v>(root: &'v Value, selector: &str) -> Option<&'v Value> {
    if selector.is_empty() {
        return None;
    }
    let mut cur = root;
    for token in selector.split('.') {
        cur = match token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(n) => cur.as_array()?.get(n.parse::<usize>().ok()?)?,
            None => cur.as_object()?.get(token)?,
        };
    }
    Some(cur)
}
