//! Data markings: the fixed TLP 1.0 and 2.0 marking definitions, and FIRST IEP 2.0 policies
//! parsed into typed values.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::timestamp::Timestamp;

/// TLP levels as one lattice (TLP 1.0 WHITE = 2.0 CLEAR), ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlpLevel {
    Clear,
    Green,
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    Red,
}

impl TlpLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TlpLevel::Clear => "clear",
            TlpLevel::Green => "green",
            TlpLevel::Amber => "amber",
            TlpLevel::AmberStrict => "amber+strict",
            TlpLevel::Red => "red",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TlpVersion {
    #[serde(rename = "1.0")]
    V1,
    #[serde(rename = "2.0")]
    V2,
}

/// One of the nine fixed TLP marking definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TlpMarking {
    pub id: &'static str,
    pub name: &'static str,
    pub level: TlpLevel,
    pub version: TlpVersion,
    /// The value written in the definition (`white` for 1.0 WHITE, `amber+strict`, …).
    pub value: &'static str,
}

/// The TLP 2.0 extension-definition id (oasis-open/cti-stix-common-objects).
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
/// The IEP 2.0 extension-definition id (oasis-open/cti-stix-common-objects).
pub const IEP_EXTENSION_ID: &str = "extension-definition--762e2e97-ee51-43e5-a9ea-165fbb862c4a";

const fn tlp(
    id: &'static str,
    name: &'static str,
    level: TlpLevel,
    version: TlpVersion,
    value: &'static str,
) -> TlpMarking {
    TlpMarking {
        id,
        name,
        level,
        version,
        value,
    }
}

/// The fixed ids, from STIX 2.1 section 7.2.1.4 (TLP 1.0) and the OASIS TLP 2.0 extension.
pub const TLP_MARKINGS: [TlpMarking; 9] = [
    tlp(
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "TLP:WHITE",
        TlpLevel::Clear,
        TlpVersion::V1,
        "white",
    ),
    tlp(
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "TLP:GREEN",
        TlpLevel::Green,
        TlpVersion::V1,
        "green",
    ),
    tlp(
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "TLP:AMBER",
        TlpLevel::Amber,
        TlpVersion::V1,
        "amber",
    ),
    tlp(
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        "TLP:RED",
        TlpLevel::Red,
        TlpVersion::V1,
        "red",
    ),
    tlp(
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:CLEAR",
        TlpLevel::Clear,
        TlpVersion::V2,
        "clear",
    ),
    tlp(
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:GREEN",
        TlpLevel::Green,
        TlpVersion::V2,
        "green",
    ),
    tlp(
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER",
        TlpLevel::Amber,
        TlpVersion::V2,
        "amber",
    ),
    tlp(
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:AMBER+STRICT",
        TlpLevel::AmberStrict,
        TlpVersion::V2,
        "amber+strict",
    ),
    tlp(
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "TLP:RED",
        TlpLevel::Red,
        TlpVersion::V2,
        "red",
    ),
];

/// Looks up a fixed TLP marking by id. Invented ids (seen in the wild for AMBER+STRICT and RED) are not TLP.
pub fn tlp_by_id(id: &str) -> Option<&'static TlpMarking> {
    TLP_MARKINGS.iter().find(|m| m.id == id)
}

impl TlpMarking {
    /// The canonical marking-definition object for this level.
    pub fn definition(&self) -> Value {
        match self.version {
            TlpVersion::V1 => json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": self.id,
                "created": "2017-01-20T00:00:00.000Z",
                "definition_type": "tlp",
                "name": self.name,
                "definition": {"tlp": self.value},
            }),
            TlpVersion::V2 => json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": self.id,
                "created": "2022-10-01T00:00:00.000Z",
                "name": self.name,
                "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": self.value}},
            }),
        }
    }

    /// Whether `obj` (a marking-definition with this id) carries this level's fixed content.
    pub fn matches(&self, obj: &Map<String, Value>) -> bool {
        match self.version {
            TlpVersion::V1 => {
                obj.get("definition_type").and_then(Value::as_str) == Some("tlp")
                    && obj
                        .get("definition")
                        .and_then(|d| d.get("tlp"))
                        .and_then(Value::as_str)
                        == Some(self.value)
            }
            TlpVersion::V2 => {
                obj.get("extensions")
                    .and_then(|e| e.get(TLP2_EXTENSION_ID))
                    .and_then(|e| e.get("tlp_2_0"))
                    .and_then(Value::as_str)
                    == Some(self.value)
            }
        }
    }
}

