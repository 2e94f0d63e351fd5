//! The embedded SQLite backend: WAL journal, full fsync on commit, versioned migrations,
//! one writer connection and a small pool of reader connections.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use accord_stix::{CheckedObject, ContentHash, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use crate::{
    CollectionInfo, CollectionSpec, ExpiredVersion, Page, PutOutcome, QuarantineRecord, QuarantineStore,
    Query, Result, Revision, StatusRecord, StatusStore, Store, StoreError, StoredObject, SubmissionRecord,
    SubmissionStore, SyncStore, TokenRecord, TokenStore, VersionFilter, Withdrawal, check_collection_id,
};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE collections (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    description TEXT,
    alias       TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    last_added  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE objects (
    rowid        INTEGER PRIMARY KEY,
    coll         INTEGER NOT NULL REFERENCES collections(seq),
    id_key       INTEGER NOT NULL, -- FNV-1a 64 of object_id: a compact index key (collisions resolved by object_id)
    object_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    version      INTEGER NOT NULL, -- the version instant in nanoseconds since the epoch
    version_raw  TEXT NOT NULL,    -- as written in the object, or the arrival time
    spec_version TEXT NOT NULL,
    date_added   INTEGER NOT NULL,
    is_first     INTEGER NOT NULL,
    is_last      INTEGER NOT NULL,
    hash         BLOB NOT NULL,
    json         TEXT NOT NULL
);
CREATE INDEX objects_by_id ON objects(coll, id_key, version);
CREATE UNIQUE INDEX objects_by_added ON objects(coll, date_added);
CREATE INDEX objects_by_type ON objects(coll, type, date_added);
",
    r"
CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    principal     TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL,
    description   TEXT,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
",
    r"
CREATE TABLE submissions (
    incident    TEXT NOT NULL,
    regime      TEXT NOT NULL,
    stage       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    by          TEXT NOT NULL,
    reference   TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (incident, regime, stage, at)
);
",
    r"
CREATE TABLE quarantine (
    seq         INTEGER PRIMARY KEY,
    coll        TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    sender      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    json        TEXT NOT NULL
);
CREATE INDEX quarantine_by_object ON quarantine(object_id);
",
    r"
CREATE TABLE sync_cursors (
    partner    TEXT NOT NULL,
    direction  TEXT NOT NULL,
    collection TEXT NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (partner, direction, collection)
);
",
    r"
CREATE TABLE withdrawals (
    seq        INTEGER PRIMARY KEY,
    coll       TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    json       TEXT NOT NULL
);
CREATE INDEX withdrawals_by_collection ON withdrawals(coll, seq);
",
    // See `Store::revision`.
    r"
ALTER TABLE collections ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
",
    // Versions of one object in the order of their arrival: a lookup by id (`ORDER BY
    // date_added`) then reads them from the index instead of sorting them in a temporary B-tree
    // (34.5 µs → 25.7 µs per lookup on a 1M-object store; BENCHMARKS.md).
    r"
DROP INDEX objects_by_id;
CREATE INDEX objects_by_id ON objects(coll, id_key, date_added);
",
    // When each version's retention ends (microseconds; NULL: not limited), so that removing
    // expired versions reads only those. Versions stored before are read once here, with the
    // same rule as at ingest (`accord_retention_until`, registered by `open`).
    r#"
ALTER TABLE objects ADD COLUMN expires INTEGER;
UPDATE objects SET expires = accord_retention_until(json) WHERE json LIKE '%"retention_until"%';
CREATE INDEX objects_by_expiry ON objects(coll, expires) WHERE expires IS NOT NULL;
"#,
];

/// The status database's schema. Statuses live in their own file so that accepting a request
/// (which commits its status) never waits behind a large batch of objects being committed.
const STATUS_MIGRATIONS: &[&str] = &[r"
CREATE TABLE statuses (
    seq      INTEGER PRIMARY KEY,   -- arrival order
    id       TEXT NOT NULL UNIQUE,
    complete INTEGER NOT NULL,
    record   TEXT NOT NULL,         -- the StatusRecord as JSON
    payload  BLOB                   -- the request body until processing completes
);
CREATE INDEX statuses_unfinished ON statuses(seq) WHERE complete = 0;
"];

const READERS: usize = 64;

/// SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: String,
    /// Collection id → row key. Collections are never renumbered, so this never goes stale.
    seqs: std::sync::RwLock<HashMap<String, i64>>,
    /// The status database (`<name>-status.db` beside the main file).
    statuses: Mutex<Connection>,
}

