//! The running gateway: settings → store → core → every enabled dialect's
//! routes → one router → server, and the forwarder beside it. Used by
//! `leadgate serve` and by the end-to-end tests, which start the very same
//! gateway on an ephemeral port.

use std::sync::{Arc, RwLock};

use axum::Router;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{AdminSettings, ConfigProblem, Settings};
use crate::core::{Clock, LocalCounters, SystemClock};
use crate::forward::admin::TargetNames;
use crate::forward::{self, Forwarder};
use crate::http::tls::{self, TlsError};
use crate::http::{self as gateway_http, health, server, RunningServer, ServerOptions};
use crate::meters;
use crate::store::{SharedCounters, Store, StoreError};

use super::reload::{ReloadError, Reloaded, Reloader, Running};
use super::serving::{refusals_of, unnamed, Serving};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("configuration has {} problem(s):\n{}", .0.len(), crate::problems::listed(.0))]
    Config(Vec<ConfigProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

pub struct Gateway {
    server: RunningServer,
    /// The `[admin]` listener, when configured.
    admin: Option<RunningServer>,
    /// What a reload replaces, the forwarder among it.
    reloader: Arc<Reloader>,
    store: Arc<dyn Store>,
}

impl Gateway {
    /// Checks the settings, opens the store and starts serving. `listener`
    /// overrides `server.listen` (tests pass one bound to port 0).
    pub async fn start(
        settings: &Settings,
        listener: Option<TcpListener>,
    ) -> Result<Gateway, StartError> {
        Gateway::start_with_clock(settings, listener, Arc::new(SystemClock)).await
    }

    /// As [`Gateway::start`], on the given clock (tests move time by hand).
    pub async fn start_with_clock(
        settings: &Settings,
        listener: Option<TcpListener>,
        clock: Arc<dyn Clock>,
    ) -> Result<Gateway, StartError> {
        let wiring = super::wiring::check(settings).map_err(StartError::Config)?;
        for warning in super::wiring::warnings(settings, &wiring) {
            tracing::warn!("{warning}");
        }
        let tls = match &settings.server.tls {
            Some(files) => Some(tls::server_config(&files.cert, &files.key)?),
            None => None,
        };
        let store = super::stores::open(&settings.store, super::stores::Opener::Gateway).await?;
        let counters: Arc<dyn SharedCounters> = match store.shared_counters() {
            Some(shared) => shared,
            None => Arc::new(LocalCounters::default()),
        };
        let serving = Serving::build(settings, &wiring, &store, &clock, &counters);
        let pacers = serving.pacers();
        let front = gateway_http::Front::new(serving.router, &serving.routes);
        let refusals = Arc::new(RwLock::new(Arc::new(serving.refusals)));

        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(&settings.server.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: settings.server.listen.clone(),
                    source,
                })?,
        };
        // Started once the port is ours, so a failed start leaves no workers.
        let forwarder = Forwarder::start(
            store.clone(),
            clock.clone(),
            serving.target_workers,
            super::targets::options(&settings.forwarding, settings.server.shutdown_grace()),
            &serving.doorbell,
        );
        let reloader = Arc::new(Reloader {
            running: tokio::sync::Mutex::new(Running {
                settings: settings.clone(),
                forwarder: Some(forwarder),
                pacers,
            }),
            front: front.clone(),
            refusals: refusals.clone(),
            store: store.clone(),
            clock,
            counters,
            targets: TargetNames::new(settings.forwarding.target_names()),
            ops_view: crate::ops::SharedView::new(super::operations::view(settings, &wiring)),
        });
        let admin = match &settings.admin {
            Some(admin) => Some(start_admin(settings, admin, store.clone(), &reloader).await?),
            None => None,
        };
        let server = server::spawn(
            listener,
            front,
            ServerOptions {
                header_read_timeout: settings.server.header_read_timeout(),
                write_timeout: settings.server.write_timeout(),
                max_connections: settings.server.connection_cap(),
                refusals: refusals_of(refusals),
                shutdown_grace: settings.server.shutdown_grace(),
                connection_threads: settings.server.connection_threads,
                tls,
            },
        );
        tracing::info!(
            address = %server.local_addr,
            tls = settings.server.tls.is_some(),
            store = %settings.store.path.display(),
            "leadgate is serving"
        );
        if let Some(admin) = &admin {
            tracing::info!(address = %admin.local_addr, "admin listener is serving");
        }
        Ok(Gateway {
            server,
            admin,
            reloader,
            store,
        })
    }

    /// Re-reads the settings file this gateway started from and applies
    /// it (see [`Reloader::reload`]).
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        self.reloader.reload().await
    }

    /// The store this gateway writes to (delivery inspection in tests and
    /// the admin endpoints).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr
    }

    /// Where the `[admin]` listener listens, when configured.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.as_ref().map(|admin| admin.local_addr)
    }

    /// Stops accepting, lets in-flight requests finish, lets deliveries on
    /// the wire finish (or return to the queue), then commits and flushes
    /// the store. Every lead acknowledged before this returns is on disk.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        self.server.stop();
        self.server.stopped().await;
        if let Some(admin) = self.admin {
            admin.stop();
            admin.stopped().await;
        }
        let forwarder = self.reloader.running.lock().await.forwarder.take();
        if let Some(forwarder) = forwarder {
            forwarder.stop().await;
        }
        self.store.close().await
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully;
    /// reloads the settings file on SIGHUP.
    pub async fn run_until_signal(self) -> Result<(), StoreError> {
        let stop = shutdown_signal();
        tokio::pin!(stop);
        let mut hangups = hangup_signals();
        loop {
            tokio::select! {
                _ = &mut stop => break,
                Some(()) = hangups.recv() => {
                    // The outcome is logged by the reload itself.
                    let _ = self.reload().await;
                }
            }
        }
        tracing::info!("stop requested; finishing in-flight requests");
        self.shutdown().await
    }
}

