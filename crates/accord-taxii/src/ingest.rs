//! Processing of TAXII POSTs in the background: a durable status is created before the request is
//! answered (202), objects are then checked and stored, and the status is completed with
//! per-object successes and failures. Unfinished statuses are resumed at start-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use accord_audit::AuditLog;
use accord_ledger::Event;
use accord_ledger::entry::{Ingest, Version};
use accord_stix::input;
use accord_store::{Backend, PutOutcome, StatusDetail, StatusRecord};
use rayon::prelude::*;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::TaxiiError;
use crate::metrics::Metrics;

/// One accepted request waiting to be processed.
#[derive(Debug)]
pub struct Job {
    pub status: StatusRecord,
    pub payload: Vec<u8>,
    pub max_object_bytes: usize,
}

/// Provenance checks for objects posted by partner nodes, given as canonical JSON: one verdict
/// per object, in order; `Err(reason)` sends the object to quarantine (logged, kept apart,
/// reported as a failure in the status) instead of the store. Objects come in chunks so that
/// signatures can be verified together.
pub trait Inbound: Send + Sync + std::fmt::Debug {
    fn check(&self, principal: &str, canonical: &[&str]) -> Vec<Result<(), String>>;

    /// Whether an incoming object that conflicts with the stored copy of its version is that
    /// version all the same (differing only in provenance): it is then reported as already
    /// present instead of as a conflict.
    fn same_version(&self, _stored: &str, _incoming: &str) -> bool {
        false
    }
}

/// Objects given to [`Inbound::check`] at once: enough for batch signature verification to pay,
/// few enough to spread a request over the cores.
const INBOUND_CHUNK: usize = 256;

/// The background worker and its queue.
#[derive(Debug, Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Job>,
    /// Requests accepted and not yet handed to the writer.
    upstream: Arc<AtomicUsize>,
}

/// Handle that finishes the worker on shutdown.
#[derive(Debug)]
pub struct IngestWorker {
    handle: JoinHandle<()>,
}

impl IngestWorker {
    /// Waits until every queued request has been processed. Call after the last sender is dropped.
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

impl Ingestor {
    /// Starts the worker. Statuses left pending by a previous run are processed first.
    ///
    /// The work is a two-stage pipeline on blocking threads: a checker validates the objects of one
    /// request (in parallel) while a writer stores the previous ones; the writer groups whatever
    /// requests are ready into one transaction (group commit), so small POSTs do not each pay for an
    /// fsync.
    pub fn start(
        backend: Arc<dyn Backend>,
        audit: AuditLog,
        metrics: Arc<Metrics>,
        max_object_bytes: usize,
        inbound: Option<Arc<dyn Inbound>>,
    ) -> (Ingestor, IngestWorker) {
        let (tx, mut rx) = mpsc::channel::<Job>(64);
        let upstream = Arc::new(AtomicUsize::new(0));
        let coming = upstream.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let resumed = match backend.unfinished_statuses() {
                Ok(list) => list,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list unfinished statuses");
                    Vec::new()
                }
            };
            let (checked_tx, checked_rx) = std::sync::mpsc::sync_channel::<Checked>(64);
            let writer_backend = backend.clone();
            let writer = std::thread::Builder::new()
                .name("accord-ingest-writer".into())
                .spawn({
                    let inbound = inbound.clone();
                    move || {
                        write_loop(
                            writer_backend.as_ref(),
                            &audit,
                            &metrics,
                            inbound.as_deref(),
                            &checked_rx,
                            &coming,
                        )
                    }
                });
            // Checking is queued work that uses whatever the cores have left: accepting the next
            // request (whose client waits for its 202) and answering reads go first.
            let checkers = crate::background::pool("accord-check");
            let send = |job: Job| {
                let checked = match &checkers {
                    Some(pool) => pool.install(|| check(job, inbound.as_deref())),
                    None => check(job, inbound.as_deref()),
                };
                checked_tx.send(checked).is_ok()
            };
            for (status, payload) in resumed {
                tracing::info!(status = %status.id, "resuming an interrupted request");
                if !send(Job {
                    status,
                    payload,
                    max_object_bytes,
                }) {
                    break;
                }
            }
            while let Some(job) = rx.blocking_recv() {
                if !send(job) {
                    break;
                }
            }
            drop(checked_tx);
            match writer {
                Ok(handle) => {
                    if handle.join().is_err() {
                        tracing::error!("the ingest writer panicked");
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot start the ingest writer"),
            }
        });
        (Ingestor { tx, upstream }, IngestWorker { handle })
    }

