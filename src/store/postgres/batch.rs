//! A batch of inserts in a fixed number of statements, whatever its size:
//! one look-up of the origins already stored, one of the earlier leads
//! sharing a contact, one multi-row INSERT each for the leads, their
//! contacts and their deliveries. Every statement is a round trip, and a
//! round trip per lead per step is what kept the per-lead path at about a
//! tenth of the SQLite store's adds (BENCHMARKS.md). Each statement is
//! prepared once per connection (`prepare_cached`): planning these
//! array-heavy statements anew on every batch cost the server more than
//! running them. All or nothing: if any
//! statement fails (a lead PostgreSQL cannot store, such as text with a NUL
//! character), the caller rolls back and writes the batch lead by lead.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use tokio_postgres::types::Json;

use super::inserts::{by_origin, contact_keys, InsertOp};
use super::read::read_lead;
use super::{database, micros};
use crate::lead::{EmployeeId, Lead, LeadId};
use crate::store::{Inserted, StoreError};

/// What became of one insert of the batch, before the answer is built.
enum Fate {
    /// Stored as a new lead with the id drawn for it.
    New {
        assigned_by_contact: bool,
    },
    /// Its origin was stored already (before this batch, or by a lead
    /// earlier in it, whose position is given).
    Stored(Box<Lead>),
    SameAsEarlierInBatch(usize),
}

pub(super) async fn write(
    tx: &Transaction<'_>,
    batch: &mut [InsertOp],
    now: i64,
) -> Result<Vec<Inserted>, StoreError> {
    let mut fates: Vec<Option<Fate>> = (0..batch.len()).map(|_| None).collect();
    settle_origins(tx, batch, &mut fates).await?;
    let stored = stored_by_contact(tx, batch, &fates).await?;
    // In arrival order, so each lead sees the assignees of those before it.
    for index in 0..batch.len() {
        if fates[index].is_some() {
            continue;
        }
        let mut assigned_by_contact = false;
        if batch[index].lead.assigned_to.is_none() {
            if batch[index].assignment.by_earlier_contact {
                let found = earlier_in_batch(batch, &fates, index)
                    .or_else(|| stored.get(&index).map(|(_, assignee)| *assignee));
                if let Some(assignee) = found {
                    let op = &mut batch[index];
                    op.lead.assigned_to = Some(assignee);
                    assigned_by_contact = true;
                    if let Some(stage) = op.assignment.stage_when_found {
                        op.lead.stage = stage;
                    }
                }
            }
            let op = &mut batch[index];
            if op.lead.assigned_to.is_none() {
                op.lead.assigned_to = op.assignment.fallback;
                if let (Some(_), Some(stage)) =
                    (op.lead.assigned_to, op.assignment.stage_when_found)
                {
                    op.lead.stage = stage;
                }
            }
        }
        fates[index] = Some(Fate::New {
            assigned_by_contact,
        });
    }
    let new: Vec<usize> = fates
        .iter()
        .enumerate()
        .filter(|(_, fate)| matches!(fate, Some(Fate::New { .. })))
        .map(|(index, _)| index)
        .collect();
    let inserted = insert_leads(tx, batch, &new).await?;
    // A lead whose origin another transaction committed since the look-up:
    // the unique index skipped it, and the stored one is the answer.
    for &index in &new {
        if !inserted.contains(&batch[index].id) {
            let origin = batch[index].lead.origin.clone();
            let stored = match origin {
                Some(origin) => by_origin(tx, &origin.system, &origin.external_id).await?,
                None => None,
            };
            let stored = stored.ok_or_else(|| {
                StoreError::Database("a lead was neither stored nor found by origin".into())
            })?;
            fates[index] = Some(Fate::Stored(Box::new(stored)));
        }
    }
    let stored_new: Vec<usize> = new
        .into_iter()
        .filter(|index| matches!(fates[*index], Some(Fate::New { .. })))
        .collect();
    insert_contacts(tx, batch, &stored_new).await?;
    insert_deliveries(tx, batch, &stored_new, now).await?;
    let mut answers = Vec::with_capacity(batch.len());
    for index in 0..batch.len() {
        let answer = match fates[index].take() {
            Some(Fate::New {
                assigned_by_contact,
            }) => {
                batch[index].lead.id = Some(batch[index].id);
                Inserted {
                    lead: batch[index].lead.clone(),
                    created: true,
                    assigned_by_contact,
                }
            }
            Some(Fate::Stored(lead)) => Inserted {
                lead,
                created: false,
                assigned_by_contact: false,
            },
            Some(Fate::SameAsEarlierInBatch(first)) => {
                let first: &Inserted = &answers[first];
                Inserted {
                    lead: first.lead.clone(),
                    created: false,
                    assigned_by_contact: false,
                }
            }
            None => return Err(StoreError::Database("an insert was left undecided".into())),
        };
        answers.push(answer);
    }
    Ok(answers)
}

