//! The one gated reader. Every read of object content for a principal, whatever the edge (TAXII
//! pages, `export`, sync push, `match` over a collection, the command line's views), is a
//! [`Reader`] page: indexed range scans of the store, every version decided and redacted by the
//! gate, the decisions, redactions and share logged durably, and only then the content.
//!
//! A client that pages through a collection asks for page N+1 as soon as it has read page N. The
//! node reads and decides N+1 meanwhile, on another thread ([`ReadAhead`]); when the request
//! comes, the page is used only if nothing it depends on changed: the collection's revision (no
//! version removed or superseded), the decision point in force, and an age under [`MAX_AGE`].
//! Its decisions and the share are logged when the request comes, like any other page, and only
//! then is it sent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use accord_store::{Query, Revision, StoredObject};

use crate::error::Result;
use crate::gate::{Channel, Recipient, Released, Sealed};
use crate::node::Node;

/// Most store rows read to fill one page when the policy withholds many of them, as a multiple
/// of the page size; the cursor then resumes where the scan stopped.
const SCAN_FACTOR: usize = 4;

/// How long a page read ahead stays usable: its decisions were taken when it was read. The
/// gate's own cache of names to redact is as old at most.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// Pages read ahead at once, across clients; more pagers than this are served without.
const MAX_SLOTS: usize = 16;

/// Who reads, through which edge, and what for: everything a page read needs, owned, so that
/// it can run on a blocking thread or ahead of the request.
#[derive(Debug, Clone)]
pub struct Reader {
    node: Node,
    principal: String,
    purpose: Option<String>,
    action: accord_policy::Action,
    channel: Channel,
    /// Whether the channel is encrypted (TLS, or a file on this machine).
    encrypted: bool,
    /// Whether what leaves carries this node's provenance signature.
    signed: bool,
    /// A node to which nothing it already holds is sent back: versions whose provenance path
    /// names it are set aside before they are decided.
    not_back_to: Option<String>,
}

/// A page read through the gate: decided, not yet logged, so not yet readable.
#[derive(Debug)]
pub struct Page {
    released: Released,
    collection: String,
    /// When the decisions were taken.
    decided_at: i64,
    /// Whether the collection has more after what was scanned.
    pub more: bool,
    /// Versions read from the store, whether or not they were released.
    pub scanned: usize,
    /// The last `date_added` scanned: where the next page starts.
    pub last: Option<i64>,
    /// Versions set aside undecided because their path names the node they would go back to.
    pub not_echoed: usize,
}

/// A page whose ledger entries are serialised, waiting to be logged.
#[derive(Debug)]
pub struct SealedPage {
    sealed: Sealed,
    pub more: bool,
    pub scanned: usize,
    pub last: Option<i64>,
}

impl Page {
    /// Versions that will leave.
    pub fn len(&self) -> usize {
        self.released.len()
    }

    pub fn is_empty(&self) -> bool {
        self.released.is_empty()
    }

    /// Versions decided but withheld.
    pub fn withheld(&self) -> usize {
        self.released.outcomes().len() - self.released.len()
    }

    /// Sets aside, before anything is logged, the versions whose size as they would leave `keep`
    /// refuses (say, too large for the partner once signed): they are not shared. Returns the id
    /// and size of each.
    pub fn set_aside(&mut self, keep: impl Fn(usize) -> bool) -> Vec<(String, usize)> {
        self.released.set_aside(keep)
    }

    /// Serialises the page's ledger entries (CPU work: where blocking is fine).
    pub fn seal(self, reader: &Reader) -> SealedPage {
        let sealed = self
            .released
            .seal(&reader.recipient(&self.collection), self.decided_at);
        SealedPage {
            sealed,
            more: self.more,
            scanned: self.scanned,
            last: self.last,
        }
    }

    /// The versions, once the decisions, redactions and share are durable.
    pub fn disclose_blocking(self, reader: &Reader) -> Result<Vec<StoredObject>> {
        let now = reader.node.clock().now_micros();
        Ok(self.released.disclose_blocking(
            &reader.node.ledger()?,
            &reader.recipient(&self.collection),
            now,
        )?)
    }
}

impl SealedPage {
    /// The versions, once the page's entries are durable; the share is dated now.
    pub async fn disclose(self, node: &Node) -> Result<Vec<StoredObject>> {
        let now = node.clock().now_micros();
        Ok(self.sealed.disclose(&node.ledger()?, now).await?)
    }
}

/// What [`Reader::for_each`] disclosed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Read {
    pub disclosed: u64,
    pub withheld: u64,
}

impl Node {
    /// A reader for `principal`, reading to `action` through `channel`. Reads by a partner
    /// node's principal carry this node's provenance signature, whatever the channel.
    pub fn reader(
        &self,
        principal: &str,
        action: accord_policy::Action,
        channel: Channel,
        purpose: Option<&str>,
    ) -> Reader {
        let signed = self.partners().is_ok_and(|p| p.is_partner_principal(principal));
        Reader {
            node: self.clone(),
            principal: principal.to_owned(),
            purpose: purpose.map(str::to_owned),
            action,
            channel,
            encrypted: true,
            signed,
            not_back_to: None,
        }
    }
}

