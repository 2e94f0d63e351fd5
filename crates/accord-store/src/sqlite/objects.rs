//! Object versions ([`Store`]): collections, storing batches, range queries, deletions,
//! the revision and the retention index.
//!
//! Each version row carries `is_first`/`is_last` flags, kept right on every write, so that
//! `match[version]=first|last` is an indexed read with no grouping.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use accord_stix::{CheckedObject, ContentHash, Timestamp};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{SqliteStore, db, federation, now_micros};
use crate::{
    Authorship, Claim, CollectionInfo, CollectionSpec, ExpiredVersion, Page, PutOutcome, Query, Result,
    Revision, Store, StoreError, StoredObject, VersionFilter, Withdrawal, check_collection_id,
};

impl SqliteStore {
    /// Stores a batch in one transaction; with `all_or_nothing`, rolls back on any conflict.
    fn put(
        &self,
        collection: &str,
        objects: &[CheckedObject],
        claims: &[Claim<'_>],
        all_or_nothing: bool,
    ) -> Result<std::result::Result<Vec<PutOutcome>, Vec<PutOutcome>>> {
        if !claims.is_empty() && claims.len() != objects.len() {
            return Err(StoreError::Corrupt(format!(
                "{} claims for {} objects",
                claims.len(),
                objects.len()
            )));
        }
        self.with_writer(|c| {
            // INVARIANT: one transaction per batch, so that it is durable (or absent) as a whole.
            // `Immediate` takes the write lock before `last_added` is read below, so nothing else
            // can add to the collection in between.
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("starting a write transaction"))?;
            let (coll, last_added) = collection_seq(&tx, collection)?;
            // INVARIANT: date_added is strictly increasing per collection, even if the clock steps
            // back or repeats: a batch starts after the last stored `date_added`, each new version
            // takes the next microsecond (`put_one`), and `last_added` records where it ended.
            let start = now_micros().max(last_added + 1);
            let mut next = start;
            let keys: Vec<i64> = objects.iter().map(|o| id_key(&o.id)).collect();
            let mut stored = existing_versions(&tx, coll, &keys)?;
            // Ids that occur more than once in this batch: later occurrences must see earlier ones.
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            let repeated: Vec<i64> = sorted.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
            let mut written: HashMap<&str, Vec<Existing>> = HashMap::new();
            let mut outcomes = Vec::with_capacity(objects.len());
            let mut revised = false;
            let mut answers = super::origins::Claims::new(&tx);
            for (i, (obj, key)) in objects.iter().zip(&keys).enumerate() {
                // INVARIANT: only an object's creator may version it (STIX 2.1 §3.6), decided in
                // the transaction that stores the version.
                if let Some(claim) = claims.get(i) {
                    let verdict = answers.answer(claim)?;
                    if verdict != Authorship::Creator {
                        outcomes.push(PutOutcome::Refused(verdict));
                        continue;
                    }
                }
                let mut versions = written.remove(obj.id.as_str()).unwrap_or_else(|| {
                    let group = stored.get_mut(key).map(std::mem::take).unwrap_or_default();
                    let (mine, others): (Vec<_>, Vec<_>) =
                        group.into_iter().partition(|(id, _)| *id == obj.id);
                    if !others.is_empty() {
                        stored.insert(*key, others);
                    }
                    mine.into_iter().map(|(_, e)| e).collect()
                });
                outcomes.push(put_one(&tx, coll, obj, &mut next, &mut versions, &mut revised)?);
                if repeated.binary_search(key).is_ok() {
                    written.insert(&obj.id, versions);
                }
            }
            if all_or_nothing && outcomes.iter().any(|o| !o.is_stored()) {
                tx.rollback().map_err(db("rolling back a batch"))?;
                return Ok(Err(outcomes));
            }
            // Only when something was added: unchanged copies leave `Revision::last_added` as it was.
            if next > start {
                tx.execute(
                    "UPDATE collections SET last_added = ?2 WHERE seq = ?1",
                    params![coll, next - 1],
                )
                .map_err(db("advancing date_added"))?;
            }
            if revised {
                revise(&tx, coll)?;
            }
            tx.commit().map_err(db("committing a batch"))?;
            Ok(Ok(outcomes))
        })
    }
}

