//! Validation of one STIX 2.1 object against the spec's MUST rules (errors) and SHOULD rules and
//! open vocabularies (warnings). Each finding names the object id, the JSON path and the rule.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::id::{self, parse_identifier};
use crate::jcs::MAX_SAFE_INTEGER;
use crate::markings;
use crate::spec::{self, ANY, ANY_SCO, ANY_SDO, ANY_SRO, Category, Kind, Prop, TypeSpec};
use crate::timestamp::Timestamp;
use crate::vocab;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A MUST rule is broken: the object is rejected.
    Error,
    /// A SHOULD rule or an open vocabulary is not followed: the object is accepted.
    Warning,
}

macro_rules! rules {
    ($($variant:ident = $name:literal: $doc:literal,)*) => {
        /// The rule a finding is about. The kebab-case name is stable and used in test data and JSON output.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule { $(#[doc = $doc] $variant,)* }
        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];
            pub fn name(self) -> &'static str { match self { $(Rule::$variant => $name,)* } }
            pub fn description(self) -> &'static str { match self { $(Rule::$variant => $doc,)* } }
            pub fn from_name(name: &str) -> Option<Rule> { match name { $($name => Some(Rule::$variant),)* _ => None } }
        }
    };
}

rules! {
    NotAnObject = "not-an-object": "a STIX object must be a JSON object",
    RequiredProperty = "required-property": "a property the type requires is missing",
    PropertyType = "property-type": "a property holds the wrong kind of JSON value",
    PropertyName = "property-name": "property names are 3-250 characters of a-z, A-Z, 0-9 and underscore",
    TypeName = "type-name": "type names are 3-250 characters of a-z, 0-9 and hyphen",
    UnknownType = "unknown-type": "types that are neither STIX 2.1, x- prefixed, nor defined by an extension-definition",
    Identifier = "identifier": "identifiers are type--UUID with an RFC 4122 UUID",
    IdTypeMismatch = "id-type-mismatch": "the type part of the id equals the object's type",
    SpecVersion = "spec-version": "spec_version is \"2.1\"",
    Timestamp = "timestamp": "timestamps are RFC 3339 in UTC with a literal Z",
    TimestampPrecision = "timestamp-precision": "created and modified are precise to the millisecond or finer",
    TimestampOrder = "timestamp-order": "an end timestamp is not before its start (modified >= created, etc.)",
    RefType = "ref-type": "a reference points to a type the property allows",
    EmptyList = "empty-list": "list properties are not empty",
    ValueRange = "value-range": "a number lies within the range the property allows",
    NumberPrecision = "number-precision": "integers fit an IEEE 754 double exactly (needed for RFC 8785)",
    Enum = "enum": "a value from a closed enumeration",
    Lang = "lang": "language tags follow RFC 5646",
    ExternalReference = "external-reference": "external references carry description, url or external_id, and well-formed CVE/CAPEC ids",
    Hashes = "hashes": "hash dictionaries have valid keys and values of the right form",
    Hex = "hex": "hex properties hold an even number of hexadecimal digits",
    Binary = "binary": "binary properties hold base64",
    Dictionary = "dictionary": "dictionary keys are at most 250 characters",
    GranularMarking = "granular-marking": "granular markings carry exactly one of marking_ref and lang, and selectors that resolve",
    Extension = "extension": "extensions are predefined for the type or named by an extension-definition id",
    MarkingDefinition = "marking-definition": "marking definitions are consistent, and reserved TLP ids carry their fixed content",
    CoConstraint = "co-constraint": "a combination of properties the type requires or forbids",
    Value = "value": "a property value has the form the type requires (IP address, MAC address, ...)",
    Iep = "iep": "IEP 2.0 marking definitions have valid fields",
    OpenVocabulary = "open-vocabulary": "warning: a value outside the suggested open vocabulary",
    CustomProperty = "custom-property": "warning: a custom property without the x_ prefix",
    IdVersion = "id-version": "warning: SDO, SRO and meta ids should be UUIDv4, SCO ids UUIDv5",
    ScoId = "sco-id": "warning: an SCO's UUIDv5 id does not match its ID-contributing properties",
    KillChainPhase = "kill-chain-phase": "warning: kill chain and phase names should be lowercase with hyphens",
    Deprecated = "deprecated": "warning: a deprecated construct",
    UnknownMarking = "unknown-marking": "warning: a marking-definition that claims TLP but is not one of the fixed ids",
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem found in one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub rule: Rule,
    /// JSON path inside the object, e.g. `$.external_references[0].url`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev} [{}] at {}: {}", self.rule, self.path, self.message)
    }
}

