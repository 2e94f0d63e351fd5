//! An append-only vector kept in fixed-size chunks. A push never moves what is already stored,
//! so a log of tens of millions of entries grows without the whole-array copy (and the page
//! faults of a fresh allocation twice its size) that a `Vec` pays each time it doubles: the log's
//! writer holds every disclosure back while it pushes.

use std::ops::{Index, Range};

/// Elements per chunk: 2 MiB of leaf hashes.
const CHUNK: usize = 1 << 16;

/// See the module documentation. Every chunk but the last is full.
#[derive(Debug, Clone)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec { chunks: Vec::new() }
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

    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    pub fn last(&self) -> Option<&T> {
        self.chunks.last()?.last()
    }

    /// The elements in `range` (clamped to the length), in order.
    pub fn range(&self, range: Range<usize>) -> impl Iterator<Item = &T> + '_ {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
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
        }
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
        // Pushing after a conversion continues in the last chunk.
        let mut grown = ChunkedVec::from(plain.clone());
        grown.push(9);
        assert_eq!((grown.len(), grown[n]), (n + 1, 9));
    }
}