    pub async fn submit(&self, job: Job) -> Result<(), TaxiiError> {
        self.upstream.fetch_add(1, Ordering::AcqRel);
        self.tx.send(job).await.map_err(|_| {
            self.upstream.fetch_sub(1, Ordering::AcqRel);
            TaxiiError::Unavailable
        })
    }
}

/// A request whose objects have been checked, waiting to be stored.
struct Checked {
    status: StatusRecord,
    valid: Vec<accord_stix::CheckedObject>,
    failures: Vec<StatusDetail>,
    /// Valid objects whose provenance did not verify, with the reason.
    quarantined: Vec<(accord_stix::CheckedObject, String)>,
}

/// Most objects the writer puts in one transaction when grouping requests.
const GROUP: usize = 65_536;

fn check(job: Job, inbound: Option<&dyn Inbound>) -> Checked {
    let Job {
        mut status,
        payload,
        max_object_bytes,
    } = job;
    let mut valid = Vec::new();
    // Every object is re-checked here, so the prescan's failures are recomputed, not carried over:
    // each object ends in exactly one of successes and failures.
    let mut failures = Vec::new();
    match input::split_envelope(&payload) {
        Ok(doc) => {
            let results: Vec<_> = doc
                .items
                .par_iter()
                .map(|item| doc.check(item, max_object_bytes))
                .collect();
            for result in results {
                match result {
                    Ok(o) => valid.push(o),
                    Err(rejection) => {
                        let id = match &rejection {
                            accord_stix::Rejection::Invalid(r) => r.object_id.clone().unwrap_or_default(),
                            _ => String::new(),
                        };
                        failures.push(StatusDetail {
                            id,
                            version: String::new(),
                            message: Some(rejection.to_string()),
                        });
                    }
                }
            }
        }
        // Cannot happen for payloads that passed the prescan; fail every object if it does.
        Err(e) => {
            for mut p in std::mem::take(&mut status.pendings) {
                p.message = Some(format!("malformed envelope: {e}"));
                failures.push(p);
            }
        }
    }
    let mut quarantined = Vec::new();
    if let Some(inbound) = inbound {
        let verdicts: Vec<Result<(), String>> = valid
            .par_chunks(INBOUND_CHUNK)
            .flat_map_iter(|chunk| {
                let canonical: Vec<&str> = chunk.iter().map(|o| o.canonical.as_str()).collect();
                let mut verdicts = inbound.check(&status.principal, &canonical);
                verdicts.resize(chunk.len(), Err("no provenance verdict".into()));
                verdicts
            })
            .collect();
        let (kept, refused): (Vec<_>, Vec<_>) = valid.into_iter().zip(verdicts).partition(|(_, v)| v.is_ok());
        valid = kept.into_iter().map(|(o, _)| o).collect();
        for (o, verdict) in refused {
            let reason = verdict.err().unwrap_or_default();
            failures.push(StatusDetail {
                id: o.id.clone(),
                version: o.version_text.clone().unwrap_or_default(),
                message: Some(format!("quarantined: {reason}")),
            });
            quarantined.push((o, reason));
        }
    }
    Checked {
        status,
        valid,
        failures,
        quarantined,
    }
}

/// How long the writer keeps grouping requests at most, and how long it waits for the next one
/// before it commits what it has. Grouping matters: each commit rewrites the index pages it touches,
/// so many small commits cost far more than one large one. While requests keep arriving, groups grow
/// to `GROUP` objects or for `GROUP_WAIT`; when they stop, the group is committed after `GROUP_IDLE`,
/// or at once when no accepted request is still being checked (waiting could only delay these
/// statuses). Statuses are already answered (202), so this only delays their completion. A shorter
/// wait lets the writer start on a burst while it is still being posted: with 400 ms, 20,000 objects
/// posted back to back ingested at 31,000–45,000 objects/s end to end, with 100 ms at 40,000–48,000;
/// committing at once when nothing more is coming took it from a mean of 38,400 to 48,100 over
/// seven alternating pairs; a million ingest at the same rate in every case (BENCHMARKS.md).
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_millis(100);
const GROUP_IDLE: std::time::Duration = std::time::Duration::from_millis(40);

