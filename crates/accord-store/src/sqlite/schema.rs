//! The schema of both database files, as `PRAGMA user_version` migrations, and the migration
//! runner.
//!
//! INVARIANT: migrations are only ever appended. `user_version` counts the ones a file has run,
//! so editing, removing or reordering one would leave existing files with a schema this code does
//! not describe; change the schema with a new migration instead.

use rusqlite::Connection;

use super::db;
use crate::{Result, StoreError};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: collections and object versions.
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
    // 2: API tokens.
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
    // 3: reporting-obligation submissions.
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
    // 4: the federation quarantine.
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
    // 5: federation sync cursors.
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
    // 6: withdrawals of objects deleted whole.
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
    // 7: the collection's revision; see `Store::revision`.
    r"
ALTER TABLE collections ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
",
    // 8: versions of one object in the order of their arrival: a lookup by id (`ORDER BY
    // date_added`) then reads them from the index instead of sorting them in a temporary B-tree
    // (34.5 µs → 25.7 µs per lookup on a 1M-object store; BENCHMARKS.md).
    r"
DROP INDEX objects_by_id;
CREATE INDEX objects_by_id ON objects(coll, id_key, date_added);
",
    // 9: when each version's retention ends (microseconds; NULL: not limited), so that removing
    // expired versions reads only those. Versions stored before are read once here, with the
    // same rule as at ingest (`accord_retention_until`, registered by `open`).
    r#"
ALTER TABLE objects ADD COLUMN expires INTEGER;
UPDATE objects SET expires = accord_retention_until(json) WHERE json LIKE '%"retention_until"%';
CREATE INDEX objects_by_expiry ON objects(coll, expires) WHERE expires IS NOT NULL;
"#,
    // 10: each object's creator, the organisation that alone may version it (`AuthorshipStore`).
    // Objects stored before are recorded with an unknown creator ('').
    r"
CREATE TABLE origins (
    id_key       INTEGER NOT NULL,
    id           TEXT NOT NULL,
    organisation TEXT NOT NULL,
    PRIMARY KEY (id_key, id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO origins SELECT DISTINCT id_key, object_id, '' FROM objects;
",
];

/// The status database's schema. Statuses live in their own file so that accepting a request
/// (which commits its status) never waits behind a large batch of objects being committed.
pub(super) const STATUS_MIGRATIONS: &[&str] = &[
    // 1: statuses.
    r"
CREATE TABLE statuses (
    seq      INTEGER PRIMARY KEY,   -- arrival order
    id       TEXT NOT NULL UNIQUE,
    complete INTEGER NOT NULL,
    record   TEXT NOT NULL,         -- the StatusRecord as JSON
    payload  BLOB                   -- the request body until processing completes
);
CREATE INDEX statuses_unfinished ON statuses(seq) WHERE complete = 0;
",
];

/// Runs the migrations `c` has not run yet, each in its own transaction with the version it
/// reaches, so a crash leaves the file at one version or the next.
pub(super) fn migrate(c: &mut Connection, migrations: &[&str]) -> Result<()> {
    let current: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db("reading schema version"))?;
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    // A newer program wrote this file: its schema may mean things this one would get wrong.
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

/// `accord_retention_until(json)`: when the version's retention ends, as the store records it at
/// ingest (`CheckedObject::retention_until`), for migrating versions stored before (migration 9).
/// Registered on the writer before migrating.
pub(super) fn register_retention(c: &Connection) -> rusqlite::Result<()> {
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
