//! Lead storage behind one trait. The store decides everything that must stay
//! correct when several gateway processes share it (id allocation, idempotent
//! imports by origin, and later locks and delivery claims); nothing of that is
//! kept in process memory. The store knows nothing of HTTP or dialects.

mod columns;
#[cfg(test)]
pub(crate) mod conformance;
pub mod copy;
pub mod outbox;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::lead::path::FieldPath;
use crate::lead::{EmployeeId, Lead, LeadError, LeadId, LeadKind, Stage};
pub use outbox::{
    Claim, ClaimedDelivery, DeliveryBacklog, DeliveryCounts, DeliveryFilter, DeliveryOutcome,
    DeliveryRecord, DeliveryState, FinishedDelivery,
};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the store is closed")]
    Closed,
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("database error: {0}")]
    Database(String),
    #[error("stored lead {id} cannot be read: {reason}")]
    Corrupt { id: LeadId, reason: String },
    /// An update's change refused the stored lead; nothing was written.
    #[error(transparent)]
    Rejected(#[from] LeadError),
}

/// A change applied to a stored lead inside the store's own transaction, so
/// two concurrent updates never overwrite each other's fields.
pub type LeadChange = Box<dyn FnOnce(&mut Lead) -> Result<(), LeadError> + Send>;

/// Whether the stored lead may be deleted, decided inside the delete's
/// transaction (a reassignment between a check and the delete cannot slip
/// through). `None` deletes whatever is stored.
pub type DeleteCheck = Option<Box<dyn FnOnce(&Lead) -> bool + Send>>;

/// What a checked delete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// No such lead.
    Missing,
    /// The check refused the stored lead (or the lead could not be read to
    /// be checked); nothing changed.
    Refused,
}

/// A half-open time window: `from` inclusive, `to` exclusive. `None` is unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Id,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
    Stage,
    /// Any other canonical field (Bitrix24 sorts by every field).
    Field(FieldPath),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

/// The list filters of all four dialects, in canonical terms. `None` means "no
/// filter"; `Some(vec![])` matches nothing (a filter on an unknown employee).
#[derive(Clone, Debug, Default)]
pub struct LeadQuery {
    pub ids: Option<Vec<LeadId>>,
    pub created: TimeRange,
    pub updated: TimeRange,
    pub completed: TimeRange,
    pub stages: Option<Vec<Stage>>,
    pub kinds: Option<Vec<LeadKind>>,
    pub assigned_to: Option<Vec<EmployeeId>>,
    pub created_by: Option<Vec<EmployeeId>>,
    pub completed_by: Option<Vec<EmployeeId>>,
    pub site_ids: Option<Vec<i64>>,
    pub department_ids: Option<Vec<i64>>,
    pub has_email: Option<bool>,
    pub has_phone: Option<bool>,
    /// Substring of the lead's text.
    pub text_contains: Option<String>,
    /// Comparisons on any canonical field, all of which must hold.
    pub conditions: Vec<Condition>,
    /// Groups of conditions of which at least one must hold entirely (an
    /// access scope: "own or routed"). Empty means no such restriction; a
    /// single empty group matches everything.
    pub any_of: Vec<Vec<Condition>>,
    /// Applied in order; the lead id breaks remaining ties so pages never overlap.
    pub sort: Vec<Sort>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// Also count every matching lead (LiveTex total, Bitrix24 total, UIS total_items).
    pub count_total: bool,
    /// Walk the leads in id order along the primary key, not along a time
    /// index: for a caller reading a whole window in `id > last` chunks,
    /// where answering each chunk from the time index would sort the whole
    /// window again every time.
    pub walk_ids: bool,
}

/// How a [`Condition`] compares a field with its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    /// Equal to one of the operands.
    In,
    NotIn,
    /// Case-insensitive substring.
    Contains,
    NotContains,
    /// SQL-style pattern with `%` and `_` as the client wrote it.
    Like,
    NotLike,
}

/// A substring for a LIKE pattern with `\\` as its escape: `%` and `_` in
/// it are literal. Both SQL backends build their patterns with it.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

impl Operand {
    /// The operand as text, for comparisons that read text (contacts,
    /// patterns): times as the stores keep them, in microseconds.
    pub(crate) fn as_text(&self) -> String {
        match self {
            Operand::Text(text) => text.clone(),
            Operand::Int(number) => number.to_string(),
            Operand::Float(number) => number.to_string(),
            Operand::Bool(flag) => i64::from(*flag).to_string(),
            Operand::Time(time) => time.timestamp_micros().to_string(),
            Operand::Null => String::new(),
        }
    }
}

/// An operand in canonical terms: times as instants, stages by canonical name.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

