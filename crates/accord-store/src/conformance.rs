//! The backend conformance suite: behaviour every [`Store`] implementation must show. Run it from a
//! backend's tests with a factory that returns a fresh, empty store each time:
//! `accord_store::conformance::run_all(&|| Box::new(MyStore::open_temp()))`.
#![allow(clippy::unwrap_used)]

use accord_stix::{CheckedObject, Timestamp, check_value};
use serde_json::json;

use crate::{
    Backend, CollectionSpec, PutOutcome, QuarantineRecord, Query, StatusDetail, StatusRecord, Store,
    StoreError, TokenRecord, VersionFilter,
};

/// A factory for fresh, empty stores.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Backend>;

/// Every check, each on a fresh store. Panics with a message naming the failed check.
pub fn run_all(make: Factory<'_>) {
    type Check = fn(&dyn Backend);
    let checks: &[(&str, Check)] = &[
        ("collections", collections),
        ("idempotent_reimport", idempotent_reimport),
        ("versions_and_first_last", versions_and_first_last),
        (
            "conflicting_content_same_version",
            conflicting_content_same_version,
        ),
        ("conflicts_settled_as_the_same", conflicts_settled_as_the_same),
        ("date_added_strictly_increasing", date_added_strictly_increasing),
        ("unversioned_objects", unversioned_objects),
        (
            "paging_is_exclusive_and_complete",
            paging_is_exclusive_and_complete,
        ),
        ("filters", filters),
        ("delete", delete),
        ("expired", expired),
        ("revision", revision),
        ("unknown_collection", unknown_collection),
        ("collections_are_separate", collections_are_separate),
        ("all_or_nothing", all_or_nothing),
        ("repeats_within_a_batch", repeats_within_a_batch),
        ("statuses", statuses),
        ("tokens", tokens),
        ("submissions", submissions),
        ("quarantine", quarantine),
        ("sync_cursors", sync_cursors),
    ];
    for (name, check) in checks {
        let store = make();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(store.as_ref())));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("conformance check {name} failed: {}", msg.unwrap_or_default());
        }
    }
}

const COLL: &str = "c1";

/// A conflicting copy the caller deems the same version is reported as the stored one; the others
/// stay conflicts, and nothing is written either way.
fn conflicts_settled_as_the_same(store: &dyn Backend) {
    setup(store);
    let first = indicator(1, "2020-01-01T00:00:00.000Z", "a");
    let out = store.put_batch(COLL, std::slice::from_ref(&first)).unwrap();
    let PutOutcome::New { date_added } = out[0] else {
        panic!("{out:?}")
    };
    let mut copies = vec![
        indicator(1, "2020-01-01T00:00:00.000Z", "b"),
        indicator(1, "2020-01-01T00:00:00.000Z", "c"),
        indicator(2, "2020-01-01T00:00:00.000Z", "d"),
    ];
    let mut outcomes = store.put_batch(COLL, &copies).unwrap();
    let same = |stored: &str, incoming: &str| stored.contains("\"a\"") && incoming.contains("\"b\"");
    crate::settle_conflicts(store, COLL, &mut copies, &mut outcomes, &same).unwrap();
    assert_eq!(outcomes[0], PutOutcome::Unchanged { date_added });
    assert_eq!(copies[0].hash, first.hash, "the stored copy's hash");
    assert!(matches!(outcomes[1], PutOutcome::Conflict { .. }), "{outcomes:?}");
    assert!(matches!(outcomes[2], PutOutcome::New { .. }), "{outcomes:?}");
    let stored = all(store, VersionFilter::all());
    assert_eq!(stored.len(), 2);
    assert!(
        stored.iter().any(|o| o.json.contains("\"a\"")) && !stored.iter().any(|o| o.json.contains("\"b\""))
    );
}

fn setup(store: &dyn Store) {
    store
        .ensure_collection(&CollectionSpec {
            id: COLL.into(),
            title: "Test".into(),
            description: Some("conformance".into()),
            alias: Some("test".into()),
        })
        .unwrap();
}

