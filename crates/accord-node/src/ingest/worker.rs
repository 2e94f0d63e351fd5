//! TAXII POSTs. A small request, when the writer is not behind, is checked, stored and logged
//! while its client waits, and answered with its final status; any other request gets a durable
//! `pending` status before it is answered (202) and completes in the background, with per-object
//! successes and failures. Unfinished statuses are resumed at start-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use accord_stix::input;
use accord_store::{PutOutcome, StatusDetail, StatusRecord};
use rayon::prelude::*;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Origin;
use crate::error::{NodeError, Result};
use crate::node::Node;
use crate::quarantine::Refused;

/// One accepted request waiting to be processed.
#[derive(Debug)]
struct Job {
    status: StatusRecord,
    payload: Arc<Vec<u8>>,
    max_object_bytes: usize,
    /// Told the final status once it is durable, when the client waits for it.
    waiter: Option<oneshot::Sender<StatusRecord>>,
    /// Its share of the bytes requests may hold, returned once its objects are stored.
    bytes: BodyBytes,
}

/// A request body's share of `[server] max_body_bytes_in_flight`, from [`Ingestor::reserve`],
/// held until the request's objects are stored: its bytes, their parsed and canonical forms
/// live until then.
#[derive(Debug, Default)]
pub struct BodyBytes(
    // Held, never read: dropping it gives the bytes back.
    #[allow(dead_code)] Option<tokio::sync::OwnedSemaphorePermit>,
);

/// Fewer objects than this are checked on the calling thread: handing them to other threads would
/// cost a small request more than it saves.
const PARALLEL_FROM: usize = 64;

/// Objects whose provenance is checked at once: enough for batch signature verification to pay,
/// few enough to spread a request over the cores.
const INBOUND_CHUNK: usize = 256;

