//! A store that keeps nothing. `leadgate translate` builds the dialects on
//! top of it, so decoding and encoding run exactly as in the server while
//! nothing can be written: every call says the store is closed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    AssigneeStats, Assignment, Claim, ClaimedDelivery, DeliveryCounts, DeliveryFilter,
    DeliveryOutcome, DeliveryRecord, Inserted, LeadChange, LeadPage, LeadQuery, LeadStore,
    StoreError, TimeRange,
};
use crate::lead::{Lead, LeadId};

pub struct OfflineStore;

#[async_trait]
impl LeadStore for OfflineStore {
    async fn insert(
        &self,
        _: Box<Lead>,
        _: Assignment,
        _: Vec<String>,
    ) -> Result<Inserted, StoreError> {
        Err(StoreError::Closed)
    }

    async fn get(&self, _: LeadId) -> Result<Option<Lead>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn update(&self, _: LeadId, _: LeadChange) -> Result<Option<Lead>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn delete(&self, _: LeadId) -> Result<bool, StoreError> {
        Err(StoreError::Closed)
    }

    async fn query(&self, _: LeadQuery) -> Result<LeadPage, StoreError> {
        Err(StoreError::Closed)
    }

    async fn assignee_stats(&self, _: TimeRange) -> Result<Vec<AssigneeStats>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn put_session(
        &self,
        _: String,
        _: String,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }

    async fn session(&self, _: String) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn end_session(&self, _: String) -> Result<bool, StoreError> {
        Err(StoreError::Closed)
    }

    async fn claim_deliveries(
        &self,
        _: String,
        _: usize,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn finish_deliveries(
        &self,
        _: Vec<(Claim, DeliveryOutcome)>,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }

    async fn list_deliveries(&self, _: DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn count_deliveries(&self, _: DateTime<Utc>) -> Result<Vec<DeliveryCounts>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn retry_deliveries(
        &self,
        _: DeliveryFilter,
        _: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Err(StoreError::Closed)
    }

    async fn replay_deliveries(
        &self,
        _: String,
        _: TimeRange,
        _: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Err(StoreError::Closed)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }

    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