macro_rules! iep_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),* }
        impl $name {
            pub const VALUES: &'static [&'static str] = &[$($text),*];
            pub fn parse(s: &str) -> Option<Self> { match s { $($text => Some(Self::$variant),)* _ => None } }
            pub fn as_str(self) -> &'static str { match self { $(Self::$variant => $text),* } }
        }
    };
}

iep_enum!(
    /// Whether the recipient must encrypt the information in transit.
    EncryptInTransit { Must = "must", May = "may" }
);
iep_enum!(
    /// What the recipient may do with the information, from least to most permissive.
    PermittedActions {
        None = "none",
        ContactForInstruction = "contact-for-instruction",
        InternallyVisibleActions = "internally-visible-actions",
        ExternallyVisibleIndirectActions = "externally-visible-indirect-actions",
        ExternallyVisibleDirectActions = "externally-visible-direct-actions",
    }
);
iep_enum!(
    /// Whether affected parties may be notified.
    AffectedPartyNotifications { May = "may", MustNot = "must-not" }
);
iep_enum!(
    /// The TLP level an IEP policy carries (IEP 2.0 uses TLP 1.0 names).
    IepTlp { Red = "red", Amber = "amber", Green = "green", White = "white" }
);
iep_enum!(
    /// Whether the producer must, may or must not be named to recipients.
    ProviderAttribution { May = "may", Must = "must", MustNot = "must-not" }
);
iep_enum!(
    /// Whether the information may be resold unmodified.
    UnmodifiedResale { May = "may", MustNot = "must-not" }
);

/// A FIRST IEP 2.0 policy carried by a marking-definition's IEP extension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Iep {
    pub iep_id: uuid::Uuid,
    pub iep_version: String,
    pub description: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub encrypt_in_transit: Option<EncryptInTransit>,
    pub permitted_actions: Option<PermittedActions>,
    pub affected_party_notifications: Option<AffectedPartyNotifications>,
    pub tlp: Option<IepTlp>,
    pub provider_attribution: Option<ProviderAttribution>,
    pub unmodified_resale: Option<UnmodifiedResale>,
}

/// A field of an IEP policy that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IEP field {field}: {message}")]
pub struct IepError {
    pub field: &'static str,
    pub message: String,
}

impl Iep {
    /// Parses the body of the IEP 2.0 extension (the object under [`IEP_EXTENSION_ID`]).
    /// Returns every problem, not just the first, so validators can list them all.
    pub fn parse(ext: &Map<String, Value>) -> Result<Iep, Vec<IepError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &'static str, message: String| errors.push(IepError { field, message });
        let text = |field: &str| ext.get(field).and_then(Value::as_str);

        let iep_id = match text("iep_id").map(uuid::Uuid::parse_str) {
            Some(Ok(u)) if matches!(u.get_version_num(), 4 | 5) => Some(u),
            Some(Ok(u)) => {
                fail(
                    "iep_id",
                    format!("must be a UUIDv4 or v5, found v{}", u.get_version_num()),
                );
                None
            }
            Some(Err(_)) => {
                fail("iep_id", "must be a UUID".into());
                None
            }
            None => {
                fail("iep_id", "is required".into());
                None
            }
        };
        let iep_version = match ext.get("iep_version") {
            Some(Value::String(s)) if s == "2.0" => Some("2.0".to_owned()),
            Some(Value::Number(n)) if n.as_f64() == Some(2.0) => Some("2.0".to_owned()),
            Some(other) => {
                fail("iep_version", format!("must be 2.0, found {other}"));
                None
            }
            None => {
                fail("iep_version", "is required".into());
                None
            }
        };
        let description = text("description").map(str::to_owned);
        if description.is_none() {
            fail("description", "is required and must be a string".into());
        }
        let mut date = |field: &'static str, required: bool| match text(field) {
            Some(s) => match Timestamp::parse(s) {
                Ok(_) => Some(s.to_owned()),
                Err(e) => {
                    fail(field, e.to_string());
                    None
                }
            },
            None if required => {
                fail(field, "is required".into());
                None
            }
            None => None,
        };
        let start_date = date("start_date", true);
        let end_date = date("end_date", false);

        macro_rules! field {
            ($name:literal, $ty:ty) => {
                match ext.get($name) {
                    None => None,
                    Some(v) => match v.as_str().and_then(<$ty>::parse) {
                        Some(x) => Some(x),
                        None => {
                            fail(
                                $name,
                                format!("{v} is not one of: {}", <$ty>::VALUES.join(", ")),
                            );
                            None
                        }
                    },
                }
            };
        }
        let encrypt_in_transit = field!("encrypt_in_transit", EncryptInTransit);
        let permitted_actions = field!("permitted_actions", PermittedActions);
        let affected_party_notifications = field!("affected_party_notifications", AffectedPartyNotifications);
        let tlp = field!("tlp", IepTlp);
        let provider_attribution = field!("provider_attribution", ProviderAttribution);
        let unmodified_resale = field!("unmodified_resale", UnmodifiedResale);

        match (iep_id, iep_version, description, start_date) {
            (Some(iep_id), Some(iep_version), Some(description), Some(start_date)) if errors.is_empty() => {
                Ok(Iep {
                    iep_id,
                    iep_version,
                    description,
                    start_date,
                    end_date,
                    encrypt_in_transit,
                    permitted_actions,
                    affected_party_notifications,
                    tlp,
                    provider_attribution,
                    unmodified_resale,
                })
            }
            _ => Err(errors),
        }
    }
}

