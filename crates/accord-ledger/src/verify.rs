//! Verification of a whole log: every entry well-formed, canonical and at its recorded index,
//! every leaf hash as stored, every checkpoint signed by the pinned key and matching the tree
//! recomputed from the entries, and the log consistent with the checkpoint a monitor saw before.

use std::fmt;

use rayon::prelude::*;

use crate::merkle::{Hash, Tree, leaf_hash};
use crate::note::{Checkpoint, VerifierKey};

/// Most problems reported: the first few say where to look.
const MAX_PROBLEMS: usize = 100;

/// What to verify.
#[derive(Debug)]
pub struct LogInput<'a> {
    /// Entries in log order, each exactly as stored (without its line terminator).
    pub entries: &'a [&'a [u8]],
    /// Leaf hashes as stored beside the entries, if the log keeps them.
    pub stored_hashes: Option<&'a [Hash]>,
    /// Signed checkpoints, oldest first.
    pub checkpoints: &'a [String],
    /// The pinned key the checkpoints must be signed with.
    pub key: &'a VerifierKey,
    /// The origin the checkpoints must name.
    pub origin: &'a str,
    /// The latest checkpoint this verifier accepted on an earlier run.
    pub seen: Option<&'a Checkpoint>,
}

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Where {
    Entry(u64),
    /// The n-th checkpoint (0-based, oldest first).
    Checkpoint(usize),
    /// The checkpoint seen on an earlier run.
    Seen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Where,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Where::Entry(i) => write!(f, "entry {i}: {}", self.message),
            Where::Checkpoint(n) => write!(f, "checkpoint #{n}: {}", self.message),
            Where::Seen => write!(f, "previously seen checkpoint: {}", self.message),
        }
    }
}

/// A log that verified.
#[derive(Debug)]
pub struct Verified {
    pub size: u64,
    /// The tree recomputed from the entries.
    pub tree: Tree,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: usize,
    /// The latest checkpoint (largest tree), which a monitor keeps for its next run…
    pub latest: Option<Checkpoint>,
    /// … and its position in the checkpoints given.
    pub latest_note: Option<usize>,
    /// Entries after the latest checkpoint, not yet covered by a signature.
    pub uncovered: u64,
}

/// Checks one stored entry: JSON, canonical, carrying its own index.
fn check_entry(index: u64, bytes: &[u8]) -> Option<String> {
    let (canonical, recorded) = accord_stix::jcs::canonical_with_field(bytes, "index");
    if !canonical {
        return Some(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(e) => format!("not JSON ({e})"),
            Ok(_) => "not in RFC 8785 canonical form".into(),
        });
    }
    match recorded.and_then(|r| std::str::from_utf8(r).ok()?.parse::<u64>().ok()) {
        Some(i) if i == index => None,
        Some(i) => Some(format!(
            "records index {i} (an entry is missing, added or out of order)"
        )),
        None => Some("has no index".into()),
    }
}

/// Verifies a log. On failure, the problems come in log order: the first is the earliest.
pub fn verify_log(input: &LogInput<'_>) -> Result<Verified, Vec<Problem>> {
    let mut checker = Checker::default();
    checker.feed(input.entries, input.stored_hashes);
    checker.finish(
        input.stored_hashes.map(<[Hash]>::len),
        &Signed {
            checkpoints: input.checkpoints,
            key: input.key,
            origin: input.origin,
            seen: input.seen,
        },
    )
}

/// What the checkpoints of a log are checked with.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Signed checkpoints, oldest first.
    pub checkpoints: &'a [String],
    /// The pinned key the checkpoints must be signed with.
    pub key: &'a VerifierKey,
    /// The origin the checkpoints must name.
    pub origin: &'a str,
    /// The latest checkpoint this verifier accepted on an earlier run.
    pub seen: Option<&'a Checkpoint>,
}

/// Verification a run of entries at a time, so that a log larger than memory can be checked:
/// [`Checker::feed`] the entries in log order, then [`Checker::finish`] with the checkpoints.
/// Only the tree and the first problems are kept.
#[derive(Debug, Default)]
pub struct Checker {
    tree: Tree,
    /// Index of the first entry fed (the trusted ones come before it).
    start: u64,
    /// The earliest entry problems (later ones would be cut from the report anyway).
    problems: Vec<Problem>,
    /// Index of every entry with a problem, ascending: a checkpoint mismatch they explain is not
    /// reported again.
    exact: Vec<u64>,
}

impl Checker {
    /// Continues after entries already trusted, given as their tree (a node reopening its own
    /// log trusts the leaf hashes its latest checkpoint covers; [`Checker::finish`] still checks
    /// every checkpoint against them).
    pub fn after(tree: Tree) -> Checker {
        Checker {
            start: tree.size(),
            tree,
            ..Checker::default()
        }
    }

