//! `accord match`: compiles STIX indicators into the pattern index, streams events (observed-data,
//! bundles, or JSON lines of SCO-shaped events with a `timestamp`) through it, and turns the
//! matches into STIX sightings of each indicator by this organisation.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use accord_pattern::{Hit, Index, IndexBuilder, Matcher, Observed, Stream};
use accord_stix::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{NodeError, Result};
use crate::gate::Channel;
use crate::node::Node;

/// Observed-data ids kept per sighting (the count covers every match).
pub const REFS_PER_SIGHTING: usize = 100;

/// Indicators compiled for matching, and those that could not be.
#[derive(Debug, Default)]
pub struct Loaded {
    pub index: Index,
    /// Per indicator in the index: its name and validity window (nanoseconds).
    pub meta: Vec<Meta>,
    /// Indicators left out, with the reason (id and what is wrong).
    pub rejected: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Meta {
    pub name: Option<String>,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
}

/// The fields of an indicator that matching needs, borrowed from its JSON where possible.
#[derive(Debug, serde::Deserialize)]
struct Fields<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default, borrow)]
    pattern_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    pattern: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    valid_from: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    valid_until: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    extensions: Option<Extensions<'a>>,
}

/// The one extension matching looks at: who signed the indicator (its originator).
#[derive(Debug, serde::Deserialize)]
struct Extensions<'a> {
    // accord_provenance::EXTENSION_ID (attributes take literals; a test checks they agree).
    #[serde(
        rename = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10",
        default,
        borrow
    )]
    provenance: Option<Provenance<'a>>,
}

#[derive(Debug, serde::Deserialize)]
struct Provenance<'a> {
    #[serde(borrow)]
    signer: std::borrow::Cow<'a, str>,
}

/// Compiles indicators one at a time into the index.
#[derive(Debug, Default)]
pub struct Loader {
    builder: IndexBuilder,
    meta: Vec<Meta>,
    rejected: Vec<String>,
    /// Only indicators from originators graded this or better, if set.
    only_from: Option<(crate::federation::Sources, char)>,
}

impl Loader {
    /// A loader that leaves out indicators whose originator is graded below `min` (Admiralty
    /// source reliability), with the reason.
    pub fn only_from(sources: crate::federation::Sources, min: char) -> Loader {
        Loader {
            only_from: Some((sources, min)),
            ..Loader::default()
        }
    }

    /// Adds the object if it is an indicator (others are ignored). Revoked indicators and
    /// patterns in other languages are left out, with a reason.
    pub fn add_json(&mut self, json: &str) -> Result<()> {
        let fields: Fields =
            serde_json::from_str(json).map_err(|e| NodeError::Invalid(format!("indicator: {e}")))?;
        self.add(fields);
        Ok(())
    }

    pub fn add_value(&mut self, v: &Value) -> Result<()> {
        let fields = Fields::deserialize(v).map_err(|e| NodeError::Invalid(format!("indicator: {e}")))?;
        self.add(fields);
        Ok(())
    }

    fn add(&mut self, o: Fields<'_>) {
        if o.ty != "indicator" {
            return;
        }
        let id = o.id.as_deref().unwrap_or("(indicator without id)");
        if o.revoked {
            self.rejected.push(format!("{id}: revoked"));
            return;
        }
        if let Some((sources, min)) = &self.only_from {
            let signer = o
                .extensions
                .as_ref()
                .and_then(|e| e.provenance.as_ref())
                .map(|p| p.signer.as_ref());
            let originator = sources.originator(signer);
            if !sources.at_least(originator, *min) {
                self.rejected.push(format!(
                    "{id}: from {originator}, source reliability {} (below {min})",
                    sources.grade(originator)
                ));
                return;
            }
        }
        if o.pattern_type.as_deref() != Some("stix") {
            self.rejected.push(format!(
                "{id}: pattern_type {} is not stix",
                o.pattern_type
                    .map_or_else(|| "(missing)".to_owned(), |t| format!("{t:?}"))
            ));
            return;
        }
        let Some(pattern) = o.pattern.as_deref() else {
            self.rejected.push(format!("{id}: no pattern"));
            return;
        };
        let matcher = match accord_pattern::parse(pattern).and_then(|p| Matcher::new(&p)) {
            Ok(m) => m,
            Err(e) => {
                self.rejected.push(format!("{id}: pattern {e}"));
                return;
            }
        };
        let time = |t: &Option<std::borrow::Cow<str>>| {
            t.as_deref()
                .and_then(|s| Timestamp::parse(s).ok())
                .map(|t| t.as_nanos_saturating())
        };
        self.meta.push(Meta {
            name: o.name.map(std::borrow::Cow::into_owned),
            valid_from: time(&o.valid_from).unwrap_or(i64::MIN),
            valid_until: time(&o.valid_until),
        });
        self.builder.add(id.to_owned(), matcher);
    }

