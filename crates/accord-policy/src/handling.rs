//! The handling of one object version, derived from its markings (TLP 1.0/2.0 object-level and
//! granular, IEP 2.0) and from the Accord handling extension, and the list of the members it is
//! derived from (which egress's fast path reads without parsing the rest of an object).

use std::collections::BTreeSet;

use accord_stix::Timestamp;
use accord_stix::markings::{
    AffectedPartyNotifications, EncryptInTransit, IepTlp, Marking, ProviderAttribution, TlpLevel, tlp_by_id,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::sharing::{Model, action_rank};

pub use accord_stix::handling::HANDLING_EXTENSION_ID;
use accord_stix::handling::parse_retention;

/// The top-level members an object's handling is derived from, in canonical (sorted) order.
// INVARIANT: this is the one list of them. `Handling::derive` sees an object only through
// `Members`, which yields nothing for a name not listed, and the fast path of egress
// (`release`) decides from these members alone; equal members give equal handling.
pub const HANDLING_MEMBERS: [&str; 5] = [
    "created_by_ref",
    "extensions",
    "granular_markings",
    "object_marking_refs",
    "type",
];

/// The handling members of one object: all that `Handling::derive` may read of it.
struct Members<'a>([Option<&'a Value>; HANDLING_MEMBERS.len()]);

impl<'a> Members<'a> {
    /// One pass over the properties: cheaper than a hashed lookup for each member.
    fn of(object: &'a Map<String, Value>) -> Self {
        let mut found = [None; HANDLING_MEMBERS.len()];
        for (k, v) in object {
            if let Some(i) = HANDLING_MEMBERS.iter().position(|m| m == k) {
                found[i] = Some(v);
            }
        }
        Members(found)
    }

    /// The member `name`; `None` for a name that is not listed, so nothing else can be read.
    fn get(&self, name: &str) -> Option<&'a Value> {
        HANDLING_MEMBERS
            .iter()
            .position(|m| *m == name)
            .and_then(|i| self.0[i])
    }
}

/// Looks up marking-definition objects by id (the caller may read them from a store).
pub trait MarkingSource {
    fn marking(&self, id: &str) -> Option<Marking>;
}

impl MarkingSource for std::collections::HashMap<String, Marking> {
    fn marking(&self, id: &str) -> Option<Marking> {
        self.get(id).cloned()
    }
}

impl<F: Fn(&str) -> Option<Marking>> MarkingSource for F {
    fn marking(&self, id: &str) -> Option<Marking> {
        self(id)
    }
}

/// The IEP 2.0 terms that bear on decisions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IepTerms {
    /// 0 none … 4 externally-visible-direct-actions; 4 when the policy does not say.
    pub permitted_actions: i64,
    pub affected_party_notifications: &'static str,
    pub encrypt_in_transit: &'static str,
    pub attribution_must_not: bool,
}

/// What the Accord handling extension declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Declared {
    pub purposes: Vec<String>,
    pub legal_basis: Option<String>,
    pub personal_data_categories: BTreeSet<String>,
    pub origin_jurisdiction: Option<String>,
    pub retention_until: Option<String>,
    pub consent_ref: Option<String>,
    /// Organisations or principals named as recipients (TLP:RED).
    pub recipients: Vec<String>,
}

/// A granularly marked part of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    /// `None` when the marking is not a TLP marking this node knows.
    pub tlp: Option<TlpLevel>,
    pub marking_ref: String,
    pub selectors: Vec<String>,
}

/// The handling of one object version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handling {
    pub stix_type: String,
    /// The most restrictive object-level TLP (from TLP markings and IEP `tlp`), or the default.
    pub tlp: TlpLevel,
    pub tlp_defaulted: bool,
    pub parts: Vec<Part>,
    pub iep: Option<IepTerms>,
    pub unknown_markings: Vec<String>,
    pub declared: Declared,
    #[serde(skip)]
    pub retention_until: Option<Timestamp>,
    /// The organisation whose identity created the object, if it is one the model knows.
    pub originator: Option<String>,
    pub originated_here: bool,
    /// Problems with the handling data itself (never silently allowing).
    pub warnings: Vec<String>,
}

