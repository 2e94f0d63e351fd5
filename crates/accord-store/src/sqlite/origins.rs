//! `AuthorshipStore` on SQLite: who created each object, recorded when it first arrives.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::objects::id_key;
use super::{SqliteStore, db};
use crate::{Authorship, AuthorshipStore, Claim, Result, authorship};

/// Answers claims inside a write transaction, recording the creator of objects not seen before:
/// of two writers racing to create one object, one is its creator. Later claims on the same
/// object see what earlier ones recorded.
pub(super) struct Claims<'t> {
    tx: &'t rusqlite::Transaction<'t>,
    seen: HashMap<String, Option<String>>,
}

impl<'t> Claims<'t> {
    pub(super) fn new(tx: &'t rusqlite::Transaction<'t>) -> Self {
        Claims {
            tx,
            seen: HashMap::new(),
        }
    }

    pub(super) fn answer(&mut self, claim: &Claim<'_>) -> Result<Authorship> {
        let key = id_key(claim.object_id);
        let recorded = match self.seen.get(claim.object_id) {
            Some(r) => r.clone(),
            None => self
                .tx
                .prepare_cached("SELECT organisation FROM origins WHERE id_key = ?1 AND id = ?2")
                .and_then(|mut s| {
                    s.query_row(params![key, claim.object_id], |r| r.get::<_, String>(0))
                        .optional()
                })
                .map_err(db("looking up a creator"))?,
        };
        let verdict = authorship(claim, recorded.as_deref());
        // Recorded once: for a new object, or for one stored before creators were recorded
        // that names its creator now.
        let record =
            verdict == Authorship::Creator && recorded.as_deref().is_none_or(|r| r == crate::UNKNOWN_CREATOR);
        let now = if record {
            let creator = claim.named_creator.unwrap_or(claim.writer);
            self.tx
                .prepare_cached(
                    "INSERT INTO origins (id_key, id, organisation) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id_key, id) DO UPDATE SET organisation = excluded.organisation",
                )
                .and_then(|mut s| s.execute(params![key, claim.object_id, creator]))
                .map_err(db("recording a creator"))?;
            Some(creator.to_owned())
        } else {
            recorded
        };
        self.seen.insert(claim.object_id.to_owned(), now);
        Ok(verdict)
    }
}

impl AuthorshipStore for SqliteStore {
    fn creator(&self, object_id: &str) -> Result<Option<String>> {
        self.with_reader(|c| {
            c.prepare_cached("SELECT organisation FROM origins WHERE id_key = ?1 AND id = ?2")
                .and_then(|mut s| {
                    s.query_row(params![id_key(object_id), object_id], |r| r.get(0))
                        .optional()
                })
                .map_err(db("looking up a creator"))
        })
    }
}
