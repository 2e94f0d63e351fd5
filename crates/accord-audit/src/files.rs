//! The log's files: appending with fsync, recovery of a torn tail, taking in entries another
//! process appended, and reading a log directory for verification.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use accord_ledger::verify::LogInput;
use accord_ledger::{Checkpoint, Hash, Tree, VerifierKey, leaf_hash};
use rayon::prelude::*;

use crate::{AuditError, CHECKPOINTS_FILE, ENTRIES_FILE, HASHES_FILE, KEY_FILE, LOCK_FILE};

/// The open files of a log directory.
#[derive(Debug)]
pub(crate) struct LogFiles {
    dir: PathBuf,
    entries: File,
    hashes: File,
    checkpoints: File,
    lock: File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn open_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path))
}

fn read_all(path: &Path) -> Result<Vec<u8>, AuditError> {
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

fn hashes_of(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect()
}

/// A log directory as read for verification, without locking or changing anything.
#[derive(Debug, Default)]
pub struct DirLog {
    pub entries: Vec<u8>,
    pub hashes: Vec<Hash>,
    pub checkpoints: Vec<String>,
}

impl DirLog {
    /// The complete entry lines (an unfinished last line, being written right now, is left out).
    pub fn lines(&self) -> Vec<&[u8]> {
        lines(&self.entries[..complete_lines(&self.entries)])
    }

    pub fn input<'a>(
        &'a self,
        lines: &'a [&'a [u8]],
        key: &'a VerifierKey,
        origin: &'a str,
        seen: Option<&'a Checkpoint>,
    ) -> LogInput<'a> {
        LogInput {
            entries: lines,
            stored_hashes: Some(&self.hashes),
            checkpoints: &self.checkpoints,
            key,
            origin,
            seen,
        }
    }
}

/// Reads a log directory for verification, without locking it: a server may be appending.
pub fn read_dir_log(dir: &Path) -> Result<DirLog, AuditError> {
    // Read in the reverse of the order a running writer appends in (entries, then their hashes,
    // then a checkpoint over them), so that everything a checkpoint or hash read here covers is
    // in the entries read after it.
    let checkpoints_path = dir.join(CHECKPOINTS_FILE);
    let text = String::from_utf8(read_all(&checkpoints_path)?).map_err(|_| AuditError::Broken {
        dir: dir.to_path_buf(),
        problem: format!("{} is not UTF-8", checkpoints_path.display()),
    })?;
    let (checkpoints, _) = split_notes(&text);
    let hashes = hashes_of(&read_all(&dir.join(HASHES_FILE))?);
    let entries = read_all(&dir.join(ENTRIES_FILE))?;
    Ok(DirLog {
        entries,
        hashes,
        checkpoints,
    })
}

/// What recovery hands the log: the tree, entry offsets and the latest checkpoint.
pub(crate) type Recovered = (Tree, Vec<u64>, Option<(Checkpoint, String)>);

