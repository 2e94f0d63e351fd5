//! The backend conformance suite: the behaviour every [`Backend`] must show, whatever it keeps its
//! data in. Compiled only with the `testsuite` feature. Run it from a backend's tests with a
//! factory that makes a fresh, empty backend each time:
//! `accord_store::conformance::run_all(&|| Box::new(MyBackend::open_temp()))`.
//!
//! Each case is named for the behaviour it checks, so that a failure says what broke. Checks of
//! how one backend does its work (query plans, files, migrations) belong in that backend's tests.

use accord_stix::{CheckedObject, ContentHash, Timestamp, check_value};
use serde_json::json;

use crate::{
    Authorship, Backend, Claim, CollectionSpec, Page, PutOutcome, QuarantineRecord, Query, StatusDetail,
    StatusRecord, Store, StoreError, StoredObject, SubmissionRecord, TokenRecord, VersionFilter,
};

/// A factory for fresh, empty backends.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Backend>;

type Check = fn(&dyn Backend);

/// The cases, each named after its function.
macro_rules! cases {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), $check as Check)),*]
    };
}

const CASES: &[(&str, Check)] = cases![
    // Collections.
    ensure_collection_creates_once_and_lists_it,
    an_absent_collection_reads_as_none,
    an_invalid_collection_id_is_rejected,
    ensure_collection_with_another_alias_conflicts,
    collection_counts_versions_and_the_last_addition,
    an_unknown_collection_is_an_error,
    collections_are_separate,
    // Storing.
    reimport_is_unchanged_with_the_original_date_added,
    an_empty_batch_stores_nothing,
    first_and_last_follow_the_version_not_the_arrival,
    exact_versions_match_as_instants,
    same_version_with_other_content_is_a_conflict,
    date_added_is_strictly_increasing,
    unversioned_objects_are_versioned_by_arrival,
    repeats_within_a_batch_see_earlier_ones,
    all_or_nothing_stores_nothing_on_a_conflict,
    settle_conflicts_turns_copies_deemed_the_same_into_unchanged,
    // Authorship.
    only_the_creator_may_version_an_object_in_any_collection,
    the_creator_named_at_first_binds_later_versions,
    claims_within_a_batch_see_earlier_ones,
    all_or_nothing_stores_nothing_when_a_claim_is_refused,
    // Reading.
    paging_neither_skips_nor_repeats_across_writes,
    added_after_is_exclusive,
    added_before_is_exclusive,
    a_page_says_whether_more_follow,
    the_type_filter_matches_any_listed_type,
    the_id_filter_matches_any_listed_id,
    the_spec_version_filter_matches_any_listed_version,
    filters_combine_with_and,
    a_long_id_list_is_answered,
    stored_json_is_canonical_with_its_hash,
    // Deleting and withdrawals.
    deleting_the_last_version_makes_the_previous_one_last,
    deleting_the_first_version_makes_the_next_one_first,
    deleting_an_exact_version_keeps_the_others,
    an_object_deleted_whole_is_withdrawn_once_with_its_last_version,
    deleting_without_withdraw_leaves_no_withdrawal,
    withdrawals_are_per_collection_oldest_first_and_limited,
    // Retention.
    expired_lists_versions_whose_retention_ended_earliest_first,
    expired_is_per_collection,
    expired_forgets_deleted_versions,
    // Revision.
    revision_ignores_new_objects_and_unchanged_copies,
    revision_changes_with_a_new_first_or_last_version,
    revision_changes_on_every_deletion,
    revision_last_added_is_the_latest_addition,
    // Statuses.
    a_status_reads_back_as_created,
    unfinished_statuses_keep_their_payloads_oldest_first,
    finishing_statuses_records_them_and_drops_their_payloads,
    a_status_created_complete_is_not_unfinished,
    finishing_a_status_never_created_records_it,
    creating_a_status_already_finished_keeps_the_finished_one,
    // Tokens.
    a_token_reads_back_as_added,
    token_ids_are_unique,
    tokens_lists_every_token,
    a_token_is_revoked_once,
    // Submissions.
    submissions_are_in_the_order_made_and_recorded_once,
    a_stage_submitted_again_later_is_kept,
    submissions_are_per_incident,
    // Quarantine.
    quarantine_assigns_increasing_sequence_numbers,
    quarantined_reads_after_a_sequence_number_with_a_limit,
    quarantined_records_read_back_whole,
    quarantined_objects_are_not_objects,
    // Sync cursors.
    a_sync_cursor_is_none_until_set,
    a_sync_cursor_moves,
    sync_cursors_are_per_partner_direction_and_collection,
];

/// Runs every case, each on a fresh backend from `make`, and panics naming every case that failed
/// with its message.
pub fn run_all(make: Factory<'_>) {
    let mut failed = Vec::new();
    for (name, check) in CASES {
        let store = make();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let existing = store
                .collections()
                .expect("a fresh backend lists its collections");
            assert!(
                existing.is_empty(),
                "the factory must make an empty backend: {existing:?}"
            );
            check(store.as_ref());
        }));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{name}: {msg}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
}

const COLL: &str = "c1";
const OTHER: &str = "c2";

/// The id of [`indicator`] `n`.
fn indicator_id(n: u32) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012}")
}

/// An indicator with the given UUID suffix, version time and name.
pub fn indicator(n: u32, modified: &str, name: &str) -> CheckedObject {
    check_value(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": indicator_id(n),
        "created": "2020-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    }))
    .expect("the test indicator is valid STIX")
}

/// An indicator version whose handling extension sets `retention_until` to `until`.
pub fn retained(n: u32, modified: &str, until: &str) -> CheckedObject {
    check_value(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": indicator_id(n),
        "created": "2020-01-01T00:00:00.000Z", "modified": modified,
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z",
        "extensions": {accord_stix::handling::HANDLING_EXTENSION_ID: {
            "extension_type": "property-extension", "retention_until": until}}
    }))
    .expect("the test indicator with a retention is valid STIX")
}

/// An unversioned SCO with its deterministic id; `extra` changes its content but not its id.
fn ip(value: &str, extra: Option<&str>) -> CheckedObject {
    let mut v = json!({"type": "ipv4-addr", "spec_version": "2.1", "value": value});
    let contributing = accord_stix::spec::type_spec("ipv4-addr")
        .expect("ipv4-addr is a known type")
        .id_contributing;
    let properties = v.as_object().expect("the test SCO is a JSON object");
    let id = accord_stix::id::deterministic_sco_id("ipv4-addr", properties, contributing)
        .expect("the test SCO has a deterministic id");
    v["id"] = id.into();
    if let Some(x) = extra {
        v["x_note"] = x.into();
    }
    check_value(v).expect("the test SCO is valid STIX")
}

fn micros(t: &str) -> i64 {
    Timestamp::parse(t)
        .expect("the test timestamp is valid")
        .as_micros()
}

/// Creates collection `id`.
fn ensure(store: &dyn Store, id: &str, alias: Option<&str>) {
    store
        .ensure_collection(&CollectionSpec {
            id: id.into(),
            title: format!("Collection {id}"),
            description: Some("conformance".into()),
            alias: alias.map(Into::into),
        })
        .expect("ensure_collection creates a collection with a valid id");
}

/// Creates the collection most cases use, [`COLL`].
fn setup(store: &dyn Store) {
    ensure(store, COLL, Some("test"));
}

fn put(store: &dyn Store, collection: &str, objects: &[CheckedObject]) -> Vec<PutOutcome> {
    let out = store
        .put_batch(collection, objects)
        .expect("put_batch into an existing collection succeeds");
    assert_eq!(out.len(), objects.len(), "one outcome per object, in input order");
    out
}

