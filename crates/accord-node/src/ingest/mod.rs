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
use accord_store::PutOutcome;

use crate::error::Result;
use crate::node::Node;

/// Who brought a batch in, for its ledger entry.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub principal: &'a str,
    /// The TAXII status resource of the request, if it came by TAXII.
    pub status: Option<&'a str>,
    /// Whether the objects come from a partner node: a copy that differs from the stored one only
    /// in its provenance (signature, relay path) is then the version already held.
    pub from_partner: bool,
}

/// Stores checked objects of one collection in one transaction and returns the outcome of each,
/// in order. Not yet logged: the caller logs [`entry`] before it reports anything as stored.
pub(crate) fn store(
    node: &Node,
    collection: &str,
    objects: &mut [CheckedObject],
    from_partner: bool,
) -> Result<Vec<PutOutcome>> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let store = node.store();
    let mut outcomes = store.put_batch(collection, objects)?;
    if from_partner {
        let same = accord_provenance::same_apart_from_provenance;
        accord_store::settle_conflicts(store, collection, objects, &mut outcomes, &same)?;
    }
    Ok(outcomes)
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
            PutOutcome::Conflict { .. } => None,
        })
        .collect();
    Event::Ingest(Ingest {
        principal: origin.principal.to_owned(),
        collection: collection.to_owned(),
        status: origin.status.map(str::to_owned),
        objects: versions,
        failed: (rejected
            + outcomes
                .iter()
                .filter(|o| matches!(o, PutOutcome::Conflict { .. }))
                .count()) as u64,
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
    let outcomes = store(node, collection, objects, origin.from_partner)?;
    if !objects.is_empty() {
        // INVARIANT: acknowledged means logged: the entry is durable before the caller reports
        // the objects as stored.
        node.log(vec![entry(origin, collection, objects, &outcomes, 0)])?;
    }
    Ok(outcomes)
}
