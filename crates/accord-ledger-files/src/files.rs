//! The log's files: appending with fsync, recovery of a torn tail, taking in entries another
//! process appended, and reading a log directory for verification.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use accord_ledger::{
    Checker, Checkpoint, ChunkedVec, Hash, Problem, Signed, Tree, Verified, VerifierKey, leaf_hash,
};
use rayon::prelude::*;

use crate::{CHECKPOINTS_FILE, ENTRIES_FILE, HASHES_FILE, KEY_FILE, LOCK_FILE, LedgerError, OFFSETS_FILE};

/// The open files of a log directory.
#[derive(Debug)]
pub(crate) struct LogFiles {
    dir: PathBuf,
    entries: File,
    hashes: File,
    offsets: File,
    checkpoints: File,
    lock: File,
    /// Where this process last left the entries (their logical end). While no other process has
    /// appended after it, the derived files need not be measured again: one `lseek` (and with a
    /// reserve a one-byte read) per group instead of seven.
    left: Option<u64>,
    /// The entries file's size as this process last saw or made it; past the entries it holds
    /// only zero bytes (the reserve).
    size: u64,
    /// How many zero bytes to keep written ahead of the entries (0: none, plain appends).
    reserve: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The entries are written in place (`pwrite` at their logical end), which `O_APPEND` forbids.
fn open_entries(path: &Path) -> Result<File, LedgerError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))
}

/// Where the entries read into `bytes` end (at the first zero byte, which starts the reserve:
/// JSON text never holds a raw zero byte), and where the complete lines before that end.
fn entry_ends(bytes: &[u8]) -> (usize, usize) {
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
    (end, complete_lines(&bytes[..end]))
}

fn open_append(path: &Path) -> Result<File, LedgerError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path))
}

fn read_all(path: &Path) -> Result<Vec<u8>, LedgerError> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Splits a checkpoints file into signed notes; also gives the length of the complete ones (a
/// note cut short by a crash was never served, and is dropped).
pub(crate) fn split_notes(text: &str) -> (Vec<String>, usize) {
    let (mut notes, mut complete) = (Vec::new(), 0);
    let mut start = 0;
    let mut in_signatures = false;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let end = pos + line.len();
        let is_signature = line.starts_with('\u{2014}') && line.ends_with('\n');
        if in_signatures && !is_signature {
            notes.push(text[start..pos].to_owned());
            complete = pos;
            start = pos;
            in_signatures = false;
        }
        if line == "\n" && !in_signatures {
            in_signatures = true;
        }
        pos = end;
    }
    if in_signatures && text[start..].ends_with('\n') && !text[start..].ends_with("\n\n") {
        notes.push(text[start..].to_owned());
        complete = text.len();
    }
    (notes, complete)
}

/// Cuts a trailing partial line (written by a crashed writer, never acknowledged).
fn complete_lines(bytes: &[u8]) -> usize {
    match memchr::memrchr(b'\n', bytes) {
        Some(i) => i + 1,
        None => 0,
    }
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(bytes.len() / 256);
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', bytes) {
        out.push(&bytes[start..i]);
        start = i + 1;
    }
    out
}

