//! The per-bucket Bloom filters of the contact index, kept bit-sliced.
//!
//! A repeat contact looks for the newest bucket of `lead_contacts` that
//! holds it. With one filter per bucket that meant asking every bucket's
//! filter since the contact's last lead, about two cache misses each, and
//! the buckets grow with the store (one per 16 384 leads): a person coming
//! back after ten million leads would cost over a thousand misses on the
//! single writer. Sealed buckets keep their filters bit-sliced instead: bit
//! `i` of 64 buckets' filters shares one word, so a look-up reads seven
//! words per 64 buckets and learns at once which of them may hold it.
//!
//! The buckets still filling (merges write into the newest) keep a filter of
//! their own, which stays in cache while merges add to it; a sliced insert
//! would cost seven misses per contact. A bucket is sealed, its filter
//! copied into its column, once two newer buckets have filters. A contact
//! that reaches a sealed bucket later (an update of an old lead) sets that
//! column's bits: rare next to the 32 768 contacts a filter is sized for,
//! and a filter of its own per updated bucket would cost 40 KB each. What a
//! bucket held past its filter's capacity when it was sealed stays in the
//! filters it grew into. False positives only cost a probe; there are no
//! false negatives.

use std::collections::{BTreeMap, HashMap};

use super::bloom::{first_filter_bits, positions, Growing, ItemHash};
use super::buckets::BUCKET_CONTACTS;

/// Buckets whose bits share a word.
const COLUMNS_PER_BLOCK: usize = 64;
/// Buckets with a filter of their own; older ones are sealed.
const FILLING_BUCKETS: usize = 2;

pub(super) struct BucketFilters {
    /// Contacts each bucket's first filter is sized for.
    capacity: usize,
    /// Bits in that filter.
    bits: usize,
    /// The newest buckets, each with its own filter.
    filling: BTreeMap<i64, Growing>,
    /// Per 64 sealed buckets, word `i` holds bit `i` of each one's filter.
    blocks: Vec<Vec<u64>>,
    /// The bucket in each column, in the order they were sealed (ids may be
    /// sparse, so columns are not bucket numbers).
    sealed: Vec<i64>,
    column_of: HashMap<i64, usize>,
    /// What a sealed column held beyond its sliced filter's capacity.
    overflow: HashMap<usize, Growing>,
}

impl Default for BucketFilters {
    fn default() -> Self {
        BucketFilters::new(BUCKET_CONTACTS)
    }
}

impl BucketFilters {
    pub fn new(capacity: usize) -> BucketFilters {
        BucketFilters {
            capacity,
            bits: first_filter_bits(capacity),
            filling: BTreeMap::new(),
            blocks: Vec::new(),
            sealed: Vec::new(),
            column_of: HashMap::new(),
            overflow: HashMap::new(),
        }
    }

    /// Notes that `bucket` holds the item with `hash`.
    pub fn insert(&mut self, bucket: i64, hash: ItemHash) {
        let capacity = self.capacity;
        if let Some(&column) = self.column_of.get(&bucket) {
            let bit = 1u64 << (column % COLUMNS_PER_BLOCK);
            if let Some(block) = self.blocks.get_mut(column / COLUMNS_PER_BLOCK) {
                for position in positions(hash, self.bits) {
                    if let Some(row) = block.get_mut(position) {
                        *row |= bit;
                    }
                }
            }
            return;
        }
        self.filling
            .entry(bucket)
            .or_insert_with(|| Growing::with_capacity(capacity))
            .insert_hash(hash);
        while self.filling.len() > FILLING_BUCKETS {
            let Some((oldest, filter)) = self.filling.pop_first() else {
                break;
            };
            self.seal(oldest, filter);
        }
    }

    /// Appends every bucket that may hold the item with `hash` to `found`,
    /// in no particular order and possibly more than once.
    pub fn may_hold(&self, hash: ItemHash, found: &mut Vec<i64>) {
        for (&bucket, filter) in &self.filling {
            if filter.may_contain_hash(hash) {
                found.push(bucket);
            }
        }
        for (index, block) in self.blocks.iter().enumerate() {
            let mut columns = u64::MAX;
            for position in positions(hash, self.bits) {
                columns &= block.get(position).copied().unwrap_or(0);
                if columns == 0 {
                    break;
                }
            }
            while columns != 0 {
                let offset = columns.trailing_zeros() as usize;
                columns &= columns - 1;
                if let Some(&bucket) = self.sealed.get(index * COLUMNS_PER_BLOCK + offset) {
                    found.push(bucket);
                }
            }
        }
        for (&column, filter) in &self.overflow {
            if filter.may_contain_hash(hash) {
                if let Some(&bucket) = self.sealed.get(column) {
                    found.push(bucket);
                }
            }
        }
    }

