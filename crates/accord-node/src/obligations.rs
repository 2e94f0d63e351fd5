//! Incident reports and the reporting obligations they trigger: reports are stored as STIX
//! `incident` objects with the Accord incident-report extension (through the ingest path), read
//! back through the gated reader when a person asks, evaluated against the rule pack to a
//! timeline, and the submissions recorded (in the ledger, then the store).

use std::path::Path;

use accord_obligations::{Pack, Report, Submission, Timeline, Tracking};
use accord_store::{Query, SubmissionRecord, VersionFilter};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{NodeError, Result};
use crate::gate::Channel;
use crate::ingest::Origin;
use crate::metrics::ObligationStats;
use crate::node::Node;

/// Most incidents read per page.
const PAGE: usize = 10_000;

/// The shipped regimes and calendars plus the operator's files from `[obligations]`.
pub fn pack(node: &Node) -> Result<Pack> {
    let mut pack = Pack::shipped()?;
    let config = node.config();
    let read = |files: &[std::path::PathBuf]| -> Result<Vec<(String, String)>> {
        files
            .iter()
            .map(|f| {
                let path = node.dir().join(f);
                let text = std::fs::read_to_string(&path).map_err(NodeError::io(&path))?;
                Ok((path.display().to_string(), text))
            })
            .collect()
    };
    let rules = read(&config.obligations.rule_files)?;
    let calendars = read(&config.obligations.calendar_files)?;
    let r: Vec<(&str, &str)> = rules.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let c: Vec<(&str, &str)> = calendars.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    pack.add(&r, &c)?;
    Ok(pack)
}

fn collection(node: &Node) -> Result<String> {
    node.collection_id(node.config().obligations.collection.as_deref())
}

fn parse(id: &str, json: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(json).map_err(|e| NodeError::Corrupt(format!("stored {id}: {e}")))
}

fn is_report(json: &str) -> bool {
    json.contains(accord_obligations::INCIDENT_EXTENSION_ID)
}

