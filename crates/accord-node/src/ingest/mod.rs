//! Ingest: the one path by which objects enter the store, whatever the edge (`accord import`,
//! TAXII POST, sync pull, `match --ingest`, incident reports). Objects are checked
//! (`accord_stix::check_bytes`), those from partners verified ([`crate::federation`]; what fails
//! goes to [`crate::quarantine`]), stored by [`store`], and logged with [`entry`] before anyone
//! is told they landed.

pub mod import;
pub mod report;
pub mod sources;
pub mod worker;

use accord_ledger::Event;
use accord_ledger::entry::{Ingest, Version};
use accord_stix::CheckedObject;
use accord_store::{Authorship, Claim, PutOutcome};

use crate::error::Result;
use crate::node::Node;

/// Who brought a batch in, for its ledger entry.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub principal: &'a str,
    /// The TAXII status resource of the request, if it came by TAXII.
    pub status: Option<&'a str>,
    /// The partner node the objects come from, if any: a copy that differs from the stored one
    /// only in its provenance (signature, relay path) is then the version already held, and an
    /// unsigned object is written by the partner's organisation.
    pub partner: Option<&'a str>,
}

/// The facts of each object's claim to be written by its creator ([`accord_store::authorship`]):
/// the organisation writing it, and the one its `created_by_ref` names (if any is configured).
#[derive(Debug, Default)]
pub(crate) struct Authors {
    writers: Vec<String>,
    named: Vec<Option<String>>,
}

impl Authors {
    /// For `objects` written by `principal`: the writer is the principal's organisation (this
    /// node's for `@node`; a principal with none stands alone, as `principal:NAME`). An object
    /// from a partner node carrying a provenance signature (verified on arrival) is written by
    /// the signer's organisation.
    pub(crate) fn of(node: &Node, origin: Origin<'_>, objects: &[CheckedObject]) -> Result<Authors> {
        Self::of_texts(node, origin, objects.iter().map(|o| o.canonical.as_str()))
    }

    /// [`Authors::of`] objects given as their canonical JSON.
    pub(crate) fn of_texts<'t>(
        node: &Node,
        origin: Origin<'_>,
        objects: impl Iterator<Item = &'t str>,
    ) -> Result<Authors> {
        let principal = origin.principal;
        let engine = node.gate()?.engine();
        let model = engine.model();
        let own = if principal == accord_policy::sharing::NODE_PRINCIPAL {
            model.node_organisation.clone()
        } else {
            model
                .principals
                .get(principal)
                .map_or_else(|| format!("principal:{principal}"), |p| p.organisation.clone())
        };
        let partners = node.partners()?;
        let own = match origin.partner {
            Some(name) => partners
                .organisation_of(name)
                .unwrap_or_else(|| format!("partner:{name}")),
            None => own,
        };
        let mut authors = Authors::default();
        for o in objects {
            // Only a partner's objects had their signatures verified.
            let writer = origin
                .partner
                .and_then(|_| partners.organisation_of(&accord_provenance::claimed_signer(o)?));
            authors.writers.push(writer.unwrap_or_else(|| own.clone()));
            let named = accord_stix::jcs::select(o, &["created_by_ref"])
                .and_then(|m| m.get("created_by_ref")?.as_str().map(str::to_owned))
                .and_then(|identity| model.identities.get(&identity).cloned());
            authors.named.push(named);
        }
        Ok(authors)
    }

    /// Appends the authors of the next objects of a batch.
    pub(crate) fn extend(&mut self, more: Authors) {
        self.writers.extend(more.writers);
        self.named.extend(more.named);
    }

    /// The claims, one per object of `objects` (those these authors were made for).
    pub(crate) fn claims<'a>(&'a self, objects: &'a [CheckedObject]) -> Vec<Claim<'a>> {
        self.claims_for(objects.iter().map(|o| o.id.as_str()))
    }

    /// The claims on the objects with these ids (those these authors were made for).
    pub(crate) fn claims_for<'a>(&'a self, ids: impl Iterator<Item = &'a str>) -> Vec<Claim<'a>> {
        ids.zip(&self.writers)
            .zip(&self.named)
            .map(|((object_id, writer), named)| Claim {
                object_id,
                named_creator: named.as_deref(),
                writer,
            })
            .collect()
    }
}