/// A derived file of `width`-byte records and how many whole ones it holds (a partly written
/// last one is left out); `None` if there is no such file.
fn open_records(path: &Path, width: usize) -> Result<Option<(File, usize)>, LedgerError> {
    match File::open(path) {
        Ok(f) => {
            let len = f.metadata().map_err(io(path))?.len() as usize;
            Ok(Some((f, len / width)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Reads a file of hashes straight into place: a reopened log's hash file can be gigabytes.
fn read_hashes(path: &Path) -> Result<ChunkedVec<Hash>, LedgerError> {
    let Some((mut file, n)) = open_records(path, 32)? else {
        return Ok(ChunkedVec::new());
    };
    ChunkedVec::try_fill(n, [0; 32], |chunk: &mut [Hash]| {
        std::io::Read::read_exact(&mut file, chunk.as_flattened_mut()).map_err(io(path))
    })
}

/// [`read_hashes`] into one vector.
fn read_hashes_vec(path: &Path) -> Result<Vec<Hash>, LedgerError> {
    let Some((mut file, n)) = open_records(path, 32)? else {
        return Ok(Vec::new());
    };
    let mut hashes = vec![[0u8; 32]; n];
    std::io::Read::read_exact(&mut file, hashes.as_flattened_mut()).map_err(io(path))?;
    Ok(hashes)
}

/// Makes a derived file of `width`-byte records (leaf hashes, offsets) hold `n`: keeps its first
/// `keep` records and writes `rest(keep)`, the records from the `keep`-th on, after them.
fn complete(
    file: &mut File,
    path: &Path,
    width: usize,
    keep: usize,
    n: usize,
    rest: impl FnOnce(usize) -> Result<Vec<u8>, LedgerError>,
) -> Result<(), LedgerError> {
    let len = file.metadata().map_err(io(path))?.len();
    if len == (n * width) as u64 && keep == n {
        return Ok(());
    }
    let rest = rest(keep)?;
    file.set_len((keep * width) as u64).map_err(io(path))?;
    file.write_all(&rest).map_err(io(path))?;
    file.sync_data().map_err(io(path))
}

/// [`complete`], keeping the whole records the file has (up to `n`).
fn follow(
    file: &mut File,
    path: &Path,
    width: usize,
    n: usize,
    rest: impl FnOnce(usize) -> Result<Vec<u8>, LedgerError>,
) -> Result<(), LedgerError> {
    let have = (file.metadata().map_err(io(path))?.len() as usize / width).min(n);
    complete(file, path, width, have, n, rest)
}

fn hash_bytes<'a>(leaves: impl IntoIterator<Item = &'a Hash>) -> Vec<u8> {
    leaves.into_iter().flatten().copied().collect()
}

fn end_bytes<'a>(ends: impl IntoIterator<Item = &'a u64>) -> Vec<u8> {
    ends.into_iter().flat_map(|o| o.to_le_bytes()).collect()
}

/// Checks the checkpoints once every entry was fed, after dropping the hashes of entry lines a
/// crash cut off (never acknowledged). `stored` holds the leaf hashes from entry `first` on.
fn settle(
    checker: Checker,
    stored: &mut Vec<Hash>,
    first: usize,
    covered: usize,
    signed: &Signed<'_>,
) -> Result<Verified, Vec<Problem>> {
    let n = checker.size() as usize;
    if first + stored.len() > n && n >= covered {
        stored.truncate(n - first);
    }
    checker.finish(Some(first + stored.len()), signed)
}

/// The little-endian u64 end offsets in an offsets file (one per entry; a partly written last
/// one is left out), read a block at a time rather than as a second copy of the whole file.
fn read_ends(path: &Path) -> Result<Vec<u64>, LedgerError> {
    let Some((file, n)) = open_records(path, 8)? else {
        return Ok(Vec::new());
    };
    let mut ends = Vec::with_capacity(n);
    let mut block = vec![0u8; 1 << 16];
    while ends.len() < n {
        let want = block.len().min((n - ends.len()) * 8);
        file.read_exact_at(&mut block[..want], ends.len() as u64 * 8)
            .map_err(io(path))?;
        ends.extend(
            block[..want]
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())),
        );
    }
    Ok(ends)
}

/// A log directory as read for verification, without locking or changing anything (a server may
/// be appending): its checkpoints and stored leaf hashes in memory, its entries read a run at a
/// time, so that a log larger than memory can be checked.
#[derive(Debug)]
pub struct DirLog {
    pub hashes: Vec<Hash>,
    pub checkpoints: Vec<String>,
    path: PathBuf,
    entries: Option<File>,
    /// The entries file's length when opened: everything the hashes and checkpoints cover is in
    /// it (followed, while a writer runs, by its reserve of zeros).
    len: u64,
}

impl DirLog {
    /// Opens a log directory for reading.
    pub fn open(dir: &Path) -> Result<DirLog, LedgerError> {
        // Read in the reverse of the order a running writer appends in (entries, then their
        // hashes, then a checkpoint over them), so that everything a checkpoint or hash read here
        // covers is in the entries measured after it.
        let checkpoints_path = dir.join(CHECKPOINTS_FILE);
        let text = String::from_utf8(read_all(&checkpoints_path)?).map_err(|_| LedgerError::Broken {
            dir: dir.to_path_buf(),
            problem: format!("{} is not UTF-8", checkpoints_path.display()),
        })?;
        let (checkpoints, _) = split_notes(&text);
        let hashes = read_hashes_vec(&dir.join(HASHES_FILE))?;
        let path = dir.join(ENTRIES_FILE);
        let entries = match File::open(&path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&path)(e)),
        };
        let len = match &entries {
            Some(f) => f.metadata().map_err(io(&path))?.len(),
            None => 0,
        };
        Ok(DirLog {
            hashes,
            checkpoints,
            path,
            entries,
            len,
        })
    }

    /// Opens a log directory to read its entries only (a query): the hashes and checkpoints,
    /// 32 bytes an entry, are not read into memory.
    pub fn open_entries(dir: &Path) -> Result<DirLog, LedgerError> {
        let path = dir.join(ENTRIES_FILE);
        let entries = File::open(&path).map_err(io(&path))?;
        let len = entries.metadata().map_err(io(&path))?.len();
        Ok(DirLog {
            hashes: Vec::new(),
            checkpoints: Vec::new(),
            path,
            entries: Some(entries),
            len,
        })
    }

    /// Bytes of the entries file as opened (a running writer's reserve included).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` with each run of complete entry lines (without terminators), in log order. An
    /// unfinished last line, being written as the log was opened, is left out, and so is the
    /// reserve of zero bytes a running writer keeps after the entries.
    pub fn for_each_run(&self, mut f: impl FnMut(&[&[u8]])) -> Result<(), LedgerError> {
        self.try_for_each_run(|run| {
            f(run);
            Ok::<(), LedgerError>(())
        })
    }

    /// [`DirLog::for_each_run`], stopping at the first error `f` gives.
    pub fn try_for_each_run<E: From<LedgerError>>(
        &self,
        mut f: impl FnMut(&[&[u8]]) -> Result<(), E>,
    ) -> Result<(), E> {
        const RUN: u64 = 16 << 20;
        let Some(file) = &self.entries else {
            return Ok(());
        };
        let (mut at, mut run) = (0u64, Vec::new());
        loop {
            let have = run.len() as u64;
            let want = RUN.min(self.len - at - have);
            if want == 0 {
                return Ok(());
            }
            run.resize((have + want) as usize, 0);
            file.read_exact_at(&mut run[have as usize..], at + have)
                .map_err(io(&self.path))?;
            // A running writer's reserve of zeros follows the entries.
            let (end, complete) = entry_ends(&run);
            f(&lines(&run[..complete]))?;
            if end < run.len() {
                return Ok(());
            }
            at += complete as u64;
            run.drain(..complete);
        }
    }

    /// Checks every entry, a run at a time, against the stored hashes, and the checkpoints against
    /// the tree of them.
    pub fn verify(
        &self,
        key: &VerifierKey,
        origin: &str,
        seen: Option<&Checkpoint>,
    ) -> Result<Result<Verified, Vec<Problem>>, LedgerError> {
        let mut checker = Checker::default();
        self.for_each_run(|run| checker.feed(run, Some(&self.hashes)))?;
        Ok(checker.finish(
            Some(self.hashes.len()),
            &Signed {
                checkpoints: &self.checkpoints,
                key,
                origin,
                seen,
            },
        ))
    }
}