impl Node {
    /// Reads every page of `q` for the node's own computations (aggregates such as the
    /// obligation metrics), which no principal is shown: not a disclosure, so not logged. Never
    /// hand what this reads to anyone; that is what [`Reader`] is for.
    pub(crate) fn scan(
        &self,
        mut q: Query,
        each: &mut dyn FnMut(Vec<StoredObject>) -> Result<()>,
    ) -> Result<()> {
        loop {
            let page = self.store().query(&q)?;
            let (more, last) = (page.more, page.last_added());
            each(page.objects)?;
            match (more, last) {
                (true, Some(last)) => q.added_after = Some(last),
                _ => return Ok(()),
            }
        }
    }

    /// Whether any version of object `id` is in `collection`, told to no one: it lets an edge
    /// answer "not found" alike for what is absent and for what the policy withholds.
    pub fn has_object(&self, collection: &str, id: &str) -> Result<bool> {
        let mut q = Query::new(collection);
        q.ids = vec![id.to_owned()];
        q.versions = accord_store::VersionFilter::all();
        q.limit = 1;
        Ok(!self.store().query(&q)?.objects.is_empty())
    }
}

impl Reader {
    /// Whether the channel is encrypted (a TAXII server without TLS says not).
    #[must_use]
    pub fn encrypted(mut self, encrypted: bool) -> Self {
        self.encrypted = encrypted;
        self
    }

    /// Whether what leaves carries this node's provenance signature (for partners to verify).
    #[must_use]
    pub fn signed(mut self, signed: bool) -> Self {
        self.signed = signed;
        self
    }

    /// Whether what leaves carries this node's signature.
    pub fn signs(&self) -> bool {
        self.signed
    }

    /// Sends nothing back to node `name`: versions whose provenance path names it are set aside
    /// before they are decided (loop prevention for a push to that node).
    #[must_use]
    pub fn not_back_to(mut self, name: &str) -> Self {
        self.not_back_to = Some(name.to_owned());
        self
    }

    fn recipient<'a>(&'a self, collection: &'a str) -> Recipient<'a> {
        Recipient {
            principal: &self.principal,
            channel: self.channel,
            collection,
            purpose: self.purpose.as_deref(),
        }
    }

    fn request(&self, now: i64) -> accord_policy::Request<'_> {
        accord_policy::Request {
            principal: &self.principal,
            action: self.action,
            purpose: self.purpose.as_deref(),
            encrypted: self.encrypted,
            now: accord_stix::Timestamp::from_micros(now),
            default_tlp: None,
        }
    }

    /// Sets aside the versions whose provenance path names the node nothing is sent back to.
    fn not_echoed(&self, versions: &mut Vec<StoredObject>) {
        if let Some(node) = &self.not_back_to {
            versions.retain(|o| {
                !accord_provenance::claimed_path(&o.json).is_some_and(|path| path.iter().any(|n| n == node))
            });
        }
    }

    /// Decides (and signs, if this reader signs) versions of `collection` for this reader.
    fn release(&self, collection: &str, versions: Vec<StoredObject>, now: i64) -> Result<Released> {
        let gate = self.node.gate()?;
        let mut released = gate.release(self.node.store(), collection, &self.request(now), versions)?;
        if self.signed && !released.is_empty() {
            let partners = self.node.partners()?;
            released.sign(|o, original| partners.sign(o, original))?;
        }
        Ok(released)
    }

    /// Reads a page: indexed range scans from `q`'s position, every version through the gate,
    /// until `q.limit` versions are released, the collection ends, or the scan budget is spent.
    pub fn page(&self, mut q: Query) -> Result<Page> {
        let now = self.node.clock().now_micros();
        let limit = q.limit;
        let mut released = Released::default();
        let (mut scanned, mut last, mut not_echoed) = (0, None, 0);
        loop {
            let page = self.node.store().query(&q)?;
            scanned += page.objects.len();
            let more = page.more;
            last = page.last_added().or(last);
            let mut versions = page.objects;
            if let Some(node) = &self.not_back_to {
                let before = versions.len();
                versions.retain(|o| {
                    !accord_provenance::claimed_path(&o.json)
                        .is_some_and(|path| path.iter().any(|n| n == node))
                });
                not_echoed += before - versions.len();
            }
            released.extend(self.release(&q.collection, versions, now)?);
            if released.len() >= limit || !more || scanned >= limit * SCAN_FACTOR {
                return Ok(Page {
                    released,
                    collection: q.collection,
                    decided_at: now,
                    more,
                    scanned,
                    last,
                    not_echoed,
                });
            }
            q.added_after = last;
            q.limit = limit - released.len();
        }
    }

    /// Reads every page of `q` in order, each disclosed (logged) before `each` sees it.
    pub fn for_each(
        &self,
        mut q: Query,
        each: &mut dyn FnMut(Vec<StoredObject>) -> Result<()>,
    ) -> Result<Read> {
        let mut read = Read::default();
        loop {
            let page = self.page(q.clone())?;
            let (more, last) = (page.more, page.last);
            read.withheld += page.withheld() as u64;
            let objects = page.disclose_blocking(self)?;
            read.disclosed += objects.len() as u64;
            each(objects)?;
            match (more, last) {
                (true, Some(last)) => q.added_after = Some(last),
                _ => return Ok(read),
            }
        }
    }

    /// The objects deleted whole from `collection` after withdrawal `after` (at most `limit`),
    /// as the revoked versions that tell a partner: decided for this reader like any version.
    /// Returns the page and the sequence number of the last withdrawal read (`None`: none left).
    pub fn withdrawals(
        &self,
        collection: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Page, Option<i64>, usize)> {
        let now = self.node.clock().now_micros();
        let batch = self.node.store().withdrawals(collection, after, limit)?;
        let last = batch.last().map(|w| w.seq);
        let node_name = self.node.config().node.name.clone();
        let mut revoked = batch
            .iter()
            .filter_map(|w| crate::federation::revoked_version(w, &node_name).transpose())
            .collect::<Result<Vec<_>>>()?;
        let before = revoked.len();
        self.not_echoed(&mut revoked);
        let not_echoed = before - revoked.len();
        let page = Page {
            released: self.release(collection, revoked, now)?,
            collection: collection.to_owned(),
            decided_at: now,
            more: batch.len() >= limit,
            scanned: batch.len(),
            last: None,
            not_echoed,
        };
        Ok((page, last, batch.len()))
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
    channel: Channel,
}

