//! WAL checkpoints on their own thread and connection. Left to SQLite, the
//! checkpoint runs inside whichever commit crosses the threshold, on the one
//! writer thread every insert waits for; here it runs beside the writer
//! (PASSIVE never blocks it). Should the log still grow past a bound under
//! sustained load, it asks the writer to finish the job between two batches
//! (a RESTART checkpoint), so the log starts over instead of growing without end.
//!
//! SQLite flushes the database file only when a checkpoint reaches the end
//! of the log, which under load only the writer's RESTART does; that flush
//! then wrote back everything the passive checkpoints had copied since the
//! last one and held the writer (and every insert) for 8-23 ms. So this
//! thread flushes the database file itself after each copy; the restart then
//! finds little left to write.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rusqlite::Connection;

const INTERVAL: Duration = Duration::from_millis(200);
/// Log frames (pages) beyond which the writer is asked to restart the log.
const RESTART_FRAMES: i64 = 8192;

pub(super) struct Checkpointer {
    /// Dropping the sender wakes the thread and stops it.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    pub fn spawn(
        conn: Connection,
        path: PathBuf,
        restart_wanted: Arc<AtomicBool>,
    ) -> std::io::Result<Checkpointer> {
        let (stop, stopping) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("leadgate-sqlite-checkpoint".into())
            .spawn(move || run(conn, &path, &stopping, &restart_wanted))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (the final checkpoint is the writer's).
    pub fn stop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

fn run(
    conn: Connection,
    path: &std::path::Path,
    stop: &mpsc::Receiver<()>,
    restart_wanted: &AtomicBool,
) {
    // Flushing through a second descriptor writes back the same file's pages.
    let database = std::fs::File::open(path)
        .map_err(|error| {
            tracing::warn!(
                %error,
                path = %path.display(),
                "cannot open the database file to flush it; the writer's restarts will flush it instead"
            );
        })
        .ok();
    let mut flushed_upto = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(INTERVAL) {
        let result = checkpoint(&conn, "PASSIVE");
        tracing::trace!(?result, "passive checkpoint");
        if let (Ok((_, copied)), Some(database)) = (&result, &database) {
            if *copied != flushed_upto {
                if let Err(error) = database.sync_data() {
                    tracing::warn!(%error, path = %path.display(), "database flush failed");
                }
                flushed_upto = *copied;
            }
        }
        match result {
            Ok((log_frames, _)) if log_frames > RESTART_FRAMES => {
                restart_wanted.store(true, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "WAL checkpoint failed");
            }
        }
    }
}
