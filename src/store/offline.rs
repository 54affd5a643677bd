//! A store that keeps nothing. `leadgate translate` builds the dialects on
//! top of it, so decoding and encoding run exactly as in the server while
//! nothing can be written: every call says the store is closed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    AssigneeStats, Assignment, Inserted, LeadChange, LeadPage, LeadQuery, LeadStore, Session,
    SessionStore, StoreError, TimeRange,
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
}

#[async_trait]
impl SessionStore for OfflineStore {
    async fn put_session(
        &self,
        _: String,
        _: String,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }

    async fn session(&self, _: String) -> Result<Option<Session>, StoreError> {
        Err(StoreError::Closed)
    }

    async fn end_session(&self, _: String) -> Result<bool, StoreError> {
        Err(StoreError::Closed)
    }
}