/// What a marking-definition object means, once classified.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Marking {
    /// One of the nine fixed TLP definitions.
    Tlp(TlpMarking),
    /// An IEP 2.0 policy.
    Iep(Box<Iep>),
    /// A statement marking (copyright, terms of use).
    Statement { statement: String },
    /// Anything else (including invented TLP ids): handling unknown, so policy treats it as restrictive.
    Unknown,
}

/// Classifies a marking-definition object.
pub fn classify(obj: &Map<String, Value>) -> Marking {
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    if let Some(t) = tlp_by_id(id) {
        return if t.matches(obj) {
            Marking::Tlp(*t)
        } else {
            Marking::Unknown
        };
    }
    if let Some(ext) = obj
        .get("extensions")
        .and_then(|e| e.get(IEP_EXTENSION_ID))
        .and_then(Value::as_object)
    {
        return Iep::parse(ext).map_or(Marking::Unknown, |iep| Marking::Iep(Box::new(iep)));
    }
    if obj.get("definition_type").and_then(Value::as_str) == Some("statement")
        && let Some(s) = obj
            .get("definition")
            .and_then(|d| d.get("statement"))
            .and_then(Value::as_str)
    {
        return Marking::Statement {
            statement: s.to_owned(),
        };
    }
    Marking::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_definitions_classify_as_themselves() {
        for m in &TLP_MARKINGS {
            let def = m.definition();
            assert_eq!(classify(def.as_object().unwrap()), Marking::Tlp(*m));
            assert!(crate::validate(&def).is_valid(), "{:?}", crate::validate(&def));
        }
    }

    #[test]
    fn lattice_order() {
        assert!(TlpLevel::Clear < TlpLevel::Green && TlpLevel::Amber < TlpLevel::AmberStrict);
        assert_eq!(tlp_by_id(TLP_MARKINGS[0].id).unwrap().level, TlpLevel::Clear);
    }

    #[test]
    fn iep_example_parses() {
        let ext = serde_json::json!({
            "extension_type": "property-extension",
            "encrypt_in_transit": "may",
            "permitted_actions": "externally-visible-direct-actions",
            "affected_party_notifications": "may",
            "tlp": "amber",
            "provider_attribution": "must-not",
            "unmodified_resale": "must-not",
            "iep_id": "0224bfdf-ea3a-49c3-96f6-66d908bb1845",
            "iep_version": 2.0,
            "description": "This is a TLP-AMBER Information Exchange Policy",
            "start_date": "2022-10-01T00:00:00Z"
        });
        let iep = Iep::parse(ext.as_object().unwrap()).unwrap();
        assert_eq!(iep.provider_attribution, Some(ProviderAttribution::MustNot));
        assert_eq!(
            iep.permitted_actions,
            Some(PermittedActions::ExternallyVisibleDirectActions)
        );
        assert_eq!(iep.tlp, Some(IepTlp::Amber));
    }

    #[test]
    fn iep_errors_name_fields() {
        let ext = serde_json::json!({"iep_id": "nope", "iep_version": 1, "tlp": "purple", "start_date": "x"});
        let errs = Iep::parse(ext.as_object().unwrap()).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["iep_id", "iep_version", "description", "start_date", "tlp"]
        );
    }
}