fn iep_tlp(t: IepTlp) -> TlpLevel {
    match t {
        IepTlp::White => TlpLevel::Clear,
        IepTlp::Green => TlpLevel::Green,
        IepTlp::Amber => TlpLevel::Amber,
        IepTlp::Red => TlpLevel::Red,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl Handling {
    /// Derives the handling of `object` from its [`HANDLING_MEMBERS`] alone. Contradictory
    /// markings resolve to the most restrictive; unknown marking definitions are listed (the
    /// policy denies them). Unmarked objects get `default_tlp`, else the model's default.
    pub fn derive(
        object: &Map<String, Value>,
        model: &Model,
        markings: &dyn MarkingSource,
        default_tlp: Option<TlpLevel>,
    ) -> Handling {
        let members = Members::of(object);
        let ty = members.get("type").and_then(Value::as_str);
        let marking_refs = members.get("object_marking_refs");
        let granular = members.get("granular_markings").and_then(Value::as_array);
        let extensions = members.get("extensions").and_then(Value::as_object);
        let created_by = members.get("created_by_ref").and_then(Value::as_str);
        let stix_type = ty.unwrap_or_default().to_owned();
        let mut warnings = Vec::new();
        let mut unknown = Vec::new();
        let mut tlp: Option<TlpLevel> = None;
        let mut iep: Option<IepTerms> = None;
        let raise = |level: TlpLevel, tlp: &mut Option<TlpLevel>| {
            *tlp = Some(tlp.map_or(level, |t| t.max(level)));
        };

        for id in strings(marking_refs) {
            match resolve(&id, markings) {
                Some(Marking::Tlp(t)) => raise(t.level, &mut tlp),
                Some(Marking::Iep(p)) => {
                    if let Some(t) = p.tlp {
                        raise(iep_tlp(t), &mut tlp);
                    }
                    let terms = IepTerms {
                        permitted_actions: p.permitted_actions.map_or(4, action_rank),
                        affected_party_notifications: p
                            .affected_party_notifications
                            .map_or("may", AffectedPartyNotifications::as_str),
                        encrypt_in_transit: p.encrypt_in_transit.map_or("may", EncryptInTransit::as_str),
                        attribution_must_not: p.provider_attribution == Some(ProviderAttribution::MustNot),
                    };
                    // Two IEP policies: the stricter term of each wins.
                    iep = Some(match iep {
                        None => terms,
                        Some(old) => IepTerms {
                            permitted_actions: old.permitted_actions.min(terms.permitted_actions),
                            affected_party_notifications: if old.affected_party_notifications == "must-not" {
                                "must-not"
                            } else {
                                terms.affected_party_notifications
                            },
                            encrypt_in_transit: if old.encrypt_in_transit == "must" {
                                "must"
                            } else {
                                terms.encrypt_in_transit
                            },
                            attribution_must_not: old.attribution_must_not || terms.attribution_must_not,
                        },
                    });
                }
                Some(Marking::Statement { .. }) => {}
                Some(Marking::Unknown) | None => {
                    warnings.push(format!("object_marking_refs: unknown marking definition {id}"));
                    unknown.push(id);
                }
            }
        }

        let mut parts = Vec::new();
        if let Some(list) = granular {
            for (i, g) in list.iter().enumerate() {
                let selectors = strings(g.get("selectors"));
                let Some(id) = g.get("marking_ref").and_then(Value::as_str) else {
                    // A language marking: no handling.
                    continue;
                };
                let level = match resolve(id, markings) {
                    Some(Marking::Tlp(t)) => Some(t.level),
                    Some(Marking::Iep(p)) => p.tlp.map(iep_tlp),
                    Some(Marking::Statement { .. }) => continue,
                    Some(Marking::Unknown) | None => {
                        warnings.push(format!("granular_markings[{i}]: unknown marking definition {id}"));
                        None
                    }
                };
                parts.push(Part {
                    tlp: level,
                    marking_ref: id.to_owned(),
                    selectors,
                });
            }
        }

        let declared = extensions
            .and_then(|e| e.get(HANDLING_EXTENSION_ID))
            .and_then(Value::as_object)
            .map(|ext| Declared {
                purposes: strings(ext.get("purposes")),
                legal_basis: ext.get("legal_basis").and_then(Value::as_str).map(str::to_owned),
                personal_data_categories: strings(ext.get("personal_data_categories")).into_iter().collect(),
                origin_jurisdiction: ext
                    .get("origin_jurisdiction")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                retention_until: ext
                    .get("retention_until")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                consent_ref: ext.get("consent_ref").and_then(Value::as_str).map(str::to_owned),
                recipients: strings(ext.get("recipients")),
            })
            .unwrap_or_default();
        // Unknown is not no: a category outside the vocabulary is named, and no agreement permits it.
        for c in &declared.personal_data_categories {
            if !model.data_categories.contains(c) {
                warnings.push(format!(
                    "personal_data_categories: unknown category {c:?} (not in the vocabulary; no agreement permits it)"
                ));
            }
        }
        let (retention_until, warning) = parse_retention(declared.retention_until.as_deref());
        warnings.extend(warning);

        let originator = created_by.and_then(|id| model.identities.get(id)).cloned();
        let originated_here = originator.as_deref() == Some(model.node_organisation.as_str());
        // Marking definitions describe handling; recipients need them to read other markings.
        let (tlp, tlp_defaulted) = match tlp {
            Some(t) => (t, false),
            None if stix_type == "marking-definition" => (TlpLevel::Clear, false),
            None => (default_tlp.unwrap_or(model.default_tlp), true),
        };
        Handling {
            stix_type,
            tlp,
            tlp_defaulted,
            parts,
            iep,
            unknown_markings: unknown,
            declared,
            retention_until,
            originator,
            originated_here,
            warnings,
        }
    }

    pub fn expired(&self, now: Timestamp) -> bool {
        self.retention_until.is_some_and(|t| t <= now)
    }
}

fn resolve(id: &str, markings: &dyn MarkingSource) -> Option<Marking> {
    match tlp_by_id(id) {
        Some(t) => Some(Marking::Tlp(*t)),
        None => markings.marking(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_yield_exactly_the_listed_names() {
        let object: Map<String, Value> = HANDLING_MEMBERS
            .iter()
            .map(|m| ((*m).to_owned(), Value::from(*m)))
            .chain([("labels".to_owned(), Value::from("labels"))])
            .collect();
        let members = Members::of(&object);
        for m in HANDLING_MEMBERS {
            assert_eq!(members.get(m).and_then(Value::as_str), Some(m));
        }
        assert_eq!(members.get("labels"), None, "a name not listed cannot be read");
        let mut sorted = HANDLING_MEMBERS;
        sorted.sort_unstable();
        assert_eq!(sorted, HANDLING_MEMBERS, "in canonical order");
    }
}
