//! The index behind "assign to whoever had this phone or e-mail before".
//!
//! `lead_contacts` holds one row per normalised phone and e-mail of every
//! stored lead, keyed `(kind, value, lead_id)`. Rows are written in the
//! lead's own transaction, so a look-up made while inserting a later lead
//! sees every committed lead and the earlier leads of its own batch, and a
//! crash can never leave the index behind the leads. Updates swap a lead's
//! rows along with its document; deletes remove them by key (a probe per
//! contact point, no scan).

use rusqlite::{params, Transaction};

use crate::lead::{EmployeeId, Lead, LeadId};
use crate::store::StoreError;

/// A lead's contact points as the table keys them: `("phone" | "email",
/// normalised value)`. Points that normalise to nothing are not indexed.
fn keys(lead: &Lead) -> impl Iterator<Item = (&'static str, &str)> + '_ {
    let phones = lead.phones.iter().map(|point| ("phone", point));
    let emails = lead.emails.iter().map(|point| ("email", point));
    phones
        .chain(emails)
        .filter(|(_, point)| !point.normalized.is_empty())
        .map(|(kind, point)| (kind, point.normalized.as_str()))
}

/// Writes the rows of a lead that has its id, inside its transaction.
pub(super) fn insert_rows(tx: &Transaction<'_>, lead: &Lead) -> Result<(), StoreError> {
    let Some(id) = lead.id else {
        return Ok(());
    };
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO lead_contacts (kind, value, lead_id) VALUES (?1, ?2, ?3)",
    )?;
    for (kind, value) in keys(lead) {
        insert.execute(params![kind, value, id])?;
    }
    Ok(())
}

/// Removes the rows of `lead` as it is stored, by key.
pub(super) fn delete_rows(tx: &Transaction<'_>, lead: &Lead) -> Result<(), StoreError> {
    let Some(id) = lead.id else {
        return Ok(());
    };
    let mut delete = tx.prepare_cached(
        "DELETE FROM lead_contacts WHERE kind = ?1 AND value = ?2 AND lead_id = ?3",
    )?;
    for (kind, value) in keys(lead) {
        delete.execute(params![kind, value, id])?;
    }
    Ok(())
}

/// The assignee of the most recent stored lead that shares one of `lead`'s
/// contact points and is assigned to one of the `eligible` employees.
pub(super) fn latest_assignee(
    tx: &Transaction<'_>,
    lead: &Lead,
    eligible: &[EmployeeId],
) -> Result<Option<EmployeeId>, StoreError> {
    // Newest first along the key; the join skips rows a lead whose document
    // no longer parsed may have left behind when it was deleted.
    let mut newest_first = tx.prepare_cached(
        "SELECT c.lead_id, l.assigned_to FROM lead_contacts c JOIN leads l ON l.id = c.lead_id
         WHERE c.kind = ?1 AND c.value = ?2 AND l.assigned_to IS NOT NULL
         ORDER BY c.lead_id DESC",
    )?;
    let mut best: Option<(LeadId, EmployeeId)> = None;
    for (kind, value) in keys(lead) {
        let mut rows = newest_first.query(params![kind, value])?;
        while let Some(row) = rows.next()? {
            let lead_id: LeadId = row.get(0)?;
            if best.is_some_and(|(newest, _)| newest >= lead_id) {
                break;
            }
            let assignee: EmployeeId = row.get(1)?;
            if eligible.contains(&assignee) {
                best = Some((lead_id, assignee));
                break;
            }
        }
    }
    Ok(best.map(|(_, assignee)| assignee))
}