/// The derived files (hashes, offsets), opened a second time.
#[derive(Debug)]
pub(crate) struct Derived([(File, PathBuf); 2]);

/// The tree reads the leaf hashes it forgot from the hashes file (and checks each pair against
/// its own hash of it).
impl accord_ledger::Leaves for Derived {
    fn pair(&self, first: u64) -> Option<[Hash; 2]> {
        let mut pair = [[0u8; 32]; 2];
        self.hashes()
            .read_exact_at(pair.as_flattened_mut(), first.checked_mul(32)?)
            .ok()?;
        Some(pair)
    }
}

impl Derived {
    fn hashes(&self) -> &File {
        &self.0[0].0
    }

    /// Makes what the derived files hold durable.
    pub(crate) fn sync(&self) -> Result<(), LedgerError> {
        for (file, path) in &self.0 {
            file.sync_data().map_err(io(path))?;
        }
        Ok(())
    }
}

/// What recovery hands the log: the tree, entry offsets and the latest checkpoint.
pub(crate) type Recovered = (Tree, ChunkedVec<u64>, Option<(Checkpoint, String)>);

impl LogFiles {
    pub(crate) fn open(dir: &Path) -> Result<LogFiles, LedgerError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(LogFiles {
            dir: dir.to_path_buf(),
            entries: open_entries(&dir.join(ENTRIES_FILE))?,
            hashes: open_append(&dir.join(HASHES_FILE))?,
            offsets: open_append(&dir.join(OFFSETS_FILE))?,
            checkpoints: open_append(&dir.join(CHECKPOINTS_FILE))?,
            lock: open_append(&dir.join(LOCK_FILE))?,
            left: None,
            size: 0,
            reserve: 0,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Takes the cross-process write lock.
    pub(crate) fn lock(&self) -> Result<(), LedgerError> {
        self.lock.lock().map_err(io(&self.path(LOCK_FILE)))
    }

    pub(crate) fn unlock(&self) {
        let _ = self.lock.unlock();
    }

    /// The entries file's size, from `lseek`, not `fstat`: a file system with multigrain
    /// timestamps (ext4 since Linux 6.13) gives every write after a `stat` a fresh fine-grained
    /// modification time, and then every group's sync also writes the inode. Unobserved, the
    /// time moves only with the coarse clock (measured at 5,000 reads/s: 3.03 → 2.2 block
    /// requests per sync; BENCHMARKS.md).
    fn len(mut file: &File, path: &Path) -> Result<u64, LedgerError> {
        file.seek(SeekFrom::End(0)).map_err(io(path))
    }

    /// Cuts torn tails, checks the log against its checkpoints, and completes the derived files
    /// (leaf hashes and entry offsets). Call with the lock held.
    ///
    /// The time and memory this takes do not grow with the log: the leaf hashes and offsets the
    /// latest checkpoint covers were synced before it was signed, so they are trusted once they
    /// reproduce the root of every signed checkpoint; only the entries after it are read and
    /// checked in full (JSON, canonical form, index, leaf hash). An entry altered before the
    /// latest checkpoint is found by `accord audit verify` and when it is read
    /// ([`crate::Ledger::entries`]). When the fast path does not hold (no offsets from an older
    /// version, a derived file damaged, a checkpoint that does not match), every entry is read
    /// and checked, a run at a time, and the problem named exactly.
    pub(crate) fn recover(&mut self, origin: &str, key: &VerifierKey) -> Result<Recovered, LedgerError> {
        let checkpoints_path = self.path(CHECKPOINTS_FILE);
        let text = String::from_utf8(read_all(&checkpoints_path)?).map_err(|_| LedgerError::Broken {
            dir: self.dir.clone(),
            problem: "the checkpoints file is not UTF-8".into(),
        })?;
        let (notes, whole) = split_notes(&text);
        if whole < text.len() {
            tracing::warn!("cutting an unfinished checkpoint left by a crash");
            self.checkpoints
                .set_len(whole as u64)
                .map_err(io(&checkpoints_path))?;
            self.checkpoints.sync_all().map_err(io(&checkpoints_path))?;
        }
        let covered = notes
            .last()
            .and_then(|n| key.open(n).ok())
            .map_or(0, |c| c.size as usize);
        // Hashes after the latest checkpoint were not synced: a crash may have left them short or
        // (on some file systems) zeroed; those are recomputed, but any other hash that differs
        // from its entry stops the log. Offsets after it are recomputed in any case.
        let hashes_path = self.path(HASHES_FILE);
        let read_stored = || -> Result<ChunkedVec<Hash>, LedgerError> {
            let mut stored = read_hashes(&hashes_path)?;
            let zero = stored.range(covered..usize::MAX).position(|h| h == &[0; 32]);
            if let Some(zero) = zero {
                stored.truncate(covered + zero);
            }
            Ok(stored)
        };
        let mut all = read_stored()?;
        let mut ends = read_ends(&self.path(OFFSETS_FILE))?;
        ends.truncate(covered);
        let signed = Signed {
            checkpoints: &notes,
            key,
            origin,
            seen: None,
        };
        // The fast path moves the covered hashes into the tree (no copy: they can be gigabytes)
        // and keeps only the rest in `stored`, the stored hashes from entry `first` on.
        let mut first = 0;
        let mut stored = Vec::new();
        let fast = if covered > 0
            && all.len() >= covered
            && ends.len() == covered
            && self.aligned(&ends, all.get(covered - 1))?
        {
            let offsets = std::iter::once(0).chain(ends.iter().copied()).collect();
            stored = all.split_off(covered);
            let checker = Checker::after(Tree::from_leaves(std::mem::take(&mut all)));
            first = covered;
            let (checker, offsets) = self.scan(checker, offsets, &stored)?;
            settle(checker, &mut stored, first, covered, &signed)
                .ok()
                .map(|verified| (verified, offsets))
        } else {
            None
        };
        let (verified, offsets) = match fast {
            Some(done) => done,
            None => {
                let all = if first > 0 { read_stored()? } else { all };
                (first, stored) = (0, all.range(0..usize::MAX).copied().collect());
                let (checker, offsets) = self.scan(Checker::default(), ChunkedVec::from(vec![0]), &stored)?;
                let verified = settle(checker, &mut stored, 0, covered, &signed)
                    .map_err(|problems| self.refusal(&problems, &notes, key))?;
                (verified, offsets)
            }
        };
        let tree = verified.tree;
        let n = tree.size() as usize;
        complete(&mut self.hashes, &hashes_path, 32, first + stored.len(), n, |k| {
            Ok(hash_bytes(tree.leaves(k..n)))
        })?;
        let path = self.path(OFFSETS_FILE);
        let kept = ends
            .iter()
            .zip(offsets.range(1..usize::MAX))
            .take_while(|(a, b)| a == b)
            .count();
        complete(&mut self.offsets, &path, 8, kept, n, |k| {
            Ok(end_bytes(offsets.range(1 + k..usize::MAX)))
        })?;
        let latest = verified
            .latest
            .zip(verified.latest_note.map(|i| notes[i].clone()));
        Ok((tree, offsets, latest))
    }

    /// Whether stored offsets can be trusted for the entries they cover: ascending, within the
    /// entries file, and the last of them ends an entry with the stored leaf hash.
    /// `leaf` is the stored hash of the last entry the offsets should cover.
    fn aligned(&self, ends: &[u64], leaf: Option<&Hash>) -> Result<bool, LedgerError> {
        let (Some(&end), Some(leaf)) = (ends.last(), leaf) else {
            return Ok(false);
        };
        let len = Self::len(&self.entries, &self.path(ENTRIES_FILE))?;
        if end > len || !ends.windows(2).all(|w| w[0] < w[1]) {
            return Ok(false);
        }
        let start = ends.len().checked_sub(2).map_or(0, |i| ends[i]);
        let line = self.read_entries(start, end)?;
        Ok(line.last() == Some(&b'\n') && leaf_hash(&line[..line.len() - 1]) == *leaf)
    }

    /// Reads and checks the entries after those `offsets` already knows, a run at a time, and
    /// cuts an unfinished last line (a crash mid-write, never acknowledged).
    fn scan(
        &mut self,
        mut checker: Checker,
        mut offsets: ChunkedVec<u64>,
        stored: &[Hash],
    ) -> Result<(Checker, ChunkedVec<u64>), LedgerError> {
        const RUN: usize = 16 << 20;
        let path = self.path(ENTRIES_FILE);
        let mut at = offsets.last().copied().unwrap_or(0);
        let mut run: Vec<u8> = Vec::new();
        loop {
            let have = run.len();
            run.resize(have + RUN, 0);
            let read = self
                .entries
                .read_at(&mut run[have..], at + have as u64)
                .map_err(io(&path))?;
            run.truncate(have + read);
            // The reserve's zeros end the entries; what a crash left beyond them is cut below.
            let (end, complete) = entry_ends(&run);
            let done = read == 0 || end < run.len();
            run.truncate(end);
            {
                let new = lines(&run[..complete]);
                checker.feed(&new, Some(stored));
                for l in &new {
                    at += l.len() as u64 + 1;
                    offsets.push(at);
                }
            }
            run.drain(..complete);
            if done {
                break;
            }
        }
        if !run.is_empty() {
            tracing::warn!(
                bytes = run.len(),
                "cutting an unfinished ledger entry left by a crash"
            );
        }
        // Also drops a reserve (a crash may have left bytes of an unacknowledged group beyond the
        // first zero); the next writer that keeps one writes it afresh.
        if Self::len(&self.entries, &path)? > at {
            self.entries.set_len(at).map_err(io(&path))?;
            self.entries.sync_all().map_err(io(&path))?;
        }
        self.size = at;
        Ok((checker, offsets))
    }

    /// Why the log cannot be opened: it does not verify, or belongs to another key.
    fn refusal(&self, problems: &[Problem], notes: &[String], key: &VerifierKey) -> LedgerError {
        let first = problems.first().map(ToString::to_string).unwrap_or_default();
        if problems
            .iter()
            .all(|p| matches!(p.at, accord_ledger::verify::Where::Checkpoint(_)))
            && notes.iter().all(|n| key.open(n).is_err())
        {
            LedgerError::Identity {
                dir: self.dir.clone(),
                reason: first,
            }
        } else {
            LedgerError::Broken {
                dir: self.dir.clone(),
                problem: first,
            }
        }
    }

    /// Takes in entries another process appended since `offsets` was last extended. Call with
    /// the lock held: a partial line then can only be a crashed writer's, and is cut.
    pub(crate) fn catch_up(
        &mut self,
        tree: &mut Tree,
        offsets: &mut ChunkedVec<u64>,
    ) -> Result<(), LedgerError> {
        let entries_path = self.path(ENTRIES_FILE);
        let known = offsets.last().copied().unwrap_or(0);
        let len = Self::len(&self.entries, &entries_path)?;
        // Another writer appends at the logical end: into the reserve (its first byte is then no
        // longer zero) or past the end of the file.
        if len == self.size && self.left == Some(known) && (len == known || self.zero_at(known)?) {
            return Ok(());
        }
        self.left = None;
        self.size = len;
        if len > known {
            let mut tail = vec![0u8; (len - known) as usize];
            self.entries
                .read_exact_at(&mut tail, known)
                .map_err(io(&entries_path))?;
            let (end, complete) = entry_ends(&tail);
            // Cuts a crashed writer's unfinished line (and with it the reserve, written afresh by
            // the next append that keeps one); another writer's clean reserve is kept and shared.
            if complete < end || tail[end..].iter().any(|&b| b != 0) {
                self.size = known + complete as u64;
                self.entries.set_len(self.size).map_err(io(&entries_path))?;
            }
            let mut at = known;
            let new = lines(&tail[..complete]);
            let leaves: Vec<Hash> = new.par_iter().map(|l| leaf_hash(l)).collect();
            for (l, leaf) in new.iter().zip(leaves) {
                at += l.len() as u64 + 1;
                tree.push(leaf);
                offsets.push(at);
            }
        }
        // The derived files follow the entries: complete them (a writer that crashed after its
        // entries), or cut what belongs to entries that were cut.
        let n = tree.size() as usize;
        let path = self.path(HASHES_FILE);
        let dir = &self.dir;
        follow(&mut self.hashes, &path, 32, n, |k| {
            // Only another writer's crash leaves the file short, by its last group: leaves this
            // tree pushed since it last forgot some (at a checkpoint).
            if (k as u64) < tree.leaves_held_from() {
                return Err(LedgerError::Broken {
                    dir: dir.clone(),
                    problem: format!(
                        "{HASHES_FILE} holds {k} leaf hashes, fewer than this process has forgotten; \
                         restart the node to rebuild it from the entries"
                    ),
                });
            }
            Ok(hash_bytes(tree.leaves(k..n)))
        })?;
        let path = self.path(OFFSETS_FILE);
        follow(&mut self.offsets, &path, 8, n, |k| {
            Ok(end_bytes(offsets.range(1 + k..n + 1)))
        })?;
        self.left = offsets.last().copied();
        Ok(())
    }

    fn zero_at(&self, at: u64) -> Result<bool, LedgerError> {
        let mut byte = [1u8];
        self.entries
            .read_exact_at(&mut byte, at)
            .map_err(io(&self.path(ENTRIES_FILE)))?;
        Ok(byte == [0])
    }

    /// Keeps `bytes` of zeros written ahead of the entries from the next append on (0: none).
    pub(crate) fn set_reserve(&mut self, bytes: u64) {
        self.reserve = bytes;
    }

    /// Cuts the reserve off, leaving the entries file exactly its entries. Call under the lock
    /// right after [`LogFiles::catch_up`].
    pub(crate) fn drop_reserve(&mut self, end: u64) -> Result<(), LedgerError> {
        if self.size > end {
            let path = self.path(ENTRIES_FILE);
            self.entries.set_len(end).map_err(io(&path))?;
            self.entries.sync_all().map_err(io(&path))?;
            self.size = end;
        }
        Ok(())
    }

    /// Appends entry lines, durably, with their leaf hashes and end offsets, after the `records`
    /// entries the files hold. Call it under the lock right after [`LogFiles::catch_up`], which
    /// leaves the derived files exactly `records` long. On failure all three files are cut back.
    ///
    /// Only the entries are synced here: hashes and offsets are derived from them and synced
    /// before each checkpoint ([`LogFiles::append_checkpoint`]); recovery recomputes what a crash
    /// lost after the latest checkpoint. One sync per group, not three.
    ///
    /// With a reserve the lines overwrite zeros already on disk, so the sync allocates no blocks
    /// and records no new size: on this machine's ext4 without a journal, the pages and the
    /// cache flush, plus the inode when its modification time changed (see [`LogFiles::len`]).
    /// When the reserve runs out it is written afresh after the lines, in the same sync.
    pub(crate) fn append(
        &mut self,
        lines: &[u8],
        leaves: &[Hash],
        ends: &[u64],
        base: u64,
        records: u64,
    ) -> Result<(), LedgerError> {
        let entries_path = self.path(ENTRIES_FILE);
        let (hashes_base, offsets_base) = (32 * records, 8 * records);
        self.left = None;
        let end = base + lines.len() as u64;
        let extend = end > self.size && self.reserve > 0;
        let result = self
            .entries
            .write_all_at(lines, base)
            .and_then(|()| {
                if extend {
                    self.entries.write_all_at(&vec![0; self.reserve as usize], end)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| self.hashes.write_all(&hash_bytes(leaves)))
            .and_then(|()| self.offsets.write_all(&end_bytes(ends)))
            .and_then(|()| self.entries.sync_data());
        if let Err(e) = result {
            let _ = self.entries.set_len(base);
            let _ = self.hashes.set_len(hashes_base);
            let _ = self.offsets.set_len(offsets_base);
            self.size = base;
            return Err(io(&entries_path)(e));
        }
        self.size = if extend {
            end + self.reserve
        } else {
            self.size.max(end)
        };
        self.left = Some(end);
        Ok(())
    }

    /// Second handles on the derived files, to sync them without holding the log.
    pub(crate) fn derived(&self) -> Result<Derived, LedgerError> {
        let handle = |file: &File, name: &str| {
            let path = self.path(name);
            file.try_clone().map(|f| (f, path.clone())).map_err(io(&path))
        };
        Ok(Derived([
            handle(&self.hashes, HASHES_FILE)?,
            handle(&self.offsets, OFFSETS_FILE)?,
        ]))
    }

    /// Appends a signed checkpoint, durably, after making the hashes and offsets it covers durable.
    pub(crate) fn append_checkpoint(&mut self, note: &str) -> Result<(), LedgerError> {
        self.hashes.sync_data().map_err(io(&self.path(HASHES_FILE)))?;
        self.offsets.sync_data().map_err(io(&self.path(OFFSETS_FILE)))?;
        let path = self.path(CHECKPOINTS_FILE);
        self.checkpoints
            .write_all(note.as_bytes())
            .and_then(|()| self.checkpoints.sync_data())
            .map_err(io(&path))
    }

    pub(crate) fn read_entries(&self, from: u64, to: u64) -> Result<Vec<u8>, LedgerError> {
        let mut buf = vec![0u8; (to - from) as usize];
        self.entries
            .read_exact_at(&mut buf, from)
            .map_err(io(&self.path(ENTRIES_FILE)))?;
        Ok(buf)
    }

    /// Writes the verifier key beside the log (for convenience; pin it from a trusted copy).
    pub(crate) fn write_key(&self, key: &VerifierKey) -> Result<(), LedgerError> {
        let path = self.path(KEY_FILE);
        let text = format!("{key}\n");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Ok(())
    }
}