/// Stores checked objects of one collection in one transaction, each only if its writer is its
/// creator, and returns the outcome of each, in order. Not yet logged: the caller logs [`entry`]
/// before it reports anything as stored.
pub(crate) fn store(
    node: &Node,
    collection: &str,
    objects: &mut [CheckedObject],
    authors: &Authors,
    from_partner: bool,
) -> Result<Vec<PutOutcome>> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let store = node.store();
    let mut outcomes = store.put_claimed(collection, objects, &authors.claims(objects))?;
    for (o, outcome) in objects.iter().zip(&outcomes) {
        if matches!(outcome, PutOutcome::New { .. } | PutOutcome::NewVersion { .. }) {
            for w in &o.warnings {
                node.metrics().ingest_warning(w.rule.name());
            }
        }
    }
    if from_partner {
        let same = accord_provenance::same_apart_from_provenance;
        accord_store::settle_conflicts(store, collection, objects, &mut outcomes, &same)?;
    }
    Ok(outcomes)
}

/// Why an object was not stored, for statuses and import reports.
pub(crate) fn refusal(object: &CheckedObject, outcome: &PutOutcome) -> Option<String> {
    refusal_of(&object.id, object.version_text.as_deref(), outcome)
}

/// [`refusal`], for the version `version` of object `id`.
pub(crate) fn refusal_of(id: &str, version: Option<&str>, outcome: &PutOutcome) -> Option<String> {
    let version = version.unwrap_or("(unversioned)");
    Some(match outcome {
        PutOutcome::Conflict { existing } => format!(
            "version conflict: {id} version {version} is already stored with different content ({existing})"
        ),
        PutOutcome::Refused(Authorship::NotCreator { creator }) => format!(
            "{id} version {version}: only its creator, organisation {creator:?}, may create versions of it (STIX 2.1 section 3.6)"
        ),
        PutOutcome::Refused(_) => format!(
            "{id} version {version}: its creator is not recorded (stored before creators were) and it names none, so no one may version it"
        ),
        _ => return None,
    })
}

/// The ledger entry for a stored batch: what landed (or was already there), by whom, and how many
/// objects failed: the conflicts among `outcomes`, and `rejected` that never reached the store
/// (invalid, or quarantined).
pub(crate) fn entry(
    origin: Origin<'_>,
    collection: &str,
    objects: &[CheckedObject],
    outcomes: &[PutOutcome],
    rejected: usize,
) -> Event {
    let versions = objects
        .iter()
        .zip(outcomes)
        .filter_map(|(o, outcome)| match outcome {
            PutOutcome::New { date_added }
            | PutOutcome::NewVersion { date_added }
            | PutOutcome::Unchanged { date_added } => Some(Version {
                id: o.id.clone(),
                version: o
                    .version_text
                    .clone()
                    .unwrap_or_else(|| accord_stix::Timestamp::format_micros(*date_added)),
                hash: o.hash.to_hex(),
            }),
            PutOutcome::Conflict { .. } | PutOutcome::Refused(_) => None,
        })
        .collect();
    Event::Ingest(Ingest {
        principal: origin.principal.to_owned(),
        collection: collection.to_owned(),
        status: origin.status.map(str::to_owned),
        objects: versions,
        failed: (rejected + outcomes.iter().filter(|o| !o.is_stored()).count()) as u64,
    })
}

/// Stores a batch from one origin and logs it: [`store`], then [`entry`], durable before this
/// returns.
pub(crate) fn commit(
    node: &Node,
    origin: Origin<'_>,
    collection: &str,
    objects: &mut [CheckedObject],
) -> Result<Vec<PutOutcome>> {
    let authors = Authors::of(node, origin, objects)?;
    let outcomes = store(node, collection, objects, &authors, origin.partner.is_some())?;
    if !objects.is_empty() {
        // INVARIANT: acknowledged means logged: the entry is durable before the caller reports
        // the objects as stored.
        node.log(vec![entry(origin, collection, objects, &outcomes, 0)])?;
    }
    Ok(outcomes)
}