/// Counts a change to what a read of stored versions returns (see `Store::revision`).
fn revise(tx: &Connection, coll: i64) -> Result<()> {
    tx.prepare_cached("UPDATE collections SET revision = revision + 1 WHERE seq = ?1")
        .and_then(|mut s| s.execute([coll]))
        .map_err(db("counting a revision"))?;
    Ok(())
}

fn collection_seq(tx: &Connection, id: &str) -> Result<(i64, i64)> {
    tx.prepare_cached("SELECT seq, last_added FROM collections WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(db("looking up a collection"))?
        .ok_or_else(|| StoreError::UnknownCollection(id.to_owned()))
}

fn read_collection(c: &Connection, id: &str) -> Result<Option<CollectionInfo>> {
    c.query_row(
        "SELECT c.id, c.title, c.description, c.alias, c.last_added,
                (SELECT count(*) FROM objects o WHERE o.coll = c.seq)
         FROM collections c WHERE c.id = ?1",
        [id],
        |r| {
            Ok(CollectionInfo {
                id: r.get(0)?,
                title: r.get(1)?,
                description: r.get(2)?,
                alias: r.get(3)?,
                last_added: r.get(4)?,
                versions: r.get::<_, i64>(5)?.unsigned_abs(),
            })
        },
    )
    .optional()
    .map_err(db("reading a collection"))
}

/// FNV-1a, 64-bit: a stable hash (unlike std's) for the compact id index key.
pub(super) fn id_key(object_id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in object_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// An existing version of the object being stored.
struct Existing {
    rowid: i64,
    version: i64,
    hash: Vec<u8>,
    date_added: i64,
    is_first: bool,
    is_last: bool,
}

/// Hashes `id_key` values, which are already well mixed: no need to hash them again.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = u64::from_ne_bytes(v.to_ne_bytes());
    }
}

type KeyMap<V> = HashMap<i64, V, BuildHasherDefault<KeyHasher>>;

/// Loads the stored versions of every object in a batch with one query (instead of one per object),
/// grouped by `id_key` with the object id alongside (keys may collide).
fn existing_versions(
    tx: &Transaction<'_>,
    coll: i64,
    keys: &[i64],
) -> Result<KeyMap<Vec<(String, Existing)>>> {
    let keys = serde_json::to_string(keys).unwrap_or_default();
    let mut stmt = tx
        .prepare_cached(
            "SELECT rowid, object_id, version, hash, date_added, is_first, is_last, id_key FROM objects
             WHERE coll = ?1 AND id_key IN (SELECT value FROM json_each(?2))",
        )
        .map_err(db("preparing the version lookup"))?;
    let mut rows = stmt
        .query(params![coll, keys])
        .map_err(db("looking up versions"))?;
    let mut out: KeyMap<Vec<(String, Existing)>> = KeyMap::default();
    while let Some(r) = rows.next().map_err(db("reading versions"))? {
        let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, String, Existing)> {
            Ok((
                r.get(7)?,
                r.get(1)?,
                Existing {
                    rowid: r.get(0)?,
                    version: r.get(2)?,
                    hash: r.get(3)?,
                    date_added: r.get(4)?,
                    is_first: r.get(5)?,
                    is_last: r.get(6)?,
                },
            ))
        };
        let (key, id, e) = read(r).map_err(db("reading versions"))?;
        out.entry(key).or_default().push((id, e));
    }
    Ok(out)
}

