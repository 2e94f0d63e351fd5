//! What federation keeps: the quarantine ([`QuarantineStore`]), the sync cursors ([`SyncStore`])
//! and the withdrawals of objects deleted whole, which `Store::delete` records and
//! `Store::withdrawals` reads through the functions here.

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, db, now_micros};
use crate::{QuarantineRecord, QuarantineStore, Result, SyncStore, Withdrawal};

/// Records that `object_id` was deleted whole from `collection`, with `json`, its last version.
/// Called inside the delete's transaction, so the record exists exactly when the deletion does.
pub(super) fn record_withdrawal(
    tx: &Connection,
    collection: &str,
    object_id: &str,
    json: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO withdrawals (coll, object_id, deleted_at, json) VALUES (?1, ?2, ?3, ?4)",
        params![collection, object_id, now_micros(), json],
    )
    .map_err(db("recording a withdrawal"))?;
    Ok(())
}

/// The withdrawals from `collection` after sequence number `after`, oldest first.
pub(super) fn withdrawals(
    c: &Connection,
    collection: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<Withdrawal>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, coll, object_id, deleted_at, json FROM withdrawals
             WHERE coll = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(db("reading withdrawals"))?;
    let rows = stmt
        .query_map(
            params![collection, after, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(Withdrawal {
                    seq: r.get(0)?,
                    collection: r.get(1)?,
                    object_id: r.get(2)?,
                    deleted_at: r.get(3)?,
                    json: r.get(4)?,
                })
            },
        )
        .map_err(db("reading withdrawals"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db("reading withdrawals"))
}

impl QuarantineStore for SqliteStore {
    fn quarantine(&self, q: &QuarantineRecord) -> Result<i64> {
        self.with_writer(|c| {
            c.execute(
                "INSERT INTO quarantine (coll, object_id, sender, reason, received_at, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    q.collection,
                    q.object_id,
                    q.sender,
                    q.reason,
                    q.received_at,
                    q.json
                ],
            )
            .map_err(db("quarantining an object"))?;
            Ok(c.last_insert_rowid())
        })
    }

    fn quarantined(&self, after: i64, limit: usize) -> Result<Vec<QuarantineRecord>> {
        self.with_reader(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, coll, object_id, sender, reason, received_at, json FROM quarantine
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db("reading the quarantine"))?;
            let rows = stmt
                .query_map(params![after, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                    Ok(QuarantineRecord {
                        seq: r.get(0)?,
                        collection: r.get(1)?,
                        object_id: r.get(2)?,
                        sender: r.get(3)?,
                        reason: r.get(4)?,
                        received_at: r.get(5)?,
                        json: r.get(6)?,
                    })
                })
                .map_err(db("reading the quarantine"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db("reading the quarantine"))
        })
    }
}

impl SyncStore for SqliteStore {
    fn sync_cursor(&self, partner: &str, direction: &str, collection: &str) -> Result<Option<String>> {
        self.with_reader(|c| {
            c.query_row(
                "SELECT cursor FROM sync_cursors WHERE partner = ?1 AND direction = ?2 AND collection = ?3",
                params![partner, direction, collection],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("reading a sync cursor"))
        })
    }

    fn set_sync_cursor(
        &self,
        partner: &str,
        direction: &str,
        collection: &str,
        cursor: &str,
        at: i64,
    ) -> Result<()> {
        self.with_writer(|c| {
            c.execute(
                "INSERT INTO sync_cursors (partner, direction, collection, cursor, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (partner, direction, collection) DO UPDATE SET cursor = ?4, updated_at = ?5",
                params![partner, direction, collection, cursor, at],
            )
            .map_err(db("saving a sync cursor"))?;
            Ok(())
        })
    }
}
