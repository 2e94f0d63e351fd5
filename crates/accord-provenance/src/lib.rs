//! Signed provenance for STIX objects exchanged between nodes. A node signs each object version
//! it originates (or redacts) with its Ed25519 key: the signature covers the object's RFC 8785
//! canonical form with the signature itself and the relay path left out, and travels in an
//! Accord property extension with the signer, key id and signing time. Receivers verify against
//! keys they pinned for each partner; a key is replaced only by a rotation statement signed by
//! the key it replaces. [`inbound`] gives the verdict that admits an object or quarantines it.
//! Pure: no I/O.

mod batch;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The Accord provenance extension (a STIX 2.1 property extension).
pub const EXTENSION_ID: &str = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10";

/// Signatures worth verifying together with [`Keyring::verify_canonical`]: a batch of this size
/// from one key costs about a quarter as much per signature as checking each alone (about 12 µs
/// against 46 µs on this project's machine), and is small enough to spread an envelope over the
/// cores.
pub const BATCH: usize = 256;

/// Bytes signed are this prefix and the canonical JSON, so that a provenance signature can never
/// be taken for a signature of anything else the key signs.
const DOMAIN: &[u8] = b"accord-provenance-v1\n";
const ROTATION_DOMAIN: &[u8] = b"accord-key-rotation-v1\n";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceError {
    #[error("{0} is not a STIX object (a JSON object)")]
    NotAnObject(String),
    #[error("public key {0:?} is not of the form NODE+KEYID+BASE64 (32-byte Ed25519 key)")]
    BadPublicKey(String),
    #[error("node name {0:?} must be non-empty, without '+' or white space")]
    BadNodeName(String),
    #[error("rotation statement: {0}")]
    BadRotation(String),
    #[error("the signing key was refused: {0}")]
    BadSeed(String),
}

/// Why an object's provenance does not verify. Each is a reason to quarantine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    #[error("no provenance signature")]
    Unsigned,
    #[error("malformed provenance extension: {0}")]
    Malformed(String),
    #[error("signed with key {key_id} of {signer:?}, which is not pinned")]
    UnknownKey { signer: String, key_id: String },
    #[error("key {key_id} belongs to {owner:?}, not to the claimed signer {signer:?}")]
    WrongSigner {
        signer: String,
        key_id: String,
        owner: String,
    },
    #[error("key {key_id} was retired at {retired} and cannot sign at {signed_at}")]
    RetiredKey {
        key_id: String,
        retired: String,
        signed_at: String,
    },
    #[error("the signature does not match the content (altered after signing)")]
    BadSignature,
    #[error("{sender:?} may not relay objects signed by {signer:?}")]
    NotAllowedToRelay { sender: String, signer: String },
}

/// What a verified signature proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The node that signed (the originator, or the node that redacted this copy).
    pub signer: String,
    pub key_id: String,
    pub signed_at: String,
    /// For a redacted copy: the content hash of the original it was made from.
    pub original_hash: Option<String>,
    /// Nodes the object passed through before the one that sent it here (not signed: each
    /// relay appends itself).
    pub path: Vec<String>,
}

/// The id of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A node's public key as it is pinned by partners: `NODE+KEYID+BASE64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub node: String,
    pub key_id: String,
    pub key: VerifyingKey,
    /// Set when the key was rotated out: signatures dated at or after this are refused.
    pub retired: Option<String>,
}

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, ProvenanceError> {
        let bad = || ProvenanceError::BadPublicKey(text.to_owned());
        // Base64 may contain '+'; node names and key ids may not.
        let mut parts = text.trim().splitn(3, '+');
        let (node, id, b64) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let bytes: [u8; 32] = B64
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        // A small-order key would let batch verification accept what single verification refuses.
        if node.is_empty() || key.is_weak() || key_id(&key) != id {
            return Err(bad());
        }
        Ok(PublicKey {
            node: node.to_owned(),
            key_id: id.to_owned(),
            key,
            retired: None,
        })
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}+{}+{}",
            self.node,
            self.key_id,
            B64.encode(self.key.as_bytes())
        )
    }
}

/// A node's signing key.
#[derive(Debug)]
pub struct NodeSigner {
    node: String,
    key: SigningKey,
    /// The same key, for signing objects: AWS-LC's Ed25519 is faster than ed25519-dalek's, and
    /// Ed25519 being deterministic, both give the same signature (tested).
    fast: aws_lc_rs::signature::Ed25519KeyPair,
    key_id: String,
}

