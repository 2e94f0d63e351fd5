//! Storage of STIX object versions by collection: the [`Store`] trait every backend implements,
//! the embedded SQLite backend, and the conformance suite every backend must pass
//! (`conformance`, with the `testsuite` feature).
//!
//! A version is keyed by (collection, object id, version), where the version is `modified`, else
//! `created`, else the server's arrival time (for unversioned SCOs). Each version gets a
//! `date_added` that is strictly increasing per collection, at microsecond precision, so that
//! (collection, date_added) is a total order that paging cursors can rely on.

#[cfg(feature = "testsuite")]
pub mod conformance;
mod sqlite;

use accord_stix::{CheckedObject, ContentHash, Timestamp};
use serde::Serialize;

pub use sqlite::SqliteStore;

/// Errors from a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unknown collection {0:?}")]
    UnknownCollection(String),
    #[error("collection {0:?} already exists with a different alias {1:?}")]
    CollectionConflict(String, String),
    #[error("invalid collection id {0:?}: use 1-128 characters of a-z, A-Z, 0-9, '-', '_' or '.'")]
    InvalidCollectionId(String),
    #[error("database error during {context}: {source}")]
    Database {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot open store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("store schema version {found} is newer than this program supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What to create a collection with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionSpec {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
}

/// A collection and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionInfo {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    /// Number of stored object versions.
    pub versions: u64,
    /// `date_added` of the newest version, microseconds since the epoch (0 when empty).
    pub last_added: i64,
}

/// What happened to one submitted object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PutOutcome {
    /// The first version of this object in the collection.
    New { date_added: i64 },
    /// A further version of an object already present.
    NewVersion { date_added: i64 },
    /// This exact content is already stored: nothing changed.
    Unchanged { date_added: i64 },
    /// Another content is stored under the same id and version: rejected.
    Conflict { existing: ContentHash },
    /// The writer is not the object's creator ([`authorship`]): rejected.
    Refused(Authorship),
}

impl PutOutcome {
    pub fn is_stored(&self) -> bool {
        !matches!(self, PutOutcome::Conflict { .. } | PutOutcome::Refused(_))
    }
}

/// Which versions of each object a query returns (TAXII `match[version]`; values are OR-ed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFilter {
    pub first: bool,
    pub last: bool,
    pub all: bool,
    /// Exact versions, as instants.
    pub at: Vec<Timestamp>,
}

impl VersionFilter {
    /// TAXII's default: the latest version only.
    pub fn last() -> Self {
        VersionFilter {
            last: true,
            ..Default::default()
        }
    }
    pub fn all() -> Self {
        VersionFilter {
            all: true,
            ..Default::default()
        }
    }
}

/// A range query over one collection. Filters are AND-ed; values within one filter are OR-ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub collection: String,
    /// Exclusive lower bound on `date_added` (microseconds).
    pub added_after: Option<i64>,
    /// Exclusive upper bound on `date_added`, for callers that pin a snapshot.
    pub added_before: Option<i64>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
    /// Maximum number of results (the store may cap it).
    pub limit: usize,
}

impl Query {
    pub fn new(collection: impl Into<String>) -> Self {
        Query {
            collection: collection.into(),
            added_after: None,
            added_before: None,
            ids: Vec::new(),
            types: Vec::new(),
            versions: VersionFilter::last(),
            spec_versions: Vec::new(),
            limit: 1000,
        }
    }
}

/// One stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub id: String,
    pub type_name: String,
    /// The version as written in the object (`modified`/`created`), or the arrival time for unversioned objects.
    pub version: String,
    pub spec_version: Option<String>,
    pub date_added: i64,
    pub hash: ContentHash,
    /// The object's RFC 8785 canonical JSON.
    pub json: String,
}

/// A page of results in `date_added` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub objects: Vec<StoredObject>,
    /// Whether more results follow the last one on this page.
    pub more: bool,
}

impl Page {
    /// `date_added` of the last object: the cursor for the next page (use it as `added_after`).
    pub fn last_added(&self) -> Option<i64> {
        self.objects.last().map(|o| o.date_added)
    }
}