/// An indicator with the given UUID suffix, version time and name.
pub fn indicator(n: u32, modified: &str, name: &str) -> CheckedObject {
    check_value(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2020-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    }))
    .unwrap()
}

fn ip(value: &str, extra: Option<&str>) -> CheckedObject {
    let mut v = json!({"type": "ipv4-addr", "spec_version": "2.1", "value": value});
    let contributing = accord_stix::spec::type_spec("ipv4-addr").unwrap().id_contributing;
    let id =
        accord_stix::id::deterministic_sco_id("ipv4-addr", v.as_object().unwrap(), contributing).unwrap();
    v["id"] = id.into();
    if let Some(x) = extra {
        v["x_note"] = x.into();
    }
    check_value(v).unwrap()
}

fn all(store: &dyn Store, versions: VersionFilter) -> Vec<crate::StoredObject> {
    let mut q = Query::new(COLL);
    q.versions = versions;
    q.limit = 100_000;
    store.query(&q).unwrap().objects
}

fn collections(store: &dyn Backend) {
    setup(store);
    setup(store); // ensure is idempotent
    let list = store.collections().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, COLL);
    assert_eq!(list[0].alias.as_deref(), Some("test"));
    assert_eq!(list[0].versions, 0);
    assert!(store.collection("nope").unwrap().is_none());
    assert!(matches!(
        store.ensure_collection(&CollectionSpec {
            id: "bad id/..".into(),
            title: "x".into(),
            description: None,
            alias: None
        }),
        Err(StoreError::InvalidCollectionId(_))
    ));
}

fn idempotent_reimport(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..10)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "a"))
        .collect();
    let first = store.put_batch(COLL, &objs).unwrap();
    assert!(
        first.iter().all(|o| matches!(o, PutOutcome::New { .. })),
        "{first:?}"
    );
    let again = store.put_batch(COLL, &objs).unwrap();
    for (a, b) in first.iter().zip(&again) {
        let (PutOutcome::New { date_added: x }, PutOutcome::Unchanged { date_added: y }) = (a, b) else {
            panic!("re-import gave {b:?}");
        };
        assert_eq!(x, y, "unchanged keeps the original date_added");
    }
    assert_eq!(store.collection(COLL).unwrap().unwrap().versions, 10);
}

fn versions_and_first_last(store: &dyn Backend) {
    setup(store);
    // Versions arrive out of order; first/last follow `modified`, not arrival.
    let v2 = indicator(1, "2020-01-02T00:00:00.000Z", "v2");
    let v1 = indicator(1, "2020-01-01T00:00:00.000Z", "v1");
    let v3 = indicator(1, "2020-01-03T00:00:00.5000Z", "v3");
    assert!(matches!(
        store.put_batch(COLL, &[v2]).unwrap()[0],
        PutOutcome::New { .. }
    ));
    assert!(matches!(
        store.put_batch(COLL, &[v1, v3]).unwrap()[..],
        [PutOutcome::NewVersion { .. }, PutOutcome::NewVersion { .. }]
    ));
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert_eq!(
        last[0].version, "2020-01-03T00:00:00.5000Z",
        "version is reported as written"
    );
    let first = all(
        store,
        VersionFilter {
            first: true,
            ..Default::default()
        },
    );
    assert_eq!(first[0].version, "2020-01-01T00:00:00.000Z");
    assert_eq!(all(store, VersionFilter::all()).len(), 3);
    let both = all(
        store,
        VersionFilter {
            first: true,
            last: true,
            ..Default::default()
        },
    );
    assert_eq!(both.len(), 2);
    // Exact version, compared as an instant (different digits, same instant).
    let at = all(
        store,
        VersionFilter {
            at: vec![Timestamp::parse("2020-01-02T00:00:00Z").unwrap()],
            ..Default::default()
        },
    );
    assert_eq!(at.len(), 1);
    assert!(at[0].json.contains("\"v2\""));
}

