//! Incremental blake3: the hash of a byte stream that changes a little between updates, at a
//! cost that follows the bytes that changed rather than the stream's length.
//!
//! blake3 is itself a tree: 1 KiB chunks are hashed into chaining values, which parent nodes
//! merge pairwise up to the root, every left subtree a power of two chunks. [`HashTree`] cuts
//! the stream into leaves of [`LEAF_LEN`] bytes (16 chunks, a complete subtree), keeps each
//! leaf's chaining value and a copy of the bytes it was taken over, and on each update rehashes
//! only the leaves whose bytes differ, then merges the leaf values into the root with
//! `blake3::hazmat`. The result is exactly `blake3::hash` of the whole stream (tests compare
//! the two on random edits), so nothing about the hash depends on how the stream was reached.
//!
//! Finding what changed costs a comparison of the stream with the copy, which runs at memory
//! speed; the rehashing, which costs about ten times more per byte, is done only where needed.
//!
//! When nearly every leaf changes from one update to the next (a crowd that all moves), the
//! comparison and copy are pure overhead, so the tree switches to hashing the whole stream
//! directly, and every [`PROBE_INTERVAL`] updates probes with two incremental updates whether
//! the change has become small again. Either way the result is the same hash.

use blake3::hazmat::{
    merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};

/// Bytes per leaf: 16 blake3 chunks, enough for the SIMD hasher to work in full width.
pub const LEAF_LEN: usize = 16 * blake3::CHUNK_LEN;

/// Updates between probes while nearly everything changes at every update.
pub const PROBE_INTERVAL: u32 = 16;

/// The last stream hashed, cut into leaves, with each leaf's chaining value.
#[derive(Default)]
pub struct HashTree {
    /// Updates left to hash directly before probing again; 0 while incremental.
    direct: u32,
    /// The bytes of the last update.
    shadow: Vec<u8>,
    /// Chaining value of each leaf of `shadow`; empty when it fit in one leaf (a single leaf
    /// is hashed as the root directly, so it has no chaining value to keep).
    leaves: Vec<ChainingValue>,
    /// Leaves the last update hashed.
    rehashed: usize,
}

impl HashTree {
    /// An empty tree; the first update hashes everything.
    pub fn new() -> HashTree {
        HashTree::default()
    }

    /// The blake3 hash of the concatenation of `parts`. Rehashes only the leaves whose bytes
    /// differ from the last update's.
    pub fn update(&mut self, parts: &[&[u8]]) -> blake3::Hash {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        // Hashing directly leaves the copy stale, so the last direct update before a probe is
        // incremental (it refreshes every leaf) and the probe after it sees one update's change.
        if self.direct > 1 {
            self.direct -= 1;
            self.rehashed = total.div_ceil(LEAF_LEN).max(1);
            let mut hasher = blake3::Hasher::new();
            for part in parts {
                hasher.update(part);
            }
            return hasher.finalize();
        }
        // The update after a direct run only refreshes the stale copy: its changes say nothing.
        let refreshing = self.direct == 1;
        self.direct = 0;
        let old_len = self.shadow.len();
        let old_leaves = self.leaves.len();
        self.shadow.resize(total, 0);
        if total <= LEAF_LEN {
            for (at, bytes) in Pieces::new(parts, 0..total) {
                self.shadow[at..at + bytes.len()].copy_from_slice(bytes);
            }
            self.leaves.clear();
            self.rehashed = 1;
            return blake3::hash(&self.shadow);
        }
        let count = total.div_ceil(LEAF_LEN);
        self.leaves.resize(count, [0; 32]);
        self.rehashed = 0;
        let mut differed = 0;
        for leaf in 0..count {
            let start = leaf * LEAF_LEN;
            let end = (start + LEAF_LEN).min(total);
            // A leaf can be kept only if it had the same bounds last time.
            let mut same = leaf < old_leaves && (start + LEAF_LEN).min(old_len) == end;
            if same {
                same = Pieces::new(parts, start..end)
                    .all(|(at, bytes)| self.shadow[at..at + bytes.len()] == *bytes);
                differed += usize::from(!same);
            }
            if same {
                continue;
            }
            for (at, bytes) in Pieces::new(parts, start..end) {
                self.shadow[at..at + bytes.len()].copy_from_slice(bytes);
            }
            self.leaves[leaf] = blake3::Hasher::new()
                .set_input_offset(start as u64)
                .update(&self.shadow[start..end])
                .finalize_non_root();
            self.rehashed += 1;
        }
        // Nine leaves in ten changed: comparing and copying buys nothing for a while.
        if !refreshing && differed * 10 >= count * 9 {
            self.direct = PROBE_INTERVAL;
        }
        let split = left_leaves(count);
        let left = subtree(&self.leaves[..split]);
        let right = subtree(&self.leaves[split..]);
        merge_subtrees_root(&left, &right, Mode::Hash)
    }

