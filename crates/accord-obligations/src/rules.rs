//! The rule pack: one TOML file per regime with its citation and status, the conditions under
//! which it applies, and its stages (recipient, deadline rule, required content). Files are
//! checked on load: unknown keys, unknown fields in conditions, unknown clock events, stages that
//! refer to later or missing stages, and missing citations are errors naming the file and line.
//! A regime that reads `assessments.reportable.<its id>` declares what that assessment asks and
//! which values it takes, so that reports can be checked against it.

use serde::Deserialize;

use crate::ObligationError;
use crate::report::CLOCK_EVENTS;

/// How established a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    InForce,
    /// Not yet law (a proposal, a bill).
    Draft,
    /// A fact in it could not be confirmed from the source.
    Unconfirmed,
}

/// One regime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regime {
    pub id: String,
    pub name: String,
    pub citation: String,
    pub status: Status,
    /// Where the facts were taken from.
    pub source: String,
    /// Time zone deadlines are shown in: IANA name, or "@home" for the reporting entity's.
    pub time_zone: String,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub unconfirmed: Vec<String>,
    /// What `assessments.reportable.<id>` asks, if the regime reads it.
    #[serde(default)]
    pub assessment: Option<Assessment>,
    /// Entity types this file adds to the vocabulary.
    #[serde(default)]
    pub entity_types: Vec<crate::vocabulary::EntityType>,
    pub applies: Condition,
    pub stages: Vec<Stage>,
}

/// The regime's own assessment (`assessments.reportable.<regime id>`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// The question, in words, with its citation.
    pub question: String,
    /// The values it takes; none: `true` or `false`. With values, a report gives one of them or
    /// a list of them.
    #[serde(default)]
    pub values: Vec<String>,
}

