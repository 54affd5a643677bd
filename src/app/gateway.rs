//! The running gateway: settings → store → core → every enabled dialect's
//! routes → one router → server, and the forwarder beside it. Used by
//! `leadgate serve` and by the end-to-end tests, which start the very same
//! gateway on an ephemeral port.

use std::sync::Arc;

use axum::Router;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{AdminSettings, ConfigProblem, Settings};
use crate::core::{Clock, Core, Employees, Routing, RoutingRule, SystemClock};
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
use crate::store::{Store, StoreError};

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

fn list(problems: &[ConfigProblem]) -> String {
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
    forwarder: Forwarder,
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
        let target_workers =
            super::targets::build(&settings.forwarding, &wiring, store.shared_pacing());
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
                .with_shared_counters(store.shared_counters())
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
        let router = router.fallback(gateway_http::json_errors::not_found);
        let front = gateway_http::Front::new(router, &routes);

        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(&settings.server.listen)
                .await
                .map_err(|source| StartError::Bind {
                    address: settings.server.listen.clone(),
                    source,
                })?,
        };
        let admin = match &settings.admin {
            Some(admin) => Some(start_admin(settings, admin, store.clone()).await?),
            None => None,
        };
        // Started once the port is ours, so a failed start leaves no workers.
        let forwarder = Forwarder::start(
            store.clone(),
            clock,
            target_workers,
            super::targets::options(&settings.forwarding, settings.server.shutdown_grace()),
            &doorbell,
        );
        let server = server::spawn(
            listener,
            front,
            ServerOptions {
                header_read_timeout: settings.server.header_read_timeout(),
                write_timeout: settings.server.write_timeout(),
                max_connections: settings.server.connection_cap(),
                refusals: refusals.into_refusals(),
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
            forwarder,
            store,
        })
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
        self.forwarder.stop().await;
        self.store.close().await
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> Result<(), StoreError> {
        shutdown_signal().await;
        tracing::info!("stop requested; finishing in-flight requests");
        self.shutdown().await
    }
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
        router = router.merge(gateway_http::admin::routes(deliveries, token));
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
struct RefusalsByRoute {
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

    fn into_refusals(self) -> Refusals {
        Arc::new(move |path: &str, refused: Refused| {
            let index = *self.routes.at(path).ok()?.value;
            let answers = self.answers.get(index)?;
            Some(match refused {
                Refused::TooLarge => answers.too_large.clone(),
                Refused::Malformed => answers.malformed.clone(),
            })
        })
    }
}
