//! Reference rewriting: an SCO whose identifying value was redacted gets a new deterministic
//! id, references to it follow, and references to withheld objects are removed (an object that
//! cannot stand without them is withheld too), so that what leaves never dangles.

use serde_json::{Map, Value};

use super::{Ctx, Minimiser, type_of};
use crate::profile::Transform;

/// What happens to a referenced object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fate {
    Same,
    Renamed(String),
    Dropped,
}

/// Objects other than SCOs whose redaction can withhold them, so references to them need
/// checking: individuals, and the relationships, sightings and containers that are withheld
/// when what they relate or hold is. Every SCO with a deterministic id is checked too: any
/// string it holds may be minimised, and with it its id.
const REDACTABLE: [&str; 8] = [
    "identity",
    "relationship",
    "sighting",
    "observed-data",
    "report",
    "grouping",
    "note",
    "opinion",
];

/// Properties whose loss makes the referring object meaningless.
const REQUIRED_REFS: [&str; 3] = ["source_ref", "target_ref", "sighting_of_ref"];

/// Containers withheld when none of their `object_refs` remains.
const CONTAINERS: [&str; 5] = ["observed-data", "report", "grouping", "note", "opinion"];

/// Whether redaction can change the id of, or withhold, objects of this type.
pub fn is_redactable(ty: &str) -> bool {
    REDACTABLE.contains(&ty)
        || accord_stix::spec::type_spec(ty).is_some_and(|s| !s.id_contributing.is_empty())
}

impl Minimiser<'_> {
    /// Redacts the object's content, then its references; then, if an ID-contributing property
    /// changed, derives the SCO's new deterministic id. False when the object is withheld.
    pub(super) fn redact(
        &self,
        o: &mut Map<String, Value>,
        cx: &mut Ctx,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> bool {
        let ty = type_of(o);
        let spec = accord_stix::spec::type_spec(&ty).filter(|s| !s.id_contributing.is_empty());
        let before: Vec<Option<Value>> = spec
            .map(|s| s.id_contributing.iter().map(|p| o.get(*p).cloned()).collect())
            .unwrap_or_default();
        if !self.own(o, cx, "$") || !self.references(o, cx, resolve) {
            return false;
        }
        if let Some(spec) = spec
            && spec
                .id_contributing
                .iter()
                .zip(&before)
                .any(|(p, b)| o.get(*p) != b.as_ref())
            && let Some(id) = accord_stix::id::deterministic_sco_id(&ty, o, spec.id_contributing)
        {
            o.insert("id".into(), id.into());
            cx.note("$.id", "derived-id", Transform::Pseudonymise);
        }
        true
    }

    /// Whether any reference of `o` (or of its extensions) points at an object whose id
    /// redaction changes or which it withholds.
    pub(super) fn references_change(
        &self,
        o: &Map<String, Value>,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> bool {
        o.iter().any(|(k, v)| {
            if k.ends_with("_ref") {
                v.as_str().is_some_and(|t| self.fate(t, resolve) != Fate::Same)
            } else if k.ends_with("_refs") {
                v.as_array().is_some_and(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .any(|t| self.fate(t, resolve) != Fate::Same)
                })
            } else if k == "extensions" {
                v.as_object().is_some_and(|exts| {
                    exts.values()
                        .filter_map(Value::as_object)
                        .any(|e| self.references_change(e, resolve))
                })
            } else {
                false
            }
        })
    }

    /// Rewrites references to objects whose ids change, and removes references to withheld ones.
    /// Returns false when a required reference is lost.
    fn references(
        &self,
        o: &mut Map<String, Value>,
        cx: &mut Ctx,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> bool {
        let ty = type_of(o);
        // In key order, so that redactions are recorded alike however the object was read.
        let mut keys: Vec<String> = o
            .keys()
            .filter(|k| k.ends_with("_ref") || k.ends_with("_refs") || *k == "extensions")
            .cloned()
            .collect();
        keys.sort_unstable();
        for k in keys {
            if k.ends_with("_ref") {
                let Some(target) = o.get(&k).and_then(Value::as_str).map(str::to_owned) else {
                    continue;
                };
                match self.fate(&target, resolve) {
                    Fate::Same => {}
                    Fate::Renamed(new) => {
                        o.insert(k.clone(), new.into());
                        cx.note(&format!("$.{k}"), "reference", Transform::Pseudonymise);
                    }
                    Fate::Dropped => {
                        o.remove(&k);
                        cx.note(&format!("$.{k}"), "reference", Transform::Drop);
                        if REQUIRED_REFS.contains(&k.as_str()) {
                            return false;
                        }
                    }
                }
            } else if k.ends_with("_refs") {
                let Some(Value::Array(list)) = o.get(&k) else {
                    continue;
                };
                let mut out = Vec::with_capacity(list.len());
                let mut changed = false;
                for item in list {
                    let Some(target) = item.as_str() else {
                        out.push(item.clone());
                        continue;
                    };
                    match self.fate(target, resolve) {
                        Fate::Same => out.push(item.clone()),
                        Fate::Renamed(new) => {
                            changed = true;
                            out.push(new.into());
                        }
                        Fate::Dropped => changed = true,
                    }
                }
                if changed {
                    cx.note(&format!("$.{k}"), "reference", Transform::Pseudonymise);
                    if out.is_empty() {
                        o.remove(&k);
                        if k == "object_refs" && CONTAINERS.contains(&ty.as_str()) {
                            return false;
                        }
                    } else {
                        o.insert(k.clone(), Value::Array(out));
                    }
                }
            } else if let Some(Value::Object(inner)) = o.get_mut(&k) {
                // Extensions carry references too (e.g. email-message body parts, file archives).
                if k == "extensions" {
                    let names: Vec<String> = inner.keys().cloned().collect();
                    for n in names {
                        if let Some(Value::Object(ext)) = inner.get_mut(&n) {
                            let mut sub = std::mem::take(ext);
                            self.references(&mut sub, cx, resolve);
                            *ext = sub;
                        }
                    }
                }
            }
        }
        true
    }

    fn fate(&self, target: &str, resolve: &dyn Fn(&str) -> Option<Value>) -> Fate {
        let Some((ty, _)) = target.split_once("--") else {
            return Fate::Same;
        };
        if !is_redactable(ty) {
            return Fate::Same;
        }
        if let Some(f) = self.fates.borrow().get(target) {
            return f.clone();
        }
        // Provisional, so that a reference cycle ends here.
        self.fates.borrow_mut().insert(target.to_owned(), Fate::Same);
        let fate = match resolve(target) {
            Some(Value::Object(mut obj)) => {
                let mut cx = Ctx::new(target);
                if !self.redact(&mut obj, &mut cx, resolve) {
                    Fate::Dropped
                } else {
                    match obj.get("id").and_then(Value::as_str) {
                        Some(new) if new != target => Fate::Renamed(new.to_owned()),
                        _ => Fate::Same,
                    }
                }
            }
            // Cannot see the target: an id derived from an e-mail address or account would let a
            // recipient confirm a guess, so the reference goes unless those are kept.
            _ => match ty {
                "email-addr" if self.profile.email != Transform::Keep => Fate::Dropped,
                "user-account" if self.profile.user_account != Transform::Keep => Fate::Dropped,
                _ => Fate::Same,
            },
        };
        self.fates.borrow_mut().insert(target.to_owned(), fate.clone());
        fate
    }
}