    /// How many leaves the last update hashed: all of them at first, then those that changed.
    pub fn rehashed_leaves(&self) -> usize {
        self.rehashed
    }

    /// Leaves of the last update.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len().max(usize::from(!self.shadow.is_empty()))
    }
}

/// Leaves in the left subtree of a tree of `count > 1` leaves: blake3 puts the largest power of
/// two chunks strictly below the total on the left, and since leaves are a power of two chunks
/// and only the last may be short, that is the largest power of two leaves below `count`.
fn left_leaves(count: usize) -> usize {
    debug_assert!(count > 1);
    let below = count - 1;
    1 << (usize::BITS - 1 - below.leading_zeros())
}

/// The non-root chaining value of a complete-left subtree of leaves.
fn subtree(leaves: &[ChainingValue]) -> ChainingValue {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let split = left_leaves(leaves.len());
    merge_subtrees_non_root(
        &subtree(&leaves[..split]),
        &subtree(&leaves[split..]),
        Mode::Hash,
    )
}

/// The pieces of `parts` that fall in a byte range of their concatenation, with the offset
/// where each piece starts.
struct Pieces<'p, 'a> {
    parts: std::slice::Iter<'p, &'a [u8]>,
    /// Offset of the next part's first byte.
    at: usize,
    range: std::ops::Range<usize>,
}

impl<'p, 'a> Pieces<'p, 'a> {
    fn new(parts: &'p [&'a [u8]], range: std::ops::Range<usize>) -> Self {
        Pieces {
            parts: parts.iter(),
            at: 0,
            range,
        }
    }
}

