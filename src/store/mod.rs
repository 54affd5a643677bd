//! Lead storage behind one trait. The store decides everything that must stay
//! correct when several gateway processes share it (id allocation, idempotent
//! imports by origin, and later locks and delivery claims); nothing of that is
//! kept in process memory. The store knows nothing of HTTP or dialects.

pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::lead::{EmployeeId, Lead, LeadId, LeadKind, Stage};

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
}

/// A half-open time window: `from` inclusive, `to` exclusive. `None` is unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Id,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
    Stage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Applied in order; the lead id breaks remaining ties so pages never overlap.
    pub sort: Vec<Sort>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// Also count every matching lead (LiveTex total, Bitrix24 total, UIS total_items).
    pub count_total: bool,
}

#[derive(Clone, Debug, Default)]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    pub total: Option<u64>,
}

/// What `insert` did: stored a new lead, or found one with the same origin.
#[derive(Clone, Debug)]
pub struct Inserted {
    pub lead: Lead,
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
    /// Stage of a lead assigned by contact: the person is already being
    /// worked with.
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

#[async_trait]
pub trait LeadStore: Send + Sync + 'static {
    /// Stores a new lead and returns it with its id, only once it is committed
    /// and on disk. A lead whose origin (system + external id) is already stored
    /// is not stored twice: the stored one comes back with `created: false`.
    /// A lead without an assignee is assigned as `assignment` says.
    async fn insert(&self, lead: Lead, assignment: Assignment) -> Result<Inserted, StoreError>;

    async fn get(&self, id: LeadId) -> Result<Option<Lead>, StoreError>;

    async fn query(&self, query: LeadQuery) -> Result<LeadPage, StoreError>;

    async fn assignee_stats(&self, window: TimeRange) -> Result<Vec<AssigneeStats>, StoreError>;

    /// Cheap round trip for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Commits what is queued, flushes to disk and refuses further writes.
    async fn close(&self) -> Result<(), StoreError>;
}
