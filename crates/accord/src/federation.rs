//! Federation at the node's edge: signing what leaves for partners (`accord export --sign`), and
//! verifying what arrives from them (`accord import --from-partner`): objects whose provenance
//! verifies against the partner's pinned keys go through the import path; the others are logged
//! and kept in quarantine, never served, matched or passed on.

use std::collections::HashMap;
use std::sync::Arc;

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
/// originator. The signing time is when this node stored the version, so sending it again yields
/// the same bytes (Ed25519 is deterministic) and a receiver sees a repeat, not a conflicting
/// version. Signing works on the stored canonical text without building the object.
pub fn sign_released(
    signer: &NodeSigner,
    original: Option<&ContentHash>,
    released: &StoredObject,
) -> Result<String> {
    let path = accord_provenance::claimed_path(&released.json);
    sign_released_on_path(signer, original, released, path.as_deref())
}

/// As [`sign_released`], for a caller that has already read the version's claimed signer and path
/// (`accord_provenance::claimed_path`), so that the text is not parsed for it twice.
pub fn sign_released_on_path(
    signer: &NodeSigner,
    original: Option<&ContentHash>,
    released: &StoredObject,
    path: Option<&[String]>,
) -> Result<String> {
    let foreign = path.is_some_and(|nodes| nodes[0] != signer.node());
    Ok(match (foreign, original.filter(|h| **h != released.hash)) {
        (true, None) => {
            let value = serde_json::from_str(&released.json)
                .with_context(|| format!("{}: stored JSON", released.id))?;
            accord_stix::jcs::to_canonical_string(&with_hop(value, signer.node()))
        }
        (_, redacted) => signer.sign_canonical(
            &released.json,
            &accord_stix::Timestamp::format_micros(released.date_added),
            redacted.map(ToString::to_string).as_deref(),
        )?,
    })
}

/// The revoked version that tells partners an object was withdrawn (deleted whole) here: its last
/// version with `revoked: true`, modified when it was deleted (or a millisecond after its last
/// version, if that is later), stored-at the deletion time. `None` for what this node cannot
/// revoke: SCOs and marking definitions (no versions), and objects another node signed.
pub fn revoked_version(w: &accord_store::Withdrawal, node: &str) -> Result<Option<StoredObject>> {
    let mut v: Value =
        serde_json::from_str(&w.json).with_context(|| format!("withdrawn {}: stored JSON", w.object_id))?;
    let foreign = accord_provenance::claimed_path(&w.json).is_some_and(|nodes| nodes[0] != node);
    let modified = v
        .get("modified")
        .and_then(Value::as_str)
        .and_then(|m| accord_stix::Timestamp::parse(m).ok());
    let (Some(map), Some(modified)) = (v.as_object_mut(), modified) else {
        return Ok(None);
    };
    if foreign || map.get("type").and_then(Value::as_str) == Some("marking-definition") {
        return Ok(None);
    }
    let at = w.deleted_at.max(modified.as_micros() + 1000);
    map.insert("revoked".into(), Value::Bool(true));
    map.insert(
        "modified".into(),
        Value::from(accord_stix::Timestamp::format_micros(at)),
    );
    let checked =
        accord_stix::check_value(v).map_err(|e| anyhow::anyhow!("withdrawn {}: {e}", w.object_id))?;
    Ok(Some(StoredObject {
        version: checked.version_text.clone().unwrap_or_default(),
        id: checked.id,
        type_name: checked.type_name,
        spec_version: checked.spec_version,
        date_added: w.deleted_at,
        hash: checked.hash,
        json: checked.canonical,
    }))
}

/// Who reported what, and how far they are trusted: the Admiralty source-reliability grade
/// (A completely reliable … E unreliable, F cannot be judged) of each originator. Partners have
/// theirs in `[[partners]] reliability`; this node's own reports count as A; an originator that
/// is not a partner cannot be judged (F).
#[derive(Debug, Clone)]
pub struct Sources {
    this_node: String,
    grades: HashMap<String, char>,
}

impl Sources {
    pub fn for_node(node: &Node) -> Sources {
        Sources::new(
            &node.config.node.name,
            node.config
                .partners
                .iter()
                .map(|p| (p.name.clone(), p.reliability.chars().next().unwrap_or('F'))),
        )
    }

    pub fn new(this_node: &str, grades: impl IntoIterator<Item = (String, char)>) -> Sources {
        Sources {
            this_node: this_node.to_owned(),
            grades: grades.into_iter().collect(),
        }
    }

    /// The originator of a stored object: the signer it was verified against on arrival, or this
    /// node for objects without provenance.
    pub fn originator<'a>(&'a self, signer: Option<&'a str>) -> &'a str {
        signer.unwrap_or(&self.this_node)
    }

    pub fn grade(&self, originator: &str) -> char {
        if originator == self.this_node {
            'A'
        } else {
            self.grades.get(originator).copied().unwrap_or('F')
        }
    }

