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
