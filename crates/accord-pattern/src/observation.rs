//! What patterns are matched against: observations (a time interval, a count and the cyber
//! observables seen), built from STIX 2.1 observed-data with `object_refs`, from 2.0-style
//! observed-data with embedded `objects`, or from one SCO-shaped event.

use accord_stix::Timestamp;
use serde_json::{Map, Value};

/// One observed-data: seen `count` times between `first` and `last` (nanoseconds since the
/// epoch), with its objects keyed the way its references name them (the SCO id for STIX 2.1,
/// the `objects` key for 2.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The observed-data id, when the observation came from one.
    pub id: Option<String>,
    pub first: i64,
    pub last: i64,
    pub count: u64,
    pub objects: Vec<(String, Value)>,
}

/// Input that cannot be turned into observations: which object and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {message}")]
pub struct ObservationError {
    /// The object's id, or its position in the input when it has none.
    pub object: String,
    pub message: String,
}

impl Observed {
    /// Looks up a referenced object within this observation (references never leave it).
    pub fn object(&self, key: &str) -> Option<&Value> {
        self.objects.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// An observation of one event: an SCO-shaped JSON object seen once at `at`. Its own
    /// references resolve against `related` (objects given with it, keyed by id).
    pub fn event(at: i64, object: Value, related: Vec<(String, Value)>) -> Observed {
        let key = object.get("id").and_then(Value::as_str).unwrap_or("0").to_owned();
        let mut objects = vec![(key, object)];
        objects.extend(related);
        Observed {
            id: None,
            first: at,
            last: at,
            count: 1,
            objects,
        }
    }

    /// Every observed-data in `input` (bundles are opened; SCOs given alongside resolve STIX 2.1
    /// `object_refs`), in input order. Objects of other types are ignored.
    pub fn from_stix(input: &[Value]) -> Result<Vec<Observed>, ObservationError> {
        let mut flat = Vec::new();
        for (i, v) in input.iter().enumerate() {
            flatten(v, &i.to_string(), &mut flat);
        }
        let by_id: std::collections::HashMap<&str, &Value> = flat
            .iter()
            .filter_map(|(_, v)| Some((v.get("id")?.as_str()?, *v)))
            .collect();
        flat.iter()
            .filter(|(_, v)| v.get("type").and_then(Value::as_str) == Some("observed-data"))
            .map(|(at, v)| observed_data(v, at, &by_id))
            .collect()
    }
}

fn flatten<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a Value)>) {
    match v.get("type").and_then(Value::as_str) {
        Some("bundle") => {
            for (i, o) in v
                .get("objects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                flatten(o, &format!("{at}/objects/{i}"), out);
            }
        }
        _ => out.push((at.to_owned(), v)),
    }
}

fn observed_data(
    v: &Value,
    at: &str,
    by_id: &std::collections::HashMap<&str, &Value>,
) -> Result<Observed, ObservationError> {
    let id = v.get("id").and_then(Value::as_str).map(str::to_owned);
    let fail = |message: String| ObservationError {
        object: id.clone().unwrap_or_else(|| format!("input item {at}")),
        message,
    };
    let time = |field: &str| -> Result<i64, ObservationError> {
        let text = v
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| fail(format!("{field} is missing or not a string")))?;
        Timestamp::parse(text)
            .map(|t| t.as_nanos_saturating())
            .map_err(|e| fail(format!("{field}: {e}")))
    };
    let (first, last) = (time("first_observed")?, time("last_observed")?);
    if first > last {
        return Err(fail("first_observed is after last_observed".into()));
    }
    let count = v
        .get("number_observed")
        .and_then(Value::as_u64)
        .filter(|n| *n >= 1)
        .ok_or_else(|| fail("number_observed must be an integer of at least 1".into()))?;
    let objects = match (v.get("object_refs"), v.get("objects")) {
        (Some(Value::Array(refs)), _) => refs
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|r| Some((r.to_owned(), (*by_id.get(r)?).clone())))
            .collect(),
        (None, Some(Value::Object(map))) => embedded(map),
        (Some(_), _) => return Err(fail("object_refs is not a list".into())),
        (None, Some(_)) => return Err(fail("objects is not a JSON object".into())),
        (None, None) => return Err(fail("has neither object_refs nor objects".into())),
    };
    Ok(Observed {
        id,
        first,
        last,
        count,
        objects,
    })
}

fn embedded(map: &Map<String, Value>) -> Vec<(String, Value)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
