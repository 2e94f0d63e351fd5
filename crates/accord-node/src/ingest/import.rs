//! Importing documents (`accord import`, and every caller that brings a set of objects at
//! once): objects are checked in parallel and stored in ordered, durable, logged batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use accord_stix::CheckedObject;
use accord_store::PutOutcome;
use serde::Serialize;

use super::report::ObjectRecord;
use super::sources::{self, DocumentProblem, Item, Position, Sink, Source};
use super::{Origin, commit};
use crate::error::{NodeError, Result};
use crate::node::Node;

/// Counts and rejections of one import.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportSummary {
    pub collection: String,
    pub files: usize,
    pub objects: u64,
    pub new: u64,
    pub new_version: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Objects accepted with SHOULD-level findings.
    pub with_warnings: u64,
    /// Whether anything was written (false in --strict mode when something was rejected).
    pub committed: bool,
    pub document_problems: Vec<DocumentProblem>,
    pub rejections: Vec<ObjectRecord>,
}

impl ImportSummary {
    pub fn has_rejections(&self) -> bool {
        self.rejected > 0 || self.document_problems.iter().any(|p| p.fatal)
    }
}

/// Import settings.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub collection: String,
    pub strict: bool,
    pub max_object_bytes: usize,
    /// The partner node the objects come from, if any (see [`Origin::partner`]).
    pub from_partner: Option<String>,
}

/// Progress callbacks, called from the import threads.
pub trait Progress: Sync {
    /// Bytes of input read so far.
    fn read(&self, bytes: u64);
    /// Objects durably committed so far (in input order).
    fn committed(&self, objects: u64);
}

/// Progress that nobody watches (imports run by the node itself).
#[derive(Debug)]
pub struct Silent;

impl Progress for Silent {
    fn read(&self, _: u64) {}
    fn committed(&self, _: u64) {}
}

struct Collector<'a> {
    summary: &'a mut ImportSummary,
    strict: bool,
    held: Vec<Item>,
    to_writer: Option<crossbeam_channel::Sender<Vec<Item>>>,
    progress: &'a dyn Progress,
}

impl Sink for Collector<'_> {
    fn batch(&mut self, items: Vec<Item>, bytes_done: u64) -> Result<()> {
        self.progress.read(bytes_done);
        self.summary.objects += items.len() as u64;
        for item in &items {
            match &item.result {
                Err(r) => {
                    self.summary.rejected += 1;
                    self.summary.rejections.push(ObjectRecord::rejected(&item.pos, r));
                }
                Ok(o) if !o.warnings.is_empty() => self.summary.with_warnings += 1,
                Ok(_) => {}
            }
        }
        if self.strict {
            self.held.extend(items);
            return Ok(());
        }
        let sender = self
            .to_writer
            .as_ref()
            .ok_or_else(|| NodeError::Internal("the store writer stopped".into()))?;
        sender
            .send(items)
            .map_err(|_| NodeError::Internal("the store writer stopped".into()))
    }

    fn document_problem(&mut self, problem: DocumentProblem) -> Result<()> {
        self.summary.document_problems.push(problem);
        Ok(())
    }
}

/// Moves the valid objects out of a batch, keeping where each came from.
fn valid_objects(items: Vec<Item>) -> (Vec<Position>, Vec<CheckedObject>) {
    items
        .into_iter()
        .filter_map(|i| i.result.ok().map(|o| (i.pos, o)))
        .unzip()
}

fn tally(
    summary: &mut ImportSummary,
    positions: &[Position],
    objects: &[CheckedObject],
    outcomes: &[PutOutcome],
) {
    for ((pos, obj), outcome) in positions.iter().zip(objects).zip(outcomes) {
        match outcome {
            PutOutcome::New { .. } => summary.new += 1,
            PutOutcome::NewVersion { .. } => summary.new_version += 1,
            PutOutcome::Unchanged { .. } => summary.unchanged += 1,
            PutOutcome::Conflict { .. } | PutOutcome::Refused(_) => {
                summary.rejected += 1;
                let msg = super::refusal(obj, outcome).unwrap_or_default();
                summary.rejections.push(ObjectRecord::conflict(pos, &obj.id, msg));
            }
        }
    }
}