    pub fn finish(self) -> Result<Loaded> {
        Ok(Loaded {
            index: self.builder.build().map_err(NodeError::Invalid)?,
            meta: self.meta,
            rejected: self.rejected,
        })
    }
}

/// Turns one line of the event stream into observations.
pub fn observations(v: Value, line: usize) -> Result<Vec<Observed>> {
    match v.get("type").and_then(Value::as_str) {
        Some("bundle" | "observed-data") => Observed::from_stix(std::slice::from_ref(&v))
            .map_err(|e| NodeError::Invalid(format!("line {line}: {e}"))),
        _ => {
            let Value::Object(mut map) = v else {
                return Err(NodeError::Invalid(format!(
                    "line {line}: an event must be a JSON object"
                )));
            };
            let at = match map.remove("timestamp") {
                Some(Value::String(s)) => Timestamp::parse(&s)
                    .map_err(|e| NodeError::Invalid(format!("line {line}: timestamp: {e}")))?
                    .as_nanos_saturating(),
                Some(_) => {
                    return Err(NodeError::Invalid(format!(
                        "line {line}: timestamp must be a string"
                    )));
                }
                None => {
                    return Err(NodeError::Invalid(format!(
                        "line {line}: the event has no timestamp"
                    )));
                }
            };
            if let Some(Value::Object(objects)) = map.remove("objects") {
                // Several related objects, referring to each other by key.
                let mut objects: Vec<(String, Value)> = objects.into_iter().collect();
                let Some(first) = objects.pop() else {
                    return Err(NodeError::Invalid(format!("line {line}: objects is empty")));
                };
                let mut o = Observed::event(at, first.1, objects);
                o.objects[0].0 = first.0;
                return Ok(vec![o]);
            }
            if !map.contains_key("type") {
                return Err(NodeError::Invalid(format!("line {line}: the event has no type")));
            }
            Ok(vec![Observed::event(at, Value::Object(map), Vec::new())])
        }
    }
}

/// Reads the event stream: JSON lines, or one JSON document (a bundle) when the input is not
/// line-delimited. Calls `each` with the observations of every line, or the line's problem.
pub fn read_events(
    input: &mut dyn BufRead,
    each: &mut dyn FnMut(Result<Vec<Observed>>, u64) -> Result<()>,
) -> Result<()> {
    let mut line = String::new();
    let mut n = 0usize;
    let mut whole: Option<String> = None;
    loop {
        line.clear();
        let read = input.read_line(&mut line).map_err(NodeError::io("events"))?;
        if read == 0 {
            break;
        }
        n += 1;
        if let Some(doc) = whole.as_mut() {
            doc.push_str(&line);
            continue;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(v) => each(observations(v, n), read as u64)?,
            // A pretty-printed document: read the rest and parse it whole.
            Err(_) if n == 1 && (text.starts_with('{') || text.starts_with('[')) => {
                whole = Some(line.clone());
            }
            Err(e) => each(
                Err(NodeError::Invalid(format!("line {n}: not JSON: {e}"))),
                read as u64,
            )?,
        }
    }
    if let Some(doc) = whole {
        let v: Value =
            serde_json::from_str(&doc).map_err(|e| NodeError::Invalid(format!("events: not JSON: {e}")))?;
        let items = match v {
            Value::Array(items) => items,
            v => vec![v],
        };
        let obs = Observed::from_stix(&items).map_err(|e| NodeError::Invalid(format!("events: {e}")));
        each(obs, doc.len() as u64)?;
    }
    Ok(())
}