/// What a read of a collection depends on. A query whose range ends at or before `last_added`
/// returns what it returned before as long as `changes` is the same; one whose range is open
/// (the end of the collection) as long as both are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    /// Changes whenever a stored version is removed or loses its standing as first or last
    /// version of its object; adding objects does not change it.
    pub changes: i64,
    /// The `date_added` of the latest addition.
    pub last_added: i64,
}

/// A backend for object versions. Every implementation must pass `conformance::run_all` (with
/// the `testsuite` feature).
pub trait Store: Send + Sync {
    /// Creates the collection if it does not exist; returns it either way.
    fn ensure_collection(&self, spec: &CollectionSpec) -> Result<CollectionInfo>;
    fn collection(&self, id: &str) -> Result<Option<CollectionInfo>>;
    fn collections(&self) -> Result<Vec<CollectionInfo>>;
    /// Stores a batch in one transaction. When this returns `Ok`, every stored version is durable.
    /// Outcomes are in input order. `claims` (none, or one per object) are answered in the same
    /// transaction ([`AuthorshipStore`]): an object whose writer is not its creator is not stored
    /// ([`PutOutcome::Refused`]).
    fn put_claimed(
        &self,
        collection: &str,
        objects: &[CheckedObject],
        claims: &[Claim<'_>],
    ) -> Result<Vec<PutOutcome>>;
    /// Stores the whole batch in one transaction only if no object conflicts or is refused;
    /// otherwise stores nothing and returns the outcomes as `Err`.
    fn put_all_or_nothing_claimed(
        &self,
        collection: &str,
        objects: &[CheckedObject],
        claims: &[Claim<'_>],
    ) -> Result<std::result::Result<Vec<PutOutcome>, Vec<PutOutcome>>>;
    /// [`Store::put_claimed`] without claims (storage tests, tools).
    fn put_batch(&self, collection: &str, objects: &[CheckedObject]) -> Result<Vec<PutOutcome>> {
        self.put_claimed(collection, objects, &[])
    }
    /// [`Store::put_all_or_nothing_claimed`] without claims.
    fn put_all_or_nothing(
        &self,
        collection: &str,
        objects: &[CheckedObject],
    ) -> Result<std::result::Result<Vec<PutOutcome>, Vec<PutOutcome>>> {
        self.put_all_or_nothing_claimed(collection, objects, &[])
    }
    /// One indexed range scan in `date_added` order.
    fn query(&self, query: &Query) -> Result<Page>;
    /// What a read of the collection depends on (a read-ahead relies on it).
    fn revision(&self, collection: &str) -> Result<Revision>;
    /// Deletes the matching versions of one object; returns how many were removed. With
    /// `withdraw`, an object whose every version is gone leaves a [`Withdrawal`] (in the same
    /// transaction), so that partners who received it can be told.
    fn delete(
        &self,
        collection: &str,
        object_id: &str,
        versions: &VersionFilter,
        withdraw: bool,
    ) -> Result<usize>;
    /// Objects withdrawn from `collection` (deleted whole by someone, not by retention) after
    /// sequence number `after`, oldest first.
    fn withdrawals(&self, collection: &str, after: i64, limit: usize) -> Result<Vec<Withdrawal>>;
    /// The versions in `collection` whose retention (`CheckedObject::retention_until`) ended by
    /// `now` (microseconds since the epoch), earliest end first: an indexed read of those
    /// versions only, however large the collection.
    fn expired(&self, collection: &str, now: i64) -> Result<Vec<ExpiredVersion>>;
}

/// A stored version whose retention ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredVersion {
    pub id: String,
    /// The version as TAXII reports it (see [`StoredObject::version`]).
    pub version: String,
    pub hash: ContentHash,
    /// When its retention ended, microseconds since the epoch.
    pub retention_until: i64,
}

/// An object deleted whole from a collection, with its last version: what a node needs to send
/// partners a revoked version of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Withdrawal {
    /// Deletion order (assigned by the store).
    pub seq: i64,
    pub collection: String,
    pub object_id: String,
    /// Microseconds since the epoch.
    pub deleted_at: i64,
    /// The last version, as it was stored.
    pub json: String,
}

