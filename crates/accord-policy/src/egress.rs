//! Egress: what every read path calls. `disclose` decides each object version, removes the
//! granularly marked parts the recipient may not see, strips the producer when IEP says so,
//! minimises personal data with the agreement's redaction profile, and drops the selectors of
//! granular markings whose parts are gone (what leaves stays valid STIX); it is the reference.
//! The fast path production takes over stored text, `release`, gives the same results.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::decision::{Decision, Effect, Reason, Request};
use crate::engine::{Decider, Engine};
use crate::handling::MarkingSource;
use crate::minimise::{Minimiser, People, Redaction, UNREADABLE_PATTERN, agreement_key, is_redactable};
use crate::profile::Transform;

mod release;

pub use crate::minimise::individual_name;
pub use release::{Lookups, Release, ReleaseError, Stored, Verdict, release};

/// What happened to one object on its way out.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    let Some((first, rest)) = parents.split_first() else {
        object.remove(*last);
        return true;
    };
    let mut holder = object.get_mut(*first);
    for t in rest {
        holder = holder.and_then(|v| index(v, t));
    }
    match (holder, last.strip_prefix('[').and_then(|l| l.strip_suffix(']'))) {
        (Some(Value::Array(a)), Some(n)) => {
            if let Some(item) = n.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                // Keep positions stable for the other selectors of the same marking.
                *item = Value::String("[redacted]".into());
            }
        }
        (Some(Value::Object(m)), None) => {
            m.remove(*last);
        }
        _ => {}
    }
    true
}

/// Drops the selectors of granular markings that no longer resolve (what they marked was
/// removed), and markings left with none: a marking on nothing is invalid STIX.
fn prune_granular_markings(object: &mut Map<String, Value>) {
    let Some(Value::Array(list)) = object.get("granular_markings") else {
        return;
    };
    let root = Value::Object(object.clone());
    let resolves = |s: &Value| {
        s.as_str()
            .is_none_or(|s| accord_stix::validate::resolve_selector(&root, s).is_some())
    };
    if list.iter().all(|m| {
        m.get("selectors")
            .and_then(Value::as_array)
            .is_none_or(|sels| sels.iter().all(&resolves))
    }) {
        return;
    }
    let kept: Vec<Value> = list
        .iter()
        .filter_map(|m| {
            let mut m = m.clone();
            if let Some(Value::Array(sels)) = m.get_mut("selectors") {
                sels.retain(&resolves);
                if sels.is_empty() {
                    return None;
                }
            }
            Some(m)
        })
        .collect();
    if kept.is_empty() {
        object.remove("granular_markings");
    } else {
        object.insert("granular_markings".into(), Value::Array(kept));
    }
}

fn index<'v>(v: &'v mut Value, token: &str) -> Option<&'v mut Value> {
    match token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(n) => v.as_array_mut()?.get_mut(n.parse::<usize>().ok()?),
        None => v.as_object_mut()?.get_mut(token),
    }
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
    disclose_with(
        &engine.decider(req),
        objects,
        markings,
        master_key,
        resolve,
        people,
    )
}

/// [`disclose`] with a decider the caller already holds (and whose memo it shares).
pub fn disclose_with<'a>(
    decider: &Decider<'_>,
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
        .filter(|o| o.get("type").and_then(Value::as_str).is_some_and(is_redactable))
        .filter_map(|o| Some((o.get("id")?.as_str()?, o)))
        .collect();
    let lookup = |id: &str| {
        by_id
            .get(id)
            .map(|o| Value::Object((*o).clone()))
            .or_else(|| resolve(id))
    };
    let people = People::new(&people);
    // One minimiser per (profile, agreement) met in the batch; few, so a list.
    let mut minimisers: Vec<(String, String, Minimiser<'_>)> = Vec::new();
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
            let model = decider.engine().model();
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
                        let text = if w.0.iter().any(|r| r.category == UNREADABLE_PATTERN) {
                            format!(
                                "withheld by redaction profile {:?}: its pattern does not parse, so its personal data cannot be minimised",
                                profile.name
                            )
                        } else {
                            format!(
                                "withheld by redaction profile {:?}: the object is personal data",
                                profile.name
                            )
                        };
                        redactions.extend(w.0);
                        decision.effect = Effect::Deny;
                        std::sync::Arc::make_mut(&mut decision.reasons).push(Reason {
                            policy: "minimisation".into(),
                            text,
                        });
                    }
                }
            }
        }
        if decision.allowed() && !redactions.is_empty() {
            decision.effect = Effect::AllowWithRedaction;
            // INVARIANT: what egress releases from valid STIX is valid STIX.
            prune_granular_markings(object.to_mut());
        }
        // INVARIANT: deny by default: only what an allowing decision covers leaves, and any
        // redaction that cannot be made (a required marked property, a withheld object) denies.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_remove_what_they_name() {
        let mut o =
            json!({"type": "indicator", "pattern": "[x:y = 1]", "description": "d", "labels": ["a", "b"],
            "external_references": [{"source_name": "s", "url": "https://example/"}]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(remove_selector(&mut o, "description"));
        assert!(remove_selector(&mut o, "labels.[1]"));
        assert!(remove_selector(&mut o, "external_references.[0].url"));
        assert!(
            remove_selector(&mut o, "labels.[7]"),
            "a missing element is nothing to remove"
        );
        assert!(
            !remove_selector(&mut o, "pattern"),
            "a required property cannot be removed"
        );
        assert_eq!(
            Value::Object(o),
            json!({"type": "indicator", "pattern": "[x:y = 1]", "labels": ["a", "[redacted]"],
                "external_references": [{"source_name": "s"}]})
        );
    }
}
