//! The STIX 2.1 object model as data: every type, its properties, their kinds, and which
//! properties contribute to deterministic identifiers. The validator interprets these tables.

use crate::vocab as v;

/// What family a type belongs to; decides the common properties and which references may target it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// STIX Domain Object (including 2.0-style `x-` custom objects and `new-sdo` extensions).
    Sdo,
    /// STIX Relationship Object.
    Sro,
    /// STIX Cyber-observable Object.
    Sco,
    /// marking-definition, language-content, extension-definition.
    Meta,
}

/// Reference-target groups usable in [`Kind::Ref`] lists next to concrete type names.
pub const ANY_SDO: &str = "@sdo";
pub const ANY_SCO: &str = "@sco";
pub const ANY_SRO: &str = "@sro";
pub const ANY: &str = "@any";

/// The kind of value a property holds.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    /// Integer within inclusive bounds.
    Int(i64, i64),
    /// Floating-point number within inclusive bounds.
    Float(f64, f64),
    Timestamp,
    /// `created`/`modified`: a timestamp with at least millisecond precision.
    TimestampMillis,
    /// One identifier whose type is in the list.
    Ref(&'static [&'static str]),
    /// A non-empty list of identifiers whose types are in the list.
    Refs(&'static [&'static str]),
    /// A non-empty list of strings.
    Strs,
    /// A string from an open vocabulary (other values are warnings).
    Vocab(&'static [&'static str]),
    /// A non-empty list of strings from an open vocabulary.
    Vocabs(&'static [&'static str]),
    /// A string from a closed enumeration (other values are errors).
    Enum(&'static [&'static str]),
    /// A non-empty list of strings from a closed enumeration.
    Enums(&'static [&'static str]),
    /// A hashes dictionary (hash-algorithm-ov keys).
    Hashes,
    /// A dictionary with free-form values.
    Dict,
    /// A JSON object described by nested properties.
    Obj(&'static [Prop]),
    /// A non-empty list of JSON objects described by nested properties.
    Objs(&'static [Prop]),
    /// External references (section 2.5), with their own co-constraints.
    ExternalReferences,
    /// Kill chain phases (section 2.8), whose names should be lowercase.
    KillChainPhases,
    /// MIME parts of an email-message, each with body or body_raw_ref.
    MimeParts,
    /// Base16 (hex) string.
    Hex,
    /// Base64 string.
    Binary,
    /// An RFC 5646 language tag.
    Lang,
    /// `spec_version`, which must be "2.1".
    SpecVersion,
    /// The `extensions` dictionary.
    Extensions,
    /// Granular markings.
    GranularMarkings,
    /// Anything (validated elsewhere, or free-form by the spec).
    Any,
}

/// One property of a type.
#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn opt(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        required: false,
    }
}
const fn req(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        required: true,
    }
}

/// Everything the validator knows about one type.
#[derive(Debug)]
pub struct TypeSpec {
    pub name: &'static str,
    pub category: Category,
    pub props: &'static [Prop],
    /// Properties that contribute to the deterministic UUIDv5 id (SCOs only; empty for UUIDv4 types).
    pub id_contributing: &'static [&'static str],
}

impl TypeSpec {
    /// The properties every object of this category carries (section 3.2 / 6.1 / 7).
    pub fn common(&self) -> &'static [Prop] {
        match self.category {
            Category::Sdo | Category::Sro => SDO_COMMON,
            Category::Sco => SCO_COMMON,
            Category::Meta => match self.name {
                "marking-definition" => MARKING_COMMON,
                "extension-definition" => EXTENSION_DEFINITION_COMMON,
                _ => SDO_COMMON,
            },
        }
    }

    pub fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.common().iter().chain(self.props).find(|p| p.name == name)
    }
}

const IDENTITY: &[&str] = &["identity"];
const MARKING: &[&str] = &["marking-definition"];
const SOFTWARE: &[&str] = &["software"];
const ARTIFACT: &[&str] = &["artifact"];
const EMAIL_ADDR: &[&str] = &["email-addr"];
const NETWORK_TRAFFIC: &[&str] = &["network-traffic"];
const USER_ACCOUNT: &[&str] = &["user-account"];
const ANY_OBJECT: &[&str] = &[ANY];
const SDO_OR_SCO: &[&str] = &[ANY_SDO, ANY_SCO];

