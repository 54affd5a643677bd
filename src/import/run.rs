//! The import loop: page by page from the source, each page's leads stored
//! concurrently (the store groups them into few transactions), the cursor
//! written to the state file after the page is stored. A run killed at any
//! point starts again at the last saved page; the leads of a page it had
//! partly stored come back as "already here", never twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::{ImportError, ImportSource, Page};
use crate::lead::{EmployeeDirectory, Origin};
use crate::store::{Assignment, LeadStore};

/// Leads stored at once: enough to fill the store's group commits.
const IN_FLIGHT: usize = 64;
/// Tries of one page before the run stops (resumable) with the error.
const PAGE_TRIES: u32 = 6;

pub struct ImportOptions {
    /// The dialect read from, as `--from` named it.
    pub from: String,
    /// Where the source is (kept in the state file: a state file of
    /// another source is refused, not resumed).
    pub url: String,
    /// `origin.system` of the imported leads.
    pub origin_system: String,
    pub state_path: PathBuf,
    /// Delay before retrying a page, doubled each time (tests shorten it).
    pub retry_delay: Duration,
}

/// Told after each stored page.
pub trait ImportProgress {
    fn total(&self, leads: u64);
    fn advance(&self, leads: u64);
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Leads read from the source.
    pub read: u64,
    /// Stored by this import (over all its runs).
    pub added: u64,
    /// Read but already stored (an earlier run, or the same origin).
    pub already_here: u64,
    /// Assignees the source named that are not employees here, left unassigned.
    pub unknown_assignees: u64,
    pub pages: u64,
    /// The cursor a resumed run started at.
    #[serde(skip)]
    pub resumed_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    from: String,
    url: String,
    cursor: Option<String>,
    summary: ImportSummary,
}

pub async fn run(
    store: Arc<dyn LeadStore>,
    employees: &dyn EmployeeDirectory,
    source: &dyn ImportSource,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportSummary, ImportError> {
    let mut state = match load(&options.state_path)? {
        Some(state) if state.from == options.from && state.url == options.url => state,
        Some(state) => {
            return Err(ImportError::State {
                path: options.state_path.display().to_string(),
                reason: format!(
                    "it belongs to an import from {} at {}; finish that one or remove the file",
                    state.from, state.url
                ),
            })
        }
        None => State {
            from: options.from.clone(),
            url: options.url.clone(),
            cursor: None,
            summary: ImportSummary::default(),
        },
    };
    state.summary.resumed_at = state.cursor.clone();
    progress.advance(state.summary.read);
    loop {
        let page = page_with_retries(source, state.cursor.as_deref(), options.retry_delay).await?;
        if let Some(total) = page.total {
            progress.total(total);
        }
        let read = page.leads.len() as u64;
        let outcome = store_page(&store, employees, page.leads, &options.origin_system).await?;
        state.summary.read += read;
        state.summary.added += outcome.added;
        state.summary.already_here += read - outcome.added;
        state.summary.unknown_assignees += outcome.unknown_assignees;
        state.summary.pages += 1;
        progress.advance(read);
        match page.next {
            Some(next) => {
                state.cursor = Some(next);
                save(&options.state_path, &state)?;
            }
            None => {
                // Done: the next run starts over and finds what is new.
                if options.state_path.exists() {
                    std::fs::remove_file(&options.state_path).map_err(|error| {
                        ImportError::State {
                            path: options.state_path.display().to_string(),
                            reason: error.to_string(),
                        }
                    })?;
                }
                return Ok(state.summary);
            }
        }
    }
}

async fn page_with_retries(
    source: &dyn ImportSource,
    cursor: Option<&str>,
    first_delay: Duration,
) -> Result<Page, ImportError> {
    let mut delay = first_delay;
    let mut tries = 0;
    loop {
        tries += 1;
        match source.page(cursor).await {
            // The class, never the text: an old system's answer can quote leads.
            Err(ImportError::Transient(_)) if tries < PAGE_TRIES => {
                tracing::warn!(
                    tries,
                    retry_in_ms = delay.as_millis() as u64,
                    "page failed; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            other => return other,
        }
    }
}

struct Stored {
    added: u64,
    unknown_assignees: u64,
}

async fn store_page(
    store: &Arc<dyn LeadStore>,
    employees: &dyn EmployeeDirectory,
    leads: Vec<crate::lead::Lead>,
    origin_system: &str,
) -> Result<Stored, ImportError> {
    let mut unknown_assignees = 0;
    let prepared: Vec<_> = leads
        .into_iter()
        .map(|mut lead| {
            let external_id = lead
                .origin
                .take()
                .map(|origin| origin.external_id)
                .unwrap_or_default();
            lead.origin = Some(Origin {
                system: origin_system.to_owned(),
                external_id,
            });
            lead.id = None;
            // The source's people are not necessarily this gateway's.
            if lead
                .assigned_to
                .is_some_and(|id| employees.by_id(id).is_none())
            {
                lead.assigned_to = None;
                unknown_assignees += 1;
            }
            for slot in [&mut lead.created_by, &mut lead.completed_by] {
                if slot.is_some_and(|id| employees.by_id(id).is_none()) {
                    *slot = None;
                }
            }
            if lead.stage.is_open() {
                lead.completed_at = None;
            } else if lead.completed_at.is_none() {
                lead.completed_at = Some(lead.created_at);
            }
            Box::new(lead)
        })
        .collect();
    let results: Vec<_> = stream::iter(prepared)
        .map(|lead| {
            let store = store.clone();
            // Imported history is not forwarded: the new CRM is where it
            // would go, and the old one already had it.
            async move { store.insert(lead, Assignment::default(), Vec::new()).await }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut added = 0;
    for result in results {
        match result {
            Ok(inserted) if inserted.created => added += 1,
            Ok(_) => {}
            Err(error) => return Err(ImportError::Store(error.to_string())),
        }
    }
    Ok(Stored {
        added,
        unknown_assignees,
    })
}

fn load(path: &Path) -> Result<Option<State>, ImportError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| ImportError::State {
                path: path.display().to_string(),
                reason: error.to_string(),
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ImportError::State {
            path: path.display().to_string(),
            reason: error.to_string(),
        }),
    }
}

/// Written beside and renamed over, so a kill mid-write leaves the last
/// good state.
fn save(path: &Path, state: &State) -> Result<(), ImportError> {
    let failed = |error: std::io::Error| ImportError::State {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let text = serde_json::to_vec_pretty(state).map_err(|error| ImportError::State {
        path: path.display().to_string(),
        reason: error.to_string(),
    })?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(failed)?;
    std::fs::rename(&partial, path).map_err(failed)
}