/// All findings for one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The object's id as written, when it had one.
    pub object_id: Option<String>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity == Severity::Warning)
    }
}

/// Validates one object. Never panics, whatever the input.
pub fn validate(value: &Value) -> Report {
    let Some(obj) = value.as_object() else {
        let mut cx = Cx::new(value);
        cx.err(
            Rule::NotAnObject,
            format!("expected a JSON object, found {}", kind_name(value)),
        );
        return cx.finish(None);
    };
    let mut cx = Cx::new(value);
    let object_id = obj.get("id").and_then(Value::as_str).map(str::to_owned);
    validate_object(obj, &mut cx);
    cx.finish(object_id)
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Cx<'a> {
    root: &'a Value,
    path: Vec<Seg<'a>>,
    findings: Vec<Finding>,
}

impl<'a> Cx<'a> {
    fn new(root: &'a Value) -> Self {
        Cx {
            root,
            path: Vec::with_capacity(8),
            findings: Vec::new(),
        }
    }

    fn finish(self, object_id: Option<String>) -> Report {
        Report {
            object_id,
            findings: self.findings,
        }
    }

    fn path_string(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    let _ = crate::json::write_key(&mut s, k);
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        s
    }

    fn push(&mut self, severity: Severity, rule: Rule, message: String) {
        let path = self.path_string();
        self.findings.push(Finding {
            severity,
            rule,
            path,
            message,
        });
    }
    fn err(&mut self, rule: Rule, message: impl Into<String>) {
        self.push(Severity::Error, rule, message.into());
    }
    fn warn(&mut self, rule: Rule, message: impl Into<String>) {
        self.push(Severity::Warning, rule, message.into());
    }
    fn at_key<R>(&mut self, key: &'a str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(Seg::Key(key));
        let r = f(self);
        self.path.pop();
        r
    }
    fn at_index<R>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(Seg::Index(i));
        let r = f(self);
        self.path.pop();
        r
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

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

/// The extension types an object declares through `extensions: {"extension-definition--…": {extension_type}}`.
fn declared_extension_types(obj: &Map<String, Value>) -> impl Iterator<Item = &str> {
    obj.get("extensions")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.starts_with("extension-definition--"))
        .filter_map(|(_, v)| v.get("extension_type").and_then(Value::as_str))
}