/// Puts `objects` into `collection` as `writer` writes them, each naming `named` as its creator.
fn put_as(
    store: &dyn Store,
    collection: &str,
    objects: &[CheckedObject],
    writer: &str,
    named: Option<&str>,
) -> Vec<PutOutcome> {
    let claims: Vec<Claim<'_>> = objects
        .iter()
        .map(|o| Claim {
            object_id: &o.id,
            named_creator: named,
            writer,
        })
        .collect();
    let out = store
        .put_claimed(collection, objects, &claims)
        .expect("put_claimed into an existing collection succeeds");
    assert_eq!(out.len(), objects.len(), "one outcome per object, in input order");
    out
}

fn not_creator(creator: &str) -> PutOutcome {
    PutOutcome::Refused(Authorship::NotCreator {
        creator: creator.into(),
    })
}

fn only_the_creator_may_version_an_object_in_any_collection(store: &dyn Backend) {
    setup(store);
    ensure(store, OTHER, None);
    let v1 = indicator(1, "2020-01-01T00:00:00.000Z", "a");
    let v2 = indicator(1, "2020-02-01T00:00:00.000Z", "b");
    assert!(matches!(
        put_as(store, COLL, &[v1], "org-a", None)[0],
        PutOutcome::New { .. }
    ));
    assert_eq!(
        put_as(store, COLL, std::slice::from_ref(&v2), "org-b", None),
        vec![not_creator("org-a")]
    );
    // Nor by writing it into another collection of the same node.
    assert_eq!(
        put_as(store, OTHER, std::slice::from_ref(&v2), "org-b", None),
        vec![not_creator("org-a")]
    );
    assert!(matches!(
        put_as(store, COLL, &[v2], "org-a", None)[0],
        PutOutcome::NewVersion { .. }
    ));
    assert_eq!(
        all(store, VersionFilter::all()).len(),
        2,
        "the refused version was stored"
    );
    assert_eq!(
        store.creator(&indicator_id(1)).expect("creator").as_deref(),
        Some("org-a")
    );
    assert_eq!(store.creator(&indicator_id(99)).expect("creator"), None);
}

fn the_creator_named_at_first_binds_later_versions(store: &dyn Backend) {
    setup(store);
    let v1 = indicator(2, "2020-01-01T00:00:00.000Z", "a");
    let v2 = indicator(2, "2020-02-01T00:00:00.000Z", "b");
    // Naming another organisation as creator is not writing as it.
    assert_eq!(
        put_as(store, COLL, std::slice::from_ref(&v1), "org-a", Some("org-b")),
        vec![not_creator("org-b")]
    );
    assert!(matches!(
        put_as(store, COLL, &[v1], "org-b", Some("org-b"))[0],
        PutOutcome::New { .. }
    ));
    // A later version cannot take the object over by naming its writer.
    assert_eq!(
        put_as(store, COLL, &[v2], "org-a", Some("org-a")),
        vec![not_creator("org-b")]
    );
}

fn claims_within_a_batch_see_earlier_ones(store: &dyn Backend) {
    setup(store);
    let v1 = indicator(3, "2020-01-01T00:00:00.000Z", "a");
    let v2 = indicator(3, "2020-02-01T00:00:00.000Z", "b");
    let objects = [v1, v2];
    let claims = [
        Claim {
            object_id: &objects[0].id,
            named_creator: None,
            writer: "org-a",
        },
        Claim {
            object_id: &objects[1].id,
            named_creator: None,
            writer: "org-b",
        },
    ];
    let out = store
        .put_claimed(COLL, &objects, &claims)
        .expect("put_claimed into an existing collection succeeds");
    assert!(matches!(out[0], PutOutcome::New { .. }), "{out:?}");
    assert_eq!(out[1], not_creator("org-a"));
}

fn all_or_nothing_stores_nothing_when_a_claim_is_refused(store: &dyn Backend) {
    setup(store);
    put_as(
        store,
        COLL,
        &[indicator(4, "2020-01-01T00:00:00.000Z", "a")],
        "org-a",
        None,
    );
    let batch = [
        indicator(5, "2020-01-01T00:00:00.000Z", "new"),
        indicator(4, "2020-02-01T00:00:00.000Z", "b"),
    ];
    let claims: Vec<Claim<'_>> = batch
        .iter()
        .map(|o| Claim {
            object_id: &o.id,
            named_creator: None,
            writer: "org-b",
        })
        .collect();
    let out = store
        .put_all_or_nothing_claimed(COLL, &batch, &claims)
        .expect("put_all_or_nothing_claimed into an existing collection succeeds");
    assert!(out.is_err(), "{out:?}");
    assert_eq!(all(store, VersionFilter::all()).len(), 1);
    // Nor was the new object's creator recorded: org-a may still create it.
    assert!(matches!(
        put_as(
            store,
            COLL,
            &[indicator(5, "2020-01-01T00:00:00.000Z", "new")],
            "org-a",
            None
        )[0],
        PutOutcome::New { .. }
    ));
}

fn query(store: &dyn Store, q: &Query) -> Page {
    store
        .query(q)
        .expect("a query of an existing collection succeeds")
}

fn delete(store: &dyn Store, id: &str, versions: &VersionFilter, withdraw: bool) -> usize {
    store
        .delete(COLL, id, versions, withdraw)
        .expect("delete in an existing collection succeeds")
}

fn withdrawals(store: &dyn Store, collection: &str, after: i64, limit: usize) -> Vec<crate::Withdrawal> {
    store
        .withdrawals(collection, after, limit)
        .expect("withdrawals can be read")
}

fn changes(store: &dyn Store) -> i64 {
    store
        .revision(COLL)
        .expect("an existing collection has a revision")
        .changes
}

fn date_added_of(outcome: &PutOutcome) -> i64 {
    match outcome {
        PutOutcome::New { date_added }
        | PutOutcome::NewVersion { date_added }
        | PutOutcome::Unchanged { date_added } => *date_added,
        PutOutcome::Conflict { .. } | PutOutcome::Refused(_) => {
            panic!("expected a stored outcome, got {outcome:?}")
        }
    }
}

/// Every matching version in [`COLL`], in `date_added` order, read a page at a time (a backend may
/// cap a page).
fn all(store: &dyn Store, versions: VersionFilter) -> Vec<StoredObject> {
    let mut q = Query::new(COLL);
    q.versions = versions;
    let mut out: Vec<StoredObject> = Vec::new();
    loop {
        let page = query(store, &q);
        assert!(
            !(page.more && page.objects.is_empty()),
            "a page that says more follow has objects"
        );
        q.added_after = page.last_added().or(q.added_after);
        out.extend(page.objects);
        if !page.more {
            return out;
        }
    }
}

fn first() -> VersionFilter {
    VersionFilter {
        first: true,
        ..VersionFilter::default()
    }
}

fn at(version: &str) -> VersionFilter {
    VersionFilter {
        at: vec![Timestamp::parse(version).expect("the test version is a valid timestamp")],
        ..VersionFilter::default()
    }
}

/// Stores versions 1, 2 and 3 (named "v1"…"v3", modified on 1, 2 and 3 January) of indicator 1.
fn three_versions(store: &dyn Store) {
    put(
        store,
        COLL,
        &[
            indicator(1, "2020-01-01T00:00:00.000Z", "v1"),
            indicator(1, "2020-01-02T00:00:00.000Z", "v2"),
            indicator(1, "2020-01-03T00:00:00.000Z", "v3"),
        ],
    );
}