pub const EXTERNAL_REFERENCE: &[Prop] = &[
    req("source_name", Kind::Str),
    opt("description", Kind::Str),
    opt("url", Kind::Str),
    opt("hashes", Kind::Hashes),
    opt("external_id", Kind::Str),
];
pub const KILL_CHAIN_PHASE: &[Prop] = &[req("kill_chain_name", Kind::Str), req("phase_name", Kind::Str)];
pub const GRANULAR_MARKING: &[Prop] = &[
    opt("lang", Kind::Lang),
    opt("marking_ref", Kind::Ref(MARKING)),
    req("selectors", Kind::Strs),
];

const SDO_COMMON: &[Prop] = &[
    req("type", Kind::Any),
    req("spec_version", Kind::SpecVersion),
    req("id", Kind::Any),
    opt("created_by_ref", Kind::Ref(IDENTITY)),
    req("created", Kind::TimestampMillis),
    req("modified", Kind::TimestampMillis),
    opt("revoked", Kind::Bool),
    opt("labels", Kind::Strs),
    opt("confidence", Kind::Int(0, 100)),
    opt("lang", Kind::Lang),
    opt("external_references", Kind::ExternalReferences),
    opt("object_marking_refs", Kind::Refs(MARKING)),
    opt("granular_markings", Kind::GranularMarkings),
    opt("extensions", Kind::Extensions),
];

const SCO_COMMON: &[Prop] = &[
    req("type", Kind::Any),
    opt("spec_version", Kind::SpecVersion),
    req("id", Kind::Any),
    opt("object_marking_refs", Kind::Refs(MARKING)),
    opt("granular_markings", Kind::GranularMarkings),
    opt("defanged", Kind::Bool),
    opt("extensions", Kind::Extensions),
];

const MARKING_COMMON: &[Prop] = &[
    req("type", Kind::Any),
    req("spec_version", Kind::SpecVersion),
    req("id", Kind::Any),
    opt("created_by_ref", Kind::Ref(IDENTITY)),
    req("created", Kind::TimestampMillis),
    opt("external_references", Kind::ExternalReferences),
    opt("object_marking_refs", Kind::Refs(MARKING)),
    opt("granular_markings", Kind::GranularMarkings),
    opt("extensions", Kind::Extensions),
];

const EXTENSION_DEFINITION_COMMON: &[Prop] = &[
    req("type", Kind::Any),
    req("spec_version", Kind::SpecVersion),
    req("id", Kind::Any),
    req("created_by_ref", Kind::Ref(IDENTITY)),
    req("created", Kind::TimestampMillis),
    req("modified", Kind::TimestampMillis),
    opt("revoked", Kind::Bool),
    opt("labels", Kind::Strs),
    opt("external_references", Kind::ExternalReferences),
    opt("object_marking_refs", Kind::Refs(MARKING)),
    opt("granular_markings", Kind::GranularMarkings),
];

const KILL_CHAINS: Kind = Kind::KillChainPhases;

macro_rules! spec {
    ($name:literal, $cat:ident, [$($p:expr),* $(,)?]) => {
        TypeSpec { name: $name, category: Category::$cat, props: &[$($p),*], id_contributing: &[] }
    };
    ($name:literal, $cat:ident, [$($p:expr),* $(,)?], id: [$($c:literal),*]) => {
        TypeSpec { name: $name, category: Category::$cat, props: &[$($p),*], id_contributing: &[$($c),*] }
    };
}

