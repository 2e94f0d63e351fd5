//! The fast path of egress, the one production read paths take over stored text: each version
//! is decided from its handling members alone (read out of its canonical text, the rest left
//! unparsed), once per distinct handling in the batch, and only versions whose decision asks for
//! changes are parsed and passed through `disclose_with`. The results are those `disclose` gives
//! for the parsed versions.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use accord_stix::markings::Marking;
use serde_json::{Map, Value};

use super::{Outcome, disclose_with};
use crate::decision::Decision;
use crate::engine::Decider;
use crate::handling::{HANDLING_MEMBERS, MarkingSource};

/// A stored version: its id and its JSON text (canonical, as stored).
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub id: &'a str,
    pub json: &'a str,
}

/// What the fast path reads besides the versions themselves (from the store).
pub trait Lookups {
    type Error;
    /// A marking definition by id.
    fn marking(&self, id: &str) -> Option<Marking>;
    /// The object an id names (its latest version), so that references to objects outside the
    /// batch follow their redaction.
    fn object(&self, id: &str) -> Option<Value>;
    /// Names of individuals known outside the batch, redacted wherever they occur. Asked at
    /// most once per call, and only when some version has to be parsed and minimised.
    fn people(&self) -> Result<Arc<Vec<String>>, Self::Error>;
}

/// What leaves for one stored version.
#[derive(Debug, Clone, PartialEq)]
pub enum Release {
    /// Nothing: the decision denies.
    Withheld,
    /// The stored text, as it is (same bytes, same hash).
    Unchanged,
    /// A redacted copy: to be serialised canonically and hashed anew. Its `id` differs from the
    /// stored one where an SCO's identifying value was redacted.
    Redacted(Map<String, Value>),
}

/// The verdict on one stored version: its outcome, and what leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The decision and the redactions (to be logged whether or not anything leaves).
    pub outcome: Outcome,
    pub release: Release,
}

impl Verdict {
    /// The text that leaves, if anything does: `stored` itself, or the redacted copy in
    /// canonical form.
    pub fn text<'s>(&self, stored: &'s str) -> Option<Cow<'s, str>> {
        match &self.release {
            Release::Withheld => None,
            Release::Unchanged => Some(Cow::Borrowed(stored)),
            Release::Redacted(object) => Some(Cow::Owned(accord_stix::jcs::to_canonical_string(
                &Value::Object(object.clone()),
            ))),
        }
    }
}

/// Why a batch could not be released.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError<E> {
    /// A stored version's text is not a JSON object.
    #[error("{id}: {error}")]
    Corrupt { id: String, error: serde_json::Error },
    /// A lookup failed.
    #[error("lookup failed")]
    Lookup(E),
}

/// Marking definitions through the lookups.
struct Markings<'l, L: ?Sized>(&'l L);

impl<L: Lookups + ?Sized> MarkingSource for Markings<'_, L> {
    fn marking(&self, id: &str) -> Option<Marking> {
        self.0.marking(id)
    }
}

/// Decides and redacts stored versions for the decider's request: one result per version, in
/// order. `master_key` derives each agreement's pseudonymisation key.
pub fn release<L: Lookups + ?Sized>(
    decider: &Decider<'_>,
    versions: &[Stored<'_>],
    lookups: &L,
    master_key: &[u8; 32],
) -> Result<Vec<Verdict>, ReleaseError<L::Error>> {
    let markings = Markings(lookups);
    let corrupt = |v: &Stored<'_>, error| ReleaseError::Corrupt {
        id: v.id.to_owned(),
        error,
    };
    let mut results: Vec<Option<Verdict>> = Vec::with_capacity(versions.len());
    let mut full = Vec::new();
    // INVARIANT: within one call a decision depends only on the handling members (the one list,
    // `HANDLING_MEMBERS`): versions whose members are the same text (one source's markings,
    // creator and extensions) are decided once.
    let mut decided: HashMap<String, Decision> = HashMap::new();
    for (i, v) in versions.iter().enumerate() {
        let members = handling_members(v.json);
        let key = members.as_deref().map(same_handling);
        let decision = match key.as_ref().and_then(|k| decided.get(k)) {
            Some(d) => d.clone(),
            None => {
                let head = head(v.json, members).map_err(|e| corrupt(v, e))?;
                let d = decider.decide(&head, &markings);
                if let Some(k) = key {
                    decided.insert(k, d.clone());
                }
                d
            }
        };
        if !decision.allowed() || decision.leaves_unchanged() {
            let release = if decision.allowed() {
                Release::Unchanged
            } else {
                Release::Withheld
            };
            results.push(Some(Verdict {
                outcome: Outcome {
                    id: v.id.to_owned(),
                    decision,
                    redactions: Vec::new(),
                },
                release,
            }));
        } else {
            results.push(None);
            full.push(i);
        }
    }
    if !full.is_empty() {
        let mut parsed = Vec::with_capacity(full.len());
        for &i in &full {
            let v = &versions[i];
            parsed.push(serde_json::from_str::<Map<String, Value>>(v.json).map_err(|e| corrupt(v, e))?);
        }
        let people = lookups.people().map_err(ReleaseError::Lookup)?;
        let resolve = |id: &str| lookups.object(id);
        let disclosure = disclose_with(decider, &parsed, &markings, master_key, &resolve, &people);
        let mut objects = disclosure.objects.into_iter();
        for (&i, outcome) in full.iter().zip(disclosure.outcomes) {
            let release = if !outcome.decision.allowed() {
                Release::Withheld
            } else {
                match objects.next() {
                    // Allowed with nothing recorded: the stored text is what would leave.
                    Some(object) if !outcome.redactions.is_empty() => Release::Redacted(object.into_owned()),
                    _ => Release::Unchanged,
                }
            };
            results[i] = Some(Verdict { outcome, release });
        }
    }
    Ok(results.into_iter().flatten().collect())
}

/// The raw text of the handling members of canonical object text (most of an object, a pattern
/// or a description, is skipped unparsed); `None` where `canonical_members` declines the layout.
fn handling_members(json: &str) -> Option<Vec<(&str, &str)>> {
    let mut members = accord_stix::jcs::canonical_members(json)?;
    members.retain(|(k, _)| HANDLING_MEMBERS.contains(k));
    Some(members)
}

/// What two versions decided in one call must share to be decided alike: every handling
/// member, as stored (canonical, so equal values are equal text).
fn same_handling(members: &[(&str, &str)]) -> String {
    let mut key = String::new();
    for (k, v) in members {
        key.push_str(k);
        key.push('\0');
        key.push_str(v);
        key.push('\0');
    }
    key
}

/// The head of a stored version: its handling members parsed, or the whole text parsed when
/// they could not be picked out.
fn head(json: &str, members: Option<Vec<(&str, &str)>>) -> Result<Map<String, Value>, serde_json::Error> {
    if let Some(members) = members {
        return members
            .into_iter()
            .map(|(k, v)| Ok((k.to_owned(), serde_json::from_str(v)?)))
            .collect();
    }
    let mut all: Map<String, Value> = serde_json::from_str(json)?;
    all.retain(|k, _| HANDLING_MEMBERS.contains(&k.as_str()));
    Ok(all)
}
