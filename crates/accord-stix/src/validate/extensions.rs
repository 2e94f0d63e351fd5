//! Extensions (section 7.3): the `extensions` property of any object, the extension types an
//! object declares (which can define its type or its top-level properties), and the
//! extension-definition object's own co-constraint.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::driver::has;
use super::kinds::{check_custom_property, check_kind, check_props};
use super::report::Rule;
use crate::id::parse_identifier;
use crate::spec::{self, Kind};
use crate::vocab;

/// The extension types an object declares through `extensions: {"extension-definition--…": {extension_type}}`.
pub(super) fn declared_extension_types(obj: &Map<String, Value>) -> impl Iterator<Item = &str> {
    obj.get("extensions")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.starts_with("extension-definition--"))
        .filter_map(|(_, v)| v.get("extension_type").and_then(Value::as_str))
}

/// The `extensions` dictionary: each key an extension-definition id or a predefined extension
/// that applies to `owner_type` (unknown inside nested objects).
pub(super) fn check_extensions<'a>(value: &'a Value, owner_type: Option<&str>, cx: &mut Cx<'a>) {
    let Some(m) = value.as_object() else {
        return cx.expected("an extensions dictionary", value);
    };
    if m.is_empty() {
        return cx.err(Rule::Extension, "extensions must not be empty");
    }
    for (name, ext) in m {
        cx.at_key(name, |cx| {
            let Some(body) = ext.as_object() else {
                return cx.expected("an extension object", ext);
            };
            if name.starts_with("extension-definition--") {
                match parse_identifier(name) {
                    Ok(i) if i.type_name == "extension-definition" => {}
                    Ok(_) | Err(_) => {
                        return cx.err(
                            Rule::Extension,
                            format!("{name:?} is not an extension-definition id"),
                        );
                    }
                }
                if let Some(t) = body.get("extension_type") {
                    cx.at_key("extension_type", |cx| {
                        check_kind(t, Kind::Enum(vocab::EXTENSION_TYPE), None, cx)
                    });
                }
                // The body's schema is the extension-definition's, unknown here; only what
                // every property of that name must hold is checked.
                for (k, v) in body {
                    if k.ends_with("_ref") || k.ends_with("_refs") {
                        cx.at_key(k, |cx| check_custom_property(k, v, false, cx));
                    }
                }
            } else if let Some(pre) = spec::predefined_extension(name) {
                if owner_type.is_some_and(|t| t != pre.extends) {
                    return cx.err(
                        Rule::Extension,
                        format!("{name} only applies to {} objects", pre.extends),
                    );
                }
                check_props(body, pre.props, cx);
            } else {
                cx.warn(
                    Rule::Extension,
                    format!("extension {name:?} is neither predefined nor an extension-definition id"),
                );
            }
        });
    }
}

/// An extension-definition lists `extension_properties` only for a toplevel-property-extension.
pub(super) fn check_extension_definition<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    let toplevel = obj
        .get("extension_types")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|t| t == "toplevel-property-extension"));
    if has(obj, "extension_properties") && !toplevel {
        cx.at_key("extension_properties", |cx| {
            cx.err(
                Rule::CoConstraint,
                "extension_properties is only allowed with toplevel-property-extension",
            )
        });
    }
}
