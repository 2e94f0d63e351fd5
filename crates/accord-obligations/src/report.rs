//! The incident report: who is reporting, where the incident has effect, the separate clock
//! events, and the facts the regimes' conditions read. Stored as a STIX 2.1 `incident` with the
//! Accord incident-report extension (see `schema/incident-report.schema.json`).

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
    #[serde(default)]
    pub affected_jurisdictions: Vec<String>,
    #[serde(default)]
    pub clocks: Clocks,
    /// Open vocabulary, e.g. ransomware, data-breach, ddos, intrusion, supply-chain.
    #[serde(default)]
    pub incident_types: Vec<String>,
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
    #[serde(default)]
    pub sectors: Vec<String>,
    /// e.g. nis2-essential, nis2-important, financial-entity, credit-institution, sec-registrant,
    /// hipaa-covered-entity, nydfs-covered-entity, us-banking-organisation, cii-owner, soci-asset,
    /// data-controller, data-fiduciary, manufacturer, trust-service-provider.
    #[serde(default)]
    pub entity_types: Vec<String>,
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
    #[serde(default)]
    pub services: Vec<String>,
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
    pub breach: bool,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_subjects: Option<u64>,
    /// Likely to result in a risk to individuals (GDPR Art. 33) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<bool>,
    /// … and a high risk (Art. 34).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_risk: Option<bool>,
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
    /// NIS2 significant incident (Art. 23(3)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significant: Option<bool>,
    /// DORA major ICT-related incident (Delegated Regulation 2024/1772).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<bool>,
    /// SEC: material cybersecurity incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<bool>,
    /// The incident falls under a regime's list of reportable types or impact thresholds
    /// (CERT-In, SOCI, Singapore, CIRCIA…), keyed by regime id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub reportable: Map<String, Value>,
}

impl Report {
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
        let mut report: Report = serde_json::from_value(Value::Object(ext)).map_err(|e| {
            bad(
                &format!("extensions.{}", crate::INCIDENT_EXTENSION_ID),
                format!("{id}: {e}"),
            )
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
