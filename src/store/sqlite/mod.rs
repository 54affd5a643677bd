//! The embedded default store: one SQLite file in WAL mode.
//!
//! Writes go through a single writer thread that commits whatever has queued
//! up while the previous commit was being fsynced, in one transaction: group
//! commit, so a burst of requests shares one fsync instead of paying one each.
//! A request hears success only after its transaction is committed with
//! `synchronous = FULL`. Reads run on a small pool of separate connections and
//! never wait for the writer.

pub mod backup;
mod bloom;
mod bucket_filters;
mod buckets;
mod checkpoint;
mod contacts;
mod holder;
mod outbox;
mod read;
mod schema;
mod stats;
mod time;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{
    AssigneeStats, Assignment, ClaimedDelivery, DeleteCheck, Deleted, DeliveryBacklog,
    DeliveryCounts, DeliveryFilter, DeliveryRecord, FinishedDelivery, Inserted, LeadChange,
    LeadPage, LeadQuery, LeadStore, Outbox, Session, SessionStore, Store, StoreError, TimeRange,
    Transfer,
};
use crate::lead::{Lead, LeadId};
use checkpoint::Checkpointer;
use writer::WriteOp;

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub read_connections: usize,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Writes waiting for the writer before callers wait to enqueue (back-pressure).
    pub queue_depth: usize,
    /// This process keeps the file tidy: WAL checkpoints, the TRUNCATE on
    /// close and merging the contact index. `leadgate deliveries`, which
    /// opens the store beside a running gateway, turns it off so it never
    /// holds the log or the write lock longer than its own statements.
    pub maintenance: bool,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            read_connections: 4,
            max_batch: 512,
            queue_depth: 8192,
            maintenance: true,
        }
    }
}

