//! The transparency log on disk. One directory holds three append-only files:
//!
//! - `entries.jsonl`: the entries, one canonical JSON object per line, in log order;
//! - `hashes`: the 32-byte RFC 9162 leaf hash of each entry, in the same order;
//! - `offsets`: where each entry ends in `entries.jsonl`, a little-endian u64 per entry;
//! - `checkpoints`: every signed checkpoint, oldest first (the last is the latest).
//!
//! The entries are the record; hashes and offsets are derived from them, synced before each
//! checkpoint, and let a node reopen its log without reading what the latest checkpoint covers.
//! While a server writes, `entries.jsonl` may end in a reserve of zero bytes written ahead of the
//! entries ([`Ledger::reserve`]); the first zero byte ends the entries, and closing the log (or
//! reopening it after a crash) cuts the reserve off.
//!
//! Appends are group-committed: callers queue events and wait on a receipt; one writer thread
//! writes whatever is queued with a single write and fsync per file, and only then answers the
//! receipts. An exclusive file lock (`lock`) lets the server and the command line append to the
//! same log; each writer first takes in what the other appended.

mod files;
pub mod query;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};

pub use accord_ledger::entry::Prepared;
use accord_ledger::{Checkpoint, ChunkedVec, Event, Hash, NoteSigner, ProofError, Tree, VerifierKey};

pub use files::DirLog;
use files::{Derived, LogFiles};

pub const ENTRIES_FILE: &str = "entries.jsonl";
pub const HASHES_FILE: &str = "hashes";
pub const OFFSETS_FILE: &str = "offsets";
pub const CHECKPOINTS_FILE: &str = "checkpoints";
pub const LOCK_FILE: &str = "lock";
/// The verifier key of the log, written beside it for convenience (pin it from a trusted copy).
pub const KEY_FILE: &str = "log.vkey";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ledger {dir} does not verify: {problem}; run `accord audit verify` for details")]
    Broken { dir: PathBuf, problem: String },
    #[error("ledger {dir} belongs to another origin or key: {reason}")]
    Identity { dir: PathBuf, reason: String },
    #[error("the ledger stopped accepting entries after a write failed: {0}")]
    Failed(String),
    #[error("the ledger is closed")]
    Closed,
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("entries {start}..{end} are not in a log of {size} entries")]
    Range { start: u64, end: u64, size: u64 },
}

type Outcome = Result<Range<u64>, LedgerError>;

/// Where the writer sends a batch's outcome: to async code, or to a thread that blocks.
enum Done {
    Async(tokio::sync::oneshot::Sender<Outcome>),
    Blocking(std::sync::mpsc::SyncSender<Outcome>),
}

impl Done {
    fn send(self, outcome: Outcome) {
        let _ = match self {
            Done::Async(tx) => tx.send(outcome).map_err(drop),
            Done::Blocking(tx) => tx.send(outcome).map_err(drop),
        };
    }
}

/// Entries waiting for the writer (serialised but for their indices), each batch with where its
/// outcome goes.
struct Pending {
    entries: Vec<Prepared>,
    done: Done,
}

#[derive(Default)]
struct Queue {
    items: Vec<Pending>,
    closed: bool,
    /// The writer has taken items and not yet answered them.
    busy: bool,
    /// The writer waits for items: the next one queued must wake it. While it writes, items
    /// queued are taken when it comes back, with no wake-up (a system call) each.
    idle: bool,
}

/// What readers see: the durable tree and where each entry starts in the entries file.
struct View {
    tree: Tree,
    /// Byte offset of each entry, plus the end of the last one.
    offsets: ChunkedVec<u64>,
    /// The latest checkpoint and its signed note.
    latest: Option<(Checkpoint, String)>,
}

struct Inner {
    dir: PathBuf,
    origin: String,
    signer: NoteSigner,
    files: Mutex<LogFiles>,
    /// The derived files again, synced before a checkpoint takes the log (see `checkpoint`).
    derived: Derived,
    view: RwLock<View>,
    queue: Mutex<Queue>,
    wake: Condvar,
    drained: Condvar,
    failed: Mutex<Option<String>>,
}

/// A handle on an open log; clones share it.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("dir", &self.inner.dir)
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

/// The answer to a queued append: await it before disclosing anything the entries record.
#[derive(Debug)]
pub struct Receipt(tokio::sync::oneshot::Receiver<Outcome>);

