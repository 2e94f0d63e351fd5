//! Evaluates a report against the pack: for each regime, whether it applies (with the reason for
//! every condition, and what is missing when it cannot be determined), and for each stage the
//! clock, the deadline in UTC and local time, and where the stage stands.

use jiff::{Timestamp, ToSpan, Zoned, tz::TimeZone};
use serde::Serialize;
use serde_json::Value;

use crate::rules::{self, Condition, Deadline, Regime, Stage, Status};
use crate::{Calendar, ObligationError, Pack, Report};

/// EU member states (ISO 3166-1 alpha-2), for `@EU` in conditions.
const EU: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
    "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// A stage recorded as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Submission {
    pub regime: String,
    pub stage: String,
    /// RFC 3339.
    pub at: String,
    pub by: String,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Applicability {
    Applies,
    NotApplicable,
    /// A fact the conditions need is missing: "cannot determine: needs X".
    CannotDetermine {
        needs: Vec<String>,
    },
}

/// Where an obligation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Tracking {
    /// Its clock has not started (the event, or the earlier stage, is still missing).
    Waiting {
        on: String,
    },
    /// No fixed deadline ("without undue delay").
    NoFixedDeadline,
    Pending,
    /// Less than a quarter of the time it allowed is left.
    DueSoon,
    Overdue,
    Met {
        at: String,
    },
    Late {
        at: String,
    },
    /// Submitted; no fixed deadline to compare with.
    Submitted {
        at: String,
    },
    CannotDetermine {
        needs: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Obligation {
    pub regime: String,
    pub stage: String,
    pub name: String,
    pub recipient: String,
    pub status: Status,
    /// The clock event (or earlier stage) the deadline counts from, and when it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_utc: Option<String>,
    /// The deadline in the recipient's time zone, with that zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_local: Option<String>,
    /// The deadline counts from an earlier stage's deadline, not yet from its submission.
    pub projected: bool,
    /// The rule, in words.
    pub rule: String,
    /// Weekend or holiday relief applied, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted: Option<String>,
    pub content: Vec<String>,
    pub citation: String,
    pub tracking: Tracking,
    /// What to send, to whom, by when, in a sentence.
    pub summary: String,
    /// The stage's content, filled from the report where it names a report field.
    pub draft: serde_json::Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegimeResult {
    pub id: String,
    pub name: String,
    pub citation: String,
    pub status: Status,
    pub applicability: Applicability,
    /// Each condition and its outcome.
    pub reasons: Vec<String>,
    pub obligations: Vec<Obligation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unconfirmed: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// When it was computed.
    pub at: String,
    pub regimes: Vec<RegimeResult>,
    /// Facts the report does not give that would change an outcome if supplied, each with what
    /// it would decide. Facts that are given, or that no undecided outcome reads, are not here:
    /// three-valued evaluation means an outcome decided without a fact stays decided with it.
    pub missing: Vec<MissingFact>,
}

/// A fact not given that would decide something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingFact {
    /// Its path in the report (`clocks.EVENT` for a clock a deadline waits on).
    pub field: String,
    /// What it would decide: a regime's applicability (`regime`), or a stage (`regime/stage`).
    pub decides: Vec<String>,
}

impl Timeline {
    /// Every obligation of every applicable regime, soonest deadline first.
    pub fn obligations(&self) -> Vec<&Obligation> {
        let mut all: Vec<&Obligation> = self.regimes.iter().flat_map(|r| &r.obligations).collect();
        all.sort_by(|a, b| {
            a.deadline_utc
                .is_none()
                .cmp(&b.deadline_utc.is_none())
                .then(a.deadline_utc.cmp(&b.deadline_utc))
        });
        all
    }
}

enum Truth {
    Yes,
    No,
    Unknown(Vec<String>),
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = doc;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    (!v.is_null()).then_some(v)
}

fn in_set(value: &str, set: &[String]) -> bool {
    set.iter().any(|s| {
        if s == "@EU" {
            EU.contains(&value)
        } else {
            // A subdivision (US-NY) is also in its country (US).
            s == value || value.split_once('-').is_some_and(|(country, _)| country == s)
        }
    })
}

fn eval(c: &Condition, doc: &Value, reasons: &mut Vec<String>) -> Truth {
    if let Some(field) = &c.field {
        let why = c.why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        // INVARIANT: obligations never guess: an absent fact is unknown, never a no.
        let Some(v) = lookup(doc, field) else {
            reasons.push(format!(
                "{field}: not given, so cannot tell whether it {}{why}",
                if c.any_of.is_empty() { "holds" } else { "matches" }
            ));
            return Truth::Unknown(vec![field.clone()]);
        };
        // `None`: the value is not of the kind the test reads (an operator attribute), which
        // decides nothing.
        let (hit, test) = if !c.any_of.is_empty() {
            let hit = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(|s| in_set(s, &c.any_of)))
                    .collect::<Option<Vec<bool>>>()
                    .map(|hits| hits.contains(&true)),
                Value::String(s) => Some(in_set(s, &c.any_of)),
                _ => None,
            };
            (hit, format!("is one of {}", c.any_of.join(", ")))
        } else if let Some(want) = &c.equals {
            (Some(v == want), format!("is {want}"))
        } else {
            let limit = c.greater_than.unwrap_or(f64::INFINITY);
            (v.as_f64().map(|x| x > limit), format!("is greater than {limit}"))
        };
        let Some(hit) = hit else {
            reasons.push(format!(
                "{field} {test}: cannot tell, {v} is not a value this test reads{why}"
            ));
            return Truth::Unknown(vec![field.clone()]);
        };
        reasons.push(format!(
            "{field} {test}: {} ({v}){why}",
            if hit { "yes" } else { "no" }
        ));
        return if hit { Truth::Yes } else { Truth::No };
    }
    let combine = |parts: Vec<Truth>, all: bool| -> Truth {
        let mut needs = Vec::new();
        let mut decided = None;
        for p in parts {
            match p {
                Truth::Yes if !all => decided = Some(Truth::Yes),
                Truth::No if all => decided = Some(Truth::No),
                Truth::Unknown(n) => needs.extend(n),
                _ => {}
            }
        }
        match decided {
            Some(t) => t,
            None if !needs.is_empty() => Truth::Unknown(needs),
            None => {
                if all {
                    Truth::Yes
                } else {
                    Truth::No
                }
            }
        }
    };
    let mut parts = Vec::new();
    if !c.all.is_empty() {
        let subs: Vec<Truth> = c.all.iter().map(|s| eval(s, doc, reasons)).collect();
        parts.push(combine(subs, true));
    }
    if !c.any.is_empty() {
        let subs: Vec<Truth> = c.any.iter().map(|s| eval(s, doc, reasons)).collect();
        parts.push(combine(subs, false));
    }
    if let Some(n) = &c.not {
        parts.push(match eval(n, doc, reasons) {
            Truth::Yes => Truth::No,
            Truth::No => Truth::Yes,
            u => u,
        });
    }
    combine(parts, true)
}

