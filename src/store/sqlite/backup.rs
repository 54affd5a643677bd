//! `leadgate store backup`: an online, consistent copy of the SQLite
//! store, taken beside a running gateway. `VACUUM INTO` reads one snapshot
//! of the database through a read-only connection (the WAL lets the
//! gateway's writer go on meanwhile) and writes it compacted to a new
//! file, which is then checked and counted. The copy is a whole store: a
//! gateway opens it as it is.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub leads: u64,
    pub deliveries: u64,
    pub bytes: u64,
}

/// Copies the store at `store` to `destination`, which must not exist.
pub fn backup(store: &Path, destination: &Path) -> Result<Backup, StoreError> {
    if !store.is_file() {
        return Err(StoreError::Database(format!(
            "{} is not a store file",
            store.display()
        )));
    }
    if destination.exists() {
        return Err(StoreError::Database(format!(
            "{} exists already; a backup never overwrites",
            destination.display()
        )));
    }
    let Some(destination_text) = destination.to_str() else {
        return Err(StoreError::Database(
            "the backup's path is not valid UTF-8".into(),
        ));
    };
    let source = Connection::open_with_flags(
        store,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The gateway's writer may hold the write lock for a commit: wait.
    source.busy_timeout(std::time::Duration::from_secs(30))?;
    source.execute("VACUUM INTO ?1", [destination_text])?;
    drop(source);

    let copy = Connection::open_with_flags(destination, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = copy.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(StoreError::Database(format!(
            "the backup at {} fails its check: {check}",
            destination.display()
        )));
    }
    let count = |table: &str| -> Result<u64, StoreError> {
        let count: i64 = copy.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })?;
        Ok(count.max(0) as u64)
    };
    Ok(Backup {
        leads: count("leads")?,
        deliveries: count("deliveries")?,
        bytes: std::fs::metadata(destination)
            .map(|metadata| metadata.len())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::backup;

    #[test]
    fn a_backup_never_overwrites_and_needs_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing.db");
        std::fs::write(&existing, b"x").unwrap();
        let error = backup(&dir.path().join("missing.db"), &dir.path().join("b.db")).unwrap_err();
        assert!(error.to_string().contains("is not a store file"), "{error}");
        let error = backup(&existing, &existing).unwrap_err();
        assert!(error.to_string().contains("never overwrites"), "{error}");
    }
}
