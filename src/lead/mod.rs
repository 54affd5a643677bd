//! The canonical lead: the union of what the four dialects can say about a lead.
//!
//! This module knows nothing of any dialect. Dialects reach the model through
//! [`path::FieldPath`] (driven by the mapping files) and the typed enums below;
//! validation lives in [`validate`] so every dialect rejects the same things,
//! each in its own wire format.

pub mod contact;
pub mod employee;
pub mod enums;
pub mod path;
pub mod validate;

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use contact::{ContactKind, ContactPoint};
pub use employee::{Employee, EmployeeDirectory, EmployeeId, Role};
pub use enums::{Channel, LeadKind, Outcome, Stage};
pub use validate::{LeadError, ValidationRules};

/// The gateway's own lead id, allocated by the store.
pub type LeadId = i64;

/// A lead in canonical form. `id` is `None` until the store has accepted it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lead {
    pub id: Option<LeadId>,
    pub title: Option<String>,
    pub name: Option<String>,
    pub second_name: Option<String>,
    pub last_name: Option<String>,
    pub honorific: Option<String>,
    pub post: Option<String>,
    pub birthdate: Option<NaiveDate>,
    pub company: Option<String>,
    pub company_id: Option<i64>,
    pub contact_ids: Vec<i64>,
    pub emails: Vec<ContactPoint>,
    pub phones: Vec<ContactPoint>,
    pub webs: Vec<ContactPoint>,
    pub messengers: Vec<ContactPoint>,
    pub text: Option<String>,
    pub answer_text: Option<String>,
    pub kind: Option<LeadKind>,
    pub stage: Stage,
    pub outcome: Option<Outcome>,
    pub channel: Option<Channel>,
    pub channel_description: Option<String>,
    pub utm: Utm,
    pub visit: Visit,
    pub site: Site,
    pub department_id: Option<i64>,
    pub conversation_id: Option<String>,
    pub partner: Option<String>,
    pub assigned_to: Option<EmployeeId>,
    pub created_by: Option<EmployeeId>,
    pub completed_by: Option<EmployeeId>,
    pub completed_at: Option<DateTime<Utc>>,
    pub lock: Option<Lock>,
    pub opportunity: Option<f64>,
    pub currency: Option<String>,
    pub address: Address,
    pub opened: Option<bool>,
    /// Fields no mapping names: kept verbatim so nothing a client sent is lost.
    pub custom: IndexMap<String, serde_json::Value>,
    pub origin: Option<Origin>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
    pub referrer: Option<String>,
}

/// What is known about the visitor's visit that produced the lead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Visit {
    pub ip: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub ext_referer: Option<String>,
    pub int_referer: Option<String>,
    pub entry_page: Option<String>,
    pub search_engine: Option<String>,
    pub search_query: Option<String>,
    pub page_count: Option<i64>,
    pub visit_count: Option<i64>,
    pub visitor_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Site {
    pub id: Option<i64>,
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub province: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
}

/// An exclusive claim on a lead by one employee until a point in time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub by: EmployeeId,
    pub until: DateTime<Utc>,
}

/// Where a lead came from outside the gateway: the idempotency key for imports
/// and forwarded leads (Bitrix24 ORIGINATOR_ID / ORIGIN_ID and the like).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub system: String,
    pub external_id: String,
}

impl Lead {
    /// A fresh lead stamped with `now`, truncated to microseconds so that what the
    /// store gives back compares equal to what went in.
    pub fn new(now: DateTime<Utc>) -> Self {
        let now = truncate_to_micros(now);
        Lead {
            created_at: now,
            updated_at: now,
            ..Lead::default()
        }
    }

    pub fn has_email(&self) -> bool {
        !self.emails.is_empty()
    }

    pub fn has_phone(&self) -> bool {
        !self.phones.is_empty()
    }
}

/// Drops sub-microsecond precision, which neither store keeps.
pub fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}