/// Which of the versions stored by [`three_versions`] are among `objects`, by name.
fn names(objects: &[StoredObject]) -> Vec<&str> {
    ["v1", "v2", "v3"]
        .into_iter()
        .filter(|n| objects.iter().any(|o| o.json.contains(&format!("\"{n}\""))))
        .collect()
}

// Collections.

fn ensure_collection_creates_once_and_lists_it(store: &dyn Backend) {
    setup(store);
    setup(store);
    let list = store.collections().expect("collections can be listed");
    assert_eq!(list.len(), 1, "ensuring twice creates one collection: {list:?}");
    assert_eq!(list[0].id, COLL);
    assert_eq!(list[0].title, "Collection c1");
    assert_eq!(list[0].description.as_deref(), Some("conformance"));
    assert_eq!(list[0].alias.as_deref(), Some("test"));
    assert_eq!(
        (list[0].versions, list[0].last_added),
        (0, 0),
        "a new collection is empty"
    );
    assert_eq!(
        store.collection(COLL).expect("a collection can be read").as_ref(),
        Some(&list[0]),
        "collection reads what collections lists"
    );
    ensure(store, OTHER, None);
    let mut ids: Vec<String> = store
        .collections()
        .expect("collections can be listed")
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    assert_eq!(ids, [COLL, OTHER]);
}

fn an_absent_collection_reads_as_none(store: &dyn Backend) {
    setup(store);
    assert!(
        store
            .collection("nope")
            .expect("a collection can be read")
            .is_none()
    );
}

fn an_invalid_collection_id_is_rejected(store: &dyn Backend) {
    let result = store.ensure_collection(&CollectionSpec {
        id: "bad id/..".into(),
        title: "x".into(),
        description: None,
        alias: None,
    });
    assert!(
        matches!(result, Err(StoreError::InvalidCollectionId(_))),
        "{result:?}"
    );
    assert!(store.collections().expect("collections can be listed").is_empty());
}

/// Ensuring an existing collection with another alias is refused; without one, it is the existing
/// collection.
fn ensure_collection_with_another_alias_conflicts(store: &dyn Backend) {
    setup(store);
    let again = |alias: Option<&str>| {
        store.ensure_collection(&CollectionSpec {
            id: COLL.into(),
            title: "Other title".into(),
            description: None,
            alias: alias.map(Into::into),
        })
    };
    let result = again(Some("other"));
    assert!(
        matches!(result, Err(StoreError::CollectionConflict(_, _))),
        "{result:?}"
    );
    let same = again(None).expect("ensuring without an alias returns the existing collection");
    assert_eq!(
        (same.alias.as_deref(), same.title.as_str()),
        (Some("test"), "Collection c1"),
        "the existing collection is kept as it was"
    );
}

fn collection_counts_versions_and_the_last_addition(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    let out = put(
        store,
        COLL,
        &[
            indicator(2, "2020-01-01T00:00:00.000Z", "x"),
            indicator(1, "2020-01-01T00:00:00.000Z", "v1"),
        ],
    );
    let info = store
        .collection(COLL)
        .expect("a collection can be read")
        .expect("the collection exists");
    assert_eq!(info.versions, 4, "unchanged copies are not counted again");
    assert_eq!(
        info.last_added,
        date_added_of(&out[0]),
        "last_added is the newest version's date_added"
    );
    delete(store, &indicator_id(1), &VersionFilter::all(), false);
    let info = store
        .collection(COLL)
        .expect("a collection can be read")
        .expect("the collection exists");
    assert_eq!(info.versions, 1, "deleted versions are not counted");
}

fn an_unknown_collection_is_an_error(store: &dyn Backend) {
    let unknown = |what: &str, r: Result<(), StoreError>| {
        assert!(
            matches!(r, Err(StoreError::UnknownCollection(_))),
            "{what} of an unknown collection: {r:?}"
        );
    };
    let objects = [indicator(1, "2020-01-01T00:00:00.000Z", "a")];
    unknown("put_batch", store.put_batch("nope", &[]).map(drop));
    unknown("put_batch", store.put_batch("nope", &objects).map(drop));
    unknown(
        "put_all_or_nothing",
        store.put_all_or_nothing("nope", &objects).map(drop),
    );
    unknown("query", store.query(&Query::new("nope")).map(drop));
    unknown(
        "delete",
        store
            .delete("nope", &indicator_id(1), &VersionFilter::all(), true)
            .map(drop),
    );
    unknown("expired", store.expired("nope", 0).map(drop));
    unknown("revision", store.revision("nope").map(drop));
}

fn collections_are_separate(store: &dyn Backend) {
    setup(store);
    ensure(store, OTHER, None);
    let o = indicator(1, "2020-01-01T00:00:00.000Z", "a");
    let out = put(store, COLL, std::slice::from_ref(&o));
    assert!(matches!(out[0], PutOutcome::New { .. }), "{out:?}");
    let out = put(store, OTHER, &[o]);
    assert!(
        matches!(out[0], PutOutcome::New { .. }),
        "the same object is new in another collection: {out:?}"
    );
    assert_eq!(query(store, &Query::new(OTHER)).objects.len(), 1);
    let other = store
        .collection(OTHER)
        .expect("a collection can be read")
        .expect("the collection exists");
    assert_eq!(other.versions, 1);
    delete(store, &indicator_id(1), &VersionFilter::all(), true);
    assert_eq!(
        query(store, &Query::new(OTHER)).objects.len(),
        1,
        "a delete in one collection leaves the others"
    );
}

// Storing.

fn reimport_is_unchanged_with_the_original_date_added(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..10)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "a"))
        .collect();
    let first = put(store, COLL, &objs);
    assert!(
        first.iter().all(|o| matches!(o, PutOutcome::New { .. })),
        "{first:?}"
    );
    let again = put(store, COLL, &objs);
    for (a, b) in first.iter().zip(&again) {
        let (PutOutcome::New { date_added: x }, PutOutcome::Unchanged { date_added: y }) = (a, b) else {
            panic!("re-import gave {b:?}");
        };
        assert_eq!(x, y, "unchanged keeps the original date_added");
    }
    let info = store
        .collection(COLL)
        .expect("a collection can be read")
        .expect("the collection exists");
    assert_eq!(info.versions, 10);
}

fn an_empty_batch_stores_nothing(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "a")]);
    let before = store
        .revision(COLL)
        .expect("an existing collection has a revision");
    assert!(put(store, COLL, &[]).is_empty());
    let ok = store
        .put_all_or_nothing(COLL, &[])
        .expect("an empty all-or-nothing batch succeeds");
    assert_eq!(ok, Ok(Vec::new()));
    assert_eq!(store.revision(COLL).expect("revision"), before);
    assert_eq!(all(store, VersionFilter::all()).len(), 1);
}

fn first_and_last_follow_the_version_not_the_arrival(store: &dyn Backend) {
    setup(store);
    // Versions arrive out of order; first/last follow `modified`, not arrival.
    let v2 = indicator(1, "2020-01-02T00:00:00.000Z", "v2");
    let v1 = indicator(1, "2020-01-01T00:00:00.000Z", "v1");
    let v3 = indicator(1, "2020-01-03T00:00:00.5000Z", "v3");
    let out = put(store, COLL, &[v2]);
    assert!(matches!(out[0], PutOutcome::New { .. }), "{out:?}");
    let out = put(store, COLL, &[v1, v3]);
    assert!(
        matches!(
            out[..],
            [PutOutcome::NewVersion { .. }, PutOutcome::NewVersion { .. }]
        ),
        "{out:?}"
    );
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert_eq!(
        last[0].version, "2020-01-03T00:00:00.5000Z",
        "version is reported as written"
    );
    assert_eq!(all(store, first())[0].version, "2020-01-01T00:00:00.000Z");
    assert_eq!(all(store, VersionFilter::all()).len(), 3);
    let both = all(
        store,
        VersionFilter {
            first: true,
            last: true,
            ..Default::default()
        },
    );
    assert_eq!(names(&both), ["v1", "v3"], "first and last together are OR-ed");
}

