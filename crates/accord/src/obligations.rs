//! `accord obligations`: incident reports stored as STIX `incident` objects with the Accord
//! incident-report extension, the timeline of reporting obligations each triggers, and the
//! record of what was submitted (in the store, and in the transparency log).

use std::path::Path;

use accord_obligations::{Pack, Report, Submission, Timeline};
use accord_store::{Query, Store, SubmissionRecord, SubmissionStore, VersionFilter};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use crate::node::Node;

/// The shipped regimes and calendars plus the operator's files from `[obligations]`.
pub fn pack(node: &Node) -> Result<Pack> {
    let mut pack = Pack::shipped()?;
    let read = |files: &[std::path::PathBuf]| -> Result<Vec<(String, String)>> {
        files
            .iter()
            .map(|f| {
                let path = node.dir.join(f);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok((path.display().to_string(), text))
            })
            .collect()
    };
    let rules = read(&node.config.obligations.rule_files)?;
    let calendars = read(&node.config.obligations.calendar_files)?;
    let r: Vec<(&str, &str)> = rules.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let c: Vec<(&str, &str)> = calendars.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    pack.add(&r, &c)?;
    Ok(pack)
}

fn collection(node: &Node) -> Result<String> {
    node.collection_id(node.config.obligations.collection.as_deref())
}

/// The latest version of every incident carrying an incident report, in the reports collection.
pub fn incidents(node: &Node) -> Result<Vec<Map<String, Value>>> {
    let mut q = Query::new(&collection(node)?);
    q.types = vec!["incident".into()];
    q.versions = VersionFilter::last();
    q.limit = 10_000;
    let mut out = Vec::new();
    loop {
        let page = node.store.query(&q)?;
        for o in &page.objects {
            if o.json.contains(accord_obligations::INCIDENT_EXTENSION_ID) {
                out.push(serde_json::from_str(&o.json)?);
            }
        }
        if !page.more {
            return Ok(out);
        }
        q.added_after = page.last_added();
    }
}

fn incident(node: &Node, id: &str) -> Result<Map<String, Value>> {
    let mut q = Query::new(&collection(node)?);
    q.ids = vec![id.to_owned()];
    q.versions = VersionFilter::last();
    q.limit = 1;
    let found = node.store.query(&q)?.objects;
    let o = found
        .first()
        .ok_or_else(|| anyhow!("no incident {id} in collection {}", q.collection))?;
    Ok(serde_json::from_str(&o.json)?)
}

fn now_stix() -> String {
    accord_stix::Timestamp::format_micros(accord_audit::now_micros())
}

/// Stores an incident report read from `path`: a STIX `incident` with the extension (a new
/// version of it if it exists), or a bare report (a new incident named `name`). Gives its id.
pub fn report(node: &Node, path: &Path, name: Option<&str>) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let now = now_stix();
    let object = if value.get("type").and_then(Value::as_str) == Some("incident") {
        let map = value.as_object().cloned().unwrap_or_default();
        Report::from_incident(&map).with_context(|| path.display().to_string())?;
        value
    } else {
        let report: Report = serde_json::from_value(value)
            .with_context(|| format!("{}: not an incident report", path.display()))?;
        let name = name.map_or_else(
            || format!("Incident reported by {}", report.organisation.name),
            str::to_owned,
        );
        let id = report
            .incident
            .clone()
            .unwrap_or_else(|| format!("incident--{}", uuid::Uuid::new_v4()));
        let created = incident(node, &id)
            .ok()
            .and_then(|o| o.get("created").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| now.clone());
        report.to_incident(&id, &name, &created, &now)
    };
    let id = value_id(&object)?;
    let checked = accord_stix::object::check_value(object).map_err(|e| anyhow!("{e}"))?;
    let coll = collection(node)?;
    let outcomes = node.store.put_batch(&coll, std::slice::from_ref(&checked))?;
    if let Some(accord_store::PutOutcome::Conflict { existing }) = outcomes.first() {
        bail!(
            "{id}: this version is stored with different content ({existing}); give the report a new modified time"
        );
    }
    node.audit_log()?.record_now(vec![crate::ingest::ingest_event(
        &coll,
        std::slice::from_ref(&checked),
        &outcomes,
    )])?;
    Ok(id)
}