/// The background worker and its queue.
#[derive(Debug, Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Job>,
    /// Straight to the writer: requests whose clients wait are checked as they are accepted.
    checked: std::sync::mpsc::SyncSender<Checked>,
    /// Requests accepted and not yet handed to the writer.
    upstream: Arc<AtomicUsize>,
    /// Objects accepted and not yet stored: how far behind the writer is.
    queued: Arc<AtomicUsize>,
    /// Bytes of request bodies held, from reading to storing (`[server] max_body_bytes_in_flight`).
    bodies: Arc<tokio::sync::Semaphore>,
    body_budget: usize,
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
    ///
    /// Objects posted by a partner node's principal must verify against its pinned keys; those
    /// that do not are quarantined ([`Node::quarantine`]) and reported as failures.
    pub fn start(node: &Node) -> (Ingestor, IngestWorker) {
        let (tx, mut rx) = mpsc::channel::<Job>(64);
        let upstream = Arc::new(AtomicUsize::new(0));
        let queued = Arc::new(AtomicUsize::new(0));
        let (coming, behind, resuming) = (upstream.clone(), queued.clone(), queued.clone());
        let node = node.clone();
        let max_object_bytes = node.config().limits.max_object_bytes;
        let body_budget = node.config().server.max_body_bytes_in_flight;
        let (checked_tx, checked_rx) = std::sync::mpsc::sync_channel::<Checked>(64);
        let checked = checked_tx.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let resumed = match node.store().unfinished_statuses() {
                Ok(list) => list,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list unfinished statuses");
                    Vec::new()
                }
            };
            let writer = std::thread::Builder::new()
                .name("accord-ingest-writer".into())
                .spawn({
                    let node = node.clone();
                    move || write_loop(&node, &checked_rx, &coming, &behind)
                });
            // Checking requests answered `pending` is queued work that uses whatever the cores
            // have left: accepting the next request (whose client waits for its 202) and
            // answering reads go first.
            let checkers = crate::background::pool("accord-check");
            let send = |job: Job| {
                // A request whose client waits for its status is not background work.
                let checked = match &checkers {
                    Some(pool) if job.waiter.is_none() => pool.install(|| check(&node, job)),
                    _ => check(&node, job),
                };
                checked_tx.send(checked).is_ok()
            };
            // Resumed requests count as queued, as accepted ones do (not as upstream: the writer
            // has no reason to wait for them).
            let backlog = resumed.iter().map(|(s, _)| s.pendings.len()).sum();
            resuming.fetch_add(backlog, Ordering::AcqRel);
            for (status, payload) in resumed {
                tracing::info!(status = %status.id, "resuming an interrupted request");
                if !send(Job {
                    status,
                    payload: Arc::new(payload),
                    max_object_bytes,
                    waiter: None,
                    bytes: BodyBytes::default(),
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
        (
            Ingestor {
                tx,
                checked,
                upstream,
                queued,
                bodies: Arc::new(tokio::sync::Semaphore::new(body_budget)),
                body_budget,
            },
            IngestWorker { handle },
        )
    }

    /// Accepts a POST of `payload` to `collection` by `principal` and returns the status to
    /// answer with.
    ///
    /// A request of at most `[server] complete_max_objects` objects, with no more than that many
    /// queued ahead of it, is processed while this waits, up to `complete_within_ms`: its final
    /// status (`complete`, with successes and failures) is returned once its objects and its
    /// log entry are durable and the status is recorded. Any other request, or one not finished in time,
    /// is returned `pending`, its status durable with the payload before this returns, and
    /// completes in the background. Objects that are not even JSON objects fail at once, each
    /// with its own message.
    /// Waits until a body of `bytes` may be held (`[server] max_body_bytes_in_flight`), so that
    /// concurrent large requests wait their turn instead of taking memory together. A body
    /// larger than the whole budget waits for all of it.
    pub async fn reserve(&self, bytes: usize) -> Result<BodyBytes> {
        let n = u32::try_from(bytes.clamp(1, self.body_budget)).unwrap_or(u32::MAX);
        let permit = self
            .bodies
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| NodeError::Unavailable)?;
        Ok(BodyBytes(Some(permit)))
    }

    /// Bytes of request bodies held now.
    pub fn bytes_held(&self) -> usize {
        self.body_budget.saturating_sub(self.bodies.available_permits())
    }

    pub async fn accept(
        &self,
        node: &Node,
        payload: Vec<u8>,
        bytes: BodyBytes,
        collection: &str,
        principal: &str,
        api_root: &str,
    ) -> Result<StatusRecord> {
        let now = node.clock().now_micros();
        let (coll, principal, root) = (collection.to_owned(), principal.to_owned(), api_root.to_owned());
        let config = node.config();
        let within = Duration::from_millis(config.server.complete_within_ms);
        // The wait is bounded from here, checking included.
        let deadline = tokio::time::Instant::now() + within;
        let bound = config.server.complete_max_objects;
        let max_object_bytes = config.limits.max_object_bytes;
        let (tx, rx) = oneshot::channel();
        let (n, ingestor) = (node.clone(), self.clone());
        // The prescan, and for a request its client waits for, the check, in one blocking task
        // (which runs to its end even if the client goes away).
        let (status, payload, waits, bytes) = blocking(move || {
            let status = prescan(&payload, &coll, &principal, &root, now)?;
            let payload = Arc::new(payload);
            let mut bytes = Some(bytes);
            let mut waits = !status.complete
                && !within.is_zero()
                && status.pendings.len() <= bound
                && ingestor.queued.load(Ordering::Acquire) <= bound;
            if waits {
                ingestor.count_in(&status);
                let job = Job {
                    status: status.clone(),
                    payload: payload.clone(),
                    max_object_bytes,
                    waiter: Some(tx),
                    bytes: bytes.take().unwrap_or_default(),
                };
                match ingestor.checked.try_send(check(&n, job)) {
                    Ok(()) => {}
                    // The writer is behind after all: this one is answered pending.
                    Err(std::sync::mpsc::TrySendError::Full(checked)) => {
                        ingestor.count_out(&status);
                        bytes = Some(checked.bytes);
                        waits = false;
                    }
                    Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                        ingestor.count_out(&status);
                        return Err(NodeError::Unavailable);
                    }
                }
            }
            Ok((status, payload, waits, bytes.unwrap_or_default()))
        })
        .await?;
        if !waits {
            // Not cancelled with the request: once its status is durable, the request must
            // reach the worker, and its counts must be taken back if it cannot.
            let (ingestor, node, status) = (self.clone(), node.clone(), status.clone());
            return tokio::spawn(async move {
                ingestor
                    .pending(&node, status, payload, max_object_bytes, bytes)
                    .await
            })
            .await
            .map_err(|e| NodeError::Internal(e.to_string()))?;
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(done)) => Ok(done),
            // Not stored in time, or its group failed: from here on it is an ordinary pending
            // request. Should the writer finish it meanwhile, its finished status stands.
            _ => {
                if durable(node, &status, &payload).await? {
                    return Ok(status);
                }
                // Finished after all, while its pending status was being written: answered
                // with the final one, whose objects and log entry are durable.
                node.status(&status.id)?.ok_or_else(|| {
                    NodeError::Internal(format!("status {} finished but not found", status.id))
                })
            }
        }
    }

    /// Answers `pending`: the status and payload durable, then the request queued for the worker.
    async fn pending(
        &self,
        node: &Node,
        status: StatusRecord,
        payload: Arc<Vec<u8>>,
        max_object_bytes: usize,
        bytes: BodyBytes,
    ) -> Result<StatusRecord> {
        // A fresh id: always created.
        durable(node, &status, &payload).await?;
        if status.complete {
            return Ok(status);
        }
        self.count_in(&status);
        let job = Job {
            status: status.clone(),
            payload,
            max_object_bytes,
            waiter: None,
            bytes,
        };
        if self.tx.send(job).await.is_err() {
            self.count_out(&status);
            return Err(NodeError::Unavailable);
        }
        Ok(status)
    }

    /// Objects accepted and not yet stored.
    pub fn backlog(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Counts a request on its way to the writer, and its objects as queued.
    fn count_in(&self, status: &StatusRecord) {
        self.upstream.fetch_add(1, Ordering::AcqRel);
        self.queued.fetch_add(status.pendings.len(), Ordering::AcqRel);
    }

    /// Takes back [`Ingestor::count_in`] for a request that never reached the worker.
    fn count_out(&self, status: &StatusRecord) {
        self.upstream.fetch_sub(1, Ordering::AcqRel);
        self.queued.fetch_sub(status.pendings.len(), Ordering::AcqRel);
    }
}