fn parse_time(field: &str, text: &str) -> Result<Timestamp, ObligationError> {
    text.parse().map_err(|e| ObligationError::Report {
        field: field.to_owned(),
        message: format!("{text:?} is not an RFC 3339 time: {e}"),
    })
}

fn time_err(e: jiff::Error) -> ObligationError {
    ObligationError::Time(e.to_string())
}

/// A computed deadline.
enum Due {
    At(Computed),
    NoFixed {
        clock: Option<(String, Timestamp)>,
        rule: String,
    },
    Waiting(String),
    Needs(Vec<String>),
}

struct Context<'a> {
    pack: &'a Pack,
    report: &'a Report,
    regime: &'a Regime,
    tz: Option<TimeZone>,
    submissions: &'a [Submission],
    /// Deadlines of the regime's earlier stages (for projections).
    earlier: Vec<(String, Option<Timestamp>)>,
}

impl Context<'_> {
    fn calendar(&self, name: &str) -> Result<Result<&Calendar, Vec<String>>, ObligationError> {
        if name == "@home" {
            let home = &self.report.organisation.home_jurisdiction;
            return Ok(self
                .pack
                .calendar_for(home)
                .ok_or_else(|| vec![format!("a holiday calendar for {home}")]));
        }
        self.pack
            .calendars
            .get(name)
            .map(Ok)
            .ok_or_else(|| ObligationError::UnknownCalendar(name.to_owned()))
    }

    /// The stage's submissions, earliest first (RFC 3339 UTC strings compare in time order only
    /// when they share a format, so they are compared as instants).
    fn submissions_of(&self, stage: &str) -> Vec<(&Submission, Option<Timestamp>)> {
        let mut found: Vec<_> = self
            .submissions
            .iter()
            .filter(|s| s.regime == self.regime.id && s.stage == stage)
            .map(|s| (s, s.at.parse::<Timestamp>().ok()))
            .collect();
        found.sort_by_key(|(_, t)| *t);
        found
    }

    /// The first submission (what meets the deadline).
    fn submitted(&self, stage: &str) -> Option<&Submission> {
        self.submissions_of(stage).first().map(|(s, _)| *s)
    }

    fn start(&self, d: &Deadline) -> Result<Result<(String, Timestamp, bool), Due>, ObligationError> {
        if let Some(event) = &d.from {
            return Ok(match self.report.clocks.get(event) {
                Some(t) => Ok((event.clone(), parse_time(&format!("clocks.{event}"), t)?, false)),
                None => Err(Due::Waiting(event.clone())),
            });
        }
        let stage = d.after_stage.as_deref().unwrap_or_default();
        // A later stage counts from the latest submission (DORA: the latest intermediate report).
        if let Some((s, _)) = self.submissions_of(stage).last() {
            return Ok(Ok((
                format!("submission of {stage}"),
                parse_time("submission", &s.at)?,
                false,
            )));
        }
        Ok(match self.earlier.iter().find(|(id, _)| id == stage) {
            Some((_, Some(due))) => Ok((format!("deadline of {stage} (not yet submitted)"), *due, true)),
            _ => Err(Due::Waiting(format!("submission of {stage}"))),
        })
    }

    fn due(&self, d: &Deadline) -> Result<Due, ObligationError> {
        if !d.earliest_of.is_empty() {
            let floor = match &d.not_before {
                Some(e) => match self.report.clocks.get(e) {
                    Some(t) => Some(parse_time(&format!("clocks.{e}"), t)?),
                    None => return Ok(Due::Waiting(e.clone())),
                },
                None => None,
            };
            let mut rules = Vec::new();
            let mut best: Option<Computed> = None;
            for c in &d.earliest_of {
                match self.due(c)? {
                    Due::At(candidate) => {
                        rules.push(candidate.rule.clone());
                        if floor.is_some_and(|f| candidate.at < f) {
                            continue; // Already past when the obligation arose.
                        }
                        if best.as_ref().is_none_or(|b| candidate.at < b.at) {
                            best = Some(candidate);
                        }
                    }
                    other => return Ok(other),
                }
            }
            let text = format!("the earliest of: {}", rules.join("; "));
            return Ok(match best {
                Some(mut c) => {
                    c.rule = format!("{text} (here: {})", c.rule);
                    Due::At(c)
                }
                None => Due::Needs(vec!["a deadline not before the triggering event".into()]),
            });
        }
        let (clock, start, projected) = match self.start(d)? {
            Ok(s) => s,
            Err(waiting) => {
                return Ok(if d.without_undue_delay == Some(true) {
                    Due::NoFixed {
                        clock: None,
                        rule: "without undue delay".into(),
                    }
                } else {
                    waiting
                });
            }
        };
        if d.without_undue_delay == Some(true) {
            return Ok(Due::NoFixed {
                clock: Some((clock.clone(), start)),
                rule: format!("without undue delay after {clock}"),
            });
        }
        let zoned = |tz: &TimeZone| start.to_zoned(tz.clone());
        let (at, rule) = if let Some(h) = d.hours {
            (
                start.checked_add(h.hours()).map_err(time_err)?,
                format!("{h} hours after {clock}"),
            )
        } else if let Some(n) = d.days {
            let Some(tz) = &self.tz else {
                return Ok(Due::Needs(vec!["organisation.time_zone".into()]));
            };
            (
                zoned(tz).checked_add(n.days()).map_err(time_err)?.timestamp(),
                format!("{n} calendar days after {clock}"),
            )
        } else if let Some(n) = d.months {
            let Some(tz) = &self.tz else {
                return Ok(Due::Needs(vec!["organisation.time_zone".into()]));
            };
            let unit = if n == 1 { "month" } else { "months" };
            (
                zoned(tz).checked_add(n.months()).map_err(time_err)?.timestamp(),
                format!("{n} {unit} after {clock}"),
            )
        } else if let Some(n) = d.business_days {
            let name = d.calendar.as_deref().unwrap_or_default();
            let cal = match self.calendar(name)? {
                Ok(c) => c,
                Err(needs) => return Ok(Due::Needs(needs)),
            };
            let mut date = zoned(&cal.time_zone).date();
            let mut left = n;
            while left > 0 {
                date = date.tomorrow().map_err(time_err)?;
                if cal.is_working_day(date)? {
                    left -= 1;
                }
            }
            let cutoff: jiff::civil::Time = match &d.at {
                Some(t) => t.parse().map_err(time_err)?,
                None => jiff::civil::time(23, 59, 59, 0),
            };
            let at = date
                .to_datetime(cutoff)
                .to_zoned(cal.time_zone.clone())
                .map_err(time_err)?;
            (
                at.timestamp(),
                format!(
                    "{n} business days ({}) after {clock}, by {cutoff} {}",
                    cal.name, cal.time_zone_name
                ),
            )
        } else {
            return Ok(Due::Needs(vec!["a deadline rule".into()]));
        };
        Ok(Due::At(Computed {
            at,
            clock,
            clock_at: start,
            projected,
            rule,
            adjusted: None,
        }))
    }

    /// "Next working day at 12:00" relief, unless the entity is of an excepted type.
    fn roll(&self, stage: &Stage, at: Timestamp) -> Result<(Timestamp, Option<String>), ObligationError> {
        let Some(roll) = &stage.roll else {
            return Ok((at, None));
        };
        let Some(types) = self.report.organisation.entity_types.as_deref() else {
            // Unknown types cannot show the entity is not excepted: the earlier deadline stands.
            return Ok((
                at,
                (!roll.except_entity_types.is_empty()).then(|| {
                    format!(
                        "weekend and holiday relief ({}) not applied: organisation.entity_types not given",
                        roll.citation
                    )
                }),
            ));
        };
        if let Some(t) = roll.except_entity_types.iter().find(|t| types.contains(t)) {
            return Ok((
                at,
                Some(format!(
                    "no weekend or holiday relief for a {t} ({})",
                    roll.citation
                )),
            ));
        }
        let cal = match self.calendar(&roll.calendar)? {
            Ok(c) => c,
            Err(_) => {
                return Ok((
                    at,
                    Some(format!(
                        "weekend and holiday relief ({}) not applied: no holiday calendar for {}",
                        roll.citation, self.report.organisation.home_jurisdiction
                    )),
                ));
            }
        };
        let local = at.to_zoned(cal.time_zone.clone());
        let mut date = local.date();
        if cal.is_working_day(date)? {
            return Ok((at, None));
        }
        let why = cal
            .holiday(date)
            .map_or_else(|| format!("{:?}", date.weekday()), str::to_owned);
        while !cal.is_working_day(date)? {
            date = date.tomorrow().map_err(time_err)?;
        }
        let noon: jiff::civil::Time = roll.at.parse().map_err(time_err)?;
        let moved = date
            .to_datetime(noon)
            .to_zoned(cal.time_zone.clone())
            .map_err(time_err)?;
        Ok((
            moved.timestamp(),
            Some(format!(
                "falls on {} ({why}) in {}: moved to the next working day at {} ({})",
                local.date(),
                cal.name,
                roll.at,
                roll.citation
            )),
        ))
    }
}

