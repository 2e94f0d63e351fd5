//! Quarantine: objects whose provenance did not verify on arrival (from a pull, a partner's
//! POST, or `import --from-partner`). Each is logged, then kept apart from the store's
//! collections, where no read, match or export finds it. An administrator may review them; that
//! review is logged like any disclosure.

use accord_ledger::Event;
use accord_ledger::entry::{Quarantine, Share, Shared};
use accord_stix::ContentHash;
use accord_store::QuarantineRecord;
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::gate::Channel;
use crate::node::Node;

/// An object refused on arrival: its canonical JSON and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub json: String,
    pub reason: String,
}

/// A quarantined object without its content: what an operator lists.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    pub seq: i64,
    pub collection: String,
    pub object_id: String,
    pub sender: String,
    pub reason: String,
    pub received_at: i64,
    /// SHA-256 of the object as received (hex).
    pub hash: String,
}

impl From<&QuarantineRecord> for Quarantined {
    fn from(q: &QuarantineRecord) -> Self {
        Quarantined {
            seq: q.seq,
            collection: q.collection.clone(),
            object_id: q.object_id.clone(),
            sender: q.sender.clone(),
            reason: q.reason.clone(),
            received_at: q.received_at,
            hash: ContentHash::of_canonical(q.json.as_bytes()).to_hex(),
        }
    }
}

/// The ledger entries and the records for refused objects, not yet logged or kept.
pub(crate) fn prepare(
    collection: &str,
    sender: &str,
    refused: Vec<Refused>,
    now: i64,
) -> (Vec<Event>, Vec<QuarantineRecord>) {
    let records: Vec<QuarantineRecord> = refused
        .into_iter()
        .map(|r| QuarantineRecord {
            seq: 0,
            collection: collection.to_owned(),
            object_id: serde_json::from_str::<Value>(&r.json)
                .ok()
                .and_then(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| "(no id)".to_owned()),
            sender: sender.to_owned(),
            reason: r.reason,
            received_at: now,
            json: r.json,
        })
        .collect();
    let events = records
        .iter()
        .map(|q| {
            Event::Quarantine(Quarantine {
                collection: q.collection.clone(),
                hash: ContentHash::of_canonical(q.json.as_bytes()).to_hex(),
                object: q.object_id.clone(),
                reason: q.reason.clone(),
                sender: q.sender.clone(),
            })
        })
        .collect();
    (events, records)
}

/// Keeps records whose `quarantine` entries are durable. Returns what was kept.
pub(crate) fn keep(node: &Node, mut records: Vec<QuarantineRecord>) -> Result<Vec<Quarantined>> {
    for q in &mut records {
        q.seq = node.store().quarantine(q)?;
    }
    Ok(records.iter().map(Quarantined::from).collect())
}

/// The version a received object claims (`modified`, else `created`), if it claims one.
fn version_of(json: &str) -> Option<String> {
    let v: Value = serde_json::from_str(json).ok()?;
    v.get("modified")
        .or_else(|| v.get("created"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// How many quarantined objects are read at once.
const PAGE: usize = 1000;

impl Node {
    /// Logs refused objects meant for `collection` from `sender` (`quarantine` entries: object,
    /// hash, sender, reason, never content), then keeps them. Returns what was kept.
    pub fn quarantine(
        &self,
        collection: &str,
        sender: &str,
        refused: Vec<Refused>,
    ) -> Result<Vec<Quarantined>> {
        let (events, records) = prepare(collection, sender, refused, self.clock().now_micros());
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // INVARIANT: logged before it is kept, so that the log never lacks a quarantined object.
        self.log(events)?;
        keep(self, records)
    }

    /// Every quarantined object, in arrival order, without content.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let mut out = Vec::new();
        self.each_quarantined(&mut |page| {
            out.extend(page.iter().map(Quarantined::from));
            Ok(())
        })?;
        Ok(out)
    }

    /// Every quarantined object with its content, for review by `reviewer` (an administrator of
    /// this node). The review is logged as a share on the `quarantine-review` channel, listing
    /// each object and its hash, before anything is returned.
    pub fn review_quarantined(&self, reviewer: &str) -> Result<Vec<QuarantineRecord>> {
        let mut all = Vec::new();
        self.each_quarantined(&mut |page| {
            all.extend(page);
            Ok(())
        })?;
        if all.is_empty() {
            return Ok(all);
        }
        let mut by_collection: std::collections::BTreeMap<&str, Vec<Shared>> = Default::default();
        for q in &all {
            by_collection.entry(&q.collection).or_default().push(Shared {
                agreement: None,
                hash: ContentHash::of_canonical(q.json.as_bytes()).to_hex(),
                id: q.object_id.clone(),
                original: None,
                version: version_of(&q.json)
                    .unwrap_or_else(|| accord_stix::Timestamp::format_micros(q.received_at)),
            });
        }
        let events = by_collection
            .into_iter()
            .map(|(collection, objects)| {
                Event::Share(Share {
                    channel: Channel::QuarantineReview.as_str().to_owned(),
                    collection: Some(collection.to_owned()),
                    objects,
                    principal: reviewer.to_owned(),
                    purpose: None,
                })
            })
            .collect();
        // INVARIANT: no content leaves before its share entry is durable.
        self.log(events)?;
        Ok(all)
    }

    fn each_quarantined(&self, each: &mut dyn FnMut(Vec<QuarantineRecord>) -> Result<()>) -> Result<()> {
        let mut after = 0;
        loop {
            let page = self.store().quarantined(after, PAGE)?;
            let Some(last) = page.last().map(|q| q.seq) else {
                return Ok(());
            };
            after = last;
            let full = page.len() == PAGE;
            each(page)?;
            if !full {
                return Ok(());
            }
        }
    }
}