/// Leads whose origin is stored already, or taken by a lead earlier in the
/// batch, are decided here.
async fn settle_origins(
    tx: &Transaction<'_>,
    batch: &[InsertOp],
    fates: &mut [Option<Fate>],
) -> Result<(), StoreError> {
    let mut first_with: HashMap<(&str, &str), usize> = HashMap::new();
    let mut systems = Vec::new();
    let mut external_ids = Vec::new();
    for (index, op) in batch.iter().enumerate() {
        let Some(origin) = &op.lead.origin else {
            continue;
        };
        let key = (origin.system.as_str(), origin.external_id.as_str());
        match first_with.get(&key) {
            Some(&first) => fates[index] = Some(Fate::SameAsEarlierInBatch(first)),
            None => {
                first_with.insert(key, index);
                systems.push(key.0);
                external_ids.push(key.1);
            }
        }
    }
    if systems.is_empty() {
        return Ok(());
    }
    let rows = tx
        .query(
            &tx.prepare_cached(
                "SELECT l.origin_system, l.origin_external_id, l.id, l.doc
             FROM unnest($1::text[], $2::text[]) AS o (system, external_id)
             JOIN leads l ON l.origin_system = o.system AND l.origin_external_id = o.external_id",
            )
            .await
            .map_err(database)?,
            &[&systems, &external_ids],
        )
        .await
        .map_err(database)?;
    for row in rows {
        let system: String = row.get(0);
        let external_id: String = row.get(1);
        if let Some(&index) = first_with.get(&(system.as_str(), external_id.as_str())) {
            fates[index] = Some(Fate::Stored(Box::new(read_lead(row.get(2), row.get(3)))));
        }
    }
    Ok(())
}

