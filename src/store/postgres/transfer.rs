//! `leadgate store copy` into and out of PostgreSQL: leads under their own
//! ids (the id sequence moved past them), delivery rows as they are, and
//! the sessions that have not expired.

use super::write::{write_contacts, Columns};
use super::{database, micros, unavailable, PostgresStore};
use crate::lead::Lead;
use crate::store::{DeliveryRecord, Session, StoreError, Transfer};
use async_trait::async_trait;

#[async_trait]
impl Transfer for PostgresStore {
    async fn import_leads(&self, leads: Vec<Lead>) -> Result<u64, StoreError> {
        let mut client = self.pool.get().await.map_err(unavailable)?;
        let tx = client.transaction().await.map_err(database)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO leads (created_at, updated_at, completed_at, stage, kind, assigned_to,
                    created_by, completed_by, site_id, department_id, has_email, has_phone,
                    lock_by, lock_until, origin_system, origin_external_id, doc, id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    $17, $18)
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(database)?;
        let mut stored = 0;
        for lead in &leads {
            let Some(id) = lead.id else {
                continue;
            };
            let columns = Columns::of(lead);
            let mut bound = columns.params();
            bound.push(&id);
            let inserted = tx.execute(&insert, &bound).await.map_err(database)?;
            if inserted > 0 {
                write_contacts(&tx, lead).await?;
                stored += 1;
            }
        }
        // New leads take ids after the copied ones.
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('leads', 'id'), GREATEST(MAX(id), 1))
             FROM leads",
            &[],
        )
        .await
        .map_err(database)?;
        tx.commit().await.map_err(database)?;
        Ok(stored)
    }

    async fn import_deliveries(&self, rows: Vec<DeliveryRecord>) -> Result<u64, StoreError> {
        let mut client = self.pool.get().await.map_err(unavailable)?;
        let tx = client.transaction().await.map_err(database)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO deliveries (lead_id, target, state, attempts, due_at, last_error,
                    external_id, created_at, updated_at, revision)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (lead_id, target, revision) DO NOTHING",
            )
            .await
            .map_err(database)?;
        let mut stored = 0;
        for row in &rows {
            stored += tx
                .execute(
                    &insert,
                    &[
                        &row.lead_id,
                        &row.target,
                        &row.state.as_str(),
                        &i64::from(row.attempts),
                        &micros(row.due_at),
                        &row.last_error,
                        &row.external_id,
                        &micros(row.created_at),
                        &micros(row.updated_at),
                        &(row.revision.min(i32::MAX as u32) as i32),
                    ],
                )
                .await
                .map_err(database)?;
        }
        tx.commit().await.map_err(database)?;
        Ok(stored)
    }

    async fn export_sessions(&self) -> Result<Vec<(String, Session)>, StoreError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let rows = client
            .query(
                "SELECT digest, subject, expires FROM sessions WHERE expires > $1 ORDER BY digest",
                &[&micros(chrono::Utc::now())],
            )
            .await
            .map_err(database)?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let expires = chrono::DateTime::from_timestamp_micros(row.get(2))?;
                Some((
                    row.get(0),
                    Session {
                        subject: row.get(1),
                        expires,
                    },
                ))
            })
            .collect())
    }
}