/// `field compare operands`. A contact list field (phones, emails, ...)
/// matches when any of its values does. `Equal`/`NotEqual` with
/// `Operand::Null` test for absence.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub field: FieldPath,
    pub compare: Compare,
    pub operands: Vec<Operand>,
}

#[derive(Clone, Debug, Default)]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    pub total: Option<u64>,
}

/// What `insert` did: stored a new lead, or found one with the same origin.
#[derive(Clone, Debug)]
pub struct Inserted {
    /// Boxed, as `insert` takes it: a lead is over a kilobyte, and it passes
    /// through the writer, a channel and several futures on every add.
    pub lead: Box<Lead>,
    pub created: bool,
    /// The assignee came from an earlier lead with the same phone or e-mail.
    pub assigned_by_contact: bool,
}

/// How to assign a lead that arrives without an assignee. The store applies
/// it inside the insert's own transaction, so two leads from one person that
/// race each other still land with the same employee, whichever process of
/// a shared store takes them.
#[derive(Clone, Debug, Default)]
pub struct Assignment {
    /// Give the lead to the assignee of the most recent lead that shares one
    /// of its normalised phones or e-mails, if that employee is eligible.
    pub by_earlier_contact: bool,
    /// Employees who may receive leads.
    pub eligible: Arc<[EmployeeId]>,
    /// Stage of a lead that gets an assignee here, by contact or by the
    /// fallback: in SalesMan a lead with a responsible employee is never
    /// "new" (status 0), it is open (status 1).
    pub stage_when_found: Option<Stage>,
    /// Who gets the lead when no earlier lead decides.
    pub fallback: Option<EmployeeId>,
}

/// Per-employee counters over a window (SalesMan `stat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssigneeStats {
    pub employee: EmployeeId,
    /// Open leads created in the window.
    pub open: u64,
    /// Leads completed in the window.
    pub processed: u64,
}

/// Leads: the writes every dialect makes and the reads every list, report
/// and statistic needs.
#[async_trait]
pub trait LeadStore: Send + Sync + 'static {
    /// Stores a new lead and returns it with its id, only once it is committed
    /// and on disk. A lead whose origin (system + external id) is already stored
    /// is not stored twice: the stored one comes back with `created: false`.
    /// A lead without an assignee is assigned as `assignment` says. A new
    /// lead gets one pending delivery per name in `forward_to`, in the same
    /// transaction (the outbox), so no acknowledged lead misses its forwarding.
    async fn insert(
        &self,
        lead: Box<Lead>,
        assignment: Assignment,
        forward_to: Vec<String>,
    ) -> Result<Inserted, StoreError>;

    async fn get(&self, id: LeadId) -> Result<Option<Lead>, StoreError>;

    /// Applies `change` to the stored lead and stamps `updated_at`, durably,
    /// in one transaction. `None` when there is no such lead. Locks are
    /// changes like any other: the change sees the stored lock and refuses
    /// inside the transaction, so two processes never both take one.
    async fn update(&self, id: LeadId, change: LeadChange) -> Result<Option<Lead>, StoreError> {
        self.update_and_forward(id, change, Vec::new()).await
    }

    /// [`LeadStore::update`], and when the change touches what targets
    /// apply ([`crate::lead::Lead::forwarded_state_differs`]), a delivery of
    /// the change to each of `forward_to` that has (or may have) the lead,
    /// in the same transaction: after any earlier row of the lead there,
    /// and coalesced with a change still waiting.
    async fn update_and_forward(
        &self,
        id: LeadId,
        change: LeadChange,
        forward_to: Vec<String>,
    ) -> Result<Option<Lead>, StoreError>;

    /// Removes a lead durably. `false` when there was no such lead.
    async fn delete(&self, id: LeadId) -> Result<bool, StoreError> {
        Ok(self.delete_if(id, None).await? == Deleted::Deleted)
    }

    /// Removes a lead durably if `check` allows the stored lead, in one
    /// transaction with the check.
    async fn delete_if(&self, id: LeadId, check: DeleteCheck) -> Result<Deleted, StoreError>;

    async fn query(&self, query: LeadQuery) -> Result<LeadPage, StoreError>;

    async fn assignee_stats(&self, window: TimeRange) -> Result<Vec<AssigneeStats>, StoreError>;
}

/// A session key as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub subject: String,
    pub expires: DateTime<Utc>,
}

/// Session keys a dialect issues, by digest, so every process sharing the
/// store accepts them and ending one ends it everywhere.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Records a session key (by its digest, never the key itself) for
    /// `subject` until `expires`, durably. Expired sessions are purged here.
    async fn put_session(
        &self,
        digest: String,
        subject: String,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The session, if it was issued and not ended.
    async fn session(&self, digest: String) -> Result<Option<Session>, StoreError>;

    /// Ends a session everywhere; `false` when there was none.
    async fn end_session(&self, digest: String) -> Result<bool, StoreError>;
}

