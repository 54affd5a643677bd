//! The PostgreSQL store, for several gateway replicas on one database.
//!
//! Everything that must hold across replicas is decided by the database:
//! ids by an identity column, one lead per origin by a unique index,
//! assignment by earlier contact under a per-contact advisory lock, changes
//! under `FOR UPDATE`, delivery claims with `SKIP LOCKED` and leases kept in
//! rows. Inserts are grouped into shared transactions (write.rs) and
//! acknowledged only after their commit.

mod batch;
mod inserts;
mod outbox;
mod pacing;
mod read;
mod schema;
#[cfg(test)]
mod tests;
mod transfer;
mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::config::SslMode;

use super::{
    AssigneeStats, Assignment, ClaimedDelivery, DeleteCheck, Deleted, DeliveryBacklog,
    DeliveryCounts, DeliveryFilter, DeliveryRecord, FinishedDelivery, Inserted, LeadChange,
    LeadPage, LeadQuery, LeadStore, Outbox, Session, SessionStore, SharedCounters, SharedPacing,
    Store, StoreError, TimeRange,
};
use crate::lead::{Lead, LeadId};
use inserts::InsertOp;

#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// `postgres://user@host:port/database`, with `sslmode=require` for TLS.
    pub url: String,
    /// Connections this process holds at most.
    pub pool_size: usize,
    /// Most inserts committed in one transaction.
    pub max_batch: usize,
    /// Transactions of inserts in flight at once.
    pub writers: usize,
    /// Tables live in this schema instead of the user's default one
    /// (`search_path`); created if missing.
    pub schema: Option<String>,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            pool_size: 16,
            max_batch: 256,
            writers: 4,
            schema: None,
        }
    }
}

pub struct PostgresStore {
    pool: Pool,
    inserts: std::sync::Mutex<Option<mpsc::Sender<InsertOp>>>,
    writers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The database's own message and code where it gave one (never its
/// detail, which can quote the values a caller sent).
pub(super) fn database(error: tokio_postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) => StoreError::Database(format!("{} ({})", db.message(), db.code().code())),
        None => StoreError::Database(error.to_string()),
    }
}

/// No connection could be had: the database is down or unreachable.
pub(super) fn unavailable(error: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Database(format!("the database is unavailable: {error}"))
}

pub(super) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// A schema name used in `search_path` and `CREATE SCHEMA`: letters,
/// digits and underscores only, so it never needs quoting.
fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
        && !name.starts_with(|character: char| character.is_ascii_digit())
}

fn open_error(options: &PostgresOptions, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        path: redacted(&options.url),
        reason: reason.to_string(),
    }
}

/// The URL without its password, for messages and logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let user_info = &url[scheme_end + 3..at];
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl PostgresStore {
    pub async fn open(options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&options.url)
            .map_err(|error| open_error(&options, error))?;
        if let Some(schema) = &options.schema {
            if !valid_schema(schema) {
                return Err(open_error(
                    &options,
                    format!("schema {schema:?} must be letters, digits and underscores"),
                ));
            }
            config.options(format!("-c search_path={schema}"));
        }
        config.connect_timeout(Duration::from_secs(5));
        if config.get_application_name().is_none() {
            config.application_name("leadgate");
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == SslMode::Require {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let tls = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            Manager::from_config(
                config,
                tokio_postgres_rustls::MakeRustlsConnect::new(tls),
                manager_config,
            )
        } else {
            // Without `sslmode=require` the connection is plain, as libpq's
            // `prefer` ends up against a server without TLS; a URL asks for
            // TLS explicitly.
            config.ssl_mode(SslMode::Disable);
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(options.writers + 2))
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|error| open_error(&options, error))?;
        let mut client = pool
            .get()
            .await
            .map_err(|error| open_error(&options, error))?;
        if let Some(schema) = &options.schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(|error| open_error(&options, error))?;
        }
        schema::migrate(&mut client)
            .await
            .map_err(|error| open_error(&options, error))?;
        drop(client);
        let (sender, receiver) = mpsc::channel(8192);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = (0..options.writers.max(1))
            .map(|_| {
                tokio::spawn(write::run_writer(
                    pool.clone(),
                    receiver.clone(),
                    options.max_batch.max(1),
                ))
            })
            .collect();
        Ok(PostgresStore {
            pool,
            inserts: std::sync::Mutex::new(Some(sender)),
            writers: std::sync::Mutex::new(writers),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }

    fn insert_queue(&self) -> Result<mpsc::Sender<InsertOp>, StoreError> {
        self.inserts
            .lock()
            .map_err(|_| StoreError::Closed)?
            .clone()
            .ok_or(StoreError::Closed)
    }
}