fn conflicting_content_same_version(store: &dyn Backend) {
    setup(store);
    store
        .put_batch(COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "a")])
        .unwrap();
    let out = store
        .put_batch(COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "b")])
        .unwrap();
    assert!(matches!(out[0], PutOutcome::Conflict { .. }), "{out:?}");
    assert!(!out[0].is_stored());
    let stored = all(store, VersionFilter::all());
    assert_eq!(stored.len(), 1);
    assert!(stored[0].json.contains("\"a\""), "the first content stays");
}

fn date_added_strictly_increasing(store: &dyn Backend) {
    setup(store);
    let mut last = i64::MIN;
    for batch in 0..20 {
        let objs: Vec<_> = (0..50)
            .map(|i| indicator(batch * 100 + i, "2020-01-01T00:00:00.000Z", "x"))
            .collect();
        for o in store.put_batch(COLL, &objs).unwrap() {
            let PutOutcome::New { date_added } = o else {
                panic!("{o:?}")
            };
            assert!(date_added > last, "{date_added} after {last}");
            last = date_added;
        }
    }
    assert_eq!(store.collection(COLL).unwrap().unwrap().last_added, last);
    // Stored order equals date_added order.
    let stored = all(store, VersionFilter::all());
    assert!(stored.windows(2).all(|w| w[0].date_added < w[1].date_added));
}

fn unversioned_objects(store: &dyn Backend) {
    setup(store);
    let a = ip("203.0.113.1", None);
    assert!(matches!(
        store.put_batch(COLL, std::slice::from_ref(&a)).unwrap()[0],
        PutOutcome::New { .. }
    ));
    assert!(matches!(
        store.put_batch(COLL, &[a]).unwrap()[0],
        PutOutcome::Unchanged { .. }
    ));
    // Different content under the same deterministic id: a new version, told apart by arrival.
    let b = ip("203.0.113.1", Some("seen again"));
    assert!(matches!(
        store.put_batch(COLL, &[b]).unwrap()[0],
        PutOutcome::NewVersion { .. }
    ));
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert!(last[0].json.contains("seen again"));
    assert!(Timestamp::parse(&last[0].version).is_ok(), "{}", last[0].version);
}

fn paging_is_exclusive_and_complete(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..257)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "p"))
        .collect();
    store.put_batch(COLL, &objs[..100]).unwrap();
    let mut seen = Vec::new();
    let mut q = Query::new(COLL);
    q.limit = 30;
    let mut interleaved = false;
    loop {
        let page = store.query(&q).unwrap();
        seen.extend(page.objects.iter().map(|o| o.id.clone()));
        // Writes arriving between pages must not make the reader skip or repeat anything.
        if !interleaved {
            store.put_batch(COLL, &objs[100..]).unwrap();
            interleaved = true;
        }
        if !page.more {
            break;
        }
        q.added_after = page.last_added();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a page repeated an object");
    assert_eq!(seen.len(), 257, "a page skipped objects");
    // added_after is exclusive.
    let everything = all(store, VersionFilter::all());
    let mut q = Query::new(COLL);
    q.added_after = Some(everything[10].date_added);
    q.limit = 1;
    assert_eq!(store.query(&q).unwrap().objects[0].id, everything[11].id);
    q.added_after = everything.last().map(|o| o.date_added);
    let tail = store.query(&q).unwrap();
    assert!(tail.objects.is_empty() && !tail.more);
}

fn filters(store: &dyn Backend) {
    setup(store);
    store
        .put_batch(
            COLL,
            &[
                indicator(1, "2020-01-01T00:00:00.000Z", "a"),
                indicator(2, "2020-01-01T00:00:00.000Z", "b"),
                ip("192.0.2.7", None),
            ],
        )
        .unwrap();
    let mut q = Query::new(COLL);
    q.types = vec!["ipv4-addr".into()];
    let r = store.query(&q).unwrap().objects;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].type_name, "ipv4-addr");
    q.types = vec!["ipv4-addr".into(), "indicator".into()];
    assert_eq!(store.query(&q).unwrap().objects.len(), 3);
    let mut q = Query::new(COLL);
    q.ids = vec![
        "indicator--00000000-0000-4000-8000-000000000002".into(),
        "indicator--00000000-0000-4000-8000-000000000999".into(),
    ];
    let r = store.query(&q).unwrap().objects;
    assert_eq!(r.len(), 1);
    assert!(r[0].json.contains("\"b\""));
    let mut q = Query::new(COLL);
    q.spec_versions = vec!["2.0".into()];
    assert!(store.query(&q).unwrap().objects.is_empty());
    q.spec_versions = vec!["2.1".into()];
    assert_eq!(store.query(&q).unwrap().objects.len(), 3);
    // A very long id list is one query, not an error.
    let mut q = Query::new(COLL);
    q.ids = (0..5000)
        .map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}"))
        .collect();
    assert_eq!(store.query(&q).unwrap().objects.len(), 2);
    // Stored content is the canonical form, with its hash.
    let r = store.query(&Query::new(COLL)).unwrap().objects;
    for o in r {
        assert_eq!(accord_stix::ContentHash::of_canonical(o.json.as_bytes()), o.hash);
    }
}

