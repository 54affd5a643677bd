//! The single writer thread and its group commit.
//!
//! The loop blocks for one write, then takes everything else already queued
//! (up to `max_batch`) and commits it all in one transaction, so the fsync is
//! shared. Each write runs inside its own savepoint: one bad write is rolled
//! back and reported alone instead of sinking the others in its batch. If the
//! commit itself fails, every write in the batch hears the error, so nothing
//! is acknowledged that is not on disk.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::read::{micros, read_lead};
use crate::lead::Lead;
use crate::store::{Inserted, StoreError};

pub(super) enum WriteOp {
    Insert {
        lead: Box<Lead>,
        reply: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    /// Commit what is queued, checkpoint the log and stop.
    Close {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

pub(super) fn run(mut conn: Connection, mut queue: mpsc::Receiver<WriteOp>, max_batch: usize) {
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
            commit_batch(&mut conn, &mut batch);
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

type PendingInsert = (Box<Lead>, oneshot::Sender<Result<Inserted, StoreError>>);

fn collect(
    op: WriteOp,
    batch: &mut Vec<PendingInsert>,
    closing: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) {
    match op {
        WriteOp::Insert { lead, reply } => batch.push((lead, reply)),
        WriteOp::Close { reply } => {
            if let Some(previous) = closing.replace(reply) {
                let _ = previous.send(Ok(()));
            }
        }
    }
}

fn commit_batch(conn: &mut Connection, batch: &mut Vec<PendingInsert>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => {
            let message = error.to_string();
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(StoreError::Database(message.clone())));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (lead, _) in batch.iter() {
        results.push(in_savepoint(&tx, |tx| insert_lead(tx, lead)));
    }
    match tx.commit() {
        Ok(()) => {
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            let message = error.to_string();
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(StoreError::Database(message.clone())));
            }
        }
    }
}

fn in_savepoint<T>(
    tx: &Transaction<'_>,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.execute_batch("SAVEPOINT write_op")?;
    match work(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE write_op")?;
            Ok(value)
        }
        Err(error) => {
            tx.execute_batch("ROLLBACK TO write_op; RELEASE write_op")?;
            Err(error)
        }
    }
}

fn insert_lead(tx: &Transaction<'_>, lead: &Lead) -> Result<Inserted, StoreError> {
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
            return Ok(Inserted {
                lead: read_lead(id, &doc)?,
                created: false,
            });
        }
    }
    let doc =
        serde_json::to_string(lead).map_err(|error| StoreError::Database(error.to_string()))?;
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
    let mut contact =
        tx.prepare_cached("INSERT INTO lead_contacts (lead_id, kind, value) VALUES (?1, ?2, ?3)")?;
    for point in &lead.phones {
        contact.execute(params![id, "phone", point.normalized])?;
    }
    for point in &lead.emails {
        contact.execute(params![id, "email", point.normalized])?;
    }
    let mut stored = lead.clone();
    stored.id = Some(id);
    Ok(Inserted {
        lead: stored,
        created: true,
    })
}