fn value_id(v: &Value) -> Result<String> {
    v.get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the incident has no id"))
}

fn submissions(node: &Node, incident: &str) -> Result<Vec<Submission>> {
    Ok(node
        .store
        .submissions(incident)?
        .into_iter()
        .map(|s| Submission {
            regime: s.regime,
            stage: s.stage,
            at: accord_stix::Timestamp::format_micros(s.at),
            by: s.by,
            reference: s.reference,
        })
        .collect())
}

/// An incident's report and its timeline now.
pub fn timeline(node: &Node, pack: &Pack, id: &str) -> Result<(Map<String, Value>, Timeline)> {
    let object = incident(node, id)?;
    let timeline = timeline_of(node, pack, &object)?;
    Ok((object, timeline))
}

/// The timeline now of an incident already read from the store.
pub fn timeline_of(node: &Node, pack: &Pack, object: &Map<String, Value>) -> Result<Timeline> {
    let report = Report::from_incident(object)?;
    let id = report.incident.clone().unwrap_or_default();
    let now = jiff::Timestamp::now();
    Ok(accord_obligations::evaluate(
        pack,
        &report,
        &submissions(node, &id)?,
        now,
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

/// Records a stage as submitted: checked against the incident's timeline, stored, and logged.
pub fn submit(node: &Node, pack: &Pack, id: &str, new: &NewSubmission<'_>) -> Result<Timeline> {
    let NewSubmission {
        regime,
        stage,
        at,
        by,
        reference,
    } = *new;
    let (_, timeline) = timeline(node, pack, id)?;
    let applies = timeline
        .obligations()
        .iter()
        .any(|o| o.regime == regime && o.stage == stage);
    if !applies {
        let known: Vec<String> = timeline
            .obligations()
            .iter()
            .map(|o| format!("{}/{}", o.regime, o.stage))
            .collect();
        bail!(
            "{id} has no obligation {regime}/{stage}; its obligations: {}",
            known.join(", ")
        );
    }
    let at = match at {
        Some(t) => accord_stix::Timestamp::parse(t)
            .map_err(|e| anyhow!("--at {t:?}: {e}"))?
            .as_micros(),
        None => accord_audit::now_micros(),
    };
    let record = SubmissionRecord {
        incident: id.to_owned(),
        regime: regime.to_owned(),
        stage: stage.to_owned(),
        at,
        by: by.to_owned(),
        reference: reference.to_owned(),
        recorded_at: accord_audit::now_micros(),
    };
    // Logged first: the log never lacks a submission the store has.
    node.audit_log()?
        .record_now(vec![accord_ledger::Event::Submission(
            accord_ledger::entry::Submission {
                at: accord_stix::Timestamp::format_micros(at),
                by: by.to_owned(),
                incident: id.to_owned(),
                reference: reference.to_owned(),
                regime: regime.to_owned(),
                stage: stage.to_owned(),
            },
        )])?;
    node.store.add_submission(&record)?;
    Ok(self::timeline(node, pack, id)?.1)
}

/// Per regime stage, across every stored incident: mean time to notify, submitted, overdue.
pub fn stats(node: &Node, pack: &Pack) -> Result<Vec<accord_taxii::metrics::ObligationStats>> {
    use accord_obligations::Tracking;
    let mut by: std::collections::BTreeMap<(String, String), (f64, i64, i64)> = Default::default();
    for object in incidents(node)? {
        for o in timeline_of(node, pack, &object)?.obligations() {
            let slot = by.entry((o.regime.clone(), o.stage.clone())).or_default();
            match &o.tracking {
                Tracking::Met { at } | Tracking::Late { at } => {
                    let started = o
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
    Ok(by
        .into_iter()
        .map(
            |((regime, stage), (sum, n, overdue))| accord_taxii::metrics::ObligationStats {
                regime,
                stage,
                mean_time_to_notify: (n > 0).then(|| sum / n as f64),
                submitted: n,
                overdue,
            },
        )
        .collect())
}
