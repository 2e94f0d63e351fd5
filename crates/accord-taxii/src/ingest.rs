//! Processing of TAXII POSTs in the background: a durable status is created before the request is
//! answered (202), objects are then checked and stored, and the status is completed with
//! per-object successes and failures. Unfinished statuses are resumed at start-up.

use std::sync::Arc;

use accord_stix::input;
use accord_store::{Backend, PutOutcome, StatusDetail, StatusRecord};
use rayon::prelude::*;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::TaxiiError;
use crate::metrics::Metrics;

/// Objects per store transaction while processing a request.
const BATCH: usize = 32_768;

/// One accepted request waiting to be processed.
#[derive(Debug)]
pub struct Job {
    pub status: StatusRecord,
    pub payload: Vec<u8>,
    pub max_object_bytes: usize,
}

/// The background worker and its queue.
#[derive(Debug, Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Job>,
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
    pub fn start(
        backend: Arc<dyn Backend>,
        metrics: Arc<Metrics>,
        max_object_bytes: usize,
    ) -> (Ingestor, IngestWorker) {
        let (tx, mut rx) = mpsc::channel::<Job>(64);
        let handle = tokio::spawn(async move {
            let resumed = match backend.unfinished_statuses() {
                Ok(list) => list,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list unfinished statuses");
                    Vec::new()
                }
            };
            for (status, payload) in resumed {
                tracing::info!(status = %status.id, "resuming an interrupted request");
                run(
                    &backend,
                    &metrics,
                    Job {
                        status,
                        payload,
                        max_object_bytes,
                    },
                )
                .await;
            }
            while let Some(job) = rx.recv().await {
                run(&backend, &metrics, job).await;
            }
        });
        (Ingestor { tx }, IngestWorker { handle })
    }

    pub async fn submit(&self, job: Job) -> Result<(), TaxiiError> {
        self.tx.send(job).await.map_err(|_| TaxiiError::Unavailable)
    }
}

async fn run(backend: &Arc<dyn Backend>, metrics: &Arc<Metrics>, job: Job) {
    let backend = backend.clone();
    let metrics = metrics.clone();
    let id = job.status.id.clone();
    let result = tokio::task::spawn_blocking(move || process(backend.as_ref(), &metrics, job)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(status = %id, error = %e, "processing failed; it will resume at the next start")
        }
        Err(e) => tracing::error!(status = %id, error = %e, "processing panicked"),
    }
}

/// The id and version of an object as far as they can be read without validating it.
#[derive(Debug, Default, Deserialize)]
struct Head {
    id: Option<String>,
    modified: Option<String>,
    created: Option<String>,
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
        match serde_json::from_slice::<Head>(item.bytes) {
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

fn process(backend: &dyn Backend, metrics: &Metrics, job: Job) -> Result<(), accord_store::StoreError> {
    let Job {
        mut status,
        payload,
        max_object_bytes,
    } = job;
    let doc = match input::split_envelope(&payload) {
        Ok(d) => d,
        Err(e) => {
            // Cannot happen for payloads that passed the prescan; fail the whole request if it does.
            for mut p in std::mem::take(&mut status.pendings) {
                p.message = Some(format!("malformed envelope: {e}"));
                status.failures.push(p);
            }
            status.complete = true;
            return backend.finish_status(&status);
        }
    };
    let mut successes = Vec::new();
    // Every object is re-checked here, so the prescan's failures are recomputed, not carried over:
    // each object ends in exactly one of successes and failures.
    let mut failures = Vec::new();
    for chunk in doc.items.chunks(BATCH) {
        let results: Vec<_> = chunk
            .par_iter()
            .map(|item| doc.check(item, max_object_bytes))
            .collect();
        let mut valid = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(o) => valid.push(o),
                Err(rejection) => {
                    let (id, version) = match &rejection {
                        accord_stix::Rejection::Invalid(r) => {
                            (r.object_id.clone().unwrap_or_default(), String::new())
                        }
                        _ => (String::new(), String::new()),
                    };
                    failures.push(StatusDetail {
                        id,
                        version,
                        message: Some(rejection.to_string()),
                    });
                }
            }
        }
        if valid.is_empty() {
            continue;
        }
        let outcomes = backend.put_batch(&status.collection, &valid)?;
        for (obj, outcome) in valid.iter().zip(outcomes) {
            let version = |date_added: i64| {
                obj.version_text
                    .clone()
                    .unwrap_or_else(|| accord_stix::Timestamp::format_micros(date_added))
            };
            match outcome {
                PutOutcome::New { date_added } | PutOutcome::NewVersion { date_added } => {
                    metrics.objects_ingested(&status.collection, 1);
                    successes.push(StatusDetail {
                        id: obj.id.clone(),
                        version: version(date_added),
                        message: None,
                    });
                }
                PutOutcome::Unchanged { date_added } => successes.push(StatusDetail {
                    id: obj.id.clone(),
                    version: version(date_added),
                    message: Some("already present".into()),
                }),
                PutOutcome::Conflict { existing } => failures.push(StatusDetail {
                    id: obj.id.clone(),
                    version: obj.version_text.clone().unwrap_or_default(),
                    message: Some(format!(
                        "version conflict: this version is stored with different content ({existing})"
                    )),
                }),
            }
        }
    }
    status.successes = successes;
    status.failures = failures;
    status.pendings.clear();
    status.complete = true;
    backend.finish_status(&status)
}