impl NodeSigner {
    /// A signer for `node` (a name without '+' or white space) from a 32-byte secret seed.
    pub fn new(node: &str, seed: &[u8; 32]) -> Result<NodeSigner, ProvenanceError> {
        if node.is_empty() || node.contains('+') || node.contains(char::is_whitespace) {
            return Err(ProvenanceError::BadNodeName(node.to_owned()));
        }
        let key = SigningKey::from_bytes(seed);
        let fast = aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(
            seed,
            key.verifying_key().as_bytes(),
        )
        .map_err(|e| ProvenanceError::BadSeed(e.to_string()))?;
        Ok(NodeSigner {
            node: node.to_owned(),
            key_id: key_id(&key.verifying_key()),
            key,
            fast,
        })
    }

    /// The node name it signs as.
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            node: self.node.clone(),
            key_id: self.key_id.clone(),
            key: self.key.verifying_key(),
            retired: None,
        }
    }

    /// `object` with this node's provenance signature (replacing any earlier one and any relay
    /// path). `original` is the content hash of the object a redacted copy was made from.
    pub fn sign(
        &self,
        object: Value,
        signed_at: &str,
        original: Option<&str>,
    ) -> Result<Value, ProvenanceError> {
        let text = self.sign_canonical(
            &accord_stix::jcs::to_canonical_string(&object),
            signed_at,
            original,
        )?;
        serde_json::from_str(&text).map_err(|e| ProvenanceError::NotAnObject(e.to_string()))
    }

    /// As [`NodeSigner::sign`], from and to RFC 8785 canonical JSON (the form the store keeps):
    /// only the object's top-level members and its extensions are parsed; every other member is
    /// copied as it is. Text that is not canonical yields a signature that does not verify.
    pub fn sign_canonical(
        &self,
        canonical: &str,
        signed_at: &str,
        original: Option<&str>,
    ) -> Result<String, ProvenanceError> {
        let not_object = || ProvenanceError::NotAnObject(canonical.chars().take(60).collect());
        let members: HashMap<String, &RawValue> =
            serde_json::from_str(canonical).map_err(|_| not_object())?;
        let mut extensions: Map<String, Value> = members
            .get("extensions")
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default();
        let mut ext = Map::new();
        ext.insert("extension_type".into(), Value::from("property-extension"));
        ext.insert("signer".into(), Value::from(self.node.clone()));
        ext.insert("key_id".into(), Value::from(self.key_id.clone()));
        ext.insert("signed_at".into(), Value::from(signed_at));
        if let Some(h) = original {
            ext.insert("original_hash".into(), Value::from(h));
        }
        extensions.insert(EXTENSION_ID.into(), Value::Object(ext));
        let mut keys: Vec<&str> = members.keys().map(String::as_str).collect();
        if !members.contains_key("extensions") {
            keys.push("extensions");
        }
        keys.sort_unstable_by(|a, b| accord_stix::jcs::utf16_cmp(a, b));
        let mut ext_keys: Vec<&String> = extensions.keys().collect();
        ext_keys.sort_unstable_by(|a, b| accord_stix::jcs::utf16_cmp(a, b));
        // The signed bytes: the members in canonical order, the extensions written here so that
        // the offset of this node's extension is known; it has neither a signature nor a path yet.
        let mut bytes = Vec::with_capacity(DOMAIN.len() + canonical.len() + 256);
        bytes.extend_from_slice(DOMAIN);
        let mut ours = 0..0;
        let key = |k: &str, out: &mut Vec<u8>| {
            accord_stix::jcs::write_canonical(&Value::from(k), out);
            out.push(b':');
        };
        bytes.push(b'{');
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                bytes.push(b',');
            }
            key(k, &mut bytes);
            match members.get(*k) {
                Some(raw) if *k != "extensions" => bytes.extend_from_slice(raw.get().as_bytes()),
                _ => {
                    bytes.push(b'{');
                    for (j, e) in ext_keys.iter().enumerate() {
                        if j > 0 {
                            bytes.push(b',');
                        }
                        key(e, &mut bytes);
                        let start = bytes.len();
                        accord_stix::jcs::write_canonical(&extensions[e.as_str()], &mut bytes);
                        if e.as_str() == EXTENSION_ID {
                            ours = start..bytes.len();
                        }
                    }
                    bytes.push(b'}');
                }
            }
        }
        bytes.push(b'}');
        let signature = B64.encode(self.fast.sign(&bytes));
        // In canonical order "signature" comes right before "signed_at", which this extension
        // has; inside it, `,"signed_at":` can only be that key (quotes in values are escaped).
        let at = bytes[ours.clone()]
            .windows(13)
            .position(|w| w == b",\"signed_at\":")
            .map(|i| ours.start + i - DOMAIN.len())
            .ok_or_else(not_object)?;
        let text = std::str::from_utf8(&bytes[DOMAIN.len()..]).map_err(|_| not_object())?;
        Ok(format!(
            "{},\"signature\":\"{signature}\"{}",
            &text[..at],
            &text[at..]
        ))
    }

    /// A statement, signed by this key, that `next` replaces it from `at` on.
    pub fn rotate_to(&self, next: &PublicKey, at: &str) -> String {
        let body = rotation_body(&self.node, &self.key_id, next, at);
        let signature = self.key.sign(&[ROTATION_DOMAIN, body.as_bytes()].concat());
        let mut doc = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
        doc["signature"] = Value::from(B64.encode(signature.to_bytes()));
        accord_stix::jcs::to_canonical_string(&doc)
    }
}

