//! Sync-back: changes a target system reports about leads this gateway
//! forwarded to it (a status set in the new CRM, a lead reassigned there)
//! applied to the canonical lead, so the old clients' lists, statistics and
//! reports show what happened in the new CRM.
//!
//! A target's events are accepted only with its `events_token`. The lead
//! is found by the id the target gave it when its delivery succeeded
//! (`DeliveryFilter::external_id`); the change goes through
//! [`Core::update_from_target`], validated like any other and forwarded to
//! every other target that applies changes, never back to the one that
//! reported it (that would echo forever).
//!
//! `json.rs` is the generic JSON event route; a dialect whose CRM has
//! events of its own (Bitrix24's outbound webhooks) serves them from its
//! own folder over [`SyncBack`].

mod json;

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

use crate::core::{Core, CoreError};
use crate::forward::settings::TargetSettings;
use crate::lead::{EmployeeDirectory, EmployeeId, Lead, LeadId, Outcome, Stage, ValidationRules};
use crate::store::{DeliveryFilter, Outbox};

pub use json::{routes as json_routes, ROUTE as JSON_ROUTE};

/// What a target reported about one of its leads; `None` leaves that part
/// of the canonical lead as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reported {
    pub stage: Option<Stage>,
    pub outcome: Option<Outcome>,
    pub assignee: Option<EmployeeId>,
}

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("no target named {0:?} accepts events")]
    UnknownTarget(String),
    #[error("the events token is missing or wrong")]
    BadToken,
    #[error("no lead was forwarded to this target with that id")]
    UnknownLead,
    #[error("employee {0} is not in the directory")]
    UnknownEmployee(EmployeeId),
    #[error("{0}")]
    Invalid(String),
    #[error("the store cannot be reached; send the event again")]
    Unavailable,
}

/// The targets whose events are accepted, with what applies them.
pub struct SyncBack {
    core: Arc<Core>,
    outbox: Arc<dyn Outbox>,
    rules: ValidationRules,
    /// Per target name: the digest of its events token.
    tokens: HashMap<String, String>,
}

impl SyncBack {
    pub fn new(
        core: Arc<Core>,
        outbox: Arc<dyn Outbox>,
        rules: ValidationRules,
        targets: &[TargetSettings],
    ) -> SyncBack {
        let tokens = targets
            .iter()
            .filter_map(|target| {
                let token = target.events_token.as_deref()?;
                Some((target.name.clone(), crate::core::digest_of(token)))
            })
            .collect();
        SyncBack {
            core,
            outbox,
            rules,
            tokens,
        }
    }

    /// Whether any target accepts events (else no route is served).
    pub fn any(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Refuses an event for `target` that does not carry its token.
    /// Compares digests, so the time taken says nothing of the token.
    pub fn check(&self, target: &str, token: Option<&str>) -> Result<(), SyncError> {
        let expected = self
            .tokens
            .get(target)
            .ok_or_else(|| SyncError::UnknownTarget(target.to_owned()))?;
        match token {
            Some(token) if crate::core::digest_of(token) == *expected => Ok(()),
            _ => Err(SyncError::BadToken),
        }
    }

    /// The gateway's lead that `target` knows as `external_id`.
    pub async fn lead_known_as(
        &self,
        target: &str,
        external_id: &str,
    ) -> Result<Option<LeadId>, SyncError> {
        let rows = self
            .outbox
            .list_deliveries(DeliveryFilter {
                target: Some(target.to_owned()),
                external_id: Some(external_id.to_owned()),
                limit: Some(1),
                ..Default::default()
            })
            .await
            .map_err(|_| SyncError::Unavailable)?;
        Ok(rows.first().map(|row| row.lead_id))
    }

    /// Applies what `target` reported to lead `id`; the lead as it is now.
    pub async fn apply(
        &self,
        target: &str,
        id: LeadId,
        reported: Reported,
    ) -> Result<Lead, SyncError> {
        if let Some(assignee) = reported.assignee {
            if self.core.employees().by_id(assignee).is_none() {
                return Err(SyncError::UnknownEmployee(assignee));
            }
        }
        let change = move |lead: &mut Lead| {
            if let Some(stage) = reported.stage {
                lead.stage = stage;
                if stage.is_open() {
                    lead.outcome = None;
                }
            }
            if reported.outcome.is_some() {
                lead.outcome = reported.outcome;
            }
            if reported.assignee.is_some() {
                lead.assigned_to = reported.assignee;
            }
            Ok(())
        };
        match self
            .core
            .update_from_target(target, id, change, &self.rules)
            .await
        {
            Ok(Some(lead)) => Ok(lead),
            Ok(None) => Err(SyncError::UnknownLead),
            Err(CoreError::Invalid(error)) => Err(SyncError::Invalid(error.to_string())),
            Err(_) => Err(SyncError::Unavailable),
        }
    }

    pub fn employees(&self) -> &crate::core::Employees {
        self.core.employees()
    }
}