fn delete(store: &dyn Backend) {
    setup(store);
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    store
        .put_batch(
            COLL,
            &[
                indicator(1, "2020-01-01T00:00:00.000Z", "v1"),
                indicator(1, "2020-01-02T00:00:00.000Z", "v2"),
                indicator(1, "2020-01-03T00:00:00.000Z", "v3"),
            ],
        )
        .unwrap();
    assert_eq!(store.delete(COLL, id, &VersionFilter::last(), true).unwrap(), 1);
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert!(
        last[0].json.contains("\"v2\""),
        "v2 becomes the latest after v3 is deleted"
    );
    // The object is still there: nothing is withdrawn yet.
    assert!(store.withdrawals(COLL, 0, 10).unwrap().is_empty());
    assert_eq!(store.delete(COLL, id, &VersionFilter::all(), true).unwrap(), 2);
    assert!(all(store, VersionFilter::all()).is_empty());
    assert_eq!(store.delete(COLL, id, &VersionFilter::all(), true).unwrap(), 0);
    // Gone whole: withdrawn once, with the version that was the latest.
    let w = store.withdrawals(COLL, 0, 10).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!((w[0].object_id.as_str(), w[0].collection.as_str()), (id, COLL));
    assert!(w[0].json.contains("\"v2\""));
    assert!(store.withdrawals(COLL, w[0].seq, 10).unwrap().is_empty());
    // Deleting without withdrawing (retention) leaves no record.
    store
        .put_batch(COLL, &[indicator(2, "2020-01-01T00:00:00.000Z", "kept")])
        .unwrap();
    let other = "indicator--00000000-0000-4000-8000-000000000002";
    assert_eq!(
        store.delete(COLL, other, &VersionFilter::all(), false).unwrap(),
        1
    );
    assert_eq!(store.withdrawals(COLL, 0, 10).unwrap().len(), 1);
}

/// An indicator version whose handling extension sets `retention_until` to `until`.
pub fn retained(n: u32, modified: &str, until: &str) -> CheckedObject {
    check_value(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2020-01-01T00:00:00.000Z", "modified": modified,
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z",
        "extensions": {accord_stix::handling::HANDLING_EXTENSION_ID: {
            "extension_type": "property-extension", "retention_until": until}}
    }))
    .unwrap()
}