    /// Whether `originator` is graded `min` or better.
    pub fn at_least(&self, originator: &str, min: char) -> bool {
        self.grade(originator) <= min
    }
}

/// Parses an Admiralty grade given on the command line.
pub fn parse_grade(text: &str) -> std::result::Result<char, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        g @ ("A" | "B" | "C" | "D" | "E" | "F") => Ok(g.chars().next().unwrap_or('F')),
        _ => Err(format!("{text:?} is not an Admiralty reliability grade (A to F)")),
    }
}

/// What an import from a partner did.
#[derive(Debug, Default)]
pub struct Received {
    pub summary: ImportSummary,
    pub quarantined: Vec<QuarantineRecord>,
    /// Objects that are not valid STIX, with where and why (rejected, as by any import).
    pub invalid: Vec<String>,
}

/// The verdicts, in order, on objects from partner node `name`, given as canonical JSON: each
/// one's provenance must verify against the pinned keys, and a relayed object's signer must be
/// one of `relays_for`. A partner that does not sign (`signed = false`) may send unsigned
/// objects; signed ones are still checked.
pub fn admit(
    keyring: &accord_provenance::Keyring,
    name: &str,
    signed: bool,
    relays_for: &[String],
    canonical: &[&str],
) -> Vec<std::result::Result<(), Unverified>> {
    inbound(keyring, canonical, name, |_, signer| {
        relays_for.iter().any(|n| n == signer)
    })
    .into_iter()
    .map(|verdict| match verdict {
        Err(Unverified::Unsigned) if !signed => Ok(()),
        v => v.map(|_| ()),
    })
    .collect()
}

/// Splits objects from partner node `name` into those admitted and those refused (with the
/// reason), as canonical JSON, verifying their signatures in batches spread over the cores.
pub fn sort_received(
    keyring: &accord_provenance::Keyring,
    partner: &crate::config::PartnerConfig,
    objects: Vec<String>,
) -> (Vec<String>, Vec<(String, Unverified)>) {
    use rayon::prelude::*;
    let verdicts: Vec<_> = objects
        .par_chunks(accord_provenance::BATCH)
        .flat_map_iter(|chunk| {
            let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
            admit(
                keyring,
                &partner.name,
                partner.signed,
                &partner.relays_for,
                &texts,
            )
        })
        .collect();
    let (mut admitted, mut refused) = (Vec::new(), Vec::new());
    for (o, verdict) in objects.into_iter().zip(verdicts) {
        match verdict {
            Ok(()) => admitted.push(o),
            Err(why) => refused.push((o, why)),
        }
    }
    (admitted, refused)
}

/// Logs quarantined objects (canonical JSON; `quarantine` entries, never their content), then
/// keeps them.
/// Returns the records with their sequence numbers.
pub fn quarantine(
    node: &Node,
    audit: &accord_audit::AuditLog,
    collection: &str,
    sender: &str,
    refused: Vec<(String, Unverified)>,
) -> Result<Vec<QuarantineRecord>> {
    let now = accord_audit::now_micros();
    let mut records: Vec<QuarantineRecord> = refused
        .into_iter()
        .map(|(json, why)| QuarantineRecord {
            seq: 0,
            collection: collection.to_owned(),
            object_id: serde_json::from_str::<Value>(&json)
                .ok()
                .and_then(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| "(no id)".to_owned()),
            sender: sender.to_owned(),
            reason: why.to_string(),
            received_at: now,
            json,
        })
        .collect();
    if records.is_empty() {
        return Ok(records);
    }
    audit.record_now(
        records
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
            .collect(),
    )?;
    for q in &mut records {
        q.seq = node.store.quarantine(q)?;
    }
    Ok(records)
}

/// Stores objects (JSON, one per item) through the import path: validated, stored, logged.
pub fn import_objects(
    node: &Node,
    audit: &accord_audit::AuditLog,
    objects: &[String],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    if objects.is_empty() {
        return Ok(ImportSummary {
            collection: opts.collection.clone(),
            ..ImportSummary::default()
        });
    }
    let sources = [crate::reader::Source::Memory {
        name: "received objects".into(),
        bytes: objects.join("\n").into_bytes(),
    }];
    crate::ingest::import(node.store.as_ref(), audit, &sources, opts, progress)
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
    let mut received = Vec::new();
    let invalid = crate::detect::read_objects(paths, &mut |_, json| {
        received.push(accord_stix::jcs::to_canonical_string(&serde_json::from_str(
            json,
        )?));
        Ok(())
    })?;
    let (admitted, refused) = sort_received(&keyring, config, received);
    let quarantined = quarantine(node, &audit, &opts.collection, partner, refused)?;
    let mut summary = import_objects(node, &audit, &admitted, opts, progress)?;
    summary.rejected += invalid.len() as u64;
    Ok(Received {
        summary,
        quarantined,
        invalid,
    })
}