fn local(at: Timestamp, tz: Option<&TimeZone>) -> Option<String> {
    let tz = tz?;
    let z: Zoned = at.to_zoned(tz.clone());
    Some(z.strftime("%Y-%m-%dT%H:%M:%S%:z[%Q]").to_string())
}

/// Evaluates a report against the pack at time `now`.
pub fn evaluate(
    pack: &Pack,
    report: &Report,
    submissions: &[Submission],
    now: Timestamp,
) -> Result<Timeline, ObligationError> {
    pack.check_report(report)?;
    // The facts as the rules read them: entity types with those they imply, and a payment whose
    // time is known as a payment made.
    let mut facts = report.clone();
    let mut derived = Vec::new();
    if let Some(given) = &report.organisation.entity_types {
        let expanded = pack.vocabulary.expand(given)?;
        facts.organisation.entity_types = Some(expanded.all);
        derived = expanded
            .implied
            .into_iter()
            .map(|(t, from)| {
                let source = pack
                    .vocabulary
                    .entity_types
                    .get(&from)
                    .map(|e| e.source.as_str())
                    .unwrap_or_default();
                format!("organisation.entity_types: {t}, implied by {from} ({source})")
            })
            .collect();
    }
    if facts.clocks.ransom_paid.is_some() {
        facts.ransom_paid = Some(true);
    }
    let report = &facts;
    let doc = serde_json::to_value(report).map_err(|e| ObligationError::Report {
        field: "report".into(),
        message: e.to_string(),
    })?;
    let home_tz = match &report.organisation.time_zone {
        Some(name) => Some(TimeZone::get(name).map_err(|e| ObligationError::Report {
            field: "organisation.time_zone".into(),
            message: format!("{name:?}: {e}"),
        })?),
        None => None,
    };
    let mut regimes = Vec::new();
    for regime in &pack.regimes {
        let reads_types = rules::leaves(&regime.applies)
            .iter()
            .any(|l| l.field.as_deref() == Some("organisation.entity_types"));
        let mut reasons = if reads_types { derived.clone() } else { Vec::new() };
        let applicability = match eval(&regime.applies, &doc, &mut reasons) {
            Truth::Yes => Applicability::Applies,
            Truth::No => Applicability::NotApplicable,
            Truth::Unknown(mut needs) => {
                needs.sort();
                needs.dedup();
                Applicability::CannotDetermine { needs }
            }
        };
        let tz = if regime.time_zone == "@home" {
            home_tz.clone()
        } else {
            Some(
                TimeZone::get(&regime.time_zone).map_err(|e| ObligationError::File {
                    path: regime.id.clone(),
                    message: format!("time_zone {:?}: {e}", regime.time_zone),
                })?,
            )
        };
        let mut obligations = Vec::new();
        if applicability == Applicability::Applies {
            let mut cx = Context {
                pack,
                report,
                regime,
                tz: tz.clone(),
                submissions,
                earlier: Vec::new(),
            };
            for stage in &regime.stages {
                // A stage whose condition cannot be decided yet is "cannot determine", like a
                // deadline that needs a missing fact.
                let due = match stage.when.as_ref().map(|w| eval(w, &doc, &mut Vec::new())) {
                    Some(Truth::No) => continue,
                    Some(Truth::Unknown(needs)) => Due::Needs(needs),
                    Some(Truth::Yes) | None => cx.due(&stage.deadline)?,
                };
                let (o, deadline) = match due {
                    Due::At(mut computed) => {
                        (computed.at, computed.adjusted) = cx.roll(stage, computed.at)?;
                        let at = computed.at;
                        let tracking = track(&cx, stage, &computed, now);
                        (
                            obligation(regime, stage, &doc, Some(&computed), tracking, tz.as_ref()),
                            Some(at),
                        )
                    }
                    Due::NoFixed { clock, rule } => {
                        let tracking = match cx.submitted(&stage.id) {
                            Some(s) => Tracking::Submitted { at: s.at.clone() },
                            None => Tracking::NoFixedDeadline,
                        };
                        let mut o = obligation(regime, stage, &doc, None, tracking, tz.as_ref());
                        o.rule = rule;
                        if let Some((c, at)) = clock {
                            o.clock = Some(c);
                            o.clock_at = Some(at.to_string());
                        }
                        (o, None)
                    }
                    Due::Waiting(on) => (
                        obligation(regime, stage, &doc, None, Tracking::Waiting { on }, tz.as_ref()),
                        None,
                    ),
                    Due::Needs(needs) => (
                        obligation(
                            regime,
                            stage,
                            &doc,
                            None,
                            Tracking::CannotDetermine { needs },
                            tz.as_ref(),
                        ),
                        None,
                    ),
                };
                cx.earlier.push((stage.id.clone(), deadline));
                obligations.push(o);
            }
        }
        regimes.push(RegimeResult {
            id: regime.id.clone(),
            name: regime.name.clone(),
            citation: regime.citation.clone(),
            status: regime.status,
            applicability,
            reasons,
            obligations,
            unconfirmed: regime.unconfirmed.clone(),
            notes: regime.notes.clone(),
        });
    }
    let missing = missing_facts(&regimes);
    Ok(Timeline {
        at: now.to_string(),
        regimes,
        missing,
    })
}