fn rotation_body(node: &str, old: &str, next: &PublicKey, at: &str) -> String {
    accord_stix::jcs::to_canonical_string(&json!({
        "type": "accord-key-rotation",
        "node": node,
        "old_key_id": old,
        "new_key": next.to_string(),
        "at": at,
    }))
}

/// Where the Accord extension sits in an object's canonical JSON text, and its members.
struct Located {
    start: usize,
    end: usize,
    ext: Map<String, Value>,
}

/// Finds the Accord extension in canonical JSON text without building the whole object: the
/// text around it is what was signed, as is, once the extension is re-serialised without its
/// signature and path. Text that is not canonical cannot verify (the bytes differ from what was
/// signed), so nothing is accepted that should not be.
///
/// Canonical text is read member by member without parsing the others
/// ([`accord_stix::jcs::canonical_members`]); other text is parsed whole, for the error it
/// deserves.
fn locate(text: &str) -> Result<Located, Unverified> {
    type Extensions<'a> = HashMap<std::borrow::Cow<'a, str>, &'a RawValue>;
    #[derive(serde::Deserialize)]
    struct Shell<'a> {
        #[serde(borrow, default)]
        extensions: Option<Extensions<'a>>,
    }
    let malformed = |e: serde_json::Error| {
        Unverified::Malformed(format!("not a JSON object with an extensions object: {e}"))
    };
    let extensions: Option<Extensions<'_>> = match accord_stix::jcs::canonical_members(text) {
        Some(members) => match members.into_iter().find(|(k, _)| *k == "extensions") {
            Some((_, value)) => Some(serde_json::from_str(value).map_err(malformed)?),
            None => None,
        },
        None => {
            serde_json::from_str::<Shell<'_>>(text)
                .map_err(malformed)?
                .extensions
        }
    };
    let raw = extensions
        .and_then(|mut e| e.remove(EXTENSION_ID))
        .ok_or(Unverified::Unsigned)?;
    // The raw value borrows from `text`: its offset there is the distance between the pointers.
    let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let end = start + raw.get().len();
    let ext = serde_json::from_str(raw.get())
        .map_err(|_| Unverified::Malformed("the extension is not a JSON object".into()))?;
    Ok(Located { start, end, ext })
}

