//! Retention: object versions whose Accord handling extension sets a `retention_until` that has
//! passed are removed from the store. Each removal is logged (an `expiry` entry) before it
//! happens. The policy already withholds such versions; the sweep makes them gone.

use accord_audit::AuditLog;
use accord_ledger::Event;
use accord_ledger::entry::Expiry;
use accord_stix::Timestamp;
use accord_store::{Query, Store, VersionFilter};
use anyhow::Result;
use serde_json::{Map, Value};

/// Versions read per page while sweeping.
const PAGE: usize = 5000;

/// One version whose retention ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Expired {
    pub collection: String,
    pub id: String,
    pub version: String,
    pub retention_until: String,
}

/// Finds the versions in `collections` whose retention ended by `now`; unless `dry_run`, logs
/// and removes them.
pub fn sweep(
    store: &dyn Store,
    audit: &AuditLog,
    collections: &[String],
    now: Timestamp,
    dry_run: bool,
) -> Result<Vec<Expired>> {
    #[derive(serde::Deserialize)]
    struct Head {
        extensions: Option<Map<String, Value>>,
    }
    let mut all = Vec::new();
    for collection in collections {
        let mut q = Query::new(collection);
        q.versions = VersionFilter::all();
        q.limit = PAGE;
        let mut found = Vec::new();
        loop {
            let page = store.query(&q)?;
            for o in &page.objects {
                // Only objects that mention a retention need more than a byte search.
                if !o.json.contains("\"retention_until\"") {
                    continue;
                }
                let Ok(head) = serde_json::from_str::<Head>(&o.json) else {
                    continue;
                };
                let mut object = Map::new();
                if let Some(e) = head.extensions {
                    object.insert("extensions".into(), Value::Object(e));
                }
                if let Some(until) = accord_policy::handling::retention_until(&object)
                    && until <= now
                {
                    found.push((o.clone(), until));
                }
            }
            if !page.more {
                break;
            }
            q.added_after = page.last_added();
        }
        if !dry_run && !found.is_empty() {
            let events = found
                .iter()
                .map(|(o, until)| {
                    Event::Expiry(Expiry {
                        collection: collection.clone(),
                        object: o.id.clone(),
                        version: o.version.clone(),
                        hash: o.hash.to_hex(),
                        retention_until: Timestamp::format_micros(until.as_micros()),
                    })
                })
                .collect();
            // Logged first: a crash in between leaves an entry whose removal the next sweep does.
            audit.record_now(events)?;
            for (o, _) in &found {
                let at = Timestamp::parse(&o.version)
                    .map_err(|e| anyhow::anyhow!("{} version {}: {e}", o.id, o.version))?;
                store.delete(
                    collection,
                    &o.id,
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
        all.extend(found.into_iter().map(|(o, until)| Expired {
            collection: collection.clone(),
            id: o.id,
            version: o.version,
            retention_until: Timestamp::format_micros(until.as_micros()),
        }));
    }
    Ok(all)
}