/// One message per SIGHUP (none where there are no signals).
fn hangup_signals() -> tokio::sync::mpsc::Receiver<()> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut signal) => {
            tokio::spawn(async move {
                while signal.recv().await.is_some() {
                    // A reload already waiting covers this one too.
                    let _ = sender.try_send(());
                }
            });
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; reload with POST /admin/reload")
        }
    }
    #[cfg(not(unix))]
    drop(sender);
    receiver
}

/// The `[admin]` listener: `/metrics`, `/healthz`, `/readyz`, and with a
/// token the delivery calls. Nothing of the dialects is served there, and
/// nothing of this on the public port.
async fn start_admin(
    settings: &Settings,
    admin: &AdminSettings,
    store: Arc<dyn Store>,
    reloader: &Arc<Reloader>,
) -> Result<RunningServer, StartError> {
    let targets = reloader.targets.clone();
    let mut router = Router::new().merge(health::routes(store.clone()));
    let mut routes = unnamed(health::PATHS);
    if let Some(handle) = meters::install() {
        router = router.merge(gateway_http::metrics::routes(
            handle,
            store.clone(),
            targets.clone(),
        ));
        routes.extend(unnamed(gateway_http::metrics::PATHS));
    }
    if let Some(token) = &admin.token {
        router = router.merge(crate::ops::routes(
            token,
            store.clone(),
            targets.clone(),
            reloader.ops_view.clone(),
        ));
        routes.extend(unnamed(crate::ops::PATHS));
        let deliveries = forward::admin::DeliveryAdmin::new(store, targets);
        let reloader = reloader.clone();
        let reload: gateway_http::admin::Reload = Arc::new(move || {
            let reloader = reloader.clone();
            Box::pin(async move {
                reloader
                    .reload()
                    .await
                    .map(|reloaded| reloaded.needs_restart)
                    .map_err(|error| error.to_string())
            })
        });
        router = router.merge(gateway_http::admin::routes(deliveries, reload, token));
        routes.extend(unnamed(gateway_http::admin::PATHS));
    }
    let router = router.fallback(gateway_http::json_errors::not_found);
    let listener = TcpListener::bind(&admin.listen)
        .await
        .map_err(|source| StartError::Bind {
            address: admin.listen.clone(),
            source,
        })?;
    Ok(server::spawn(
        listener,
        gateway_http::Front::new(router, &routes),
        ServerOptions {
            header_read_timeout: settings.server.header_read_timeout(),
            write_timeout: settings.server.write_timeout(),
            max_connections: ADMIN_CONNECTIONS,
            refusals: Arc::new(|_, _| None),
            shutdown_grace: settings.server.shutdown_grace(),
            connection_threads: 1,
            tls: None,
        },
    ))
}

/// Connections the admin listener serves at once: scrapers and operators.
const ADMIN_CONNECTIONS: usize = 64;

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
