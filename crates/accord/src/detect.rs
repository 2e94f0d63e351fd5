//! `accord match`: compiles STIX indicators into the pattern index, streams events (observed-data,
//! bundles, or JSON lines of SCO-shaped events with a `timestamp`) through it, and turns the
//! matches into STIX sightings of each indicator by this organisation.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use accord_pattern::{Hit, Index, IndexBuilder, Matcher, Observed, Stream};
use accord_stix::Timestamp;
use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};

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
        let fields: Fields = serde_json::from_str(json)?;
        self.add(fields);
        Ok(())
    }

    pub fn add_value(&mut self, v: &Value) -> Result<()> {
        let fields = Fields::deserialize(v)?;
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
            index: self.builder.build().map_err(anyhow::Error::msg)?,
            meta: self.meta,
            rejected: self.rejected,
        })
    }
}

/// Turns one line of the event stream into observations.
pub fn observations(v: Value, line: usize) -> Result<Vec<Observed>> {
    match v.get("type").and_then(Value::as_str) {
        Some("bundle" | "observed-data") => {
            Observed::from_stix(std::slice::from_ref(&v)).map_err(|e| anyhow::anyhow!("line {line}: {e}"))
        }
        _ => {
            let Value::Object(mut map) = v else {
                bail!("line {line}: an event must be a JSON object");
            };
            let at = match map.remove("timestamp") {
                Some(Value::String(s)) => Timestamp::parse(&s)
                    .map_err(|e| anyhow::anyhow!("line {line}: timestamp: {e}"))?
                    .as_nanos_saturating(),
                Some(_) => bail!("line {line}: timestamp must be a string"),
                None => bail!("line {line}: the event has no timestamp"),
            };
            if let Some(Value::Object(objects)) = map.remove("objects") {
                // Several related objects, referring to each other by key.
                let mut objects: Vec<(String, Value)> = objects.into_iter().collect();
                let Some(first) = objects.pop() else {
                    bail!("line {line}: objects is empty");
                };
                let mut o = Observed::event(at, first.1, objects);
                o.objects[0].0 = first.0;
                return Ok(vec![o]);
            }
            if !map.contains_key("type") {
                bail!("line {line}: the event has no type");
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
        let read = input.read_line(&mut line)?;
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
            Err(e) => each(Err(anyhow::anyhow!("line {n}: not JSON: {e}")), read as u64)?,
        }
    }
    if let Some(doc) = whole {
        let v: Value = serde_json::from_str(&doc).map_err(|e| anyhow::anyhow!("events: not JSON: {e}"))?;
        let items = match v {
            Value::Array(items) => items,
            v => vec![v],
        };
        let obs = Observed::from_stix(&items).map_err(|e| anyhow::anyhow!("events: {e}"));
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

/// Reads STIX objects from files (bundles, arrays, JSON lines, directories), checking each as
/// `accord validate` does, and hands the canonical JSON of each valid indicator to `each`, in
/// input order. Returns what is wrong, and where, with the others.
pub fn read_files(
    paths: &[std::path::PathBuf],
    each: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<Vec<String>> {
    read_objects(paths, &mut |type_name, json| {
        if type_name == "indicator" {
            each(json)
        } else {
            Ok(())
        }
    })
}

/// Like [`read_files`], for objects of every type: `each` gets the type and canonical JSON.
pub fn read_objects(
    paths: &[std::path::PathBuf],
    each: &mut dyn FnMut(&str, &str) -> Result<()>,
) -> Result<Vec<String>> {
    struct Collect<'f> {
        each: &'f mut dyn FnMut(&str, &str) -> Result<()>,
        rejected: Vec<String>,
    }
    impl crate::reader::Sink for Collect<'_> {
        fn batch(&mut self, items: Vec<crate::reader::Item>, _: u64) -> Result<()> {
            for item in items {
                match item.result {
                    Ok(o) => (self.each)(&o.type_name, &o.canonical)?,
                    Err(e) => self.rejected.push(format!(
                        "{} object {} (line {}): {e}",
                        item.pos.source,
                        item.pos.index + 1,
                        item.pos.line
                    )),
                }
            }
            Ok(())
        }
        fn document_problem(&mut self, p: crate::reader::DocumentProblem) -> Result<()> {
            if p.fatal {
                bail!("{p}");
            }
            Ok(())
        }
    }
    let sources = crate::reader::expand(paths)?;
    let mut sink = Collect {
        each,
        rejected: Vec::new(),
    };
    crate::reader::check_sources(&sources, accord_stix::DEFAULT_MAX_OBJECT_BYTES, &mut sink)?;
    Ok(sink.rejected)
}

/// The indicators of a collection of this node, as its own organisation may read them (decided
/// by the policy and logged like any export).
pub fn read_collection(node: &crate::node::Node, collection: &str) -> Result<Vec<Value>> {
    read_types(node, collection, vec!["indicator".into()])
}

/// Every object of a collection of this node, read like [`read_collection`].
pub fn read_collection_all(node: &crate::node::Node, collection: &str) -> Result<Vec<Value>> {
    read_types(node, collection, Vec::new())
}

fn read_types(node: &crate::node::Node, collection: &str, types: Vec<String>) -> Result<Vec<Value>> {
    let filter = crate::export::ExportFilter {
        collection: node.collection_id(Some(collection))?,
        types,
        added_after: None,
        all_versions: false,
        principal: accord_policy::model::NODE_PRINCIPAL.into(),
        purpose: None,
    };
    let mut buf = Vec::new();
    crate::export::export(
        node.store.as_ref(),
        &node.gate()?,
        &node.audit_log()?,
        &filter,
        crate::export::Format::Jsonl,
        None,
        &mut buf,
    )?;
    buf.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| Ok(serde_json::from_slice(l)?))
        .collect()
}

/// The identity sightings are attributed to: the node organisation's configured identity, or
/// one derived from its id (returned as an object to include, since nothing else defines it).
pub fn node_identity(node: &crate::node::Node, now: &str) -> (String, Option<Value>) {
    let org_id = &node.config.node.organisation;
    let org = node.config.organisations.iter().find(|o| &o.id == org_id);
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