/// The node's partners as its TAXII server sees them: objects POSTed by a partner's principal
/// (`[[partners]] principal`) must verify against that partner's keys (or, for a partner with
/// `signed = false`, be either unsigned or verifying), and what those principals read is signed
/// by this node. Reloaded in place on SIGHUP, so that a pinned key, an accepted rotation or this
/// node's own rotated key takes effect without a restart.
#[derive(Debug)]
pub struct Partners {
    table: std::sync::RwLock<Arc<PartnerTable>>,
}

#[derive(Debug)]
struct PartnerTable {
    keyring: accord_provenance::Keyring,
    /// principal → (partner node, signatures required, nodes it may relay for)
    by_principal: HashMap<String, (String, bool, Vec<String>)>,
    signer: NodeSigner,
}

impl PartnerTable {
    fn for_node(node: &Node) -> Result<PartnerTable> {
        let by_principal = node
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
        Ok(PartnerTable {
            keyring: node.keyring()?,
            by_principal,
            signer: node.provenance_signer()?,
        })
    }
}

impl Partners {
    pub fn for_node(node: &Node) -> Result<Partners> {
        Ok(Partners {
            table: std::sync::RwLock::new(Arc::new(PartnerTable::for_node(node)?)),
        })
    }

    /// Puts `node`'s partners, keys and signing key in force; on error the previous ones stay.
    pub fn reload(&self, node: &Node) -> Result<()> {
        let table = Arc::new(PartnerTable::for_node(node)?);
        *self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = table;
        Ok(())
    }

    fn table(&self) -> Arc<PartnerTable> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl accord_taxii::ingest::Inbound for Partners {
    fn check(&self, principal: &str, canonical: &[&str]) -> Vec<std::result::Result<(), String>> {
        let table = self.table();
        let Some((name, signed, relays)) = table.by_principal.get(principal) else {
            return vec![Ok(()); canonical.len()];
        };
        admit(&table.keyring, name, *signed, relays, canonical)
            .into_iter()
            .map(|v| v.map_err(|e| e.to_string()))
            .collect()
    }

    fn same_version(&self, stored: &str, incoming: &str) -> bool {
        accord_provenance::same_apart_from_provenance(stored, incoming)
    }
}

impl accord_taxii::Outbound for Partners {
    fn applies(&self, principal: &str) -> bool {
        self.table().by_principal.contains_key(principal)
    }

    fn sign(
        &self,
        released: &StoredObject,
        original: Option<&ContentHash>,
    ) -> std::result::Result<String, String> {
        sign_released(&self.table().signer, original, released)
            .map_err(|e| format!("signing {}: {e}", released.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn withdrawn(json: Value) -> accord_store::Withdrawal {
        accord_store::Withdrawal {
            seq: 1,
            collection: "c".into(),
            object_id: json["id"].as_str().unwrap_or_default().into(),
            deleted_at: 1_790_000_000_000_000,
            json: json.to_string(),
        }
    }

    fn indicator(modified: &str) -> Value {
        serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-01-01T00:00:00.000Z", "modified": modified, "pattern_type": "stix",
            "pattern": "[ipv4-addr:value = '198.51.100.7']", "valid_from": "2026-01-01T00:00:00Z"
        })
    }

    #[test]
    fn a_withdrawn_object_becomes_a_revoked_version_only_where_this_node_may_revoke_it() {
        let o = revoked_version(&withdrawn(indicator("2026-01-01T00:00:00.000Z")), "node-a")
            .expect("valid")
            .expect("an indicator can be revoked");
        let v: Value = serde_json::from_str(&o.json).expect("json");
        assert_eq!(v["revoked"], true);
        assert_eq!(o.version, "2026-09-21T14:13:20.000000Z", "modified when deleted");
        assert_eq!(o.date_added, 1_790_000_000_000_000);
        // A last version dated after the deletion (a clock ahead) still gets a later one.
        let ahead = revoked_version(&withdrawn(indicator("2027-01-01T00:00:00.000Z")), "node-a")
            .expect("valid")
            .expect("revocable");
        assert_eq!(ahead.version, "2027-01-01T00:00:00.001000Z");
        let sco = serde_json::json!({"type": "ipv4-addr", "spec_version": "2.1",
            "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.7"});
        assert!(revoked_version(&withdrawn(sco), "node-a").expect("ok").is_none());
        let signer = NodeSigner::new("node-b", &[2; 32]).expect("signer");
        let foreign = signer
            .sign(
                indicator("2026-01-01T00:00:00.000Z"),
                "2026-01-02T00:00:00Z",
                None,
            )
            .expect("sign");
        assert!(
            revoked_version(&withdrawn(foreign.clone()), "node-a")
                .expect("ok")
                .is_none()
        );
        assert!(
            revoked_version(&withdrawn(foreign), "node-b")
                .expect("ok")
                .is_some(),
            "its own"
        );
    }
}
