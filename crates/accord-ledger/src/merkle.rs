//! RFC 9162 Merkle tree hashing: the tree of leaf hashes, roots at any earlier size, and
//! inclusion and consistency proofs with their verification (RFC 9162 §2.1).

use std::ops::Range;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::ChunkedVec;

/// A SHA-256 hash: of a leaf, of an inner node, or a tree's root.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n > 1`): where RFC 9162 splits a tree of `n` leaves.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Where a tree that forgot its leaf hashes ([`Tree::forget_leaves`]) reads them again: the
/// stored pair of leaves from an even index, if it can be read. Each pair read is checked
/// against the tree's own hash of it, so the store need not be trusted.
pub trait Leaves {
    fn pair(&self, first: u64) -> Option<[Hash; 2]>;
}

/// No store: every leaf must be held.
struct Held;

impl Leaves for Held {
    fn pair(&self, _: u64) -> Option<[Hash; 2]> {
        None
    }
}

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is larger than the log ({have} entries)")]
    SizeOutOfRange { size: u64, have: u64 },
    #[error("a consistency proof needs 0 < first ({first}) <= second ({second})")]
    BadSizes { first: u64, second: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("leaf {index} is not held in memory and its stored hash could not be read")]
    LeafUnavailable { index: u64 },
    #[error("the stored hashes of leaves {first} and {} do not match the tree (the hashes file was altered)", first + 1)]
    LeafMismatch { first: u64 },
}