/// The partner keys a node has pinned.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: HashMap<String, PublicKey>,
}

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn pin(&mut self, key: PublicKey) {
        self.keys.insert(key.key_id.clone(), key);
    }

    pub fn get(&self, key_id: &str) -> Option<&PublicKey> {
        self.keys.get(key_id)
    }

    /// Every pinned key, current and retired, in key id order.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        let mut keys: Vec<&PublicKey> = self.keys.values().collect();
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        keys.into_iter()
    }

    /// Accepts a rotation statement if the key it retires is pinned for that node and signed
    /// it; the new key is pinned and the old one retired from the statement's time on.
    pub fn apply_rotation(&mut self, statement: &str) -> Result<PublicKey, ProvenanceError> {
        let bad = |m: &str| ProvenanceError::BadRotation(m.to_owned());
        let doc: Value = serde_json::from_str(statement).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let field = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(&format!("no {k}")))
        };
        if field("type")? != "accord-key-rotation" {
            return Err(bad("type is not accord-key-rotation"));
        }
        let (node, old_id, at) = (field("node")?, field("old_key_id")?, field("at")?);
        accord_stix::Timestamp::parse(at).map_err(|e| bad(&format!("at: {e}")))?;
        let next = PublicKey::parse(field("new_key")?)?;
        if next.node != node {
            return Err(bad("the new key names another node"));
        }
        let old = self
            .keys
            .get(old_id)
            .filter(|k| k.node == node)
            .ok_or_else(|| bad(&format!("key {old_id} of {node:?} is not pinned")))?;
        if old.retired.is_some() {
            return Err(bad(&format!("key {old_id} was already retired")));
        }
        let signature = B64
            .decode(field("signature")?)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| bad("malformed signature"))?;
        let body = rotation_body(node, old_id, &next, at);
        old.key
            .verify(&[ROTATION_DOMAIN, body.as_bytes()].concat(), &signature)
            .map_err(|_| bad(&format!("not signed by the pinned key {old_id}")))?;
        let at = at.to_owned();
        if let Some(k) = self.keys.get_mut(old_id) {
            k.retired = Some(at);
        }
        self.pin(next.clone());
        Ok(next)
    }

    /// Verifies the provenance signature of `object`.
    pub fn verify(&self, object: &Value) -> Result<Provenance, Unverified> {
        let text = accord_stix::jcs::to_canonical_string(object);
        self.verify_canonical(&[&text])
            .pop()
            .unwrap_or(Err(Unverified::Unsigned))
    }

    /// Verifies the provenance signatures of objects given as RFC 8785 canonical JSON (as the
    /// validator and the store keep them), one verdict each, in order. The signatures whose
    /// extension is well formed and whose key is pinned and current are checked together (one
    /// Ed25519 batch verification, a fraction of the cost of checking each); if the batch fails,
    /// each is checked alone to find which.
    pub fn verify_canonical(&self, texts: &[&str]) -> Vec<Result<Provenance, Unverified>> {
        let mut results = Vec::with_capacity(texts.len());
        let (mut at, mut messages, mut signatures, mut keys) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, text) in texts.iter().enumerate() {
            match locate(text).and_then(|mut l| Ok((self.claim(&mut l.ext)?, l))) {
                Ok(((provenance, key, signature), l)) => {
                    let mut message = Vec::with_capacity(DOMAIN.len() + text.len());
                    message.extend_from_slice(DOMAIN);
                    message.extend_from_slice(&text.as_bytes()[..l.start]);
                    accord_stix::jcs::write_canonical(&Value::Object(l.ext), &mut message);
                    message.extend_from_slice(&text.as_bytes()[l.end..]);
                    at.push(i);
                    messages.push(message);
                    signatures.push(signature);
                    keys.push(key);
                    results.push(Ok(provenance));
                }
                Err(why) => results.push(Err(why)),
            }
        }
        let slices: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        if !batch::verify_batch(&slices, &signatures, &keys) {
            for (((i, message), signature), key) in at.into_iter().zip(slices).zip(&signatures).zip(&keys) {
                if key.verify(message, signature).is_err() {
                    results[i] = Err(Unverified::BadSignature);
                }
            }
        }
        results
    }

    /// What an extension claims, checked against the keyring: the provenance, the key and the
    /// signature to verify. The signature and the path are taken out of `ext`, leaving what was
    /// signed.
    fn claim(
        &self,
        ext: &mut Map<String, Value>,
    ) -> Result<(Provenance, VerifyingKey, Signature), Unverified> {
        let field = |ext: &Map<String, Value>, k: &str| {
            ext.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Unverified::Malformed(format!("{k} is missing or not a string")))
        };
        let (signer, key_id, signed_at) = (
            field(ext, "signer")?,
            field(ext, "key_id")?,
            field(ext, "signed_at")?,
        );
        let signature = field(ext, "signature")?;
        ext.remove("signature");
        let at = accord_stix::Timestamp::parse(&signed_at)
            .map_err(|e| Unverified::Malformed(format!("signed_at: {e}")))?;
        let path = match ext.remove("path") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Unverified::Malformed("path must be a list of node names".into()))?,
            Some(_) => return Err(Unverified::Malformed("path must be a list of node names".into())),
        };
        let key = self.keys.get(&key_id).ok_or_else(|| Unverified::UnknownKey {
            signer: signer.clone(),
            key_id: key_id.clone(),
        })?;
        if key.node != signer {
            return Err(Unverified::WrongSigner {
                signer,
                key_id,
                owner: key.node.clone(),
            });
        }
        if let Some(retired) = &key.retired
            && accord_stix::Timestamp::parse(retired).is_ok_and(|r| at >= r)
        {
            return Err(Unverified::RetiredKey {
                key_id,
                retired: retired.clone(),
                signed_at,
            });
        }
        let signature = B64
            .decode(&signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| Unverified::Malformed("signature is not a base64 Ed25519 signature".into()))?;
        let provenance = Provenance {
            signer,
            key_id,
            signed_at,
            original_hash: ext
                .get("original_hash")
                .and_then(Value::as_str)
                .map(str::to_owned),
            path,
        };
        Ok((provenance, key.key, signature))
    }
}