fn write_loop(
    backend: &dyn Backend,
    audit: &AuditLog,
    metrics: &Metrics,
    inbound: Option<&dyn Inbound>,
    rx: &std::sync::mpsc::Receiver<Checked>,
    upstream: &AtomicUsize,
) {
    // Requests resumed at start-up were never counted.
    let received = || {
        let _ = upstream.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    };
    while let Ok(first) = rx.recv() {
        received();
        let deadline = std::time::Instant::now() + GROUP_WAIT;
        let mut size = first.valid.len();
        let mut group = vec![first];
        while size < GROUP {
            let left = deadline
                .saturating_duration_since(std::time::Instant::now())
                .min(GROUP_IDLE);
            // Nothing accepted is on its way: waiting would only delay these statuses.
            let next = if upstream.load(Ordering::Acquire) == 0 {
                rx.try_recv().map_err(|_| ())
            } else {
                rx.recv_timeout(left).map_err(|_| ())
            };
            match next {
                Ok(more) => {
                    received();
                    size += more.valid.len();
                    group.push(more);
                }
                Err(_) => break,
            }
        }
        tracing::debug!(requests = group.len(), objects = size, "storing a group");
        if let Err(e) = store_group(backend, audit, metrics, inbound, group) {
            // The statuses stay pending and are resumed at the next start.
            tracing::error!(error = %e, "storing a group of requests failed; they will resume at the next start");
        }
    }
}

/// Why a group could not be completed; its statuses stay pending and resume at the next start.
#[derive(Debug, thiserror::Error)]
enum GroupError {
    #[error(transparent)]
    Store(#[from] accord_store::StoreError),
    #[error(transparent)]
    Audit(#[from] accord_audit::AuditError),
}

fn store_group(
    backend: &dyn Backend,
    audit: &AuditLog,
    metrics: &Metrics,
    inbound: Option<&dyn Inbound>,
    mut group: Vec<Checked>,
) -> Result<(), GroupError> {
    let collection = group
        .first()
        .map(|c| c.status.collection.clone())
        .unwrap_or_default();
    let mut outcomes: Vec<Vec<PutOutcome>> = Vec::with_capacity(group.len());
    if group.iter().all(|c| c.status.collection == collection) {
        // One transaction for every object of every request in the group, in arrival order.
        let counts: Vec<usize> = group.iter().map(|c| c.valid.len()).collect();
        let all: Vec<accord_stix::CheckedObject> = group
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.valid))
            .collect();
        let mut flat = if all.is_empty() {
            Vec::new()
        } else {
            backend.put_batch(&collection, &all)?
        }
        .into_iter();
        let mut objects = all.into_iter();
        for (c, n) in group.iter_mut().zip(counts) {
            outcomes.push(flat.by_ref().take(n).collect());
            c.valid = objects.by_ref().take(n).collect();
        }
    } else {
        for c in &group {
            outcomes.push(if c.valid.is_empty() {
                Vec::new()
            } else {
                backend.put_batch(&c.status.collection, &c.valid)?
            });
        }
    }
    if let Some(inbound) = inbound {
        for (c, outcomes) in group.iter_mut().zip(&mut outcomes) {
            let same = |stored: &str, incoming: &str| inbound.same_version(stored, incoming);
            accord_store::settle_conflicts(backend, &c.status.collection, &mut c.valid, outcomes, &same)?;
        }
    }
    // What the statuses need of each object.
    let metas: Vec<Vec<(String, Option<String>, String)>> = group
        .iter_mut()
        .map(|c| {
            std::mem::take(&mut c.valid)
                .into_iter()
                .map(|o| (o.id, o.version_text, o.hash.to_hex()))
                .collect()
        })
        .collect();
    let mut finished = Vec::with_capacity(group.len());
    let mut events = Vec::with_capacity(group.len());
    let mut kept_apart = Vec::new();
    for ((c, outcomes), meta) in group.into_iter().zip(outcomes).zip(metas) {
        let Checked {
            mut status,
            failures: mut failed,
            quarantined,
            ..
        } = c;
        for (o, reason) in quarantined {
            events.push((
                accord_audit::now_micros(),
                Event::Quarantine(accord_ledger::entry::Quarantine {
                    collection: status.collection.clone(),
                    hash: o.hash.to_hex(),
                    object: o.id.clone(),
                    reason: reason.clone(),
                    sender: status.principal.clone(),
                }),
            ));
            kept_apart.push(accord_store::QuarantineRecord {
                seq: 0,
                collection: status.collection.clone(),
                object_id: o.id,
                sender: status.principal.clone(),
                reason,
                received_at: accord_audit::now_micros(),
                json: o.canonical,
            });
        }
        let mut successes = Vec::with_capacity(meta.len());
        let mut logged = Vec::with_capacity(meta.len());
        for ((id, version_text, hash), outcome) in meta.into_iter().zip(outcomes) {
            let version = |date_added: i64| {
                version_text
                    .clone()
                    .unwrap_or_else(|| accord_stix::Timestamp::format_micros(date_added))
            };
            if let PutOutcome::New { date_added }
            | PutOutcome::NewVersion { date_added }
            | PutOutcome::Unchanged { date_added } = outcome
            {
                logged.push(Version {
                    id: id.clone(),
                    version: version(date_added),
                    hash,
                });
            }
            match outcome {
                PutOutcome::New { date_added } | PutOutcome::NewVersion { date_added } => {
                    metrics.objects_ingested(&status.collection, 1);
                    successes.push(StatusDetail {
                        version: version(date_added),
                        id,
                        message: None,
                    });
                }
                PutOutcome::Unchanged { date_added } => successes.push(StatusDetail {
                    version: version(date_added),
                    id,
                    message: Some("already present".into()),
                }),
                PutOutcome::Conflict { existing } => failed.push(StatusDetail {
                    id,
                    version: version_text.clone().unwrap_or_default(),
                    message: Some(format!(
                        "version conflict: this version is stored with different content ({existing})"
                    )),
                }),
            }
        }
        events.push((
            accord_audit::now_micros(),
            Event::Ingest(Ingest {
                principal: status.principal.clone(),
                collection: status.collection.clone(),
                status: Some(status.id.clone()),
                objects: logged,
                failed: failed.len() as u64,
            }),
        ));
        status.successes = successes;
        status.failures = failed;
        status.pendings.clear();
        status.complete = true;
        finished.push(status);
    }
    // Logged before the statuses complete: a crash in between resumes the requests, which logs
    // them again, rather than completing them unlogged.
    audit.record_wait(events)?;
    for q in &kept_apart {
        backend.quarantine(q)?;
    }
    Ok(backend.finish_statuses(&finished)?)
}