/// Versions whose retention ended are found by when it ended, per collection; versions without
/// one, or whose retention has not ended, are not; an unreadable retention has already ended.
fn expired(store: &dyn Backend) {
    setup(store);
    store
        .ensure_collection(&CollectionSpec {
            id: "c2".into(),
            title: "Other".into(),
            description: None,
            alias: None,
        })
        .unwrap();
    let micros = |t: &str| Timestamp::parse(t).unwrap().as_micros();
    store
        .put_batch(
            COLL,
            &[
                retained(1, "2020-01-01T00:00:00.000Z", "2024-06-01T00:00:00.000001Z"),
                retained(1, "2020-01-02T00:00:00.000Z", "2030-01-01T00:00:00Z"),
                retained(2, "2020-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z"),
                retained(3, "2020-01-01T00:00:00.000Z", "not a time"),
                indicator(4, "2020-01-01T00:00:00.000Z", "unlimited"),
            ],
        )
        .unwrap();
    store
        .put_batch(
            "c2",
            &[retained(5, "2020-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z")],
        )
        .unwrap();
    let found = |now: &str| -> Vec<(u32, String)> {
        let list = store.expired(COLL, micros(now)).unwrap();
        assert!(
            list.windows(2)
                .all(|w| w[0].retention_until <= w[1].retention_until),
            "{list:?}"
        );
        list.into_iter()
            .map(|e| (e.id.rsplit('-').next().unwrap().parse().unwrap(), e.version))
            .collect()
    };
    let v = |n: u32, version: &str| (n, version.to_owned());
    // Just before the first version's retention ends: the unreadable one, then the one from January.
    assert_eq!(
        found("2024-06-01T00:00:00Z"),
        [v(3, "2020-01-01T00:00:00.000Z"), v(2, "2020-01-01T00:00:00.000Z")]
    );
    // At the instant it ends, it has ended (microsecond precision); the later version has not.
    let at = found("2024-06-01T00:00:00.000001Z");
    assert_eq!(at.len(), 3, "{at:?}");
    assert_eq!(at[2], v(1, "2020-01-01T00:00:00.000Z"));
    let one = store
        .expired(COLL, micros("2024-06-01T00:00:00.000001Z"))
        .unwrap();
    let stored = all(store, VersionFilter::all());
    let first = stored
        .iter()
        .find(|o| o.id == one[2].id && o.version == one[2].version)
        .unwrap();
    assert_eq!(
        (one[2].hash, one[2].retention_until),
        (first.hash, micros("2024-06-01T00:00:00.000001Z"))
    );
    assert_eq!(found("2099-01-01T00:00:00Z").len(), 4);
    assert_eq!(
        store.expired("c2", micros("2099-01-01T00:00:00Z")).unwrap().len(),
        1
    );
    // Deleted versions are gone from the list.
    let id = "indicator--00000000-0000-4000-8000-000000000002";
    store.delete(COLL, id, &VersionFilter::all(), false).unwrap();
    assert_eq!(found("2099-01-01T00:00:00Z").len(), 3);
    assert!(matches!(
        store.expired("nope", 0),
        Err(StoreError::UnknownCollection(_))
    ));
}

/// The revision moves when a read of stored versions could return something else, and only then.
fn revision(store: &dyn Backend) {
    setup(store);
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let at = |store: &dyn Backend| store.revision(COLL).unwrap().changes;
    let r0 = at(store);
    let put = |objects: &[CheckedObject]| store.put_batch(COLL, objects).unwrap();
    put(&[
        indicator(1, "2020-01-02T00:00:00.000Z", "v2"),
        indicator(2, "2020-01-01T00:00:00.000Z", "x"),
    ]);
    let added = store.revision(COLL).unwrap().last_added;
    assert_eq!(all(store, VersionFilter::all()).last().unwrap().date_added, added);
    put(&[indicator(2, "2020-01-01T00:00:00.000Z", "x")]);
    assert_eq!(at(store), r0, "new objects and unchanged copies leave it");
    assert_eq!(
        store.revision(COLL).unwrap().last_added,
        added,
        "unchanged copies add nothing"
    );
    put(&[indicator(1, "2020-01-03T00:00:00.000Z", "v3")]);
    let r1 = at(store);
    assert_ne!(r1, r0, "a new last version changes what `last` reads");
    put(&[indicator(1, "2020-01-01T00:00:00.000Z", "v1")]);
    let r2 = at(store);
    assert_ne!(r2, r1, "a new first version changes what `first` reads");
    assert_eq!(store.delete(COLL, id, &VersionFilter::all(), false).unwrap(), 3);
    let r3 = at(store);
    assert_ne!(r3, r2, "a deletion changes it");
    assert_eq!(store.delete(COLL, id, &VersionFilter::all(), false).unwrap(), 0);
    assert_eq!(at(store), r3, "deleting nothing leaves it");
    assert!(matches!(
        store.revision("nope"),
        Err(StoreError::UnknownCollection(_))
    ));
}