fn put_one(
    tx: &Transaction<'_>,
    coll: i64,
    obj: &CheckedObject,
    next_added: &mut i64,
    existing: &mut Vec<Existing>,
    revised: &mut bool,
) -> Result<PutOutcome> {
    if let Some(same) = existing.iter().find(|e| e.hash == obj.hash.0) {
        return Ok(PutOutcome::Unchanged {
            date_added: same.date_added,
        });
    }
    let date_added = *next_added;
    let (version, version_raw) = match obj.version() {
        Some(t) => (
            t.as_nanos_saturating(),
            obj.version_text.clone().unwrap_or_else(|| t.to_string()),
        ),
        None => (
            date_added.saturating_mul(1000),
            Timestamp::format_micros(date_added),
        ),
    };
    if let Some(clash) = existing.iter().find(|e| e.version == version) {
        let mut h = [0u8; 32];
        if clash.hash.len() == 32 {
            h.copy_from_slice(&clash.hash);
        }
        return Ok(PutOutcome::Conflict {
            existing: ContentHash(h),
        });
    }
    *next_added += 1;
    // INVARIANT: is_first/is_last are maintained on write: a new first (last) version takes the
    // flag from the version that held it, in the batch's transaction, and that counts as a
    // revision, since `match[version]=first|last` now reads another version.
    let is_first = existing.iter().all(|e| e.version > version);
    let is_last = existing.iter().all(|e| e.version < version);
    for e in existing.iter_mut() {
        if (is_first && e.is_first) || (is_last && e.is_last) {
            tx.prepare_cached(
                "UPDATE objects SET is_first = is_first AND NOT ?2, is_last = is_last AND NOT ?3 WHERE rowid = ?1",
            )
            .and_then(|mut s| s.execute(params![e.rowid, is_first, is_last]))
            .map_err(db("updating first/last flags"))?;
            *revised = true;
            e.is_first &= !is_first;
            e.is_last &= !is_last;
        }
    }
    tx.prepare_cached(
        "INSERT INTO objects (coll, id_key, object_id, type, version, version_raw, spec_version, date_added,
                              is_first, is_last, hash, json, expires)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            coll,
            id_key(&obj.id),
            obj.id,
            obj.type_name,
            version,
            version_raw,
            obj.spec_version.as_deref().unwrap_or("2.1"),
            date_added,
            is_first,
            is_last,
            &obj.hash.0[..],
            obj.canonical,
            obj.retention_until.map(|t| t.as_micros()),
        ])
    })
    .map_err(db("inserting a version"))?;
    let outcome = if existing.is_empty() {
        PutOutcome::New { date_added }
    } else {
        PutOutcome::NewVersion { date_added }
    };
    // Later objects of the same batch must see this version.
    existing.push(Existing {
        rowid: tx.last_insert_rowid(),
        version,
        hash: obj.hash.0.to_vec(),
        date_added,
        is_first,
        is_last,
    });
    Ok(outcome)
}

/// Appends ` AND (...)` for the version filter; `None` means no condition (all versions).
fn version_clause(f: &VersionFilter, args: &mut Vec<rusqlite::types::Value>) -> Option<String> {
    if f.all {
        return None;
    }
    let mut parts = Vec::new();
    if f.first {
        parts.push("is_first = 1".to_owned());
    }
    if f.last || (!f.first && f.at.is_empty()) {
        parts.push("is_last = 1".to_owned());
    }
    if !f.at.is_empty() {
        let list: Vec<i64> = f.at.iter().map(Timestamp::as_nanos_saturating).collect();
        args.push(serde_json::to_string(&list).unwrap_or_default().into());
        parts.push(format!(
            "version IN (SELECT value FROM json_each(?{}))",
            args.len()
        ));
    }
    Some(format!("({})", parts.join(" OR ")))
}

/// ` column IN (…)` over a JSON list bound as one parameter, however long the list.
fn list_clause<T: serde::Serialize + Clone + Into<rusqlite::types::Value>>(
    column: &str,
    values: &[T],
    args: &mut Vec<rusqlite::types::Value>,
) -> Option<String> {
    match values {
        [] => return None,
        // One value (a lookup by id) is a plain comparison: `IN (SELECT … json_each)` would
        // build a transient index for it.
        [one] => {
            args.push(one.clone().into());
            return Some(format!("{column} = ?{}", args.len()));
        }
        _ => {}
    }
    args.push(serde_json::to_string(values).unwrap_or_default().into());
    Some(format!(
        "{column} IN (SELECT value FROM json_each(?{}))",
        args.len()
    ))
}