/// `object` with `node` appended to its relay path (outside the signature).
pub fn with_hop(mut object: Value, node: &str) -> Value {
    if let Some(ext) = object
        .get_mut("extensions")
        .and_then(|e| e.get_mut(EXTENSION_ID))
        .and_then(Value::as_object_mut)
    {
        let path = ext.entry("path").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(p) = path {
            p.push(Value::from(node));
        }
    }
    object
}

/// The verdicts on objects received from `sender` (as canonical JSON), in order: each object's provenance if its
/// signature verifies against a pinned key and `sender` may relay what its signer signed (always,
/// for its own objects); otherwise the reason to quarantine it.
pub fn inbound(
    keyring: &Keyring,
    canonical: &[&str],
    sender: &str,
    may_relay: impl Fn(&str, &str) -> bool,
) -> Vec<Result<Provenance, Unverified>> {
    keyring
        .verify_canonical(canonical)
        .into_iter()
        .map(|verdict| {
            let p = verdict?;
            if p.signer != sender && !may_relay(sender, &p.signer) {
                return Err(Unverified::NotAllowedToRelay {
                    sender: sender.to_owned(),
                    signer: p.signer,
                });
            }
            Ok(p)
        })
        .collect()
}

/// The node an object's provenance extension names as its signer, without verifying anything:
/// for objects whose signature was verified on arrival.
pub fn claimed_signer(canonical: &str) -> Option<String> {
    let ext = accord_stix::jcs::select(canonical, &["extensions"])?;
    ext.get("extensions")?
        .get(EXTENSION_ID)?
        .get("signer")?
        .as_str()
        .map(str::to_owned)
}

/// Whether two copies of an object (JSON text) are the same apart from their provenance
/// extension: one version signed again after a key rotation, or relayed along another path.
pub fn same_apart_from_provenance(a: &str, b: &str) -> bool {
    let strip = |text: &str| {
        let mut v: Value = serde_json::from_str(text).ok()?;
        let map = v.as_object_mut()?;
        if let Some(e) = map.get_mut("extensions").and_then(Value::as_object_mut) {
            e.remove(EXTENSION_ID);
            // Signing adds `extensions` to an object that had none.
            if e.is_empty() {
                map.remove("extensions");
            }
        }
        Some(v)
    };
    matches!((strip(a), strip(b)), (Some(x), Some(y)) if x == y)
}

/// The signer and the nodes an object says it passed through, without verifying anything (for
/// objects verified when they arrived), from the object's JSON text; only its extension is parsed.
pub fn claimed_path(object: &str) -> Option<Vec<String>> {
    let ext = locate(object).ok()?.ext;
    let mut nodes = vec![ext.get("signer")?.as_str()?.to_owned()];
    for n in ext.get("path").and_then(Value::as_array).into_iter().flatten() {
        nodes.push(n.as_str()?.to_owned());
    }
    Some(nodes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Objects are signed with AWS-LC and verified with ed25519-dalek: for any key and
        /// message both must give the same (deterministic, RFC 8032) signature.
        #[test]
        fn both_implementations_sign_alike(seed in any::<[u8; 32]>(), message in proptest::collection::vec(any::<u8>(), 0..600)) {
            let signer = NodeSigner::new("node-a", &seed).expect("a valid node name");
            let (aws_lc, dalek) = (signer.fast.sign(&message), signer.key.sign(&message).to_bytes());
            prop_assert_eq!(aws_lc.as_ref(), dalek.as_slice());
        }
    }
}