fn unknown_collection(store: &dyn Backend) {
    assert!(matches!(
        store.put_batch("nope", &[]),
        Err(StoreError::UnknownCollection(_))
    ));
    assert!(matches!(
        store.query(&Query::new("nope")),
        Err(StoreError::UnknownCollection(_))
    ));
}

fn collections_are_separate(store: &dyn Backend) {
    setup(store);
    store
        .ensure_collection(&CollectionSpec {
            id: "c2".into(),
            title: "Two".into(),
            description: None,
            alias: None,
        })
        .unwrap();
    let o = indicator(1, "2020-01-01T00:00:00.000Z", "a");
    assert!(matches!(
        store.put_batch(COLL, std::slice::from_ref(&o)).unwrap()[0],
        PutOutcome::New { .. }
    ));
    assert!(matches!(
        store.put_batch("c2", &[o]).unwrap()[0],
        PutOutcome::New { .. }
    ));
    assert_eq!(store.query(&Query::new("c2")).unwrap().objects.len(), 1);
    assert_eq!(store.collection("c2").unwrap().unwrap().versions, 1);
}

fn all_or_nothing(store: &dyn Backend) {
    setup(store);
    store
        .put_batch(COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "a")])
        .unwrap();
    let batch = [
        indicator(2, "2020-01-01T00:00:00.000Z", "b"),
        indicator(1, "2020-01-01T00:00:00.000Z", "changed"),
    ];
    let outcomes = store.put_all_or_nothing(COLL, &batch).unwrap().unwrap_err();
    assert!(matches!(outcomes[1], PutOutcome::Conflict { .. }));
    assert_eq!(
        all(store, VersionFilter::all()).len(),
        1,
        "nothing of a failed batch is stored"
    );
    let ok = store.put_all_or_nothing(COLL, &batch[..1]).unwrap().unwrap();
    assert!(matches!(ok[0], PutOutcome::New { .. }));
    assert_eq!(all(store, VersionFilter::all()).len(), 2);
}

fn repeats_within_a_batch(store: &dyn Backend) {
    setup(store);
    let v1 = indicator(1, "2020-01-01T00:00:00.000Z", "v1");
    let v2 = indicator(1, "2020-01-02T00:00:00.000Z", "v2");
    let batch = [
        v1.clone(),
        v2,
        v1,
        indicator(1, "2020-01-02T00:00:00.000Z", "clash"),
    ];
    let out = store.put_batch(COLL, &batch).unwrap();
    assert!(matches!(out[0], PutOutcome::New { .. }), "{out:?}");
    assert!(matches!(out[1], PutOutcome::NewVersion { .. }), "{out:?}");
    assert!(matches!(out[2], PutOutcome::Unchanged { .. }), "{out:?}");
    assert!(matches!(out[3], PutOutcome::Conflict { .. }), "{out:?}");
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert!(last[0].json.contains("\"v2\""));
}

fn statuses(store: &dyn Backend) {
    let mut st = StatusRecord {
        id: "status-1".into(),
        api_root: "api".into(),
        collection: COLL.into(),
        principal: "alice".into(),
        request_timestamp: 1,
        complete: false,
        total: 2,
        successes: Vec::new(),
        failures: Vec::new(),
        pendings: vec![
            StatusDetail {
                id: "indicator--a".into(),
                version: "v".into(),
                message: None,
            },
            StatusDetail {
                id: "indicator--b".into(),
                version: "v".into(),
                message: None,
            },
        ],
    };
    store.create_status(&st, b"payload").unwrap();
    assert_eq!(store.status("status-1").unwrap().as_ref(), Some(&st));
    let unfinished = store.unfinished_statuses().unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].1, b"payload");
    st.complete = true;
    st.successes = std::mem::take(&mut st.pendings);
    store.finish_statuses(std::slice::from_ref(&st)).unwrap();
    assert_eq!(store.status("status-1").unwrap().unwrap().successes.len(), 2);
    assert!(store.unfinished_statuses().unwrap().is_empty());
    assert!(store.status("nope").unwrap().is_none());
}

