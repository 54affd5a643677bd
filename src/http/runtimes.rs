//! The runtimes that serve accepted connections: one single-threaded tokio
//! runtime per thread (by default one thread per core), each connection
//! living on one of them for its whole life: its socket registered with
//! that runtime's poller, its timers on that runtime's wheel, the tasks it
//! spawns (HTTP/2 streams) beside it.
//!
//! Why not the process's multi-threaded runtime, where the accept loop and
//! the delivery workers run: on a small machine shared with other work, its
//! work stealing, the wake-ups between its workers and the one timer wheel
//! they both lock cost more than a lead's own handling. With connections
//! pinned, durable SalesMan adds at 64 connections got 10-15% faster
//! (BENCHMARKS.md, "Levers tried"). The trade: a busy
//! connection cannot move to an idle core, so each new connection goes to
//! the runtime serving the fewest.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::{Builder, Handle};
use tokio::sync::watch;

/// How long a stopping runtime waits for work on its blocking threads
/// (store reads of requests it just cancelled) before leaving it behind.
const BLOCKING_WORK_WAIT: Duration = Duration::from_secs(5);

/// The connection runtimes of one server. Dropping it (or
/// [`ConnectionRuntimes::shut_down`]) ends their threads, which closes
/// whatever connections they still hold.
pub struct ConnectionRuntimes {
    runtimes: Vec<Pinned>,
    /// Dropped to stop: every thread waits for it to go away.
    stop: watch::Sender<()>,
    threads: Vec<JoinHandle<()>>,
}

struct Pinned {
    handle: Handle,
    /// Connections currently on this runtime, for choosing the least busy.
    connections: Arc<AtomicUsize>,
}

impl ConnectionRuntimes {
    /// Starts `threads` runtimes; 0 means one per core.
    pub fn start(threads: usize) -> io::Result<ConnectionRuntimes> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            count => count,
        };
        let (stop, stopped) = watch::channel(());
        let mut started = ConnectionRuntimes {
            runtimes: Vec::with_capacity(threads),
            stop,
            threads: Vec::with_capacity(threads),
        };
        for index in 0..threads {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let mut stopped = stopped.clone();
            // If this fails, dropping `started` ends the threads already running.
            let thread = std::thread::Builder::new()
                .name(format!("leadgate-http-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        // Err once the sender is dropped: that is the stop.
                        while stopped.changed().await.is_ok() {}
                    });
                    // On its own thread and outside any task: cancels the
                    // connections it still serves, and waits a little for
                    // store reads running on its blocking threads.
                    runtime.shutdown_timeout(BLOCKING_WORK_WAIT);
                })?;
            started.runtimes.push(Pinned {
                handle,
                connections: Arc::new(AtomicUsize::new(0)),
            });
            started.threads.push(thread);
        }
        Ok(started)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.runtimes.len()
    }

    /// Runs one connection's future on the runtime serving the fewest.
    /// The future should register its socket itself (`TcpStream::from_std`
    /// inside it), so the socket's readiness is polled where it is served.
    pub fn spawn<F>(&self, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Some(pinned) = self
            .runtimes
            .iter()
            .min_by_key(|pinned| pinned.connections.load(Ordering::Relaxed))
        else {
            return;
        };
        let count = Counted::new(pinned.connections.clone());
        pinned.handle.spawn(async move {
            let _count = count;
            connection.await;
        });
    }

    /// Ends the runtimes and waits for their threads, off the caller's
    /// runtime: connections still open are closed.
    pub async fn shut_down(self) {
        let ConnectionRuntimes { stop, threads, .. } = self;
        drop(stop);
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    tracing::error!("a connection runtime's thread panicked");
                }
            }
        });
        if let Err(error) = joined.await {
            tracing::error!(%error, "could not wait for the connection runtimes");
        }
    }
}

/// One connection counted on its runtime from spawn until its task ends,
/// dropped with it even when the runtime shuts down mid-connection.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(connections: Arc<AtomicUsize>) -> Counted {
        connections.fetch_add(1, Ordering::Relaxed);
        Counted(connections)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ConnectionRuntimes;

    /// Each connection runs on a runtime thread of its own, new ones going
    /// to the runtime with the fewest; shutting down cancels what is left.
    #[tokio::test]
    async fn connections_spread_over_runtimes_and_end_with_them() {
        let runtimes = ConnectionRuntimes::start(2).unwrap();
        assert_eq!(runtimes.len(), 2);
        let (names, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let (cancelled, mut was_cancelled) = tokio::sync::mpsc::unbounded_channel::<()>();
        for _ in 0..4 {
            let names = names.clone();
            let cancelled = cancelled.clone();
            runtimes.spawn(async move {
                let thread = std::thread::current().name().map(str::to_owned);
                names.send(thread).unwrap();
                // Held until the runtime drops the task, so every
                // connection stays open and counts against its runtime.
                let _guard = SendOnDrop(cancelled);
                std::future::pending::<()>().await;
            });
        }
        drop((names, cancelled));
        let mut threads = Vec::new();
        for _ in 0..4 {
            threads.push(seen.recv().await.unwrap().unwrap());
        }
        threads.sort();
        assert_eq!(
            threads,
            [
                "leadgate-http-0",
                "leadgate-http-0",
                "leadgate-http-1",
                "leadgate-http-1"
            ]
        );
        tokio::time::timeout(Duration::from_secs(10), runtimes.shut_down())
            .await
            .unwrap();
        for _ in 0..4 {
            was_cancelled.recv().await.unwrap();
        }
    }

    struct SendOnDrop(tokio::sync::mpsc::UnboundedSender<()>);

    impl Drop for SendOnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        let runtimes = ConnectionRuntimes::start(0).unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        assert_eq!(runtimes.len(), cores);
    }
}
