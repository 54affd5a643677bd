//! The single writer thread and its group commit.
//!
//! The loop blocks for one write, then takes everything else already queued
//! (up to `max_batch`) and commits it all in one transaction, so the fsync is
//! shared. Each write runs inside its own savepoint: one bad write is rolled
//! back and reported alone instead of sinking the others in its batch. If the
//! commit itself fails, every write in the batch hears the error, so nothing
//! is acknowledged that is not on disk.

use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{params, Connection, OptionalExtension, ToSql, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use chrono::{DateTime, Utc};

use super::contacts::ContactIndex;
use super::outbox;
use super::read::read_lead;
use super::stats;
use super::time::micros;
use crate::lead::{EmployeeId, Lead, LeadId};
use crate::store::columns::LeadColumns;
use crate::store::{
    Assignment, ClaimedDelivery, DeleteCheck, Deleted, DeliveryFilter, FinishedDelivery, Inserted,
    LeadChange, StoreError, TimeRange,
};

pub(super) enum WriteOp {
    Insert {
        lead: Box<Lead>,
        assignment: Assignment,
        forward_to: Vec<String>,
        reply: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    Update {
        id: LeadId,
        change: LeadChange,
        forward_to: Vec<String>,
        reply: oneshot::Sender<Result<Option<Lead>, StoreError>>,
    },
    Delete {
        id: LeadId,
        check: DeleteCheck,
        reply: oneshot::Sender<Result<Deleted, StoreError>>,
    },
    /// Records a session (and purges expired ones).
    PutSession {
        digest: String,
        subject: String,
        expires: i64,
        now: i64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    EndSession {
        digest: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    ClaimDeliveries {
        target: String,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        reply: oneshot::Sender<Result<Vec<ClaimedDelivery>, StoreError>>,
    },
    FinishDeliveries {
        outcomes: Vec<FinishedDelivery>,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    RetryDeliveries {
        filter: DeliveryFilter,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    ReplayDeliveries {
        target: String,
        window: TimeRange,
        now: DateTime<Utc>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Leads copied from another store, under their own ids.
    ImportLeads {
        leads: Vec<Lead>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Delivery rows copied from another store.
    ImportDeliveries {
        rows: Vec<crate::store::DeliveryRecord>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
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
    maintenance: bool,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut changes = Vec::new();
    let mut closing = None;
    while let Some(first) = queue.blocking_recv() {
        collect(first, &mut batch, &mut changes, &mut closing);
        while closing.is_none() && batch.len() < max_batch {
            match queue.try_recv() {
                Ok(op) => collect(op, &mut batch, &mut changes, &mut closing),
                Err(_) => break,
            }
        }
        if closing.is_some() {
            // Whatever was queued before the close still gets committed.
            queue.close();
            while let Ok(op) = queue.try_recv() {
                collect(op, &mut batch, &mut changes, &mut closing);
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut contacts, &mut batch);
        }
        // Updates and deletes are rare: each gets its own transaction, so
        // one that fails never touches the inserts around it.
        for change in changes.drain(..) {
            apply_change(&mut conn, &mut contacts, change);
        }
        if closing.is_some() {
            // The next open then has no tail to rebuild; should this fail,
            // it rebuilds it from the leads instead.
            if let Err(error) = contacts.merge_all(&mut conn) {
                tracing::warn!(%error, "contact index merge on close failed");
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
            let result = if maintenance {
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(StoreError::from)
            } else {
                Ok(())
            };
            let _ = reply.send(result);
            return;
        }
    }
}

struct PendingInsert {
    lead: Box<Lead>,
    assignment: Assignment,
    forward_to: Vec<String>,
    reply: oneshot::Sender<Result<Inserted, StoreError>>,
    /// What the writer may decide for the lead, as it arrived, to undo
    /// what a rolled-back attempt decided.
    arrived: Decided,
}

/// The fields of a lead that inserting it decides.
#[derive(Clone, Copy)]
struct Decided {
    id: Option<LeadId>,
    assigned_to: Option<EmployeeId>,
    stage: crate::lead::Stage,
}

impl PendingInsert {
    fn restore(&mut self) {
        self.lead.id = self.arrived.id;
        self.lead.assigned_to = self.arrived.assigned_to;
        self.lead.stage = self.arrived.stage;
    }
}

fn collect(
    op: WriteOp,
    batch: &mut Vec<PendingInsert>,
    changes: &mut Vec<WriteOp>,
    closing: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) {
    match op {
        WriteOp::Update { .. }
        | WriteOp::Delete { .. }
        | WriteOp::PutSession { .. }
        | WriteOp::EndSession { .. }
        | WriteOp::ClaimDeliveries { .. }
        | WriteOp::FinishDeliveries { .. }
        | WriteOp::RetryDeliveries { .. }
        | WriteOp::ReplayDeliveries { .. }
        | WriteOp::ImportLeads { .. }
        | WriteOp::ImportDeliveries { .. } => changes.push(op),
        WriteOp::Insert {
            lead,
            assignment,
            forward_to,
            reply,
        } => batch.push(PendingInsert {
            arrived: Decided {
                id: lead.id,
                assigned_to: lead.assigned_to,
                stage: lead.stage,
            },
            lead,
            assignment,
            forward_to,
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
    let started = std::time::Instant::now();
    let result = write_batch_in(conn, contacts, batch, isolate);
    if result.is_ok() {
        crate::meters::store_commit("sqlite", batch.len(), started.elapsed());
    }
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
    let now = micros(Utc::now());
    for pending in batch.iter_mut() {
        let lead = &mut pending.lead;
        let forward_to = &pending.forward_to;
        let outcome = if isolate {
            in_savepoint(&tx, |tx| {
                insert_lead(tx, contacts, lead, &pending.assignment, forward_to, now)
            })
        } else {
            // Dropping `tx` on the way out rolls the whole batch back.
            Ok(insert_lead(
                &tx,
                contacts,
                lead,
                &pending.assignment,
                forward_to,
                now,
            )?)
        };
        outcomes.push(outcome);
    }
    contacts.write_merge_slice(&tx)?;
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
                lead,
                created: true,
                assigned_by_contact,
            },
            Written::Existing(stored) => Inserted {
                lead: stored,
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
    forward_to: &[String],
    now: i64,
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
            if let (Some(_), Some(stage)) = (lead.assigned_to, assignment.stage_when_found) {
                lead.stage = stage;
            }
        }
    }
    let columns = Columns::of(lead)?;
    tx.prepare_cached(
        "INSERT INTO leads (created_at, updated_at, completed_at, stage, kind, assigned_to, created_by,
            completed_by, site_id, department_id, has_email, has_phone, lock_by, lock_until,
            origin_system, origin_external_id, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(&columns.params()[..])?;
    let id = tx.last_insert_rowid();
    lead.id = Some(id);
    outbox::enqueue(tx, id, forward_to, now)?;
    stats::count(tx, lead, 1)?;
    contacts.stage(lead);
    Ok(Written::New {
        assigned_by_contact,
    })
}

/// The indexed columns and the document of a lead, in the order both the
/// INSERT and the UPDATE bind them.
struct Columns<'a> {
    values: LeadColumns<'a>,
    doc: String,
}

impl<'a> Columns<'a> {
    fn of(lead: &'a Lead) -> Result<Columns<'a>, StoreError> {
        Ok(Columns {
            values: LeadColumns::of(lead),
            doc: serde_json::to_string(lead)
                .map_err(|error| StoreError::Database(error.to_string()))?,
        })
    }

    fn params(&self) -> [&dyn ToSql; 17] {
        [
            &self.values.created_at,
            &self.values.updated_at,
            &self.values.completed_at,
            &self.values.stage,
            &self.values.kind,
            &self.values.lead.assigned_to,
            &self.values.lead.created_by,
            &self.values.lead.completed_by,
            &self.values.lead.site.id,
            &self.values.lead.department_id,
            &self.values.has_email,
            &self.values.has_phone,
            &self.values.lock_by,
            &self.values.lock_until,
            &self.values.origin_system,
            &self.values.origin_external_id,
            &self.doc,
        ]
    }
}

fn apply_change(conn: &mut Connection, contacts: &mut ContactIndex, op: WriteOp) {
    match op {
        WriteOp::Update {
            id,
            change,
            forward_to,
            reply,
        } => {
            contacts.discard_staged();
            let result = update_lead(conn, contacts, id, change, &forward_to);
            match &result {
                Ok(Some(_)) => {
                    contacts.forget(id);
                    contacts.commit_staged();
                }
                _ => contacts.discard_staged(),
            }
            let _ = reply.send(result);
        }
        WriteOp::Delete { id, check, reply } => {
            let result = delete_lead(conn, contacts, id, check);
            if let Ok(Deleted::Deleted) = result {
                contacts.forget(id);
            }
            let _ = reply.send(result);
        }
        WriteOp::PutSession {
            digest,
            subject,
            expires,
            now,
            reply,
        } => {
            let result = (|| -> Result<(), StoreError> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached("DELETE FROM sessions WHERE expires <= ?1")?
                    .execute([now])?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO sessions (digest, subject, expires) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![digest, subject, expires])?;
                tx.commit()?;
                Ok(())
            })();
            let _ = reply.send(result);
        }
        WriteOp::EndSession { digest, reply } => {
            let result = (|| -> Result<bool, StoreError> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let removed = tx
                    .prepare_cached("DELETE FROM sessions WHERE digest = ?1")?
                    .execute([digest])?;
                tx.commit()?;
                Ok(removed > 0)
            })();
            let _ = reply.send(result);
        }
        WriteOp::ClaimDeliveries {
            target,
            limit,
            now,
            lease_until,
            reply,
        } => {
            let _ = reply.send(outbox::claim(conn, &target, limit, now, lease_until));
        }
        WriteOp::FinishDeliveries {
            outcomes,
            now,
            reply,
        } => {
            let _ = reply.send(outbox::finish(conn, &outcomes, now));
        }
        WriteOp::RetryDeliveries { filter, now, reply } => {
            let _ = reply.send(outbox::retry(conn, &filter, now));
        }
        WriteOp::ReplayDeliveries {
            target,
            window,
            now,
            reply,
        } => {
            let _ = reply.send(outbox::replay(conn, &target, window, now));
        }
        WriteOp::ImportLeads { leads, reply } => {
            contacts.discard_staged();
            let result = import_leads(conn, contacts, leads);
            match &result {
                Ok(_) => contacts.commit_staged(),
                Err(_) => contacts.discard_staged(),
            }
            let _ = reply.send(result);
        }
        WriteOp::ImportDeliveries { rows, reply } => {
            let _ = reply.send(outbox::import(conn, &rows));
        }
        WriteOp::Insert { .. } | WriteOp::Close { .. } => {}
    }
}

/// Copied leads under their own ids, above every id stored so far (so the
/// contact index, which is merged in id order, stays whole), in one
/// transaction.
fn import_leads(
    conn: &mut Connection,
    contacts: &mut ContactIndex,
    leads: Vec<Lead>,
) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut newest: LeadId = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM leads", [], |row| {
        row.get(0)
    })?;
    let mut stored = 0;
    for lead in leads {
        let Some(id) = lead.id.filter(|id| *id > newest) else {
            continue;
        };
        if let Some(origin) = &lead.origin {
            let taken = tx
                .prepare_cached(
                    "SELECT 1 FROM leads WHERE origin_system = ?1 AND origin_external_id = ?2",
                )?
                .query_row(params![origin.system, origin.external_id], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                continue;
            }
        }
        let columns = Columns::of(&lead)?;
        let mut bound = columns.params().to_vec();
        bound.push(&id);
        tx.prepare_cached(
            "INSERT INTO leads (created_at, updated_at, completed_at, stage, kind, assigned_to,
                created_by, completed_by, site_id, department_id, has_email, has_phone, lock_by,
                lock_until, origin_system, origin_external_id, doc, id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18)",
        )?
        .execute(&bound[..])?;
        drop(columns);
        stats::count(&tx, &lead, 1)?;
        contacts.stage(&lead);
        newest = id;
        stored += 1;
    }
    contacts.write_merge_slice(&tx)?;
    tx.commit()?;
    Ok(stored)
}

/// The stored document of lead `id`, read inside the writer's transaction.
fn stored_doc(tx: &Transaction<'_>, id: LeadId) -> Result<Option<String>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT doc FROM leads WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?)
}

fn update_lead(
    conn: &mut Connection,
    contacts: &mut ContactIndex,
    id: LeadId,
    change: LeadChange,
    forward_to: &[String],
) -> Result<Option<Lead>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(doc) = stored_doc(&tx, id)? else {
        return Ok(None);
    };
    let mut lead = read_lead(id, &doc)?;
    let before = (!forward_to.is_empty()).then(|| lead.clone());
    // The rows of the contacts it had go; `record_update` writes those it
    // has now, so a corrected phone no longer leads to this lead's assignee.
    contacts.delete_rows(&tx, &lead)?;
    let before_update = lead.updated_at;
    stats::count(&tx, &lead, -1)?;
    change(&mut lead)?;
    lead.id = Some(id);
    // Strictly later than before, even when the clock has not moved on, so
    // "changed since" filters always see the change.
    let now = crate::lead::truncate_to_micros(chrono::Utc::now());
    lead.updated_at = now.max(before_update + chrono::Duration::microseconds(1));
    let columns = Columns::of(&lead)?;
    let mut bound = columns.params().to_vec();
    bound.push(&id);
    tx.prepare_cached(
        "UPDATE leads SET created_at = ?1, updated_at = ?2, completed_at = ?3, stage = ?4, kind = ?5,
            assigned_to = ?6, created_by = ?7, completed_by = ?8, site_id = ?9, department_id = ?10,
            has_email = ?11, has_phone = ?12, lock_by = ?13, lock_until = ?14, origin_system = ?15,
            origin_external_id = ?16, doc = ?17
         WHERE id = ?18",
    )?
    .execute(&bound[..])?;
    drop(columns);
    stats::count(&tx, &lead, 1)?;
    contacts.record_update(&tx, &lead)?;
    if let Some(before) = before {
        if lead.forwarded_state_differs(&before) {
            super::outbox::enqueue_update(&tx, id, forward_to, lead.updated_at.timestamp_micros())?;
        }
    }
    tx.commit()?;
    Ok(Some(lead))
}

fn delete_lead(
    conn: &mut Connection,
    contacts: &ContactIndex,
    id: LeadId,
    check: DeleteCheck,
) -> Result<Deleted, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(doc) = stored_doc(&tx, id)? else {
        return Ok(Deleted::Missing);
    };
    // A document that no longer reads leaves its contact rows behind; they
    // point at no lead, which the look-up (joined with `leads`) ignores.
    // Otherwise the rows are exactly the document's contacts: an update
    // swaps them along with the document.
    match (read_lead(id, &doc), check) {
        (Ok(lead), check) => {
            if let Some(check) = check {
                if !check(&lead) {
                    return Ok(Deleted::Refused);
                }
            }
            contacts.delete_rows(&tx, &lead)?;
            stats::count(&tx, &lead, -1)?;
        }
        // Nothing to check against: only an unchecked delete goes on.
        (Err(_), Some(_)) => return Ok(Deleted::Refused),
        (Err(_), None) => {}
    }
    tx.prepare_cached("DELETE FROM leads WHERE id = ?1")?
        .execute([id])?;
    tx.commit()?;
    Ok(Deleted::Deleted)
}
