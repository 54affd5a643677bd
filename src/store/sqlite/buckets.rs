//! Buckets of lead ids: the first key of `lead_contacts`, so a contact
//! merge writes into the newest bucket's pages only (contacts.rs), and the
//! unit of the per-bucket filters (bucket_filters.rs). Reads name every
//! bucket to seek a contact in each (read.rs).

use crate::lead::LeadId;

/// Leads per bucket of `lead_contacts`, as a shift of the lead id. Small
/// enough that a merge's rows share pages (a bucket's contacts fill a few
/// hundred), large enough that a million leads make only 61 filters to ask.
/// Migration 6 computes the same bucket in SQL (`lead_id >> 14`): a change
/// here needs a migration that re-buckets the table.
const BUCKET_SHIFT: u32 = 14;
/// Contacts a bucket's filter holds before it grows: two per lead.
pub(super) const BUCKET_CONTACTS: usize = 2 << BUCKET_SHIFT;

/// The bucket of `lead_contacts` that holds lead `id`'s rows.
pub(super) fn bucket_of(id: LeadId) -> i64 {
    id >> BUCKET_SHIFT
}
