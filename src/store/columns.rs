//! A lead's indexed column values as both backends store them (times in
//! microseconds, enums by canonical name, the lock and origin split out),
//! computed in one place so the two stores cannot drift apart. Each
//! backend binds them, with its own form of the document, in the order its
//! INSERT and UPDATE name the columns.

use crate::lead::{EmployeeId, Lead};

pub(crate) struct LeadColumns<'a> {
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub stage: &'static str,
    pub kind: Option<&'static str>,
    /// For the columns read straight from the lead (assignee, creator,
    /// completer, site, department).
    pub lead: &'a Lead,
    pub has_email: bool,
    pub has_phone: bool,
    pub lock_by: Option<EmployeeId>,
    pub lock_until: Option<i64>,
    pub origin_system: Option<&'a str>,
    pub origin_external_id: Option<&'a str>,
}

impl<'a> LeadColumns<'a> {
    pub fn of(lead: &'a Lead) -> LeadColumns<'a> {
        let micros = |time: chrono::DateTime<chrono::Utc>| time.timestamp_micros();
        LeadColumns {
            created_at: micros(lead.created_at),
            updated_at: micros(lead.updated_at),
            completed_at: lead.completed_at.map(micros),
            stage: lead.stage.as_str(),
            kind: lead.kind.map(|kind| kind.as_str()),
            has_email: lead.has_email(),
            has_phone: lead.has_phone(),
            lock_by: lead.lock.as_ref().map(|lock| lock.by),
            lock_until: lead.lock.as_ref().map(|lock| micros(lock.until)),
            origin_system: lead.origin.as_ref().map(|origin| origin.system.as_str()),
            origin_external_id: lead
                .origin
                .as_ref()
                .map(|origin| origin.external_id.as_str()),
            lead,
        }
    }
}
