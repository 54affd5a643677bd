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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<LeadId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contact_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webs: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messengers: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<LeadKind>,
    pub stage: Stage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_description: Option<String>,
    #[serde(skip_serializing_if = "Utm::is_empty")]
    pub utm: Utm,
    #[serde(skip_serializing_if = "Visit::is_empty")]
    pub visit: Visit,
    #[serde(skip_serializing_if = "Site::is_empty")]
    pub site: Site,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<EmployeeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<EmployeeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<EmployeeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Address::is_empty")]
    pub address: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened: Option<bool>,
    /// Fields no mapping names: kept verbatim so nothing a client sent is lost.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub custom: IndexMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The API the lead came in through (a dialect's name), for operators;
    /// none for a lead imported or stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_via: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Utm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

/// What is known about the visitor's visit that produced the lead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Visit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_referer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int_referer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_engine: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Site {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// Empty parts are left out of the stored document (it is written on every
/// insert, so its size is write volume); `#[serde(default)]` reads them back.
macro_rules! is_empty_by_default {
    ($($part:ty),+) => {$(
        impl $part {
            pub fn is_empty(&self) -> bool {
                *self == <$part>::default()
            }
        }
    )+};
}
is_empty_by_default!(Utm, Visit, Site, Address);

impl Lead {
    /// Whether `self` differs from `before` in what a change forwarded to
    /// targets carries: stage, outcome, assignee, completion and the texts.
    /// Contacts, UTM and the rest are the lead's own data, sent with it
    /// once; a lock is the gateway's business.
    pub fn forwarded_state_differs(&self, before: &Lead) -> bool {
        self.stage != before.stage
            || self.outcome != before.outcome
            || self.assigned_to != before.assigned_to
            || self.completed_at != before.completed_at
            || self.completed_by != before.completed_by
            || self.text != before.text
            || self.answer_text != before.answer_text
    }

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