impl Key {
    fn new(cursor: &str, limit: usize, reader: &Reader) -> Self {
        Key {
            cursor: cursor.to_owned(),
            limit,
            principal: reader.principal.clone(),
            purpose: reader.purpose.clone(),
            channel: reader.channel,
        }
    }
}

/// A page read ahead, with what it depended on when it was read.
#[derive(Debug)]
struct Ahead {
    page: SealedPage,
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

#[derive(Debug)]
struct Slot {
    /// When it was started, on the node's monotonic clock.
    started: Duration,
    page: tokio::sync::oneshot::Receiver<Option<Ahead>>,
}

/// Pages being read, or read, ahead of the requests for them.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    slots: Mutex<HashMap<Key, Slot>>,
}

/// What the request for a page finds read ahead.
#[derive(Debug)]
pub enum Taken {
    Nothing,
    /// Too old, or something it depended on changed: read again.
    Stale,
    Page(SealedPage),
}

impl ReadAhead {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Reader {
    /// Starts reading the page `cursor` asks for (query `q`), unless it is being read already or
    /// too many are. Counts in the metrics the pages read earlier that nobody asked for.
    pub fn read_ahead(&self, cursor: &str, q: Query) {
        let key = Key::new(cursor, q.limit, self);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let now = self.node.clock().elapsed();
        {
            let mut slots = self.node.read_ahead().slots();
            let before = slots.len();
            slots.retain(|_, s| now.saturating_sub(s.started) < MAX_AGE);
            self.node.metrics().read_ahead("unused", before - slots.len());
            if slots.len() >= MAX_SLOTS || slots.contains_key(&key) {
                return;
            }
            slots.insert(
                key,
                Slot {
                    started: now,
                    page: rx,
                },
            );
        }
        let reader = self.clone();
        tokio::task::spawn_blocking(move || {
            // What the page depends on, taken before it is read: a change after this point, even
            // one the read already saw, discards it.
            let ahead = (|| {
                let generation = reader.node.gate().ok()?.generation();
                let revision = reader.node.store().revision(&q.collection).ok()?;
                let page = reader.page(q).ok()?.seal(&reader);
                Some(Ahead {
                    page,
                    revision,
                    generation,
                })
            })();
            // The request may have come and gone: then nobody needs the page.
            let _ = tx.send(ahead);
        });
    }

    /// The page read ahead for `cursor`, pages of `q.limit` and this reader, if there is one and
    /// it still holds (counted in the metrics as used or stale). A failed read ahead is not
    /// reported: reading again reports it.
    pub async fn take_ahead(&self, cursor: &str, q: &Query) -> Taken {
        let taken = self.take(cursor, q).await;
        match &taken {
            Taken::Page(_) => self.node.metrics().read_ahead("used", 1),
            Taken::Stale => self.node.metrics().read_ahead("stale", 1),
            Taken::Nothing => {}
        }
        taken
    }

    async fn take(&self, cursor: &str, q: &Query) -> Taken {
        let Some(slot) = self
            .node
            .read_ahead()
            .slots()
            .remove(&Key::new(cursor, q.limit, self))
        else {
            return Taken::Nothing;
        };
        let fresh = self.node.clock().elapsed().saturating_sub(slot.started) < MAX_AGE;
        let Ok(Some(ahead)) = slot.page.await else {
            return Taken::Stale;
        };
        let generation = match self.node.gate() {
            Ok(g) => g.generation(),
            Err(_) => return Taken::Stale,
        };
        match self.node.store().revision(&q.collection) {
            Ok(now) if fresh && ahead.holds(now, generation) => Taken::Page(ahead.page),
            _ => Taken::Stale,
        }
    }
}
