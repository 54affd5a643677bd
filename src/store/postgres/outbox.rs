//! The outbox on PostgreSQL: the same rows and leases as the SQLite store's,
//! claimed with `FOR UPDATE SKIP LOCKED`, so replicas claiming at the same
//! moment take different rows instead of waiting on each other.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

use super::read::read_lead;
use super::{database, micros, unavailable};
use crate::lead::LeadId;
use crate::store::{
    Claim, ClaimedDelivery, DeliveryBacklog, DeliveryCounts, DeliveryFilter, DeliveryOutcome,
    DeliveryRecord, DeliveryState, FinishedDelivery, StoreError, TimeRange,
};

fn from_micros(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(value).unwrap_or_default()
}

/// One pending row per target for a new lead, in its insert transaction.
pub(super) async fn enqueue(
    tx: &Transaction<'_>,
    lead_id: LeadId,
    targets: &[String],
    now: i64,
) -> Result<(), StoreError> {
    if targets.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO deliveries (lead_id, target, state, due_at, created_at, updated_at)
         SELECT $1, target, 'pending', $3, $3, $3 FROM unnest($2::text[]) AS target
         ON CONFLICT (lead_id, target, revision) DO NOTHING",
        &[&lead_id, &targets, &now],
    )
    .await
    .map_err(database)?;
    Ok(())
}

/// Queues a change of a stored lead for each of `targets` that has the
/// lead or may have it, inside the update's transaction (the lead's row
/// already locked). Nothing is queued where the lead's own delivery has not
/// been sent yet (it carries the lead as it is when sent) or is dead (its
/// retry does), nor where a change is already waiting and not in flight:
/// that one reads the lead when it is claimed, so it carries this change
/// too (changes coalesce).
///
/// The lead's delivery rows are locked first: a claim racing this
/// transaction either finishes before it (and the change sees the row in
/// flight, so queues its own) or waits for its commit (and reads the
/// changed lead).
pub(super) async fn enqueue_update(
    tx: &Transaction<'_>,
    lead_id: LeadId,
    targets: &[String],
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "SELECT 1 FROM deliveries WHERE lead_id = $1 AND target = ANY($2) FOR UPDATE",
        &[&lead_id, &targets],
    )
    .await
    .map_err(database)?;
    tx.execute(
        "INSERT INTO deliveries (lead_id, target, revision, state, due_at, created_at, updated_at)
         SELECT $1, t.target,
             (SELECT MAX(revision) + 1 FROM deliveries WHERE lead_id = $1 AND target = t.target),
             'pending', $3, $3, $3
         FROM unnest($2::text[]) AS t (target)
         WHERE EXISTS (
                 SELECT 1 FROM deliveries
                 WHERE lead_id = $1 AND target = t.target AND revision = 0
                   AND (state = 'delivered' OR (state = 'pending' AND claims > 0)))
           AND NOT EXISTS (
                 SELECT 1 FROM deliveries
                 WHERE lead_id = $1 AND target = t.target AND revision > 0 AND state = 'pending'
                   AND (claimed_until IS NULL OR claimed_until <= $3))",
        &[&lead_id, &targets, &now],
    )
    .await
    .map_err(database)?;
    Ok(())
}