static ATTACK_PATTERN: TypeSpec = spec!(
    "attack-pattern",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("aliases", Kind::Strs),
        opt("kill_chain_phases", KILL_CHAINS),
    ]
);
static CAMPAIGN: TypeSpec = spec!(
    "campaign",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("aliases", Kind::Strs),
        opt("first_seen", Kind::Timestamp),
        opt("last_seen", Kind::Timestamp),
        opt("objective", Kind::Str),
    ]
);
static COURSE_OF_ACTION: TypeSpec = spec!(
    "course-of-action",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        // Reserved by STIX 2.1 for future use; accepted and preserved.
        opt("action_type", Kind::Any),
        opt("os_execution_envs", Kind::Any),
        opt("action_bin", Kind::Any),
        opt("action_reference", Kind::Any),
    ]
);
static GROUPING: TypeSpec = spec!(
    "grouping",
    Sdo,
    [
        opt("name", Kind::Str),
        opt("description", Kind::Str),
        req("context", Kind::Vocab(v::GROUPING_CONTEXT)),
        req("object_refs", Kind::Refs(ANY_OBJECT)),
    ]
);
static IDENTITY_SPEC: TypeSpec = spec!(
    "identity",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("roles", Kind::Strs),
        opt("identity_class", Kind::Vocab(v::IDENTITY_CLASS)),
        opt("sectors", Kind::Vocabs(v::INDUSTRY_SECTOR)),
        opt("contact_information", Kind::Str),
    ]
);
static INCIDENT: TypeSpec = spec!(
    "incident",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("kill_chain_phases", KILL_CHAINS),
    ]
);
static INDICATOR: TypeSpec = spec!(
    "indicator",
    Sdo,
    [
        opt("name", Kind::Str),
        opt("description", Kind::Str),
        opt("indicator_types", Kind::Vocabs(v::INDICATOR_TYPE)),
        req("pattern", Kind::Str),
        req("pattern_type", Kind::Vocab(v::PATTERN_TYPE)),
        opt("pattern_version", Kind::Str),
        req("valid_from", Kind::Timestamp),
        opt("valid_until", Kind::Timestamp),
        opt("kill_chain_phases", KILL_CHAINS),
    ]
);
static INFRASTRUCTURE: TypeSpec = spec!(
    "infrastructure",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("infrastructure_types", Kind::Vocabs(v::INFRASTRUCTURE_TYPE)),
        opt("aliases", Kind::Strs),
        opt("kill_chain_phases", KILL_CHAINS),
        opt("first_seen", Kind::Timestamp),
        opt("last_seen", Kind::Timestamp),
    ]
);
static INTRUSION_SET: TypeSpec = spec!(
    "intrusion-set",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("aliases", Kind::Strs),
        opt("first_seen", Kind::Timestamp),
        opt("last_seen", Kind::Timestamp),
        opt("goals", Kind::Strs),
        opt("resource_level", Kind::Vocab(v::ATTACK_RESOURCE_LEVEL)),
        opt("primary_motivation", Kind::Vocab(v::ATTACK_MOTIVATION)),
        opt("secondary_motivations", Kind::Vocabs(v::ATTACK_MOTIVATION)),
    ]
);
static LOCATION: TypeSpec = spec!(
    "location",
    Sdo,
    [
        opt("name", Kind::Str),
        opt("description", Kind::Str),
        opt("latitude", Kind::Float(-90.0, 90.0)),
        opt("longitude", Kind::Float(-180.0, 180.0)),
        opt("precision", Kind::Float(0.0, f64::MAX)),
        opt("region", Kind::Vocab(v::REGION)),
        opt("country", Kind::Str),
        opt("administrative_area", Kind::Str),
        opt("city", Kind::Str),
        opt("street_address", Kind::Str),
        opt("postal_code", Kind::Str),
    ]
);
static MALWARE: TypeSpec = spec!(
    "malware",
    Sdo,
    [
        opt("name", Kind::Str),
        opt("description", Kind::Str),
        opt("malware_types", Kind::Vocabs(v::MALWARE_TYPE)),
        req("is_family", Kind::Bool),
        opt("aliases", Kind::Strs),
        opt("kill_chain_phases", KILL_CHAINS),
        opt("first_seen", Kind::Timestamp),
        opt("last_seen", Kind::Timestamp),
        opt("operating_system_refs", Kind::Refs(SOFTWARE)),
        opt(
            "architecture_execution_envs",
            Kind::Vocabs(v::PROCESSOR_ARCHITECTURE)
        ),
        opt(
            "implementation_languages",
            Kind::Vocabs(v::IMPLEMENTATION_LANGUAGE)
        ),
        opt("capabilities", Kind::Vocabs(v::MALWARE_CAPABILITIES)),
        opt("sample_refs", Kind::Refs(&["file", "artifact"])),
    ]
);
static MALWARE_ANALYSIS: TypeSpec = spec!(
    "malware-analysis",
    Sdo,
    [
        req("product", Kind::Str),
        opt("version", Kind::Str),
        opt("host_vm_ref", Kind::Ref(SOFTWARE)),
        opt("operating_system_ref", Kind::Ref(SOFTWARE)),
        opt("installed_software_refs", Kind::Refs(SOFTWARE)),
        opt("configuration_version", Kind::Str),
        opt("modules", Kind::Strs),
        opt("analysis_engine_version", Kind::Str),
        opt("analysis_definition_version", Kind::Str),
        opt("submitted", Kind::Timestamp),
        opt("analysis_started", Kind::Timestamp),
        opt("analysis_ended", Kind::Timestamp),
        opt("result_name", Kind::Str),
        opt("result", Kind::Vocab(v::MALWARE_RESULT)),
        opt("analysis_sco_refs", Kind::Refs(&[ANY_SCO])),
        opt("sample_ref", Kind::Ref(&["file", "artifact", "network-traffic"])),
    ]
);
static NOTE: TypeSpec = spec!(
    "note",
    Sdo,
    [
        opt("abstract", Kind::Str),
        req("content", Kind::Str),
        opt("authors", Kind::Strs),
        req("object_refs", Kind::Refs(ANY_OBJECT)),
    ]
);
static OBSERVED_DATA: TypeSpec = spec!(
    "observed-data",
    Sdo,
    [
        req("first_observed", Kind::Timestamp),
        req("last_observed", Kind::Timestamp),
        req("number_observed", Kind::Int(1, 999_999_999)),
        opt("objects", Kind::Dict),
        opt("object_refs", Kind::Refs(&[ANY_SCO, ANY_SRO])),
    ]
);
static OPINION: TypeSpec = spec!(
    "opinion",
    Sdo,
    [
        opt("explanation", Kind::Str),
        opt("authors", Kind::Strs),
        req("opinion", Kind::Enum(v::OPINION)),
        req("object_refs", Kind::Refs(ANY_OBJECT)),
    ]
);
static REPORT: TypeSpec = spec!(
    "report",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("report_types", Kind::Vocabs(v::REPORT_TYPE)),
        req("published", Kind::Timestamp),
        req("object_refs", Kind::Refs(ANY_OBJECT)),
    ]
);
static THREAT_ACTOR: TypeSpec = spec!(
    "threat-actor",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("threat_actor_types", Kind::Vocabs(v::THREAT_ACTOR_TYPE)),
        opt("aliases", Kind::Strs),
        opt("first_seen", Kind::Timestamp),
        opt("last_seen", Kind::Timestamp),
        opt("roles", Kind::Vocabs(v::THREAT_ACTOR_ROLE)),
        opt("goals", Kind::Strs),
        opt("sophistication", Kind::Vocab(v::THREAT_ACTOR_SOPHISTICATION)),
        opt("resource_level", Kind::Vocab(v::ATTACK_RESOURCE_LEVEL)),
        opt("primary_motivation", Kind::Vocab(v::ATTACK_MOTIVATION)),
        opt("secondary_motivations", Kind::Vocabs(v::ATTACK_MOTIVATION)),
        opt("personal_motivations", Kind::Vocabs(v::ATTACK_MOTIVATION)),
    ]
);
static TOOL: TypeSpec = spec!(
    "tool",
    Sdo,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        opt("tool_types", Kind::Vocabs(v::TOOL_TYPE)),
        opt("aliases", Kind::Strs),
        opt("kill_chain_phases", KILL_CHAINS),
        opt("tool_version", Kind::Str),
    ]
);
static VULNERABILITY: TypeSpec = spec!(
    "vulnerability",
    Sdo,
    [req("name", Kind::Str), opt("description", Kind::Str)]
);