impl Receipt {
    /// Waits until the entries are durable; gives their indices.
    pub async fn durable(self) -> Result<Range<u64>, LedgerError> {
        self.0.await.unwrap_or(Err(LedgerError::Closed))
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Ledger {
    /// Opens (creating if needed) the log in `dir`, signing checkpoints with `signer` under
    /// `origin`. The whole log is verified first: a log that does not verify against its own
    /// checkpoints is not appended to. A torn last line (a crash mid-write, never acknowledged)
    /// is cut off. Starts the writer thread.
    pub fn open(dir: &Path, origin: &str, signer: NoteSigner) -> Result<Ledger, LedgerError> {
        let mut files = LogFiles::open(dir)?;
        let key = signer.verifier();
        files.lock()?;
        let recovered = files.recover(origin, &key);
        files.unlock();
        let (mut tree, offsets, latest) = recovered?;
        // Recovery left every leaf hash in the hashes file: the tree reads old ones from there.
        tree.forget_leaves();
        files.write_key(&key)?;
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            origin: origin.to_owned(),
            signer,
            derived: files.derived()?,
            files: Mutex::new(files),
            view: RwLock::new(View {
                tree,
                offsets,
                latest,
            }),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            drained: Condvar::new(),
            failed: Mutex::new(None),
        });
        let writer = inner.clone();
        std::thread::Builder::new()
            .name("accord-ledger-files-writer".into())
            .spawn(move || writer.write_loop())
            .map_err(|source| LedgerError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(Ledger { inner })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    pub fn verifier(&self) -> VerifierKey {
        self.inner.signer.verifier()
    }

    /// Queues events (each with its time in microseconds) for async code; they are durable when
    /// the receipt says so.
    pub fn record(&self, events: Vec<(i64, Event)>) -> Receipt {
        self.record_prepared(prepare(&events))
    }

    /// Queues entries already serialised with [`prepare`] (where blocking was fine).
    pub fn record_prepared(&self, entries: Vec<Prepared>) -> Receipt {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(entries, Done::Async(tx));
        Receipt(rx)
    }

    /// Records events and waits until they are durable (on a thread that may block).
    pub fn record_wait(&self, events: Vec<(i64, Event)>) -> Result<Range<u64>, LedgerError> {
        self.record_prepared_wait(prepare(&events))
    }

    /// As [`Ledger::record_wait`], for entries already serialised with [`prepare`].
    pub fn record_prepared_wait(&self, entries: Vec<Prepared>) -> Result<Range<u64>, LedgerError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.enqueue(entries, Done::Blocking(tx));
        rx.recv().unwrap_or(Err(LedgerError::Closed))
    }

    /// Records events that happen now and waits until they are durable.
    pub fn record_now(&self, events: Vec<Event>) -> Result<Range<u64>, LedgerError> {
        let now = now_micros();
        self.record_wait(events.into_iter().map(|e| (now, e)).collect())
    }

    /// An empty batch is answered at once; after a failed write or close, every batch is refused.
    fn enqueue(&self, entries: Vec<Prepared>, done: Done) {
        if entries.is_empty() {
            let size = self.size();
            return done.send(Ok(size..size));
        }
        if let Some(reason) = self.inner.failure() {
            return done.send(Err(LedgerError::Failed(reason)));
        }
        let mut q = lock(&self.inner.queue);
        if q.closed {
            drop(q);
            done.send(Err(LedgerError::Closed));
        } else {
            q.items.push(Pending { entries, done });
            let idle = std::mem::take(&mut q.idle);
            drop(q);
            if idle {
                self.inner.wake.notify_one();
            }
        }
    }

    /// Number of durable entries this process knows of.
    pub fn size(&self) -> u64 {
        read(&self.inner.view).tree.size()
    }

    /// Bytes of those entries.
    pub fn bytes(&self) -> u64 {
        read(&self.inner.view).offsets.last().copied().unwrap_or(0)
    }

    /// Bytes free to an unprivileged writer on the file system that holds the log (`None` if it
    /// cannot be asked): every read adds entries, so this is what runs out first on a busy node.
    pub fn disk_available(&self) -> Option<u64> {
        let s = rustix::fs::statvfs(&self.inner.dir).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }

    /// Why the log stopped accepting entries, if a write failed.
    pub fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    /// Signs a checkpoint of the log as it is now (including what other processes appended), unless
    /// the latest checkpoint already covers it; gives the latest signed note.
    pub fn checkpoint(&self) -> Result<String, LedgerError> {
        // The hashes and offsets a checkpoint covers must be durable before it is signed. Sync
        // what they hold now before taking the log, so that under the lock (while the writer, and
        // every disclosure waiting on it, waits) only the last few pages are left to write: ten
        // seconds of reads at 10,000 a second are about 8 MB, 4–8 ms of syncing on this machine.
        self.inner.derived.sync()?;
        self.inner.holding_log(|files, view| {
            let size = view.tree.size();
            if let Some((cp, note)) = &view.latest
                && cp.size == size
            {
                return Ok(note.clone());
            }
            let cp = Checkpoint {
                origin: self.inner.origin.clone(),
                size,
                root: view.tree.root(),
            };
            let note = self.inner.signer.sign(&cp);
            files.append_checkpoint(&note)?;
            view.latest = Some((cp, note.clone()));
            // Every leaf so far is in the hashes file, now durable too.
            view.tree.forget_leaves();
            Ok(note)
        })
    }

    /// The latest signed checkpoint, if one was made.
    pub fn latest_checkpoint(&self) -> Option<(Checkpoint, String)> {
        read(&self.inner.view).latest.clone()
    }

    /// The stored bytes of entries `start..end` (each without its newline). Each is checked
    /// against its leaf hash: an entry altered on disk is refused, not served.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, LedgerError> {
        let (from, to, leaves) = {
            let view = read(&self.inner.view);
            let size = view.tree.size();
            if start > end || end > size {
                return Err(LedgerError::Range { start, end, size });
            }
            let leaves = view.tree.leaves_from(start..end, &self.inner.derived)?;
            (view.offsets[start as usize], view.offsets[end as usize], leaves)
        };
        let bytes = lock(&self.inner.files).read_entries(from, to)?;
        let lines: Vec<Vec<u8>> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let altered = (lines.len() != leaves.len()).then_some(0).or_else(|| {
            lines
                .iter()
                .zip(&leaves)
                .position(|(l, leaf)| accord_ledger::leaf_hash(l) != *leaf)
        });
        if let Some(i) = altered {
            return Err(LedgerError::Broken {
                dir: self.inner.dir.clone(),
                problem: format!(
                    "entry {}: does not match its leaf hash (the entry was altered, or the derived \
                     offsets file was: remove `{OFFSETS_FILE}` and the node rebuilds it when it \
                     next opens the log)",
                    start + i as u64
                ),
            });
        }
        Ok(lines)
    }