pub(super) async fn claim(
    pool: &Pool,
    target: &str,
    limit: usize,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let now = micros(now);
    let mut client = pool.get().await.map_err(unavailable)?;
    let tx = client.transaction().await.map_err(database)?;
    let rows = tx
        .query(
            "UPDATE deliveries SET claimed_until = $1, claims = claims + 1, updated_at = $2
             WHERE id IN (
                 SELECT id FROM deliveries AS d
                 WHERE target = $3 AND state = 'pending' AND due_at <= $2
                   AND (claimed_until IS NULL OR claimed_until <= $2)
                   AND (revision = 0 OR NOT EXISTS (
                        SELECT 1 FROM deliveries AS earlier
                        WHERE earlier.lead_id = d.lead_id AND earlier.target = d.target
                          AND earlier.revision < d.revision AND earlier.state = 'pending'))
                 ORDER BY due_at, id LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, claims, lead_id, attempts, revision",
            &[&micros(lease_until), &now, &target, &(limit as i64)],
        )
        .await
        .map_err(database)?;
    struct Claimed {
        claim: Claim,
        lead_id: LeadId,
        attempts: i64,
        revision: i32,
    }
    // A change waits for every earlier row of its lead at this target, so
    // the target sees the lead, then its changes, in order.
    let mut claimed: Vec<Claimed> = rows
        .iter()
        .map(|row| Claimed {
            claim: Claim {
                delivery_id: row.get(0),
                claims: row.get(1),
            },
            lead_id: row.get(2),
            attempts: row.get(3),
            revision: row.get(4),
        })
        .collect();
    claimed.sort_by_key(|claimed| claimed.claim.delivery_id);
    let mut deliveries = Vec::with_capacity(claimed.len());
    for Claimed {
        claim,
        lead_id,
        attempts,
        revision,
    } in claimed
    {
        let doc = tx
            .query_opt("SELECT doc FROM leads WHERE id = $1", &[&lead_id])
            .await
            .map_err(database)?;
        let external_id: Option<String> = if revision > 0 {
            tx.query_opt(
                "SELECT external_id FROM deliveries
                 WHERE lead_id = $1 AND target = $2 AND revision = 0",
                &[&lead_id, &target],
            )
            .await
            .map_err(database)?
            .and_then(|row| row.get(0))
        } else {
            None
        };
        match doc {
            Some(row) => deliveries.push(ClaimedDelivery {
                claim,
                target: target.to_owned(),
                lead: read_lead(lead_id, row.get(0)),
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                revision: revision.max(0) as u32,
                external_id,
            }),
            None => {
                finish_one(
                    &tx,
                    claim,
                    &DeliveryOutcome::Dead {
                        error: "the lead was deleted before it could be delivered".into(),
                    },
                    now,
                )
                .await?
            }
        }
    }
    tx.commit().await.map_err(database)?;
    Ok(deliveries)
}

pub(super) async fn finish(
    pool: &Pool,
    outcomes: &[FinishedDelivery],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(unavailable)?;
    let tx = client.transaction().await.map_err(database)?;
    for finished in outcomes {
        finish_one(&tx, finished.claim, &finished.outcome, micros(now)).await?;
    }
    tx.commit().await.map_err(database)?;
    Ok(())
}

/// Records one outcome under its claim: a claim that is no longer current
/// matches no row and changes nothing.
async fn finish_one(
    tx: &Transaction<'_>,
    claim: Claim,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<(), StoreError> {
    let id = claim.delivery_id;
    let claims = claim.claims;
    match outcome {
        DeliveryOutcome::Delivered { external_id } => {
            tx.execute(
                "UPDATE deliveries SET state = 'delivered', claimed_until = NULL,
                    external_id = $4, last_error = NULL, updated_at = $3
                 WHERE id = $1 AND claims = $2",
                &[&id, &claims, &now, external_id],
            )
            .await
        }
        DeliveryOutcome::Retry { error, due } => {
            tx.execute(
                "UPDATE deliveries SET claimed_until = NULL, attempts = attempts + 1,
                    due_at = $4, last_error = $5, updated_at = $3
                 WHERE id = $1 AND claims = $2 AND state = 'pending'",
                &[&id, &claims, &now, &micros(*due), error],
            )
            .await
        }
        DeliveryOutcome::Dead { error } => {
            tx.execute(
                "UPDATE deliveries SET state = 'dead', claimed_until = NULL,
                    attempts = attempts + 1, last_error = $4, updated_at = $3
                 WHERE id = $1 AND claims = $2 AND state = 'pending'",
                &[&id, &claims, &now, error],
            )
            .await
        }
        DeliveryOutcome::Requeue { error } => {
            tx.execute(
                "UPDATE deliveries SET claimed_until = NULL, due_at = $3, last_error = $4,
                    updated_at = $3
                 WHERE id = $1 AND claims = $2 AND state = 'pending'",
                &[&id, &claims, &now, error],
            )
            .await
        }
    }
    .map_err(database)?;
    Ok(())
}

type Param = Box<dyn ToSql + Sync + Send>;

/// The WHERE parts of a delivery filter; placeholders start after `offset`.
fn filter_sql(filter: &DeliveryFilter, params: &mut Vec<Param>) -> Vec<String> {
    let mut parts = Vec::new();
    let mut add = |part: &str, value: Param, params: &mut Vec<Param>| {
        params.push(value);
        parts.push(part.replace('?', &format!("${}", params.len())));
    };
    if let Some(ids) = &filter.ids {
        add("id = ANY(?)", Box::new(ids.clone()), params);
    }
    if let Some(target) = &filter.target {
        add("target = ?", Box::new(target.clone()), params);
    }
    if let Some(state) = filter.state {
        add("state = ?", Box::new(state.as_str().to_owned()), params);
    }
    if let Some(lead_id) = filter.lead_id {
        add("lead_id = ?", Box::new(lead_id), params);
    }
    if let Some(external_id) = &filter.external_id {
        add("external_id = ?", Box::new(external_id.clone()), params);
    }
    if let Some(after) = filter.after_id {
        add("id > ?", Box::new(after), params);
    }
    parts
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| param.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

pub(super) async fn list(
    client: &impl GenericClient,
    filter: &DeliveryFilter,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let mut params: Vec<Param> = Vec::new();
    let parts = filter_sql(filter, &mut params);
    let clause = if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    };
    let limit = filter.limit.unwrap_or(100).min(i64::MAX as u64) as i64;
    params.push(Box::new(limit));
    let sql = format!(
        "SELECT id, lead_id, target, state, claimed_until, attempts, due_at, last_error,
                external_id, created_at, updated_at, revision
         FROM deliveries{clause} ORDER BY id LIMIT ${}",
        params.len()
    );
    let now = micros(now);
    let rows = client.query(&sql, &refs(&params)).await.map_err(database)?;
    Ok(rows
        .iter()
        .map(|row| {
            let state: String = row.get(3);
            let claimed_until: Option<i64> = row.get(4);
            let attempts: i64 = row.get(5);
            DeliveryRecord {
                id: row.get(0),
                lead_id: row.get(1),
                target: row.get(2),
                state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
                in_flight: state == "pending" && claimed_until.is_some_and(|until| until > now),
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                due_at: from_micros(row.get(6)),
                last_error: row.get(7),
                external_id: row.get(8),
                created_at: from_micros(row.get(9)),
                updated_at: from_micros(row.get(10)),
                revision: row.get::<_, i32>(11).max(0) as u32,
            }
        })
        .collect())
}

pub(super) async fn counts(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryCounts>, StoreError> {
    let rows = client
        .query(
            "SELECT target,
                COUNT(*) FILTER (WHERE state = 'pending' AND COALESCE(claimed_until, 0) <= $1),
                COUNT(*) FILTER (WHERE state = 'pending' AND COALESCE(claimed_until, 0) > $1),
                COUNT(*) FILTER (WHERE state = 'delivered'),
                COUNT(*) FILTER (WHERE state = 'dead'),
                COUNT(*) FILTER (WHERE state = 'pending' AND attempts > 0
                    AND COALESCE(claimed_until, 0) <= $1)
             FROM deliveries GROUP BY target ORDER BY target",
            &[&micros(now)],
        )
        .await
        .map_err(database)?;
    let count = |value: i64| value.max(0) as u64;
    Ok(rows
        .iter()
        .map(|row| DeliveryCounts {
            target: row.get(0),
            pending: count(row.get(1)),
            in_flight: count(row.get(2)),
            delivered: count(row.get(3)),
            dead: count(row.get(4)),
            retrying: count(row.get(5)),
        })
        .collect())
}

/// `Outbox::delivery_backlog`: one query per state, each on its partial
/// index, merged per target.
pub(super) async fn backlog(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryBacklog>, StoreError> {
    let rows = client
        .query(
            "SELECT target,
                COUNT(*) FILTER (WHERE COALESCE(claimed_until, 0) <= $1),
                COUNT(*) FILTER (WHERE COALESCE(claimed_until, 0) > $1),
                0::bigint, MIN(created_at)
             FROM deliveries WHERE state = 'pending' GROUP BY target
             UNION ALL
             SELECT target, 0, 0, COUNT(*), NULL FROM deliveries WHERE state = 'dead' GROUP BY target",
            &[&micros(now)],
        )
        .await
        .map_err(database)?;
    let count = |value: i64| value.max(0) as u64;
    Ok(DeliveryBacklog::merge(
        rows.iter()
            .map(|row| DeliveryBacklog {
                target: row.get(0),
                pending: count(row.get(1)),
                in_flight: count(row.get(2)),
                dead: count(row.get(3)),
                oldest_pending: row.get::<_, Option<i64>>(4).map(from_micros),
            })
            .collect(),
    ))
}

pub(super) async fn retry(
    pool: &Pool,
    filter: &DeliveryFilter,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = micros(now);
    let mut params: Vec<Param> = vec![Box::new(now)];
    let mut parts = filter_sql(filter, &mut params);
    // A delivered row is replayed, not retried; an in-flight one is left to
    // its worker.
    parts.push(
        "(state = 'dead' OR (state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $1)))"
            .into(),
    );
    let limit = filter
        .limit
        .map_or(i64::MAX, |limit| limit.min(i64::MAX as u64) as i64);
    params.push(Box::new(limit));
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = $1, claimed_until = NULL,
            updated_at = $1
         WHERE id IN (SELECT id FROM deliveries WHERE {} ORDER BY id LIMIT ${})",
        parts.join(" AND "),
        params.len()
    );
    let client = pool.get().await.map_err(unavailable)?;
    let moved = client
        .execute(&sql, &refs(&params))
        .await
        .map_err(database)?;
    Ok(moved)
}

pub(super) async fn replay(
    pool: &Pool,
    target: &str,
    window: TimeRange,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = micros(now);
    let from = window.from.map_or(i64::MIN, micros);
    let to = window.to.map_or(i64::MAX, micros);
    let client = pool.get().await.map_err(unavailable)?;
    let queued = client
        .execute(
            "INSERT INTO deliveries (lead_id, target, state, due_at, created_at, updated_at)
             SELECT id, $1, 'pending', $2, $2, $2 FROM leads
             WHERE created_at >= $3 AND created_at < $4
             ON CONFLICT (lead_id, target, revision) DO UPDATE SET
                state = 'pending', attempts = 0, due_at = excluded.due_at, claimed_until = NULL,
                external_id = NULL, updated_at = excluded.updated_at",
            &[&target, &now, &from, &to],
        )
        .await
        .map_err(database)?;
    Ok(queued)
}
