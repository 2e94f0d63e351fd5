//! Federation at the node's edge: this node's provenance keys and the partners' pinned ones;
//! signing what leaves for partners; verifying what arrives from them. Objects whose provenance
//! verifies against the partner's pinned keys go through the ingest path; the others are
//! quarantined, never served, matched or passed on.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use accord_provenance::{Keyring, NodeSigner, Unverified, inbound, with_hop};
use accord_stix::ContentHash;
use accord_store::StoredObject;
use serde_json::Value;

use crate::config::Config;
use crate::error::{NodeError, Result};
use crate::ingest::import::{ImportOptions, ImportSummary, Progress};
use crate::node::{Node, ROTATIONS_DIR};
use crate::quarantine::{Quarantined, Refused};
use crate::secrets::{SIGNING_KEY_FILE, random_key, write_private};

/// The signed form of a released object, as canonical JSON. A version this node stored with
/// another node's signature keeps it, with this node added to its path; a redacted copy
/// (`original` is the stored version's hash) is signed by this node with the original's hash;
/// anything else is signed by this node as its originator. The signing time is when this node
/// stored the version, so sending it again yields the same bytes (Ed25519 is deterministic) and a
/// receiver sees a repeat, not a conflicting version. Signing works on the stored canonical text
/// without building the object.
pub fn sign_released(
    signer: &NodeSigner,
    original: Option<&ContentHash>,
    released: &StoredObject,
) -> Result<String> {
    let path = accord_provenance::claimed_path(&released.json);
    let foreign = path.is_some_and(|nodes| nodes[0] != signer.node());
    Ok(match (foreign, original.filter(|h| **h != released.hash)) {
        (true, None) => {
            let value = serde_json::from_str(&released.json)
                .map_err(|e| NodeError::Corrupt(format!("{}: stored JSON: {e}", released.id)))?;
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
    let mut v: Value = serde_json::from_str(&w.json)
        .map_err(|e| NodeError::Corrupt(format!("withdrawn {}: stored JSON: {e}", w.object_id)))?;
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
    let checked = accord_stix::check_value(v)
        .map_err(|e| NodeError::Corrupt(format!("withdrawn {}: {e}", w.object_id)))?;
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
        let config = node.config();
        Sources::new(
            &config.node.name,
            config
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
    pub quarantined: Vec<Quarantined>,
    /// Objects that are not valid STIX, with where and why (rejected, as by any import).
    pub invalid: Vec<String>,
}

/// The verdicts, in order, on objects from partner node `name`, given as canonical JSON: each
/// one's provenance must verify against the pinned keys, and a relayed object's signer must be
/// one of `relays_for`. A partner that does not sign (`signed = false`) may send unsigned
/// objects; signed ones are still checked.
fn admit(
    keyring: &Keyring,
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

/// A partner as the node sees it.
#[derive(Debug, Clone)]
struct Partner {
    name: String,
    organisation: String,
    signed: bool,
    relays_for: Vec<String>,
}

/// The partners, their keys and this node's signing key, as one value replaced on reload.
#[derive(Debug)]
pub struct PartnerTable {
    keyring: Keyring,
    by_name: HashMap<String, Partner>,
    /// principal → partner node
    by_principal: HashMap<String, String>,
    signer: Arc<NodeSigner>,
}

impl PartnerTable {
    /// The table for `config`, with the pinned keys, the rotations accepted since, and this node's
    /// provenance key.
    pub(crate) fn build(node: &Node, config: &Config) -> Result<PartnerTable> {
        let by_name = config
            .partners
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    Partner {
                        name: p.name.clone(),
                        organisation: p.organisation.clone(),
                        signed: p.signed,
                        relays_for: p.relays_for.clone(),
                    },
                )
            })
            .collect();
        let by_principal = config
            .partners
            .iter()
            .filter_map(|p| Some((p.principal.clone()?, p.name.clone())))
            .collect();
        Ok(PartnerTable {
            keyring: keyring(node, config)?,
            by_name,
            by_principal,
            signer: Arc::new(signer(node, config)?),
        })
    }
}

/// The partner keys pinned in `config`, with the rotations accepted since.
fn keyring(node: &Node, config: &Config) -> Result<Keyring> {
    let mut ring = Keyring::new();
    for p in &config.partners {
        for k in &p.keys {
            ring.pin(accord_provenance::PublicKey::parse(k)?);
        }
    }
    let dir = node.dir().join(ROTATIONS_DIR);
    if dir.exists() {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(NodeError::io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        // Named by time, so they apply in the order they happened.
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(NodeError::io(&f))?;
            ring.apply_rotation(&text)
                .map_err(|e| NodeError::Misconfigured(format!("{}: {e}", f.display())))?;
        }
    }
    Ok(ring)
}

fn signer(node: &Node, config: &Config) -> Result<NodeSigner> {
    Ok(NodeSigner::new(
        &config.node.name,
        &node.secret(SIGNING_KEY_FILE)?,
    )?)
}

/// The node's partners: what their principals POST must verify against their keys, and what
/// they read is signed by this node. Replaced in place on reload, so that a pinned key, an
/// accepted rotation or this node's own rotated key takes effect without a restart.
#[derive(Debug)]
pub struct Partners {
    table: RwLock<Arc<PartnerTable>>,
}

impl Partners {
    pub(crate) fn for_node(node: &Node) -> Result<Partners> {
        Ok(Partners {
            table: RwLock::new(Arc::new(PartnerTable::build(node, &node.config())?)),
        })
    }

    pub(crate) fn replace(&self, table: PartnerTable) {
        *self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
    }

    fn table(&self) -> Arc<PartnerTable> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The partner node whose principal `principal` is.
    pub fn partner_of(&self, principal: &str) -> Option<String> {
        self.table().by_principal.get(principal).cloned()
    }

    /// The organisation of partner node `name` (as it signs).
    pub fn organisation_of(&self, name: &str) -> Option<String> {
        self.table().by_name.get(name).map(|p| p.organisation.clone())
    }

    /// Whether `principal` is a partner node's principal (its POSTs are verified, its reads
    /// signed).
    pub fn is_partner_principal(&self, principal: &str) -> bool {
        self.table().by_principal.contains_key(principal)
    }

    /// The verdicts on objects (canonical JSON) POSTed by `principal`: `Err(reason)` sends one to
    /// quarantine. Objects of principals that are not partner nodes are not checked.
    pub(crate) fn check(&self, principal: &str, canonical: &[&str]) -> Vec<std::result::Result<(), String>> {
        let table = self.table();
        let Some(p) = table
            .by_principal
            .get(principal)
            .and_then(|n| table.by_name.get(n))
        else {
            return vec![Ok(()); canonical.len()];
        };
        admit(&table.keyring, &p.name, p.signed, &p.relays_for, canonical)
            .into_iter()
            .map(|v| v.map_err(|e| e.to_string()))
            .collect()
    }

    /// Splits objects (canonical JSON) from partner node `name` into those admitted and those
    /// refused, verifying their signatures in batches spread over the cores.
    pub(crate) fn sort_received(
        &self,
        name: &str,
        objects: Vec<String>,
    ) -> Result<(Vec<String>, Vec<Refused>)> {
        use rayon::prelude::*;
        let table = self.table();
        let p = table
            .by_name
            .get(name)
            .ok_or_else(|| NodeError::NotFound(format!("no partner {name:?} in accord.toml [[partners]]")))?;
        let verdicts: Vec<_> = objects
            .par_chunks(accord_provenance::BATCH)
            .flat_map_iter(|chunk| {
                let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
                admit(&table.keyring, &p.name, p.signed, &p.relays_for, &texts)
            })
            .collect();
        let (mut admitted, mut refused) = (Vec::new(), Vec::new());
        for (json, verdict) in objects.into_iter().zip(verdicts) {
            match verdict {
                Ok(()) => admitted.push(json),
                Err(why) => refused.push(Refused {
                    json,
                    reason: why.to_string(),
                }),
            }
        }
        Ok((admitted, refused))
    }

    /// The signed form of a released version (see [`sign_released`]).
    pub(crate) fn sign(&self, released: &StoredObject, original: Option<&ContentHash>) -> Result<String> {
        sign_released(&self.table().signer, original, released)
    }

    /// This node's provenance signer.
    pub fn signer(&self) -> Arc<NodeSigner> {
        self.table().signer.clone()
    }

    /// The pinned keys (current and retired).
    pub fn keyring(&self) -> Keyring {
        self.table().keyring.clone()
    }
}

/// A partner with its keys, for a list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartnerRow {
    pub name: String,
    pub organisation: String,
    pub reliability: String,
    pub taxii: Vec<String>,
    pub agreements: Vec<String>,
    pub relays_for: Vec<String>,
    pub keys: Vec<KeyRow>,
}

/// A pinned key: current, or retired (since when).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyRow {
    pub key: String,
    pub retired: Option<String>,
}

