//! What validation produces: severities, the table of rules (with their stable names), one
//! finding per problem, and the report of one object.

use std::fmt;

use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A MUST rule is broken: the object is rejected.
    Error,
    /// A SHOULD rule or an open vocabulary is not followed: the object is accepted.
    Warning,
}

// One table gives each rule its variant, stable name and description, so the three cannot drift.
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
    UnknownMarkingRef = "unknown-marking-ref": "warning: a marking reference that is neither a fixed TLP id nor defined in the same input (the policy withholds the object from partners)",
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
