//! Writes on PostgreSQL. Inserts are grouped as the SQLite writer groups
//! them: a few writer tasks each take every insert already queued (up to
//! `max_batch`) and commit them in one transaction, each insert in its own
//! savepoint so one bad lead fails alone. Nobody hears success before the
//! commit returns. Updates and deletes run in their own transactions,
//! reading the row `FOR UPDATE`, so two replicas changing one lead apply
//! their changes one after the other.

use std::sync::Arc;

use chrono::Utc;
use deadpool_postgres::{Pool, Transaction};
use tokio::sync::{mpsc, Mutex};
use tokio_postgres::types::Json;

use super::inserts::{by_origin, contact_keys, contact_lock_keys, InsertOp, LOCK_CONTACTS};
use super::read::read_lead;
use super::{database, micros, outbox};
use crate::lead::{EmployeeId, Lead, LeadId, Stage};
use crate::store::columns::LeadColumns;
use crate::store::{DeleteCheck, Deleted, Inserted, LeadChange, StoreError};

/// Runs one writer: takes a batch off the shared queue, commits it, and
/// again, until the queue closes.
pub(super) async fn run_writer(
    pool: Pool,
    queue: Arc<Mutex<mpsc::Receiver<InsertOp>>>,
    max_batch: usize,
) {
    loop {
        let mut batch = Vec::with_capacity(max_batch);
        {
            let mut receiver = queue.lock().await;
            match receiver.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            // Ids are drawn while the queue is held, so they follow the
            // order requests arrived in (a Bitrix24 batch's commands get
            // ids in command order) although batches commit side by side.
            match allocate_ids(&pool, batch.len()).await {
                Ok(ids) => {
                    for (op, id) in batch.iter_mut().zip(ids) {
                        op.id = id;
                    }
                }
                Err(error) => {
                    for op in batch.drain(..) {
                        let _ = op.reply.send(Err(StoreError::Database(error.to_string())));
                    }
                }
            }
        }
        if !batch.is_empty() {
            commit_batch(&pool, batch).await;
        }
    }
}

/// `count` new lead ids from the table's sequence, in increasing order.
async fn allocate_ids(pool: &Pool, count: usize) -> Result<Vec<LeadId>, StoreError> {
    let client = pool.get().await.map_err(super::unavailable)?;
    let next_ids = client
        .prepare_cached(
            "SELECT nextval(pg_get_serial_sequence('leads', 'id')) FROM generate_series(1, $1::bigint)",
        )
        .await
        .map_err(database)?;
    let rows = client
        .query(&next_ids, &[&(count as i64)])
        .await
        .map_err(database)?;
    let mut ids: Vec<LeadId> = rows.iter().map(|row| row.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}

async fn commit_batch(pool: &Pool, mut batch: Vec<InsertOp>) {
    let arrived: Vec<(Option<EmployeeId>, Stage)> = batch
        .iter()
        .map(|op| (op.lead.assigned_to, op.lead.stage))
        .collect();
    match write_together(pool, &mut batch).await {
        Ok(answers) => {
            for (op, answer) in batch.into_iter().zip(answers) {
                let _ = op.reply.send(Ok(answer));
            }
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "batch failed; writing each lead on its own");
            for (op, (assigned_to, stage)) in batch.iter_mut().zip(arrived) {
                op.lead.assigned_to = assigned_to;
                op.lead.stage = stage;
                op.lead.id = None;
            }
        }
    }
    let mut pending: Vec<(InsertOp, Option<Result<Inserted, StoreError>>)> =
        batch.into_iter().map(|op| (op, None)).collect();
    let result = write_one_by_one(pool, &mut pending).await;
    for (op, outcome) in pending {
        let answer = match (&result, outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Err(error), _) => Err(StoreError::Database(error.to_string())),
            (Ok(()), None) => Err(StoreError::Database("the insert was not written".into())),
        };
        let _ = op.reply.send(answer);
    }
}