impl Node {
    /// The partners with their pinned keys (current and retired).
    pub fn partner_list(&self) -> Result<Vec<PartnerRow>> {
        let ring = self.partners()?.keyring();
        Ok(self
            .config()
            .partners
            .iter()
            .map(|p| PartnerRow {
                name: p.name.clone(),
                organisation: p.organisation.clone(),
                reliability: p.reliability.clone(),
                taxii: p.taxii.clone(),
                agreements: p.agreements.clone(),
                relays_for: p.relays_for.clone(),
                keys: ring
                    .keys()
                    .filter(|k| k.node == p.name)
                    .map(|k| KeyRow {
                        key: k.to_string(),
                        retired: k.retired.clone(),
                    })
                    .collect(),
            })
            .collect())
    }

    /// Stores objects a partner sent (canonical JSON): each must carry a provenance signature
    /// that verifies against the partner's pinned keys (or those of a node it may relay for);
    /// the rest are quarantined (logged first) before anything is stored. The admitted ones take
    /// the import path into `opts.collection`. What was quarantined is returned even when the
    /// import then fails.
    pub fn receive(
        &self,
        partner: &str,
        objects: Vec<String>,
        opts: &ImportOptions,
        progress: &dyn Progress,
    ) -> Result<(Vec<Quarantined>, Result<ImportSummary>)> {
        let (admitted, refused) = self.partners()?.sort_received(partner, objects)?;
        let quarantined = self.quarantine(&opts.collection, partner, refused)?;
        let opts = ImportOptions {
            from_partner: Some(partner.to_owned()),
            ..opts.clone()
        };
        let imported = crate::ingest::import::import_objects(self, &admitted, &opts, progress);
        Ok((quarantined, imported))
    }

