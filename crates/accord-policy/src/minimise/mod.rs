//! Data minimisation on egress, in four parts: `detect` (what is personal data where: a table
//! of STIX types and properties, and detectors for every other string an object holds),
//! `transform` (drop, generalise, pseudonymise with a keyed HMAC stable per agreement, or mask,
//! as the redaction profile says), `pattern` (the same inside indicator patterns, parsed and
//! printed back canonically) and `references` (new deterministic SCO ids, references rewritten
//! to them, references to withheld objects removed).

use std::cell::RefCell;
use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::profile::{Category, Profile, Transform};

mod detect;
mod pattern;
mod references;
mod transform;

pub use detect::{Holds, PERSONAL_DATA, People, Property, Rule, When, individual_name};
pub use pattern::UNREADABLE as UNREADABLE_PATTERN;
pub use references::is_redactable;
pub use transform::generalise_ip;

use references::Fate;

/// One redaction, recorded with its reason (what kind of data, never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redaction {
    pub object: String,
    pub path: String,
    pub category: &'static str,
    pub transform: Transform,
}

/// The object as a whole is withheld (it is itself the personal data, or it depends on an
/// object that is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld(pub Vec<Redaction>);

/// Applies one profile with one key.
pub struct Minimiser<'a> {
    profile: &'a Profile,
    key: [u8; 32],
    /// What becomes of each referenced object (kept, renamed, withheld), worked out once.
    fates: RefCell<HashMap<String, Fate>>,
    /// Names of individuals (from `identity` objects), found wherever else they are written.
    people: &'a People,
}

impl std::fmt::Debug for Minimiser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minimiser")
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

/// The per-agreement pseudonymisation key, derived from the node's master key.
pub fn agreement_key(master: &[u8; 32], agreement: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(b"accord pseudonym key\0");
    mac.update(agreement.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The redactions of the object being minimised.
struct Ctx {
    id: String,
    records: Vec<Redaction>,
    /// The values redacted so far (never recorded), whose hashes must not stay behind.
    redacted: Vec<(String, Category)>,
}

impl Ctx {
    fn new(id: &str) -> Ctx {
        Ctx {
            id: id.to_owned(),
            records: Vec::new(),
            redacted: Vec::new(),
        }
    }

    fn note(&mut self, path: &str, category: &'static str, transform: Transform) {
        self.records.push(Redaction {
            object: self.id.clone(),
            path: path.to_owned(),
            category,
            transform,
        });
    }
}

impl<'a> Minimiser<'a> {
    /// `people` are names of individuals known to the caller (identities in the page and the
    /// store); they are redacted wherever they occur, as whole words, not only in their identity.
    pub fn new(profile: &'a Profile, key: [u8; 32], people: &'a People) -> Self {
        Minimiser {
            profile,
            key,
            fates: RefCell::new(HashMap::new()),
            people,
        }
    }

    /// Minimises `object` in place. `resolve` looks up objects it references (from the same page
    /// or the store), so that references to redacted SCOs follow their new ids.
    pub fn apply(
        &self,
        object: &mut Map<String, Value>,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<Vec<Redaction>, Withheld> {
        let mut cx = Ctx::new(object.get("id").and_then(Value::as_str).unwrap_or_default());
        if self.redact(object, &mut cx, resolve) {
            Ok(cx.records)
        } else {
            Err(Withheld(cx.records))
        }
    }
}

fn type_of(o: &Map<String, Value>) -> String {
    o.get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