fn validate_object<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    // type
    let Some(type_value) = obj.get("type") else {
        cx.err(Rule::RequiredProperty, "missing required property \"type\"");
        return;
    };
    let Some(type_name) = type_value.as_str() else {
        cx.at_key("type", |cx| {
            cx.err(
                Rule::PropertyType,
                format!("expected a string, found {}", kind_name(type_value)),
            )
        });
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
            let ext = declared_extension_types(obj).find(|t| matches!(*t, "new-sdo" | "new-sco" | "new-sro"));
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
        Some(other) => cx.at_key("id", |cx| {
            cx.err(
                Rule::PropertyType,
                format!("expected a string, found {}", kind_name(other)),
            )
        }),
    }

    // Properties present.
    let toplevel_ext = declared_extension_types(obj).any(|t| t == "toplevel-property-extension");
    for (key, value) in obj {
        if key == "type" || key == "id" {
            continue;
        }
        cx.at_key(key, |cx| match spec.prop(key) {
            Some(prop) => check_kind(value, prop.kind, Some(type_name), cx),
            None => check_custom_property(key, value, builtin.is_some() && !toplevel_ext, cx),
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

    walk_numbers(obj, cx);

    if let Some(uuid) = uuid {
        check_id_version(obj, spec, type_name, uuid, cx);
    }
    if matches!(spec.category, Category::Sdo | Category::Sro)
        || type_name == "extension-definition"
        || type_name == "language-content"
    {
        order(obj, "created", "modified", false, cx);
    }
    type_rules(type_name, obj, cx);
}

/// Integers beyond 2^53 cannot be canonicalised without loss (RFC 8785 uses IEEE 754 doubles).
fn walk_numbers<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    /// Only numbers, and containers that may hold them, are visited.
    fn visit<'a>(v: &'a Value, cx: &mut Cx<'a>) {
        match v {
            Value::Number(n) => {
                let too_big = match (n.as_i64(), n.as_u64()) {
                    (Some(i), _) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                    (None, Some(u)) => u > MAX_SAFE_INTEGER,
                    _ => false,
                };
                if too_big {
                    cx.err(
                        Rule::NumberPrecision,
                        format!("integer {n} is beyond ±2^53 and cannot be represented exactly"),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().filter(|(_, x)| holds_numbers(x)) {
                    cx.at_index(i, |cx| visit(item, cx));
                }
            }
            Value::Object(m) => members(m, cx),
            _ => {}
        }
    }
    fn holds_numbers(v: &Value) -> bool {
        v.is_number() || v.is_array() || v.is_object()
    }
    fn members<'a>(m: &'a Map<String, Value>, cx: &mut Cx<'a>) {
        for (k, item) in m.iter().filter(|(_, x)| holds_numbers(x)) {
            cx.at_key(k, |cx| visit(item, cx));
        }
    }
    members(obj, cx);
}

fn check_custom_property<'a>(key: &'a str, value: &'a Value, warn_prefix: bool, cx: &mut Cx<'a>) {
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

fn check_kind<'a>(value: &'a Value, kind: Kind, owner_type: Option<&str>, cx: &mut Cx<'a>) {
    let wrong = |cx: &mut Cx<'a>, expected: &str| {
        cx.err(
            Rule::PropertyType,
            format!("expected {expected}, found {}", kind_name(value)),
        );
    };
    match kind {
        Kind::Any => {}
        Kind::Str => {
            if !value.is_string() {
                wrong(cx, "a string");
            }
        }
        Kind::Bool => {
            if !value.is_boolean() {
                wrong(cx, "a boolean");
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
            _ => wrong(cx, "an integer"),
        },
        Kind::Float(min, max) => match value.as_f64() {
            Some(f) if f >= min && f <= max => {}
            Some(f) => cx.err(
                Rule::ValueRange,
                format!("{f} is outside the allowed range {min}..={max}"),
            ),
            None => wrong(cx, "a number"),
        },
        Kind::Timestamp | Kind::TimestampMillis => match value.as_str() {
            Some(s) => match Timestamp::parse(s) {
                Ok(t) if matches!(kind, Kind::TimestampMillis) && t.fraction_digits < 3 => cx.err(
                    Rule::TimestampPrecision,
                    format!("{s:?} must be precise to the millisecond (at least 3 fractional digits)"),
                ),
                Ok(_) => {}
                Err(e) => cx.err(Rule::Timestamp, e.to_string()),
            },
            None => wrong(cx, "a timestamp string"),
        },
        Kind::Ref(targets) => match value.as_str() {
            Some(s) => check_ref(s, targets, cx),
            None => wrong(cx, "an identifier string"),
        },
        Kind::Refs(targets) => for_list(value, cx, |item, cx| match item.as_str() {
            Some(s) => check_ref(s, targets, cx),
            None => cx.err(
                Rule::PropertyType,
                format!("expected an identifier string, found {}", kind_name(item)),
            ),
        }),
        Kind::Strs => for_list(value, cx, |item, cx| {
            if !item.is_string() {
                cx.err(
                    Rule::PropertyType,
                    format!("expected a string, found {}", kind_name(item)),
                );
            }
        }),
        Kind::Vocab(words) => match value.as_str() {
            Some(s) => check_vocab(s, words, cx),
            None => wrong(cx, "a string"),
        },
        Kind::Vocabs(words) => for_list(value, cx, |item, cx| match item.as_str() {
            Some(s) => check_vocab(s, words, cx),
            None => cx.err(
                Rule::PropertyType,
                format!("expected a string, found {}", kind_name(item)),
            ),
        }),
        Kind::Enum(words) => match value.as_str() {
            Some(s) => check_enum(s, words, cx),
            None => wrong(cx, "a string"),
        },
        Kind::Enums(words) => for_list(value, cx, |item, cx| match item.as_str() {
            Some(s) => check_enum(s, words, cx),
            None => cx.err(
                Rule::PropertyType,
                format!("expected a string, found {}", kind_name(item)),
            ),
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
            None => wrong(cx, "a dictionary (JSON object)"),
        },
        Kind::Obj(props) => match value.as_object() {
            Some(m) => check_props(m, props, cx),
            None => wrong(cx, "an object"),
        },
        Kind::Objs(props) => for_objects(value, props, cx, |_, _| {}),
        Kind::ExternalReferences => {
            for_objects(value, spec::EXTERNAL_REFERENCE, cx, check_external_reference)
        }
        Kind::KillChainPhases => for_objects(value, spec::KILL_CHAIN_PHASE, cx, check_kill_chain_phase),
        Kind::MimeParts => for_objects(value, spec::MIME_PART, cx, |m, cx| {
            if !m.contains_key("body") && !m.contains_key("body_raw_ref") {
                cx.err(Rule::CoConstraint, "a MIME part must have body or body_raw_ref");
            }
        }),
        Kind::Hex => match value.as_str() {
            Some(s) if s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {}
            Some(s) => cx.err(
                Rule::Hex,
                format!("{s:?} is not an even number of hexadecimal digits"),
            ),
            None => wrong(cx, "a hex string"),
        },
        Kind::Binary => match value.as_str() {
            Some(s) if is_base64(s) => {}
            Some(_) => cx.err(Rule::Binary, "value is not valid base64 (RFC 4648, padded)"),
            None => wrong(cx, "a base64 string"),
        },
        Kind::Lang => match value.as_str() {
            Some(s) if is_lang_tag(s) => {}
            Some(s) => cx.err(Rule::Lang, format!("{s:?} is not an RFC 5646 language tag")),
            None => wrong(cx, "a language tag string"),
        },
        Kind::SpecVersion => match value.as_str() {
            Some("2.1") => {}
            Some(s) => cx.err(
                Rule::SpecVersion,
                format!("spec_version {s:?} is not \"2.1\"; only STIX 2.1 is accepted"),
            ),
            None => wrong(cx, "the string \"2.1\""),
        },
        Kind::Extensions => check_extensions(value, owner_type, cx),
        Kind::GranularMarkings => check_granular_markings(value, cx),
    }
}

fn for_list<'a>(value: &'a Value, cx: &mut Cx<'a>, mut each: impl FnMut(&'a Value, &mut Cx<'a>)) {
    match value.as_array() {
        Some(items) if items.is_empty() => cx.err(Rule::EmptyList, "list must not be empty"),
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                cx.at_index(i, |cx| each(item, cx));
            }
        }
        None => cx.err(
            Rule::PropertyType,
            format!("expected a list, found {}", kind_name(value)),
        ),
    }
}