impl LogFiles {
    pub(crate) fn open(dir: &Path) -> Result<LogFiles, AuditError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(LogFiles {
            dir: dir.to_path_buf(),
            entries: open_append(&dir.join(ENTRIES_FILE))?,
            hashes: open_append(&dir.join(HASHES_FILE))?,
            checkpoints: open_append(&dir.join(CHECKPOINTS_FILE))?,
            lock: open_append(&dir.join(LOCK_FILE))?,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Takes the cross-process write lock.
    pub(crate) fn lock(&self) -> Result<(), AuditError> {
        self.lock.lock().map_err(io(&self.path(LOCK_FILE)))
    }

    pub(crate) fn unlock(&self) {
        let _ = self.lock.unlock();
    }

    fn len(file: &File, path: &Path) -> Result<u64, AuditError> {
        Ok(file.metadata().map_err(io(path))?.len())
    }

    /// Cuts torn tails, verifies the whole log against its checkpoints, and completes the hash
    /// file. Call with the lock held.
    pub(crate) fn recover(&mut self, origin: &str, key: &VerifierKey) -> Result<Recovered, AuditError> {
        let entries_path = self.path(ENTRIES_FILE);
        let mut bytes = Vec::new();
        (&self.entries)
            .read_to_end(&mut bytes)
            .map_err(io(&entries_path))?;
        let complete = complete_lines(&bytes);
        if complete < bytes.len() {
            tracing::warn!(
                bytes = bytes.len() - complete,
                "cutting an unfinished audit entry left by a crash"
            );
            self.entries.set_len(complete as u64).map_err(io(&entries_path))?;
            self.entries.sync_all().map_err(io(&entries_path))?;
            bytes.truncate(complete);
        }
        let checkpoints_path = self.path(CHECKPOINTS_FILE);
        let text = String::from_utf8(read_all(&checkpoints_path)?).map_err(|_| AuditError::Broken {
            dir: self.dir.clone(),
            problem: "the checkpoints file is not UTF-8".into(),
        })?;
        let (notes, complete) = split_notes(&text);
        if complete < text.len() {
            tracing::warn!("cutting an unfinished checkpoint left by a crash");
            self.checkpoints
                .set_len(complete as u64)
                .map_err(io(&checkpoints_path))?;
            self.checkpoints.sync_all().map_err(io(&checkpoints_path))?;
        }
        let lines = lines(&bytes);
        let n = lines.len();
        let hashes_path = self.path(HASHES_FILE);
        let mut stored = hashes_of(&read_all(&hashes_path)?);
        let covered = notes
            .last()
            .and_then(|n| key.open(n).ok())
            .map_or(0, |c| c.size as usize);
        if stored.len() > n && n >= covered {
            // Hashes of entries whose lines a crash cut off (never acknowledged).
            stored.truncate(n);
            self.hashes.set_len(n as u64 * 32).map_err(io(&hashes_path))?;
        }
        let verified = accord_ledger::verify_log(&LogInput {
            entries: &lines,
            stored_hashes: Some(&stored),
            checkpoints: &notes,
            key,
            origin,
            seen: None,
        })
        .map_err(|problems| {
            let first = problems.first().map(ToString::to_string).unwrap_or_default();
            if problems
                .iter()
                .all(|p| matches!(p.at, accord_ledger::verify::Where::Checkpoint(_)))
                && notes.iter().all(|n| key.open(n).is_err())
            {
                AuditError::Identity {
                    dir: self.dir.clone(),
                    reason: first,
                }
            } else {
                AuditError::Broken {
                    dir: self.dir.clone(),
                    problem: first,
                }
            }
        })?;
        let tree = verified.tree;
        if stored.len() < n {
            // Cut a partly written hash first, so that the ones appended stay aligned.
            self.hashes
                .set_len(stored.len() as u64 * 32)
                .map_err(io(&hashes_path))?;
            let missing: Vec<u8> = tree.leaves()[stored.len()..].iter().flatten().copied().collect();
            self.hashes.write_all(&missing).map_err(io(&hashes_path))?;
            self.hashes.sync_all().map_err(io(&hashes_path))?;
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut at = 0u64;
        for l in &lines {
            at += l.len() as u64 + 1;
            offsets.push(at);
        }
        let latest = verified
            .latest
            .zip(verified.latest_note.map(|i| notes[i].clone()));
        Ok((tree, offsets, latest))
    }

    /// Takes in entries another process appended since `offsets` was last extended. Call with
    /// the lock held: a partial line then can only be a crashed writer's, and is cut.
    pub(crate) fn catch_up(&mut self, tree: &mut Tree, offsets: &mut Vec<u64>) -> Result<(), AuditError> {
        let entries_path = self.path(ENTRIES_FILE);
        let known = offsets.last().copied().unwrap_or(0);
        let len = Self::len(&self.entries, &entries_path)?;
        if len > known {
            let mut tail = vec![0u8; (len - known) as usize];
            self.entries
                .read_exact_at(&mut tail, known)
                .map_err(io(&entries_path))?;
            let complete = complete_lines(&tail);
            if complete < tail.len() {
                self.entries
                    .set_len(known + complete as u64)
                    .map_err(io(&entries_path))?;
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
        // The hash file follows the entries: complete it, or cut hashes of entries that were cut.
        let hashes_path = self.path(HASHES_FILE);
        let want = tree.size() * 32;
        let have = Self::len(&self.hashes, &hashes_path)?;
        if have > want {
            self.hashes.set_len(want).map_err(io(&hashes_path))?;
        } else if have < want {
            let missing: Vec<u8> = tree.leaves()[(have / 32) as usize..]
                .iter()
                .flatten()
                .copied()
                .collect();
            self.hashes.set_len(have - have % 32).map_err(io(&hashes_path))?;
            self.hashes.write_all(&missing).map_err(io(&hashes_path))?;
            self.hashes.sync_data().map_err(io(&hashes_path))?;
        }
        Ok(())
    }

    /// Appends entry lines and their leaf hashes, durably. On failure both files are cut back.
    pub(crate) fn append(&mut self, lines: &[u8], leaves: &[Hash], base: u64) -> Result<(), AuditError> {
        let (entries_path, hashes_path) = (self.path(ENTRIES_FILE), self.path(HASHES_FILE));
        let hashes_base = Self::len(&self.hashes, &hashes_path)?;
        let flat: Vec<u8> = leaves.iter().flatten().copied().collect();
        let result = self
            .entries
            .write_all(lines)
            .and_then(|()| self.hashes.write_all(&flat))
            .and_then(|()| self.entries.sync_data())
            .and_then(|()| self.hashes.sync_data());
        if let Err(e) = result {
            let _ = self.entries.set_len(base);
            let _ = self.hashes.set_len(hashes_base);
            return Err(io(&entries_path)(e));
        }
        Ok(())
    }

    pub(crate) fn append_checkpoint(&mut self, note: &str) -> Result<(), AuditError> {
        let path = self.path(CHECKPOINTS_FILE);
        self.checkpoints
            .write_all(note.as_bytes())
            .and_then(|()| self.checkpoints.sync_data())
            .map_err(io(&path))
    }

    pub(crate) fn read_entries(&self, from: u64, to: u64) -> Result<Vec<u8>, AuditError> {
        let mut buf = vec![0u8; (to - from) as usize];
        self.entries
            .read_exact_at(&mut buf, from)
            .map_err(io(&self.path(ENTRIES_FILE)))?;
        Ok(buf)
    }

    /// Writes the verifier key beside the log (for convenience; pin it from a trusted copy).
    pub(crate) fn write_key(&self, key: &VerifierKey) -> Result<(), AuditError> {
        let path = self.path(KEY_FILE);
        let text = format!("{key}\n");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Ok(())
    }
}