/// The facts that undecided outcomes wait for, each with what it would decide.
fn missing_facts(regimes: &[RegimeResult]) -> Vec<MissingFact> {
    let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut add = |field: String, what: String| {
        let e = by.entry(field).or_default();
        if !e.contains(&what) {
            e.push(what);
        }
    };
    for r in regimes {
        if let Applicability::CannotDetermine { needs } = &r.applicability {
            for n in needs.iter().filter(|n| rules::known_field(n)) {
                add(n.clone(), r.id.clone());
            }
        }
        for o in &r.obligations {
            let what = format!("{}/{}", r.id, o.stage);
            match &o.tracking {
                Tracking::CannotDetermine { needs } => {
                    for n in needs.iter().filter(|n| rules::known_field(n)) {
                        add(n.clone(), what.clone());
                    }
                }
                Tracking::Waiting { on } if crate::report::CLOCK_EVENTS.contains(&on.as_str()) => {
                    add(format!("clocks.{on}"), what);
                }
                _ => {}
            }
        }
    }
    by.into_iter()
        .map(|(field, decides)| MissingFact { field, decides })
        .collect()
}

struct Computed {
    at: Timestamp,
    clock: String,
    clock_at: Timestamp,
    projected: bool,
    rule: String,
    adjusted: Option<String>,
}

