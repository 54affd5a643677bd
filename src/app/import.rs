//! `leadgate import`: the source of the dialect named by `--from`, built
//! over that dialect's mapping file, and the import loop over the
//! configured store.

use std::sync::Arc;

use super::wiring::Wiring;
use crate::config::Settings;
use crate::core::Employees;
use crate::import::{self, ImportError, ImportOptions, ImportProgress, ImportSummary};
use crate::lead::path::WriteContext;
use crate::store::Store;

/// Why an import could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    #[error("--from {0}: no dialect by that name imports (salesman, bitrix24, livetex, uis)")]
    UnknownSource(String),
    #[error(transparent)]
    Import(#[from] ImportError),
}

pub async fn run(
    settings: &Settings,
    wiring: &Wiring,
    store: Arc<dyn Store>,
    source: import::SourceSettings,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportSummary, ImportFailure> {
    let wired = wiring
        .dialect(&options.from)
        .ok_or_else(|| ImportFailure::UnknownSource(options.from.clone()))?;
    let context = WriteContext {
        default_country_code: settings.leads.phone_default_country.clone(),
    };
    let source = wired
        .dialect
        .import_source(source, wired.mapping.clone(), context)
        .ok_or_else(|| ImportFailure::UnknownSource(options.from.clone()))?;
    let employees = Employees::new(settings.employees.clone());
    Ok(import::run(store, &employees, source.as_ref(), options, progress).await?)
}
