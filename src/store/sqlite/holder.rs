//! One gateway per SQLite file. The gateway holds an exclusive lock on
//! `<file>.lock` (an OS file lock, released however the process ends) and
//! writes who it is into it, so a second gateway started on the same file
//! is refused at start with the holder's process id instead of sharing the
//! file with a writer whose memory it cannot see.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

pub(super) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the file's lock, or says who holds it.
pub(super) fn take(database: &Path) -> Result<File, StoreError> {
    let path = lock_path(database);
    let refuse = |reason: String| StoreError::Open {
        path: database.display().to_string(),
        reason,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|error| refuse(format!("cannot open {}: {error}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(refuse(format!(
                "another gateway has this store open ({}); one gateway per SQLite file: \
                 stop it first, or use [store] url (PostgreSQL) for several replicas. \
                 `leadgate deliveries` works beside a running gateway",
                if holder.is_empty() {
                    "its process is unknown"
                } else {
                    holder
                }
            )));
        }
        Err(TryLockError::Error(error)) => {
            return Err(refuse(format!("cannot lock {}: {error}", path.display())));
        }
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| {
            write!(
                file,
                "process {} since {}",
                std::process::id(),
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
            )
        })
        .and_then(|()| file.flush());
    if let Err(error) = written {
        tracing::warn!(%error, "cannot note the store's holder in its lock file");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_process() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("leads.db");
        let first = take(&database).unwrap();
        let refused = take(&database).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("process {}", std::process::id())),
            "{refused}"
        );
        assert!(refused.contains("[store] url"), "{refused}");
        drop(first);
        take(&database).expect("free again once the first lets go");
    }
}