    /// Imports files a partner sent, as [`Node::receive`] does.
    pub fn import_from_partner(
        &self,
        partner: &str,
        paths: &[std::path::PathBuf],
        opts: &ImportOptions,
        progress: &dyn Progress,
    ) -> Result<Received> {
        let mut received = Vec::new();
        let invalid = crate::ingest::sources::read_valid(paths, &mut |_, json| {
            received.push(json.to_owned());
            Ok(())
        })?;
        let (quarantined, summary) = self.receive(partner, received, opts, progress)?;
        let mut summary = summary?;
        summary.rejected += invalid.len() as u64;
        Ok(Received {
            summary,
            quarantined,
            invalid,
        })
    }

    /// Where syncing with `partner` got to, in `direction` (pull, push, push-withdrawals) for
    /// `collection`.
    pub fn sync_cursor(&self, partner: &str, direction: &str, collection: &str) -> Result<Option<String>> {
        Ok(accord_store::SyncStore::sync_cursor(
            self.store(),
            partner,
            direction,
            collection,
        )?)
    }

    /// Moves a sync cursor: only past what is durable on both sides.
    pub fn set_sync_cursor(&self, partner: &str, direction: &str, collection: &str, at: &str) -> Result<()> {
        let now = self.clock().now_micros();
        Ok(accord_store::SyncStore::set_sync_cursor(
            self.store(),
            partner,
            direction,
            collection,
            at,
            now,
        )?)
    }

    /// This node's provenance signer.
    pub fn provenance_signer(&self) -> Result<Arc<NodeSigner>> {
        Ok(self.partners()?.signer())
    }

    /// Replaces this node's provenance key. Returns the rotation statement, signed by the old
    /// key, that partners accept to pin the new one; the old key is kept beside it, retired.
    pub fn rotate_signing_key(&self) -> Result<String> {
        let at = accord_stix::Timestamp::format_micros(self.clock().now_micros());
        let old = self.provenance_signer()?;
        let seed = random_key()?;
        let new = NodeSigner::new(&self.config().node.name, &seed)?;
        let statement = old.rotate_to(&new.public(), &at);
        let current = self.dir().join(SIGNING_KEY_FILE);
        let retired = current.with_file_name(format!("signing.key.{}.retired", old.public().key_id));
        std::fs::rename(&current, &retired).map_err(NodeError::io(&current))?;
        write_private(&current, hex::encode(seed).as_bytes())?;
        self.partners()?
            .replace(PartnerTable::build(self, &self.config())?);
        Ok(statement)
    }

    /// Accepts a partner's key rotation statement: checked against its pinned key, then kept
    /// (named by its time, so that rotations apply in order). Returns the new key.
    pub fn accept_rotation(&self, statement: &str) -> Result<accord_provenance::PublicKey> {
        let mut ring = self.partners()?.keyring();
        let new = ring.apply_rotation(statement)?;
        let doc: Value = serde_json::from_str(statement)
            .map_err(|e| NodeError::Invalid(format!("rotation statement: {e}")))?;
        let at = doc["at"].as_str().unwrap_or_default().replace(':', "");
        let dir = self.dir().join(ROTATIONS_DIR);
        std::fs::create_dir_all(&dir).map_err(NodeError::io(&dir))?;
        let file = dir.join(format!("{at}-{}.json", new.key_id));
        std::fs::write(&file, statement.trim()).map_err(NodeError::io(&file))?;
        self.partners()?
            .replace(PartnerTable::build(self, &self.config())?);
        Ok(new)
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
