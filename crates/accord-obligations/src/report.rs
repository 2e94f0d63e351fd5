//! The incident report: who is reporting, where the incident has effect, the separate clock
//! events, and the facts the regimes' conditions read. Stored as a STIX 2.1 `incident` with the
//! Accord incident-report extension (see `extension/accord-incident-report.schema.json`).
//!
//! Unknown is not no: a fact the report leaves out (an absent list, an absent `true`/`false`) is
//! unknown, and a regime that needs it "cannot determine"; an empty list or `false` is a no.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One incident report (the extension's properties).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The STIX id of the `incident`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    pub organisation: Organisation,
    /// ISO 3166-1 alpha-2 codes (and US-XX subdivisions) where the incident has effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_jurisdictions: Option<Vec<String>>,
    #[serde(default)]
    pub clocks: Clocks,
    /// Open vocabulary, e.g. ransomware, data-breach, ddos, intrusion, supply-chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_types: Option<Vec<String>>,
    /// A ransom or extortion payment was made, by the entity or on its behalf (its time, when
    /// known, is `clocks.ransom_paid`, which implies this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ransom_paid: Option<bool>,
    #[serde(default)]
    pub impact: Impact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<PersonalData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_border_impact: Option<bool>,
    /// The reporting entity's assessments (each `None` until made).
    #[serde(default)]
    pub assessments: Assessments,
    #[serde(default = "open")]
    pub status: String,
    /// STIX ids of linked indicators and observed data.
    #[serde(default)]
    pub linked: Vec<String>,
}

fn open() -> String {
    "open".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    /// ISO 3166-1 alpha-2 (or US-NY style for US states).
    pub home_jurisdiction: String,
    /// IANA time zone of the entity (deadlines are shown in it where the regime says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sectors: Option<Vec<String>>,
    /// The closed vocabulary of `vocabulary.toml` (and operator rule files); a type implies
    /// others (a credit institution is a financial entity), derived on evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_types: Option<Vec<String>>,
    /// Operator-specific facts rules may read (`organisation.attributes.NAME`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// The events clocks start from (RFC 3339). Several regimes start at a determination, not at
/// awareness, so each is kept separately.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clocks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aware: Option<String>,
    /// When the entity determined that a (reportable) cybersecurity incident occurred (NYDFS,
    /// US banking "notification incident").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determined_incident: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determined_significant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classified_major: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determined_material: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ransom_paid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_available: Option<String>,
}

/// The clock events a deadline may start from.
pub const CLOCK_EVENTS: &[&str] = &[
    "detected",
    "aware",
    "determined_incident",
    "determined_significant",
    "classified_major",
    "determined_material",
    "ransom_paid",
    "fix_available",
];

