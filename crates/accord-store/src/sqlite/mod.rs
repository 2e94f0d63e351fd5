//! The embedded SQLite backend: opening the files, their pragmas, the one writer connection and
//! the small pool of reader connections. WAL journal, full fsync on commit.
//!
//! The trait implementations live beside this file, one per concern: `objects.rs` ([`Store`]),
//! `statuses.rs`, `tokens.rs`, `federation.rs` (quarantine, sync cursors, withdrawals) and
//! `submissions.rs`; `schema.rs` holds the DDL and its migrations.
//!
//! [`Store`]: crate::Store

mod federation;
mod objects;
mod origins;
mod schema;
mod statuses;
mod submissions;
mod tokens;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

/// Reader connections kept for reuse; more may be open at once, the rest are closed after use.
const READERS: usize = 64;

/// SQLite-backed [`Store`](crate::Store).
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

/// Maps a SQLite error to [`StoreError::Database`], naming what was being done.
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
        // Before migrating: a migration calls it.
        schema::register_retention(&writer).map_err(open_err)?;
        schema::migrate(&mut writer, schema::MIGRATIONS)?;
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
        schema::migrate(&mut statuses, schema::STATUS_MIGRATIONS)?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            path: path_str,
            seqs: std::sync::RwLock::new(HashMap::new()),
            statuses: Mutex::new(statuses),
        })
    }

    /// Runs `f` on a read-only connection from the pool, opening one if none is free. Readers see
    /// the last committed state (WAL) and never wait for the writer.
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

    /// Runs `f` on the status database's connection.
    fn with_statuses<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Runs `f` on the one writer connection: writes to the main database are serialised here.
    fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

/// The main database's pragmas, set on the writer and on every reader.
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

/// `accord.db` → `accord-status.db`.
fn status_path(main: &Path) -> std::path::PathBuf {
    let stem = main
        .file_stem()
        .map_or_else(|| "accord".into(), |s| s.to_string_lossy().into_owned());
    main.with_file_name(format!("{stem}-status.db"))
}