impl Assessment {
    /// Whether `v` is a value this assessment takes; the error says what it takes.
    pub fn check(&self, v: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value;
        let ok = match v {
            Value::Bool(_) => self.values.is_empty(),
            Value::String(s) => self.values.contains(s),
            Value::Array(items) => {
                !self.values.is_empty()
                    && items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| self.values.contains(&s.to_owned())))
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{v} is not an answer to \"{}\": {}",
                self.question,
                self.takes()
            ))
        }
    }

    /// What it takes, in words.
    pub fn takes(&self) -> String {
        if self.values.is_empty() {
            "give true or false".into()
        } else {
            format!(
                "give one of {} (or a list of them)",
                self.values
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

/// A condition over the report. Leaves test one field; `all` / `any` / `not` combine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default)]
    pub all: Vec<Condition>,
    #[serde(default)]
    pub any: Vec<Condition>,
    #[serde(default)]
    pub not: Option<Box<Condition>>,
    /// A dotted path into the report (e.g. `organisation.entity_types`).
    #[serde(default)]
    pub field: Option<String>,
    /// The field (or one of its elements) is one of these; `@EU` stands for the EU member states.
    #[serde(default)]
    pub any_of: Vec<String>,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    pub greater_than: Option<f64>,
    /// Not a test: kept to say why (an absent fact is unknown, so presence cannot be a no).
    #[serde(default)]
    pub exists: Option<serde_json::Value>,
    /// Why this condition matters, in words, for explanations.
    #[serde(default)]
    pub why: Option<String>,
}

/// A stage: one notification to one recipient.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub recipient: String,
    pub deadline: Deadline,
    /// Content the notification must carry: report fields or named items.
    #[serde(default)]
    pub content: Vec<String>,
    pub citation: String,
    /// The stage applies only if this holds (e.g. data subjects only on high risk).
    #[serde(default)]
    pub when: Option<Condition>,
    /// A deadline on a weekend or holiday moves to the next working day at this time.
    #[serde(default)]
    pub roll: Option<Roll>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A deadline rule. Exactly one measure (`hours`, `days`, `business_days`, `months`,
/// `earliest_of`, `without_undue_delay`) and, except for `earliest_of`, exactly one start
/// (`from` a clock event, or `after_stage`: that stage's submission).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    #[serde(default)]
    pub hours: Option<i64>,
    /// Calendar days, counted in the regime's time zone.
    #[serde(default)]
    pub days: Option<i64>,
    #[serde(default)]
    pub business_days: Option<i64>,
    #[serde(default)]
    pub months: Option<i64>,
    #[serde(default)]
    pub earliest_of: Vec<Deadline>,
    #[serde(default)]
    pub without_undue_delay: Option<bool>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub after_stage: Option<String>,
    /// For business days: the calendar ("@home": the entity's).
    #[serde(default)]
    pub calendar: Option<String>,
    /// For business days: the local cut-off time on the last day (default end of day).
    #[serde(default)]
    pub at: Option<String>,
    /// For `earliest_of`: candidates that fall before this event are dropped.
    #[serde(default)]
    pub not_before: Option<String>,
}

/// "Next working day at 12:00" relief.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roll {
    pub calendar: String,
    pub at: String,
    /// Entity types the relief does not apply to.
    #[serde(default)]
    pub except_entity_types: Vec<String>,
    pub citation: String,
}

/// Report paths conditions may read (besides `organisation.attributes.*` and
/// `assessments.reportable.*`).
pub const KNOWN_FIELDS: &[&str] = &[
    "organisation.name",
    "organisation.home_jurisdiction",
    "organisation.time_zone",
    "organisation.sectors",
    "organisation.entity_types",
    "affected_jurisdictions",
    "incident_types",
    "ransom_paid",
    "impact.services",
    "impact.users_affected",
    "impact.duration_hours",
    "impact.financial_loss",
    "personal_data",
    "personal_data.breach",
    "personal_data.categories",
    "personal_data.data_subjects",
    "personal_data.risk_to_rights",
    "personal_data.high_risk",
    "personal_data.relevant_risk_or_damage",
    "personal_data.real_risk_of_significant_harm",
    "personal_data.unsecured_phi",
    "personal_data.max_residents_one_state",
    "cross_border_impact",
    "assessments.significant",
    "assessments.major",
    "assessments.material",
    "status",
];

/// Whether a condition may read `path`.
pub fn known_field(path: &str) -> bool {
    KNOWN_FIELDS.contains(&path)
        || path
            .strip_prefix("clocks.")
            .is_some_and(|e| CLOCK_EVENTS.contains(&e))
        || path.starts_with("organisation.attributes.")
        || path.starts_with("assessments.reportable.")
}

/// The line of the first occurrence of `needle` in `text` (1-based), to point errors at.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].bytes().filter(|b| *b == b'\n').count() + 1)
}

