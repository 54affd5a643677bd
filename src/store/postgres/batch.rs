//! A batch of inserts in a fixed number of round trips, whatever its size:
//! one carrying the contact locks, the look-up of the origins already
//! stored and that of the earlier leads sharing a contact (pipelined), and
//! one multi-row INSERT of the leads that also inserts their contacts and
//! deliveries. A round trip per lead per step is what kept the per-lead
//! path at about a tenth of the SQLite store's adds, and each round trip
//! saved is CPU saved on both ends (BENCHMARKS.md). Each statement is
//! prepared once per connection (`prepare_cached`): planning these
//! array-heavy statements anew on every batch cost the server more than
//! running them. All or nothing: if any
//! statement fails (a lead PostgreSQL cannot store, such as text with a NUL
//! character), the caller rolls back and writes the batch lead by lead.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use tokio_postgres::types::Json;
use tokio_postgres::Row;

use futures_util::future::try_join3;

use super::inserts::{by_origin, contact_keys, contact_lock_keys, InsertOp, LOCK_CONTACTS};
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
    let origins = OriginLookup::of(batch, &mut fates);
    let contacts = ContactLookup::of(batch, &fates);
    let lock_keys = contact_lock_keys(batch.iter());
    // All three are prepared before any is sent (after a connection's
    // first batch these are cache hits, no round trip), so that the three
    // below leave in this order.
    let lock = tx.prepare_cached(LOCK_CONTACTS).await.map_err(database)?;
    let by_origin_statement = tx.prepare_cached(BY_ORIGIN).await.map_err(database)?;
    let by_contact_statement = tx.prepare_cached(BY_CONTACT).await.map_err(database)?;
    // One round trip for the three: tokio-postgres sends a statement on its
    // first poll and the server runs them in the order sent, so the contact
    // locks are held before the look-up reads.
    let (_, origin_rows, contact_rows) = try_join3(
        async {
            if lock_keys.is_empty() {
                return Ok(0);
            }
            tx.execute(&lock, &[&lock_keys]).await
        },
        async {
            if origins.systems.is_empty() {
                return Ok(Vec::new());
            }
            tx.query(
                &by_origin_statement,
                &[&origins.systems, &origins.external_ids],
            )
            .await
        },
        async {
            if contacts.positions.is_empty() {
                return Ok(Vec::new());
            }
            tx.query(
                &by_contact_statement,
                &[
                    &contacts.positions,
                    &contacts.kinds,
                    &contacts.values,
                    &contacts.eligible,
                ],
            )
            .await
        },
    )
    .await
    .map_err(database)?;
    origins.settle(origin_rows, &mut fates);
    let stored = ContactLookup::newest(contact_rows);
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
    let inserted = insert_leads(tx, batch, &new, now).await?;
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

/// The stored leads with any of the origins of a batch.
const BY_ORIGIN: &str = "SELECT l.origin_system, l.origin_external_id, l.id, l.doc
    FROM unnest($1::text[], $2::text[]) AS o (system, external_id)
    JOIN leads l ON l.origin_system = o.system AND l.origin_external_id = o.external_id";

/// Per position in the batch and contact, the newest stored lead sharing
/// that contact whose assignee the lead may get.
const BY_CONTACT: &str = "SELECT q.position, newest.lead_id, newest.assigned_to
    FROM unnest($1::int[], $2::text[], $3::text[], $4::text[])
        AS q (position, kind, value, eligible)
    CROSS JOIN LATERAL (
        SELECT c.lead_id, l.assigned_to
        FROM lead_contacts c JOIN leads l ON l.id = c.lead_id
        WHERE c.kind = q.kind AND c.value = q.value
          AND l.assigned_to = ANY(q.eligible::bigint[])
        ORDER BY c.lead_id DESC LIMIT 1) AS newest";

/// The origins of a batch to look up. A lead whose origin a lead earlier
/// in the batch has is decided when this is built.
struct OriginLookup<'a> {
    first_with: HashMap<(&'a str, &'a str), usize>,
    systems: Vec<&'a str>,
    external_ids: Vec<&'a str>,
}