/// The whole batch in a few multi-row statements and one commit.
async fn write_together(pool: &Pool, batch: &mut [InsertOp]) -> Result<Vec<Inserted>, StoreError> {
    let mut client = pool.get().await.map_err(super::unavailable)?;
    let started = std::time::Instant::now();
    let tx = client.transaction().await.map_err(database)?;
    let answers = super::batch::write(&tx, batch, micros(Utc::now())).await?;
    tx.commit().await.map_err(database)?;
    crate::meters::store_commit("postgres", batch.len(), started.elapsed());
    Ok(answers)
}

/// Inserts that look up an earlier lead by contact hold that contact's
/// lock until the commit (`inserts::contact_lock_keys`).
async fn lock_contacts(
    tx: &Transaction<'_>,
    ops: impl Iterator<Item = &InsertOp>,
) -> Result<(), StoreError> {
    let keys = contact_lock_keys(ops);
    if !keys.is_empty() {
        let lock = tx.prepare_cached(LOCK_CONTACTS).await.map_err(database)?;
        tx.execute(&lock, &[&keys]).await.map_err(database)?;
    }
    Ok(())
}

/// Writes every insert of the batch in one transaction, each in a
/// savepoint of its own so one bad lead fails alone, and commits it. An
/// error here (connection lost, commit refused) fails the whole batch.
async fn write_one_by_one(
    pool: &Pool,
    pending: &mut [(InsertOp, Option<Result<Inserted, StoreError>>)],
) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(super::unavailable)?;
    let mut tx = client.transaction().await.map_err(database)?;
    lock_contacts(&tx, pending.iter().map(|(op, _)| op)).await?;
    for (op, _) in pending.iter_mut() {
        without_nul(&mut op.lead);
    }
    let now = micros(Utc::now());
    for (op, outcome) in pending.iter_mut() {
        let arrived = (op.lead.assigned_to, op.lead.stage);
        let savepoint = tx.savepoint("insert_op").await.map_err(database)?;
        let result = insert_lead(&savepoint, op, now).await;
        match result {
            Ok(inserted) => {
                savepoint.commit().await.map_err(database)?;
                *outcome = Some(Ok(inserted));
            }
            Err(error) => {
                savepoint.rollback().await.map_err(database)?;
                op.lead.assigned_to = arrived.0;
                op.lead.stage = arrived.1;
                op.lead.id = None;
                *outcome = Some(Err(error));
            }
        }
    }
    tx.commit().await.map_err(database)?;
    Ok(())
}

/// PostgreSQL text and JSONB cannot hold U+0000, which a form may still
/// send (the SQLite store keeps it): such a lead is stored with U+FFFD in
/// its place rather than refused over and over. Only leads of a batch that
/// failed come here, so the hot path never pays for the look.
fn without_nul(lead: &mut Box<Lead>) {
    let Ok(text) = serde_json::to_string(&**lead) else {
        return;
    };
    if !text.contains("\\u0000") {
        return;
    }
    let replaced = text.replace("\\u0000", "\\ufffd");
    match serde_json::from_str::<Lead>(&replaced) {
        Ok(clean) => {
            let id = lead.id;
            **lead = clean;
            lead.id = id;
        }
        Err(error) => tracing::warn!(%error, "cannot replace U+0000 in a lead"),
    }
}

