//! What a reload replaces, built from the settings: the routes of every
//! enabled dialect over a new core, the answers to refused heads by route,
//! and the forwarding targets' workers. `gateway` builds it at start,
//! `reload` again on every reload; the store and the sockets are neither's
//! to rebuild.

use std::sync::{Arc, RwLock};

use axum::Router;

use crate::config::{Settings, TargetSettings};
use crate::core::{Clock, Core, Employees, Routing, RoutingRule};
use crate::dialect::Serve;
use crate::forward::{self, Doorbell, ForwardRules};
use crate::http::head_refusals::{Refusal, Refusals, Refused};
use crate::http::{self as gateway_http, health, Limits, RouteName};
use crate::lead::path::WriteContext;
use crate::lead::ValidationRules;
use crate::store::{SharedCounters, Store};
use crate::sync_back::SyncBack;

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
                    ForwardRules::compile(&settings.forwarding.rules)
                        .with_updates_to(wiring.targets_applying_updates(&settings.forwarding)),
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

        let sync_back = Arc::new(SyncBack::new(
            core.clone(),
            store.clone(),
            rules.clone(),
            &settings.forwarding.targets,
        ));
        let targets: Arc<[TargetSettings]> = settings.forwarding.targets.clone().into();
        let mut router = Router::new().merge(health::routes(store.clone()));
        let mut routes = unnamed(health::PATHS);
        if sync_back.any() {
            router = router.merge(crate::sync_back::json_routes(sync_back.clone()));
            routes.extend(unnamed(&[crate::sync_back::JSON_ROUTE]));
        }
        let mut refusals = RefusalsByRoute::default();
        let serve = |mapping: &Arc<crate::mapping::Mapping>| Serve {
            core: core.clone(),
            mapping: mapping.clone(),
            rules: rules.clone(),
            write_context: write_context.clone(),
            limits,
            sync_back: sync_back.clone(),
            targets: targets.clone(),
        };
        for wired in &wiring.dialects {
            if let Some((events, template)) = wired.dialect.event_routes(serve(&wired.mapping)) {
                router = router.merge(events);
                routes.extend(unnamed(&[template]));
            }
        }
        for wired in wiring
            .dialects
            .iter()
            .filter(|wired| wired.dialect.enabled())
        {
            router = router.merge(wired.dialect.routes(serve(&wired.mapping)));
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
pub(super) fn refusals_of(current: Arc<RwLock<Arc<RefusalsByRoute>>>) -> Refusals {
    Arc::new(move |path: &str, refused: Refused| {
        let by_route = match current.read() {
            Ok(by_route) => by_route.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        by_route.answer(path, refused)
    })
}

/// Routes without a dialect (health, admin), named in logs and not counted.
pub(super) fn unnamed(templates: &[&'static str]) -> Vec<RouteName> {
    templates
        .iter()
        .map(|template| RouteName {
            template,
            dialect: None,
        })
        .collect()
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
