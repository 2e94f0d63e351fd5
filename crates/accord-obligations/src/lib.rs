//! Incident-reporting obligations. An incident report (who reports, where, the separate clock
//! events, the facts and assessments) is evaluated against a rule pack of legal regimes, kept as
//! data files with their citations and status, and against holiday calendars, to a timeline: each
//! obligation's regime, stage, recipient, clock, deadline in UTC and in the recipient's time
//! zone, required content, and why the regime applies, does not, or cannot be determined yet.
//! Pure: files are passed in as text; time is passed in.

pub mod calendar;
pub mod engine;
pub mod report;
pub mod rules;
pub mod template;
pub mod vocabulary;

pub use calendar::Calendar;
pub use engine::{Applicability, Obligation, RegimeResult, Submission, Timeline, Tracking, evaluate};
pub use report::Report;
pub use rules::{Assessment, Regime, Status};
pub use vocabulary::{EntityType, Vocabulary};

use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ObligationError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("report {field}: {message}")]
    Report { field: String, message: String },
    #[error("calendar {calendar} has no data for {year}; add that year to its file")]
    CalendarRange { calendar: String, year: i16 },
    #[error("unknown calendar {0:?}")]
    UnknownCalendar(String),
    #[error("time arithmetic out of range: {0}")]
    Time(String),
}

/// The id of the Accord incident-report property extension.
pub const INCIDENT_EXTENSION_ID: &str = "extension-definition--1f385bc9-e0ae-4934-9c78-128e88e61fa7";
/// Its STIX `extension-definition` object.
pub const INCIDENT_EXTENSION_DEFINITION: &str = include_str!("../extension/accord-incident-report.json");
/// Its JSON schema.
pub const INCIDENT_EXTENSION_SCHEMA: &str = include_str!("../extension/accord-incident-report.schema.json");

/// The shipped vocabulary of entity types.
pub const SHIPPED_VOCABULARY: (&str, &str) = ("vocabulary.toml", include_str!("../vocabulary.toml"));

/// The regimes shipped with Accord (`rules/*.toml`), as (file name, text).
pub const SHIPPED_RULES: &[(&str, &str)] = &[
    ("rules/eu-nis2.toml", include_str!("../rules/eu-nis2.toml")),
    ("rules/eu-gdpr.toml", include_str!("../rules/eu-gdpr.toml")),
    ("rules/eu-dora.toml", include_str!("../rules/eu-dora.toml")),
    ("rules/eu-cra.toml", include_str!("../rules/eu-cra.toml")),
    ("rules/us-sec-8k.toml", include_str!("../rules/us-sec-8k.toml")),
    ("rules/us-hipaa.toml", include_str!("../rules/us-hipaa.toml")),
    ("rules/us-nydfs.toml", include_str!("../rules/us-nydfs.toml")),
    ("rules/us-banking.toml", include_str!("../rules/us-banking.toml")),
    ("rules/us-circia.toml", include_str!("../rules/us-circia.toml")),
    ("rules/uk-nis.toml", include_str!("../rules/uk-nis.toml")),
    ("rules/in-cert-in.toml", include_str!("../rules/in-cert-in.toml")),
    ("rules/in-dpdp.toml", include_str!("../rules/in-dpdp.toml")),
    ("rules/au-soci.toml", include_str!("../rules/au-soci.toml")),
    (
        "rules/au-ransomware.toml",
        include_str!("../rules/au-ransomware.toml"),
    ),
    (
        "rules/sg-cybersecurity-act.toml",
        include_str!("../rules/sg-cybersecurity-act.toml"),
    ),
    ("rules/br-lgpd.toml", include_str!("../rules/br-lgpd.toml")),
    ("rules/jp-appi.toml", include_str!("../rules/jp-appi.toml")),
    ("rules/ca-pipeda.toml", include_str!("../rules/ca-pipeda.toml")),
];

