//! What the writer tasks and the batch statements share: an insert as
//! queued, the contacts a lead is found by, and the look-up by origin.
//! Below both, so neither imports the other's internals.

use deadpool_postgres::Transaction;
use tokio::sync::oneshot;

use super::database;
use super::read::read_lead;
use crate::lead::{Lead, LeadId};
use crate::store::{Assignment, Inserted, StoreError};

/// One insert waiting for a writer.
pub(super) struct InsertOp {
    /// Drawn from the sequence before the batch is written.
    pub(super) id: LeadId,
    pub(super) lead: Box<Lead>,
    pub(super) assignment: Assignment,
    pub(super) forward_to: Vec<String>,
    pub(super) reply: oneshot::Sender<Result<Inserted, StoreError>>,
}

/// The normalised phones and e-mails a lead is found by.
pub(super) fn contact_keys(lead: &Lead) -> Vec<(&'static str, String)> {
    let phones = lead.phones.iter().map(|point| ("phone", point));
    let emails = lead.emails.iter().map(|point| ("email", point));
    phones
        .chain(emails)
        .filter(|(_, point)| !point.normalized.is_empty())
        .map(|(kind, point)| (kind, point.normalized.clone()))
        .collect()
}

/// Takes the advisory locks of `contact_lock_keys`, in key order.
pub(super) const LOCK_CONTACTS: &str =
    "SELECT pg_advisory_xact_lock(key) FROM unnest($1::bigint[]) AS key ORDER BY key";

/// The contact locks a group of inserts takes: inserts that look up an
/// earlier lead by contact hold that contact's lock until the commit, so
/// two leads from one person never both miss each other, in this process
/// or another. Sorted, so two batches taking them never wait on each other
/// in a circle.
pub(super) fn contact_lock_keys<'a>(ops: impl Iterator<Item = &'a InsertOp>) -> Vec<i64> {
    let mut keys: Vec<i64> = ops
        .filter(|op| op.assignment.by_earlier_contact && op.lead.assigned_to.is_none())
        .flat_map(|op| contact_keys(&op.lead))
        .map(|(kind, value)| contact_lock_key(kind, &value))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A contact's advisory lock: a stable 64-bit hash (FNV-1a) of kind and
/// value, the same in every replica and every release.
fn contact_lock_key(kind: &str, value: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in kind.bytes().chain([0]).chain(value.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// The stored lead with this origin, if any.
pub(super) async fn by_origin(
    tx: &Transaction<'_>,
    system: &str,
    external_id: &str,
) -> Result<Option<Lead>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT id, doc FROM leads WHERE origin_system = $1 AND origin_external_id = $2",
            &[&system, &external_id],
        )
        .await
        .map_err(database)?;
    Ok(row.map(|row| read_lead(row.get(0), row.get(1))))
}
