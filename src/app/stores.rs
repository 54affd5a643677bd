//! Which store a gateway (or a command beside it) opens: PostgreSQL when
//! `[store] url` is set, else the SQLite file at `[store] path`.

use std::sync::Arc;

use crate::config::StoreSettings;
use crate::store::postgres::{PostgresOptions, PostgresStore};
use crate::store::sqlite::{SqliteOptions, SqliteStore};
use crate::store::{Store, StoreError};

/// Who opens the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opener {
    /// A gateway: it also keeps an SQLite file tidy (checkpoints, merges).
    Gateway,
    /// A command beside a running gateway (`leadgate deliveries`): it
    /// leaves the SQLite file's upkeep to the gateway.
    Command,
}

pub async fn open(settings: &StoreSettings, opener: Opener) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(url) = &settings.url {
        let options = PostgresOptions {
            pool_size: settings.pool_size,
            writers: settings.writers,
            schema: settings.schema.clone(),
            max_batch: settings.max_batch,
            ..PostgresOptions::new(url.clone())
        };
        return Ok(Arc::new(PostgresStore::open(options).await?));
    }
    let options = SqliteOptions {
        read_connections: settings.read_connections,
        max_batch: settings.max_batch,
        maintenance: opener == Opener::Gateway,
        ..SqliteOptions::new(&settings.path)
    };
    let path = settings.path.display().to_string();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(options))
        .await
        .map_err(|error| StoreError::Open {
            path,
            reason: error.to_string(),
        })??;
    Ok(Arc::new(store))
}