fn db(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path_str = path.as_ref().display().to_string();
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path_str.clone(),
            reason: e.to_string(),
        };
        let mut writer = Connection::open(path.as_ref()).map_err(open_err)?;
        configure(&writer).map_err(open_err)?;
        register_retention(&writer).map_err(open_err)?;
        migrate(&mut writer, MIGRATIONS)?;
        let status_path = status_path(path.as_ref());
        let mut statuses = Connection::open(&status_path).map_err(|e| StoreError::Open {
            path: status_path.display().to_string(),
            reason: e.to_string(),
        })?;
        statuses
            // Request bodies pass through this file and are freed once processed. Large pages
            // write a body in few frames; a checkpoint every 64 MiB of log rather than every
            // 4 MiB copies each reused page once for many bodies, and stalls fewer requests'
            // acceptance (p90 of a 1,000-object POST's 202: 40–45 ms → 25–28 ms; BENCHMARKS.md).
            // The page size applies to new files only.
            .execute_batch(
                "PRAGMA page_size = 65536; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                 PRAGMA wal_autocheckpoint = 1024;",
            )
            .and_then(|()| statuses.busy_timeout(std::time::Duration::from_secs(10)))
            .map_err(|e| StoreError::Open {
                path: status_path.display().to_string(),
                reason: e.to_string(),
            })?;
        migrate(&mut statuses, STATUS_MIGRATIONS)?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            path: path_str,
            seqs: std::sync::RwLock::new(HashMap::new()),
            statuses: Mutex::new(statuses),
        })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(db("opening a reader"))?;
                configure(&c).map_err(db("configuring a reader"))?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        out
    }

    /// Stores a batch in one transaction; with `all_or_nothing`, rolls back on any conflict.
    fn put(
        &self,
        collection: &str,
        objects: &[CheckedObject],
        all_or_nothing: bool,
    ) -> Result<std::result::Result<Vec<PutOutcome>, Vec<PutOutcome>>> {
        self.with_writer(|c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("starting a write transaction"))?;
            let (coll, last_added) = collection_seq(&tx, collection)?;
            // Strictly increasing per collection, even if the clock steps back or repeats.
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
            for (obj, key) in objects.iter().zip(&keys) {
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

    fn with_statuses<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.execute_batch(
        "PRAGMA page_size = 65536;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA cache_size = -262144;
         PRAGMA wal_autocheckpoint = 1024;
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 17179869184;",
    )
}

/// `accord_retention_until(json)`: when the version's retention ends, as the store records it at
/// ingest (`CheckedObject::retention_until`), for migrating versions stored before.
fn register_retention(c: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    c.create_scalar_function(
        "accord_retention_until",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let json = ctx.get_raw(0).as_str().unwrap_or_default();
            let until = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
                .ok()
                .and_then(|o| accord_stix::handling::retention_until(&o));
            Ok(until.map(|t| t.as_micros()))
        },
    )
}

/// `accord.db` → `accord-status.db`.
fn status_path(main: &Path) -> std::path::PathBuf {
    let stem = main
        .file_stem()
        .map_or_else(|| "accord".into(), |s| s.to_string_lossy().into_owned());
    main.with_file_name(format!("{stem}-status.db"))
}

