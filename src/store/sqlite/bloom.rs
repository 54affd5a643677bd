//! A growable Bloom filter over the contacts already merged into
//! `lead_contacts`. Most new leads come from people never seen before; the
//! filter answers "certainly not there" from memory for them, so the writer
//! runs the index probe only for contacts that may have an earlier lead.
//! False positives only cost a probe; there are no false negatives.
//!
//! It grows by adding a filter twice the size of the last one when that one
//! is full (a scalable Bloom filter), at about 1.2 bytes per contact. The
//! contact index keeps one for all contacts and one per bucket of leads;
//! they share a hash function so a contact is hashed once per look-up.

use std::hash::{BuildHasher, Hash};

/// Contacts the first filter holds; each next one holds twice as many.
const FIRST_CAPACITY: usize = 1 << 16;
const BITS_PER_ITEM: usize = 10;
const HASHES: u64 = 7;

struct Filter {
    bits: Vec<u64>,
    capacity: usize,
    items: usize,
}

impl Filter {
    fn new(capacity: usize) -> Filter {
        let words = (capacity * BITS_PER_ITEM).div_ceil(64).max(1);
        Filter {
            bits: vec![0; words],
            capacity,
            items: 0,
        }
    }

    fn positions(&self, hash: u64) -> impl Iterator<Item = usize> {
        // Kirsch–Mitzenmacher: k positions from two halves of one hash.
        let total = self.bits.len() as u64 * 64;
        let (low, high) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        (0..HASHES).map(move |i| (low.wrapping_add(i.wrapping_mul(high)) % total) as usize)
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

pub(super) struct Bloom {
    filters: Vec<Filter>,
    hasher: std::collections::hash_map::RandomState,
}

/// An item's hash, good for every filter made `sized_like` the one that
/// computed it.
#[derive(Clone, Copy)]
pub(super) struct ItemHash(u64);

impl Default for Bloom {
    fn default() -> Self {
        Bloom {
            filters: vec![Filter::new(FIRST_CAPACITY)],
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl Bloom {
    /// An empty filter whose first part holds `capacity` items, hashing as
    /// `like` does.
    pub fn sized_like(like: &Bloom, capacity: usize) -> Bloom {
        Bloom {
            filters: vec![Filter::new(capacity.max(1))],
            hasher: like.hasher.clone(),
        }
    }

    pub fn hash(&self, item: &impl Hash) -> ItemHash {
        ItemHash(self.hasher.hash_one(item))
    }

    #[cfg(test)]
    pub fn insert(&mut self, item: &impl Hash) {
        self.insert_hash(self.hash(item));
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

    #[cfg(test)]
    pub fn may_contain(&self, item: &impl Hash) -> bool {
        self.may_contain_hash(self.hash(item))
    }

    pub fn may_contain_hash(&self, ItemHash(hash): ItemHash) -> bool {
        self.filters.iter().any(|filter| filter.may_contain(hash))
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
        assert!(bloom.filters.len() > 1, "it grew");
        for n in 0..inserted {
            assert!(bloom.may_contain(&("phone", format!("+7900{n:07}"))));
        }
        let false_positives = (0..100_000)
            .filter(|n| bloom.may_contain(&("email", format!("{n}@example.ru"))))
            .count();
        assert!(false_positives < 5_000, "{false_positives} false positives");
    }

    #[test]
    fn a_filter_sized_like_another_answers_for_the_same_hash() {
        let all = Bloom::default();
        let mut small = Bloom::sized_like(&all, 100);
        for n in 0..1_000 {
            small.insert_hash(all.hash(&("phone", format!("+7900{n:07}"))));
        }
        assert!(small.filters.len() > 1, "it grew");
        for n in 0..1_000 {
            assert!(small.may_contain(&("phone", format!("+7900{n:07}"))));
        }
    }
}
