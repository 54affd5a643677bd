//! The outbox's SQL: delivery rows written beside a new lead, claimed as
//! leases, finished, listed, retried and replayed. Everything that changes a
//! row runs on the writer thread in a transaction of its own; listings run
//! on the reader pool.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::read::read_lead;
use super::time::micros;
use crate::lead::LeadId;
use crate::store::{
    Claim, ClaimedDelivery, DeliveryBacklog, DeliveryCounts, DeliveryFilter, DeliveryOutcome,
    DeliveryRecord, DeliveryState, FinishedDelivery, StoreError, TimeRange,
};

fn from_micros(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(value).unwrap_or_default()
}

/// Queues a new lead for each target, inside the lead's insert transaction.
pub(super) fn enqueue(
    tx: &Transaction<'_>,
    lead_id: LeadId,
    targets: &[String],
    now: i64,
) -> Result<(), StoreError> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (lead_id, target, state, due_at, created_at, updated_at)
         VALUES (?1, ?2, 'pending', ?3, ?3, ?3)
         ON CONFLICT (lead_id, target, revision) DO NOTHING",
    )?;
    for target in targets {
        insert.execute(params![lead_id, target, now])?;
    }
    Ok(())
}

/// Queues a change of a stored lead for each of `targets` that has the
/// lead or may have it, inside the update's transaction. Nothing is queued
/// where the lead's own delivery has not been sent yet (it carries the
/// lead as it is when sent) or is dead (its retry does), nor where a change
/// is already waiting and not in flight: that one reads the lead when it is
/// claimed, so it carries this change too (changes coalesce).
pub(super) fn enqueue_update(
    tx: &Transaction<'_>,
    lead_id: LeadId,
    targets: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (lead_id, target, revision, state, due_at, created_at, updated_at)
         SELECT ?1, ?2,
             (SELECT MAX(revision) + 1 FROM deliveries WHERE lead_id = ?1 AND target = ?2),
             'pending', ?3, ?3, ?3
         WHERE EXISTS (
                 SELECT 1 FROM deliveries
                 WHERE lead_id = ?1 AND target = ?2 AND revision = 0
                   AND (state = 'delivered' OR (state = 'pending' AND claims > 0)))
           AND NOT EXISTS (
                 SELECT 1 FROM deliveries
                 WHERE lead_id = ?1 AND target = ?2 AND revision > 0 AND state = 'pending'
                   AND (claimed_until IS NULL OR claimed_until <= ?3))",
    )?;
    for target in targets {
        insert.execute(params![lead_id, target, now])?;
    }
    Ok(())
}