static RELATIONSHIP: TypeSpec = spec!(
    "relationship",
    Sro,
    [
        req("relationship_type", Kind::Str),
        opt("description", Kind::Str),
        req("source_ref", Kind::Ref(SDO_OR_SCO)),
        req("target_ref", Kind::Ref(SDO_OR_SCO)),
        opt("start_time", Kind::Timestamp),
        opt("stop_time", Kind::Timestamp),
    ]
);
static SIGHTING: TypeSpec = spec!(
    "sighting",
    Sro,
    [
        opt("description", Kind::Str),
        opt("first_seen", Kind::Timestamp),
        opt("last_seen", Kind::Timestamp),
        opt("count", Kind::Int(0, 999_999_999)),
        req("sighting_of_ref", Kind::Ref(&[ANY_SDO])),
        opt("observed_data_refs", Kind::Refs(&["observed-data"])),
        opt("where_sighted_refs", Kind::Refs(&["identity", "location"])),
        opt("summary", Kind::Bool),
    ]
);

static MARKING_DEFINITION: TypeSpec = spec!(
    "marking-definition",
    Meta,
    [
        opt("name", Kind::Str),
        opt("definition_type", Kind::Str),
        opt("definition", Kind::Dict),
    ]
);
static LANGUAGE_CONTENT: TypeSpec = spec!(
    "language-content",
    Meta,
    [
        req("object_ref", Kind::Ref(ANY_OBJECT)),
        opt("object_modified", Kind::Timestamp),
        req("contents", Kind::Dict),
    ]
);
static EXTENSION_DEFINITION: TypeSpec = spec!(
    "extension-definition",
    Meta,
    [
        req("name", Kind::Str),
        opt("description", Kind::Str),
        req("schema", Kind::Str),
        req("version", Kind::Str),
        req("extension_types", Kind::Enums(v::EXTENSION_TYPE)),
        opt("extension_properties", Kind::Strs),
    ]
);