fn migrate(c: &mut Connection, migrations: &[&str]) -> Result<()> {
    let current: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db("reading schema version"))?;
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = c.transaction().map_err(db("starting a migration"))?;
        tx.execute_batch(sql).map_err(db("migrating the schema"))?;
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(db("recording the schema version"))?;
        tx.commit().map_err(db("committing a migration"))?;
    }
    Ok(())
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
pub(crate) fn id_key(object_id: &str) -> i64 {
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

    fn put_batch(&self, collection: &str, objects: &[CheckedObject]) -> Result<Vec<PutOutcome>> {
        self.put(collection, objects, false)
            .map(|r| r.unwrap_or_else(|outcomes| outcomes))
    }

    fn put_all_or_nothing(
        &self,
        collection: &str,
        objects: &[CheckedObject],
    ) -> Result<std::result::Result<Vec<PutOutcome>, Vec<PutOutcome>>> {
        self.put(collection, objects, true)
    }

    fn query(&self, q: &Query) -> Result<Page> {
        self.with_reader(|c| {
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
            // Whatever remains gets its first/last flags back.
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
            if let Some(json) = last.filter(|_| gone && n > 0) {
                tx.execute(
                    "INSERT INTO withdrawals (coll, object_id, deleted_at, json) VALUES (?1, ?2, ?3, ?4)",
                    params![collection, object_id, now_micros(), json],
                )
                .map_err(db("recording a withdrawal"))?;
            }
            if n > 0 {
                revise(&tx, coll)?;
            }
            tx.commit().map_err(db("committing a delete"))?;
            Ok(n)
        })
    }

    fn withdrawals(&self, collection: &str, after: i64, limit: usize) -> Result<Vec<Withdrawal>> {
        self.with_reader(|c| {
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
        })
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

fn status_json(status: &StatusRecord) -> Result<String> {
    serde_json::to_string(status).map_err(|e| StoreError::Corrupt(format!("status {}: {e}", status.id)))
}

fn parse_status(text: &str) -> Result<StatusRecord> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored status: {e}")))
}

impl StatusStore for SqliteStore {
    fn create_status(&self, status: &StatusRecord, payload: &[u8]) -> Result<()> {
        let record = status_json(status)?;
        self.with_statuses(|c| {
            c.execute(
                "INSERT INTO statuses (id, complete, record, payload) VALUES (?1, ?2, ?3, ?4)",
                params![
                    status.id,
                    status.complete,
                    record,
                    if status.complete { None } else { Some(payload) }
                ],
            )
            .map_err(db("creating a status"))?;
            Ok(())
        })
    }

    fn finish_statuses(&self, statuses: &[StatusRecord]) -> Result<()> {
        let records: Vec<(String, String)> = statuses
            .iter()
            .map(|s| Ok((s.id.clone(), status_json(s)?)))
            .collect::<Result<_>>()?;
        self.with_statuses(|c| {
            let tx = c.transaction().map_err(db("starting a status update"))?;
            for (id, record) in &records {
                tx.prepare_cached(
                    "UPDATE statuses SET complete = 1, record = ?2, payload = NULL WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, record]))
                .map_err(db("finishing a status"))?;
            }
            tx.commit().map_err(db("committing statuses"))?;
            Ok(())
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

impl SubmissionStore for SqliteStore {
    fn add_submission(&self, s: &SubmissionRecord) -> Result<()> {
        self.with_writer(|c| {
            c.execute(
                "INSERT OR IGNORE INTO submissions (incident, regime, stage, at, by, reference, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.incident,
                    s.regime,
                    s.stage,
                    s.at,
                    s.by,
                    s.reference,
                    s.recorded_at
                ],
            )
            .map_err(db("recording a submission"))?;
            Ok(())
        })
    }

    fn submissions(&self, incident: &str) -> Result<Vec<SubmissionRecord>> {
        self.with_reader(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT incident, regime, stage, at, by, reference, recorded_at FROM submissions
                     WHERE incident = ?1 ORDER BY at, regime, stage",
                )
                .map_err(db("reading submissions"))?;
            let rows = stmt
                .query_map([incident], |r| {
                    Ok(SubmissionRecord {
                        incident: r.get(0)?,
                        regime: r.get(1)?,
                        stage: r.get(2)?,
                        at: r.get(3)?,
                        by: r.get(4)?,
                        reference: r.get(5)?,
                        recorded_at: r.get(6)?,
                    })
                })
                .map_err(db("reading submissions"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db("reading submissions"))
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