async fn insert_lead(
    tx: &Transaction<'_>,
    op: &mut InsertOp,
    now: i64,
) -> Result<Inserted, StoreError> {
    let lead = &mut op.lead;
    if let Some(origin) = &lead.origin {
        if let Some(existing) = by_origin(tx, &origin.system, &origin.external_id).await? {
            return Ok(Inserted {
                lead: Box::new(existing),
                created: false,
                assigned_by_contact: false,
            });
        }
    }
    let mut assigned_by_contact = false;
    if lead.assigned_to.is_none() {
        if op.assignment.by_earlier_contact {
            if let Some(assignee) = latest_assignee(tx, lead, &op.assignment.eligible).await? {
                lead.assigned_to = Some(assignee);
                assigned_by_contact = true;
                if let Some(stage) = op.assignment.stage_when_found {
                    lead.stage = stage;
                }
            }
        }
        if lead.assigned_to.is_none() {
            lead.assigned_to = op.assignment.fallback;
            if let (Some(_), Some(stage)) = (lead.assigned_to, op.assignment.stage_when_found) {
                lead.stage = stage;
            }
        }
    }
    let id = op.id;
    let columns = Columns::of(lead);
    let mut bound = columns.params();
    bound.push(&id);
    // A lead with the same origin committed by another transaction since
    // the look-up above: the unique index turns this insert into nothing,
    // and the stored lead is the answer.
    let row = tx
        .query_opt(
            "INSERT INTO leads (created_at, updated_at, completed_at, stage, kind, assigned_to,
                created_by, completed_by, site_id, department_id, has_email, has_phone, lock_by,
                lock_until, origin_system, origin_external_id, doc, id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18)
             ON CONFLICT (origin_system, origin_external_id) WHERE origin_system IS NOT NULL
             DO NOTHING
             RETURNING id",
            &bound,
        )
        .await
        .map_err(database)?;
    let Some(row) = row else {
        let (system, external_id) = lead
            .origin
            .as_ref()
            .map(|origin| (origin.system.as_str(), origin.external_id.as_str()))
            .unwrap_or_default();
        let existing = by_origin(tx, system, external_id)
            .await?
            .ok_or_else(|| StoreError::Database("a conflicting origin vanished".into()))?;
        return Ok(Inserted {
            lead: Box::new(existing),
            created: false,
            assigned_by_contact: false,
        });
    };
    let id: LeadId = row.get(0);
    drop(bound);
    lead.id = Some(id);
    write_contacts(tx, lead).await?;
    outbox::enqueue(tx, id, &op.forward_to, now).await?;
    Ok(Inserted {
        lead: lead.clone(),
        created: true,
        assigned_by_contact,
    })
}

/// The assignee of the most recent lead sharing one of `lead`'s contacts,
/// among `eligible` employees.
async fn latest_assignee(
    tx: &Transaction<'_>,
    lead: &Lead,
    eligible: &[EmployeeId],
) -> Result<Option<EmployeeId>, StoreError> {
    let keys = contact_keys(lead);
    if keys.is_empty() || eligible.is_empty() {
        return Ok(None);
    }
    let kinds: Vec<&str> = keys.iter().map(|(kind, _)| *kind).collect();
    let values: Vec<&str> = keys.iter().map(|(_, value)| value.as_str()).collect();
    let row = tx
        .query_opt(
            "SELECT l.assigned_to FROM lead_contacts c JOIN leads l ON l.id = c.lead_id
             WHERE (c.kind, c.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
               AND l.assigned_to = ANY($3)
             ORDER BY c.lead_id DESC LIMIT 1",
            &[&kinds, &values, &eligible.to_vec()],
        )
        .await
        .map_err(database)?;
    Ok(row.map(|row| row.get(0)))
}

pub(super) async fn write_contacts(tx: &Transaction<'_>, lead: &Lead) -> Result<(), StoreError> {
    let keys = contact_keys(lead);
    if keys.is_empty() {
        return Ok(());
    }
    let id = lead.id.unwrap_or_default();
    let kinds: Vec<&str> = keys.iter().map(|(kind, _)| *kind).collect();
    let values: Vec<&str> = keys.iter().map(|(_, value)| value.as_str()).collect();
    tx.execute(
        "INSERT INTO lead_contacts (kind, value, lead_id)
         SELECT kind, value, $3 FROM unnest($1::text[], $2::text[]) AS t (kind, value)
         ON CONFLICT DO NOTHING",
        &[&kinds, &values, &id],
    )
    .await
    .map_err(database)?;
    Ok(())
}

/// The indexed columns and the document of a lead, in the order both the
/// INSERT and the UPDATE bind them.
pub(super) struct Columns<'a> {
    values: LeadColumns<'a>,
    /// The flags as the schema's BIGINT columns hold them.
    has_email: i64,
    has_phone: i64,
    doc: Json<&'a Lead>,
}