/// Imports `sources` into one collection. Each batch is one transaction, committed and logged
/// in input order, so an interrupted import leaves a durable prefix of the input and nothing
/// half-written.
pub fn import(
    node: &Node,
    sources: &[Source],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    let origin = Origin {
        principal: accord_policy::sharing::NODE_PRINCIPAL,
        status: None,
        partner: opts.from_partner.as_deref(),
    };
    let mut summary = ImportSummary {
        collection: opts.collection.clone(),
        files: sources.len(),
        ..Default::default()
    };
    if node.store().collection(&opts.collection)?.is_none() {
        return Err(NodeError::NotFound(format!(
            "unknown collection {:?}",
            opts.collection
        )));
    }
    if opts.strict {
        let mut collector = Collector {
            summary: &mut summary,
            strict: true,
            held: Vec::new(),
            to_writer: None,
            progress,
        };
        sources::check_sources(sources, opts.max_object_bytes, &mut collector)?;
        let held = std::mem::take(&mut collector.held);
        if summary.has_rejections() {
            return Ok(summary);
        }
        let (positions, objects) = valid_objects(held);
        let authors = super::Authors::of(node, origin, &objects)?;
        let claims = authors.claims(&objects);
        match node
            .store()
            .put_all_or_nothing_claimed(&opts.collection, &objects, &claims)?
        {
            Ok(outcomes) => {
                node.log(vec![super::entry(
                    origin,
                    &opts.collection,
                    &objects,
                    &outcomes,
                    0,
                )])?;
                tally(&mut summary, &positions, &objects, &outcomes);
                summary.committed = true;
                progress.committed(outcomes.len() as u64);
            }
            Err(outcomes) => tally(&mut summary, &positions, &objects, &outcomes),
        }
        return Ok(summary);
    }

    let (tx, rx) = crossbeam_channel::bounded::<Vec<Item>>(1);
    let committed = AtomicU64::new(0);
    let written = thread::scope(|scope| {
        let writer = thread::Builder::new()
            .name("accord-writer".into())
            .spawn_scoped(scope, || -> Result<ImportSummary> {
                let mut partial = ImportSummary::default();
                for items in rx {
                    let count = items.len() as u64;
                    let (positions, mut objects) = valid_objects(items);
                    if !objects.is_empty() {
                        let outcomes = commit(node, origin, &opts.collection, &mut objects)?;
                        tally(&mut partial, &positions, &objects, &outcomes);
                    }
                    let n = committed.fetch_add(count, Ordering::SeqCst) + count;
                    progress.committed(n);
                }
                Ok(partial)
            })
            .map_err(|e| NodeError::Internal(format!("cannot start the store writer: {e}")))?;
        let mut collector = Collector {
            summary: &mut summary,
            strict: false,
            held: Vec::new(),
            to_writer: Some(tx),
            progress,
        };
        let read = sources::check_sources(sources, opts.max_object_bytes, &mut collector);
        collector.to_writer = None; // closes the channel so the writer finishes
        let written = writer
            .join()
            .map_err(|_| NodeError::Internal("the store writer panicked".into()))?;
        read.and(written)
    })?;
    summary.new += written.new;
    summary.new_version += written.new_version;
    summary.unchanged += written.unchanged;
    summary.rejected += written.rejected;
    summary.rejections.extend(written.rejections);
    summary
        .rejections
        .sort_by(|a, b| (&a.source, a.index).cmp(&(&b.source, b.index)));
    summary.committed = true;
    Ok(summary)
}

/// Imports objects held in memory (JSON, one per item) through the same path as a file.
pub fn import_objects(
    node: &Node,
    objects: &[String],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    if objects.is_empty() {
        return Ok(ImportSummary {
            collection: opts.collection.clone(),
            ..ImportSummary::default()
        });
    }
    let sources = [Source::Memory {
        name: "received objects".into(),
        bytes: objects.join("\n").into_bytes(),
    }];
    import(node, &sources, opts, progress)
}
