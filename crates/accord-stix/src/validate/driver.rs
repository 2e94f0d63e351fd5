//! The walk over one object: resolves its type (built in, `x-` custom, or declared by an
//! extension-definition), checks `type` and `id`, checks each property present against the type's
//! table and each required one for absence, then hands over to the rules the tables cannot
//! express.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::report::Rule;
use super::{extensions, kinds, marking, numbers, refs, sco, sdo, time};
use crate::id::{self, parse_identifier};
use crate::spec::{self, Category, TypeSpec};

// Types that are not built in get an empty property table of their category: their own
// properties are then all custom, and only the common properties are checked.
static CUSTOM_SDO: TypeSpec = TypeSpec {
    name: "custom",
    category: Category::Sdo,
    props: &[],
    id_contributing: &[],
};
static CUSTOM_SRO: TypeSpec = TypeSpec {
    name: "custom",
    category: Category::Sro,
    props: &[],
    id_contributing: &[],
};
static CUSTOM_SCO: TypeSpec = TypeSpec {
    name: "custom",
    category: Category::Sco,
    props: &[],
    id_contributing: &[],
};

pub(super) fn validate_object<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    // type
    let Some(type_value) = obj.get("type") else {
        cx.err(Rule::RequiredProperty, "missing required property \"type\"");
        return;
    };
    let Some(type_name) = type_value.as_str() else {
        cx.at_key("type", |cx| cx.expected("a string", type_value));
        return;
    };
    if let Err(e) = id::check_type_name(type_name) {
        cx.at_key("type", |cx| {
            cx.err(Rule::TypeName, format!("type {type_name:?} is invalid: {e}"))
        });
        return;
    }

    // Resolve the type: built in, 2.0-style custom (x-), or defined by an extension-definition.
    let builtin = spec::type_spec(type_name);
    let spec: &TypeSpec = match builtin {
        Some(s) => s,
        None => {
            let ext = extensions::declared_extension_types(obj)
                .find(|t| matches!(*t, "new-sdo" | "new-sco" | "new-sro"));
            match ext {
                Some("new-sco") => &CUSTOM_SCO,
                Some("new-sro") => &CUSTOM_SRO,
                Some(_) => &CUSTOM_SDO,
                None if type_name.starts_with("x-") => &CUSTOM_SDO,
                None => {
                    cx.at_key("type", |cx| {
                        cx.err(
                            Rule::UnknownType,
                            format!(
                                "unknown type {type_name:?}: not a STIX 2.1 type, not x- prefixed, and no \
                                 extension-definition declares it (new-sdo/new-sco/new-sro)"
                            ),
                        )
                    });
                    return;
                }
            }
        }
    };

    // id
    let mut uuid = None;
    match obj.get("id") {
        None => cx.err(Rule::RequiredProperty, "missing required property \"id\""),
        Some(Value::String(s)) => cx.at_key("id", |cx| match parse_identifier(s) {
            Ok(ident) if ident.type_name != type_name => cx.err(
                Rule::IdTypeMismatch,
                format!(
                    "id {s:?} has type part {:?} but the object's type is {type_name:?}",
                    ident.type_name
                ),
            ),
            Ok(ident) => uuid = Some(ident.uuid),
            Err(e) => cx.err(Rule::Identifier, e.to_string()),
        }),
        Some(other) => cx.at_key("id", |cx| cx.expected("a string", other)),
    }

    // Properties present. A toplevel-property-extension declares the object's extra properties,
    // so they need no x_ prefix.
    let toplevel_ext = extensions::declared_extension_types(obj).any(|t| t == "toplevel-property-extension");
    for (key, value) in obj {
        if key == "type" || key == "id" {
            continue;
        }
        cx.at_key(key, |cx| match spec.prop(key) {
            Some(prop) => kinds::check_kind(value, prop.kind, Some(type_name), cx),
            None => kinds::check_custom_property(key, value, builtin.is_some() && !toplevel_ext, cx),
        });
    }

    // Properties missing.
    for prop in spec.common().iter().chain(spec.props) {
        if prop.required && !obj.contains_key(prop.name) {
            cx.err(
                Rule::RequiredProperty,
                format!("missing required property {:?} for type {type_name}", prop.name),
            );
        }
    }

    numbers::walk_numbers(obj, cx);

    if let Some(uuid) = uuid {
        refs::check_id_version(obj, spec, type_name, uuid, cx);
    }
    time::check_versioning(obj, spec, type_name, cx);
    type_rules(type_name, spec, obj, cx);
    marking::check_marking_refs(obj, cx);
}

/// The rules particular to one type. Each built-in type is handled by exactly one of these.
fn type_rules<'a>(type_name: &str, spec: &TypeSpec, obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    match type_name {
        "marking-definition" => marking::check_marking_definition(obj, cx),
        "extension-definition" => extensions::check_extension_definition(obj, cx),
        _ if spec.category == Category::Sco => sco::type_rules(type_name, obj, cx),
        _ => sdo::type_rules(type_name, obj, cx),
    }
}

/// Whether the object has a property (present, whatever its value).
pub(super) fn has(obj: &Map<String, Value>, key: &str) -> bool {
    obj.contains_key(key)
}