impl<'a> OriginLookup<'a> {
    fn of(batch: &'a [InsertOp], fates: &mut [Option<Fate>]) -> OriginLookup<'a> {
        let mut lookup = OriginLookup {
            first_with: HashMap::new(),
            systems: Vec::new(),
            external_ids: Vec::new(),
        };
        for (index, op) in batch.iter().enumerate() {
            let Some(origin) = &op.lead.origin else {
                continue;
            };
            let key = (origin.system.as_str(), origin.external_id.as_str());
            match lookup.first_with.get(&key) {
                Some(&first) => fates[index] = Some(Fate::SameAsEarlierInBatch(first)),
                None => {
                    lookup.first_with.insert(key, index);
                    lookup.systems.push(key.0);
                    lookup.external_ids.push(key.1);
                }
            }
        }
        lookup
    }

    /// Leads whose origin is stored already are decided here.
    fn settle(&self, rows: Vec<Row>, fates: &mut [Option<Fate>]) {
        for row in rows {
            let system: String = row.get(0);
            let external_id: String = row.get(1);
            if let Some(&index) = self
                .first_with
                .get(&(system.as_str(), external_id.as_str()))
            {
                fates[index] = Some(Fate::Stored(Box::new(read_lead(row.get(2), row.get(3)))));
            }
        }
    }
}

/// The contacts of the leads that ask to be assigned by an earlier lead's
/// contact, one row per contact, for `BY_CONTACT`. A lead whose origin
/// turns out to be stored is looked up too and its answer left unused:
/// that keeps this look-up independent of the origins', so both go in one
/// round trip.
struct ContactLookup {
    positions: Vec<i32>,
    kinds: Vec<&'static str>,
    values: Vec<String>,
    eligible: Vec<String>,
}

impl ContactLookup {
    fn of(batch: &[InsertOp], fates: &[Option<Fate>]) -> ContactLookup {
        let mut lookup = ContactLookup {
            positions: Vec::new(),
            kinds: Vec::new(),
            values: Vec::new(),
            eligible: Vec::new(),
        };
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
                lookup.positions.push(index as i32);
                lookup.kinds.push(kind);
                lookup.values.push(value);
                lookup.eligible.push(allowed.clone());
            }
        }
        lookup
    }

    /// Per position in the batch, the newest (lead id, assignee) found.
    fn newest(rows: Vec<Row>) -> HashMap<usize, (LeadId, EmployeeId)> {
        let mut stored: HashMap<usize, (LeadId, EmployeeId)> = HashMap::new();
        for row in rows {
            let position = row.get::<_, i32>(0) as usize;
            let found: (LeadId, EmployeeId) = (row.get(1), row.get(2));
            let newest = stored.entry(position).or_insert(found);
            if found.0 > newest.0 {
                *newest = found;
            }
        }
        stored
    }
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

/// One multi-row INSERT of the leads at `positions`, which also inserts
/// the contacts and deliveries of those it stored; the ids it stored. A
/// lead whose origin another transaction committed meanwhile is skipped by
/// the unique index, and so are its contacts and deliveries.
async fn insert_leads(
    tx: &Transaction<'_>,
    batch: &[InsertOp],
    positions: &[usize],
    now: i64,
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
    let mut contact_kinds = Vec::new();
    let mut contact_values = Vec::new();
    let mut contact_leads = Vec::new();
    let mut delivery_leads = Vec::new();
    let mut delivery_targets = Vec::new();
    for &index in positions {
        let op = &batch[index];
        for (kind, value) in contact_keys(&op.lead) {
            contact_kinds.push(kind);
            contact_values.push(value);
            contact_leads.push(op.id);
        }
        for target in &op.forward_to {
            delivery_leads.push(op.id);
            delivery_targets.push(target.as_str());
        }
    }
    let rows = tx
        .query(
            &tx.prepare_cached(INSERT_LEADS).await.map_err(database)?,
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
                &contact_kinds,
                &contact_values,
                &contact_leads,
                &delivery_leads,
                &delivery_targets,
                &now,
            ],
        )
        .await
        .map_err(database)?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// The leads, and the contacts and deliveries of those stored.
const INSERT_LEADS: &str = "WITH new_leads AS (
        INSERT INTO leads (id, created_at, updated_at, completed_at, stage, kind, assigned_to,
            created_by, completed_by, site_id, department_id, has_email, has_phone, lock_by,
            lock_until, origin_system, origin_external_id, doc)
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
            $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
            $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
            $16::text[], $17::text[], $18::jsonb[])
        ON CONFLICT (origin_system, origin_external_id) WHERE origin_system IS NOT NULL
        DO NOTHING
        RETURNING id),
    new_contacts AS (
        INSERT INTO lead_contacts (kind, value, lead_id)
        SELECT c.kind, c.value, c.lead_id
        FROM unnest($19::text[], $20::text[], $21::bigint[]) AS c (kind, value, lead_id)
        WHERE c.lead_id IN (SELECT id FROM new_leads)
        ON CONFLICT DO NOTHING),
    new_deliveries AS (
        INSERT INTO deliveries (lead_id, target, state, due_at, created_at, updated_at)
        SELECT d.lead_id, d.target, 'pending', $24, $24, $24
        FROM unnest($22::bigint[], $23::text[]) AS d (lead_id, target)
        WHERE d.lead_id IN (SELECT id FROM new_leads)
        ON CONFLICT (lead_id, target, revision) DO NOTHING)
    SELECT id FROM new_leads";
