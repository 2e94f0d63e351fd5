//! Egress: the one function every read path calls. It decides each object version, removes the
//! granularly marked parts the recipient may not see, strips the producer when IEP says so, and
//! minimises personal data with the agreement's redaction profile.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::{Decision, Effect, Engine, Reason, Request};
use crate::handling::MarkingSource;
use crate::minimise::{Minimiser, Redaction, Transform, agreement_key};

/// What happened to one object on its way out.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub decision: Decision,
    pub redactions: Vec<Redaction>,
}

/// The result of disclosing a batch of object versions to one principal.
#[derive(Debug, Default)]
pub struct Disclosure<'a> {
    /// The objects the principal may receive, in input order: borrowed when unchanged, owned
    /// when redacted.
    pub objects: Vec<Cow<'a, Map<String, Value>>>,
    /// One outcome per input object, in input order.
    pub outcomes: Vec<Outcome>,
}

impl Disclosure<'_> {
    pub fn withheld(&self) -> usize {
        self.outcomes.len() - self.objects.len()
    }
}

/// Removes the property or list element a STIX selector names. Returns false when the selector
/// names a required property (the object cannot be shown without it).
fn remove_selector(object: &mut Map<String, Value>, selector: &str) -> bool {
    let tokens: Vec<&str> = selector.split('.').collect();
    let Some((last, parents)) = tokens.split_last() else {
        return true;
    };
    if parents.is_empty() {
        let ty = object.get("type").and_then(Value::as_str).unwrap_or_default();
        let required = accord_stix::spec::type_spec(ty)
            .and_then(|s| s.prop(last))
            .is_some_and(|p| p.required);
        if required || matches!(*last, "id" | "type" | "spec_version") {
            return false;
        }
    }
    let cur = &mut *object;
    let mut holder: Option<&mut Value> = None;
    for t in parents {
        let next = match holder.take() {
            None => cur.get_mut(*t),
            Some(v) => index(v, t),
        };
        match next {
            Some(v) => holder = Some(v),
            None => return true,
        }
    }
    match holder {
        None => {
            cur.remove(*last);
        }
        Some(v) => match (v, last.strip_prefix('[').and_then(|l| l.strip_suffix(']'))) {
            (Value::Array(a), Some(n)) => {
                if let Ok(i) = n.parse::<usize>() {
                    if i < a.len() {
                        // Keep positions stable for the other selectors of the same marking.
                        a[i] = Value::String("[redacted]".into());
                    }
                }
            }
            (Value::Object(m), None) => {
                m.remove(*last);
            }
            _ => {}
        },
    }
    true
}

fn index<'v>(v: &'v mut Value, token: &str) -> Option<&'v mut Value> {
    match token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(n) => v.as_array_mut()?.get_mut(n.parse::<usize>().ok()?),
        None => v.as_object_mut()?.get_mut(token),
    }
}

/// The name of an `identity` with `identity_class: individual`.
pub fn individual_name(o: &Map<String, Value>) -> Option<String> {
    let (mut identity, mut individual, mut name) = (false, false, None);
    for (k, v) in o {
        match k.as_str() {
            "type" => identity = v.as_str() == Some("identity"),
            "identity_class" => individual = v.as_str() == Some("individual"),
            "name" => name = v.as_str(),
            _ => {}
        }
    }
    (identity && individual)
        .then(|| name.map(str::to_owned))
        .flatten()
}