fn exact_versions_match_as_instants(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    // Different digits, same instant.
    let found = all(store, at("2020-01-02T00:00:00Z"));
    assert_eq!(found.len(), 1);
    assert!(found[0].json.contains("\"v2\""));
    let mut two = at("2020-01-01T00:00:00.000000Z");
    two.at.extend(at("2020-01-03T00:00:00Z").at);
    assert_eq!(names(&all(store, two)), ["v1", "v3"], "listed versions are OR-ed");
    assert!(all(store, at("2020-01-04T00:00:00Z")).is_empty());
}

fn same_version_with_other_content_is_a_conflict(store: &dyn Backend) {
    setup(store);
    let a = indicator(1, "2020-01-01T00:00:00.000Z", "a");
    put(store, COLL, std::slice::from_ref(&a));
    let out = put(store, COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "b")]);
    assert_eq!(
        out[0],
        PutOutcome::Conflict { existing: a.hash },
        "a conflict names the stored content's hash"
    );
    assert!(!out[0].is_stored());
    let stored = all(store, VersionFilter::all());
    assert_eq!(stored.len(), 1);
    assert!(stored[0].json.contains("\"a\""), "the first content stays");
}

fn date_added_is_strictly_increasing(store: &dyn Backend) {
    setup(store);
    let mut last = i64::MIN;
    for batch in 0..20 {
        let objs: Vec<_> = (0..50)
            .map(|i| indicator(batch * 100 + i, "2020-01-01T00:00:00.000Z", "x"))
            .collect();
        for o in put(store, COLL, &objs) {
            let PutOutcome::New { date_added } = o else {
                panic!("{o:?}")
            };
            assert!(date_added > last, "{date_added} after {last}");
            last = date_added;
        }
    }
    let info = store
        .collection(COLL)
        .expect("a collection can be read")
        .expect("the collection exists");
    assert_eq!(info.last_added, last);
    // Stored order equals date_added order.
    let stored = all(store, VersionFilter::all());
    assert_eq!(stored.len(), 1000);
    assert!(stored.windows(2).all(|w| w[0].date_added < w[1].date_added));
}

fn unversioned_objects_are_versioned_by_arrival(store: &dyn Backend) {
    setup(store);
    let a = ip("203.0.113.1", None);
    let out = put(store, COLL, std::slice::from_ref(&a));
    assert!(matches!(out[0], PutOutcome::New { .. }), "{out:?}");
    let out = put(store, COLL, &[a]);
    assert!(matches!(out[0], PutOutcome::Unchanged { .. }), "{out:?}");
    // Different content under the same deterministic id: a new version, told apart by arrival.
    let b = ip("203.0.113.1", Some("seen again"));
    let out = put(store, COLL, &[b]);
    assert!(matches!(out[0], PutOutcome::NewVersion { .. }), "{out:?}");
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert!(last[0].json.contains("seen again"));
    assert!(Timestamp::parse(&last[0].version).is_ok(), "{}", last[0].version);
}

fn repeats_within_a_batch_see_earlier_ones(store: &dyn Backend) {
    setup(store);
    let v1 = indicator(1, "2020-01-01T00:00:00.000Z", "v1");
    let v2 = indicator(1, "2020-01-02T00:00:00.000Z", "v2");
    let batch = [
        v1.clone(),
        v2,
        v1,
        indicator(1, "2020-01-02T00:00:00.000Z", "clash"),
    ];
    let out = put(store, COLL, &batch);
    assert!(matches!(out[0], PutOutcome::New { .. }), "{out:?}");
    assert!(matches!(out[1], PutOutcome::NewVersion { .. }), "{out:?}");
    assert!(matches!(out[2], PutOutcome::Unchanged { .. }), "{out:?}");
    assert!(matches!(out[3], PutOutcome::Conflict { .. }), "{out:?}");
    let last = all(store, VersionFilter::last());
    assert_eq!(last.len(), 1);
    assert!(last[0].json.contains("\"v2\""));
}

fn all_or_nothing_stores_nothing_on_a_conflict(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "a")]);
    let before = store
        .revision(COLL)
        .expect("an existing collection has a revision");
    let batch = [
        indicator(2, "2020-01-01T00:00:00.000Z", "b"),
        indicator(1, "2020-01-01T00:00:00.000Z", "changed"),
    ];
    let outcomes = store
        .put_all_or_nothing(COLL, &batch)
        .expect("put_all_or_nothing into an existing collection succeeds")
        .expect_err("a batch with a conflict is refused");
    assert_eq!(outcomes.len(), 2, "the outcomes of every object are returned");
    assert!(matches!(outcomes[1], PutOutcome::Conflict { .. }), "{outcomes:?}");
    assert_eq!(
        all(store, VersionFilter::all()).len(),
        1,
        "nothing of a failed batch is stored"
    );
    assert_eq!(
        store.revision(COLL).expect("revision"),
        before,
        "nothing of a failed batch is added"
    );
    let ok = store
        .put_all_or_nothing(COLL, &batch[..1])
        .expect("put_all_or_nothing into an existing collection succeeds")
        .expect("a batch without a conflict is stored");
    assert!(matches!(ok[0], PutOutcome::New { .. }), "{ok:?}");
    assert_eq!(all(store, VersionFilter::all()).len(), 2);
}

/// A conflicting copy the caller deems the same version is reported as the stored one; the others
/// stay conflicts, and nothing is written either way.
fn settle_conflicts_turns_copies_deemed_the_same_into_unchanged(store: &dyn Backend) {
    setup(store);
    let first = indicator(1, "2020-01-01T00:00:00.000Z", "a");
    let out = put(store, COLL, std::slice::from_ref(&first));
    let PutOutcome::New { date_added } = out[0] else {
        panic!("{out:?}")
    };
    let mut copies = vec![
        indicator(1, "2020-01-01T00:00:00.000Z", "b"),
        indicator(1, "2020-01-01T00:00:00.000Z", "c"),
        indicator(2, "2020-01-01T00:00:00.000Z", "d"),
    ];
    let mut outcomes = put(store, COLL, &copies);
    let same = |stored: &str, incoming: &str| stored.contains("\"a\"") && incoming.contains("\"b\"");
    crate::settle_conflicts(store, COLL, &mut copies, &mut outcomes, &same)
        .expect("settle_conflicts reads the stored copies");
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

// Reading.

fn paging_neither_skips_nor_repeats_across_writes(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..257)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "p"))
        .collect();
    put(store, COLL, &objs[..100]);
    let mut seen = Vec::new();
    let mut q = Query::new(COLL);
    q.limit = 30;
    let mut interleaved = false;
    loop {
        let page = query(store, &q);
        seen.extend(page.objects.iter().map(|o| o.id.clone()));
        // Writes arriving between pages must not make the reader skip or repeat anything.
        if !interleaved {
            put(store, COLL, &objs[100..]);
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
}

fn added_after_is_exclusive(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..20)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "p"))
        .collect();
    put(store, COLL, &objs);
    let everything = all(store, VersionFilter::all());
    let mut q = Query::new(COLL);
    q.added_after = Some(everything[10].date_added);
    q.limit = 1;
    assert_eq!(query(store, &q).objects[0].id, everything[11].id);
    q.added_after = everything.last().map(|o| o.date_added);
    let tail = query(store, &q);
    assert!(tail.objects.is_empty() && !tail.more, "{tail:?}");
}

