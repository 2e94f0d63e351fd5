//! Checkpoints (C2SP `tlog-checkpoint`) as C2SP signed notes with Ed25519: the node signs its
//! tree head; anyone holding the verifier key (`name+keyid+base64(0x01 ‖ key)`) can check it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// The prefix of a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note or key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("invalid key name {0:?}: it must be non-empty and contain no spaces, '+' or control characters")]
    KeyName(String),
    #[error("invalid verifier key {key:?}: {reason}")]
    VerifierKey { key: String, reason: String },
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
    #[error("the note has no signature by {name} (key id {id})")]
    NoSignature { name: String, id: String },
    #[error("the signature by {name} does not verify")]
    BadSignature { name: String },
}

/// A signed tree head: the log's origin, its size, and the root hash at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, each on its own line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// Parses a note text. Extension lines after the root are allowed and ignored.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |m: String| NoteError::Checkpoint(m);
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line".into()))?;
        let size = lines.next().ok_or_else(|| bad("no tree size line".into()))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad(format!("tree size {size:?} is not a decimal number")));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad(format!("tree size {size:?} is too large")))?;
        let root = lines.next().ok_or_else(|| bad("no root hash line".into()))?;
        let root: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad(format!("root hash {root:?} is not 32 bytes of base64")))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
    {
        return Err(NoteError::KeyName(name.to_owned()));
    }
    Ok(())
}

fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The node's checkpoint signing key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` (conventionally the log origin) with an Ed25519 seed.
    pub fn new(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, &key.verifying_key());
        Ok(NoteSigner {
            name: name.to_owned(),
            key,
            id,
        })
    }

    /// Signs a checkpoint, giving the whole signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        self.sign_text(&checkpoint.body())
    }

    /// Signs a note text (which ends in a newline), giving the whole signed note.
    pub fn sign_text(&self, body: &str) -> String {
        let signature = self.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.id);
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{body}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }

    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }
}

/// A public key that checkpoints are checked against, pinned by whoever verifies the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut blob = vec![ED25519];
        blob.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            STANDARD.encode(blob)
        )
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = NoteError;

    /// Parses `name+keyid+base64(0x01 ‖ public key)`.
    fn from_str(s: &str) -> Result<Self, NoteError> {
        let s = s.trim();
        let bad = |reason: &str| NoteError::VerifierKey {
            key: s.to_owned(),
            reason: reason.to_owned(),
        };
        // The base64 key may itself contain '+'; the name and id never do.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+keyid+key"));
        };
        check_name(name)?;
        let mut given = [0u8; 4];
        hex::decode_to_slice(id, &mut given).map_err(|_| bad("the key id is not 8 hex digits"))?;
        let blob = STANDARD.decode(key).map_err(|_| bad("the key is not base64"))?;
        let (&kind, raw) = blob.split_first().ok_or_else(|| bad("the key is empty"))?;
        if kind != ED25519 {
            return Err(bad("only Ed25519 keys (type 0x01) are supported"));
        }
        let raw: [u8; 32] = raw.try_into().map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad("not a valid Ed25519 point"))?;
        if key_id(name, &key) != given {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id: given,
            key,
        })
    }
}

impl VerifierKey {
    /// Checks a signed note's signature by this key and parses the checkpoint it carries.
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse_body(self.verify_note(note)?)
    }

    /// Checks a signed note's signature by this key, giving the signed text.
    pub fn verify_note<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        if note.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(NoteError::Malformed("control character in note".into()));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
        let (body, signatures) = (&note[..=split], &note[split + 2..]);
        if !signatures.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the last signature line does not end in a newline".into(),
            ));
        }
        for line in signatures.lines() {
            let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
                NoteError::Malformed(format!("signature line {line:?} does not start with an em dash"))
            })?;
            let (name, sig) = rest
                .split_once(' ')
                .ok_or_else(|| NoteError::Malformed(format!("signature line {line:?} has no signature")))?;
            let blob = STANDARD
                .decode(sig)
                .map_err(|_| NoteError::Malformed(format!("signature by {name} is not base64")))?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.id {
                continue; // Another signer's line (a witness, say): not ours to check.
            }
            let signature = <[u8; 64]>::try_from(&blob[4..])
                .map(|b| Signature::from_bytes(&b))
                .map_err(|_| NoteError::BadSignature {
                    name: name.to_owned(),
                })?;
            self.key
                .verify_strict(body.as_bytes(), &signature)
                .map_err(|_| NoteError::BadSignature {
                    name: name.to_owned(),
                })?;
            return Ok(body);
        }
        Err(NoteError::NoSignature {
            name: self.name.clone(),
            id: hex::encode(self.id),
        })
    }
}
