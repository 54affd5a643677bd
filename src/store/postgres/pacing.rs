//! Pacing slots shared by the replicas: one row per key holding when the
//! next request may leave, moved on atomically by whoever takes a slot.
//! Times are the database's (`clock_timestamp()`), so replicas whose clocks
//! disagree still space their requests evenly.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;

use super::{database, unavailable};
use crate::store::{SharedPacing, StoreError};

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