/// The one statement that reads a page for `q` in collection `coll`: an indexed range scan in
/// `date_added` order, `limit + 1` rows (the extra one tells whether there is more).
fn select(q: &Query, coll: i64, limit: usize) -> (String, Vec<rusqlite::types::Value>) {
    let mut args: Vec<rusqlite::types::Value> = vec![
        coll.into(),
        q.added_after.unwrap_or(i64::MIN).into(),
        q.added_before.unwrap_or(i64::MAX).into(),
    ];
    // Name the index: without statistics SQLite prefers the date_added index for the ORDER BY,
    // which turns a lookup by id into a scan of the whole collection.
    let index = if !q.ids.is_empty() {
        "objects_by_id"
    } else if q.types.len() == 1 {
        "objects_by_type"
    } else {
        "objects_by_added"
    };
    let mut sql = format!(
        "SELECT object_id, type, version_raw, spec_version, date_added, hash, json FROM objects
         INDEXED BY {index}
         WHERE coll = ?1 AND date_added > ?2 AND date_added < ?3",
    );
    let keys: Vec<i64> = q.ids.iter().map(|i| id_key(i)).collect();
    let clauses = [
        list_clause("id_key", &keys, &mut args),
        list_clause("object_id", &q.ids, &mut args),
        list_clause("type", &q.types, &mut args),
        list_clause("spec_version", &q.spec_versions, &mut args),
        version_clause(&q.versions, &mut args),
    ];
    for clause in clauses.into_iter().flatten() {
        sql.push_str(" AND ");
        sql.push_str(&clause);
    }
    args.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    sql.push_str(&format!(" ORDER BY date_added LIMIT ?{}", args.len()));
    (sql, args)
}

impl Store for SqliteStore {
    fn ensure_collection(&self, spec: &CollectionSpec) -> Result<CollectionInfo> {
        check_collection_id(&spec.id)?;
        self.with_writer(|c| {
            let tx = c.transaction().map_err(db("starting a transaction"))?;
            if let Some(existing) = read_collection(&tx, &spec.id)? {
                if spec.alias.is_some() && existing.alias != spec.alias {
                    return Err(StoreError::CollectionConflict(spec.id.clone(), existing.alias.unwrap_or_default()));
                }
                return Ok(existing);
            }
            tx.execute(
                "INSERT INTO collections (id, title, description, alias, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![spec.id, spec.title, spec.description, spec.alias, now_micros()],
            )
            .map_err(db("creating a collection"))?;
            let info = read_collection(&tx, &spec.id)?.ok_or_else(|| StoreError::Corrupt("collection vanished".into()))?;
            tx.commit().map_err(db("committing a collection"))?;
            Ok(info)
        })
    }

    fn collection(&self, id: &str) -> Result<Option<CollectionInfo>> {
        self.with_reader(|c| read_collection(c, id))
    }