/// Records a status to answer with, and the payload to resume it from, durably; false if the
/// request was finished meanwhile (its final status stands).
async fn durable(node: &Node, status: &StatusRecord, payload: &Arc<Vec<u8>>) -> Result<bool> {
    let (n, status, payload) = (node.clone(), status.clone(), payload.clone());
    // INVARIANT: durable before the client hears 202 `pending`: a crash from here on resumes
    // processing at start-up.
    blocking(move || Ok(n.store().create_status(&status, &payload)?)).await
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NodeError::Internal(e.to_string()))?
}

/// A request whose objects have been checked, waiting to be stored.
struct Checked {
    status: StatusRecord,
    waiter: Option<oneshot::Sender<StatusRecord>>,
    /// The objects this request counted in [`Ingestor::queued`].
    queued: usize,
    valid: Vec<accord_stix::CheckedObject>,
    failures: Vec<StatusDetail>,
    /// Valid objects whose provenance did not verify.
    quarantined: Vec<Refused>,
    /// Released when the request's objects are stored.
    bytes: BodyBytes,
}

impl Checked {
    /// The partner node whose principal posted this request, if any.
    fn partner(&self, node: &Node) -> Result<Option<String>> {
        Ok(node.partners()?.partner_of(&self.status.principal))
    }

    /// The facts of its objects' claims to be written by their creators.
    fn authors(&self, node: &Node) -> Result<super::Authors> {
        let partner = self.partner(node)?;
        let origin = Origin {
            principal: &self.status.principal,
            status: Some(&self.status.id),
            partner: partner.as_deref(),
        };
        super::Authors::of(node, origin, &self.valid)
    }
}