fn added_before_is_exclusive(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..20)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "p"))
        .collect();
    put(store, COLL, &objs);
    let everything = all(store, VersionFilter::all());
    let mut q = Query::new(COLL);
    q.added_before = Some(everything[5].date_added);
    let page = query(store, &q);
    assert_eq!(
        page.objects,
        everything[..5],
        "versions added before the bound, in order"
    );
    assert!(!page.more, "nothing more follows before the bound");
    q.added_after = Some(everything[1].date_added);
    assert_eq!(query(store, &q).objects, everything[2..5], "both bounds apply");
    q.added_before = Some(everything[0].date_added);
    q.added_after = None;
    assert!(query(store, &q).objects.is_empty());
}

fn a_page_says_whether_more_follow(store: &dyn Backend) {
    setup(store);
    let objs: Vec<_> = (0..5)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "p"))
        .collect();
    put(store, COLL, &objs);
    let mut q = Query::new(COLL);
    q.limit = 4;
    let page = query(store, &q);
    assert_eq!((page.objects.len(), page.more), (4, true), "{page:?}");
    assert_eq!(page.last_added(), page.objects.last().map(|o| o.date_added));
    q.limit = 5;
    let page = query(store, &q);
    assert_eq!(
        (page.objects.len(), page.more),
        (5, false),
        "a page that holds the rest exactly says no more follow"
    );
}

fn the_type_filter_matches_any_listed_type(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &mixed());
    let mut q = Query::new(COLL);
    q.types = vec!["ipv4-addr".into()];
    let r = query(store, &q).objects;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].type_name, "ipv4-addr");
    q.types = vec!["ipv4-addr".into(), "indicator".into()];
    assert_eq!(query(store, &q).objects.len(), 3);
    q.types = vec!["malware".into()];
    assert!(query(store, &q).objects.is_empty());
}

fn the_id_filter_matches_any_listed_id(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &mixed());
    let mut q = Query::new(COLL);
    q.ids = vec![indicator_id(2), indicator_id(999)];
    let r = query(store, &q).objects;
    assert_eq!(r.len(), 1);
    assert!(r[0].json.contains("\"b\""));
    q.ids = vec![indicator_id(1), indicator_id(2)];
    assert_eq!(query(store, &q).objects.len(), 2);
}

fn the_spec_version_filter_matches_any_listed_version(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &mixed());
    let mut q = Query::new(COLL);
    q.spec_versions = vec!["2.0".into()];
    assert!(query(store, &q).objects.is_empty());
    q.spec_versions = vec!["2.1".into()];
    assert_eq!(query(store, &q).objects.len(), 3);
    q.spec_versions = vec!["2.0".into(), "2.1".into()];
    assert_eq!(query(store, &q).objects.len(), 3);
}

fn filters_combine_with_and(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &mixed());
    let mut q = Query::new(COLL);
    q.ids = vec![indicator_id(1)];
    q.types = vec!["ipv4-addr".into()];
    assert!(query(store, &q).objects.is_empty(), "an id of another type");
    q.types = vec!["indicator".into()];
    q.spec_versions = vec!["2.1".into()];
    assert_eq!(query(store, &q).objects.len(), 1);
}

fn a_long_id_list_is_answered(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &mixed());
    let mut q = Query::new(COLL);
    q.ids = (0..5000).map(indicator_id).collect();
    assert_eq!(query(store, &q).objects.len(), 2);
}

fn stored_json_is_canonical_with_its_hash(store: &dyn Backend) {
    setup(store);
    let objects = mixed();
    put(store, COLL, &objects);
    let r = query(store, &Query::new(COLL)).objects;
    assert_eq!(r.len(), objects.len());
    for (o, sent) in r.iter().zip(&objects) {
        assert_eq!(ContentHash::of_canonical(o.json.as_bytes()), o.hash);
        assert_eq!((&o.id, &o.json, o.hash), (&sent.id, &sent.canonical, sent.hash));
        assert_eq!(
            (o.type_name.as_str(), o.spec_version.as_deref()),
            (sent.type_name.as_str(), Some("2.1"))
        );
    }
}

/// Two indicators ("a", "b") and an IPv4 address.
fn mixed() -> Vec<CheckedObject> {
    vec![
        indicator(1, "2020-01-01T00:00:00.000Z", "a"),
        indicator(2, "2020-01-01T00:00:00.000Z", "b"),
        ip("192.0.2.7", None),
    ]
}

// Deleting and withdrawals.

fn deleting_the_last_version_makes_the_previous_one_last(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    assert_eq!(delete(store, &indicator_id(1), &VersionFilter::last(), true), 1);
    assert_eq!(
        names(&all(store, VersionFilter::last())),
        ["v2"],
        "v2 becomes the latest after v3 is deleted"
    );
    assert_eq!(names(&all(store, first())), ["v1"]);
    // The object is still there: nothing is withdrawn yet.
    assert!(withdrawals(store, COLL, 0, 10).is_empty());
}

fn deleting_the_first_version_makes_the_next_one_first(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    assert_eq!(delete(store, &indicator_id(1), &first(), true), 1);
    assert_eq!(
        names(&all(store, first())),
        ["v2"],
        "v2 becomes the first after v1 is deleted"
    );
    assert_eq!(names(&all(store, VersionFilter::last())), ["v3"]);
}

fn deleting_an_exact_version_keeps_the_others(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    assert_eq!(
        delete(store, &indicator_id(1), &at("2020-01-02T00:00:00Z"), true),
        1
    );
    assert_eq!(names(&all(store, VersionFilter::all())), ["v1", "v3"]);
    assert_eq!(names(&all(store, first())), ["v1"]);
    assert_eq!(names(&all(store, VersionFilter::last())), ["v3"]);
    assert_eq!(
        delete(store, &indicator_id(1), &at("2020-01-02T00:00:00Z"), true),
        0,
        "a version deleted already"
    );
    assert_eq!(
        delete(store, &indicator_id(9), &VersionFilter::all(), true),
        0,
        "an object never stored"
    );
    assert!(withdrawals(store, COLL, 0, 10).is_empty());
}

fn an_object_deleted_whole_is_withdrawn_once_with_its_last_version(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    let id = indicator_id(1);
    assert_eq!(delete(store, &id, &VersionFilter::last(), true), 1);
    assert_eq!(delete(store, &id, &VersionFilter::all(), true), 2);
    assert!(all(store, VersionFilter::all()).is_empty());
    assert_eq!(delete(store, &id, &VersionFilter::all(), true), 0);
    // Gone whole: withdrawn once, with the version that was the latest.
    let w = withdrawals(store, COLL, 0, 10);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].object_id.as_str(), w[0].collection.as_str()),
        (id.as_str(), COLL)
    );
    assert!(w[0].json.contains("\"v2\""));
    assert!(w[0].deleted_at > 0, "{w:?}");
    assert!(withdrawals(store, COLL, w[0].seq, 10).is_empty());
}

