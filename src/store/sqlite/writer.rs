//! The single writer thread and its group commit.
//!
//! The loop blocks for one write, then takes everything else already queued
//! (up to `max_batch`) and commits it all in one transaction, so the fsync is
//! shared. Each write runs inside its own savepoint: one bad write is rolled
//! back and reported alone instead of sinking the others in its batch. If the
//! commit itself fails, every write in the batch hears the error, so nothing
//! is acknowledged that is not on disk.

use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::contacts::ContactIndex;
use super::read::{micros, read_lead};
use crate::lead::{EmployeeId, Lead};
use crate::store::{Assignment, Inserted, StoreError};

pub(super) enum WriteOp {
    Insert {
        lead: Box<Lead>,
        assignment: Assignment,
        reply: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    /// Commit what is queued, checkpoint the log and stop.
    Close {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

pub(super) fn run(
    mut conn: Connection,
    mut contacts: ContactIndex,
    mut queue: mpsc::Receiver<WriteOp>,
    max_batch: usize,
    restart_wanted: &AtomicBool,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut closing = None;
    while let Some(first) = queue.blocking_recv() {
        collect(first, &mut batch, &mut closing);
        while closing.is_none() && batch.len() < max_batch {
            match queue.try_recv() {
                Ok(op) => collect(op, &mut batch, &mut closing),
                Err(_) => break,
            }
        }
        if closing.is_some() {
            // Whatever was queued before the close still gets committed.
            queue.close();
            while let Ok(op) = queue.try_recv() {
                collect(op, &mut batch, &mut closing);
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut contacts, &mut batch);
        }
        if contacts.needs_merge() || (closing.is_some() && queue.is_empty()) {
            if let Err(error) = contacts.merge(&mut conn) {
                tracing::warn!(%error, "contact index merge failed; will retry");
            }
        }
        if restart_wanted.swap(false, Ordering::Relaxed) {
            // The checkpoint thread has copied most of the log already but
            // cannot win the write lock from this loop under sustained load;
            // finishing here, between batches, lets the log start over.
            if let Err(error) = conn.execute_batch("PRAGMA wal_checkpoint(RESTART);") {
                tracing::warn!(%error, "WAL restart checkpoint failed");
            }
        }
        if let Some(reply) = closing.take() {
            let result = conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(StoreError::from);
            let _ = reply.send(result);
            return;
        }
    }
}

struct PendingInsert {
    lead: Box<Lead>,
    assignment: Assignment,
    reply: oneshot::Sender<Result<Inserted, StoreError>>,
    /// The lead's id, assignee and stage as they arrived, to undo what a
    /// rolled-back attempt decided.
    arrived: (Option<i64>, Option<EmployeeId>, crate::lead::Stage),
}

impl PendingInsert {
    fn restore(&mut self) {
        (self.lead.id, self.lead.assigned_to, self.lead.stage) = self.arrived;
    }
}

fn collect(
    op: WriteOp,
    batch: &mut Vec<PendingInsert>,
    closing: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) {
    match op {
        WriteOp::Insert {
            lead,
            assignment,
            reply,
        } => batch.push(PendingInsert {
            arrived: (lead.id, lead.assigned_to, lead.stage),
            lead,
            assignment,
            reply,
        }),
        WriteOp::Close { reply } => {
            if let Some(previous) = closing.replace(reply) {
                let _ = previous.send(Ok(()));
            }
        }
    }
}

fn fail_all<T>(
    replies: impl Iterator<Item = oneshot::Sender<Result<T, StoreError>>>,
    error: &StoreError,
) {
    let message = error.to_string();
    for reply in replies {
        let _ = reply.send(Err(StoreError::Database(message.clone())));
    }
}

fn commit_batch(
    conn: &mut Connection,
    contacts: &mut ContactIndex,
    batch: &mut Vec<PendingInsert>,
) {
    // Fast path: the whole batch in one transaction without savepoints
    // (savepoints copy every touched page to a sub-journal). If any write
    // fails, everything is rolled back and the batch is redone with one
    // savepoint per write, so only the bad write fails.
    match write_batch(conn, contacts, batch, false) {
        Ok(outcomes) => return answer(batch, outcomes),
        Err(error) => {
            tracing::warn!(%error, "batch failed; retrying each write on its own");
            for pending in batch.iter_mut() {
                pending.restore();
            }
        }
    }
    match write_batch(conn, contacts, batch, true) {
        Ok(outcomes) => answer(batch, outcomes),
        Err(error) => fail_all(batch.drain(..).map(|pending| pending.reply), &error),
    }
}

/// Writes and commits the batch. Returns, per write, the lead's new id or
/// the already-stored lead with the same origin, or that write's own error.
fn write_batch(
    conn: &mut Connection,
    contacts: &mut ContactIndex,
    batch: &mut [PendingInsert],
    isolate: bool,
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    contacts.discard_staged();
    let result = write_batch_in(conn, contacts, batch, isolate);
    match &result {
        Ok(_) => contacts.commit_staged(),
        Err(_) => contacts.discard_staged(),
    }
    result
}

fn write_batch_in(
    conn: &mut Connection,
    contacts: &mut ContactIndex,
    batch: &mut [PendingInsert],
    isolate: bool,
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for pending in batch.iter_mut() {
        let lead = &mut pending.lead;
        let outcome = if isolate {
            in_savepoint(&tx, |tx| {
                insert_lead(tx, contacts, lead, &pending.assignment)
            })
        } else {
            // Dropping `tx` on the way out rolls the whole batch back.
            Ok(insert_lead(&tx, contacts, lead, &pending.assignment)?)
        };
        outcomes.push(outcome);
    }
    // Nobody hears success before the commit (and its fsync) has returned.
    tx.commit()?;
    Ok(outcomes)
}

fn answer(batch: &mut Vec<PendingInsert>, outcomes: Vec<Result<Written, StoreError>>) {
    for (pending, outcome) in batch.drain(..).zip(outcomes) {
        let PendingInsert { lead, reply, .. } = pending;
        let result = outcome.map(|written| match written {
            Written::New {
                assigned_by_contact,
            } => Inserted {
                lead: *lead,
                created: true,
                assigned_by_contact,
            },
            Written::Existing(stored) => Inserted {
                lead: *stored,
                created: false,
                assigned_by_contact: false,
            },
        });
        let _ = reply.send(result);
    }
}

enum Written {
    /// Stored; the lead in the batch now carries its id and assignment.
    New { assigned_by_contact: bool },
    /// A lead with the same origin was already stored.
    Existing(Box<Lead>),
}

/// Each write in its own savepoint: one bad write is rolled back and reported
/// alone instead of sinking the others in its batch.
fn in_savepoint<T>(
    tx: &Transaction<'_>,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.prepare_cached("SAVEPOINT write_op")?.execute([])?;
    match work(tx) {
        Ok(value) => {
            tx.prepare_cached("RELEASE write_op")?.execute([])?;
            Ok(value)
        }
        Err(error) => {
            tx.prepare_cached("ROLLBACK TO write_op")?.execute([])?;
            tx.prepare_cached("RELEASE write_op")?.execute([])?;
            Err(error)
        }
    }
}

fn insert_lead(
    tx: &Transaction<'_>,
    contacts: &mut ContactIndex,
    lead: &mut Lead,
    assignment: &Assignment,
) -> Result<Written, StoreError> {
    if let Some(origin) = &lead.origin {
        let existing = tx
            .prepare_cached(
                "SELECT id, doc FROM leads WHERE origin_system = ?1 AND origin_external_id = ?2",
            )?
            .query_row(params![origin.system, origin.external_id], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?;
        if let Some((id, doc)) = existing {
            return Ok(Written::Existing(Box::new(read_lead(id, &doc)?)));
        }
    }
    let mut assigned_by_contact = false;
    if lead.assigned_to.is_none() {
        if assignment.by_earlier_contact {
            if let Some(assignee) = contacts.latest_assignee(tx, lead, &assignment.eligible)? {
                lead.assigned_to = Some(assignee);
                assigned_by_contact = true;
                if let Some(stage) = assignment.stage_when_found {
                    lead.stage = stage;
                }
            }
        }
        if lead.assigned_to.is_none() {
            lead.assigned_to = assignment.fallback;
        }
    }
    let doc =
        serde_json::to_string(&*lead).map_err(|error| StoreError::Database(error.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO leads (created_at, updated_at, completed_at, stage, kind, assigned_to, created_by,
            completed_by, site_id, department_id, has_email, has_phone, lock_by, lock_until,
            origin_system, origin_external_id, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        micros(lead.created_at),
        micros(lead.updated_at),
        lead.completed_at.map(micros),
        lead.stage.as_str(),
        lead.kind.map(|kind| kind.as_str()),
        lead.assigned_to,
        lead.created_by,
        lead.completed_by,
        lead.site.id,
        lead.department_id,
        lead.has_email(),
        lead.has_phone(),
        lead.lock.as_ref().map(|lock| lock.by),
        lead.lock.as_ref().map(|lock| micros(lock.until)),
        lead.origin.as_ref().map(|origin| origin.system.as_str()),
        lead.origin.as_ref().map(|origin| origin.external_id.as_str()),
        doc,
    ])?;
    let id = tx.last_insert_rowid();
    lead.id = Some(id);
    contacts.stage(lead);
    Ok(Written::New {
        assigned_by_contact,
    })
}
