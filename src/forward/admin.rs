//! Inspecting and re-driving deliveries, shared by `leadgate deliveries`
//! and the admin HTTP endpoints: list rows, count them per target, put dead
//! (or stuck) rows back in the queue, replay a time window of leads to a
//! target.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use thiserror::Error;

use crate::store::{
    DeliveryCounts, DeliveryFilter, DeliveryRecord, DeliveryState, Outbox, StoreError, TimeRange,
};

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("{0:?} is not a configured forwarding target")]
    UnknownTarget(String),
    #[error("{0:?} is not a time (RFC 3339, or a date YYYY-MM-DD)")]
    BadTime(String),
    #[error("{0:?} is not a delivery state (pending, delivered, dead)")]
    BadState(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The names of the configured forwarding targets, shared by whoever
/// needs them beside the forwarder (the admin calls, `/metrics`) and
/// replaced by a reload, so a target added or removed there is known
/// everywhere at once.
#[derive(Clone, Debug, Default)]
pub struct TargetNames(Arc<RwLock<Vec<String>>>);

impl TargetNames {
    pub fn new(names: Vec<String>) -> TargetNames {
        TargetNames(Arc::new(RwLock::new(names)))
    }

    pub fn replace(&self, names: Vec<String>) {
        match self.0.write() {
            Ok(mut current) => *current = names,
            Err(poisoned) => *poisoned.into_inner() = names,
        }
    }

    pub fn all(&self) -> Vec<String> {
        match self.0.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn contains(&self, target: &str) -> bool {
        self.all().iter().any(|known| known == target)
    }
}

pub struct DeliveryAdmin {
    store: Arc<dyn Outbox>,
    targets: TargetNames,
}

impl DeliveryAdmin {
    pub fn new(store: Arc<dyn Outbox>, targets: TargetNames) -> DeliveryAdmin {
        DeliveryAdmin { store, targets }
    }

    fn known(&self, target: &str) -> Result<(), AdminError> {
        if self.targets.contains(target) {
            Ok(())
        } else {
            Err(AdminError::UnknownTarget(target.to_owned()))
        }
    }

    pub async fn list(&self, filter: DeliveryFilter) -> Result<Vec<DeliveryRecord>, AdminError> {
        Ok(self.store.list_deliveries(filter).await?)
    }

    pub async fn counts(&self) -> Result<Vec<DeliveryCounts>, AdminError> {
        Ok(self.store.count_deliveries(Utc::now()).await?)
    }

    /// Re-drives the rows `filter` names; dead rows when it names neither
    /// ids nor a state. Returns how many went back to the queue.
    pub async fn retry(&self, mut filter: DeliveryFilter) -> Result<u64, AdminError> {
        if filter.ids.is_none() && filter.state.is_none() {
            filter.state = Some(DeliveryState::Dead);
        }
        if let Some(target) = &filter.target {
            self.known(target)?;
        }
        Ok(self.store.retry_deliveries(filter, Utc::now()).await?)
    }

    /// Queues every lead created in [since, until) for `target` again.
    pub async fn replay(
        &self,
        target: &str,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<u64, AdminError> {
        self.known(target)?;
        let window = TimeRange {
            from: since.map(parse_time).transpose()?,
            to: until.map(parse_time).transpose()?,
        };
        Ok(self
            .store
            .replay_deliveries(target.to_owned(), window, Utc::now())
            .await?)
    }
}

/// RFC 3339, or a date (its midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, AdminError> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| AdminError::BadTime(text.to_owned()))
}

pub fn parse_state(text: &str) -> Result<DeliveryState, AdminError> {
    DeliveryState::parse(text.trim()).ok_or_else(|| AdminError::BadState(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(
            parse_time("2026-11-26").unwrap().to_rfc3339(),
            "2026-11-26T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-26T10:00:00+03:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-26T07:00:00+00:00"
        );
        assert!(matches!(
            parse_time("yesterday"),
            Err(AdminError::BadTime(_))
        ));
        assert!(matches!(parse_state("lost"), Err(AdminError::BadState(_))));
    }
}
