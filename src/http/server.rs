//! The accept loop. hyper-util's auto builder speaks HTTP/1.1 and HTTP/2 on
//! one port (and over TLS with ALPN); each accepted connection is handed to
//! one of the connection runtimes (`runtimes`) and watched by one
//! `GracefulShutdown`, so stopping means: stop accepting, let in-flight
//! requests finish (up to a grace period), close what is left, then return
//! to the caller, who flushes the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::runtimes::ConnectionRuntimes;
use super::Front;

#[derive(Clone)]
pub struct ServerOptions {
    /// Slow-loris guard: the whole request head must arrive within this time.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run once a stop is asked for.
    pub shutdown_grace: Duration,
    /// Threads (each a runtime) serving connections; 0 means one per core.
    pub connection_threads: usize,
    pub tls: Option<Arc<rustls::ServerConfig>>,
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
        .header_read_timeout(options.header_read_timeout);
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
            options.header_read_timeout,
            graceful.watcher(),
        );
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

/// One connection from accept to close, plain or TLS, run on the runtime
/// that polls `stream`.
async fn serve_connection(
    stream: std::net::TcpStream,
    service: TowerToHyperService<Front>,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handshake_timeout: Duration,
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
        return serve_http(stream, builder, service, watcher).await;
    };
    let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
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