impl Regime {
    /// Parses and checks one rule file.
    pub fn parse(path: &str, text: &str) -> Result<Regime, ObligationError> {
        let regime: Regime = toml::from_str(text).map_err(|e| ObligationError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let at = |needle: &str, message: String| ObligationError::File {
            path: format!("{path}:{}", line_of(text, needle)),
            message,
        };
        if regime.citation.trim().is_empty() {
            return Err(at("citation", "the regime has no citation".into()));
        }
        if regime.time_zone != "@home" {
            jiff::tz::TimeZone::get(&regime.time_zone)
                .map_err(|e| at("time_zone", format!("time_zone {:?}: {e}", regime.time_zone)))?;
        }
        let own = format!("assessments.reportable.{}", regime.id);
        let conditions =
            std::iter::once(&regime.applies).chain(regime.stages.iter().filter_map(|s| s.when.as_ref()));
        for c in conditions {
            check_assessment(c, &own, regime.assessment.as_ref()).map_err(|m| at(&own, m))?;
        }
        check_condition(&regime.applies).map_err(|m| at("[applies]", m))?;
        let mut earlier: Vec<&str> = Vec::new();
        for stage in &regime.stages {
            let here = format!("id = \"{}\"", stage.id);
            let fail = |m: String| at(&here, format!("stage {}: {m}", stage.id));
            if stage.citation.trim().is_empty() {
                return Err(fail("no citation".into()));
            }
            check_deadline(&stage.deadline, &earlier).map_err(fail)?;
            if let Some(w) = &stage.when {
                check_condition(w).map_err(fail)?;
            }
            earlier.push(&stage.id);
        }
        if regime.stages.is_empty() {
            return Err(at("id", "the regime has no stages".into()));
        }
        Ok(regime)
    }
}

/// Every condition leaf, depth first.
pub fn leaves(c: &Condition) -> Vec<&Condition> {
    let mut out: Vec<&Condition> = c.field.iter().map(|_| c).collect();
    for sub in c.all.iter().chain(&c.any).chain(c.not.as_deref()) {
        out.extend(leaves(sub));
    }
    out
}

/// A regime reads only its own assessment, declares it, and tests it with values it takes.
fn check_assessment(c: &Condition, own: &str, declared: Option<&Assessment>) -> Result<(), String> {
    for leaf in leaves(c) {
        let Some(field) = leaf.field.as_deref() else {
            continue;
        };
        if !field.starts_with("assessments.reportable.") {
            continue;
        }
        if field != own {
            return Err(format!(
                "condition on {field:?}: a regime reads only its own assessment, {own}"
            ));
        }
        let Some(a) = declared else {
            return Err(format!(
                "condition on {field:?}: declare the assessment (assessment = {{ question = \"…\", values = […] }})"
            ));
        };
        let tested: Vec<serde_json::Value> = leaf
            .any_of
            .iter()
            .map(|v| serde_json::Value::String(v.clone()))
            .chain(leaf.equals.clone())
            .collect();
        for v in &tested {
            a.check(v).map_err(|m| format!("condition on {field:?}: {m}"))?;
        }
    }
    Ok(())
}

fn check_condition(c: &Condition) -> Result<(), String> {
    for sub in c.all.iter().chain(&c.any).chain(c.not.as_deref()) {
        check_condition(sub)?;
    }
    // INVARIANT: obligations never guess: no test may answer no because a fact is absent.
    if c.exists.is_some() {
        return Err(
            "`exists` is not a test: an absent fact is unknown, not false; test a fact with equals \
             (e.g. ransom_paid = true), and start deadlines from clock events"
                .into(),
        );
    }
    let tests = usize::from(!c.any_of.is_empty())
        + usize::from(c.equals.is_some())
        + usize::from(c.greater_than.is_some());
    match &c.field {
        Some(f) if !known_field(f) => Err(format!("condition on unknown field {f:?}")),
        Some(f) if tests != 1 => Err(format!(
            "condition on {f:?} needs exactly one of any_of, equals, greater_than"
        )),
        None if tests > 0 => Err("a test (any_of, equals, …) without a field".into()),
        None if c.all.is_empty() && c.any.is_empty() && c.not.is_none() => Err("an empty condition".into()),
        _ => Ok(()),
    }
}

fn check_deadline(d: &Deadline, earlier: &[&str]) -> Result<(), String> {
    let measures = usize::from(d.hours.is_some())
        + usize::from(d.days.is_some())
        + usize::from(d.business_days.is_some())
        + usize::from(d.months.is_some())
        + usize::from(!d.earliest_of.is_empty())
        + usize::from(d.without_undue_delay.is_some());
    if measures != 1 {
        return Err(
            "a deadline needs exactly one of hours, days, business_days, months, earliest_of, without_undue_delay"
                .into(),
        );
    }
    for e in d.from.iter().chain(&d.not_before) {
        if !CLOCK_EVENTS.contains(&e.as_str()) {
            return Err(format!(
                "unknown clock event {e:?} (known: {})",
                CLOCK_EVENTS.join(", ")
            ));
        }
    }
    if let Some(s) = &d.after_stage
        && !earlier.contains(&s.as_str())
    {
        return Err(format!("after_stage {s:?} is not an earlier stage"));
    }
    if !d.earliest_of.is_empty() {
        for c in &d.earliest_of {
            check_deadline(c, earlier)?;
        }
        return Ok(());
    }
    if usize::from(d.from.is_some()) + usize::from(d.after_stage.is_some()) != 1 {
        return Err("a deadline needs exactly one of from (a clock event) and after_stage".into());
    }
    if d.business_days.is_some() && d.calendar.is_none() {
        return Err("business_days needs a calendar".into());
    }
    if let Some(t) = &d.at {
        t.parse::<jiff::civil::Time>()
            .map_err(|e| format!("at {t:?}: {e}"))?;
    }
    Ok(())
}