/// Matches observations and gathers sightings per indicator.
#[derive(Debug)]
pub struct Matching<'a> {
    loaded: &'a Loaded,
    stream: Stream<'a>,
    hits: Vec<Hit>,
    pub sightings: HashMap<u32, Sighting>,
    /// Matches outside the indicator's validity window (not sightings).
    pub outside_validity: u64,
}

/// What one indicator was sighted in.
#[derive(Debug, Default)]
pub struct Sighting {
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Up to [`REFS_PER_SIGHTING`] observations, in order.
    pub observed: Vec<Arc<Observed>>,
}

impl<'a> Matching<'a> {
    pub fn new(loaded: &'a Loaded) -> Self {
        Matching {
            loaded,
            stream: Stream::new(&loaded.index),
            hits: Vec::new(),
            sightings: HashMap::new(),
            outside_validity: 0,
        }
    }

    pub fn stats(&self) -> accord_pattern::StreamStats {
        self.stream.stats
    }

    pub fn push(&mut self, obs: Observed) {
        self.stream.push(obs, &mut self.hits);
        for hit in self.hits.drain(..) {
            let first = hit.observations.iter().map(|o| o.first).min().unwrap_or(0);
            let last = hit.observations.iter().map(|o| o.last).max().unwrap_or(0);
            let Some(m) = self.loaded.meta.get(hit.indicator as usize) else {
                continue;
            };
            if last < m.valid_from || m.valid_until.is_some_and(|u| first >= u) {
                self.outside_validity += 1;
                continue;
            }
            let s = self.sightings.entry(hit.indicator).or_insert_with(|| Sighting {
                first_seen: first,
                last_seen: last,
                ..Sighting::default()
            });
            s.count += 1;
            s.first_seen = s.first_seen.min(first);
            s.last_seen = s.last_seen.max(last);
            for o in hit.observations {
                if s.observed.len() < REFS_PER_SIGHTING && !s.observed.iter().any(|x| Arc::ptr_eq(x, &o)) {
                    s.observed.push(o);
                }
            }
        }
    }

    /// The sightings as STIX 2.1 objects: one `sighting` per indicator, plus an `observed-data`
    /// (with its SCOs) for each matched event that did not come as observed-data.
    pub fn to_stix(&self, sighted_by: &str, now: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut made: HashMap<*const Observed, String> = HashMap::new();
        let mut keys: Vec<&u32> = self.sightings.keys().collect();
        keys.sort();
        for k in keys {
            let s = &self.sightings[k];
            let Some(entry) = self.loaded.index.entry(*k) else {
                continue;
            };
            let mut refs = Vec::new();
            for o in &s.observed {
                let id = match &o.id {
                    Some(id) => id.clone(),
                    None => made
                        .entry(Arc::as_ptr(o))
                        .or_insert_with(|| {
                            let (od, scos) = observed_data(o, now);
                            let id = od["id"].as_str().unwrap_or_default().to_owned();
                            out.extend(scos);
                            out.push(od);
                            id
                        })
                        .clone(),
                };
                refs.push(Value::from(id));
            }
            out.push(json!({
                "type": "sighting",
                "spec_version": "2.1",
                "id": format!("sighting--{}", uuid::Uuid::new_v4()),
                "created": now,
                "modified": now,
                "created_by_ref": sighted_by,
                "sighting_of_ref": entry.id,
                "count": s.count.min(999_999_999),
                "first_seen": Timestamp::format_micros(s.first_seen / 1000),
                "last_seen": Timestamp::format_micros(s.last_seen / 1000),
                "observed_data_refs": refs,
                "where_sighted_refs": [sighted_by],
            }));
        }
        out
    }
}