pub struct SqliteStore {
    /// The exclusive lock on `<file>.lock` a gateway holds while open.
    holder: Mutex<Option<std::fs::File>>,
    writes: mpsc::Sender<WriteOp>,
    readers: Arc<ReaderPool>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    checkpointer: Mutex<Option<Checkpointer>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let open_error = |error: rusqlite::Error| StoreError::Open {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(open_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    if !read_only {
        // WAL lets readers run beside the writer; FULL makes every commit fsync
        // the log, which is what "durable before acknowledged" needs.
        // Checkpoints run on their own thread (checkpoint.rs), not inside a
        // commit; savepoint journals stay in memory; a larger page cache keeps
        // the indexes' hot pages from being re-read.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;",
        )
        .map_err(open_error)?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating the file and its directory on first run) and migrates.
    pub fn open(options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = options
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| StoreError::Open {
                path: options.path.display().to_string(),
                reason: error.to_string(),
            })?;
        }
        // One gateway per file: the writer's memory (the contact tail, the
        // counters' assumptions) is the only writer's. A command beside it
        // (`leadgate deliveries`) goes through SQLite's own locking.
        let holder = if options.maintenance {
            Some(holder::take(&options.path)?)
        } else {
            None
        };
        let mut write_conn = open_connection(&options.path, false)?;
        schema::migrate(&mut write_conn).map_err(|error| StoreError::Open {
            path: options.path.display().to_string(),
            reason: format!("migration failed: {error}"),
        })?;
        if options.maintenance {
            // Statistics for the query planner, so a filter on a selective
            // partial index (leads without an e-mail) uses it instead of
            // scanning every lead. `analysis_limit` keeps this to a few
            // milliseconds however large the store; the readers opened
            // below load the result.
            write_conn
                .execute_batch("PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;")
                .map_err(|error| StoreError::Open {
                    path: options.path.display().to_string(),
                    reason: format!("cannot gather planner statistics: {error}"),
                })?;
        }
        let contacts = contacts::ContactIndex::load(&write_conn, options.maintenance)?;
        let mut readers = Vec::with_capacity(options.read_connections.max(1));
        for _ in 0..options.read_connections.max(1) {
            readers.push(open_connection(&options.path, true)?);
        }
        let (writes, queue) = mpsc::channel(options.queue_depth.max(1));
        let max_batch = options.max_batch.max(1);
        let restart_wanted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer_restart = restart_wanted.clone();
        let maintenance = options.maintenance;
        let writer_thread = std::thread::Builder::new()
            .name("leadgate-sqlite-writer".into())
            .spawn(move || {
                writer::run(
                    write_conn,
                    contacts,
                    queue,
                    max_batch,
                    &writer_restart,
                    maintenance,
                )
            })
            .map_err(|error| StoreError::Open {
                path: options.path.display().to_string(),
                reason: format!("cannot start the writer thread: {error}"),
            })?;
        let checkpointer = if options.maintenance {
            Some(
                Checkpointer::spawn(
                    open_connection(&options.path, false)?,
                    options.path.clone(),
                    restart_wanted,
                )
                .map_err(|error| StoreError::Open {
                    path: options.path.display().to_string(),
                    reason: format!("cannot start the checkpoint thread: {error}"),
                })?,
            )
        } else {
            None
        };
        Ok(SqliteStore {
            holder: Mutex::new(holder),
            writes,
            readers: Arc::new(ReaderPool::new(readers)),
            writer_thread: Mutex::new(Some(writer_thread)),
            checkpointer: Mutex::new(checkpointer),
        })
    }

    async fn write<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(op(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        // The writer drops the reply only if it dies; the lead was then not committed.
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn insert(
        &self,
        lead: Box<Lead>,
        assignment: Assignment,
        forward_to: Vec<String>,
    ) -> Result<Inserted, StoreError> {
        self.write(|reply| WriteOp::Insert {
            lead,
            assignment,
            forward_to,
            reply,
        })
        .await
    }

    async fn get(&self, id: LeadId) -> Result<Option<Lead>, StoreError> {
        self.readers.run(move |conn| read::get(conn, id)).await
    }

    async fn update_and_forward(
        &self,
        id: LeadId,
        change: LeadChange,
        forward_to: Vec<String>,
    ) -> Result<Option<Lead>, StoreError> {
        self.write(|reply| WriteOp::Update {
            id,
            change,
            forward_to,
            reply,
        })
        .await
    }

    async fn delete_if(&self, id: LeadId, check: DeleteCheck) -> Result<Deleted, StoreError> {
        self.write(|reply| WriteOp::Delete { id, check, reply })
            .await
    }

    async fn query(&self, query: LeadQuery) -> Result<LeadPage, StoreError> {
        self.readers
            .run(move |conn| read::query(conn, &query))
            .await
    }

    async fn assignee_stats(&self, window: TimeRange) -> Result<Vec<AssigneeStats>, StoreError> {
        self.readers
            .run(move |conn| stats::assignee_stats(conn, window))
            .await
    }
}

#[async_trait]
impl Transfer for SqliteStore {
    async fn import_leads(&self, leads: Vec<Lead>) -> Result<u64, StoreError> {
        self.write(|reply| WriteOp::ImportLeads { leads, reply })
            .await
    }

    async fn import_deliveries(&self, rows: Vec<DeliveryRecord>) -> Result<u64, StoreError> {
        self.write(|reply| WriteOp::ImportDeliveries { rows, reply })
            .await
    }

    async fn export_sessions(&self) -> Result<Vec<(String, Session)>, StoreError> {
        let now = Utc::now().timestamp_micros();
        self.readers
            .run(move |conn| {
                let mut statement = conn.prepare(
                    "SELECT digest, subject, expires FROM sessions WHERE expires > ?1 ORDER BY digest",
                )?;
                let rows = statement.query_map([now], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
                })?;
                let mut sessions = Vec::new();
                for row in rows {
                    let (digest, subject, expires) = row?;
                    if let Some(expires) = DateTime::from_timestamp_micros(expires) {
                        sessions.push((digest, Session { subject, expires }));
                    }
                }
                Ok(sessions)
            })
            .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn put_session(
        &self,
        digest: String,
        subject: String,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|reply| WriteOp::PutSession {
            digest,
            subject,
            expires: expires.timestamp_micros(),
            now: now.timestamp_micros(),
            reply,
        })
        .await
    }

    async fn session(&self, digest: String) -> Result<Option<Session>, StoreError> {
        self.readers
            .run(move |conn| {
                let found: Option<(String, i64)> = conn
                    .prepare_cached("SELECT subject, expires FROM sessions WHERE digest = ?1")?
                    .query_row([digest], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?;
                Ok(found.and_then(|(subject, expires)| {
                    DateTime::from_timestamp_micros(expires)
                        .map(|expires| Session { subject, expires })
                }))
            })
            .await
    }

    async fn end_session(&self, digest: String) -> Result<bool, StoreError> {
        self.write(|reply| WriteOp::EndSession { digest, reply })
            .await
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn claim_deliveries(
        &self,
        target: String,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.write(|reply| WriteOp::ClaimDeliveries {
            target,
            limit,
            now,
            lease_until,
            reply,
        })
        .await
    }

    async fn finish_deliveries(
        &self,
        outcomes: Vec<FinishedDelivery>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.write(|reply| WriteOp::FinishDeliveries {
            outcomes,
            now,
            reply,
        })
        .await
    }

    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let now = Utc::now();
        self.readers
            .run(move |conn| outbox::list(conn, &filter, now))
            .await
    }

    async fn count_deliveries(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryCounts>, StoreError> {
        self.readers
            .run(move |conn| outbox::counts(conn, now))
            .await
    }

    async fn delivery_backlog(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryBacklog>, StoreError> {
        self.readers
            .run(move |conn| outbox::backlog(conn, now))
            .await
    }

    async fn retry_deliveries(
        &self,
        filter: DeliveryFilter,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.write(|reply| WriteOp::RetryDeliveries { filter, now, reply })
            .await
    }

    async fn replay_deliveries(
        &self,
        target: String,
        window: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.write(|reply| WriteOp::ReplayDeliveries {
            target,
            window,
            now,
            reply,
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        if self.writes.is_closed() {
            return Err(StoreError::Closed);
        }
        self.readers
            .run(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        let checkpointer = self
            .checkpointer
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(mut checkpointer) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || checkpointer.stop()).await;
        }
        let result = match self.write(|reply| WriteOp::Close { reply }).await {
            Err(StoreError::Closed) => Ok(()),
            other => other,
        };
        let handle = self
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        // The writer has stopped: another gateway may have the file now.
        if let Ok(mut holder) = self.holder.lock() {
            holder.take();
        }
        result
    }
}

/// Read connections handed out one per blocking task.
struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    available: Semaphore,
}

impl ReaderPool {
    fn new(connections: Vec<Connection>) -> Self {
        ReaderPool {
            available: Semaphore::new(connections.len()),
            idle: Mutex::new(connections),
        }
    }

    async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .available
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let conn = self
            .idle
            .lock()
            .map_err(|_| StoreError::Database("reader pool poisoned".into()))?
            .pop()
            .ok_or_else(|| StoreError::Database("no idle reader despite a permit".into()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let result = work(&conn);
            if let Ok(mut idle) = pool.idle.lock() {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|error| StoreError::Database(format!("reader task failed: {error}")))?
    }
}

#[cfg(test)]
mod tests;