    fn revision(&self, collection: &str) -> Result<Revision> {
        self.with_reader(|c| {
            c.prepare_cached("SELECT revision, last_added FROM collections WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_row([collection], |r| {
                        Ok(Revision {
                            changes: r.get(0)?,
                            last_added: r.get(1)?,
                        })
                    })
                    .optional()
                })
                .map_err(db("reading a collection's revision"))?
                .ok_or_else(|| StoreError::UnknownCollection(collection.to_owned()))
        })
    }

    fn collections(&self) -> Result<Vec<CollectionInfo>> {
        self.with_reader(|c| {
            let ids: Vec<String> = c
                .prepare("SELECT id FROM collections ORDER BY seq")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(db("listing collections"))?;
            ids.iter()
                .filter_map(|id| read_collection(c, id).transpose())
                .collect()
        })
    }

    fn put_claimed(
        &self,
        collection: &str,
        objects: &[CheckedObject],
        claims: &[Claim<'_>],
    ) -> Result<Vec<PutOutcome>> {
        self.put(collection, objects, claims, false)
            .map(|r| r.unwrap_or_else(|outcomes| outcomes))
    }

    fn put_all_or_nothing_claimed(
        &self,
        collection: &str,
        objects: &[CheckedObject],
        claims: &[Claim<'_>],
    ) -> Result<std::result::Result<Vec<PutOutcome>, Vec<PutOutcome>>> {
        self.put(collection, objects, claims, true)
    }

    fn query(&self, q: &Query) -> Result<Page> {
        self.with_reader(|c| {
            // Collections are never renumbered, so a cached row key stays right.
            let cached = self.seqs.read().ok().and_then(|m| m.get(&q.collection).copied());
            let coll = match cached {
                Some(seq) => seq,
                None => {
                    let (seq, _) = collection_seq(c, &q.collection)?;
                    if let Ok(mut m) = self.seqs.write() {
                        m.insert(q.collection.clone(), seq);
                    }
                    seq
                }
            };
            let limit = q.limit.clamp(1, 100_000);
            let (sql, args) = select(q, coll, limit);
            let mut stmt = c.prepare_cached(&sql).map_err(db("preparing a query"))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| {
                    let hash: Vec<u8> = r.get(5)?;
                    let spec_version: String = r.get(3)?;
                    Ok(StoredObject {
                        id: r.get(0)?,
                        type_name: r.get(1)?,
                        version: r.get(2)?,
                        spec_version: Some(spec_version),
                        date_added: r.get(4)?,
                        hash: ContentHash(hash.try_into().unwrap_or([0; 32])),
                        json: r.get(6)?,
                    })
                })
                .map_err(db("running a query"))?;
            let mut objects: Vec<StoredObject> = rows
                .collect::<rusqlite::Result<_>>()
                .map_err(db("reading results"))?;
            let more = objects.len() > limit;
            objects.truncate(limit);
            Ok(Page { objects, more })
        })
    }

    fn delete(
        &self,
        collection: &str,
        object_id: &str,
        versions: &VersionFilter,
        withdraw: bool,
    ) -> Result<usize> {
        self.with_writer(|c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("starting a delete"))?;
            let (coll, _) = collection_seq(&tx, collection)?;
            let last: Option<String> = if withdraw {
                tx.query_row(
                    "SELECT json FROM objects INDEXED BY objects_by_id
                     WHERE coll = ?1 AND id_key = ?3 AND object_id = ?2 AND is_last = 1",
                    params![coll, object_id, id_key(object_id)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db("reading the version to withdraw"))?
            } else {
                None
            };
            let mut args: Vec<rusqlite::types::Value> =
                vec![coll.into(), object_id.to_owned().into(), id_key(object_id).into()];
            let mut sql =
                String::from("DELETE FROM objects WHERE coll = ?1 AND object_id = ?2 AND id_key = ?3");
            if let Some(clause) = version_clause(versions, &mut args) {
                sql.push_str(" AND ");
                sql.push_str(&clause);
            }
            let n = tx
                .execute(&sql, rusqlite::params_from_iter(args))
                .map_err(db("deleting versions"))?;
            // INVARIANT: is_first/is_last are maintained on delete: whatever remains of the
            // object gets its flags back from its versions, in the delete's transaction.
            tx.execute(
                "UPDATE objects SET
                    is_first = version = (SELECT min(version) FROM objects o
                                          WHERE o.coll = ?1 AND o.id_key = ?3 AND o.object_id = ?2),
                    is_last  = version = (SELECT max(version) FROM objects o
                                          WHERE o.coll = ?1 AND o.id_key = ?3 AND o.object_id = ?2)
                 WHERE coll = ?1 AND id_key = ?3 AND object_id = ?2",
                params![coll, object_id, id_key(object_id)],
            )
            .map_err(db("restoring first/last flags"))?;
            let gone: bool = tx
                .query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM objects INDEXED BY objects_by_id
                                        WHERE coll = ?1 AND id_key = ?3 AND object_id = ?2)",
                    params![coll, object_id, id_key(object_id)],
                    |r| r.get(0),
                )
                .map_err(db("checking what remains"))?;
            // INVARIANT: an object deleted whole with `withdraw` leaves a withdrawal, recorded in
            // the delete's transaction so that it exists exactly when the deletion does.
            if let Some(json) = last.filter(|_| gone && n > 0) {
                federation::record_withdrawal(&tx, collection, object_id, &json)?;
            }
            // INVARIANT: the revision changes on every deletion that removes a version.
            if n > 0 {
                revise(&tx, coll)?;
            }
            tx.commit().map_err(db("committing a delete"))?;
            Ok(n)
        })
    }

    fn withdrawals(&self, collection: &str, after: i64, limit: usize) -> Result<Vec<Withdrawal>> {
        self.with_reader(|c| federation::withdrawals(c, collection, after, limit))
    }

    fn expired(&self, collection: &str, now: i64) -> Result<Vec<ExpiredVersion>> {
        self.with_reader(|c| {
            let (coll, _) = collection_seq(c, collection)?;
            let mut stmt = c
                .prepare_cached(
                    "SELECT object_id, version_raw, hash, expires FROM objects INDEXED BY objects_by_expiry
                     WHERE coll = ?1 AND expires IS NOT NULL AND expires <= ?2 ORDER BY expires",
                )
                .map_err(db("reading expired versions"))?;
            let rows = stmt
                .query_map(params![coll, now], |r| {
                    let hash: Vec<u8> = r.get(2)?;
                    Ok(ExpiredVersion {
                        id: r.get(0)?,
                        version: r.get(1)?,
                        hash: ContentHash(hash.try_into().unwrap_or([0; 32])),
                        retention_until: r.get(3)?,
                    })
                })
                .map_err(db("reading expired versions"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db("reading expired versions"))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// SQLite's plan for the statement `select` builds for `q`, one line per step.
    fn plan(store: &SqliteStore, q: &Query) -> String {
        store
            .with_reader(|c| {
                let (sql, args) = select(q, 1, q.limit);
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                    .unwrap();
                Ok(rows.map(Result::unwrap).collect::<Vec<_>>().join("\n"))
            })
            .unwrap()
    }

    /// A page is one indexed range scan read in `date_added` order: never a scan of the table, and
    /// never a sort, except where several ids are asked for at once.
    #[test]
    fn pages_are_indexed_range_scans_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("accord.db")).unwrap();
        let id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        let mut cases: Vec<(&str, Query, bool)> = Vec::new();
        let mut q = Query::new("c");
        q.added_after = Some(1);
        cases.push(("page", q.clone(), false));
        q.types = vec!["indicator".into()];
        cases.push(("one type", q.clone(), false));
        q.types = vec!["indicator".into(), "malware".into()];
        cases.push(("two types", q.clone(), false));
        let mut q = Query::new("c");
        q.ids = vec![id.into()];
        cases.push(("one id, last version", q.clone(), false));
        q.versions = VersionFilter::all();
        cases.push(("one id, all versions", q.clone(), false));
        q.ids = vec![id.into(), "malware--31b940d4-6f7f-459a-80ea-9c1f17b58abc".into()];
        cases.push(("two ids", q, true));
        for (name, q, may_sort) in cases {
            let plan = plan(&store, &q);
            assert!(plan.contains("USING INDEX"), "{name}: {plan}");
            assert!(!plan.contains("SCAN objects"), "{name}: {plan}");
            assert!(may_sort || !plan.contains("TEMP B-TREE"), "{name}: {plan}");
        }
    }
}
