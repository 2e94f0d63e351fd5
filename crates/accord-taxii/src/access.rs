//! Authentication (HTTP Basic and Bearer API tokens, pinned client certificates) and the single
//! authorisation function every endpoint calls. The policy decision point plugs in at `authorize`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use accord_store::{TokenRecord, TokenStore};

use crate::error::TaxiiError;
use crate::model::{Directory, Principal};

/// A request's proven identity.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
}

/// The SHA-256 fingerprint of the client certificate a TLS connection presented, if any.
#[derive(Debug, Clone, Copy)]
pub struct PeerCertificate(pub [u8; 32]);

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
/// endpoint that touches a collection or the log calls this, and only this. Oversight principals
/// are refused every collection action, whatever rights a configuration gives them.
pub fn authorize(who: &Authenticated, action: Action, collection: &str) -> Result<(), TaxiiError> {
    let p = &who.principal;
    let has = |role: &str| p.roles.iter().any(|r| r == role);
    let allowed = match action {
        _ if action != Action::Audit && has(OVERSIGHT) => false,
        Action::See => p.read.covers(collection) || p.write.covers(collection),
        Action::Read => p.read.covers(collection),
        Action::Write | Action::Delete => p.write.covers(collection),
        Action::Audit => has(OVERSIGHT) || has(ADMIN),
    };
    if allowed {
        Ok(())
    } else {
        let what = match action {
            Action::See => "access",
            Action::Read => "read",
            Action::Write => "write to",
            Action::Delete => "delete from",
            Action::Audit => {
                return Err(TaxiiError::Forbidden(format!(
                    "{} may not read the audit log (it needs the oversight or admin role)",
                    p.name
                )));
            }
        };
        Err(TaxiiError::Forbidden(format!(
            "{} may not {what} collection {collection}",
            p.name
        )))
    }
}

/// How long a token looked up in the store is trusted before it is looked up again: revoking a
/// token takes effect on a running server within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Recently looked-up tokens (id → record), so that a busy client does not cost a store read per
/// request. Holds only what the store holds: the secret's hash, never the secret.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Option<TokenRecord>, Instant)>>,
}

impl TokenCache {
    fn get(&self, id: &str, tokens: &dyn TokenStore) -> Result<Option<TokenRecord>, TaxiiError> {
        let now = Instant::now();
        if let Some((record, at)) = self.entries.lock().ok().and_then(|m| m.get(id).cloned())
            && now.duration_since(at) < TOKEN_CACHE_TTL
        {
            return Ok(record);
        }
        let record = tokens.token(id)?;
        if let Ok(mut m) = self.entries.lock() {
            if m.len() > 10_000 {
                m.retain(|_, (_, at)| now.duration_since(*at) < TOKEN_CACHE_TTL);
            }
            m.insert(id.to_owned(), (record.clone(), now));
        }
        Ok(record)
    }
}

/// Proves who is asking: an `Authorization` header (Basic or Bearer) if present, else a pinned
/// client certificate. A wrong credential is never silently ignored in favour of another.
pub fn authenticate(
    headers: &HeaderMap,
    peer: Option<PeerCertificate>,
    directory: &Directory,
    tokens: &dyn TokenStore,
    cache: &TokenCache,
) -> Result<Authenticated, TaxiiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| TaxiiError::BadCredentials)?;
        let (scheme, rest) = value.split_once(' ').ok_or(TaxiiError::BadCredentials)?;
        let (id, secret) = if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD
                .decode(rest.trim())
                .map_err(|_| TaxiiError::BadCredentials)?;
            let text = String::from_utf8(decoded).map_err(|_| TaxiiError::BadCredentials)?;
            let (id, secret) = text.split_once(':').ok_or(TaxiiError::BadCredentials)?;
            (id.to_owned(), secret.to_owned())
        } else if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
            // `Token` is what taxii2-client's TokenAuth sends.
            let (id, secret) = rest.trim().split_once('.').ok_or(TaxiiError::BadCredentials)?;
            (id.to_owned(), secret.to_owned())
        } else {
            return Err(TaxiiError::BadCredentials);
        };
        let record = cache.get(&id, tokens)?.ok_or(TaxiiError::BadCredentials)?;
        if record.revoked_at.is_some() || !constant_time_eq(&record.secret_sha256, &sha256(secret.as_bytes()))
        {
            return Err(TaxiiError::BadCredentials);
        }
        let principal = directory
            .principals
            .get(&record.principal)
            .ok_or(TaxiiError::BadCredentials)?;
        return Ok(Authenticated {
            principal: principal.clone(),
        });
    }
    if let Some(PeerCertificate(fp)) = peer
        && let Some(principal) = directory
            .certificates
            .get(&fp)
            .and_then(|n| directory.principals.get(n))
    {
        return Ok(Authenticated {
            principal: principal.clone(),
        });
    }
    Err(TaxiiError::Unauthenticated)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares secrets (hashes, MAC tags) in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A newly issued token: the record to store and the secret to show once.
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

/// Issues a token for a principal: 256 random bits of secret, of which only the SHA-256 is kept.
pub fn issue_token(
    principal: &str,
    description: Option<String>,
    now_micros: i64,
) -> Result<IssuedToken, getrandom::Error> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)?;
    getrandom::fill(&mut secret)?;
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