/// An observed-data for an event, with its objects as SCOs: references rewritten to ids, and
/// the STIX 2.1 deterministic id where the type has one.
fn observed_data(o: &Observed, now: &str) -> (Value, Vec<Value>) {
    let mut ids: HashMap<&str, String> = o
        .objects
        .iter()
        .filter_map(|(k, obj)| Some((k.as_str(), obj.get("id")?.as_str()?.to_owned())))
        .collect();
    // Objects whose references all have ids get theirs next (a reference can contribute).
    for _ in 0..=o.objects.len() {
        let mut progress = false;
        for (key, obj) in &o.objects {
            if ids.contains_key(key.as_str()) {
                continue;
            }
            let (with_ids, complete) = rewrite_refs(obj, &ids);
            if !complete {
                continue;
            }
            ids.insert(key.as_str(), sco_id(&with_ids));
            progress = true;
        }
        if !progress {
            break;
        }
    }
    // Whatever is left refers in a cycle or to nothing resolvable: random ids.
    for (key, obj) in &o.objects {
        if !ids.contains_key(key.as_str()) {
            let ty = obj.get("type").and_then(Value::as_str).unwrap_or("x-unknown");
            ids.insert(key.as_str(), format!("{ty}--{}", uuid::Uuid::new_v4()));
        }
    }
    let scos: Vec<Value> = o
        .objects
        .iter()
        .map(|(key, obj)| {
            let (mut obj, _) = rewrite_refs(obj, &ids);
            if let Value::Object(m) = &mut obj {
                m.insert("id".into(), Value::from(ids[key.as_str()].clone()));
                m.entry("spec_version").or_insert_with(|| Value::from("2.1"));
            }
            obj
        })
        .collect();
    let od = json!({
        "type": "observed-data",
        "spec_version": "2.1",
        "id": format!("observed-data--{}", uuid::Uuid::new_v4()),
        "created": now,
        "modified": now,
        "first_observed": Timestamp::format_micros(o.first / 1000),
        "last_observed": Timestamp::format_micros(o.last / 1000),
        "number_observed": o.count,
        "object_refs": o.objects.iter().map(|(k, _)| ids[k.as_str()].clone()).collect::<Vec<_>>(),
    });
    (od, scos)
}

/// `obj` with its `_ref`/`_refs` keys replaced by ids, and whether every one had an id.
fn rewrite_refs(obj: &Value, ids: &HashMap<&str, String>) -> (Value, bool) {
    let mut obj = obj.clone();
    let mut complete = true;
    if let Value::Object(m) = &mut obj {
        for (k, v) in m.iter_mut() {
            let refs: Vec<&mut Value> = if k.ends_with("_ref") {
                vec![v]
            } else if k.ends_with("_refs")
                && let Value::Array(list) = v
            {
                list.iter_mut().collect()
            } else {
                continue;
            };
            for r in refs {
                match r.as_str().and_then(|key| ids.get(key)) {
                    Some(id) => *r = Value::from(id.clone()),
                    None => complete = false,
                }
            }
        }
    }
    (obj, complete)
}

fn sco_id(obj: &Value) -> String {
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("x-unknown");
    obj.as_object()
        .zip(accord_stix::spec::type_spec(ty))
        .and_then(|(m, spec)| accord_stix::id::deterministic_sco_id(ty, m, spec.id_contributing))
        .unwrap_or_else(|| format!("{ty}--{}", uuid::Uuid::new_v4()))
}

