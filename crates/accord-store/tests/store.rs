//! Integration tests for accord-store: the conformance suite against SQLite, plus what only the
//! SQLite backend can show (persistence across reopening, migrations, how SQLite is built). The
//! suite comes from the `testsuite` feature, which this crate's dev-dependency on itself enables.
#![allow(clippy::unwrap_used)]

use accord_store::{
    AuthorshipStore, CollectionSpec, PutOutcome, Query, SqliteStore, StatusRecord, StatusStore, Store,
    conformance,
};

#[test]
fn sqlite_passes_conformance() {
    let dirs = std::sync::Mutex::new(Vec::new());
    conformance::run_all(&|| {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("accord.db")).unwrap();
        dirs.lock().unwrap().push(dir);
        Box::new(store)
    });
}

/// A store at `path` with an empty collection `c`.
fn with_collection(path: &std::path::Path) -> SqliteStore {
    let s = SqliteStore::open(path).unwrap();
    s.ensure_collection(&CollectionSpec {
        id: "c".into(),
        title: "C".into(),
        description: None,
        alias: None,
    })
    .unwrap();
    s
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accord.db");
    {
        let s = with_collection(&path);
        s.put_batch("c", &[conformance::indicator(1, "2020-01-01T00:00:00.000Z", "a")])
            .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let page = s.query(&Query::new("c")).unwrap();
    assert_eq!(page.objects.len(), 1);
    // date_added keeps increasing after a reopen.
    let before = page.objects[0].date_added;
    let out = s
        .put_batch("c", &[conformance::indicator(2, "2020-01-01T00:00:00.000Z", "b")])
        .unwrap();
    let PutOutcome::New { date_added } = out[0] else {
        panic!("{out:?}")
    };
    assert!(date_added > before);
}

/// A database from before retention was indexed (schema 8) has it read from the stored objects
/// when it is opened.
#[test]
fn migrations_index_retention_and_record_unknown_creators() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accord.db");
    {
        let s = with_collection(&path);
        s.put_batch(
            "c",
            &[
                conformance::retained(1, "2020-01-01T00:00:00.000Z", "2024-01-01T00:00:00.123456Z"),
                conformance::retained(2, "2020-01-01T00:00:00.000Z", "2030-01-01T00:00:00Z"),
                conformance::retained(3, "2020-01-01T00:00:00.000Z", "soon"),
                conformance::indicator(4, "2020-01-01T00:00:00.000Z", "retention_until"),
            ],
        )
        .unwrap();
    }
    // Back to schema 8: no column, no index, no creators.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP INDEX objects_by_expiry; ALTER TABLE objects DROP COLUMN expires; DROP TABLE origins;
         PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(c);
    let s = SqliteStore::open(&path).unwrap();
    let now = accord_stix::Timestamp::parse("2025-01-01T00:00:00Z")
        .unwrap()
        .as_micros();
    let expired = s.expired("c", now).unwrap();
    let ids: Vec<&str> = expired.iter().map(|e| &e.id[e.id.len() - 1..]).collect();
    assert_eq!(ids, ["3", "1"]);
    assert_eq!(
        expired[1].retention_until,
        accord_stix::Timestamp::parse("2024-01-01T00:00:00.123456Z")
            .unwrap()
            .as_micros()
    );
    // Stored before creators were recorded: the creator is unknown, so no one may version the
    // object unless a version names its creator.
    let id = conformance::retained(2, "2020-01-01T00:00:00.000Z", "x").id;
    assert_eq!(
        s.creator(&id).unwrap().as_deref(),
        Some(accord_store::UNKNOWN_CREATOR)
    );
    let next = [conformance::retained(
        2,
        "2021-01-01T00:00:00.000Z",
        "2030-01-01T00:00:00Z",
    )];
    let claim = |named| accord_store::Claim {
        object_id: &next[0].id,
        named_creator: named,
        writer: "org-a",
    };
    assert_eq!(
        s.put_claimed("c", &next, &[claim(None)]).unwrap(),
        [PutOutcome::Refused(accord_store::Authorship::CreatorUnknown)]
    );
    assert!(matches!(
        s.put_claimed("c", &next, &[claim(Some("org-a"))]).unwrap()[0],
        PutOutcome::NewVersion { .. }
    ));
    assert_eq!(s.creator(&id).unwrap().as_deref(), Some("org-a"));
}

/// A status is committed with its payload before the request is acknowledged, so that processing
/// resumes after a crash: unfinished statuses and their payloads are still there after reopening.
#[test]
fn unfinished_statuses_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accord.db");
    let status = |id: &str| StatusRecord {
        id: id.into(),
        api_root: "api".into(),
        collection: "c".into(),
        principal: "alice".into(),
        request_timestamp: 1,
        complete: false,
        total: 1,
        successes: Vec::new(),
        failures: Vec::new(),
        pendings: Vec::new(),
    };
    {
        let s = SqliteStore::open(&path).unwrap();
        s.create_status(&status("done"), b"one").unwrap();
        s.create_status(&status("pending"), b"two").unwrap();
        let mut done = status("done");
        done.complete = true;
        s.finish_statuses(&[done]).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(
        s.unfinished_statuses().unwrap(),
        [(status("pending"), b"two".to_vec())]
    );
    assert!(s.status("done").unwrap().unwrap().complete);
}

#[test]
fn rejects_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accord.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

/// The bundled SQLite is built with `.cargo/config.toml`'s options: without them every page fetch
/// and release by any reader takes one global mutex (measured: 2,350 contended waits in 5 s of
/// single-object reads at 5,000/s), and every allocation another.
#[test]
fn sqlite_is_built_without_global_page_cache_and_memory_locks() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    let options: Vec<String> = c
        .prepare("PRAGMA compile_options")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
}