fn check_props<'a>(m: &'a Map<String, Value>, props: &'static [Prop], cx: &mut Cx<'a>) {
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
        None => cx.err(
            Rule::PropertyType,
            format!("expected an object, found {}", kind_name(item)),
        ),
    });
}

fn check_kill_chain_phase<'a>(m: &'a Map<String, Value>, cx: &mut Cx<'a>) {
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

fn check_external_reference<'a>(m: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    if !["description", "url", "external_id"]
        .iter()
        .any(|k| m.contains_key(*k))
    {
        cx.err(
            Rule::ExternalReference,
            "an external reference needs at least one of description, url, external_id",
        );
    }
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

fn check_ref(s: &str, targets: &[&str], cx: &mut Cx<'_>) {
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

fn check_vocab(s: &str, words: &[&str], cx: &mut Cx<'_>) {
    if !words.contains(&s) {
        cx.warn(
            Rule::OpenVocabulary,
            format!("{s:?} is not in the open vocabulary"),
        );
    }
}

fn check_enum(s: &str, words: &[&str], cx: &mut Cx<'_>) {
    if !words.contains(&s) {
        cx.err(Rule::Enum, format!("{s:?} is not one of: {}", words.join(", ")));
    }
}

fn check_hashes<'a>(value: &'a Value, cx: &mut Cx<'a>) {
    let Some(m) = value.as_object() else {
        return cx.err(
            Rule::PropertyType,
            format!("expected a hashes dictionary, found {}", kind_name(value)),
        );
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
                return cx.err(
                    Rule::PropertyType,
                    format!("expected a hash string, found {}", kind_name(v)),
                );
            };
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

fn check_extensions<'a>(value: &'a Value, owner_type: Option<&str>, cx: &mut Cx<'a>) {
    let Some(m) = value.as_object() else {
        return cx.err(
            Rule::PropertyType,
            format!("expected an extensions dictionary, found {}", kind_name(value)),
        );
    };
    if m.is_empty() {
        return cx.err(Rule::Extension, "extensions must not be empty");
    }
    for (name, ext) in m {
        cx.at_key(name, |cx| {
            let Some(body) = ext.as_object() else {
                return cx.err(
                    Rule::PropertyType,
                    format!("expected an extension object, found {}", kind_name(ext)),
                );
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

fn check_granular_markings<'a>(value: &'a Value, cx: &mut Cx<'a>) {
    let root = cx.root;
    for_list(value, cx, |item, cx| {
        let Some(m) = item.as_object() else {
            return cx.err(
                Rule::PropertyType,
                format!("expected a granular marking object, found {}", kind_name(item)),
            );
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

fn check_id_version(
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

fn ts(obj: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    obj.get(key)
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
}

/// Checks `later >= earlier` (or `>` when `strict`).
fn order(obj: &Map<String, Value>, earlier: &str, later: &'static str, strict: bool, cx: &mut Cx<'_>) {
    if let (Some(a), Some(b)) = (ts(obj, earlier), ts(obj, later)) {
        let bad = if strict { b <= a } else { b < a };
        if bad {
            let rel = if strict { "later than" } else { "at or after" };
            cx.at_key(later, |cx| {
                cx.err(Rule::TimestampOrder, format!("{later} must be {rel} {earlier}"))
            });
        }
    }
}

fn has(obj: &Map<String, Value>, key: &str) -> bool {
    obj.contains_key(key)
}

fn type_rules<'a>(type_name: &str, obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
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
        "marking-definition" => check_marking_definition(obj, cx),
        "extension-definition" => {
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
        "language-content" => {
            if let Some(contents) = obj.get("contents").and_then(Value::as_object) {
                cx.at_key("contents", |cx| {
                    for (lang, v) in contents {
                        cx.at_key(lang, |cx| {
                            if !is_lang_tag(lang) {
                                cx.err(Rule::Lang, format!("{lang:?} is not an RFC 5646 language tag"));
                            }
                            if !v.is_object() {
                                cx.err(
                                    Rule::PropertyType,
                                    format!(
                                        "expected an object of translated properties, found {}",
                                        kind_name(v)
                                    ),
                                );
                            }
                        });
                    }
                });
            }
        }
        "artifact" => {
            if has(obj, "payload_bin") == has(obj, "url") {
                cx.err(
                    Rule::CoConstraint,
                    "artifact needs exactly one of payload_bin and url",
                );
            }
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

fn check_marking_definition<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
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

fn check_value(obj: &Map<String, Value>, cx: &mut Cx<'_>, what: &str, ok: impl Fn(&str) -> bool) {
    if let Some(s) = obj.get("value").and_then(Value::as_str)
        && !ok(s)
    {
        cx.at_key("value", |cx| cx.err(Rule::Value, format!("{s:?} is not {what}")));
    }
}

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