pub const MIME_PART: &[Prop] = &[
    opt("body", Kind::Str),
    opt("body_raw_ref", Kind::Ref(&["artifact", "file"])),
    opt("content_type", Kind::Str),
    opt("content_disposition", Kind::Str),
];
const REGISTRY_VALUE: &[Prop] = &[
    opt("name", Kind::Str),
    opt("data", Kind::Str),
    opt("data_type", Kind::Enum(v::WINDOWS_REGISTRY_DATATYPE)),
];
const X509_V3_EXTENSIONS: &[Prop] = &[
    opt("basic_constraints", Kind::Str),
    opt("name_constraints", Kind::Str),
    opt("policy_constraints", Kind::Str),
    opt("key_usage", Kind::Str),
    opt("extended_key_usage", Kind::Str),
    opt("subject_key_identifier", Kind::Str),
    opt("authority_key_identifier", Kind::Str),
    opt("subject_alternative_name", Kind::Str),
    opt("issuer_alternative_name", Kind::Str),
    opt("subject_directory_attributes", Kind::Str),
    opt("crl_distribution_points", Kind::Str),
    opt("inhibit_any_policy", Kind::Str),
    opt("private_key_usage_period_not_before", Kind::Timestamp),
    opt("private_key_usage_period_not_after", Kind::Timestamp),
    opt("certificate_policies", Kind::Str),
    opt("policy_mappings", Kind::Str),
];
const NON_NEGATIVE: Kind = Kind::Int(0, i64::MAX);