/// The latest version of every incident carrying a report, read through the gate for this
/// node's operator (decided and logged).
pub fn incidents(node: &Node) -> Result<Vec<Map<String, Value>>> {
    let mut q = Query::new(&collection(node)?);
    q.types = vec!["incident".into()];
    q.versions = VersionFilter::last();
    q.limit = PAGE;
    let reader = operator(node);
    let mut out = Vec::new();
    reader.for_each(q, &mut |objects| {
        for o in objects.iter().filter(|o| is_report(&o.json)) {
            out.push(parse(&o.id, &o.json)?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The node's operator at the command line, reading incident reports.
fn operator(node: &Node) -> crate::read::Reader {
    node.reader(
        accord_policy::sharing::NODE_PRINCIPAL,
        accord_policy::Action::Read,
        Channel::Cli,
        None,
    )
}

/// One incident, read through the gate for this node's operator.
fn incident(node: &Node, id: &str) -> Result<Map<String, Value>> {
    let coll = collection(node)?;
    let mut q = Query::new(&coll);
    q.ids = vec![id.to_owned()];
    q.versions = VersionFilter::last();
    q.limit = 1;
    let reader = operator(node);
    let found = reader.page(q)?.disclose_blocking(&reader)?;
    let o = found
        .first()
        .ok_or_else(|| NodeError::NotFound(format!("no incident {id} in collection {coll}")))?;
    parse(&o.id, &o.json)
}

/// Stores an incident report read from `path`: a STIX `incident` with the extension (a new
/// version of it if it exists), or a bare report in JSON or TOML (`.toml`; a new incident named
/// `name`), checked against the pack. Gives its id.
pub fn report(node: &Node, path: &Path, name: Option<&str>) -> Result<String> {
    let pack = pack(node)?;
    let text = std::fs::read_to_string(path).map_err(NodeError::io(path))?;
    let at = |e: &dyn std::fmt::Display| NodeError::Invalid(format!("{}: {e}", path.display()));
    let now = accord_stix::Timestamp::format_micros(node.clock().now_micros());
    let toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let value: Value = if toml {
        Value::Null
    } else {
        serde_json::from_str(&text).map_err(|e| at(&format!("not JSON: {e}")))?
    };
    let object = if value.get("type").and_then(Value::as_str) == Some("incident") {
        let map = value.as_object().cloned().unwrap_or_default();
        let report = Report::from_incident(&map).map_err(|e| at(&e))?;
        pack.check_report(&report).map_err(|e| at(&e))?;
        value
    } else {
        let report = if toml {
            Report::from_toml(&text)
        } else {
            Report::from_value(value)
        }
        .map_err(|e| at(&format!("not an incident report: {e}")))?;
        // Checked against the pack before it is stored: a key no regime asks is a typo.
        pack.check_report(&report).map_err(|e| at(&e))?;
        let name = name.map_or_else(
            || format!("Incident reported by {}", report.organisation.name),
            str::to_owned,
        );
        let id = report
            .incident
            .clone()
            .unwrap_or_else(|| format!("incident--{}", uuid::Uuid::new_v4()));
        // A new version keeps the incident's `created`: the node reads it for itself (nothing is
        // shown), whatever the policy would let its operator see.
        let created = created_of(node, &id)?.unwrap_or_else(|| now.clone());
        report.to_incident(&id, &name, &created, &now)
    };
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| at(&"the incident has no id"))?;
    let checked = accord_stix::object::check_value(object).map_err(|e| at(&e))?;
    let origin = Origin {
        principal: accord_policy::sharing::NODE_PRINCIPAL,
        status: None,
        partner: None,
    };
    let outcomes = crate::ingest::commit(node, origin, &collection(node)?, &mut [checked])?;
    if let Some(accord_store::PutOutcome::Conflict { existing }) = outcomes.first() {
        return Err(NodeError::Invalid(format!(
            "{id}: this version is stored with different content ({existing}); give the report a new modified time"
        )));
    }
    Ok(id)
}

/// The `created` of an incident already stored, if it is.
fn created_of(node: &Node, id: &str) -> Result<Option<String>> {
    let mut q = Query::new(&collection(node)?);
    q.ids = vec![id.to_owned()];
    // Every version carries the incident's `created`; the latest is as good as any.
    q.versions = VersionFilter::last();
    q.limit = 1;
    let mut created = None;
    node.scan(q, &mut |objects| {
        for o in objects {
            created = parse(&o.id, &o.json)?
                .get("created")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        Ok(())
    })?;
    Ok(created)
}

fn submissions(node: &Node, incident: &str) -> Result<Vec<Submission>> {
    Ok(
        accord_store::SubmissionStore::submissions(node.store(), incident)?
            .into_iter()
            .map(|s| Submission {
                regime: s.regime,
                stage: s.stage,
                at: accord_stix::Timestamp::format_micros(s.at),
                by: s.by,
                reference: s.reference,
            })
            .collect(),
    )
}

fn now(node: &Node) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond(node.clock().now_micros())
        .map_err(|e| NodeError::Internal(format!("the clock is out of range: {e}")))
}

/// An incident's report (read through the gate) and its timeline now.
pub fn timeline(node: &Node, pack: &Pack, id: &str) -> Result<(Map<String, Value>, Timeline)> {
    let object = incident(node, id)?;
    let timeline = timeline_of(node, pack, &object)?;
    Ok((object, timeline))
}

/// The timeline now of an incident already read.
fn timeline_of(node: &Node, pack: &Pack, object: &Map<String, Value>) -> Result<Timeline> {
    let report = Report::from_incident(object)?;
    let id = report.incident.clone().unwrap_or_default();
    Ok(accord_obligations::evaluate(
        pack,
        &report,
        &submissions(node, &id)?,
        now(node)?,
    )?)
}

/// A stage to record as submitted.
#[derive(Debug, Clone)]
pub struct NewSubmission<'a> {
    pub regime: &'a str,
    pub stage: &'a str,
    /// RFC 3339; default now.
    pub at: Option<&'a str>,
    pub by: &'a str,
    pub reference: &'a str,
}

/// Records a stage as submitted: checked against the incident's timeline, logged, then stored.
/// Returns the obligation as it stands after.
pub fn submit(
    node: &Node,
    pack: &Pack,
    id: &str,
    new: &NewSubmission<'_>,
) -> Result<accord_obligations::Obligation> {
    let NewSubmission {
        regime,
        stage,
        at,
        by,
        reference,
    } = *new;
    let (_, before) = timeline(node, pack, id)?;
    let applies = before
        .obligations()
        .iter()
        .any(|o| o.regime == regime && o.stage == stage);
    if !applies {
        let known: Vec<String> = before
            .obligations()
            .iter()
            .map(|o| format!("{}/{}", o.regime, o.stage))
            .collect();
        return Err(NodeError::Invalid(format!(
            "{id} has no obligation {regime}/{stage}; its obligations: {}",
            known.join(", ")
        )));
    }
    let recorded_at = node.clock().now_micros();
    let at = match at {
        Some(t) => accord_stix::Timestamp::parse(t)
            .map_err(|e| NodeError::Invalid(format!("--at {t:?}: {e}")))?
            .as_micros(),
        None => recorded_at,
    };
    let record = SubmissionRecord {
        incident: id.to_owned(),
        regime: regime.to_owned(),
        stage: stage.to_owned(),
        at,
        by: by.to_owned(),
        reference: reference.to_owned(),
        recorded_at,
    };
    // INVARIANT: logged first: the log never lacks a submission the store has.
    node.log(vec![accord_ledger::Event::Submission(
        accord_ledger::entry::Submission {
            at: accord_stix::Timestamp::format_micros(at),
            by: by.to_owned(),
            incident: id.to_owned(),
            reference: reference.to_owned(),
            regime: regime.to_owned(),
            stage: stage.to_owned(),
        },
    )])?;
    accord_store::SubmissionStore::add_submission(node.store(), &record)?;
    let (_, after) = timeline(node, pack, id)?;
    after
        .obligations()
        .into_iter()
        .find(|o| o.regime == regime && o.stage == stage)
        .cloned()
        .ok_or_else(|| NodeError::Internal(format!("{id}: {regime}/{stage} vanished after it was recorded")))
}

/// An incident with what is still open, for a list.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    pub incident: String,
    pub name: String,
    pub open: usize,
    pub overdue: usize,
    pub due_soon: usize,
    /// The earliest deadline still ahead.
    pub next: Option<NextDeadline>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NextDeadline {
    pub regime: String,
    pub stage: String,
    pub deadline: String,
}

/// The name an incident is shown by.
pub fn name_of(o: &Map<String, Value>) -> String {
    o.get("name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned()
}

fn is_done(t: &Tracking) -> bool {
    matches!(
        t,
        Tracking::Met { .. } | Tracking::Late { .. } | Tracking::Submitted { .. }
    )
}

/// Every incident with its open obligations counted.
pub fn list(node: &Node, pack: &Pack) -> Result<Vec<IncidentRow>> {
    let mut rows = Vec::new();
    for object in incidents(node)? {
        let t = timeline_of(node, pack, &object)?;
        let open: Vec<_> = t
            .obligations()
            .into_iter()
            .filter(|o| !is_done(&o.tracking))
            .collect();
        let count = |f: fn(&Tracking) -> bool| open.iter().filter(|o| f(&o.tracking)).count();
        rows.push(IncidentRow {
            incident: object
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            name: name_of(&object),
            overdue: count(|t| matches!(t, Tracking::Overdue)),
            due_soon: count(|t| matches!(t, Tracking::DueSoon)),
            open: open.len(),
            next: open
                .iter()
                .filter(|o| !matches!(o.tracking, Tracking::Overdue))
                .find_map(|o| {
                    Some(NextDeadline {
                        regime: o.regime.clone(),
                        stage: o.stage.clone(),
                        deadline: o.deadline_utc.clone()?,
                    })
                }),
        });
    }
    Ok(rows)
}

/// Per regime stage, across every stored incident: mean time to notify, submitted, overdue. The
/// node computes these for its metrics from the incidents themselves; no content leaves, so this
/// read is not a disclosure and is not logged.
pub fn stats(node: &Node, pack: &Pack) -> Result<Vec<ObligationStats>> {
    let mut by: std::collections::BTreeMap<(String, String), (f64, i64, i64)> = Default::default();
    let mut q = Query::new(&collection(node)?);
    q.types = vec!["incident".into()];
    q.versions = VersionFilter::last();
    q.limit = PAGE;
    node.scan(q, &mut |objects| {
        for o in objects.iter().filter(|o| is_report(&o.json)) {
            for ob in timeline_of(node, pack, &parse(&o.id, &o.json)?)?.obligations() {
                let slot = by.entry((ob.regime.clone(), ob.stage.clone())).or_default();
                match &ob.tracking {
                    Tracking::Met { at } | Tracking::Late { at } => {
                        let started = ob
                            .clock_at
                            .as_deref()
                            .and_then(|c| c.parse::<jiff::Timestamp>().ok());
                        if let (Some(start), Ok(done)) = (started, at.parse::<jiff::Timestamp>()) {
                            slot.0 += done.duration_since(start).as_secs_f64();
                            slot.1 += 1;
                        }
                    }
                    Tracking::Overdue => slot.2 += 1,
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    Ok(by
        .into_iter()
        .map(|((regime, stage), (sum, n, overdue))| ObligationStats {
            regime,
            stage,
            mean_time_to_notify: (n > 0).then(|| sum / n as f64),
            submitted: n,
            overdue,
        })
        .collect())
}

/// A timeline as a person reads it: each regime that applies or cannot be determined yet, with
/// its obligations, deadlines (local and UTC), state and citation.
pub fn render(t: &Timeline, name: &str, id: &str) -> String {
    use accord_obligations::Applicability;
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{name} ({id})");
    for r in &t.regimes {
        let status = match r.status {
            accord_obligations::Status::InForce => String::new(),
            s => format!(
                " [{}]",
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        };
        match &r.applicability {
            Applicability::NotApplicable => continue,
            Applicability::CannotDetermine { needs } => {
                let _ = writeln!(
                    out,
                    "\n{}{status}: cannot determine: needs {}",
                    r.name,
                    needs.join(", ")
                );
            }
            Applicability::Applies => {
                let _ = writeln!(out, "\n{}{status}: applies ({})", r.name, r.citation);
            }
        }
        for reason in &r.reasons {
            let _ = writeln!(out, "  · {reason}");
        }
        for o in &r.obligations {
            let _ = writeln!(out, "  - {} [{}]  {}", o.name, o.stage, tracking(&o.tracking));
            if let (Some(utc), Some(local)) = (&o.deadline_utc, &o.deadline_local) {
                let _ = writeln!(
                    out,
                    "    deadline {local}  ({utc}){}",
                    if o.projected { ", projected" } else { "" }
                );
            }
            if !o.rule.is_empty() {
                let _ = writeln!(out, "    rule: {}", o.rule);
            }
            if let Some(a) = &o.adjusted {
                let _ = writeln!(out, "    {a}");
            }
            let _ = writeln!(out, "    {}", o.summary);
            let _ = writeln!(out, "    {}", o.citation);
        }
    }
    if !t.missing.is_empty() {
        let _ = writeln!(out, "\nfacts that would change an outcome if supplied:");
        for m in &t.missing {
            let _ = writeln!(out, "  {:<44} decides {}", m.field, m.decides.join(", "));
        }
    }
    let not_applicable: Vec<&str> = t
        .regimes
        .iter()
        .filter(|r| r.applicability == Applicability::NotApplicable)
        .map(|r| r.id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "\nnot applicable: {} (`show --json` gives the reasons)",
        not_applicable.join(", ")
    );
    out
}

/// The commented blank incident report for the pack in force.
pub fn template(pack: &Pack) -> String {
    accord_obligations::template::template(pack)
}

/// An obligation's state in words.
pub fn tracking(t: &Tracking) -> String {
    match t {
        Tracking::Waiting { on } => format!("waiting for {on}"),
        Tracking::NoFixedDeadline => "no fixed deadline".into(),
        Tracking::Pending => "pending".into(),
        Tracking::DueSoon => "DUE SOON".into(),
        Tracking::Overdue => "OVERDUE".into(),
        Tracking::Met { at } => format!("met: submitted {at}"),
        Tracking::Late { at } => format!("LATE: submitted {at}"),
        Tracking::Submitted { at } => format!("submitted {at}"),
        Tracking::CannotDetermine { needs } => format!("cannot determine: needs {}", needs.join(", ")),
    }
}