/// Decides and redacts a batch of objects for one principal. `resolve` finds referenced objects
/// outside the batch (the store), so that rewritten references stay consistent across pages.
/// `master_key` derives each agreement's pseudonymisation key. `people` are names of individuals
/// known outside the batch (identities elsewhere in the store), redacted wherever they occur.
pub fn disclose<'a>(
    engine: &Engine,
    req: &Request<'_>,
    objects: &'a [Map<String, Value>],
    markings: &dyn MarkingSource,
    master_key: &[u8; 32],
    resolve: &dyn Fn(&str) -> Option<Value>,
    people: &[String],
) -> Disclosure<'a> {
    // Individuals named in this batch, and those the caller knows of elsewhere.
    let mut people = people.to_vec();
    people.extend(objects.iter().filter_map(individual_name));
    people.sort();
    people.dedup();
    // Objects of the batch that references may point at and redaction may change.
    let by_id: HashMap<&str, &Map<String, Value>> = objects
        .iter()
        .filter(|o| {
            o.get("type")
                .and_then(Value::as_str)
                .is_some_and(crate::minimise::is_redactable)
        })
        .filter_map(|o| Some((o.get("id")?.as_str()?, o)))
        .collect();
    let lookup = |id: &str| {
        by_id
            .get(id)
            .map(|o| Value::Object((*o).clone()))
            .or_else(|| resolve(id))
    };
    let people = crate::minimise::People::new(&people);
    // One minimiser per (profile, agreement) met in the batch; few, so a list.
    let mut minimisers: Vec<(String, String, Minimiser<'_>)> = Vec::new();
    let decider = engine.decider(req);
    let mut out = Disclosure::default();
    for original in objects {
        let mut object = Cow::Borrowed(original);
        let id = object
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut decision = decider.decide(&object, markings);
        let mut redactions = Vec::new();
        if decision.allowed() {
            for part in &decision.redact_parts {
                for s in &part.selectors {
                    if !remove_selector(object.to_mut(), s) {
                        decision.effect = Effect::Deny;
                        std::sync::Arc::make_mut(&mut decision.reasons).push(Reason {
                            policy: "granular-marking".into(),
                            text: format!("{}: the marked property {s} is required", part.reason),
                        });
                    }
                    redactions.push(Redaction {
                        object: id.clone(),
                        path: format!("$.{s}"),
                        category: "granular-marking",
                        transform: Transform::Drop,
                    });
                }
            }
        }
        if decision.allowed() && decision.strip_attribution && object.contains_key("created_by_ref") {
            object.to_mut().remove("created_by_ref");
            redactions.push(Redaction {
                object: id.clone(),
                path: "$.created_by_ref".into(),
                category: "provider-attribution",
                transform: Transform::Drop,
            });
        }
        if let (true, Some(profile_name)) = (decision.allowed(), decision.profile.as_deref()) {
            let model = engine.model();
            if let Some(profile) = model.profiles.get(profile_name) {
                let agreement = decision.agreement.as_deref().unwrap_or_default();
                let at = match minimisers
                    .iter()
                    .position(|(p, a, _)| p == profile_name && a == agreement)
                {
                    Some(i) => i,
                    None => {
                        let key = agreement_key(master_key, agreement);
                        minimisers.push((
                            profile_name.to_owned(),
                            agreement.to_owned(),
                            Minimiser::new(profile, key, &people),
                        ));
                        minimisers.len() - 1
                    }
                };
                let m = &minimisers[at].2;
                let applied = if m.needs(&object, &lookup) {
                    m.apply(object.to_mut(), &lookup)
                } else {
                    Ok(Vec::new())
                };
                match applied {
                    Ok(r) => redactions.extend(r),
                    Err(w) => {
                        redactions.extend(w.0);
                        decision.effect = Effect::Deny;
                        std::sync::Arc::make_mut(&mut decision.reasons).push(Reason {
                            policy: "minimisation".into(),
                            text: format!(
                                "withheld by redaction profile {:?}: the object is personal data",
                                profile.name
                            ),
                        });
                    }
                }
            }
        }
        if decision.allowed() && !redactions.is_empty() {
            decision.effect = Effect::AllowWithRedaction;
        }
        if decision.allowed() {
            out.objects.push(object);
        }
        out.outcomes.push(Outcome {
            id,
            decision,
            redactions,
        });
    }
    out
}
