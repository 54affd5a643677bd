//! The running gateway: settings → store → core → every enabled dialect's
//! routes → one router → server, and the forwarder beside it. Used by
//! `leadgate serve` and by the end-to-end tests, which start the very same
//! gateway on an ephemeral port.

use std::sync::{Arc, RwLock};

use axum::Router;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{AdminSettings, ConfigProblem, Settings};
use crate::core::{Clock, Core, Employees, LocalCounters, Routing, RoutingRule, SystemClock};
use crate::dialect::Serve;
use crate::forward::{self, Doorbell, ForwardRules, Forwarder};
use crate::http::head_refusals::{Refusal, Refusals, Refused};
use crate::http::tls::{self, TlsError};
use crate::http::{
    self as gateway_http, health, server, Limits, RouteName, RunningServer, ServerOptions,
};
use crate::lead::path::WriteContext;
use crate::lead::ValidationRules;
use crate::meters;
use crate::store::{SharedCounters, Store, StoreError};

use super::reload::{ReloadError, Reloaded, Reloader, Running};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("configuration has {} problem(s):\n{}", .0.len(), list(.0))]
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

/// Problems, one per line, for error messages.
pub(super) fn list(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
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

/// Everything a reload replaces: the routes of every enabled dialect over
/// a new core (employees, routing, mappings, credentials, forwarding
/// rules), their head refusals, and the forwarding targets' workers. The
/// store and the sockets stay.
pub(super) struct Serving {
    pub(super) router: Router,
    pub(super) routes: Vec<RouteName>,
    pub(super) refusals: RefusalsByRoute,
    pub(super) target_workers: Vec<forward::TargetWorker>,
    pub(super) doorbell: Doorbell,
}

impl Serving {
    /// `counters` are the inbound limits' counters: the store's when it
    /// shares them, else the gateway's own, kept across reloads.
    pub(super) fn build(
        settings: &Settings,
        wiring: &super::wiring::Wiring,
        store: &Arc<dyn Store>,
        clock: &Arc<dyn Clock>,
        counters: &Arc<dyn SharedCounters>,
    ) -> Serving {
        let target_workers =
            super::targets::build(&settings.forwarding, wiring, store.shared_pacing());
        let employees = Employees::new(settings.employees.clone());
        let routing = Routing {
            rules: settings
                .routing
                .iter()
                .map(|route| RoutingRule {
                    site_ids: route.site_ids.clone(),
                    department_ids: route.department_ids.clone(),
                    employees: route
                        .employees
                        .iter()
                        .filter_map(|login| employees.by_login(login))
                        .map(|employee| employee.id)
                        .collect(),
                })
                .collect(),
        };
        let doorbell = Doorbell::new(
            settings
                .forwarding
                .targets
                .iter()
                .map(|target| target.name.as_str()),
        );
        let core = Arc::new(
            Core::from_parts(store.clone(), store.clone(), employees)
                .with_routing(routing)
                .with_clock(clock.clone())
                .with_shared_counters(Some(counters.clone()))
                .with_forwarding(
                    ForwardRules::compile(&settings.forwarding.rules),
                    doorbell.clone(),
                ),
        );
        let limits = Limits {
            body_limit_bytes: settings.server.body_limit_bytes,
            request_timeout: settings.server.request_timeout(),
            // A client that stops mid-body is as slow as one that stops
            // mid-head: the same setting bounds both.
            body_stall: settings.server.header_read_timeout(),
        };
        let rules = ValidationRules {
            max_text_chars: settings.leads.max_text_chars,
            max_field_chars: settings.leads.max_field_chars,
            require_contact: false,
        };
        let write_context = WriteContext {
            default_country_code: settings.leads.phone_default_country.clone(),
        };

        let mut router = Router::new().merge(health::routes(store.clone()));
        let mut routes = unnamed(health::PATHS);
        let mut refusals = RefusalsByRoute::default();
        for wired in wiring
            .dialects
            .iter()
            .filter(|wired| wired.dialect.enabled())
        {
            router = router.merge(wired.dialect.routes(Serve {
                core: core.clone(),
                mapping: wired.mapping.clone(),
                rules: rules.clone(),
                write_context: write_context.clone(),
                limits,
            }));
            let dialect = wired.dialect.name();
            routes.extend(
                wired
                    .dialect
                    .route_templates()
                    .iter()
                    .map(|template| RouteName {
                        template,
                        dialect: Some(dialect),
                    }),
            );
            refusals.add(wired.dialect.as_ref());
        }
        Serving {
            router: router.fallback(gateway_http::json_errors::not_found),
            routes,
            refusals,
            target_workers,
            doorbell,
        }
    }
}

impl Serving {
    /// Each target's pacer, by target name.
    pub(super) fn pacers(&self) -> Vec<(String, Arc<forward::Pacer>)> {
        self.target_workers
            .iter()
            .map(|worker| (worker.name.clone(), worker.pacer.clone()))
            .collect()
    }

    /// Gives a target whose pace a reload left alone the pacer it had, so
    /// the first request after the reload still keeps its distance from
    /// the last one before it.
    pub(super) fn keep_pacers(&mut self, running: &[(String, Arc<forward::Pacer>)]) {
        for worker in &mut self.target_workers {
            let kept = running
                .iter()
                .find(|(name, pacer)| *name == worker.name && pacer.paces_like(&worker.pacer));
            if let Some((_, pacer)) = kept {
                worker.pacer = pacer.clone();
            }
        }
    }
}

/// The server's refusals of unparsable heads, answered in the dialect of
/// the path by the routes now served.
fn refusals_of(current: Arc<RwLock<Arc<RefusalsByRoute>>>) -> Refusals {
    Arc::new(move |path: &str, refused: Refused| {
        let by_route = match current.read() {
            Ok(by_route) => by_route.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        by_route.answer(path, refused)
    })
}

fn target_names(settings: &Settings) -> Vec<String> {
    settings
        .forwarding
        .targets
        .iter()
        .map(|target| target.name.clone())
        .collect()
}

/// Routes without a dialect (health, admin), named in logs and not counted.
fn unnamed(templates: &[&'static str]) -> Vec<RouteName> {
    templates
        .iter()
        .map(|template| RouteName {
            template,
            dialect: None,
        })
        .collect()
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
    let targets = target_names(settings);
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

/// Each dialect's answers to refused heads, by the routes it serves,
/// worked out once at start.
#[derive(Default)]
pub(super) struct RefusalsByRoute {
    routes: matchit::Router<usize>,
    /// Per dialect, in the order added.
    answers: Vec<DialectRefusals>,
}

/// One dialect's answers to the two kinds of refused head.
struct DialectRefusals {
    too_large: Refusal,
    malformed: Refusal,
}

impl RefusalsByRoute {
    fn add(&mut self, dialect: &dyn crate::dialect::Dialect) {
        let index = self.answers.len();
        self.answers.push(DialectRefusals {
            too_large: dialect.head_refusal(Refused::TooLarge),
            malformed: dialect.head_refusal(Refused::Malformed),
        });
        for template in dialect.route_templates() {
            // Dialects' routes do not overlap (axum would have refused
            // them already).
            let _ = self.routes.insert(*template, index);
        }
    }

    fn answer(&self, path: &str, refused: Refused) -> Option<Refusal> {
        let index = *self.routes.at(path).ok()?.value;
        let answers = self.answers.get(index)?;
        Some(match refused {
            Refused::TooLarge => answers.too_large.clone(),
            Refused::Malformed => answers.malformed.clone(),
        })
    }
}
