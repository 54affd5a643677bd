//! Who gets a new lead. SalesMan's rule, which the other dialects share: the
//! employee the caller names; else whoever has the person already (an earlier
//! lead with the same normalised phone or e-mail); else the coordinator.
//! Inactive or unknown employees are skipped rather than refused, because
//! refusing would lose the lead and the sender usually ignores the answer.

use crate::lead::{ContactPoint, Employee, EmployeeDirectory, Lead};
use crate::store::{LeadStore, StoreError};

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

impl AssignedBy {
    pub fn means_in_progress(self) -> bool {
        matches!(
            self,
            AssignedBy::Caller | AssignedBy::Requested | AssignedBy::EarlierContact
        )
    }
}

fn normalized(points: &[ContactPoint]) -> Vec<String> {
    points
        .iter()
        .map(|point| point.normalized.clone())
        .filter(|value| !value.is_empty())
        .collect()
}

pub(super) async fn choose<'a>(
    employees: &'a Employees,
    store: &dyn LeadStore,
    lead: &Lead,
    requested: Option<&str>,
    default: Option<&'a Employee>,
) -> Result<(Option<&'a Employee>, AssignedBy), StoreError> {
    if let Some(employee) = requested
        .map(str::trim)
        .filter(|login| !login.is_empty())
        .and_then(|login| employees.by_login(login))
        .filter(|employee| employee.active)
    {
        return Ok((Some(employee), AssignedBy::Requested));
    }
    let phones = normalized(&lead.phones);
    let emails = normalized(&lead.emails);
    if !phones.is_empty() || !emails.is_empty() {
        if let Some(employee) = store
            .latest_assignee_by_contact(phones, emails)
            .await?
            .and_then(|id| employees.by_id(id))
            .filter(|employee| employee.active)
        {
            return Ok((Some(employee), AssignedBy::EarlierContact));
        }
    }
    Ok(match default.filter(|employee| employee.active) {
        Some(employee) => (Some(employee), AssignedBy::Default),
        None => (None, AssignedBy::Nobody),
    })
}