/// Deleting without withdrawing (retention) leaves no record.
fn deleting_without_withdraw_leaves_no_withdrawal(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &[indicator(2, "2020-01-01T00:00:00.000Z", "kept")]);
    assert_eq!(delete(store, &indicator_id(2), &VersionFilter::all(), false), 1);
    assert!(all(store, VersionFilter::all()).is_empty());
    assert!(withdrawals(store, COLL, 0, 10).is_empty());
}

fn withdrawals_are_per_collection_oldest_first_and_limited(store: &dyn Backend) {
    setup(store);
    ensure(store, OTHER, None);
    let objects: Vec<_> = (1..=3)
        .map(|i| indicator(i, "2020-01-01T00:00:00.000Z", "w"))
        .collect();
    put(store, COLL, &objects);
    put(store, OTHER, &objects[..1]);
    for n in [2, 1, 3] {
        assert_eq!(delete(store, &indicator_id(n), &VersionFilter::all(), true), 1);
    }
    store
        .delete(OTHER, &indicator_id(1), &VersionFilter::all(), true)
        .expect("delete in an existing collection succeeds");
    let w = withdrawals(store, COLL, 0, 10);
    let ids: Vec<&str> = w.iter().map(|w| w.object_id.as_str()).collect();
    assert_eq!(
        ids,
        [indicator_id(2), indicator_id(1), indicator_id(3)],
        "in deletion order"
    );
    assert!(w.windows(2).all(|p| p[0].seq < p[1].seq), "{w:?}");
    assert_eq!(withdrawals(store, COLL, 0, 2), w[..2], "at most `limit`");
    assert_eq!(withdrawals(store, COLL, w[0].seq, 10), w[1..], "after `after`");
    let other = withdrawals(store, OTHER, 0, 10);
    assert_eq!(other.len(), 1, "{other:?}");
    assert_eq!(other[0].collection, OTHER);
}

// Retention.

/// Stores versions with and without a retention in [`COLL`], and one in [`OTHER`].
fn retained_versions(store: &dyn Backend) {
    setup(store);
    ensure(store, OTHER, None);
    put(
        store,
        COLL,
        &[
            retained(1, "2020-01-01T00:00:00.000Z", "2024-06-01T00:00:00.000001Z"),
            retained(1, "2020-01-02T00:00:00.000Z", "2030-01-01T00:00:00Z"),
            retained(2, "2020-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z"),
            retained(3, "2020-01-01T00:00:00.000Z", "not a time"),
            indicator(4, "2020-01-01T00:00:00.000Z", "unlimited"),
        ],
    );
    put(
        store,
        OTHER,
        &[retained(5, "2020-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z")],
    );
}

/// The expired versions of [`COLL`] at `now`, as (indicator number, version), checking their order.
fn expired_at(store: &dyn Backend, now: &str) -> Vec<(u32, String)> {
    let list = store
        .expired(COLL, micros(now))
        .expect("expired reads an existing collection");
    assert!(
        list.windows(2)
            .all(|w| w[0].retention_until <= w[1].retention_until),
        "earliest end first: {list:?}"
    );
    list.into_iter()
        .map(|e| {
            let n =
                e.id.rsplit('-')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("an id made by `indicator`");
            (n, e.version)
        })
        .collect()
}

/// Versions whose retention ended are found by when it ended; versions without one, or whose
/// retention has not ended, are not; an unreadable retention has already ended.
fn expired_lists_versions_whose_retention_ended_earliest_first(store: &dyn Backend) {
    retained_versions(store);
    let v = |n: u32, version: &str| (n, version.to_owned());
    // Just before the first version's retention ends: the unreadable one, then the one from January.
    assert_eq!(
        expired_at(store, "2024-06-01T00:00:00Z"),
        [v(3, "2020-01-01T00:00:00.000Z"), v(2, "2020-01-01T00:00:00.000Z")]
    );
    // At the instant it ends, it has ended (microsecond precision); the later version has not.
    let found = expired_at(store, "2024-06-01T00:00:00.000001Z");
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[2], v(1, "2020-01-01T00:00:00.000Z"));
    let one = store
        .expired(COLL, micros("2024-06-01T00:00:00.000001Z"))
        .expect("expired reads an existing collection");
    let stored = all(store, VersionFilter::all());
    let first = stored
        .iter()
        .find(|o| o.id == one[2].id && o.version == one[2].version)
        .expect("an expired version is a stored version");
    assert_eq!(
        (one[2].hash, one[2].retention_until),
        (first.hash, micros("2024-06-01T00:00:00.000001Z"))
    );
    assert_eq!(expired_at(store, "2099-01-01T00:00:00Z").len(), 4);
}

fn expired_is_per_collection(store: &dyn Backend) {
    retained_versions(store);
    let other = store
        .expired(OTHER, micros("2099-01-01T00:00:00Z"))
        .expect("expired reads an existing collection");
    assert_eq!(other.len(), 1, "{other:?}");
    assert_eq!(other[0].id, indicator_id(5));
    assert_eq!(expired_at(store, "2099-01-01T00:00:00Z").len(), 4);
}

fn expired_forgets_deleted_versions(store: &dyn Backend) {
    retained_versions(store);
    delete(store, &indicator_id(2), &VersionFilter::all(), false);
    let left = expired_at(store, "2099-01-01T00:00:00Z");
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().all(|(n, _)| *n != 2), "{left:?}");
}

// Revision.

fn revision_ignores_new_objects_and_unchanged_copies(store: &dyn Backend) {
    setup(store);
    let r0 = changes(store);
    put(
        store,
        COLL,
        &[
            indicator(1, "2020-01-02T00:00:00.000Z", "v2"),
            indicator(2, "2020-01-01T00:00:00.000Z", "x"),
        ],
    );
    put(store, COLL, &[indicator(2, "2020-01-01T00:00:00.000Z", "x")]);
    assert_eq!(changes(store), r0, "new objects and unchanged copies leave it");
    put(
        store,
        COLL,
        &[indicator(2, "2020-01-01T00:00:00.000Z", "conflict")],
    );
    assert_eq!(changes(store), r0, "a conflict changes nothing");
}

fn revision_changes_with_a_new_first_or_last_version(store: &dyn Backend) {
    setup(store);
    put(store, COLL, &[indicator(1, "2020-01-02T00:00:00.000Z", "v2")]);
    let r0 = changes(store);
    put(store, COLL, &[indicator(1, "2020-01-03T00:00:00.000Z", "v3")]);
    let r1 = changes(store);
    assert_ne!(r1, r0, "a new last version changes what `last` reads");
    put(store, COLL, &[indicator(1, "2020-01-01T00:00:00.000Z", "v1")]);
    assert_ne!(
        changes(store),
        r1,
        "a new first version changes what `first` reads"
    );
}

fn revision_changes_on_every_deletion(store: &dyn Backend) {
    setup(store);
    three_versions(store);
    let id = indicator_id(1);
    let r0 = changes(store);
    assert_eq!(delete(store, &id, &at("2020-01-02T00:00:00Z"), false), 1);
    let r1 = changes(store);
    assert_ne!(
        r1, r0,
        "deleting a version that is neither first nor last changes it"
    );
    assert_eq!(delete(store, &id, &VersionFilter::all(), false), 2);
    let r2 = changes(store);
    assert_ne!(r2, r1, "a deletion changes it");
    assert_eq!(delete(store, &id, &VersionFilter::all(), false), 0);
    assert_eq!(changes(store), r2, "deleting nothing leaves it");
}

