//! Limits shared by the replicas. Pacing slots: one row per key holding
//! when the next request may leave, moved on atomically by whoever takes a
//! slot. Leaky buckets and counts per window for the inbound limits. Times
//! are the database's (`clock_timestamp()`), so replicas whose clocks
//! disagree still agree on the limits.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;

use super::{database, unavailable};
use crate::store::{SharedCounters, SharedPacing, StoreError};

/// Now on the database's clock, in microseconds.
const DB_NOW: &str = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

pub(super) struct PostgresPacing {
    pub(super) pool: Pool,
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn wait(micros: i64) -> Duration {
    Duration::from_micros(micros.max(0) as u64)
}

#[async_trait]
impl SharedPacing for PostgresPacing {
    async fn take_slot(&self, key: &str, interval: Duration) -> Result<Duration, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let row = client
            .query_one(
                &format!(
                    "WITH now AS (SELECT {DB_NOW} AS at)
                     INSERT INTO pacing_slots (key, next_at)
                         SELECT $1, now.at + $2 FROM now
                     ON CONFLICT (key) DO UPDATE
                         SET next_at = GREATEST(pacing_slots.next_at, (SELECT at FROM now)) + $2
                     RETURNING next_at - $2 - (SELECT at FROM now)"
                ),
                &[&key, &micros(interval)],
            )
            .await
            .map_err(database)?;
        Ok(wait(row.get(0)))
    }

    async fn next_slot(&self, key: &str) -> Result<Duration, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let row = client
            .query_opt(
                &format!("SELECT next_at - {DB_NOW} FROM pacing_slots WHERE key = $1"),
                &[&key],
            )
            .await
            .map_err(database)?;
        Ok(row.map_or(Duration::ZERO, |row| wait(row.get(0))))
    }

    async fn hold(&self, key: &str, delay: Duration) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        client
            .execute(
                &format!(
                    "INSERT INTO pacing_slots (key, next_at) VALUES ($1, {DB_NOW} + $2)
                     ON CONFLICT (key) DO UPDATE
                         SET next_at = GREATEST(pacing_slots.next_at, excluded.next_at)"
                ),
                &[&key, &micros(delay)],
            )
            .await
            .map_err(database)?;
        Ok(())
    }
}

#[async_trait]
impl SharedCounters for PostgresPacing {
    async fn leaky_admit(
        &self,
        key: &str,
        capacity: f64,
        per_second: f64,
    ) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await.map_err(unavailable)?;
        let tx = client.transaction().await.map_err(database)?;
        tx.execute(
            &format!(
                "INSERT INTO leaky_buckets (key, level, since) VALUES ($1, 0, {DB_NOW})
                 ON CONFLICT (key) DO NOTHING"
            ),
            &[&key],
        )
        .await
        .map_err(database)?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT level, since, {DB_NOW} FROM leaky_buckets WHERE key = $1 FOR UPDATE"
                ),
                &[&key],
            )
            .await
            .map_err(database)?;
        let (level, since, now): (f64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let drained = (now - since).max(0) as f64 / 1_000_000.0 * per_second;
        let level = (level - drained).max(0.0);
        let admitted = level + 1.0 <= capacity;
        let level = if admitted { level + 1.0 } else { level };
        tx.execute(
            "UPDATE leaky_buckets SET level = $2, since = $3 WHERE key = $1",
            &[&key, &level, &now],
        )
        .await
        .map_err(database)?;
        tx.commit().await.map_err(database)?;
        Ok(admitted)
    }

    async fn add_in_window(&self, key: &str, window: i64, cost: i64) -> Result<i64, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        if cost == 0 {
            // A read (every UIS call checks its budget first) writes nothing.
            let row = client
                .query_opt(
                    "SELECT used FROM window_counts WHERE key = $1 AND window_number = $2",
                    &[&key, &window],
                )
                .await
                .map_err(database)?;
            return Ok(row.map_or(0, |row| row.get(0)));
        }
        // Earlier windows of the key are of no more use.
        let row = client
            .query_one(
                "WITH gone AS (
                     DELETE FROM window_counts WHERE key = $1 AND window_number < $2)
                 INSERT INTO window_counts (key, window_number, used) VALUES ($1, $2, $3)
                 ON CONFLICT (key, window_number)
                     DO UPDATE SET used = window_counts.used + excluded.used
                 RETURNING used",
                &[&key, &window, &cost],
            )
            .await
            .map_err(database)?;
        Ok(row.get(0))
    }
}
