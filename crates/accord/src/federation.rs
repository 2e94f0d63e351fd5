//! Federation at the node's edge: signing what leaves for partners (`accord export --sign`), and
//! verifying what arrives from them (`accord import --from-partner`): objects whose provenance
//! verifies against the partner's pinned keys go through the import path; the others are logged
//! and kept in quarantine, never served, matched or passed on.

use std::collections::HashMap;

use accord_provenance::{NodeSigner, Unverified, inbound, with_hop};
use accord_stix::ContentHash;
use accord_store::{QuarantineRecord, QuarantineStore, StoredObject};
use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::ingest::{ImportOptions, ImportSummary, Progress};
use crate::node::Node;

/// The signed form of a released object, as canonical JSON. A version this node stored with
/// another node's signature keeps it, with this node added to its path; a redacted copy
/// (`original` is the stored version's hash, from [`accord_taxii::gate::Released::originals`])
/// is signed by this node with the original's hash; anything else is signed by this node as its
/// originator. The signing time is
/// when this node stored the version, so sending it again yields the same bytes (Ed25519 is
/// deterministic) and a receiver sees a repeat, not a conflicting version.
pub fn sign_released(
    signer: &NodeSigner,
    original: Option<&ContentHash>,
    released: &StoredObject,
) -> Result<String> {
    let now = accord_stix::Timestamp::format_micros(released.date_added);
    let now = now.as_str();
    let value: Value = serde_json::from_str(&released.json)?;
    let me = signer.public().node;
    let foreign = value
        .get("extensions")
        .and_then(|e| e.get(accord_provenance::EXTENSION_ID))
        .and_then(|p| p.get("signer"))
        .and_then(Value::as_str)
        .is_some_and(|s| s != me);
    let redacted = original.filter(|h| **h != released.hash);
    let signed = match (foreign, redacted) {
        (true, None) => with_hop(&value, &me),
        (_, redacted) => signer.sign(&value, now, redacted.map(ToString::to_string).as_deref())?,
    };
    Ok(accord_stix::jcs::to_canonical_string(&signed))
}

/// What an import from a partner did.
#[derive(Debug, Default)]
pub struct Received {
    pub summary: ImportSummary,
    pub quarantined: Vec<QuarantineRecord>,
    /// Objects that are not valid STIX, with where and why (rejected, as by any import).
    pub invalid: Vec<String>,
}

