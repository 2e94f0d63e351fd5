//! Durable TAXII status resources ([`StatusStore`]), kept in the status database file so that
//! accepting a request never waits behind a batch of objects being committed to the main one.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db};
use crate::{Result, StatusRecord, StatusStore, StoreError};

fn status_json(status: &StatusRecord) -> Result<String> {
    serde_json::to_string(status).map_err(|e| StoreError::Corrupt(format!("status {}: {e}", status.id)))
}

/// Records finished statuses, `(id, record)`, in one transaction.
fn finish(c: &mut rusqlite::Connection, records: &[(String, String)]) -> Result<()> {
    // INVARIANT: one transaction for all of them: after a crash every status of the batch is
    // finished, or none is and all are resumed from their payloads.
    let tx = c.transaction().map_err(db("starting a status update"))?;
    for (id, record) in records {
        // A request answered in its own response was never recorded as pending.
        tx.prepare_cached(
            "INSERT INTO statuses (id, complete, record, payload) VALUES (?1, 1, ?2, NULL)
             ON CONFLICT (id) DO UPDATE SET complete = 1, record = excluded.record, payload = NULL",
        )
        .and_then(|mut s| s.execute(params![id, record]))
        .map_err(db("finishing a status"))?;
    }
    tx.commit().map_err(db("committing statuses"))
}

fn parse_status(text: &str) -> Result<StatusRecord> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored status: {e}")))
}

impl StatusStore for SqliteStore {
    fn create_status(&self, status: &StatusRecord, payload: &[u8]) -> Result<bool> {
        let record = status_json(status)?;
        self.with_statuses(|c| {
            // This commit waits for the disk, whatever level the last write used.
            c.pragma_update(None, "synchronous", "FULL")
                .map_err(db("creating a status"))?;
            let created = c
                .execute(
                    // A request answered `pending` after waiting for its group may already have
                    // been finished by the writer: the finished status stands.
                    "INSERT INTO statuses (id, complete, record, payload) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                    params![
                        status.id,
                        status.complete,
                        record,
                        // The payload is only needed to resume processing an unfinished request.
                        if status.complete { None } else { Some(payload) }
                    ],
                )
                .map_err(db("creating a status"))?;
            Ok(created == 1)
        })
    }

    fn finish_statuses(&self, statuses: &[StatusRecord]) -> Result<()> {
        let records: Vec<(String, String)> = statuses
            .iter()
            .map(|s| Ok((s.id.clone(), status_json(s)?)))
            .collect::<Result<_>>()?;
        self.with_statuses(|c| {
            // Committed to the log file without waiting for the disk (see the trait): it survives
            // the process being killed, and the next durable commit makes it durable too. Each
            // write sets the level it needs.
            c.pragma_update(None, "synchronous", "NORMAL")
                .map_err(db("finishing statuses"))?;
            finish(c, &records)
        })
    }

    fn status(&self, id: &str) -> Result<Option<StatusRecord>> {
        self.with_statuses(|c| {
            let text: Option<String> = c
                .prepare_cached("SELECT record FROM statuses WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(db("reading a status"))?;
            text.map(|t| parse_status(&t)).transpose()
        })
    }

    fn unfinished_statuses(&self) -> Result<Vec<(StatusRecord, Vec<u8>)>> {
        self.with_statuses(|c| {
            let rows: Vec<(String, Vec<u8>)> = c
                .prepare(
                    "SELECT record, coalesce(payload, x'') FROM statuses WHERE complete = 0 ORDER BY seq",
                )
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(db("listing unfinished statuses"))?;
            rows.into_iter()
                .map(|(t, p)| Ok((parse_status(&t)?, p)))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::StatusDetail;

    fn synchronous(store: &SqliteStore) -> i64 {
        store
            .with_statuses(|c| {
                c.query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .map_err(db("reading the level"))
            })
            .unwrap()
    }

    #[test]
    fn a_pending_status_waits_for_the_disk_even_after_statuses_were_finished_without() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("db")).unwrap();
        let status = |id: &str, complete| StatusRecord {
            id: id.into(),
            api_root: "api".into(),
            collection: "c".into(),
            principal: "p".into(),
            request_timestamp: 1,
            complete,
            total: 1,
            successes: Vec::new(),
            failures: Vec::new(),
            pendings: vec![StatusDetail {
                id: "indicator--a".into(),
                version: "v".into(),
                message: None,
            }],
        };
        store.finish_statuses(&[status("one", true)]).unwrap();
        assert_eq!(synchronous(&store), 1, "finishing does not wait for the disk");
        store.create_status(&status("two", false), b"payload").unwrap();
        assert_eq!(synchronous(&store), 2, "FULL: a pending status is fsynced");
    }
}