fn revision_last_added_is_the_latest_addition(store: &dyn Backend) {
    setup(store);
    assert_eq!(
        store.revision(COLL).expect("revision").last_added,
        0,
        "nothing added yet"
    );
    put(
        store,
        COLL,
        &[
            indicator(1, "2020-01-02T00:00:00.000Z", "v2"),
            indicator(2, "2020-01-01T00:00:00.000Z", "x"),
        ],
    );
    let added = store.revision(COLL).expect("revision").last_added;
    let newest = all(store, VersionFilter::all()).last().map(|o| o.date_added);
    assert_eq!(newest, Some(added));
    put(store, COLL, &[indicator(2, "2020-01-01T00:00:00.000Z", "x")]);
    assert_eq!(
        store.revision(COLL).expect("revision").last_added,
        added,
        "unchanged copies add nothing"
    );
    let out = put(store, COLL, &[indicator(3, "2020-01-01T00:00:00.000Z", "y")]);
    assert_eq!(
        store.revision(COLL).expect("revision").last_added,
        date_added_of(&out[0])
    );
}

// Statuses.

fn status(id: &str, pendings: &[&str]) -> StatusRecord {
    StatusRecord {
        id: id.into(),
        api_root: "api".into(),
        collection: COLL.into(),
        principal: "alice".into(),
        request_timestamp: 1,
        complete: false,
        total: u64::try_from(pendings.len()).expect("a short test list"),
        successes: Vec::new(),
        failures: Vec::new(),
        pendings: pendings
            .iter()
            .map(|p| StatusDetail {
                id: (*p).into(),
                version: "v".into(),
                message: None,
            })
            .collect(),
    }
}

/// `st` with its pending objects moved to successes, except the last, which failed.
fn finished(mut st: StatusRecord) -> StatusRecord {
    st.complete = true;
    st.successes = std::mem::take(&mut st.pendings);
    if let Some(mut failed) = st.successes.pop() {
        failed.message = Some("conflict".into());
        st.failures.push(failed);
    }
    st
}

fn a_status_reads_back_as_created(store: &dyn Backend) {
    let st = status("status-1", &["indicator--a", "indicator--b"]);
    assert!(
        store
            .create_status(&st, b"payload")
            .expect("a new status is created")
    );
    assert_eq!(store.status("status-1").expect("a status can be read"), Some(st));
    assert!(store.status("nope").expect("a status can be read").is_none());
}

fn unfinished_statuses_keep_their_payloads_oldest_first(store: &dyn Backend) {
    let one = status("status-1", &["indicator--a"]);
    let two = status("status-2", &["indicator--b"]);
    store
        .create_status(&one, b"first")
        .expect("a new status is created");
    store
        .create_status(&two, b"second")
        .expect("a new status is created");
    let unfinished = store
        .unfinished_statuses()
        .expect("unfinished statuses can be listed");
    assert_eq!(unfinished, [(one, b"first".to_vec()), (two, b"second".to_vec())]);
}

fn finishing_statuses_records_them_and_drops_their_payloads(store: &dyn Backend) {
    let sts: Vec<_> = (1..=3)
        .map(|i| status(&format!("status-{i}"), &["indicator--a", "indicator--b"]))
        .collect();
    for st in &sts {
        store
            .create_status(st, b"payload")
            .expect("a new status is created");
    }
    let done = [finished(sts[0].clone()), finished(sts[2].clone())];
    store
        .finish_statuses(&done)
        .expect("existing statuses can be finished");
    for st in &done {
        assert_eq!(
            store.status(&st.id).expect("a status can be read").as_ref(),
            Some(st)
        );
    }
    let unfinished = store
        .unfinished_statuses()
        .expect("unfinished statuses can be listed");
    assert_eq!(unfinished, [(sts[1].clone(), b"payload".to_vec())]);
    store
        .finish_statuses(&[finished(sts[1].clone())])
        .expect("existing statuses can be finished");
    assert!(store.unfinished_statuses().expect("listed").is_empty());
}

fn a_status_created_complete_is_not_unfinished(store: &dyn Backend) {
    let st = finished(status("status-1", &["indicator--a"]));
    store
        .create_status(&st, b"payload")
        .expect("a new status is created");
    assert_eq!(store.status("status-1").expect("a status can be read"), Some(st));
    assert!(store.unfinished_statuses().expect("listed").is_empty());
}

fn finishing_a_status_never_created_records_it(store: &dyn Backend) {
    let done = finished(status("status-1", &["indicator--a", "indicator--b"]));
    store
        .finish_statuses(std::slice::from_ref(&done))
        .expect("a status never created can be finished");
    assert_eq!(
        store.status("status-1").expect("a status can be read"),
        Some(done)
    );
    assert!(store.unfinished_statuses().expect("listed").is_empty());
}

fn creating_a_status_already_finished_keeps_the_finished_one(store: &dyn Backend) {
    let st = status("status-1", &["indicator--a"]);
    let done = finished(st.clone());
    store
        .finish_statuses(std::slice::from_ref(&done))
        .expect("a status never created can be finished");
    assert!(
        !store
            .create_status(&st, b"payload")
            .expect("creating a finished status is not an error"),
        "nothing is created"
    );
    assert_eq!(
        store.status("status-1").expect("a status can be read"),
        Some(done)
    );
    assert!(
        store.unfinished_statuses().expect("listed").is_empty(),
        "a finished status is never resumed"
    );
}

// Tokens.

fn token(id: &str, created_at: i64) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        principal: "alice".into(),
        secret_sha256: [7; 32],
        description: Some("ci".into()),
        created_at,
        revoked_at: None,
    }
}

fn a_token_reads_back_as_added(store: &dyn Backend) {
    let t = token("tok1", 5);
    store.add_token(&t).expect("a new token is added");
    assert_eq!(store.token("tok1").expect("a token can be read"), Some(t));
    assert!(store.token("nope").expect("a token can be read").is_none());
}

fn token_ids_are_unique(store: &dyn Backend) {
    let t = token("tok1", 5);
    store.add_token(&t).expect("a new token is added");
    let mut other = token("tok1", 6);
    other.principal = "mallory".into();
    assert!(store.add_token(&other).is_err(), "token ids are unique");
    assert_eq!(store.token("tok1").expect("a token can be read"), Some(t));
    assert_eq!(store.tokens().expect("tokens can be listed").len(), 1);
}

fn tokens_lists_every_token(store: &dyn Backend) {
    let a = token("tok-a", 5);
    let b = token("tok-b", 6);
    store.add_token(&a).expect("a new token is added");
    store.add_token(&b).expect("a new token is added");
    assert!(store.revoke_token("tok-a", 9).expect("a token can be revoked"));
    let mut list = store.tokens().expect("tokens can be listed");
    list.sort_by(|x, y| x.id.cmp(&y.id));
    let revoked = TokenRecord {
        revoked_at: Some(9),
        ..a
    };
    assert_eq!(list, [revoked, b], "revoked tokens are listed too");
}

fn a_token_is_revoked_once(store: &dyn Backend) {
    store.add_token(&token("tok1", 5)).expect("a new token is added");
    assert!(store.revoke_token("tok1", 9).expect("a token can be revoked"));
    assert!(
        !store.revoke_token("tok1", 10).expect("a token can be revoked"),
        "already revoked"
    );
    let t = store
        .token("tok1")
        .expect("a token can be read")
        .expect("the token exists");
    assert_eq!(t.revoked_at, Some(9), "the first revocation's time stays");
    assert!(
        !store.revoke_token("nope", 9).expect("a token can be revoked"),
        "no such token"
    );
}

// Submissions.

const INCIDENT: &str = "incident--6f6d4f6b-1a80-4ba6-8c49-2e0c3d3f6a71";

