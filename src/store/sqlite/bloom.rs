//! A growable Bloom filter over the contacts already merged into
//! `lead_contacts`. Most new leads come from people never seen before; the
//! filter answers "certainly not there" from memory for them, so the writer
//! runs the index probe only for contacts that may have an earlier lead.
//! False positives only cost a probe; there are no false negatives.
//!
//! It grows by adding a filter twice the size of the last one when that one
//! is full (a scalable Bloom filter), at about 1.2 bytes per contact. The
//! contact index keeps one for all contacts and one per bucket of leads;
//! they share a hash function so a contact is hashed once per look-up. The
//! per-bucket filters are kept bit-sliced (`bucket_filters.rs`) and use the
//! same bit positions.

use std::hash::{BuildHasher, Hash};

/// Contacts the first filter holds; each next one holds twice as many.
const FIRST_CAPACITY: usize = 1 << 16;
const BITS_PER_ITEM: usize = 10;
const HASHES: u64 = 7;

/// The bits an item with `hash` sets in a filter of `total` bits.
pub(super) fn positions(ItemHash(hash): ItemHash, total: usize) -> impl Iterator<Item = usize> {
    // Kirsch–Mitzenmacher: k positions from two halves of one hash.
    let total = total.max(1) as u64;
    let (low, high) = (hash & 0xffff_ffff, (hash >> 32) | 1);
    (0..HASHES).map(move |i| (low.wrapping_add(i.wrapping_mul(high)) % total) as usize)
}

struct Filter {
    bits: Vec<u64>,
    capacity: usize,
    items: usize,
}

impl Filter {
    fn new(capacity: usize) -> Filter {
        Filter {
            bits: vec![0; first_filter_bits(capacity) / 64],
            capacity,
            items: 0,
        }
    }

    fn positions(&self, hash: u64) -> impl Iterator<Item = usize> {
        positions(ItemHash(hash), self.bits.len() * 64)
    }

    fn insert(&mut self, hash: u64) {
        let positions: Vec<usize> = self.positions(hash).collect();
        for position in positions {
            self.bits[position / 64] |= 1 << (position % 64);
        }
        self.items += 1;
    }

    fn may_contain(&self, hash: u64) -> bool {
        self.positions(hash)
            .all(|position| self.bits[position / 64] & (1 << (position % 64)) != 0)
    }
}

/// Filters of doubling size for hashes made elsewhere: a scalable Bloom
/// filter without a hash function of its own.
pub(super) struct Growing {
    filters: Vec<Filter>,
}

impl Growing {
    /// Empty; the first filter holds `capacity` items.
    pub fn with_capacity(capacity: usize) -> Growing {
        Growing {
            filters: vec![Filter::new(capacity.max(1))],
        }
    }

    pub fn insert_hash(&mut self, ItemHash(hash): ItemHash) {
        let full = self
            .filters
            .last()
            .is_none_or(|filter| filter.items >= filter.capacity);
        if full {
            let capacity = self
                .filters
                .last()
                .map_or(FIRST_CAPACITY, |filter| filter.capacity * 2);
            self.filters.push(Filter::new(capacity));
        }
        if let Some(filter) = self.filters.last_mut() {
            filter.insert(hash);
        }
    }

    pub fn may_contain_hash(&self, ItemHash(hash): ItemHash) -> bool {
        // Newest first: a contact seen again was most likely seen lately,
        // and the newest filter then answers alone.
        self.filters
            .iter()
            .rev()
            .any(|filter| filter.may_contain(hash))
    }

    /// The first filter's bits (bit `i` of the filter is bit `i % 64` of
    /// word `i / 64`), and the filters it grew into, if any.
    pub fn split_first(mut self) -> (Vec<u64>, Option<Growing>) {
        if self.filters.is_empty() {
            return (Vec::new(), None);
        }
        let first = self.filters.remove(0);
        (first.bits, (!self.filters.is_empty()).then_some(self))
    }
}

/// Bits in the first filter of `Growing::with_capacity(capacity)`.
pub(super) fn first_filter_bits(capacity: usize) -> usize {
    (capacity.max(1) * BITS_PER_ITEM).div_ceil(64).max(1) * 64
}

pub(super) struct Bloom {
    filters: Growing,
    hasher: std::collections::hash_map::RandomState,
}

/// An item's hash, good for every filter fed with the hashes of the
/// `Bloom` that computed it.
#[derive(Clone, Copy)]
pub(super) struct ItemHash(u64);

impl Default for Bloom {
    fn default() -> Self {
        Bloom {
            filters: Growing::with_capacity(FIRST_CAPACITY),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl Bloom {
    pub fn hash(&self, item: &impl Hash) -> ItemHash {
        ItemHash(self.hasher.hash_one(item))
    }

    #[cfg(test)]
    pub fn insert(&mut self, item: &impl Hash) {
        self.insert_hash(self.hash(item));
    }

    pub fn insert_hash(&mut self, hash: ItemHash) {
        self.filters.insert_hash(hash);
    }

    #[cfg(test)]
    pub fn may_contain(&self, item: &impl Hash) -> bool {
        self.may_contain_hash(self.hash(item))
    }

    pub fn may_contain_hash(&self, hash: ItemHash) -> bool {
        self.filters.may_contain_hash(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives_while_growing() {
        let mut bloom = Bloom::default();
        let inserted = 200_000;
        for n in 0..inserted {
            bloom.insert(&("phone", format!("+7900{n:07}")));
        }
        assert!(bloom.filters.filters.len() > 1, "it grew");
        for n in 0..inserted {
            assert!(bloom.may_contain(&("phone", format!("+7900{n:07}"))));
        }
        let false_positives = (0..100_000)
            .filter(|n| bloom.may_contain(&("email", format!("{n}@example.ru"))))
            .count();
        assert!(false_positives < 5_000, "{false_positives} false positives");
    }

    #[test]
    fn growing_filters_answer_for_another_filters_hashes() {
        let all = Bloom::default();
        let mut small = Growing::with_capacity(100);
        for n in 0..1_000 {
            small.insert_hash(all.hash(&("phone", format!("+7900{n:07}"))));
        }
        assert!(small.filters.len() > 1, "it grew");
        for n in 0..1_000 {
            assert!(small.may_contain_hash(all.hash(&("phone", format!("+7900{n:07}")))));
        }
    }
}