    /// Where a run of entries from `start` ends when it may hold at most `bytes` bytes: at least
    /// one entry past `start`, never past the log's size. Readers that must stay in bounded
    /// memory read such runs.
    pub fn run_end(&self, start: u64, bytes: u64) -> u64 {
        let view = read(&self.inner.view);
        let size = view.tree.size();
        if start >= size {
            return size;
        }
        let at = |i: u64| view.offsets.get(i as usize).copied().unwrap_or(u64::MAX);
        let base = at(start);
        // The largest end in start+1..=size whose run fits.
        let (mut lo, mut hi) = (start + 1, size);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if at(mid).saturating_sub(base) <= bytes {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// The leaf hash of entry `index` (`None` past the end). Hashes the tree no longer holds
    /// are read from the hashes file and checked against it.
    pub fn leaf(&self, index: u64) -> Result<Option<Hash>, LedgerError> {
        let view = read(&self.inner.view);
        if index >= view.tree.size() {
            return Ok(None);
        }
        Ok(Some(view.tree.leaf_from(index, &self.inner.derived)?))
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        Ok(read(&self.inner.view)
            .tree
            .inclusion_proof_from(index, size, &self.inner.derived)?)
    }

    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LedgerError> {
        Ok(read(&self.inner.view)
            .tree
            .consistency_proof_from(first, second, &self.inner.derived)?)
    }

    /// Stops accepting entries once everything queued is durable, and signs a last checkpoint.
    pub fn close(&self) -> Result<Option<String>, LedgerError> {
        let mut q = lock(&self.inner.queue);
        q.closed = true;
        self.inner.wake.notify_all();
        while !q.items.is_empty() || q.busy {
            q = self
                .inner
                .drained
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(q);
        if self.inner.failure().is_some() {
            return Ok(None);
        }
        let note = self.checkpoint()?;
        self.inner
            .holding_log(|files, view| files.drop_reserve(view.offsets.last().copied().unwrap_or(0)))?;
        Ok(Some(note))
    }

    /// Keeps `bytes` of zero bytes written ahead of the entries (0: none). Until it runs out, each
    /// group's sync overwrites blocks already on disk instead of growing the file (less I/O); the
    /// group that runs out writes the next `bytes` with its own.
    /// Meant for a long-running writer (the server): [`Ledger::close`] cuts the reserve off, and
    /// so does the next opening after a crash.
    pub fn reserve(&self, bytes: u64) {
        lock(&self.inner.files).set_reserve(bytes);
    }
}

/// Serialises events (each with its time in microseconds) but for their indices: the CPU work of
/// recording, done by the recording thread (in parallel for large batches) so that the one writer
/// only adds indices and hashes.
pub fn prepare(events: &[(i64, Event)]) -> Vec<Prepared> {
    use rayon::prelude::*;
    let one =
        |(time, event): &(i64, Event)| Prepared::new(&accord_stix::Timestamp::format_micros(*time), event);
    if events.len() >= 256 {
        events.par_iter().map(one).collect()
    } else {
        events.iter().map(one).collect()
    }
}

impl Inner {
    fn failure(&self) -> Option<String> {
        lock(&self.failed).clone()
    }

    /// Runs `f` holding the log (this process's files and view, and the lock between processes),
    /// after taking in what other processes appended.
    fn holding_log<T>(
        &self,
        f: impl FnOnce(&mut LogFiles, &mut View) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut files = lock(&self.files);
        files.lock()?;
        let result = (|| {
            let mut guard = write(&self.view);
            let view = &mut *guard;
            files.catch_up(&mut view.tree, &mut view.offsets)?;
            f(&mut files, view)
        })();
        files.unlock();
        result
    }

    fn write_loop(&self) {
        loop {
            let batch = {
                let mut q = lock(&self.queue);
                while q.items.is_empty() && !q.closed {
                    q.idle = true;
                    q = match self.wake.wait(q) {
                        Ok(q) => q,
                        Err(p) => p.into_inner(),
                    };
                }
                q.idle = false;
                if q.items.is_empty() && q.closed {
                    self.drained.notify_all();
                    return;
                }
                q.busy = true;
                std::mem::take(&mut q.items)
            };
            let result = self.write_batch(&batch);
            if let Err(e) = &result {
                tracing::error!(error = %e, "ledger write failed; disclosures stop until the node restarts");
                *lock(&self.failed) = Some(e.to_string());
            }
            let mut at = match &result {
                Ok(range) => range.start,
                Err(_) => 0,
            };
            for p in batch {
                let n = p.entries.len() as u64;
                let answer = match &result {
                    Ok(_) => Ok(at..at + n),
                    Err(e) => Err(LedgerError::Failed(e.to_string())),
                };
                at += n;
                p.done.send(answer);
            }
            let mut q = lock(&self.queue);
            q.busy = false;
            // Only `close` waits for the queue to drain, after marking it closed.
            if q.closed {
                self.drained.notify_all();
            }
        }
    }

    /// Writes one group: takes in what other processes appended, assigns indices, writes entries
    /// and hashes, makes both durable, and only then publishes them to readers.
    fn write_batch(&self, batch: &[Pending]) -> Result<Range<u64>, LedgerError> {
        let mut files = lock(&self.files);
        files.lock()?;
        let result = (|| {
            let (start, base) = {
                let mut guard = write(&self.view);
                let view = &mut *guard;
                files.catch_up(&mut view.tree, &mut view.offsets)?;
                (view.tree.size(), view.offsets.last().copied().unwrap_or(0))
            };
            let count: usize = batch.iter().map(|p| p.entries.len()).sum();
            let bytes: usize = batch.iter().flat_map(|p| &p.entries).map(|e| e.len() + 21).sum();
            let mut lines = Vec::with_capacity(bytes);
            let mut leaves = Vec::with_capacity(count);
            let mut offsets = Vec::with_capacity(count);
            let mut index = start;
            for entry in batch.iter().flat_map(|p| &p.entries) {
                let from = lines.len();
                entry.write(index, &mut lines);
                leaves.push(accord_ledger::leaf_hash(&lines[from..]));
                lines.push(b'\n');
                offsets.push(base + lines.len() as u64);
                index += 1;
            }
            files.append(&lines, &leaves, &offsets, base, start)?;
            let mut view = write(&self.view);
            for (leaf, offset) in leaves.into_iter().zip(offsets) {
                view.tree.push(leaf);
                view.offsets.push(offset);
            }
            Ok(start..index)
        })();
        files.unlock();
        result
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