static ARTIFACT_SPEC: TypeSpec = spec!("artifact", Sco, [
    opt("mime_type", Kind::Str), opt("payload_bin", Kind::Binary), opt("url", Kind::Str), opt("hashes", Kind::Hashes),
    opt("encryption_algorithm", Kind::Enum(v::ENCRYPTION_ALGORITHM)), opt("decryption_key", Kind::Str),
], id: ["hashes", "payload_bin"]);
static AUTONOMOUS_SYSTEM: TypeSpec = spec!("autonomous-system", Sco, [
    req("number", Kind::Int(0, 4_294_967_295)), opt("name", Kind::Str), opt("rir", Kind::Str),
], id: ["number"]);
static DIRECTORY: TypeSpec = spec!("directory", Sco, [
    req("path", Kind::Str), opt("path_enc", Kind::Str), opt("ctime", Kind::Timestamp), opt("mtime", Kind::Timestamp),
    opt("atime", Kind::Timestamp), opt("contains_refs", Kind::Refs(&["file", "directory"])),
], id: ["path"]);
static DOMAIN_NAME: TypeSpec = spec!("domain-name", Sco, [
    req("value", Kind::Str), opt("resolves_to_refs", Kind::Refs(&["ipv4-addr", "ipv6-addr", "domain-name"])),
], id: ["value"]);
static EMAIL_ADDR_SPEC: TypeSpec = spec!("email-addr", Sco, [
    req("value", Kind::Str), opt("display_name", Kind::Str), opt("belongs_to_ref", Kind::Ref(USER_ACCOUNT)),
], id: ["value"]);
static EMAIL_MESSAGE: TypeSpec = spec!("email-message", Sco, [
    req("is_multipart", Kind::Bool), opt("date", Kind::Timestamp), opt("content_type", Kind::Str),
    opt("from_ref", Kind::Ref(EMAIL_ADDR)), opt("sender_ref", Kind::Ref(EMAIL_ADDR)),
    opt("to_refs", Kind::Refs(EMAIL_ADDR)), opt("cc_refs", Kind::Refs(EMAIL_ADDR)),
    opt("bcc_refs", Kind::Refs(EMAIL_ADDR)), opt("message_id", Kind::Str), opt("subject", Kind::Str),
    opt("received_lines", Kind::Strs), opt("additional_header_fields", Kind::Dict), opt("body", Kind::Str),
    opt("body_multipart", Kind::MimeParts), opt("raw_email_ref", Kind::Ref(ARTIFACT)),
], id: ["from_ref", "subject", "body"]);
static FILE: TypeSpec = spec!("file", Sco, [
    opt("hashes", Kind::Hashes), opt("size", NON_NEGATIVE), opt("name", Kind::Str), opt("name_enc", Kind::Str),
    opt("magic_number_hex", Kind::Hex), opt("mime_type", Kind::Str), opt("ctime", Kind::Timestamp),
    opt("mtime", Kind::Timestamp), opt("atime", Kind::Timestamp), opt("parent_directory_ref", Kind::Ref(&["directory"])),
    opt("contains_refs", Kind::Refs(&[ANY_SCO])), opt("content_ref", Kind::Ref(ARTIFACT)),
], id: ["hashes", "name", "extensions", "parent_directory_ref"]);
static IPV4_ADDR: TypeSpec = spec!("ipv4-addr", Sco, [
    req("value", Kind::Str), opt("resolves_to_refs", Kind::Refs(&["mac-addr"])),
    opt("belongs_to_refs", Kind::Refs(&["autonomous-system"])),
], id: ["value"]);
static IPV6_ADDR: TypeSpec = spec!("ipv6-addr", Sco, [
    req("value", Kind::Str), opt("resolves_to_refs", Kind::Refs(&["mac-addr"])),
    opt("belongs_to_refs", Kind::Refs(&["autonomous-system"])),
], id: ["value"]);
static MAC_ADDR: TypeSpec = spec!("mac-addr", Sco, [req("value", Kind::Str)], id: ["value"]);
static MUTEX: TypeSpec = spec!("mutex", Sco, [req("name", Kind::Str)], id: ["name"]);
static NETWORK_TRAFFIC_SPEC: TypeSpec = spec!("network-traffic", Sco, [
    opt("start", Kind::Timestamp), opt("end", Kind::Timestamp), opt("is_active", Kind::Bool),
    opt("src_ref", Kind::Ref(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"])),
    opt("dst_ref", Kind::Ref(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"])),
    opt("src_port", Kind::Int(0, 65535)), opt("dst_port", Kind::Int(0, 65535)), req("protocols", Kind::Strs),
    opt("src_byte_count", NON_NEGATIVE), opt("dst_byte_count", NON_NEGATIVE), opt("src_packets", NON_NEGATIVE),
    opt("dst_packets", NON_NEGATIVE), opt("ipfix", Kind::Dict), opt("src_payload_ref", Kind::Ref(ARTIFACT)),
    opt("dst_payload_ref", Kind::Ref(ARTIFACT)), opt("encapsulates_refs", Kind::Refs(NETWORK_TRAFFIC)),
    opt("encapsulated_by_ref", Kind::Ref(NETWORK_TRAFFIC)),
], id: ["start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"]);
static PROCESS: TypeSpec = spec!(
    "process",
    Sco,
    [
        opt("is_hidden", Kind::Bool),
        opt("pid", Kind::Int(i64::MIN, i64::MAX)),
        opt("created_time", Kind::Timestamp),
        opt("cwd", Kind::Str),
        opt("command_line", Kind::Str),
        opt("environment_variables", Kind::Dict),
        opt("opened_connection_refs", Kind::Refs(NETWORK_TRAFFIC)),
        opt("creator_user_ref", Kind::Ref(USER_ACCOUNT)),
        opt("image_ref", Kind::Ref(&["file"])),
        opt("parent_ref", Kind::Ref(&["process"])),
        opt("child_refs", Kind::Refs(&["process"])),
    ]
);
static SOFTWARE_SPEC: TypeSpec = spec!("software", Sco, [
    req("name", Kind::Str), opt("cpe", Kind::Str), opt("swid", Kind::Str), opt("languages", Kind::Strs),
    opt("vendor", Kind::Str), opt("version", Kind::Str),
], id: ["name", "cpe", "swid", "vendor", "version"]);
static URL: TypeSpec = spec!("url", Sco, [req("value", Kind::Str)], id: ["value"]);
static USER_ACCOUNT_SPEC: TypeSpec = spec!("user-account", Sco, [
    opt("user_id", Kind::Str), opt("credential", Kind::Str), opt("account_login", Kind::Str),
    opt("account_type", Kind::Vocab(v::ACCOUNT_TYPE)), opt("display_name", Kind::Str),
    opt("is_service_account", Kind::Bool), opt("is_privileged", Kind::Bool), opt("can_escalate_privs", Kind::Bool),
    opt("is_disabled", Kind::Bool), opt("account_created", Kind::Timestamp), opt("account_expires", Kind::Timestamp),
    opt("credential_last_changed", Kind::Timestamp), opt("account_first_login", Kind::Timestamp),
    opt("account_last_login", Kind::Timestamp),
], id: ["account_type", "user_id", "account_login"]);
static WINDOWS_REGISTRY_KEY: TypeSpec = spec!("windows-registry-key", Sco, [
    opt("key", Kind::Str), opt("values", Kind::Objs(REGISTRY_VALUE)), opt("modified_time", Kind::Timestamp),
    opt("creator_user_ref", Kind::Ref(USER_ACCOUNT)), opt("number_of_subkeys", NON_NEGATIVE),
], id: ["key", "values"]);
static X509_CERTIFICATE: TypeSpec = spec!("x509-certificate", Sco, [
    opt("is_self_signed", Kind::Bool), opt("hashes", Kind::Hashes), opt("version", Kind::Str),
    opt("serial_number", Kind::Str), opt("signature_algorithm", Kind::Str), opt("issuer", Kind::Str),
    opt("validity_not_before", Kind::Timestamp), opt("validity_not_after", Kind::Timestamp),
    opt("subject", Kind::Str), opt("subject_public_key_algorithm", Kind::Str),
    opt("subject_public_key_modulus", Kind::Str), opt("subject_public_key_exponent", NON_NEGATIVE),
    opt("x509_v3_extensions", Kind::Obj(X509_V3_EXTENSIONS)),
], id: ["hashes", "serial_number"]);

/// Every type defined by STIX 2.1 itself.
pub static ALL_TYPES: &[&TypeSpec] = &[
    &ATTACK_PATTERN,
    &CAMPAIGN,
    &COURSE_OF_ACTION,
    &GROUPING,
    &IDENTITY_SPEC,
    &INCIDENT,
    &INDICATOR,
    &INFRASTRUCTURE,
    &INTRUSION_SET,
    &LOCATION,
    &MALWARE,
    &MALWARE_ANALYSIS,
    &NOTE,
    &OBSERVED_DATA,
    &OPINION,
    &REPORT,
    &THREAT_ACTOR,
    &TOOL,
    &VULNERABILITY,
    &RELATIONSHIP,
    &SIGHTING,
    &MARKING_DEFINITION,
    &LANGUAGE_CONTENT,
    &EXTENSION_DEFINITION,
    &ARTIFACT_SPEC,
    &AUTONOMOUS_SYSTEM,
    &DIRECTORY,
    &DOMAIN_NAME,
    &EMAIL_ADDR_SPEC,
    &EMAIL_MESSAGE,
    &FILE,
    &IPV4_ADDR,
    &IPV6_ADDR,
    &MAC_ADDR,
    &MUTEX,
    &NETWORK_TRAFFIC_SPEC,
    &PROCESS,
    &SOFTWARE_SPEC,
    &URL,
    &USER_ACCOUNT_SPEC,
    &WINDOWS_REGISTRY_KEY,
    &X509_CERTIFICATE,
];

/// Looks up a STIX 2.1 type.
pub fn type_spec(name: &str) -> Option<&'static TypeSpec> {
    ALL_TYPES.iter().copied().find(|t| t.name == name)
}

/// The category of a type name as far as it can be known from the name alone: built-in types by
/// their table, `x-` custom objects as SDOs (the 2.0 convention). `None` for other unknown types.
pub fn category_of(name: &str) -> Option<Category> {
    match type_spec(name) {
        Some(t) => Some(t.category),
        None if name.starts_with("x-") => Some(Category::Sdo),
        None => None,
    }
}

/// Predefined SCO extensions (section 6): their name, the type they extend, and their properties.
#[derive(Debug)]
pub struct ExtensionSpec {
    pub name: &'static str,
    pub extends: &'static str,
    pub props: &'static [Prop],
}

const NTFS_ADS: &[Prop] = &[
    req("name", Kind::Str),
    opt("hashes", Kind::Hashes),
    opt("size", NON_NEGATIVE),
];
const PE_SECTION: &[Prop] = &[
    req("name", Kind::Str),
    opt("size", NON_NEGATIVE),
    opt("entropy", Kind::Float(f64::MIN, f64::MAX)),
    opt("hashes", Kind::Hashes),
];

pub static PREDEFINED_EXTENSIONS: &[ExtensionSpec] = &[
    ExtensionSpec {
        name: "archive-ext",
        extends: "file",
        props: &[
            req("contains_refs", Kind::Refs(&["file", "directory"])),
            opt("comment", Kind::Str),
        ],
    },
    ExtensionSpec {
        name: "ntfs-ext",
        extends: "file",
        props: &[
            opt("sid", Kind::Str),
            opt("alternate_data_streams", Kind::Objs(NTFS_ADS)),
        ],
    },
    ExtensionSpec {
        name: "pdf-ext",
        extends: "file",
        props: &[
            opt("version", Kind::Str),
            opt("is_optimized", Kind::Bool),
            opt("document_info_dict", Kind::Dict),
            opt("pdfid0", Kind::Str),
            opt("pdfid1", Kind::Str),
        ],
    },
    ExtensionSpec {
        name: "raster-image-ext",
        extends: "file",
        props: &[
            opt("image_height", NON_NEGATIVE),
            opt("image_width", NON_NEGATIVE),
            opt("bits_per_pixel", NON_NEGATIVE),
            opt("exif_tags", Kind::Dict),
        ],
    },
    ExtensionSpec {
        name: "windows-pebinary-ext",
        extends: "file",
        props: &[
            req("pe_type", Kind::Vocab(v::WINDOWS_PEBINARY_TYPE)),
            opt("imphash", Kind::Str),
            opt("machine_hex", Kind::Hex),
            opt("number_of_sections", NON_NEGATIVE),
            opt("time_date_stamp", Kind::Timestamp),
            opt("pointer_to_symbol_table_hex", Kind::Hex),
            opt("number_of_symbols", NON_NEGATIVE),
            opt("size_of_optional_header", NON_NEGATIVE),
            opt("characteristics_hex", Kind::Hex),
            opt("file_header_hashes", Kind::Hashes),
            opt("optional_header", Kind::Dict),
            opt("sections", Kind::Objs(PE_SECTION)),
        ],
    },
    ExtensionSpec {
        name: "http-request-ext",
        extends: "network-traffic",
        props: &[
            req("request_method", Kind::Str),
            req("request_value", Kind::Str),
            opt("request_version", Kind::Str),
            opt("request_header", Kind::Dict),
            opt("message_body_length", NON_NEGATIVE),
            opt("message_body_data_ref", Kind::Ref(ARTIFACT)),
        ],
    },
    ExtensionSpec {
        name: "icmp-ext",
        extends: "network-traffic",
        props: &[req("icmp_type_hex", Kind::Hex), req("icmp_code_hex", Kind::Hex)],
    },
    ExtensionSpec {
        name: "socket-ext",
        extends: "network-traffic",
        props: &[
            req("address_family", Kind::Enum(v::SOCKET_ADDRESS_FAMILY)),
            opt("is_blocking", Kind::Bool),
            opt("is_listening", Kind::Bool),
            opt("options", Kind::Dict),
            opt("socket_type", Kind::Enum(v::SOCKET_TYPE)),
            opt("socket_descriptor", NON_NEGATIVE),
            opt("socket_handle", Kind::Int(i64::MIN, i64::MAX)),
        ],
    },
    ExtensionSpec {
        name: "tcp-ext",
        extends: "network-traffic",
        props: &[opt("src_flags_hex", Kind::Hex), opt("dst_flags_hex", Kind::Hex)],
    },
    ExtensionSpec {
        name: "unix-account-ext",
        extends: "user-account",
        props: &[
            opt("gid", Kind::Int(i64::MIN, i64::MAX)),
            opt("groups", Kind::Strs),
            opt("home_dir", Kind::Str),
            opt("shell", Kind::Str),
        ],
    },
    ExtensionSpec {
        name: "windows-process-ext",
        extends: "process",
        props: &[
            opt("aslr_enabled", Kind::Bool),
            opt("dep_enabled", Kind::Bool),
            opt("priority", Kind::Str),
            opt("owner_sid", Kind::Str),
            opt("window_title", Kind::Str),
            opt("startup_info", Kind::Dict),
            opt("integrity_level", Kind::Enum(v::WINDOWS_INTEGRITY_LEVEL)),
        ],
    },
    ExtensionSpec {
        name: "windows-service-ext",
        extends: "process",
        props: &[
            opt("service_name", Kind::Str),
            opt("descriptions", Kind::Strs),
            opt("display_name", Kind::Str),
            opt("group_name", Kind::Str),
            opt("start_type", Kind::Enum(v::WINDOWS_SERVICE_START_TYPE)),
            opt("service_dll_refs", Kind::Refs(&["file"])),
            opt("service_type", Kind::Enum(v::WINDOWS_SERVICE_TYPE)),
            opt("service_status", Kind::Enum(v::WINDOWS_SERVICE_STATUS)),
        ],
    },
];

pub fn predefined_extension(name: &str) -> Option<&'static ExtensionSpec> {
    PREDEFINED_EXTENSIONS.iter().find(|e| e.name == name)
}
