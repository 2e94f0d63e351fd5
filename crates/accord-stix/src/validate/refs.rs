//! Identifiers and references: the types a reference property may point to, references held by
//! custom `*_ref`/`*_refs` properties, and the UUID version of an object's own id (with the
//! deterministic UUIDv5 of SCOs).

use serde_json::{Map, Value};

use super::cx::{Cx, kind_name};
use super::report::Rule;
use crate::id::{self, parse_identifier};
use crate::spec::{self, ANY, ANY_SCO, ANY_SDO, ANY_SRO, Category, TypeSpec};

/// One identifier whose type must be among `targets` (type names or `@`-groups of categories).
pub(super) fn check_ref(s: &str, targets: &[&str], cx: &mut Cx<'_>) {
    let ident = match parse_identifier(s) {
        Ok(i) => i,
        Err(e) => return cx.err(Rule::Identifier, e.to_string()),
    };
    let t = ident.type_name;
    if targets.contains(&ANY) || targets.contains(&t) {
        return;
    }
    let allowed = match spec::category_of(t) {
        Some(Category::Sdo) => targets.contains(&ANY_SDO),
        Some(Category::Sco) => targets.contains(&ANY_SCO),
        Some(Category::Sro) => targets.contains(&ANY_SRO),
        Some(Category::Meta) => false,
        // A type defined by an extension-definition: its category is unknown here, so any group fits.
        None => targets.iter().any(|g| g.starts_with('@')),
    };
    if !allowed {
        let list: Vec<&str> = targets
            .iter()
            .map(|g| match *g {
                ANY_SDO => "any SDO",
                ANY_SCO => "any SCO",
                ANY_SRO => "any SRO",
                other => other,
            })
            .collect();
        cx.err(
            Rule::RefType,
            format!(
                "reference to {t:?} is not allowed here; allowed: {}",
                list.join(", ")
            ),
        );
    }
}

/// The identifiers of a property no table describes, when its name says it holds references.
pub(super) fn check_custom_refs(key: &str, value: &Value, cx: &mut Cx<'_>) {
    // Any property named *_ref or *_refs holds identifiers (section 2.6). Real data (ATT&CK's
    // x_mitre_data_source_ref: "") breaks this for custom properties, so there it is a warning.
    let refs: Vec<&Value> = if key.ends_with("_ref") {
        vec![value]
    } else if key.ends_with("_refs") {
        value
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_else(|| vec![value])
    } else {
        return;
    };
    for r in refs {
        match r.as_str().map(parse_identifier) {
            Some(Ok(_)) => {}
            Some(Err(e)) => cx.warn(Rule::Identifier, format!("custom reference property: {e}")),
            None => cx.warn(
                Rule::PropertyType,
                format!(
                    "custom reference property holds {}, not an identifier",
                    kind_name(r)
                ),
            ),
        }
    }
}

/// The UUID version of the object's own id: v4 for SDOs, SROs and meta objects; v5 for SCOs,
/// whose v5 id must then be the one their ID-contributing properties give.
pub(super) fn check_id_version(
    obj: &Map<String, Value>,
    spec: &TypeSpec,
    type_name: &str,
    uuid: uuid::Uuid,
    cx: &mut Cx<'_>,
) {
    let version = uuid.get_version_num();
    if spec.category == Category::Sco {
        if version != 5 && version != 4 {
            cx.at_key("id", |cx| {
                cx.warn(
                    Rule::IdVersion,
                    format!("SCO ids should be UUIDv5 (or v4), found v{version}"),
                )
            });
        }
        if version == 5 {
            if let Some(expected) = id::deterministic_sco_id(type_name, obj, spec.id_contributing) {
                let actual = obj.get("id").and_then(Value::as_str).unwrap_or_default();
                if !actual.eq_ignore_ascii_case(&expected) {
                    cx.at_key("id", |cx| {
                        cx.warn(
                            Rule::ScoId,
                            format!(
                                "UUIDv5 id does not match the ID-contributing properties; expected {expected}"
                            ),
                        )
                    });
                }
            }
        } else if !spec.id_contributing.is_empty() {
            cx.at_key("id", |cx| {
                cx.warn(Rule::IdVersion, "SCO ids should be deterministic UUIDv5")
            });
        }
    } else if version != 4 {
        cx.at_key("id", |cx| {
            cx.warn(
                Rule::IdVersion,
                format!("ids of this category should be UUIDv4, found v{version}"),
            )
        });
    }
}