/// Turns the version conflicts in `outcomes` that `same(stored, incoming)` deems copies of the
/// version already stored into `Unchanged`, giving those objects the stored copy's hash: for
/// copies of one version that differ only in what travels around the content (a provenance
/// signature made after a key rotation, a relay path). `objects` and `outcomes` are a batch
/// given to [`Store::put_batch`] and its result.
pub fn settle_conflicts(
    store: &dyn Store,
    collection: &str,
    objects: &mut [CheckedObject],
    outcomes: &mut [PutOutcome],
    same: &dyn Fn(&str, &str) -> bool,
) -> Result<()> {
    for (object, outcome) in objects.iter_mut().zip(outcomes.iter_mut()) {
        let (PutOutcome::Conflict { .. }, Some(version)) = (&outcome, object.version()) else {
            continue;
        };
        let mut q = Query::new(collection);
        q.ids = vec![object.id.clone()];
        q.versions = VersionFilter {
            at: vec![version],
            ..VersionFilter::default()
        };
        q.limit = 1;
        if let Some(stored) = store.query(&q)?.objects.pop()
            && same(&stored.json, &object.canonical)
        {
            object.hash = stored.hash;
            *outcome = PutOutcome::Unchanged {
                date_added: stored.date_added,
            };
        }
    }
    Ok(())
}

/// One entry of a TAXII status resource: an object id and version, with a message for failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

/// The state of one TAXII POST (add objects) request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatusRecord {
    pub id: String,
    pub api_root: String,
    pub collection: String,
    pub principal: String,
    /// Microseconds since the epoch.
    pub request_timestamp: i64,
    pub complete: bool,
    pub total: u64,
    pub successes: Vec<StatusDetail>,
    pub failures: Vec<StatusDetail>,
    pub pendings: Vec<StatusDetail>,
}

/// Durable status resources. A request answered `pending` has its status created with its payload
/// before the answer, so that processing can resume after a crash; the payload is dropped once
/// complete. A request answered `complete` in its own response is only ever finished.
pub trait StatusStore: Send + Sync {
    /// Creates a status, durably, unless one with its id exists (finished meanwhile), which then
    /// stands; returns whether it created it.
    fn create_status(&self, status: &StatusRecord, payload: &[u8]) -> Result<bool>;
    /// Records the final state of each status, creating those never created, and drops their
    /// payloads, in one transaction.
    ///
    /// This need not wait for the disk (it must survive the process being killed, not a power
    /// loss): a request answered `pending` is resumed from its durable pending status if its
    /// final one is lost, and one answered `complete` had its final status in the answer, with
    /// its objects and its log entry (which names the status) durable before it.
    fn finish_statuses(&self, statuses: &[StatusRecord]) -> Result<()>;
    fn status(&self, id: &str) -> Result<Option<StatusRecord>>;
    /// Statuses still pending, with their payloads, oldest first.
    fn unfinished_statuses(&self) -> Result<Vec<(StatusRecord, Vec<u8>)>>;
}

/// An API token. Only the SHA-256 of the secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// The public part, used as the HTTP Basic user name.
    pub id: String,
    pub principal: String,
    #[serde(skip)]
    pub secret_sha256: [u8; 32],
    pub description: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Stored API tokens.
pub trait TokenStore: Send + Sync {
    fn add_token(&self, token: &TokenRecord) -> Result<()>;
    fn token(&self, id: &str) -> Result<Option<TokenRecord>>;
    fn tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Returns false if there was no such active token.
    fn revoke_token(&self, id: &str, at: i64) -> Result<bool>;
}

/// A reporting obligation's stage recorded as submitted to its recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SubmissionRecord {
    /// The STIX id of the `incident`.
    pub incident: String,
    pub regime: String,
    pub stage: String,
    /// When it was submitted (microseconds since the epoch).
    pub at: i64,
    /// Who submitted it.
    pub by: String,
    /// The recipient's reference (case number, filing id…).
    pub reference: String,
    /// When it was recorded here.
    pub recorded_at: i64,
}

/// Submissions of reporting obligations, per incident.
pub trait SubmissionStore: Send + Sync {
    /// Records a submission; recording the same (incident, regime, stage, at) again is a no-op.
    fn add_submission(&self, s: &SubmissionRecord) -> Result<()>;
    /// An incident's submissions, in the order they were made.
    fn submissions(&self, incident: &str) -> Result<Vec<SubmissionRecord>>;
}