/// The holiday calendars shipped with Accord (`calendars/*.toml`): US federal, Brazil, and every
/// EU member state (for DORA's next-working-day relief).
pub const SHIPPED_CALENDARS: &[(&str, &str)] = &[
    (
        "calendars/us-federal.toml",
        include_str!("../calendars/us-federal.toml"),
    ),
    (
        "calendars/br-national.toml",
        include_str!("../calendars/br-national.toml"),
    ),
    (
        "calendars/at-national.toml",
        include_str!("../calendars/at-national.toml"),
    ),
    (
        "calendars/be-national.toml",
        include_str!("../calendars/be-national.toml"),
    ),
    (
        "calendars/bg-national.toml",
        include_str!("../calendars/bg-national.toml"),
    ),
    (
        "calendars/cy-national.toml",
        include_str!("../calendars/cy-national.toml"),
    ),
    (
        "calendars/cz-national.toml",
        include_str!("../calendars/cz-national.toml"),
    ),
    (
        "calendars/de-national.toml",
        include_str!("../calendars/de-national.toml"),
    ),
    (
        "calendars/dk-national.toml",
        include_str!("../calendars/dk-national.toml"),
    ),
    (
        "calendars/ee-national.toml",
        include_str!("../calendars/ee-national.toml"),
    ),
    (
        "calendars/es-national.toml",
        include_str!("../calendars/es-national.toml"),
    ),
    (
        "calendars/fi-national.toml",
        include_str!("../calendars/fi-national.toml"),
    ),
    (
        "calendars/fr-national.toml",
        include_str!("../calendars/fr-national.toml"),
    ),
    (
        "calendars/gr-national.toml",
        include_str!("../calendars/gr-national.toml"),
    ),
    (
        "calendars/hr-national.toml",
        include_str!("../calendars/hr-national.toml"),
    ),
    (
        "calendars/hu-national.toml",
        include_str!("../calendars/hu-national.toml"),
    ),
    (
        "calendars/ie-national.toml",
        include_str!("../calendars/ie-national.toml"),
    ),
    (
        "calendars/it-national.toml",
        include_str!("../calendars/it-national.toml"),
    ),
    (
        "calendars/lt-national.toml",
        include_str!("../calendars/lt-national.toml"),
    ),
    (
        "calendars/lu-national.toml",
        include_str!("../calendars/lu-national.toml"),
    ),
    (
        "calendars/lv-national.toml",
        include_str!("../calendars/lv-national.toml"),
    ),
    (
        "calendars/mt-national.toml",
        include_str!("../calendars/mt-national.toml"),
    ),
    (
        "calendars/nl-national.toml",
        include_str!("../calendars/nl-national.toml"),
    ),
    (
        "calendars/pl-national.toml",
        include_str!("../calendars/pl-national.toml"),
    ),
    (
        "calendars/pt-national.toml",
        include_str!("../calendars/pt-national.toml"),
    ),
    (
        "calendars/ro-national.toml",
        include_str!("../calendars/ro-national.toml"),
    ),
    (
        "calendars/se-national.toml",
        include_str!("../calendars/se-national.toml"),
    ),
    (
        "calendars/si-national.toml",
        include_str!("../calendars/si-national.toml"),
    ),
    (
        "calendars/sk-national.toml",
        include_str!("../calendars/sk-national.toml"),
    ),
];

/// Regimes and calendars in force for an evaluation.
#[derive(Debug, Clone)]
pub struct Pack {
    pub regimes: Vec<Regime>,
    pub calendars: BTreeMap<String, Calendar>,
    pub vocabulary: Vocabulary,
}

impl Pack {
    /// The shipped regimes and calendars.
    pub fn shipped() -> Result<Pack, ObligationError> {
        Pack::from_files(SHIPPED_RULES, SHIPPED_CALENDARS)
    }

    pub fn from_files(rules: &[(&str, &str)], calendars: &[(&str, &str)]) -> Result<Pack, ObligationError> {
        let mut pack = Pack {
            regimes: Vec::new(),
            calendars: BTreeMap::new(),
            vocabulary: Vocabulary::parse(SHIPPED_VOCABULARY.0, SHIPPED_VOCABULARY.1)?,
        };
        pack.add(rules, calendars)?;
        Ok(pack)
    }

