//! The accept loop. hyper-util's auto builder speaks HTTP/1.1 and HTTP/2 on
//! one port (and over TLS with ALPN); each accepted connection is handed to
//! one of the connection runtimes (`runtimes`) and watched by one
//! `GracefulShutdown`, so stopping means: stop accepting, let in-flight
//! requests finish (up to a grace period), close what is left, then return
//! to the caller, who flushes the store.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::deadlines::Deadlines;
use super::head_refusals::{HeadRefusals, Refusals};
use super::runtimes::ConnectionRuntimes;
use super::Front;

#[derive(Clone)]
pub struct ServerOptions {
    /// Slow-loris guard: the whole request head must arrive within this
    /// time, counted from the connection's start for its first request.
    pub header_read_timeout: Duration,
    /// A connection whose client reads nothing of its answer for this long
    /// is closed.
    pub write_timeout: Duration,
    /// Connections served at once; past it a new one is answered 503 and
    /// closed, rather than left to fail on the file limit.
    pub max_connections: usize,
    /// How long in-flight requests may run once a stop is asked for.
    pub shutdown_grace: Duration,
    /// Threads (each a runtime) serving connections; 0 means one per core.
    pub connection_threads: usize,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Dialect answers for heads hyper refuses (`head_refusals`).
    pub refusals: Refusals,
}

/// A server running on its own task.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Asks the server to stop; `stopped` then resolves once it has.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Resolves when the accept loop has ended and in-flight requests have
    /// finished (or the grace period ran out).
    pub async fn stopped(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "server task failed");
        }
    }
}

pub fn spawn(listener: TcpListener, front: Front, options: ServerOptions) -> RunningServer {
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (stop, stop_requested) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, front, options, stop_requested));
    RunningServer {
        local_addr,
        stop,
        task,
    }
}

async fn accept_loop(
    listener: TcpListener,
    front: Front,
    options: ServerOptions,
    mut stop_requested: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        // A header line with a control byte (a client's `X-Request-Id`) is
        // dropped rather than failing the whole request with hyper's bare
        // 400, so the request still gets its dialect's answer.
        .ignore_invalid_headers(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let runtimes = match ConnectionRuntimes::start(options.connection_threads) {
        Ok(runtimes) => Some(runtimes),
        Err(error) => {
            // Still a working server, only a slower one.
            tracing::warn!(%error, "cannot start the connection runtimes; serving on the main one");
            None
        }
    };

    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop_requested.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let Some(slot) = Slot::take(&open, options.max_connections) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        // Taken off this runtime's poller so the connection's own runtime
        // registers it (`TcpStream::from_std`) and polls it where it is served.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, "accepted connection unusable");
                continue;
            }
        };
        let connection = serve_connection(
            stream,
            TowerToHyperService::new(front.clone()),
            builder.clone(),
            tls.clone(),
            Timeouts {
                header_read: options.header_read_timeout,
                write: options.write_timeout,
            },
            options.refusals.clone(),
            graceful.watcher(),
        );
        let connection = async move {
            connection.await;
            drop(slot);
        };
        match &runtimes {
            Some(runtimes) => runtimes.spawn(connection),
            None => {
                tokio::spawn(connection);
            }
        }
    }

    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections finished"),
        _ = tokio::time::sleep(options.shutdown_grace) => {
            tracing::warn!("grace period over; closing remaining connections");
        }
    }
    if let Some(runtimes) = runtimes {
        runtimes.shut_down().await;
    }
}

/// One place among `max_connections`, given back when dropped.
struct Slot {
    open: Arc<AtomicUsize>,
}

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max_connections: usize) -> Option<Slot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
            (count < max_connections).then_some(count + 1)
        })
        .ok()?;
        crate::meters::connection(1.0);
        Some(Slot { open: open.clone() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        crate::meters::connection(-1.0);
    }
}

/// What a connection past the cap gets: an answer it can read and retry
/// on, instead of a reset or a hang. Not in any dialect's shape: nothing of
/// the request has been read, so which dialect is unknown.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\ncontent-length: 40\r\nconnection: close\r\n\r\n{\"error\":\"too many connections, retry\"}\n";

async fn refuse(mut stream: TcpStream) {
    tracing::warn!("connection limit reached; a new connection was answered 503");
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(FULL).await?;
        stream.shutdown().await
    })
    .await;
}

#[derive(Clone, Copy)]
struct Timeouts {
    /// The TLS handshake and the first byte of the first request.
    header_read: Duration,
    write: Duration,
}

/// One connection from accept to close, plain or TLS, run on the runtime
/// that polls `stream`.
async fn serve_connection(
    stream: std::net::TcpStream,
    service: TowerToHyperService<Front>,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    timeouts: Timeouts,
    refusals: Refusals,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(%error, "cannot register the connection");
            return;
        }
    };
    let Some(acceptor) = tls else {
        let stream = Deadlines::new(stream, timeouts.header_read, timeouts.write);
        let stream = HeadRefusals::new(stream, refusals);
        return serve_http(stream, builder, service, watcher).await;
    };
    let stream = match tokio::time::timeout(timeouts.header_read, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let stream = Deadlines::new(stream, timeouts.header_read, timeouts.write);
    let stream = HeadRefusals::new(stream, refusals);
    serve_http(stream, builder, service, watcher).await;
}

/// HTTP on an open stream, plain or TLS, until it closes or the server stops.
async fn serve_http<I>(
    stream: I,
    builder: auto::Builder<TokioExecutor>,
    service: TowerToHyperService<Front>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}