/// An object received from a partner whose provenance did not verify: kept for inspection, never
/// served, matched or passed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QuarantineRecord {
    /// Arrival order (assigned by the store).
    pub seq: i64,
    /// The collection it was meant for.
    pub collection: String,
    pub object_id: String,
    /// The partner node it came from.
    pub sender: String,
    pub reason: String,
    /// Microseconds since the epoch.
    pub received_at: i64,
    /// The object as received.
    pub json: String,
}

/// The quarantine: kept apart from the objects, so no read path can reach it by accident.
pub trait QuarantineStore: Send + Sync {
    /// Keeps an object; returns its sequence number.
    fn quarantine(&self, q: &QuarantineRecord) -> Result<i64>;
    /// Quarantined objects after sequence number `after`, oldest first.
    fn quarantined(&self, after: i64, limit: usize) -> Result<Vec<QuarantineRecord>>;
}

/// Where synchronisation with each partner got to, per direction and collection. A cursor is
/// only moved after what it covers is durably stored (pull) or acknowledged (push).
pub trait SyncStore: Send + Sync {
    fn sync_cursor(&self, partner: &str, direction: &str, collection: &str) -> Result<Option<String>>;
    fn set_sync_cursor(
        &self,
        partner: &str,
        direction: &str,
        collection: &str,
        cursor: &str,
        at: i64,
    ) -> Result<()>;
}

/// Everything a node needs from its storage.
/// What a writer asks before storing a version of an object: to be its creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    pub object_id: &'a str,
    /// The organisation the object's `created_by_ref` names (`None`: absent, or an identity no
    /// configured organisation has).
    pub named_creator: Option<&'a str>,
    /// The organisation writing: the poster's, or for an object signed by its originator and
    /// relayed through federation, the signer's.
    pub writer: &'a str,
}

/// The answer to a [`Claim`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "authorship", rename_all = "kebab-case")]
pub enum Authorship {
    /// The writer is the creator (recorded now, for an object not seen before).
    Creator,
    /// Another organisation created the object: only it may create versions of it.
    NotCreator { creator: String },
    /// The object was stored before creators were recorded and names no known creator: nobody
    /// can be shown to be its creator, so nobody may version it.
    CreatorUnknown,
}

/// The creator recorded for an object stored before creators were recorded.
pub const UNKNOWN_CREATOR: &str = "";

/// STIX 2.1 §3.6: only an object's creator may create versions of it. The creator is the
/// organisation recorded when the object first arrived: the one its `created_by_ref` named,
/// else the one that wrote it. A later version cannot change it by naming another creator.
/// `recorded` is what the store holds for the object ([`AuthorshipStore::creator`]).
pub fn authorship(claim: &Claim<'_>, recorded: Option<&str>) -> Authorship {
    let creator = match recorded {
        Some(UNKNOWN_CREATOR) => match claim.named_creator {
            Some(named) => named,
            None => return Authorship::CreatorUnknown,
        },
        Some(recorded) => recorded,
        None => claim.named_creator.unwrap_or(claim.writer),
    };
    if creator == claim.writer {
        Authorship::Creator
    } else {
        Authorship::NotCreator {
            creator: creator.to_owned(),
        }
    }
}

/// Who created each object, as recorded when it first arrived ([`Store::put_claimed`]).
pub trait AuthorshipStore: Send + Sync {
    /// The creator recorded for an object ([`UNKNOWN_CREATOR`] for one stored before creators
    /// were recorded; `None` if the object was never stored).
    fn creator(&self, object_id: &str) -> Result<Option<String>>;
}

pub trait Backend:
    Store + StatusStore + TokenStore + SubmissionStore + QuarantineStore + SyncStore + AuthorshipStore
{
}
impl<T: Store + StatusStore + TokenStore + SubmissionStore + QuarantineStore + SyncStore + AuthorshipStore>
    Backend for T
{
}

/// Validates a collection id: it appears in URLs and file names.
pub fn check_collection_id(id: &str) -> Result<()> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidCollectionId(id.to_owned()))
    }
}
