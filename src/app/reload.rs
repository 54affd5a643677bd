//! Reload without restart (SIGHUP, `POST /admin/reload`): the settings
//! file is read and checked again; if it passes `leadgate check`, the
//! routes of every dialect are rebuilt over a new core (credentials,
//! employees, routing, mappings, forwarding rules) and served from each
//! connection's next request, and the forwarder is stopped as at shutdown
//! (a delivery on the wire finishes or returns to the queue) and started
//! again with the new targets. No connection is dropped and no delivery
//! lost: the store and the sockets stay, and so do what limits have
//! counted (a target's pacer while its pace is unchanged, the inbound
//! limits' counters). A file that fails the check is refused and logged,
//! and the running settings stay.
//!
//! Settings read only at start (listen addresses, TLS, connection limits,
//! the store, the admin listener) are named in the log when they changed,
//! and take effect at the next restart.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use thiserror::Error;

use super::serving::{RefusalsByRoute, Serving};
use crate::config::{ConfigProblem, Settings};
use crate::core::Clock;
use crate::forward::admin::TargetNames;
use crate::forward::{Forwarder, Pacer};
use crate::http::Front;
use crate::store::{SharedCounters, Store};

/// What a reload replaces, shared by the gateway, its signal loop and the
/// admin route.
pub struct Reloader {
    pub(super) running: tokio::sync::Mutex<Running>,
    pub(super) front: Front,
    pub(super) refusals: Arc<RwLock<Arc<RefusalsByRoute>>>,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    /// The inbound limits' counters, the same for every core built.
    pub(super) counters: Arc<dyn SharedCounters>,
    /// The targets' names as the admin calls and `/metrics` know them.
    pub(super) targets: TargetNames,
    /// What the operations page shows of the configuration.
    pub(super) ops_view: crate::ops::SharedView,
}

/// The settings in effect and the forwarder running them; `forwarder` is
/// taken at shutdown, after which reloads are refused.
pub struct Running {
    pub(super) settings: Settings,
    pub(super) forwarder: Option<Forwarder>,
    /// Each target's pacer, kept by a reload that leaves its pace alone.
    pub(super) pacers: Vec<(String, Arc<Pacer>)>,
}

/// A reload that was applied.
#[derive(Debug)]
pub struct Reloaded {
    /// Changed keys that take effect only at the next restart.
    pub needs_restart: Vec<String>,
}

#[derive(Debug, Error)]
pub enum ReloadError {
    #[error("the settings file has {} problem(s); the running settings are kept:\n{}", .0.len(), crate::problems::listed(.0))]
    Refused(Vec<ConfigProblem>),
    #[error("the gateway is stopping")]
    Stopping,
}

impl Reloader {
    /// Reads the file the running settings came from and applies it.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let mut running = self.running.lock().await;
        if running.forwarder.is_none() {
            return Err(ReloadError::Stopping);
        }
        let source = PathBuf::from(&running.settings.source);
        let checked = Settings::load(&source).and_then(|settings| {
            let wiring = super::wiring::check(&settings)?;
            Ok((settings, wiring))
        });
        let (mut settings, wiring) = match checked {
            Ok(checked) => checked,
            Err(problems) => {
                tracing::error!(
                    problems = problems.len(),
                    "reload refused; the running settings are kept"
                );
                for problem in &problems {
                    tracing::error!("{problem}");
                }
                return Err(ReloadError::Refused(problems));
            }
        };
        for warning in super::wiring::warnings(&settings, &wiring) {
            tracing::warn!("{warning}");
        }
        let needs_restart = keep_start_only(&running.settings, &mut settings);
        for key in &needs_restart {
            tracing::warn!(key = %key, "changed, takes effect at the next restart");
        }

        let mut serving =
            Serving::build(&settings, &wiring, &self.store, &self.clock, &self.counters);
        serving.keep_pacers(&running.pacers);
        running.pacers = serving.pacers();
        self.front.replace(serving.router, &serving.routes);
        match self.refusals.write() {
            Ok(mut refusals) => *refusals = Arc::new(serving.refusals),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(serving.refusals),
        }
        if let Some(forwarder) = running.forwarder.take() {
            forwarder.stop().await;
        }
        running.forwarder = Some(Forwarder::start(
            self.store.clone(),
            self.clock.clone(),
            serving.target_workers,
            super::targets::options(&settings.forwarding, settings.server.shutdown_grace()),
            &serving.doorbell,
        ));
        self.targets.replace(settings.forwarding.target_names());
        self.ops_view
            .replace(super::operations::view(&settings, &wiring));
        running.settings = settings;
        tracing::info!(needs_restart = needs_restart.len(), "settings reloaded");
        Ok(Reloaded { needs_restart })
    }
}

/// The keys read only at start that `new` changes, each put back to its
/// running value in `new` (so the next reload compares with what runs).
fn keep_start_only(running: &Settings, new: &mut Settings) -> Vec<String> {
    let mut changed = Vec::new();
    // Compared by their debug text: these types are plain settings.
    macro_rules! keep {
        ($key:literal, $($field:tt)+) => {
            if format!("{:?}", running.$($field)+) != format!("{:?}", new.$($field)+) {
                changed.push($key.to_owned());
                new.$($field)+ = running.$($field)+.clone();
            }
        };
    }
    keep!("server.listen", server.listen);
    keep!("server.tls", server.tls);
    keep!("server.connection_threads", server.connection_threads);
    keep!("server.max_connections", server.max_connections);
    keep!(
        "server.header_read_timeout_secs",
        server.header_read_timeout_secs
    );
    keep!("server.write_timeout_secs", server.write_timeout_secs);
    keep!("server.shutdown_grace_secs", server.shutdown_grace_secs);
    keep!("store", store);
    keep!("admin", admin);
    changed
}