impl<'a> Iterator for Pieces<'_, 'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        for part in self.parts.by_ref() {
            let (start, end) = (self.at, self.at + part.len());
            self.at = end;
            let (lo, hi) = (start.max(self.range.start), end.min(self.range.end));
            if lo < hi {
                return Some((lo, &part[lo - start..hi - start]));
            }
            if start >= self.range.end {
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn refs(parts: &[Vec<u8>]) -> Vec<&[u8]> {
        parts.iter().map(|p| p.as_slice()).collect()
    }

    #[test]
    fn left_subtrees_match_blake3s_rule() {
        for count in 2..300usize {
            // Every byte length whose leaves number `count`, at its two extremes.
            for total in [(count - 1) * LEAF_LEN + 1, count * LEAF_LEN] {
                let bytes = blake3::hazmat::left_subtree_len(total as u64) as usize;
                assert_eq!(
                    bytes,
                    left_leaves(count) * LEAF_LEN,
                    "{count} leaves, {total} bytes"
                );
            }
        }
    }

    /// Random edits, growths and cuts of a stream in several parts: every update equals
    /// `blake3::hash` of the whole, and only changed leaves are rehashed. Seeded;
    /// `HASHTREE_SEED` overrides the seed.
    #[test]
    fn every_update_equals_the_full_hash() {
        let seed: u64 = std::env::var("HASHTREE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed);
        let mut rng = oorandom::Rand64::new(u128::from(seed));
        let mut tree = HashTree::new();
        let mut parts: Vec<Vec<u8>> = vec![
            b"HEADER".to_vec(),
            vec![7; 100_000],
            vec![1, 2, 3, 4],
            vec![9; 20_000],
        ];
        for round in 0..300 {
            let which = rng.rand_range(0..parts.len() as u64) as usize;
            match rng.rand_range(0..10) {
                // Grow or shrink a part, sometimes across the one-leaf threshold.
                0 => {
                    let len = rng.rand_range(0..200_000) as usize;
                    parts[which].resize(len, round as u8);
                }
                1 => {
                    let len = parts[which].len();
                    parts[which].truncate(len.saturating_sub(rng.rand_range(0..100) as usize));
                }
                // Edit a few bytes.
                _ => {
                    for _ in 0..rng.rand_range(0..4) {
                        let len = parts[which].len();
                        if len > 0 {
                            let at = rng.rand_range(0..len as u64) as usize;
                            parts[which][at] = parts[which][at].wrapping_add(1);
                        }
                    }
                }
            }
            let before = tree.leaves.clone();
            let hash = tree.update(&refs(&parts));
            let whole = concat(&parts);
            assert_eq!(
                hash,
                blake3::hash(&whole),
                "seed {seed}, round {round}, {} bytes",
                whole.len()
            );
            let changed = if tree.leaves.is_empty() {
                1
            } else {
                tree.leaves
                    .iter()
                    .enumerate()
                    .filter(|&(i, cv)| before.get(i) != Some(cv))
                    .count()
            };
            assert!(
                tree.rehashed_leaves() >= changed,
                "seed {seed}, round {round}: rehashed {} of {changed} changed leaves",
                tree.rehashed_leaves()
            );
        }
    }

    #[test]
    fn an_unchanged_stream_rehashes_nothing_and_one_byte_one_leaf() {
        let mut parts = vec![
            vec![1u8; 50],
            (0..1_000_000).map(|i| (i % 251) as u8).collect(),
        ];
        let mut tree = HashTree::new();
        tree.update(&refs(&parts));
        assert_eq!(tree.rehashed_leaves(), 1_000_050usize.div_ceil(LEAF_LEN));
        assert_eq!(tree.update(&refs(&parts)), blake3::hash(&concat(&parts)));
        assert_eq!(tree.rehashed_leaves(), 0);
        parts[1][500_000] = 3;
        assert_eq!(tree.update(&refs(&parts)), blake3::hash(&concat(&parts)));
        assert_eq!(tree.rehashed_leaves(), 1);
        // Growing the first part shifts every later byte: everything is rehashed.
        parts[0].push(0);
        assert_eq!(tree.update(&refs(&parts)), blake3::hash(&concat(&parts)));
        assert_eq!(tree.rehashed_leaves(), tree.leaf_count());
    }

    /// A stream that changes everywhere for a while is hashed directly, and once it settles the
    /// next probe finds that out: within two probe intervals, updates rehash nothing again.
    #[test]
    fn a_burst_of_change_is_hashed_directly_then_settles() {
        let mut tree = HashTree::new();
        let mut bytes: Vec<u8> = (0..300_000).map(|i| (i % 253) as u8).collect();
        for round in 0..40u8 {
            for b in bytes.iter_mut() {
                *b = b.wrapping_add(round | 1);
            }
            assert_eq!(
                tree.update(&[&bytes]),
                blake3::hash(&bytes),
                "round {round}"
            );
        }
        assert!(tree.direct > 0, "a changing stream is hashed directly");
        let mut settled_after = None;
        for n in 0..2 * PROBE_INTERVAL {
            assert_eq!(tree.update(&[&bytes]), blake3::hash(&bytes), "still {n}");
            if tree.rehashed_leaves() == 0 {
                settled_after.get_or_insert(n);
            }
        }
        assert!(
            settled_after.is_some_and(|n| n <= PROBE_INTERVAL + 1),
            "{settled_after:?}"
        );
        assert_eq!(tree.direct, 0);
        bytes[123_456] ^= 1;
        assert_eq!(tree.update(&[&bytes]), blake3::hash(&bytes));
        assert_eq!(tree.rehashed_leaves(), 1);
    }

    #[test]
    fn small_and_boundary_lengths() {
        let mut tree = HashTree::new();
        for len in [
            0,
            1,
            1023,
            1024,
            1025,
            LEAF_LEN - 1,
            LEAF_LEN,
            LEAF_LEN + 1,
            2 * LEAF_LEN,
            3 * LEAF_LEN + 5,
            0,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (a, b) = bytes.split_at(len / 3);
            assert_eq!(tree.update(&[a, b]), blake3::hash(&bytes), "{len} bytes");
        }
    }
}