pub(super) fn claim(
    conn: &mut Connection,
    target: &str,
    limit: usize,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let now = micros(now);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    struct Claimed {
        claim: Claim,
        lead_id: LeadId,
        attempts: u32,
        revision: u32,
    }
    // A change waits for every earlier row of its lead at this target, so
    // the target sees the lead, then its changes, in order.
    let mut claimed: Vec<Claimed> = tx
        .prepare_cached(
            "UPDATE deliveries SET claimed_until = ?1, claims = claims + 1, updated_at = ?2
             WHERE id IN (
                 SELECT id FROM deliveries AS d
                 WHERE target = ?3 AND state = 'pending' AND due_at <= ?2
                   AND (claimed_until IS NULL OR claimed_until <= ?2)
                   AND (revision = 0 OR NOT EXISTS (
                        SELECT 1 FROM deliveries AS earlier
                        WHERE earlier.lead_id = d.lead_id AND earlier.target = d.target
                          AND earlier.revision < d.revision AND earlier.state = 'pending'))
                 ORDER BY due_at, id LIMIT ?4)
             RETURNING id, claims, lead_id, attempts, revision",
        )?
        .query_map(
            params![micros(lease_until), now, target, limit as i64],
            |row| {
                Ok(Claimed {
                    claim: Claim {
                        delivery_id: row.get(0)?,
                        claims: row.get(1)?,
                    },
                    lead_id: row.get(2)?,
                    attempts: row.get(3)?,
                    revision: row.get(4)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    // RETURNING promises no order; deliver in queue order.
    claimed.sort_by_key(|claimed| claimed.claim.delivery_id);
    let mut deliveries = Vec::with_capacity(claimed.len());
    for Claimed {
        claim,
        lead_id,
        attempts,
        revision,
    } in claimed
    {
        let doc: Option<String> = tx
            .prepare_cached("SELECT doc FROM leads WHERE id = ?1")?
            .query_row([lead_id], |row| row.get(0))
            .optional()?;
        let external_id: Option<String> = if revision > 0 {
            tx.prepare_cached(
                "SELECT external_id FROM deliveries
                 WHERE lead_id = ?1 AND target = ?2 AND revision = 0",
            )?
            .query_row(params![lead_id, target], |row| row.get(0))
            .optional()?
            .flatten()
        } else {
            None
        };
        match doc {
            Some(doc) => deliveries.push(ClaimedDelivery {
                claim,
                target: target.to_owned(),
                lead: read_lead(lead_id, &doc)?,
                attempts,
                revision,
                external_id,
            }),
            None => finish_one(
                &tx,
                claim,
                &DeliveryOutcome::Dead {
                    error: "the lead was deleted before it could be delivered".into(),
                },
                now,
            )?,
        }
    }
    tx.commit()?;
    Ok(deliveries)
}

pub(super) fn finish(
    conn: &mut Connection,
    outcomes: &[FinishedDelivery],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for finished in outcomes {
        finish_one(&tx, finished.claim, &finished.outcome, micros(now))?;
    }
    tx.commit()?;
    Ok(())
}

fn finish_one(
    tx: &Transaction<'_>,
    claim: Claim,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<(), StoreError> {
    let key = params![claim.delivery_id, claim.claims, now];
    match outcome {
        DeliveryOutcome::Delivered { external_id } => tx
            .prepare_cached(
                "UPDATE deliveries SET state = 'delivered', claimed_until = NULL,
                    external_id = ?4, last_error = NULL, updated_at = ?3
                 WHERE id = ?1 AND claims = ?2",
            )?
            .execute(params![key[0], key[1], key[2], external_id])?,
        DeliveryOutcome::Retry { error, due } => tx
            .prepare_cached(
                "UPDATE deliveries SET claimed_until = NULL, attempts = attempts + 1,
                    due_at = ?4, last_error = ?5, updated_at = ?3
                 WHERE id = ?1 AND claims = ?2 AND state = 'pending'",
            )?
            .execute(params![key[0], key[1], key[2], micros(*due), error])?,
        DeliveryOutcome::Dead { error } => tx
            .prepare_cached(
                "UPDATE deliveries SET state = 'dead', claimed_until = NULL,
                    attempts = attempts + 1, last_error = ?4, updated_at = ?3
                 WHERE id = ?1 AND claims = ?2 AND state = 'pending'",
            )?
            .execute(params![key[0], key[1], key[2], error])?,
        DeliveryOutcome::Requeue { error } => tx
            .prepare_cached(
                "UPDATE deliveries SET claimed_until = NULL, due_at = ?3, last_error = ?4,
                    updated_at = ?3
                 WHERE id = ?1 AND claims = ?2 AND state = 'pending'",
            )?
            .execute(params![key[0], key[1], key[2], error])?,
    };
    Ok(())
}

/// The WHERE clause of a filter, with its parameters.
fn filter_sql(filter: &DeliveryFilter) -> (String, Vec<Value>) {
    let mut parts = Vec::new();
    let mut values = Vec::new();
    if let Some(ids) = &filter.ids {
        parts.push("id IN (SELECT value FROM json_each(?))");
        values.push(Value::Text(
            serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()),
        ));
    }
    if let Some(target) = &filter.target {
        parts.push("target = ?");
        values.push(Value::Text(target.clone()));
    }
    if let Some(state) = filter.state {
        parts.push("state = ?");
        values.push(Value::Text(state.as_str().into()));
    }
    if let Some(lead_id) = filter.lead_id {
        parts.push("lead_id = ?");
        values.push(Value::Integer(lead_id));
    }
    if let Some(external_id) = &filter.external_id {
        parts.push("external_id = ?");
        values.push(Value::Text(external_id.clone()));
    }
    if let Some(after) = filter.after_id {
        parts.push("id > ?");
        values.push(Value::Integer(after));
    }
    let sql = if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    };
    (sql, values)
}

pub(super) fn list(
    conn: &Connection,
    filter: &DeliveryFilter,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let (clause, mut values) = filter_sql(filter);
    let limit = filter.limit.unwrap_or(100).min(i64::MAX as u64) as i64;
    values.push(Value::Integer(limit));
    let sql = format!(
        "SELECT id, lead_id, target, state, claimed_until, attempts, due_at, last_error,
                external_id, created_at, updated_at, revision
         FROM deliveries{clause} ORDER BY id LIMIT ?"
    );
    let now = micros(now);
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
        let state: String = row.get(3)?;
        let claimed_until: Option<i64> = row.get(4)?;
        Ok(DeliveryRecord {
            id: row.get(0)?,
            lead_id: row.get(1)?,
            target: row.get(2)?,
            state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
            in_flight: state == "pending" && claimed_until.is_some_and(|until| until > now),
            attempts: row.get(5)?,
            due_at: from_micros(row.get(6)?),
            last_error: row.get(7)?,
            external_id: row.get(8)?,
            created_at: from_micros(row.get(9)?),
            updated_at: from_micros(row.get(10)?),
            revision: row.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn counts(
    conn: &Connection,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryCounts>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT target,
            SUM(state = 'pending' AND COALESCE(claimed_until, 0) <= ?1),
            SUM(state = 'pending' AND COALESCE(claimed_until, 0) > ?1),
            SUM(state = 'delivered'),
            SUM(state = 'dead'),
            SUM(state = 'pending' AND attempts > 0 AND COALESCE(claimed_until, 0) <= ?1)
         FROM deliveries GROUP BY target ORDER BY target",
    )?;
    let rows = statement.query_map([micros(now)], |row| {
        Ok(DeliveryCounts {
            target: row.get(0)?,
            pending: row.get::<_, i64>(1)? as u64,
            in_flight: row.get::<_, i64>(2)? as u64,
            delivered: row.get::<_, i64>(3)? as u64,
            dead: row.get::<_, i64>(4)? as u64,
            retrying: row.get::<_, i64>(5)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `Outbox::delivery_backlog`: one query per state, each on its partial
/// index, merged per target.
pub(super) fn backlog(
    conn: &Connection,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryBacklog>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT target, SUM(COALESCE(claimed_until, 0) <= ?1), SUM(COALESCE(claimed_until, 0) > ?1),
            0, MIN(created_at)
         FROM deliveries WHERE state = 'pending' GROUP BY target
         UNION ALL
         SELECT target, 0, 0, COUNT(*), NULL FROM deliveries WHERE state = 'dead' GROUP BY target",
    )?;
    let rows = statement.query_map([micros(now)], |row| {
        Ok(DeliveryBacklog {
            target: row.get(0)?,
            pending: row.get::<_, i64>(1)?.max(0) as u64,
            in_flight: row.get::<_, i64>(2)?.max(0) as u64,
            dead: row.get::<_, i64>(3)?.max(0) as u64,
            oldest_pending: row.get::<_, Option<i64>>(4)?.map(from_micros),
        })
    })?;
    Ok(DeliveryBacklog::merge(rows.collect::<Result<_, _>>()?))
}

pub(super) fn retry(
    conn: &mut Connection,
    filter: &DeliveryFilter,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let (clause, mut values) = filter_sql(filter);
    // A delivered row is replayed, not retried; an in-flight one is left to
    // its worker.
    let guard =
        "state = 'dead' OR (state = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?))";
    let clause = if clause.is_empty() {
        format!(" WHERE ({guard})")
    } else {
        format!("{clause} AND ({guard})")
    };
    let now = micros(now);
    values.push(Value::Integer(now));
    let limit = filter
        .limit
        .map_or(-1, |limit| limit.min(i64::MAX as u64) as i64);
    values.push(Value::Integer(limit));
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = ?, claimed_until = NULL,
            updated_at = ?
         WHERE id IN (SELECT id FROM deliveries{clause} ORDER BY id LIMIT ?)"
    );
    let mut bound = vec![Value::Integer(now), Value::Integer(now)];
    bound.extend(values);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let moved = tx.execute(&sql, rusqlite::params_from_iter(bound))?;
    tx.commit()?;
    Ok(moved as u64)
}

pub(super) fn replay(
    conn: &mut Connection,
    target: &str,
    window: TimeRange,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = micros(now);
    let from = window.from.map_or(i64::MIN, micros);
    let to = window.to.map_or(i64::MAX, micros);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let queued = tx.execute(
        "INSERT INTO deliveries (lead_id, target, state, due_at, created_at, updated_at)
         SELECT id, ?1, 'pending', ?2, ?2, ?2 FROM leads
         WHERE created_at >= ?3 AND created_at < ?4
         ON CONFLICT (lead_id, target, revision) DO UPDATE SET
            state = 'pending', attempts = 0, due_at = excluded.due_at, claimed_until = NULL,
            external_id = NULL, updated_at = excluded.updated_at",
        params![target, now, from, to],
    )?;
    tx.commit()?;
    Ok(queued as u64)
}

/// Delivery rows copied from another store, as they are (a row for the
/// same lead and target already here is kept). A claim does not travel.
pub(super) fn import(
    conn: &mut Connection,
    rows: &[crate::store::DeliveryRecord],
) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut stored = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO deliveries (lead_id, target, state, attempts, due_at, last_error,
                external_id, created_at, updated_at, revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (lead_id, target, revision) DO NOTHING",
        )?;
        for row in rows {
            stored += insert.execute(params![
                row.lead_id,
                row.target,
                row.state.as_str(),
                row.attempts,
                micros(row.due_at),
                row.last_error,
                row.external_id,
                micros(row.created_at),
                micros(row.updated_at),
                row.revision,
            ])? as u64;
        }
    }
    tx.commit()?;
    Ok(stored)
}