/// For each lead that asks to be assigned by contact, the newest stored
/// lead sharing one of its contacts whose assignee it may get: (lead id,
/// assignee), by position in the batch. One query for the whole batch.
async fn stored_by_contact(
    tx: &Transaction<'_>,
    batch: &[InsertOp],
    fates: &[Option<Fate>],
) -> Result<HashMap<usize, (LeadId, EmployeeId)>, StoreError> {
    let mut positions = Vec::new();
    let mut kinds = Vec::new();
    let mut values = Vec::new();
    let mut eligible = Vec::new();
    for (index, op) in batch.iter().enumerate() {
        let wants = fates[index].is_none()
            && op.lead.assigned_to.is_none()
            && op.assignment.by_earlier_contact
            && !op.assignment.eligible.is_empty();
        if !wants {
            continue;
        }
        let allowed = format!(
            "{{{}}}",
            op.assignment
                .eligible
                .iter()
                .map(EmployeeId::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        for (kind, value) in contact_keys(&op.lead) {
            positions.push(index as i32);
            kinds.push(kind);
            values.push(value);
            eligible.push(allowed.clone());
        }
    }
    let mut stored: HashMap<usize, (LeadId, EmployeeId)> = HashMap::new();
    if positions.is_empty() {
        return Ok(stored);
    }
    let rows = tx
        .query(
            &tx.prepare_cached(
                "SELECT q.position, newest.lead_id, newest.assigned_to
             FROM unnest($1::int[], $2::text[], $3::text[], $4::text[])
                 AS q (position, kind, value, eligible)
             CROSS JOIN LATERAL (
                 SELECT c.lead_id, l.assigned_to
                 FROM lead_contacts c JOIN leads l ON l.id = c.lead_id
                 WHERE c.kind = q.kind AND c.value = q.value
                   AND l.assigned_to = ANY(q.eligible::bigint[])
                 ORDER BY c.lead_id DESC LIMIT 1) AS newest",
            )
            .await
            .map_err(database)?,
            &[&positions, &kinds, &values, &eligible],
        )
        .await
        .map_err(database)?;
    for row in rows {
        let position = row.get::<_, i32>(0) as usize;
        let found: (LeadId, EmployeeId) = (row.get(1), row.get(2));
        let newest = stored.entry(position).or_insert(found);
        if found.0 > newest.0 {
            *newest = found;
        }
    }
    Ok(stored)
}

/// The assignee of the latest lead before `index` in the batch that is
/// stored by it and shares a contact, if `index` may get that employee.
fn earlier_in_batch(
    batch: &[InsertOp],
    fates: &[Option<Fate>],
    index: usize,
) -> Option<EmployeeId> {
    let keys = contact_keys(&batch[index].lead);
    if keys.is_empty() {
        return None;
    }
    let eligible = &batch[index].assignment.eligible;
    (0..index).rev().find_map(|earlier| {
        let lead = &batch[earlier].lead;
        let assignee = lead.assigned_to?;
        let stored_here = matches!(fates[earlier], Some(Fate::New { .. }));
        let shares = contact_keys(lead).iter().any(|key| keys.contains(key));
        (stored_here && shares && eligible.contains(&assignee)).then_some(assignee)
    })
}

/// One multi-row INSERT of the leads at `positions`; the ids it stored.
async fn insert_leads(
    tx: &Transaction<'_>,
    batch: &[InsertOp],
    positions: &[usize],
) -> Result<Vec<LeadId>, StoreError> {
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let leads: Vec<(&Lead, LeadId)> = positions
        .iter()
        .map(|&index| (batch[index].lead.as_ref(), batch[index].id))
        .collect();
    let column = |value: fn(&Lead) -> Option<i64>| -> Vec<Option<i64>> {
        leads.iter().map(|(lead, _)| value(lead)).collect()
    };
    let ids: Vec<LeadId> = leads.iter().map(|(_, id)| *id).collect();
    let created_at: Vec<i64> = leads
        .iter()
        .map(|(lead, _)| micros(lead.created_at))
        .collect();
    let updated_at: Vec<i64> = leads
        .iter()
        .map(|(lead, _)| micros(lead.updated_at))
        .collect();
    let completed_at = column(|lead| lead.completed_at.map(micros));
    let stage: Vec<&str> = leads.iter().map(|(lead, _)| lead.stage.as_str()).collect();
    let kind: Vec<Option<&str>> = leads
        .iter()
        .map(|(lead, _)| lead.kind.map(|kind| kind.as_str()))
        .collect();
    let assigned_to = column(|lead| lead.assigned_to);
    let created_by = column(|lead| lead.created_by);
    let completed_by = column(|lead| lead.completed_by);
    let site_id = column(|lead| lead.site.id);
    let department_id = column(|lead| lead.department_id);
    let has_email: Vec<i64> = leads
        .iter()
        .map(|(lead, _)| i64::from(lead.has_email()))
        .collect();
    let has_phone: Vec<i64> = leads
        .iter()
        .map(|(lead, _)| i64::from(lead.has_phone()))
        .collect();
    let lock_by = column(|lead| lead.lock.as_ref().map(|lock| lock.by));
    let lock_until = column(|lead| lead.lock.as_ref().map(|lock| micros(lock.until)));
    let origin_system: Vec<Option<&str>> = leads
        .iter()
        .map(|(lead, _)| lead.origin.as_ref().map(|origin| origin.system.as_str()))
        .collect();
    let origin_external_id: Vec<Option<&str>> = leads
        .iter()
        .map(|(lead, _)| {
            lead.origin
                .as_ref()
                .map(|origin| origin.external_id.as_str())
        })
        .collect();
    let doc: Vec<Json<&Lead>> = leads.iter().map(|(lead, _)| Json(*lead)).collect();
    let rows = tx
        .query(
            &tx.prepare_cached("INSERT INTO leads (id, created_at, updated_at, completed_at, stage, kind, assigned_to,
                created_by, completed_by, site_id, department_id, has_email, has_phone, lock_by,
                lock_until, origin_system, origin_external_id, doc)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
                $16::text[], $17::text[], $18::jsonb[])
             ON CONFLICT (origin_system, origin_external_id) WHERE origin_system IS NOT NULL
             DO NOTHING
             RETURNING id")
                .await
                .map_err(database)?,
            &[
                &ids,
                &created_at,
                &updated_at,
                &completed_at,
                &stage,
                &kind,
                &assigned_to,
                &created_by,
                &completed_by,
                &site_id,
                &department_id,
                &has_email,
                &has_phone,
                &lock_by,
                &lock_until,
                &origin_system,
                &origin_external_id,
                &doc,
            ],
        )
        .await
        .map_err(database)?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

async fn insert_contacts(
    tx: &Transaction<'_>,
    batch: &[InsertOp],
    positions: &[usize],
) -> Result<(), StoreError> {
    let mut kinds = Vec::new();
    let mut values = Vec::new();
    let mut ids = Vec::new();
    for &index in positions {
        for (kind, value) in contact_keys(&batch[index].lead) {
            kinds.push(kind);
            values.push(value);
            ids.push(batch[index].id);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO lead_contacts (kind, value, lead_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(database)?,
        &[&kinds, &values, &ids],
    )
    .await
    .map_err(database)?;
    Ok(())
}

async fn insert_deliveries(
    tx: &Transaction<'_>,
    batch: &[InsertOp],
    positions: &[usize],
    now: i64,
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    let mut targets = Vec::new();
    for &index in positions {
        for target in &batch[index].forward_to {
            ids.push(batch[index].id);
            targets.push(target.as_str());
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO deliveries (lead_id, target, state, due_at, created_at, updated_at)
         SELECT lead_id, target, 'pending', $3, $3, $3
         FROM unnest($1::bigint[], $2::text[]) AS d (lead_id, target)
         ON CONFLICT (lead_id, target) DO NOTHING",
        )
        .await
        .map_err(database)?,
        &[&ids, &targets, &now],
    )
    .await
    .map_err(database)?;
    Ok(())
}