/// Reads the valid indicators of files (bundles, arrays, JSON lines, directories), checking each
/// as `accord validate` does, and hands the canonical JSON of each to `each`, in input order.
/// Returns what is invalid, and where.
pub fn read_files(
    paths: &[std::path::PathBuf],
    each: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<Vec<String>> {
    crate::ingest::sources::read_valid(paths, &mut |type_name, json| {
        if type_name == "indicator" {
            each(json)
        } else {
            Ok(())
        }
    })
}

/// The latest versions of `types` (every type if empty) in a collection of this node, as its own
/// organisation may read them through `channel`: decided by the policy and logged like any read.
pub fn read_collection(
    node: &Node,
    collection: &str,
    types: Vec<String>,
    channel: Channel,
) -> Result<Vec<Value>> {
    let mut q = accord_store::Query::new(&node.collection_id(Some(collection))?);
    q.types = types;
    q.limit = 5000;
    let reader = node.reader(
        accord_policy::sharing::NODE_PRINCIPAL,
        accord_policy::Action::Export,
        channel,
        None,
    );
    let mut out = Vec::new();
    reader.for_each(q, &mut |objects| {
        for o in objects {
            out.push(
                serde_json::from_str(&o.json)
                    .map_err(|e| NodeError::Corrupt(format!("stored {}: {e}", o.id)))?,
            );
        }
        Ok(())
    })?;
    Ok(out)
}

/// The identity sightings are attributed to: the node organisation's configured identity, or
/// one derived from its id (returned as an object to include, since nothing else defines it).
pub fn node_identity(node: &Node, now: &str) -> (String, Option<Value>) {
    let config = node.config();
    let org_id = &config.node.organisation;
    let org = config.organisations.iter().find(|o| &o.id == org_id);
    if let Some(id) = org.and_then(|o| o.identity.clone()) {
        return (id, None);
    }
    let id = format!(
        "identity--{}",
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("accord:organisation:{org_id}").as_bytes()
        )
    );
    let identity = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": id,
        "created": now,
        "modified": now,
        "name": org.map_or(org_id.as_str(), |o| o.name.as_str()),
        "identity_class": "organization",
    });
    (id, Some(identity))
}

/// What `accord match` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct MatchRequest {
    /// Indicator files (or `-`), or ids or aliases of this node's collections.
    pub indicators: Vec<String>,
    /// The identity that sighted them (default: this node's organisation).
    pub sighted_by: Option<String>,
    /// A collection to store the sightings in, through the ingest path.
    pub ingest: Option<String>,
    /// Only indicators whose originator is graded this or better.
    pub min_reliability: Option<char>,
    /// Whether the sightings are wanted as a STIX bundle.
    pub stix: bool,
    /// When the sightings are made (microseconds since the Unix epoch).
    pub now: i64,
}

/// Where a match run is, for whoever watches it.
pub trait MatchProgress {
    /// The indicators are compiled.
    fn compiled(&self, indicators: usize, left_out: &[String], seconds: f64);
    /// Bytes of events read so far, and the indicators sighted so far.
    fn read(&self, bytes: u64, sighted: usize);
    /// An event line that could not be read (the run goes on).
    fn skipped(&self, problem: &NodeError);
}