fn track(cx: &Context<'_>, stage: &Stage, due: &Computed, now: Timestamp) -> Tracking {
    if let Some(s) = cx.submitted(&stage.id) {
        return match s.at.parse::<Timestamp>() {
            Ok(t) if t <= due.at => Tracking::Met { at: s.at.clone() },
            _ => Tracking::Late { at: s.at.clone() },
        };
    }
    if now > due.at {
        return Tracking::Overdue;
    }
    let window = due.at.as_second() - due.clock_at.as_second();
    let left = due.at.as_second() - now.as_second();
    if left * 4 <= window {
        Tracking::DueSoon
    } else {
        Tracking::Pending
    }
}

fn obligation(
    regime: &Regime,
    stage: &Stage,
    doc: &Value,
    due: Option<&Computed>,
    tracking: Tracking,
    tz: Option<&TimeZone>,
) -> Obligation {
    let mut draft = serde_json::Map::new();
    for item in &stage.content {
        draft.insert(
            item.clone(),
            lookup(doc, item)
                .cloned()
                .unwrap_or(Value::String("(to complete)".into())),
        );
    }
    let deadline_local = due.and_then(|d| local(d.at, tz));
    let when = match (due, &tracking) {
        (Some(d), _) => match tz {
            Some(tz) => format!(
                "by {}",
                d.at.to_zoned(tz.clone()).strftime("%a %-d %b %Y %H:%M %Z")
            ),
            None => format!("by {} UTC", d.at.strftime("%a %-d %b %Y %H:%M")),
        },
        (None, Tracking::Waiting { on }) => format!("once {on} is known"),
        (None, Tracking::CannotDetermine { needs }) => {
            format!("(cannot determine: needs {})", needs.join(", "))
        }
        (None, _) => "without undue delay".to_owned(),
    };
    let what = if stage.content.is_empty() {
        String::new()
    } else {
        format!(" with {}", stage.content.join(", "))
    };
    Obligation {
        regime: regime.id.clone(),
        stage: stage.id.clone(),
        name: stage.name.clone(),
        recipient: stage.recipient.clone(),
        status: stage.status.unwrap_or(regime.status),
        clock: due.map(|d| d.clock.clone()),
        clock_at: due.map(|d| d.clock_at.to_string()),
        deadline_utc: due.map(|d| d.at.to_string()),
        deadline_local,
        projected: due.is_some_and(|d| d.projected),
        rule: due.map(|d| d.rule.clone()).unwrap_or_default(),
        adjusted: due.and_then(|d| d.adjusted.clone()),
        content: stage.content.clone(),
        citation: format!("{}, {}", regime.citation, stage.citation),
        summary: format!(
            "{}: send the {} to {} {when}{what}.",
            regime.name,
            stage.name.to_lowercase(),
            stage.recipient
        ),
        draft,
        tracking,
        notes: stage.notes.clone(),
    }
}
