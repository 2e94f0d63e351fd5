//! An append-only vector kept in fixed-size chunks. A push never moves what is already stored,
//! so a log of tens of millions of entries grows without the whole-array copy (and the page
//! faults of a fresh allocation twice its size) that a `Vec` pays each time it doubles: the log's
//! writer holds every disclosure back while it pushes.

use std::ops::{Index, Range};

/// Elements per chunk: 2 MiB of leaf hashes.
const CHUNK: usize = 1 << 16;

/// See the module documentation. Every chunk but the last is full.
/// Chunks before `forgotten` have been freed ([`ChunkedVec::forget`]): their places still count.
#[derive(Debug, Clone)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    forgotten: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            chunks: Vec::new(),
            forgotten: 0,
        }
    }
}

impl<T: Copy> ChunkedVec<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
    }

    /// A vector of the given chunks, each full (`CHUNK` elements) but the last, none empty.
    pub(crate) fn from_chunks(chunks: Vec<Vec<T>>) -> Self {
        debug_assert!(chunks.iter().rev().skip(1).all(|c| c.len() == CHUNK));
        debug_assert!(chunks.last().is_none_or(|c| !c.is_empty()));
        ChunkedVec { chunks, forgotten: 0 }
    }

    /// The chunks, in order.
    pub(crate) fn chunks(&self) -> &[Vec<T>] {
        &self.chunks
    }

    /// Keeps the first `len` elements.
    pub fn truncate(&mut self, len: usize) {
        debug_assert!(len >= self.held_from(), "truncating into forgotten elements");
        if len >= self.len() {
            return;
        }
        self.chunks.truncate(len.div_ceil(CHUNK));
        if let Some(last) = self.chunks.last_mut() {
            last.truncate(len - (len - 1) / CHUNK * CHUNK);
        }
    }

    /// Removes the elements from `at` on and gives them.
    pub fn split_off(&mut self, at: usize) -> Vec<T> {
        let tail = self.range(at..self.len()).copied().collect();
        self.truncate(at);
        tail
    }

    /// Reads `n` elements, a chunk at a time, from `fill` (which fills the slice it is given),
    /// so that no second copy of a large file's contents is ever made.
    pub fn try_fill<E>(
        n: usize,
        zero: T,
        mut fill: impl FnMut(&mut [T]) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut chunks = Vec::with_capacity(n.div_ceil(CHUNK));
        for start in (0..n).step_by(CHUNK) {
            let mut chunk = Vec::with_capacity(CHUNK);
            chunk.resize(CHUNK.min(n - start), zero);
            fill(&mut chunk)?;
            chunks.push(chunk);
        }
        Ok(ChunkedVec { chunks, forgotten: 0 })
    }

    /// Frees every chunk but the last (the one pushes go to). Their elements are no longer
    /// held: `get` gives `None` for them, and [`ChunkedVec::held_from`] says where held ones start.
    pub fn forget(&mut self) {
        let keep = self.chunks.len().saturating_sub(1);
        for chunk in &mut self.chunks[self.forgotten.min(keep)..keep] {
            *chunk = Vec::new();
        }
        self.forgotten = self.forgotten.max(keep);
    }

    /// The index of the first element still held.
    pub fn held_from(&self) -> usize {
        self.forgotten * CHUNK
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    pub fn last(&self) -> Option<&T> {
        self.chunks.last()?.last()
    }

    /// The elements in `range` (clamped to the length), in order. The range must start at or
    /// after [`ChunkedVec::held_from`].
    pub fn range(&self, range: Range<usize>) -> impl Iterator<Item = &T> + '_ {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        debug_assert!(
            start == end || start >= self.held_from(),
            "range of forgotten elements"
        );
        let (first, offset) = (start / CHUNK, start % CHUNK);
        let head = self
            .chunks
            .get(first)
            .map_or(&[][..], |c| &c[offset.min(c.len())..]);
        let rest = self.chunks.get(first + 1..).unwrap_or_default();
        head.iter().chain(rest.iter().flatten()).take(end - start)
    }
}

impl<T: Copy> From<Vec<T>> for ChunkedVec<T> {
    fn from(values: Vec<T>) -> Self {
        let chunks = values.chunks(CHUNK).map(|c| {
            let mut chunk = Vec::with_capacity(CHUNK);
            chunk.extend_from_slice(c);
            chunk
        });
        ChunkedVec {
            chunks: chunks.collect(),
            forgotten: 0,
        }
    }
}

impl<T: Copy> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        let mut v = ChunkedVec::new();
        values.into_iter().for_each(|x| v.push(x));
        v
    }
}

impl<T: Copy> Index<usize> for ChunkedVec<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        &self.chunks[index / CHUNK][index % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_gets_and_ranges_match_a_vec_across_chunk_boundaries() {
        let n = 3 * CHUNK + 5;
        let plain: Vec<u64> = (0..n as u64).map(|i| i * 7 + 1).collect();
        let mut pushed = ChunkedVec::new();
        for &v in &plain {
            pushed.push(v);
        }
        let converted = ChunkedVec::from(plain.clone());
        for c in [&pushed, &converted] {
            assert_eq!(c.len(), n);
            assert_eq!(c.last(), plain.last());
            assert_eq!(c.get(n), None);
            for i in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, n - 1] {
                assert_eq!(c[i], plain[i]);
                assert_eq!(c.get(i), Some(&plain[i]));
            }
            for r in [0..0, 0..n, CHUNK - 2..CHUNK + 3, n - 3..n + 10, n + 5..n + 9] {
                let want: Vec<u64> = plain
                    .get(r.start.min(n)..r.end.min(n))
                    .unwrap_or_default()
                    .to_vec();
                assert_eq!(c.range(r.clone()).copied().collect::<Vec<_>>(), want, "{r:?}");
            }
            assert_eq!(c.range(0..usize::MAX).copied().collect::<Vec<_>>(), plain);
        }
        // Cutting back and reading in give the same elements as a vector does.
        for at in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, n, n + 3] {
            let mut cut = ChunkedVec::from(plain.clone());
            let tail = cut.split_off(at);
            assert_eq!(tail, plain[at.min(n)..], "split at {at}");
            assert_eq!(cut.len(), at.min(n));
            assert_eq!(cut.range(0..n).copied().collect::<Vec<_>>(), plain[..at.min(n)]);
            cut.push(1);
            assert_eq!((cut.len(), cut.last()), (at.min(n) + 1, Some(&1)));
        }
        let mut next = plain.iter().copied();
        let read = ChunkedVec::try_fill(n, 0, |chunk: &mut [u64]| {
            chunk
                .iter_mut()
                .for_each(|v| *v = next.next().unwrap_or_default());
            Ok::<(), ()>(())
        });
        assert_eq!(
            read.map(|r| r.range(0..n).copied().collect::<Vec<_>>()),
            Ok(plain.clone())
        );
        // Pushing after a conversion continues in the last chunk.
        let mut grown = ChunkedVec::from(plain.clone());
        grown.push(9);
        assert_eq!((grown.len(), grown[n]), (n + 1, 9));
    }
}