/// The hashes of an append-only tree: `levels[k][i]` is the hash of the complete subtree over
/// leaves `i·2^k .. (i+1)·2^k`. Any root or proof is assembled from these in O(log² n) hashes.
/// Levels are chunked, so that appending never copies them.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<ChunkedVec<Hash>>,
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over the given leaf hashes. Each level is built in chunks from the one below,
    /// on every core (a reopened log's tree has tens of millions of leaves), and nothing is
    /// copied: the leaves become the lowest level as they are.
    pub fn from_leaves(leaves: ChunkedVec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|l| l.len() >= 2) {
            // Two full chunks below make one full chunk above: chunks hold an even number.
            let above: Vec<Vec<Hash>> = below
                .chunks()
                .par_chunks(2)
                .map(|pair| {
                    let mut chunk = Vec::with_capacity(pair.iter().map(Vec::len).sum::<usize>() / 2);
                    for c in pair {
                        chunk.extend(c.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])));
                    }
                    chunk
                })
                .filter(|c| !c.is_empty())
                .collect();
            levels.push(ChunkedVec::from_chunks(above));
        }
        if levels[0].is_empty() {
            levels.clear();
        }
        Tree { levels }
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(ChunkedVec::new());
        }
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(ChunkedVec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The leaf hashes in `range` (clamped to the size).
    pub fn leaves(&self, range: Range<usize>) -> impl Iterator<Item = &Hash> + '_ {
        self.levels
            .first()
            .into_iter()
            .flat_map(move |l| l.range(range.clone()))
    }

    /// The hash of leaf `index`, if it is held (see [`Tree::forget_leaves`]).
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?).copied()
    }

    /// The hash of leaf `index` (below the size), read from `store` if it is not held.
    pub fn leaf_from(&self, index: u64, store: &dyn Leaves) -> Result<Hash, ProofError> {
        match self.leaf(index) {
            Some(leaf) => Ok(leaf),
            None => Ok(self.stored_pair(index, store)?[(index & 1) as usize]),
        }
    }

    /// The hashes of leaves `range` (clamped to the size): those not held read from `store`,
    /// each pair once.
    pub fn leaves_from(&self, range: Range<u64>, store: &dyn Leaves) -> Result<Vec<Hash>, ProofError> {
        let end = range.end.min(self.size()).max(range.start);
        let held = self.leaves_held_from().clamp(range.start, end);
        let mut out = Vec::with_capacity((end - range.start) as usize);
        let mut pair = [[0; 32]; 2];
        for i in range.start..held {
            if i == range.start || i % 2 == 0 {
                pair = self.stored_pair(i, store)?;
            }
            out.push(pair[(i & 1) as usize]);
        }
        out.extend(self.leaves(held as usize..end as usize));
        Ok(out)
    }

    /// The stored pair of leaves that holds leaf `index`, checked against the tree's hash of it.
    fn stored_pair(&self, index: u64, store: &dyn Leaves) -> Result<[Hash; 2], ProofError> {
        let first = index & !1;
        let pair = store.pair(first).ok_or(ProofError::LeafUnavailable { index })?;
        // Leaves are forgotten a whole chunk at a time: both of a pair are, and so have a parent.
        let parent = self.levels.get(1).and_then(|l| l.get((first / 2) as usize));
        if parent != Some(&node_hash(&pair[0], &pair[1])) {
            return Err(ProofError::LeafMismatch { first });
        }
        Ok(pair)
    }

    /// Frees the leaf hashes of every complete chunk (keeping the one pushes go to): the tree
    /// then holds about half the memory per leaf. Roots of the whole tree never need them;
    /// proofs and leaf reads take them from a [`Leaves`] store.
    pub fn forget_leaves(&mut self) {
        if let Some(leaves) = self.levels.first_mut() {
            leaves.forget();
        }
    }

    /// The first leaf index whose hash is held.
    pub fn leaves_held_from(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.held_from() as u64)
    }

    /// MTH of the `len >= 1` leaves from `start`. RFC 9162's recursions only ask for subtrees
    /// whose power-of-two parts are aligned, so those parts are read from `levels`.
    fn subtree(&self, start: u64, len: u64, store: &dyn Leaves) -> Result<Hash, ProofError> {
        if len == 1 {
            return self.leaf_from(start, store);
        }
        if len.is_power_of_two() && start.is_multiple_of(len) {
            let k = len.trailing_zeros() as usize;
            return Ok(self.levels[k][(start >> k) as usize]);
        }
        let k = split(len);
        Ok(node_hash(
            &self.subtree(start, k, store)?,
            &self.subtree(start + k, len - k, store)?,
        ))
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeOutOfRange {
                size,
                have: self.size(),
            });
        }
        Ok(())
    }

    /// The root of the tree's first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        if size == 0 {
            return Ok(empty_root());
        }
        self.subtree(0, size, &Held)
    }

    /// The root of the whole tree. It needs no forgotten leaf: the only single leaf in its
    /// decomposition is the last one, which is always held.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or_else(|_| empty_root())
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.inclusion_proof_from(index, size, &Held)
    }

    /// [`Tree::inclusion_proof`], reading leaves the tree forgot from `store`.
    pub fn inclusion_proof_from(
        &self,
        index: u64,
        size: u64,
        store: &dyn Leaves,
    ) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, store, &mut proof)?;
        Ok(proof)
    }

    fn path(
        &self,
        m: u64,
        start: u64,
        n: u64,
        store: &dyn Leaves,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        if n == 1 {
            return Ok(());
        }
        let k = split(n);
        if m < k {
            self.path(m, start, k, store, out)?;
            out.push(self.subtree(start + k, n - k, store)?);
        } else {
            self.path(m - k, start + k, n - k, store, out)?;
            out.push(self.subtree(start, k, store)?);
        }
        Ok(())
    }

    /// The proof that the tree of `first` leaves is a prefix of the tree of `second` leaves
    /// (RFC 9162 §2.1.4.1).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
        self.consistency_proof_from(first, second, &Held)
    }

    /// [`Tree::consistency_proof`], reading leaves the tree forgot from `store`.
    pub fn consistency_proof_from(
        &self,
        first: u64,
        second: u64,
        store: &dyn Leaves,
    ) -> Result<Vec<Hash>, ProofError> {
        self.check_size(second)?;
        if first == 0 || first > second {
            return Err(ProofError::BadSizes { first, second });
        }
        let mut proof = Vec::new();
        if first < second {
            self.subproof((first, 0, second), true, store, &mut proof)?;
        }
        Ok(proof)
    }

    fn subproof(
        &self,
        (m, start, n): (u64, u64, u64),
        whole: bool,
        store: &dyn Leaves,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        if m == n {
            if !whole {
                out.push(self.subtree(start, n, store)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            self.subproof((m, start, k), whole, store, out)?;
            out.push(self.subtree(start + k, n - k, store)?);
        } else {
            self.subproof((m - k, start + k, n - k), false, store, out)?;
            out.push(self.subtree(start, k, store)?);
        }
        Ok(())
    }
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves with root `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((seed, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != first_root || &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
