//! Who may use what: the principals a node knows, the one collection-level authorisation
//! function every edge calls, and API tokens (issued and revoked through the ledger, verified
//! against hashes). Whether an object version may reach a principal, and in what form, is the
//! gate's question, not this module's.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use accord_ledger::Event;
use accord_ledger::entry::TokenEvent;
use accord_store::{TokenRecord, TokenStore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{NodeError, Result};
use crate::node::Node;

/// Which collections a right covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Only(HashSet<String>),
}

impl Scope {
    pub fn covers(&self, collection: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(set) => set.contains(collection),
        }
    }
}

/// Someone making requests: a user or token holder of an organisation, or a partner node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub organisation: String,
    pub read: Scope,
    pub write: Scope,
    pub roles: Vec<String>,
}

impl Principal {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The principals the node knows, and the client certificates that identify partner nodes.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub principals: HashMap<String, Principal>,
    /// SHA-256 of a partner's DER certificate → principal name.
    pub certificates: HashMap<[u8; 32], String>,
}

/// What a request wants to do with a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See that the collection exists (collection listings and metadata).
    See,
    /// Read objects, manifests and versions.
    Read,
    /// Add objects, read the status of additions.
    Write,
    /// Delete objects.
    Delete,
    /// Read the transparency log: entries, checkpoints, proofs, oversight queries. Never object
    /// content.
    Audit,
}

/// The role that may read the transparency log and never object content.
pub const OVERSIGHT: &str = "oversight";
/// The role of the node's operators, who may also read the transparency log.
pub const ADMIN: &str = "admin";

/// Decides whether `who` may perform `action` on `collection` (for `Audit`, the log). Every
/// edge that touches a collection or the log calls this, and only this.
pub fn authorize(who: &Principal, action: Action, collection: &str) -> Result<()> {
    // INVARIANT: oversight principals are refused every collection action, whatever rights a
    // configuration gives them: they verify the rules, they never read content.
    let allowed = match action {
        _ if action != Action::Audit && who.has_role(OVERSIGHT) => false,
        Action::See => who.read.covers(collection) || who.write.covers(collection),
        Action::Read => who.read.covers(collection),
        Action::Write | Action::Delete => who.write.covers(collection),
        Action::Audit => who.has_role(OVERSIGHT) || who.has_role(ADMIN),
    };
    if allowed {
        return Ok(());
    }
    let what = match action {
        Action::See => "access",
        Action::Read => "read",
        Action::Write => "write to",
        Action::Delete => "delete from",
        Action::Audit => {
            return Err(NodeError::Forbidden(format!(
                "{} may not read the ledger (it needs the oversight or admin role)",
                who.name
            )));
        }
    };
    Err(NodeError::Forbidden(format!(
        "{} may not {what} collection {collection}",
        who.name
    )))
}

/// How long a token looked up in the store is trusted before it is looked up again. A token
/// revoked through this node's own services is dropped from the cache at once; one revoked by
/// another process (`accord token revoke` beside a running server) stops working within this.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Recently looked-up tokens (id → record and when it was read, on the node's monotonic clock),
/// so that a busy client does not cost a store read per request. Holds only what the store
/// holds: the secret's hash, never the secret.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<String, (Option<TokenRecord>, Duration)>>,
}

impl TokenCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<TokenRecord>, Duration)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: &str, now: Duration, tokens: &dyn TokenStore) -> Result<Option<TokenRecord>> {
        if let Some((record, at)) = self.entries().get(id).cloned()
            && now.saturating_sub(at) < TOKEN_CACHE_TTL
        {
            return Ok(record);
        }
        let record = tokens.token(id)?;
        let mut m = self.entries();
        if m.len() > 10_000 {
            m.retain(|_, (_, at)| now.saturating_sub(*at) < TOKEN_CACHE_TTL);
        }
        m.insert(id.to_owned(), (record.clone(), now));
        Ok(record)
    }

    fn forget(&self, id: &str) {
        self.entries().remove(id);
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A newly issued token: the record stored and the secret, shown once.
#[derive(Debug)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub secret: String,
}

impl IssuedToken {
    /// The value for `Authorization: Bearer …`.
    pub fn bearer(&self) -> String {
        format!("{}.{}", self.record.id, self.secret)
    }
}

/// A new token for a principal: 256 random bits of secret, of which only the SHA-256 is kept.
fn new_token(principal: &str, description: Option<String>, now_micros: i64) -> Result<IssuedToken> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|e| NodeError::Internal(format!("no randomness for a token: {e}")))?;
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let record = TokenRecord {
        id: format!("tok-{}", hex::encode(id)),
        principal: principal.to_owned(),
        secret_sha256: sha256(secret.as_bytes()),
        description,
        created_at: now_micros,
        revoked_at: None,
    };
    Ok(IssuedToken { record, secret })
}

fn token_event(action: &str, id: &str, principal: &str) -> Event {
    Event::Token(TokenEvent {
        action: action.to_owned(),
        token: id.to_owned(),
        principal: principal.to_owned(),
    })
}

impl Node {
    /// The principal a token id and secret prove, if they do: `None` for an unknown or revoked
    /// token or a wrong secret (never told apart).
    pub fn token_principal(&self, id: &str, secret: &str) -> Result<Option<Principal>> {
        let now = self.clock().elapsed();
        let Some(record) = self.token_cache().get(id, now, self.store())? else {
            return Ok(None);
        };
        // INVARIANT: secrets are compared as hashes in constant time; only hashes are stored.
        let matches: bool = record.secret_sha256.ct_eq(&sha256(secret.as_bytes())).into();
        if record.revoked_at.is_some() || !matches {
            return Ok(None);
        }
        Ok(self.directory().principals.get(&record.principal).cloned())
    }

    /// The principal a pinned client certificate (SHA-256 of its DER) identifies.
    pub fn certificate_principal(&self, fingerprint: &[u8; 32]) -> Option<Principal> {
        let dir = self.directory();
        dir.certificates
            .get(fingerprint)
            .and_then(|n| dir.principals.get(n))
            .cloned()
    }

    /// Issues an API token for a declared principal. The secret is returned once and only its
    /// hash is kept.
    pub fn issue_token(&self, principal: &str, description: Option<String>) -> Result<IssuedToken> {
        let config = self.config();
        if !config.principals.iter().any(|p| p.name == principal) {
            let known: Vec<&str> = config.principals.iter().map(|p| p.name.as_str()).collect();
            return Err(NodeError::Invalid(format!(
                "no principal {principal:?} in accord.toml; declared: {}",
                known.join(", ")
            )));
        }
        let issued = new_token(principal, description, self.clock().now_micros())?;
        // INVARIANT: logged before the token exists, so that no credential is ever unaccounted for.
        self.log(vec![token_event("issued", &issued.record.id, principal)])?;
        self.store().add_token(&issued.record)?;
        Ok(issued)
    }

    /// Revokes an active token (logged first); false when there is no active token of that id.
    pub fn revoke_token(&self, id: &str) -> Result<bool> {
        let Some(record) = self.store().token(id)?.filter(|t| t.revoked_at.is_none()) else {
            return Ok(false);
        };
        self.log(vec![token_event("revoked", id, &record.principal)])?;
        let revoked = self.store().revoke_token(id, self.clock().now_micros())?;
        self.token_cache().forget(id);
        Ok(revoked)
    }

    /// Every token, active and revoked (hashes only).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self.store().tokens()?)
    }
}
