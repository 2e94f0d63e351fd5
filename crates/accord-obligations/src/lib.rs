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

pub use calendar::Calendar;
pub use engine::{Applicability, Obligation, RegimeResult, Submission, Timeline, Tracking, evaluate};
pub use report::Report;
pub use rules::{Regime, Status};

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
];

/// The holiday calendars shipped with Accord (`calendars/*.toml`).
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
        "calendars/de-national.toml",
        include_str!("../calendars/de-national.toml"),
    ),
];

/// Regimes and calendars in force for an evaluation.
#[derive(Debug, Clone)]
pub struct Pack {
    pub regimes: Vec<Regime>,
    pub calendars: BTreeMap<String, Calendar>,
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
        for (path, text) in rules {
            let r = Regime::parse(path, text)?;
            self.regimes.retain(|x| x.id != r.id);
            self.regimes.push(r);
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
