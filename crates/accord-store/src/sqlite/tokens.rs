//! API tokens ([`TokenStore`]): only the SHA-256 of each secret is stored.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db};
use crate::{Result, TokenRecord, TokenStore};

fn read_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let hash: Vec<u8> = r.get(2)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        principal: r.get(1)?,
        secret_sha256: hash.try_into().unwrap_or([0; 32]),
        description: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

impl TokenStore for SqliteStore {
    fn add_token(&self, t: &TokenRecord) -> Result<()> {
        self.with_writer(|c| {
            c.execute(
                "INSERT INTO tokens (id, principal, secret_sha256, description, created_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    t.id,
                    t.principal,
                    &t.secret_sha256[..],
                    t.description,
                    t.created_at,
                    t.revoked_at
                ],
            )
            .map_err(db("adding a token"))?;
            Ok(())
        })
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(
                "SELECT id, principal, secret_sha256, description, created_at, revoked_at FROM tokens WHERE id = ?1",
            )
            .and_then(|mut s| s.query_row([id], read_token).optional())
            .map_err(db("reading a token"))
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.with_reader(|c| {
            c.prepare(
                "SELECT id, principal, secret_sha256, description, created_at, revoked_at FROM tokens ORDER BY created_at",
            )
            .and_then(|mut s| s.query_map([], read_token)?.collect())
            .map_err(db("listing tokens"))
        })
    }

    fn revoke_token(&self, id: &str, at: i64) -> Result<bool> {
        self.with_writer(|c| {
            // Only an active token: a revoked one keeps the time it was first revoked.
            let n = c
                .execute(
                    "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at],
                )
                .map_err(db("revoking a token"))?;
            Ok(n == 1)
        })
    }
}