    /// Copies `filter` into a new column for `bucket`.
    fn seal(&mut self, bucket: i64, filter: Growing) {
        let column = self.sealed.len();
        if column.is_multiple_of(COLUMNS_PER_BLOCK) {
            self.blocks.push(vec![0; self.bits]);
        }
        self.sealed.push(bucket);
        self.column_of.insert(bucket, column);
        let (first, grown) = filter.split_first();
        let bit = 1u64 << (column % COLUMNS_PER_BLOCK);
        if let Some(block) = self.blocks.last_mut() {
            for (index, &word) in first.iter().enumerate() {
                let mut set = word;
                while set != 0 {
                    let offset = set.trailing_zeros() as usize;
                    set &= set - 1;
                    if let Some(row) = block.get_mut(index * 64 + offset) {
                        *row |= bit;
                    }
                }
            }
        }
        if let Some(grown) = grown {
            self.overflow.insert(column, grown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BucketFilters, FILLING_BUCKETS};
    use crate::store::sqlite::bloom::{Bloom, ItemHash};

    fn held(filters: &BucketFilters, hash: ItemHash) -> Vec<i64> {
        let mut found = Vec::new();
        filters.may_hold(hash, &mut found);
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Every item is found in its own bucket, sealed (across more than one
    /// block of 64, with sparse bucket numbers) or still filling; other
    /// buckets rarely answer.
    #[test]
    fn items_are_found_in_their_buckets_and_rarely_elsewhere() {
        let hasher = Bloom::default();
        let mut filters = BucketFilters::new(200);
        let bucket_of = |n: i64| {
            if n < 15_000 {
                n / 100
            } else {
                1_000_000 + n / 100
            }
        };
        for n in 0..30_000i64 {
            filters.insert(bucket_of(n), hasher.hash(&("phone", n)));
        }
        assert!(filters.blocks.len() > 1, "{} blocks", filters.blocks.len());
        assert_eq!(filters.filling.len(), FILLING_BUCKETS);
        let mut elsewhere = 0;
        for n in 0..30_000i64 {
            let found = held(&filters, hasher.hash(&("phone", n)));
            assert!(found.contains(&bucket_of(n)), "{n} not in {found:?}");
            elsewhere += found.len() - 1;
        }
        // 300 buckets filled to half their capacity: about 0.02% false
        // positives each, ~0.06 per look-up, ~1 800 in all.
        assert!(elsewhere < 7_500, "{elsewhere} false positives");
        let never_inserted = held(&filters, hasher.hash(&("email", 7)));
        assert!(never_inserted.len() < 3, "{never_inserted:?}");
    }

    /// A bucket past its capacity, and a sealed bucket that gets more
    /// later, still find everything they were given.
    #[test]
    fn overfull_and_late_items_are_found() {
        let hasher = Bloom::default();
        let mut filters = BucketFilters::new(10);
        for n in 0..1_000 {
            filters.insert(5, hasher.hash(&n));
        }
        for bucket in 6..10 {
            filters.insert(bucket, hasher.hash(&("other", bucket)));
        }
        assert!(filters.column_of.contains_key(&5), "bucket 5 is sealed");
        filters.insert(5, hasher.hash(&"late"));
        for n in 0..1_000 {
            assert!(held(&filters, hasher.hash(&n)).contains(&5), "{n}");
        }
        assert!(held(&filters, hasher.hash(&"late")).contains(&5));
        for bucket in 6..10 {
            assert!(held(&filters, hasher.hash(&("other", bucket))).contains(&bucket));
        }
    }

    #[test]
    fn nothing_is_held_before_anything_is_inserted() {
        let hasher = Bloom::default();
        let filters = BucketFilters::new(10);
        assert!(held(&filters, hasher.hash(&1)).is_empty());
    }
}