/// One sighted indicator, for a list.
#[derive(Debug, Clone, Serialize)]
pub struct SightedRow {
    pub indicator: String,
    pub name: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// What a match run found.
#[derive(Debug, Default)]
pub struct MatchReport {
    pub compiled: usize,
    pub left_out: Vec<String>,
    pub stats: accord_pattern::StreamStats,
    pub seconds: f64,
    pub outside_validity: u64,
    /// Event lines that could not be read.
    pub skipped: u64,
    /// Sighted indicators, most sighted first.
    pub rows: Vec<SightedRow>,
    /// The sightings as a STIX bundle, when asked for (or stored).
    pub bundle: Option<Value>,
    /// What storing the sightings did.
    pub stored: Option<crate::ingest::import::ImportSummary>,
}

/// Compiles indicators (from files, or from collections of the node `open` gives, read through
/// the gate), streams `events` through them, and reports the sightings; with `ingest`, stores
/// them (all or nothing). The node is opened only if something needs it.
pub fn run(
    open: &dyn Fn() -> Result<Node>,
    req: &MatchRequest,
    events: &mut dyn BufRead,
    progress: &dyn MatchProgress,
) -> Result<MatchReport> {
    let started = std::time::Instant::now();
    let mut loader = match req.min_reliability {
        Some(min) => Loader::only_from(crate::federation::Sources::for_node(&open()?), min),
        None => Loader::default(),
    };
    let mut left_out = Vec::new();
    let (files, collections): (Vec<&String>, Vec<&String>) = req
        .indicators
        .iter()
        .partition(|s| s.as_str() == "-" || std::path::Path::new(s).exists());
    if !files.is_empty() {
        let paths: Vec<std::path::PathBuf> = files.iter().map(std::path::PathBuf::from).collect();
        left_out.extend(read_files(&paths, &mut |json| loader.add_json(json))?);
    }
    if !collections.is_empty() {
        let node = open()?;
        for c in collections {
            for o in read_collection(&node, c, vec!["indicator".into()], Channel::Match)? {
                loader.add_value(&o)?;
            }
        }
    }
    let loaded = loader.finish()?;
    left_out.extend(loaded.rejected.iter().cloned());
    let load_time = started.elapsed();
    progress.compiled(loaded.index.len(), &left_out, load_time.as_secs_f64());
    let mut matching = Matching::new(&loaded);
    let (mut skipped, mut done, mut lines) = (0u64, 0u64, 0u64);
    read_events(events, &mut |obs, bytes| {
        done += bytes;
        lines += 1;
        match obs {
            Ok(list) => list.into_iter().for_each(|o| matching.push(o)),
            Err(e) => {
                skipped += 1;
                progress.skipped(&e);
            }
        }
        if lines % 4096 == 0 {
            progress.read(done, matching.sightings.len());
        }
        Ok(())
    })?;
    let mut report = MatchReport {
        compiled: loaded.index.len(),
        left_out,
        stats: matching.stats(),
        seconds: started.elapsed().saturating_sub(load_time).as_secs_f64(),
        outside_validity: matching.outside_validity,
        skipped,
        ..MatchReport::default()
    };
    let mut sighted: Vec<_> = matching.sightings.iter().collect();
    sighted.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    report.rows = sighted
        .into_iter()
        .map(|(i, s)| SightedRow {
            indicator: loaded
                .index
                .entry(*i)
                .map_or_else(|| "?".to_owned(), |e| e.id.to_string()),
            name: loaded
                .meta
                .get(*i as usize)
                .and_then(|m| m.name.clone())
                .unwrap_or_default(),
            count: s.count,
            first_seen: Timestamp::format_micros(s.first_seen / 1000),
            last_seen: Timestamp::format_micros(s.last_seen / 1000),
        })
        .collect();
    if req.stix || req.ingest.is_some() {
        let node = || open();
        let now = Timestamp::format_micros(req.now);
        let (by, identity) = match &req.sighted_by {
            Some(id) => (id.clone(), None),
            None => node_identity(&node()?, &now),
        };
        let mut objects: Vec<Value> = identity.into_iter().collect();
        objects.extend(matching.to_stix(&by, &now));
        if let Some(collection) = &req.ingest {
            let node = node()?;
            let opts = crate::ingest::import::ImportOptions {
                collection: node.collection_id(Some(collection))?,
                strict: true,
                max_object_bytes: node.config().limits.max_object_bytes,
                from_partner: None,
            };
            let lines: Vec<String> = objects.iter().map(ToString::to_string).collect();
            report.stored = Some(crate::ingest::import::import_objects(
                &node,
                &lines,
                &opts,
                &crate::ingest::import::Silent,
            )?);
        }
        report.bundle = Some(accord_stix::bundle(objects));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::Sources;

    fn indicator(n: u32, signer: Option<&str>) -> Value {
        let mut o = serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
            "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
        });
        if let Some(s) = signer {
            o["extensions"] = serde_json::json!({ accord_provenance::EXTENSION_ID: { "signer": s } });
        }
        o
    }

    /// Matching can be restricted to reliable sources; the provenance extension is found under
    /// the id the provenance crate defines.
    #[test]
    fn indicators_from_sources_below_the_minimum_are_left_out() {
        let sources = Sources::new("here", [("node-a".to_owned(), 'B'), ("node-d".to_owned(), 'D')]);
        let mut loader = Loader::only_from(sources, 'C');
        for (n, signer) in [
            (1, None),
            (2, Some("node-a")),
            (3, Some("node-d")),
            (4, Some("stranger")),
        ] {
            loader.add_value(&indicator(n, signer)).expect("add");
        }
        let loaded = loader.finish().expect("finish");
        assert_eq!(loaded.index.len(), 2);
        assert_eq!(
            loaded.rejected,
            [
                "indicator--00000000-0000-4000-8000-000000000003: from node-d, source reliability D (below C)",
                "indicator--00000000-0000-4000-8000-000000000004: from stranger, source reliability F (below C)",
            ]
        );
    }
}