impl<'a> Columns<'a> {
    pub(super) fn of(lead: &'a Lead) -> Columns<'a> {
        let values = LeadColumns::of(lead);
        Columns {
            has_email: i64::from(values.has_email),
            has_phone: i64::from(values.has_phone),
            values,
            doc: Json(lead),
        }
    }

    pub(super) fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        vec![
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
            &self.has_email,
            &self.has_phone,
            &self.values.lock_by,
            &self.values.lock_until,
            &self.values.origin_system,
            &self.values.origin_external_id,
            &self.doc,
        ]
    }
}

pub(super) async fn update(
    pool: &Pool,
    id: LeadId,
    change: LeadChange,
    forward_to: &[String],
) -> Result<Option<Lead>, StoreError> {
    let mut client = pool.get().await.map_err(super::unavailable)?;
    let tx = client.transaction().await.map_err(database)?;
    let Some(row) = tx
        .query_opt("SELECT doc FROM leads WHERE id = $1 FOR UPDATE", &[&id])
        .await
        .map_err(database)?
    else {
        return Ok(None);
    };
    let mut lead = read_lead(id, row.get(0));
    let before = (!forward_to.is_empty()).then(|| lead.clone());
    let before_update = lead.updated_at;
    let contacts_before = contact_keys(&lead);
    change(&mut lead)?;
    lead.id = Some(id);
    // Strictly later than before, even when the clock has not moved on, so
    // "changed since" filters always see the change.
    let now = crate::lead::truncate_to_micros(Utc::now());
    lead.updated_at = now.max(before_update + chrono::Duration::microseconds(1));
    let columns = Columns::of(&lead);
    let mut bound = columns.params();
    bound.push(&id);
    tx.execute(
        "UPDATE leads SET created_at = $1, updated_at = $2, completed_at = $3, stage = $4,
            kind = $5, assigned_to = $6, created_by = $7, completed_by = $8, site_id = $9,
            department_id = $10, has_email = $11, has_phone = $12, lock_by = $13,
            lock_until = $14, origin_system = $15, origin_external_id = $16, doc = $17
         WHERE id = $18",
        &bound,
    )
    .await
    .map_err(database)?;
    drop(bound);
    // The rows of the contacts it had go, so a corrected phone no longer
    // leads to this lead's assignee.
    if contacts_before != contact_keys(&lead) {
        tx.execute("DELETE FROM lead_contacts WHERE lead_id = $1", &[&id])
            .await
            .map_err(database)?;
        write_contacts(&tx, &lead).await?;
    }
    if let Some(before) = before {
        if lead.forwarded_state_differs(&before) {
            super::outbox::enqueue_update(&tx, id, forward_to, lead.updated_at.timestamp_micros())
                .await?;
        }
    }
    tx.commit().await.map_err(database)?;
    Ok(Some(lead))
}

/// Deletes the lead if `check` allows it as stored, the row locked `FOR
/// UPDATE` from the check to the commit.
pub(super) async fn delete(
    pool: &Pool,
    id: LeadId,
    check: DeleteCheck,
) -> Result<Deleted, StoreError> {
    let mut client = pool.get().await.map_err(super::unavailable)?;
    let tx = client.transaction().await.map_err(database)?;
    let row = tx
        .query_opt("SELECT doc FROM leads WHERE id = $1 FOR UPDATE", &[&id])
        .await
        .map_err(database)?;
    let Some(row) = row else {
        return Ok(Deleted::Missing);
    };
    if let Some(check) = check {
        let lead = read_lead(id, row.get(0));
        if !check(&lead) {
            return Ok(Deleted::Refused);
        }
    }
    tx.execute("DELETE FROM lead_contacts WHERE lead_id = $1", &[&id])
        .await
        .map_err(database)?;
    tx.execute("DELETE FROM leads WHERE id = $1", &[&id])
        .await
        .map_err(database)?;
    tx.commit().await.map_err(database)?;
    Ok(Deleted::Deleted)
}