impl Clocks {
    pub fn get(&self, event: &str) -> Option<&str> {
        match event {
            "detected" => self.detected.as_deref(),
            "aware" => self.aware.as_deref(),
            "determined_incident" => self.determined_incident.as_deref(),
            "determined_significant" => self.determined_significant.as_deref(),
            "classified_major" => self.classified_major.as_deref(),
            "determined_material" => self.determined_material.as_deref(),
            "ransom_paid" => self.ransom_paid.as_deref(),
            "fix_available" => self.fix_available.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_affected: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_hours: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalData {
    /// Whether personal data was breached at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_subjects: Option<u64>,
    /// GDPR Art. 33(1): likely to result in a risk to the rights and freedoms of natural persons
    /// (`false`: "unlikely to result in a risk", no notification to the authority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_to_rights: Option<bool>,
    /// GDPR Art. 34(1): likely to result in a high risk to those rights and freedoms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_risk: Option<bool>,
    /// LGPD Art. 48: may cause relevant risk or damage to the data subjects (risco ou dano
    /// relevante).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant_risk_or_damage: Option<bool>,
    /// PIPEDA s.10.1: reasonable to believe the breach creates a real risk of significant harm to
    /// an individual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_risk_of_significant_harm: Option<bool>,
    /// Unsecured protected health information (HIPAA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsecured_phi: Option<bool>,
    /// Residents of the most affected US state, when over 500 matters (HIPAA media notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_residents_one_state: Option<u64>,
}

/// The entity's determinations, `None` until made: a regime that needs one "cannot determine"
/// until it is made, it is never silently "not applicable".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessments {
    /// NIS2 significant incident (Art. 23(3)); other regimes' tests are under `reportable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significant: Option<bool>,
    /// DORA major ICT-related incident (Delegated Regulation 2024/1772).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<bool>,
    /// SEC: material cybersecurity incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<bool>,
    /// The incident falls under a regime's list of reportable types or impact thresholds
    /// (CERT-In, SOCI, Singapore, CIRCIA…), keyed by regime id; each regime's `assessment` says
    /// what it asks and which values it takes (checked by `Pack::check_report`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub reportable: Map<String, Value>,
}

/// Fields that were split because they carried two legal tests: the old name, and what to give.
const SPLIT: &[(&str, &str)] = &[(
    "/personal_data/risk",
    "was split because GDPR and LGPD ask different questions: give risk_to_rights (GDPR Art. 33(1): \
     likely to result in a risk to the rights and freedoms of natural persons) and \
     relevant_risk_or_damage (LGPD Art. 48: may cause relevant risk or damage) instead",
)];

impl Report {
    /// Reads a report from its JSON properties; errors name the field.
    pub fn from_value(value: Value) -> Result<Report, crate::ObligationError> {
        for (pointer, message) in SPLIT {
            if value.pointer(pointer).is_some() {
                return Err(crate::ObligationError::Report {
                    field: pointer.trim_start_matches('/').replace('/', "."),
                    message: (*message).to_owned(),
                });
            }
        }
        serde_json::from_value(value).map_err(|e| crate::ObligationError::Report {
            field: "report".into(),
            message: e.to_string(),
        })
    }

    /// Reads a report written in TOML (as `accord obligations template` writes it); errors name
    /// the line, or the field.
    pub fn from_toml(text: &str) -> Result<Report, crate::ObligationError> {
        let value: toml::Value = toml::from_str(text).map_err(|e| crate::ObligationError::Report {
            field: "report".into(),
            message: format!("not TOML: {e}"),
        })?;
        Report::from_value(toml_to_json(value))
    }

    /// Reads the report from a STIX `incident` carrying the Accord incident-report extension.
    pub fn from_incident(object: &Map<String, Value>) -> Result<Report, crate::ObligationError> {
        let bad = |field: &str, message: String| crate::ObligationError::Report {
            field: field.to_owned(),
            message,
        };
        if object.get("type").and_then(Value::as_str) != Some("incident") {
            return Err(bad("type", "the object is not an incident".into()));
        }
        let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut ext = object
            .get("extensions")
            .and_then(|e| e.get(crate::INCIDENT_EXTENSION_ID))
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| {
                bad(
                    "extensions",
                    format!(
                        "{id} has no Accord incident-report extension ({})",
                        crate::INCIDENT_EXTENSION_ID
                    ),
                )
            })?;
        ext.remove("extension_type");
        let mut report = Report::from_value(Value::Object(ext)).map_err(|e| match e {
            crate::ObligationError::Report { field, message } => bad(
                &if field == "report" {
                    format!("extensions.{}", crate::INCIDENT_EXTENSION_ID)
                } else {
                    format!("extensions.{}.{field}", crate::INCIDENT_EXTENSION_ID)
                },
                format!("{id}: {message}"),
            ),
            other => other,
        })?;
        report.incident = Some(id.to_owned());
        Ok(report)
    }

    /// A STIX `incident` carrying this report (`now`: RFC 3339 with milliseconds).
    pub fn to_incident(&self, id: &str, name: &str, created: &str, modified: &str) -> Value {
        let mut ext = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        ext.remove("incident");
        ext.insert("extension_type".into(), "property-extension".into());
        serde_json::json!({
            "type": "incident",
            "spec_version": "2.1",
            "id": id,
            "created": created,
            "modified": modified,
            "name": name,
            "extensions": { crate::INCIDENT_EXTENSION_ID: ext },
        })
    }
}

/// TOML as JSON; a TOML date-time becomes its RFC 3339 text.
fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}
