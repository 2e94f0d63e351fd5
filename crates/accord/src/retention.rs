//! Retention: object versions whose Accord handling extension sets a `retention_until` that has
//! passed are removed from the store. Each removal is logged (an `expiry` entry) before it
//! happens. The policy already withholds such versions; the sweep makes them gone.

use accord_audit::AuditLog;
use accord_ledger::Event;
use accord_ledger::entry::Expiry;
use accord_stix::Timestamp;
use accord_store::{Store, VersionFilter};
use anyhow::Result;

/// One version whose retention ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Expired {
    pub collection: String,
    pub id: String,
    pub version: String,
    pub retention_until: String,
}

/// Finds the versions in `collections` whose retention ended by `now`; unless `dry_run`, logs
/// and removes them. The store indexes when each version's retention ends, so this reads only
/// the expired versions, however large the collections.
pub fn sweep(
    store: &dyn Store,
    audit: &AuditLog,
    collections: &[String],
    now: Timestamp,
    dry_run: bool,
) -> Result<Vec<Expired>> {
    let mut all = Vec::new();
    for collection in collections {
        let found = store.expired(collection, now.as_micros())?;
        if !dry_run && !found.is_empty() {
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
            // Logged first: a crash in between leaves an entry whose removal the next sweep does.
            audit.record_now(events)?;
            for e in &found {
                let at = Timestamp::parse(&e.version)
                    .map_err(|err| anyhow::anyhow!("{} version {}: {err}", e.id, e.version))?;
                store.delete(
                    collection,
                    &e.id,
                    &VersionFilter {
                        at: vec![at],
                        ..VersionFilter::default()
                    },
                    // Retention is this node's own limit: partners keep theirs, so it is not
                    // a withdrawal to tell them about.
                    false,
                )?;
            }
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
