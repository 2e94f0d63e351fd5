//! Removing object versions: a principal's delete (TAXII DELETE) and the retention sweep (versions
//! whose Accord handling extension sets a `retention_until` that has passed). Both go through
//! [`log_then_delete`]: the removal is logged durably before it happens, so a crash in between
//! leaves an entry whose removal a retry completes, never a removal without an entry.

use accord_ledger::Event;
use accord_ledger::entry::{Deletion, Expiry, Version};
use accord_stix::Timestamp;
use accord_store::{Query, VersionFilter};

use crate::access::{Action, Principal, authorize};
use crate::error::{NodeError, Result};
use crate::node::Node;

/// Logs `events`, then removes each `(id, versions)` of `collection`. `withdraw`: an object
/// removed whole is recorded as a withdrawal, for partners to be sent a revoked version of it.
/// Returns how many versions were removed.
fn log_then_delete(
    node: &Node,
    events: Vec<Event>,
    collection: &str,
    removals: &[(String, VersionFilter)],
    withdraw: bool,
) -> Result<usize> {
    if removals.is_empty() {
        return Ok(0);
    }
    // INVARIANT: a removal is logged before it takes effect.
    node.log(events)?;
    let mut removed = 0;
    for (id, versions) in removals {
        removed += node.store().delete(collection, id, versions, withdraw)?;
    }
    Ok(removed)
}

impl Node {
    /// Deletes the `versions` of object `id` from `collection` for `who` (authorised to delete
    /// from it), logged first. An object deleted whole becomes a withdrawal that partners are told
    /// of. Returns how many versions were removed; none found is `NotFound`.
    /// Whether `who` speaks for the creator of `stored`'s object, the only organisation that may
    /// version or delete it (see [`accord_store::authorship`]); refused, and the refusal logged,
    /// otherwise.
    fn may_version(&self, who: &Principal, stored: &accord_store::StoredObject) -> Result<()> {
        let origin = crate::ingest::Origin {
            principal: &who.name,
            status: None,
            partner: None,
        };
        let authors = crate::ingest::Authors::of_texts(self, origin, std::iter::once(stored.json.as_str()))?;
        let claims = authors.claims_for(std::iter::once(stored.id.as_str()));
        let recorded = self.store().creator(&stored.id)?;
        match claims
            .first()
            .map(|c| accord_store::authorship(c, recorded.as_deref()))
        {
            Some(accord_store::Authorship::Creator) => Ok(()),
            refused => {
                let refused = refused.unwrap_or(accord_store::Authorship::CreatorUnknown);
                let why = crate::ingest::refusal_of(
                    &stored.id,
                    Some(&stored.version),
                    &accord_store::PutOutcome::Refused(refused),
                )
                .unwrap_or_default();
                tracing::warn!(principal = %who.name, object = %stored.id, "refused: {why}");
                Err(NodeError::Forbidden(format!(
                    "{} may not delete: {why}",
                    who.name
                )))
            }
        }
    }

    pub fn delete_object(
        &self,
        who: &Principal,
        collection: &str,
        id: &str,
        versions: &VersionFilter,
    ) -> Result<usize> {
        authorize(who, Action::Delete, collection)?;
        accord_stix::id::parse_identifier(id).map_err(|e| NodeError::Invalid(format!("object id: {e}")))?;
        let mut q = Query::new(collection);
        q.ids = vec![id.to_owned()];
        q.versions = versions.clone();
        q.limit = 100_000;
        let found = self.store().query(&q)?.objects;
        if let Some(stored) = found.last() {
            self.may_version(who, stored)?;
        }
        let doomed: Vec<Version> = found
            .into_iter()
            .map(|o| Version {
                id: o.id,
                version: o.version,
                hash: o.hash.to_hex(),
            })
            .collect();
        if doomed.is_empty() {
            return Err(NodeError::NotFound(format!(
                "no matching version of {id} in collection {collection}"
            )));
        }
        let event = Event::Deletion(Deletion {
            principal: who.name.clone(),
            collection: collection.to_owned(),
            object: id.to_owned(),
            versions: doomed,
        });
        let removed = log_then_delete(
            self,
            vec![event],
            collection,
            &[(id.to_owned(), versions.clone())],
            true,
        )?;
        tracing::info!(principal = %who.name, collection, object = id, removed, "deleted object versions");
        Ok(removed)
    }

    /// Finds the versions in every configured collection whose retention ended by now; unless
    /// `dry_run`, logs and removes them. The store indexes when each version's retention ends, so
    /// this reads only the expired versions, however large the collections.
    pub fn sweep_retention(&self, dry_run: bool) -> Result<Vec<Expired>> {
        let now = self.clock().now_micros();
        let mut all = Vec::new();
        for c in &self.config().collections {
            let collection = &c.id;
            let found = self.store().expired(collection, now)?;
            if !dry_run {
                let events = found
                    .iter()
                    .map(|e| {
                        Event::Expiry(Expiry {
                            collection: collection.clone(),
                            object: e.id.clone(),
                            version: e.version.clone(),
                            hash: e.hash.to_hex(),
                            retention_until: Timestamp::format_micros(e.retention_until),
                        })
                    })
                    .collect();
                let removals = found
                    .iter()
                    .map(|e| {
                        let at = Timestamp::parse(&e.version).map_err(|err| {
                            NodeError::Corrupt(format!("{} version {}: {err}", e.id, e.version))
                        })?;
                        let at = VersionFilter {
                            at: vec![at],
                            ..VersionFilter::default()
                        };
                        Ok((e.id.clone(), at))
                    })
                    .collect::<Result<Vec<_>>>()?;
                // Retention is this node's own limit: partners keep theirs, so it is not a
                // withdrawal to tell them about.
                log_then_delete(self, events, collection, &removals, false)?;
            }
            all.extend(found.into_iter().map(|e| Expired {
                collection: collection.clone(),
                id: e.id,
                version: e.version,
                retention_until: Timestamp::format_micros(e.retention_until),
            }));
        }
        Ok(all)
    }
}

/// One version whose retention ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Expired {
    pub collection: String,
    pub id: String,
    pub version: String,
    pub retention_until: String,
}