#[async_trait]
impl LeadStore for PostgresStore {
    async fn insert(
        &self,
        lead: Box<Lead>,
        assignment: Assignment,
        forward_to: Vec<String>,
    ) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.insert_queue()?
            .send(InsertOp {
                id: 0,
                lead,
                assignment,
                forward_to,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn get(&self, id: LeadId) -> Result<Option<Lead>, StoreError> {
        read::get(&**self.client().await?, id).await
    }

    async fn update_and_forward(
        &self,
        id: LeadId,
        change: LeadChange,
        forward_to: Vec<String>,
    ) -> Result<Option<Lead>, StoreError> {
        write::update(&self.pool, id, change, &forward_to).await
    }

    async fn delete_if(&self, id: LeadId, check: DeleteCheck) -> Result<Deleted, StoreError> {
        write::delete(&self.pool, id, check).await
    }

    async fn query(&self, query: LeadQuery) -> Result<LeadPage, StoreError> {
        read::query(&**self.client().await?, &query).await
    }

    async fn assignee_stats(&self, window: TimeRange) -> Result<Vec<AssigneeStats>, StoreError> {
        read::assignee_stats(&**self.client().await?, window).await
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn put_session(
        &self,
        digest: String,
        subject: String,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        tx.execute("DELETE FROM sessions WHERE expires <= $1", &[&micros(now)])
            .await
            .map_err(database)?;
        tx.execute(
            "INSERT INTO sessions (digest, subject, expires) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO UPDATE SET subject = excluded.subject,
                expires = excluded.expires",
            &[&digest, &subject, &micros(expires)],
        )
        .await
        .map_err(database)?;
        tx.commit().await.map_err(database)
    }

    async fn session(&self, digest: String) -> Result<Option<Session>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT subject, expires FROM sessions WHERE digest = $1",
                &[&digest],
            )
            .await
            .map_err(database)?;
        Ok(row.map(|row| Session {
            subject: row.get(0),
            expires: DateTime::from_timestamp_micros(row.get(1)).unwrap_or_default(),
        }))
    }

    async fn end_session(&self, digest: String) -> Result<bool, StoreError> {
        let removed = self
            .client()
            .await?
            .execute("DELETE FROM sessions WHERE digest = $1", &[&digest])
            .await
            .map_err(database)?;
        Ok(removed > 0)
    }
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn claim_deliveries(
        &self,
        target: String,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        outbox::claim(&self.pool, &target, limit, now, lease_until).await
    }

    async fn finish_deliveries(
        &self,
        outcomes: Vec<FinishedDelivery>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        outbox::finish(&self.pool, &outcomes, now).await
    }

    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        outbox::list(&**self.client().await?, &filter, Utc::now()).await
    }

    async fn count_deliveries(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryCounts>, StoreError> {
        outbox::counts(&**self.client().await?, now).await
    }

    async fn delivery_backlog(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryBacklog>, StoreError> {
        outbox::backlog(&**self.client().await?, now).await
    }

    async fn retry_deliveries(
        &self,
        filter: DeliveryFilter,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        outbox::retry(&self.pool, &filter, now).await
    }

    async fn replay_deliveries(
        &self,
        target: String,
        window: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        outbox::replay(&self.pool, &target, window, now).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn shared_counters(&self) -> Option<Arc<dyn SharedCounters>> {
        Some(Arc::new(pacing::PostgresPacing {
            pool: self.pool.clone(),
        }))
    }

    fn shared_pacing(&self) -> Option<Arc<dyn SharedPacing>> {
        Some(Arc::new(pacing::PostgresPacing {
            pool: self.pool.clone(),
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(database)?;
        Ok(())
    }

    /// Lets the writers commit what is queued, then closes the pool.
    async fn close(&self) -> Result<(), StoreError> {
        let sender = self.inserts.lock().map_err(|_| StoreError::Closed)?.take();
        drop(sender);
        let writers: Vec<_> = match self.writers.lock() {
            Ok(mut writers) => writers.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for writer in writers {
            let _ = writer.await;
        }
        self.pool.close();
        Ok(())
    }
}
