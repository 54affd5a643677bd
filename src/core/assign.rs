//! Who gets a new lead. SalesMan's rule, which the other dialects share: the
//! employee the caller names; else whoever has the person already (an earlier
//! lead with the same normalised phone or e-mail); else the coordinator.
//! Inactive or unknown employees are skipped rather than refused, because
//! refusing would lose the lead and the sender usually ignores the answer.
//!
//! The look-up of earlier leads runs in the store, inside the insert's own
//! transaction, so two leads from one person racing each other cannot end
//! up with different employees; this module only decides what to ask for.

use crate::lead::{Employee, Lead, Stage};
use crate::store::Assignment;

use super::Employees;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedBy {
    /// The lead arrived already assigned (an import carrying its assignee).
    Caller,
    /// The caller named an employee by login.
    Requested,
    /// An earlier lead from the same person.
    EarlierContact,
    /// The configured default assignee.
    Default,
    /// Nobody could be chosen.
    Nobody,
}

/// What core settles before the insert: either the lead's assignee, or how
/// the store is to find one.
pub(super) enum Plan {
    Decided(AssignedBy),
    InStore(Assignment),
}

pub(super) fn plan(
    employees: &Employees,
    lead: &mut Lead,
    requested: Option<&str>,
    default: Option<&Employee>,
) -> Plan {
    if lead.assigned_to.is_some() {
        return Plan::Decided(AssignedBy::Caller);
    }
    if let Some(employee) = requested
        .map(str::trim)
        .filter(|login| !login.is_empty())
        .and_then(|login| employees.by_login(login))
        .filter(|employee| employee.active)
    {
        lead.assigned_to = Some(employee.id);
        return Plan::Decided(AssignedBy::Requested);
    }
    Plan::InStore(Assignment {
        by_earlier_contact: !lead.phones.is_empty() || !lead.emails.is_empty(),
        eligible: employees.active_ids(),
        // A lead handed to a named person is already being worked on.
        stage_when_found: (lead.stage == Stage::New).then_some(Stage::InProgress),
        fallback: default
            .filter(|employee| employee.active)
            .map(|employee| employee.id),
    })
}