/// The id and version of an object as far as they can be read without validating it.
#[derive(Debug, Default, Deserialize)]
struct Head {
    id: Option<String>,
    modified: Option<String>,
    created: Option<String>,
}

impl Head {
    /// Canonical text (what a node sends) is read without parsing its other members.
    fn of(item: &[u8]) -> Result<Head, serde_json::Error> {
        let quick = std::str::from_utf8(item)
            .ok()
            .and_then(|text| accord_stix::jcs::select(text, &["created", "id", "modified"]))
            .and_then(|members| serde_json::from_value(serde_json::Value::Object(members)).ok());
        quick.map_or_else(|| serde_json::from_slice(item), Ok)
    }
}

/// Reads id and version of every object so that the status can list them as pending. Objects that
/// are not even JSON objects fail here, each with its own message.
pub fn prescan(
    payload: &[u8],
    collection: &str,
    principal: &str,
    api_root: &str,
    now: i64,
) -> Result<StatusRecord, TaxiiError> {
    let doc = input::split_envelope(payload)
        .map_err(|e| TaxiiError::BadRequest(format!("malformed envelope: {e}")))?;
    let mut status = StatusRecord {
        id: uuid::Uuid::new_v4().to_string(),
        api_root: api_root.to_owned(),
        collection: collection.to_owned(),
        principal: principal.to_owned(),
        request_timestamp: now,
        complete: false,
        total: doc.items.len() as u64,
        successes: Vec::new(),
        failures: Vec::new(),
        pendings: Vec::with_capacity(doc.items.len()),
    };
    for item in &doc.items {
        match Head::of(item.bytes) {
            Ok(h) => status.pendings.push(StatusDetail {
                id: h.id.unwrap_or_default(),
                version: h.modified.or(h.created).unwrap_or_default(),
                message: None,
            }),
            Err(e) => status.failures.push(StatusDetail {
                id: String::new(),
                version: String::new(),
                message: Some(format!("object {} is not a STIX object: {e}", item.index)),
            }),
        }
    }
    status.complete = status.pendings.is_empty();
    Ok(status)
}
