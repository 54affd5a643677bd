//! Importing an old system's leads (`leadgate import`), so the old clients
//! see the history, not only what arrived after the switch.
//!
//! Each dialect reads its own system's list API through an
//! [`ImportSource`] (in its folder: `dialect/<name>/import.rs`): one page
//! at a time from a cursor only it understands, each lead decoded through
//! the dialect's mapping with its id there as `origin.external_id`. The
//! runner (`run.rs`) stores every lead once (the store refuses a second
//! lead of the same origin), keeps the cursor in a state file after every
//! page so an interrupted run resumes there, and reports progress.

mod run;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::lead::Lead;

pub use run::{run, ImportOptions, ImportProgress, ImportSummary};

/// One page of a source's leads.
#[derive(Debug, Default)]
pub struct Page {
    /// Decoded, each with `origin.external_id` set to its id at the source.
    pub leads: Vec<Lead>,
    /// Where the next page starts; `None`: this was the last.
    pub next: Option<String>,
    /// How many leads the whole import will read, when the source says.
    pub total: Option<u64>,
}

#[derive(Debug, Error)]
pub enum ImportError {
    /// Worth asking again (network, timeout, 5xx, rate limit).
    #[error("{0}")]
    Transient(String),
    /// Asking again cannot help (credentials, a refused request).
    #[error("{0}")]
    Refused(String),
    #[error("the store: {0}")]
    Store(String),
    #[error("the state file {path}: {reason}")]
    State { path: String, reason: String },
}

impl ImportError {
    /// A forwarding client's failure, as an import sees it.
    pub fn from_attempt(attempt: crate::forward::Attempt) -> ImportError {
        match attempt {
            crate::forward::Attempt::Permanent { error } => ImportError::Refused(error),
            crate::forward::Attempt::Transient { error, .. } => ImportError::Transient(error),
            crate::forward::Attempt::Delivered { .. } => {
                ImportError::Transient("an answer without leads".into())
            }
        }
    }
}

/// Where an import reads from: the old system's list API.
#[async_trait]
pub trait ImportSource: Send + Sync {
    /// The page that starts at `cursor` (`None`: the first).
    async fn page(&self, cursor: Option<&str>) -> Result<Page, ImportError>;
}

/// What every source is built from.
#[derive(Clone, Debug)]
pub struct SourceSettings {
    /// The connection, as a forwarding target of that kind has it (URL and
    /// credentials).
    pub connection: crate::forward::settings::TargetSettings,
    /// Only leads created at or after this moment.
    pub since: Option<DateTime<Utc>>,
}