/// The forwarding outbox: one row per lead and target, written with the
/// lead, claimed under durable leases and finished under the claim that
/// sent it.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Claims up to `limit` deliveries to `target` that are due at `now` and
    /// not claimed by anyone else, until `lease_until`. A delivery whose lead
    /// no longer exists is marked dead instead of being handed out.
    async fn claim_deliveries(
        &self,
        target: String,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records how claimed deliveries ended, durably. A claim that is no
    /// longer current (its lease ran out and the row was claimed again)
    /// changes nothing.
    async fn finish_deliveries(
        &self,
        outcomes: Vec<FinishedDelivery>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    async fn count_deliveries(&self, now: DateTime<Utc>)
        -> Result<Vec<DeliveryCounts>, StoreError>;

    /// Per target with rows not yet delivered: pending, in flight, dead
    /// and the oldest pending row's age, without reading delivered rows.
    async fn delivery_backlog(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryBacklog>, StoreError>;

    /// Puts the matching rows back in the queue, due at `now`, with their
    /// attempts reset (their last error is kept until the next attempt).
    /// Returns how many rows it moved.
    async fn retry_deliveries(
        &self,
        filter: DeliveryFilter,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Queues the leads created in `window` for `target` again, delivered
    /// or not (a target that lost data, or a target added later). Returns
    /// how many leads were queued.
    async fn replay_deliveries(
        &self,
        target: String,
        window: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Request pacing shared by every process on one store, so a fleet of
/// replicas keeps a target's rate (Bitrix24: 2 a second) as one gateway
/// would. Slots are kept on the store's own clock.
#[async_trait]
pub trait SharedPacing: Send + Sync + 'static {
    /// Takes the next slot of `key`, spaced `interval` from the last one
    /// taken by anyone, and says how long from now until it.
    async fn take_slot(
        &self,
        key: &str,
        interval: std::time::Duration,
    ) -> Result<std::time::Duration, StoreError>;

    /// How long from now until the next slot of `key` would be (without
    /// taking it).
    async fn next_slot(&self, key: &str) -> Result<std::time::Duration, StoreError>;

    /// No slot of `key` sooner than `delay` from now (a 429's reset hint).
    async fn hold(&self, key: &str, delay: std::time::Duration) -> Result<(), StoreError>;
}

/// Request counters shared by every process on one store, so an inbound
/// limit (Bitrix24's leaky bucket, UIS points) holds for the fleet, not
/// for each replica.
#[async_trait]
pub trait SharedCounters: Send + Sync + 'static {
    /// Bitrix24's leaky bucket for `key`: drains `per_second`, holds
    /// `capacity`; one more request if it fits. Whether it did.
    async fn leaky_admit(
        &self,
        key: &str,
        capacity: f64,
        per_second: f64,
    ) -> Result<bool, StoreError>;

    /// Adds `cost` to `key`'s count in `window` (a minute or day number)
    /// and returns the count after; `cost` 0 reads it.
    async fn add_in_window(&self, key: &str, window: i64, cost: i64) -> Result<i64, StoreError>;
}

/// Moving a store to another backend (`leadgate store copy`): rows as they
/// are, ids, states and times kept, nothing assigned, nothing queued anew.
#[async_trait]
pub trait Transfer: Send + Sync + 'static {
    /// Stores `leads` under the ids they carry, in the order given, with
    /// their contacts; a lead whose id is not above the greatest stored one,
    /// or whose origin is stored, is skipped (already copied). Returns how
    /// many were stored.
    async fn import_leads(&self, leads: Vec<Lead>) -> Result<u64, StoreError>;

    /// Stores delivery rows as they are (one per lead and target; a row
    /// already there is kept). Returns how many were stored.
    async fn import_deliveries(&self, rows: Vec<DeliveryRecord>) -> Result<u64, StoreError>;

    /// Every session that has not expired, as (digest, session).
    async fn export_sessions(&self) -> Result<Vec<(String, Session)>, StoreError>;
}

/// A whole backend: every focused trait, plus its upkeep. The composition
/// root holds one and hands each part the trait it needs.
#[async_trait]
pub trait Store: LeadStore + SessionStore + Outbox + Transfer {
    /// Pacing shared with the other processes on this store, where several
    /// can share it (PostgreSQL); `None` where one process owns the store
    /// and its own pacing is the whole truth (SQLite).
    fn shared_pacing(&self) -> Option<Arc<dyn SharedPacing>> {
        None
    }

    /// Counters shared with the other processes on this store, as
    /// [`Store::shared_pacing`].
    fn shared_counters(&self) -> Option<Arc<dyn SharedCounters>> {
        None
    }

    /// Cheap round trip for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Commits what is queued, flushes to disk and refuses further writes.
    async fn close(&self) -> Result<(), StoreError>;
}