    /// Entries checked so far (with the trusted ones).
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// Checks the next entries, each exactly as stored (without its line terminator), against
    /// the leaf hashes stored beside the log, if any, indexed from the first entry this checker
    /// is fed (the log's first, unless it continues [`Checker::after`] trusted ones).
    pub fn feed(&mut self, entries: &[&[u8]], stored: Option<&[Hash]>) {
        let first = self.tree.size();
        let checked: Vec<(Hash, Option<String>)> = entries
            .par_iter()
            .enumerate()
            .map(|(i, e)| (leaf_hash(e), check_entry(first + i as u64, e)))
            .collect();
        for (i, (hash, problem)) in checked.into_iter().enumerate() {
            let index = first + i as u64;
            let message = problem.or_else(|| {
                let stored = stored.and_then(|s| s.get((index - self.start) as usize))?;
                (stored != &hash)
                    .then(|| "does not match its stored leaf hash (the entry or the hash was altered)".into())
            });
            if let Some(message) = message {
                self.exact.push(index);
                if self.problems.len() < MAX_PROBLEMS {
                    self.problems.push(Problem {
                        at: Where::Entry(index),
                        message,
                    });
                }
            }
            self.tree.push(hash);
        }
    }

    /// Checks the checkpoints against the tree of every entry fed; `stored` is how many leaf
    /// hashes are stored beside the log, if it keeps them.
    pub fn finish(self, stored: Option<usize>, signed: &Signed<'_>) -> Result<Verified, Vec<Problem>> {
        let Checker {
            tree,
            mut problems,
            exact,
            ..
        } = self;
        let n = tree.size();
        if let Some(stored) = stored
            && stored as u64 > n
        {
            problems.push(Problem {
                at: Where::Entry(n),
                message: format!(
                    "missing: {stored} leaf hashes are stored but only {n} entries (entries were removed)"
                ),
            });
        }
        let explained = |from: u64, to: u64| {
            let i = exact.partition_point(|&e| e < from);
            exact.get(i).is_some_and(|&e| e < to)
        };

        let mut latest: Option<(usize, Checkpoint)> = None;
        let mut verified = 0;
        let mut matched_size = 0;
        for (position, note) in signed.checkpoints.iter().enumerate() {
            let cp = match signed.key.open(note) {
                Ok(cp) => cp,
                Err(e) => {
                    problems.push(Problem {
                        at: Where::Checkpoint(position),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            if cp.origin != signed.origin {
                problems.push(Problem {
                    at: Where::Checkpoint(position),
                    message: format!(
                        "origin {:?} is not this log's origin {:?}",
                        cp.origin, signed.origin
                    ),
                });
                continue;
            }
            match tree.root_at(cp.size) {
                Err(_) => problems.push(Problem {
                    at: Where::Entry(n),
                    message: format!(
                        "missing: checkpoint #{position} signs a tree of {} entries but the log has {n} (the tail was removed)",
                        cp.size
                    ),
                }),
                Ok(root) if root != cp.root => {
                    if !explained(matched_size, cp.size) {
                        problems.push(Problem {
                            at: Where::Entry(matched_size),
                            message: format!(
                                "the tree over entries {matched_size}..{} does not match checkpoint #{position} (an entry in that range was altered)",
                                cp.size
                            ),
                        });
                    }
                }
                Ok(_) => {
                    verified += 1;
                    matched_size = matched_size.max(cp.size);
                    if latest.as_ref().is_none_or(|(_, l)| cp.size >= l.size) {
                        latest = Some((position, cp));
                    }
                }
            }
        }

        if let Some(seen) = signed.seen {
            match tree.root_at(seen.size) {
                Err(_) => problems.push(Problem {
                    at: Where::Seen,
                    message: format!("the log has {n} entries, fewer than the {} of the checkpoint seen before", seen.size),
                }),
                Ok(root) if root != seen.root || seen.origin != signed.origin => problems.push(Problem {
                    at: Where::Seen,
                    message: format!(
                        "the log's first {} entries are not those of the checkpoint seen before (the log was rewritten)",
                        seen.size
                    ),
                }),
                Ok(_) => {}
            }
        }

        if problems.is_empty() {
            let covered = latest.as_ref().map_or(0, |(_, c)| c.size);
            let (latest_note, latest) = latest.unzip();
            Ok(Verified {
                size: n,
                tree,
                checkpoints: verified,
                latest,
                latest_note,
                uncovered: n - covered,
            })
        } else {
            problems.sort_by(|a, b| a.at.cmp(&b.at));
            problems.truncate(MAX_PROBLEMS);
            Err(problems)
        }
    }
}