/// Imports objects a partner sent: each must carry a provenance signature that verifies against
/// the partner's pinned keys (or those of a node it may relay for); the rest are logged and
/// quarantined before anything is stored.
pub fn import_from_partner(
    node: &Node,
    partner: &str,
    paths: &[std::path::PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Received> {
    let Some(config) = node.config.partners.iter().find(|p| p.name == partner) else {
        bail!("no partner {partner:?} in accord.toml [[partners]]");
    };
    let keyring = node.keyring()?;
    let audit = node.audit_log()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let mut admitted = Vec::new();
    let mut quarantined = Vec::new();
    let invalid = crate::detect::read_objects(paths, &mut |_, json| {
        let value: Value = serde_json::from_str(json)?;
        let verdict = inbound(&keyring, &value, partner, |_, signer| {
            config.relays_for.iter().any(|n| n == signer)
        });
        match verdict {
            Ok(_) => admitted.push(json.to_owned()),
            Err(why) => quarantined.push(quarantine_record(
                &opts.collection,
                partner,
                &value,
                json,
                &why,
                now,
            )),
        }
        Ok(())
    })?;
    // Logged before they are kept, like every other change of state.
    if !quarantined.is_empty() {
        let events = quarantined
            .iter()
            .map(|q| {
                accord_ledger::Event::Quarantine(accord_ledger::entry::Quarantine {
                    collection: q.collection.clone(),
                    hash: ContentHash::of_canonical(q.json.as_bytes()).to_hex(),
                    object: q.object_id.clone(),
                    reason: q.reason.clone(),
                    sender: q.sender.clone(),
                })
            })
            .collect();
        audit.record_now(events)?;
        for q in &mut quarantined {
            q.seq = node.store.quarantine(q)?;
        }
    }
    let mut summary = ImportSummary::default();
    if !admitted.is_empty() {
        let tmp = node.dir.join(format!("partner-{}.jsonl", uuid::Uuid::new_v4()));
        std::fs::write(&tmp, admitted.join("\n"))
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let sources = [crate::reader::Source::File(tmp.clone())];
        let result = crate::ingest::import(node.store.as_ref(), &audit, &sources, opts, progress);
        std::fs::remove_file(&tmp)?;
        summary = result?;
    }
    summary.collection = opts.collection.clone();
    summary.rejected += invalid.len() as u64;
    Ok(Received {
        summary,
        quarantined,
        invalid,
    })
}

fn quarantine_record(
    collection: &str,
    sender: &str,
    value: &Value,
    json: &str,
    why: &Unverified,
    now: i64,
) -> QuarantineRecord {
    QuarantineRecord {
        seq: 0,
        collection: collection.to_owned(),
        object_id: value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("(no id)")
            .to_owned(),
        sender: sender.to_owned(),
        reason: why.to_string(),
        received_at: now,
        json: json.to_owned(),
    }
}

/// The provenance check for TAXII POSTs by partner nodes: a principal that is a partner's
/// (`[[partners]] principal`) must send objects that verify against that partner's keys (or, for a
/// partner with `signed = false`, objects either unsigned or verifying).
#[derive(Debug)]
pub struct PartnerInbound {
    keyring: accord_provenance::Keyring,
    /// principal → (partner node, signatures required, nodes it may relay for)
    partners: HashMap<String, (String, bool, Vec<String>)>,
}

impl PartnerInbound {
    /// The check for a node's partners, or `None` when no partner posts under a principal.
    pub fn for_node(node: &Node) -> Result<Option<PartnerInbound>> {
        let partners: HashMap<String, (String, bool, Vec<String>)> = node
            .config
            .partners
            .iter()
            .filter_map(|p| {
                Some((
                    p.principal.clone()?,
                    (p.name.clone(), p.signed, p.relays_for.clone()),
                ))
            })
            .collect();
        if partners.is_empty() {
            return Ok(None);
        }
        Ok(Some(PartnerInbound {
            keyring: node.keyring()?,
            partners,
        }))
    }
}

impl accord_taxii::ingest::Inbound for PartnerInbound {
    fn check(&self, principal: &str, canonical: &str) -> std::result::Result<(), String> {
        let Some((name, signed, relays)) = self.partners.get(principal) else {
            return Ok(());
        };
        let value: Value = serde_json::from_str(canonical).map_err(|e| e.to_string())?;
        let carries = value
            .get("extensions")
            .and_then(|e| e.get(accord_provenance::EXTENSION_ID))
            .is_some();
        if !carries && !signed {
            return Ok(());
        }
        inbound(&self.keyring, &value, name, |_, signer| {
            relays.iter().any(|r| r == signer)
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// Signs what partner nodes read over TAXII (the principals named in `[[partners]]`).
#[derive(Debug)]
pub struct PartnerOutbound {
    signer: NodeSigner,
    principals: std::collections::HashSet<String>,
}

impl PartnerOutbound {
    pub fn for_node(node: &Node) -> Result<Option<PartnerOutbound>> {
        let principals: std::collections::HashSet<String> = node
            .config
            .partners
            .iter()
            .filter_map(|p| p.principal.clone())
            .collect();
        if principals.is_empty() {
            return Ok(None);
        }
        Ok(Some(PartnerOutbound {
            signer: node.provenance_signer()?,
            principals,
        }))
    }
}

impl accord_taxii::Outbound for PartnerOutbound {
    fn applies(&self, principal: &str) -> bool {
        self.principals.contains(principal)
    }

    fn sign(
        &self,
        released: &StoredObject,
        original: Option<&ContentHash>,
    ) -> std::result::Result<String, String> {
        sign_released(&self.signer, original, released).map_err(|e| format!("signing {}: {e}", released.id))
    }
}
