//! Reading a page of a collection through the gate, and reading the next page ahead while the
//! client takes in the current one.
//!
//! A client that pages through a collection asks for page N+1 as soon as it has read page N. The
//! server reads and decides N+1 meanwhile, on another thread; when the request comes, the page is
//! used only if nothing it depends on changed: the collection's revision (no version removed or
//! superseded), the decision point in force, and an age under [`MAX_AGE`]. Its decisions and the
//! share are logged when the request comes, like any other page, and only then is it sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_stix::{ContentHash, Timestamp};
use accord_store::{Backend, Query, Revision};

use crate::error::TaxiiError;
use crate::gate::{Gate, Recipient, Released, Sealed};

/// Most store rows read to fill one page when the policy withholds many of them, as a multiple
/// of the page size; the cursor then resumes where the scan stopped.
const SCAN_FACTOR: usize = 4;

/// How long a page read ahead stays usable: its decisions were taken when it was read. The
/// gate's own cache of names to redact is as old at most.
const MAX_AGE: Duration = Duration::from_secs(2);

/// Pages read ahead at once, across clients; more pagers than this are served without.
const MAX_SLOTS: usize = 16;

/// A page read through the gate.
#[derive(Debug)]
pub(crate) struct ReadPage {
    /// The released versions with their audit entries, not yet logged.
    pub sealed: Sealed,
    /// Whether the collection has more after what was scanned.
    pub more: bool,
    /// Versions read from the store, whether or not they were released.
    pub scanned: usize,
    /// The last `date_added` scanned: where the next page starts.
    pub last: Option<i64>,
    /// For each released version, the stored original's hash when it was redacted.
    pub originals: Vec<Option<ContentHash>>,
}

/// Who reads, and through what: everything a page read needs, owned, so that it can run on a
/// blocking thread or ahead of the request.
#[derive(Clone)]
pub(crate) struct Reader {
    pub backend: Arc<dyn Backend>,
    pub gate: Arc<Gate>,
    pub principal: String,
    pub purpose: Option<String>,
    pub encrypted: bool,
    /// taxii or taxii-manifest.
    pub channel: &'static str,
}

impl Reader {
    /// Reads a page: indexed range scans from the cursor, every version through the egress gate,
    /// until the page is full, the collection ends, or the scan budget is spent. `now` is the time
    /// of the decisions.
    pub fn read(&self, mut q: Query, now: i64) -> Result<ReadPage, TaxiiError> {
        let req = accord_policy::Request {
            principal: &self.principal,
            action: accord_policy::Action::Read,
            purpose: self.purpose.as_deref(),
            encrypted: self.encrypted,
            now: Timestamp::from_micros(now),
            default_tlp: None,
        };
        let limit = q.limit;
        let mut released = Released::default();
        let (mut scanned, mut last) = (0, None);
        loop {
            let page = self.backend.query(&q)?;
            scanned += page.objects.len();
            let more = page.more;
            last = page.last_added().or(last);
            released.extend(
                self.gate
                    .release(self.backend.as_ref(), &q.collection, &req, page.objects)?,
            );
            if released.len() >= limit || !more || scanned >= limit * SCAN_FACTOR {
                let to = Recipient {
                    principal: &self.principal,
                    channel: self.channel,
                    collection: &q.collection,
                    purpose: self.purpose.as_deref(),
                };
                let originals = released.originals();
                return Ok(ReadPage {
                    sealed: released.seal(&to),
                    more,
                    scanned,
                    last,
                    originals,
                });
            }
            q.added_after = last;
            q.limit = limit - released.len();
        }
    }
}

/// A page read ahead is found by the cursor that asks for it (which carries the filters), the
/// page size (which it does not: a client may change it from page to page) and who asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    cursor: String,
    limit: usize,
    principal: String,
    purpose: Option<String>,
}

impl Key {
    fn new(cursor: &str, limit: usize, reader: &Reader) -> Self {
        Key {
            cursor: cursor.to_owned(),
            limit,
            principal: reader.principal.clone(),
            purpose: reader.purpose.clone(),
        }
    }
}

/// A page read ahead, with what it depended on when it was read.
struct Ahead {
    page: ReadPage,
    revision: Revision,
    generation: u64,
}

impl Ahead {
    /// Whether a read now would decide and return the same.
    fn holds(&self, now: Revision, generation: u64) -> bool {
        // A page that reached the end of the collection would now also take what was added since.
        let same_range = self.page.more || now.last_added == self.revision.last_added;
        generation == self.generation && now.changes == self.revision.changes && same_range
    }
}

struct Slot {
    started: Instant,
    page: tokio::sync::oneshot::Receiver<Option<Ahead>>,
}

/// Pages being read, or read, ahead of the requests for them.
#[derive(Default)]
pub struct ReadAhead {
    slots: Mutex<HashMap<Key, Slot>>,
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead").finish_non_exhaustive()
    }
}

/// What the request for a page finds read ahead.
#[derive(Debug)]
pub(crate) enum Taken {
    Nothing,
    /// Too old, or something it depended on changed: read again.
    Stale,
    Page(ReadPage),
}

impl ReadAhead {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts reading the page `cursor` asks for (query `q`), unless it is being read already or
    /// too many are. Returns how many pages read earlier were dropped, nobody having asked for them.
    pub(crate) fn start(&self, cursor: &str, reader: Reader, q: Query) -> usize {
        let key = Key::new(cursor, q.limit, &reader);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let unused = {
            let mut slots = self.slots();
            let before = slots.len();
            slots.retain(|_, s| s.started.elapsed() < MAX_AGE);
            let unused = before - slots.len();
            if slots.len() >= MAX_SLOTS || slots.contains_key(&key) {
                return unused;
            }
            slots.insert(
                key,
                Slot {
                    started: Instant::now(),
                    page: rx,
                },
            );
            unused
        };
        tokio::task::spawn_blocking(move || {
            // What the page depends on, taken before it is read: a change after this point, even
            // one the read already saw, discards it.
            let generation = reader.gate.generation();
            let ahead = reader.backend.revision(&q.collection).ok().and_then(|revision| {
                let page = reader.read(q, accord_audit::now_micros()).ok()?;
                Some(Ahead {
                    page,
                    revision,
                    generation,
                })
            });
            // The request may have come and gone: then nobody needs the page.
            let _ = tx.send(ahead);
        });
        unused
    }

    /// The page read ahead for `cursor`, pages of `q.limit` and this reader, if there is one and
    /// it still holds. A failed read ahead is not reported: reading again reports it.
    pub(crate) async fn take(&self, cursor: &str, q: &Query, reader: &Reader) -> Taken {
        let collection = &q.collection;
        let Some(slot) = self.slots().remove(&Key::new(cursor, q.limit, reader)) else {
            return Taken::Nothing;
        };
        let fresh = slot.started.elapsed() < MAX_AGE;
        let Ok(Some(ahead)) = slot.page.await else {
            return Taken::Stale;
        };
        match reader.backend.revision(collection) {
            Ok(now) if fresh && ahead.holds(now, reader.gate.generation()) => Taken::Page(ahead.page),
            _ => Taken::Stale,
        }
    }
}