fn submission(incident: &str, stage: &str, at: i64) -> SubmissionRecord {
    SubmissionRecord {
        incident: incident.into(),
        regime: "eu-nis2".into(),
        stage: stage.into(),
        at,
        by: "analyst".into(),
        reference: format!("ref-{stage}"),
        recorded_at: at + 1,
    }
}

fn submissions(store: &dyn Backend, incident: &str) -> Vec<SubmissionRecord> {
    store.submissions(incident).expect("submissions can be read")
}

fn submissions_are_in_the_order_made_and_recorded_once(store: &dyn Backend) {
    let s = |stage: &str, at: i64| submission(INCIDENT, stage, at);
    assert!(submissions(store, INCIDENT).is_empty());
    store.add_submission(&s("notification", 200)).expect("add");
    store.add_submission(&s("early-warning", 100)).expect("add");
    // The same submission recorded twice stays one, as first recorded.
    store
        .add_submission(&s("early-warning", 100))
        .expect("recording a submission again is a no-op, not an error");
    let mut again = s("early-warning", 100);
    again.reference = "another reference".into();
    store
        .add_submission(&again)
        .expect("recording a submission again is a no-op, not an error");
    assert_eq!(
        submissions(store, INCIDENT),
        vec![s("early-warning", 100), s("notification", 200)],
        "in the order made"
    );
}

fn a_stage_submitted_again_later_is_kept(store: &dyn Backend) {
    let s = |at: i64| submission(INCIDENT, "early-warning", at);
    store.add_submission(&s(300)).expect("add");
    store.add_submission(&s(100)).expect("add");
    assert_eq!(submissions(store, INCIDENT), vec![s(100), s(300)]);
}

fn submissions_are_per_incident(store: &dyn Backend) {
    let other = "incident--00000000-0000-4000-8000-000000000000";
    store
        .add_submission(&submission(INCIDENT, "notification", 200))
        .expect("add");
    store
        .add_submission(&submission(other, "final-report", 300))
        .expect("add");
    assert_eq!(
        submissions(store, INCIDENT),
        [submission(INCIDENT, "notification", 200)]
    );
    assert_eq!(
        submissions(store, other),
        [submission(other, "final-report", 300)]
    );
    assert!(submissions(store, "incident--00000000-0000-4000-8000-000000000001").is_empty());
}

// Quarantine.

fn quarantined(id: &str, reason: &str) -> QuarantineRecord {
    QuarantineRecord {
        seq: 0,
        collection: COLL.into(),
        object_id: id.into(),
        sender: "node-d".into(),
        reason: reason.into(),
        received_at: 1_000,
        json: format!("{{\"id\":\"{id}\"}}"),
    }
}

fn quarantine(store: &dyn Backend, q: &QuarantineRecord) -> i64 {
    store.quarantine(q).expect("an object can be quarantined")
}

fn read_quarantine(store: &dyn Backend, after: i64, limit: usize) -> Vec<QuarantineRecord> {
    store
        .quarantined(after, limit)
        .expect("the quarantine can be read")
}

fn quarantine_assigns_increasing_sequence_numbers(store: &dyn Backend) {
    assert!(read_quarantine(store, 0, 10).is_empty());
    let first = quarantine(store, &quarantined("indicator--1", "unsigned"));
    let second = quarantine(store, &quarantined("indicator--2", "bad signature"));
    assert!(second > first, "{second} after {first}");
    let all = read_quarantine(store, 0, 10);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].seq, all[0].reason.as_str()), (first, "unsigned"));
    assert_eq!((all[1].seq, all[1].object_id.as_str()), (second, "indicator--2"));
}

fn quarantined_reads_after_a_sequence_number_with_a_limit(store: &dyn Backend) {
    let first = quarantine(store, &quarantined("indicator--1", "unsigned"));
    quarantine(store, &quarantined("indicator--2", "bad signature"));
    quarantine(store, &quarantined("indicator--3", "unknown key"));
    let after = read_quarantine(store, first, 10);
    let ids: Vec<&str> = after.iter().map(|q| q.object_id.as_str()).collect();
    assert_eq!(
        ids,
        ["indicator--2", "indicator--3"],
        "after `after`, oldest first"
    );
    let limited = read_quarantine(store, 0, 1);
    assert_eq!(limited.len(), 1, "at most `limit`");
    assert_eq!(limited[0].seq, first);
}

fn quarantined_records_read_back_whole(store: &dyn Backend) {
    let q = quarantined("indicator--1", "unsigned");
    let seq = quarantine(store, &q);
    assert_eq!(read_quarantine(store, 0, 10), [QuarantineRecord { seq, ..q }]);
}

/// Quarantined objects are not objects: no read path finds them.
fn quarantined_objects_are_not_objects(store: &dyn Backend) {
    setup(store);
    let id = indicator_id(1);
    let mut q = quarantined(&id, "unsigned");
    q.json = indicator(1, "2020-01-01T00:00:00.000Z", "a").canonical;
    quarantine(store, &q);
    assert!(query(store, &Query::new(COLL)).objects.is_empty());
    let mut by_id = Query::new(COLL);
    by_id.ids = vec![id];
    by_id.versions = VersionFilter::all();
    assert!(query(store, &by_id).objects.is_empty());
    let info = store
        .collection(COLL)
        .expect("a collection can be read")
        .expect("the collection exists");
    assert_eq!(info.versions, 0);
}

// Sync cursors.

fn cursor(store: &dyn Backend, partner: &str, direction: &str, collection: &str) -> Option<String> {
    store
        .sync_cursor(partner, direction, collection)
        .expect("a sync cursor can be read")
}

fn set_cursor(store: &dyn Backend, partner: &str, direction: &str, collection: &str, to: &str, at: i64) {
    store
        .set_sync_cursor(partner, direction, collection, to, at)
        .expect("a sync cursor can be set");
}

fn a_sync_cursor_is_none_until_set(store: &dyn Backend) {
    assert_eq!(cursor(store, "node-b", "pull", "c1"), None);
    set_cursor(store, "node-b", "pull", "c1", "2026-01-01T00:00:00.000001Z", 1);
    assert_eq!(
        cursor(store, "node-b", "pull", "c1").as_deref(),
        Some("2026-01-01T00:00:00.000001Z")
    );
}

fn a_sync_cursor_moves(store: &dyn Backend) {
    set_cursor(store, "node-b", "pull", "c1", "2026-01-01T00:00:00.000001Z", 1);
    set_cursor(store, "node-b", "pull", "c1", "2026-01-02T00:00:00.000001Z", 2);
    assert_eq!(
        cursor(store, "node-b", "pull", "c1").as_deref(),
        Some("2026-01-02T00:00:00.000001Z")
    );
}

fn sync_cursors_are_per_partner_direction_and_collection(store: &dyn Backend) {
    set_cursor(store, "node-b", "pull", "c1", "2026-01-02T00:00:00.000001Z", 1);
    set_cursor(store, "node-b", "push", "c1", "17", 1);
    set_cursor(store, "node-b", "pull", "c2", "18", 1);
    assert_eq!(
        cursor(store, "node-b", "pull", "c1").as_deref(),
        Some("2026-01-02T00:00:00.000001Z")
    );
    assert_eq!(cursor(store, "node-b", "push", "c1").as_deref(), Some("17"));
    assert_eq!(cursor(store, "node-b", "pull", "c2").as_deref(), Some("18"));
    assert_eq!(cursor(store, "node-c", "pull", "c1"), None);
    assert_eq!(cursor(store, "node-b", "push", "c2"), None);
}