    /// Adds operator rule and calendar files; a regime or calendar with an existing id replaces it
    /// (e.g. a national NIS2 transposition replacing `eu-nis2`).
    pub fn add(&mut self, rules: &[(&str, &str)], calendars: &[(&str, &str)]) -> Result<(), ObligationError> {
        for (path, text) in calendars {
            let c = Calendar::parse(path, text)?;
            self.calendars.insert(c.id.clone(), c);
        }
        let mut added = Vec::new();
        for (path, text) in rules {
            let r = Regime::parse(path, text)?;
            self.vocabulary.add(path, r.entity_types.clone())?;
            added.push((path, r.id.clone()));
            self.regimes.retain(|x| x.id != r.id);
            self.regimes.push(r);
        }
        self.vocabulary.check()?;
        // Every entity type a rule names is in the vocabulary (a typo would never match).
        for r in &self.regimes {
            let path = added
                .iter()
                .find(|(_, id)| *id == r.id)
                .map_or_else(|| r.id.clone(), |(p, _)| (**p).to_owned());
            let mut named: Vec<&String> = Vec::new();
            for c in std::iter::once(&r.applies).chain(r.stages.iter().filter_map(|s| s.when.as_ref())) {
                for leaf in rules::leaves(c) {
                    if leaf.field.as_deref() == Some("organisation.entity_types") {
                        named.extend(&leaf.any_of);
                    }
                }
            }
            named.extend(
                r.stages
                    .iter()
                    .filter_map(|s| s.roll.as_ref())
                    .flat_map(|r| &r.except_entity_types),
            );
            if let Some(t) = named
                .iter()
                .find(|t| !self.vocabulary.entity_types.contains_key(t.as_str()))
            {
                return Err(ObligationError::File {
                    path,
                    message: format!(
                        "regime {}: unknown entity type {t:?}; add it to the vocabulary with [[entity_types]] (id, meaning, implies, source)",
                        r.id
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks a report against the pack: its entity types are in the vocabulary, and each
    /// `assessments.reportable` key is a regime's assessment, answered with a value it takes.
    /// Errors name the key.
    pub fn check_report(&self, report: &Report) -> Result<(), ObligationError> {
        self.vocabulary
            .expand(report.organisation.entity_types.as_deref().unwrap_or_default())?;
        for (key, value) in &report.assessments.reportable {
            let field = format!("assessments.reportable.{key}");
            let Some(regime) = self.regimes.iter().find(|r| &r.id == key) else {
                let known: Vec<&str> = self
                    .regimes
                    .iter()
                    .filter(|r| r.assessment.is_some())
                    .map(|r| r.id.as_str())
                    .collect();
                return Err(ObligationError::Report {
                    field,
                    message: format!(
                        "no regime {key:?} in the rule pack asks this (known: {})",
                        known.join(", ")
                    ),
                });
            };
            let Some(a) = &regime.assessment else {
                return Err(ObligationError::Report {
                    field,
                    message: format!("regime {key} has no assessment of its own"),
                });
            };
            a.check(value)
                .map_err(|message| ObligationError::Report { field, message })?;
        }
        if let (Some(false), Some(_)) = (report.ransom_paid, &report.clocks.ransom_paid) {
            return Err(ObligationError::Report {
                field: "ransom_paid".into(),
                message: "false, yet clocks.ransom_paid gives the time of a payment".into(),
            });
        }
        Ok(())
    }

    /// The calendar of a jurisdiction (its national calendar, by the `xx-` prefix of its id).
    pub fn calendar_for(&self, jurisdiction: &str) -> Option<&Calendar> {
        let country = jurisdiction
            .split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.calendars
            .values()
            .find(|c| c.id.split('-').next() == Some(country.as_str()))
    }
}