/// Most objects the writer puts in one transaction when grouping requests.
const GROUP: usize = 65_536;

/// Where an object that has no readable id sits in a POSTed envelope, as a JSON path: what a
/// failure names in place of the id.
fn envelope_position(index: usize) -> String {
    format!("$.objects[{index}]")
}

fn check(node: &Node, job: Job) -> Checked {
    let Job {
        mut status,
        payload,
        max_object_bytes,
        waiter,
        bytes,
    } = job;
    let queued = status.pendings.len();
    let mut valid = Vec::new();
    // Every object is re-checked here, so the prescan's failures are recomputed, not carried over:
    // each object ends in exactly one of successes and failures.
    let mut failures = Vec::new();
    match input::split_envelope(&payload) {
        Ok(doc) => {
            let one = |item: &input::RawItem<'_>| (item.index, doc.check(item, max_object_bytes));
            let results: Vec<_> = if doc.items.len() < PARALLEL_FROM {
                doc.items.iter().map(one).collect()
            } else {
                doc.items.par_iter().map(one).collect()
            };
            for (index, result) in results {
                match result {
                    Ok(o) => valid.push(o),
                    Err(rejection) => {
                        let id = match &rejection {
                            accord_stix::Rejection::Invalid(r) => r.object_id.clone(),
                            _ => None,
                        };
                        // Without an id, the object's place in the envelope says which it is,
                        // in the id (what clients match failures by) and in the message.
                        let (id, message) = match id {
                            Some(id) => (id, rejection.to_string()),
                            None => (
                                envelope_position(index),
                                format!("{}: {rejection}", envelope_position(index)),
                            ),
                        };
                        failures.push(StatusDetail {
                            id,
                            version: String::new(),
                            message: Some(message),
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
    let partners = match node.partners() {
        Ok(p) => Some(p),
        Err(e) => {
            // Nothing from a partner's principal is stored unverified: fail its objects.
            tracing::error!(error = %e, "cannot read the partners' keys");
            None
        }
    };
    let inbound = partners
        .as_ref()
        .map(|p| (p, p.is_partner_principal(&status.principal)));
    if inbound.is_none() || inbound.is_some_and(|(_, partner)| partner) {
        let verify = |chunk: &[accord_stix::CheckedObject]| {
            let canonical: Vec<&str> = chunk.iter().map(|o| o.canonical.as_str()).collect();
            let mut verdicts = match inbound {
                Some((p, _)) => p.check(&status.principal, &canonical),
                None => vec![Err("the partners' keys cannot be read".to_owned()); chunk.len()],
            };
            verdicts.resize(chunk.len(), Err("no provenance verdict".into()));
            verdicts
        };
        let verdicts: Vec<std::result::Result<(), String>> = if valid.len() <= INBOUND_CHUNK {
            verify(&valid)
        } else {
            valid.par_chunks(INBOUND_CHUNK).flat_map_iter(verify).collect()
        };
        let (kept, refused): (Vec<_>, Vec<_>) = valid.into_iter().zip(verdicts).partition(|(_, v)| v.is_ok());
        valid = kept.into_iter().map(|(o, _)| o).collect();
        for (o, verdict) in refused {
            let reason = verdict.err().unwrap_or_default();
            failures.push(StatusDetail {
                id: o.id.clone(),
                version: o.version_text.clone().unwrap_or_default(),
                message: Some(format!("quarantined: {reason}")),
            });
            quarantined.push(Refused {
                json: o.canonical,
                reason,
            });
        }
    }
    Checked {
        status,
        waiter,
        queued,
        valid,
        failures,
        quarantined,
        bytes,
    }
}

/// How long the writer keeps grouping requests that nobody waits for at most, and how long it
/// waits for the next one before it commits what it has. Grouping matters: each commit rewrites the
/// index pages it touches, so many small commits cost far more than one large one. While requests
/// keep arriving, groups grow to `GROUP` objects or for `GROUP_WAIT`; when they stop, the group is
/// committed after `GROUP_IDLE`, or at once when no accepted request is still being checked
/// (waiting could only delay these statuses). Such statuses are already answered (202 `pending`),
/// so this only delays their completion. A shorter wait lets the writer start on a burst while it
/// is still being posted: with 400 ms, 20,000 objects posted back to back ingested at
/// 31,000–45,000 objects/s end to end, with 100 ms at 40,000–48,000; committing at once when
/// nothing more is coming took it from a mean of 38,400 to 48,100 over seven alternating pairs; a
/// million ingest at the same rate in every case (BENCHMARKS.md).
///
/// A group that a client waits for never waits: it takes what is already queued (what arrived
/// while the previous group was committed) and commits, as databases batch commits.
const GROUP_WAIT: Duration = Duration::from_millis(100);
const GROUP_IDLE: Duration = Duration::from_millis(40);

fn write_loop(
    node: &Node,
    rx: &std::sync::mpsc::Receiver<Checked>,
    upstream: &AtomicUsize,
    queued: &AtomicUsize,
) {
    // Requests resumed at start-up were never counted.
    let received = || {
        let _ = upstream.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    };
    while let Ok(first) = rx.recv() {
        received();
        let deadline = std::time::Instant::now() + GROUP_WAIT;
        let mut size = first.valid.len();
        let mut waited_for = first.waiter.is_some();
        let mut group = vec![first];
        while size < GROUP {
            let left = deadline
                .saturating_duration_since(std::time::Instant::now())
                .min(GROUP_IDLE);
            // A client waits, or nothing accepted is on its way: take only what is queued.
            let next = if waited_for || upstream.load(Ordering::Acquire) == 0 {
                rx.try_recv().map_err(|_| ())
            } else {
                rx.recv_timeout(left).map_err(|_| ())
            };
            match next {
                Ok(more) => {
                    received();
                    size += more.valid.len();
                    waited_for |= more.waiter.is_some();
                    group.push(more);
                }
                Err(_) => break,
            }
        }
        tracing::debug!(requests = group.len(), objects = size, "storing a group");
        let stored: usize = group.iter().map(|c| c.queued).sum();
        let waiters: Vec<_> = group.iter_mut().map(|c| c.waiter.take()).collect();
        match store_group(node, group) {
            Ok(finished) => {
                for (waiter, status) in waiters.into_iter().zip(finished) {
                    if let Some(waiter) = waiter {
                        // INVARIANT: a client hears `complete` only after `store_group` has made
                        // the objects and their ingest entry durable and recorded the status.
                        // It may have gone: its status is recorded all the same.
                        let _ = waiter.send(status);
                    }
                }
            }
            // Waiting clients are answered `pending` when their waiter is dropped, and their
            // statuses made durable then; the others are durable already.
            Err(e) => tracing::error!(
                error = %e,
                "storing a group of requests failed; they will resume at the next start"
            ),
        }
        queued.fetch_sub(stored, Ordering::AcqRel);
    }
}

/// Stores a group of checked requests (one transaction when they share a collection), quarantines
/// what did not verify, logs an ingest entry per request, and only then completes the statuses.
/// On an error the statuses stay pending and resume at the next start. Returns the finished
/// statuses, in the order of the group.
fn store_group(node: &Node, mut group: Vec<Checked>) -> Result<Vec<StatusRecord>> {
    let collection = group
        .first()
        .map(|c| c.status.collection.clone())
        .unwrap_or_default();
    let mut outcomes: Vec<Vec<PutOutcome>> = Vec::with_capacity(group.len());
    if group.iter().all(|c| c.status.collection == collection) {
        // One transaction for every object of every request in the group, in arrival order.
        let counts: Vec<usize> = group.iter().map(|c| c.valid.len()).collect();
        let mut authors = super::Authors::default();
        for c in &group {
            authors.extend(c.authors(node)?);
        }
        let mut all: Vec<accord_stix::CheckedObject> = group
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.valid))
            .collect();
        let mut flat = super::store(node, &collection, &mut all, &authors, true)?.into_iter();
        let mut objects = all.into_iter();
        for (c, n) in group.iter_mut().zip(counts) {
            outcomes.push(flat.by_ref().take(n).collect());
            c.valid = objects.by_ref().take(n).collect();
        }
    } else {
        for c in &mut group {
            let authors = c.authors(node)?;
            outcomes.push(super::store(
                node,
                &c.status.collection,
                &mut c.valid,
                &authors,
                true,
            )?);
        }
    }
    let mut finished = Vec::with_capacity(group.len());
    let mut events = Vec::with_capacity(group.len());
    let mut kept_apart = Vec::new();
    let now = node.clock().now_micros();
    for (c, outcomes) in group.into_iter().zip(outcomes) {
        let partner = c.partner(node)?;
        let Checked {
            mut status,
            failures: mut failed,
            quarantined,
            valid,
            ..
        } = c;
        let (refused, records) =
            crate::quarantine::prepare(&status.collection, &status.principal, quarantined, now);
        events.extend(refused);
        kept_apart.extend(records);
        // Failures so far: invalid and quarantined objects (each is in the status already).
        let rejected = failed.len();
        events.push(super::entry(
            Origin {
                principal: &status.principal,
                status: Some(&status.id),
                partner: partner.as_deref(),
            },
            &status.collection,
            &valid,
            &outcomes,
            rejected,
        ));
        let mut successes = Vec::with_capacity(valid.len());
        for (o, outcome) in valid.into_iter().zip(outcomes) {
            let version = |date_added: i64| {
                o.version_text
                    .clone()
                    .unwrap_or_else(|| accord_stix::Timestamp::format_micros(date_added))
            };
            match outcome {
                PutOutcome::New { date_added } | PutOutcome::NewVersion { date_added } => {
                    node.metrics().objects_ingested(&status.collection, 1);
                    // Stored, with what its writer should know (an unknown marking, say).
                    let warnings: Vec<String> = o.warnings.iter().map(ToString::to_string).collect();
                    successes.push(StatusDetail {
                        version: version(date_added),
                        id: o.id,
                        message: (!warnings.is_empty()).then(|| warnings.join("; ")),
                    });
                }
                PutOutcome::Unchanged { date_added } => successes.push(StatusDetail {
                    version: version(date_added),
                    id: o.id,
                    message: Some("already present".into()),
                }),
                PutOutcome::Conflict { .. } | PutOutcome::Refused(_) => failed.push(StatusDetail {
                    version: o.version_text.clone().unwrap_or_default(),
                    message: super::refusal(&o, &outcome),
                    id: o.id,
                }),
            }
        }
        status.successes = successes;
        status.failures = failed;
        status.pendings.clear();
        status.complete = true;
        finished.push(status);
    }
    // INVARIANT: quarantines and ingests are logged before quarantined objects are kept and
    // before the statuses complete: a crash in between resumes the requests, which logs them
    // again, rather than completing them unlogged.
    node.log(events)?;
    crate::quarantine::keep(node, kept_apart)?;
    node.store().finish_statuses(&finished)?;
    Ok(finished)
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
) -> Result<StatusRecord> {
    let doc =
        input::split_envelope(payload).map_err(|e| NodeError::Invalid(format!("malformed envelope: {e}")))?;
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
                id: h.id.unwrap_or_else(|| envelope_position(item.index)),
                version: h.modified.or(h.created).unwrap_or_default(),
                message: None,
            }),
            Err(e) => status.failures.push(StatusDetail {
                id: envelope_position(item.index),
                version: String::new(),
                message: Some(format!(
                    "{} is not a STIX object: {e}",
                    envelope_position(item.index)
                )),
            }),
        }
    }
    status.complete = status.pendings.is_empty();
    Ok(status)
}

impl Node {
    /// A TAXII status resource, pending or complete.
    pub fn status(&self, id: &str) -> Result<Option<StatusRecord>> {
        Ok(accord_store::StatusStore::status(self.store(), id)?)
    }
}
