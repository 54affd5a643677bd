//! Session keys a dialect hands out after a password login (UIS
//! `login.user`): random, kept in the store only as a SHA-256 digest, so
//! every gateway process sharing the store accepts them, a restart keeps
//! them, and a logout ends them everywhere.

use chrono::{DateTime, Duration, Utc};
use ring::rand::{SecureRandom, SystemRandom};

use super::{Core, CoreError};
use crate::store::StoreError;

/// What the store says of a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    Valid { login: String },
    Expired,
    Unknown,
}

pub use crate::digest::digest_of;

impl Core {
    /// A new key for `login`, valid for `ttl`.
    pub async fn open_session(
        &self,
        login: &str,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), CoreError> {
        let mut bytes = [0u8; 24];
        SystemRandom::new().fill(&mut bytes).map_err(|_| {
            CoreError::Store(StoreError::Database(
                "no OS randomness for a session key".into(),
            ))
        })?;
        let key: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let now = self.now();
        let expires = now + ttl;
        self.sessions
            .put_session(digest_of(&key), login.to_lowercase(), expires, now)
            .await?;
        Ok((key, expires))
    }

    pub async fn session(&self, key: &str) -> Result<Session, CoreError> {
        Ok(match self.sessions.session(digest_of(key)).await? {
            Some(stored) if stored.expires > self.now() => Session::Valid {
                login: stored.subject,
            },
            Some(_) => Session::Expired,
            None => Session::Unknown,
        })
    }

    /// Ends a key; `false` when it was never issued or already ended.
    pub async fn end_session(&self, key: &str) -> Result<bool, CoreError> {
        Ok(self.sessions.end_session(digest_of(key)).await?)
    }
}