fn tokens(store: &dyn Backend) {
    let t = TokenRecord {
        id: "tok1".into(),
        principal: "alice".into(),
        secret_sha256: [7; 32],
        description: Some("ci".into()),
        created_at: 5,
        revoked_at: None,
    };
    store.add_token(&t).unwrap();
    assert_eq!(store.token("tok1").unwrap().unwrap(), t);
    assert!(store.add_token(&t).is_err(), "token ids are unique");
    assert_eq!(store.tokens().unwrap().len(), 1);
    assert!(store.revoke_token("tok1", 9).unwrap());
    assert!(!store.revoke_token("tok1", 10).unwrap(), "already revoked");
    assert_eq!(store.token("tok1").unwrap().unwrap().revoked_at, Some(9));
}

fn submissions(b: &dyn Backend) {
    let s = |stage: &str, at: i64| crate::SubmissionRecord {
        incident: "incident--6f6d4f6b-1a80-4ba6-8c49-2e0c3d3f6a71".into(),
        regime: "eu-nis2".into(),
        stage: stage.into(),
        at,
        by: "analyst".into(),
        reference: format!("ref-{stage}"),
        recorded_at: at + 1,
    };
    assert!(
        b.submissions("incident--6f6d4f6b-1a80-4ba6-8c49-2e0c3d3f6a71")
            .expect("read")
            .is_empty()
    );
    b.add_submission(&s("notification", 200)).expect("add");
    b.add_submission(&s("early-warning", 100)).expect("add");
    // The same submission recorded twice stays one.
    b.add_submission(&s("early-warning", 100)).expect("add again");
    let got = b
        .submissions("incident--6f6d4f6b-1a80-4ba6-8c49-2e0c3d3f6a71")
        .expect("read");
    assert_eq!(
        got,
        vec![s("early-warning", 100), s("notification", 200)],
        "in the order made"
    );
    assert!(
        b.submissions("incident--00000000-0000-4000-8000-000000000000")
            .expect("read")
            .is_empty()
    );
}

fn quarantine(b: &dyn Backend) {
    setup(b);
    assert!(b.quarantined(0, 10).expect("empty").is_empty());
    let q = |id: &str, reason: &str| QuarantineRecord {
        seq: 0,
        collection: COLL.into(),
        object_id: id.into(),
        sender: "node-d".into(),
        reason: reason.into(),
        received_at: 1_000,
        json: format!("{{\"id\":\"{id}\"}}"),
    };
    let first = b.quarantine(&q("indicator--1", "unsigned")).expect("add");
    let second = b.quarantine(&q("indicator--2", "bad signature")).expect("add");
    assert!(second > first);
    let all = b.quarantined(0, 10).expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].seq, all[0].reason.as_str()), (first, "unsigned"));
    assert_eq!(all[1].object_id, "indicator--2");
    assert_eq!(b.quarantined(first, 10).expect("after").len(), 1);
    assert_eq!(b.quarantined(0, 1).expect("limit").len(), 1);
    // Quarantined objects are not objects: no read path finds them.
    let page = b.query(&Query::new(COLL)).expect("query");
    assert!(page.objects.iter().all(|o| o.id != "indicator--1"));
}

fn sync_cursors(b: &dyn Backend) {
    assert_eq!(b.sync_cursor("node-b", "pull", "c1").expect("read"), None);
    b.set_sync_cursor("node-b", "pull", "c1", "2026-01-01T00:00:00.000001Z", 1)
        .expect("set");
    b.set_sync_cursor("node-b", "push", "c1", "17", 1).expect("set");
    b.set_sync_cursor("node-b", "pull", "c1", "2026-01-02T00:00:00.000001Z", 2)
        .expect("move");
    assert_eq!(
        b.sync_cursor("node-b", "pull", "c1").expect("read").as_deref(),
        Some("2026-01-02T00:00:00.000001Z")
    );
    assert_eq!(
        b.sync_cursor("node-b", "push", "c1").expect("read").as_deref(),
        Some("17")
    );
    assert_eq!(b.sync_cursor("node-c", "pull", "c1").expect("read"), None);
}
