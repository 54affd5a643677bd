//! What every request meets before its route: a request id (the client's own
//! `x-request-id` when it is short and printable, otherwise a new one) that
//! the answer carries back, and a tracing span naming the method, the route
//! template the path matches (`/rest/{*call}`, never the path itself, which
//! carries Bitrix24 webhook codes and whatever a client typed) and the id;
//! never the query or the body, which carry api keys, phones and e-mails.
//!
//! When the answer leaves, the request is counted (`meters::request`:
//! dialect by route, method and outcome as the dialect put them in the
//! response's extensions) and one access line is logged at info: route
//! template, dialect, method, status, latency and request id, never values.
//!
//! One service around the whole router rather than tower-http layers inside
//! it: axum boxes every route again for each `Router::layer` and clones the
//! boxes for every request. This and the one-layer dialect guard made
//! durable adds 6.5% faster.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::Request;
use tower::Service;
use tracing::Instrument;

use super::request_id::{self, Sequential};
use crate::meters::{self, Handled, Outcome};

/// The target of access lines, so a filter can name them apart
/// (`LEADGATE_LOG=info,leadgate::access=warn` keeps only failed requests).
pub const ACCESS: &str = "leadgate::access";

/// What the span says of a path no route matches.
const UNROUTED: &str = "(no route)";

/// A route a request can match: its template, and the dialect serving it
/// (`None` for health and admin routes, which are not counted).
#[derive(Clone, Copy, Debug)]
pub struct RouteName {
    pub template: &'static str,
    pub dialect: Option<&'static str>,
}

/// The method label of a request its dialect did not name (refused before
/// it was read, or no route).
pub const UNNAMED_METHOD: &str = "unknown";

/// Names the method an answer is for (metrics and the access line),
/// keeping the outcome a dialect's error reply marked on it.
pub fn name_method(response: &mut Response, method: &'static str) {
    match response.extensions_mut().get_mut::<Handled>() {
        Some(handled) => handled.method = method,
        None => {
            response.extensions_mut().insert(Handled {
                method,
                outcome: Outcome::Ok,
            });
        }
    }
}

/// Marks an answer as a dialect's error (each dialect's one error reply
/// calls this), whatever its HTTP status.
pub fn mark_outcome(mut response: Response, outcome: Outcome) -> Response {
    response.extensions_mut().insert(Handled {
        method: UNNAMED_METHOD,
        outcome,
    });
    response
}

/// The router with request ids and a span per request; what the server
/// serves. Clones (one per connection) share the routes, which a reload
/// replaces: requests already routed finish on the routes they started
/// on, and the next request of every connection takes the new ones.
#[derive(Clone)]
pub struct Front {
    /// The routes this clone serves, taken from `shared` again when its
    /// generation moves on (one atomic load per request, no lock).
    current: Arc<Routes>,
    shared: Arc<SharedRoutes>,
    ids: Sequential,
}

/// A router and the names of its routes.
struct Routes {
    router: Router,
    generation: u64,
    /// The templates of `router`'s routes, to name a request in logs.
    templates: matchit::Router<RouteName>,
}

struct SharedRoutes {
    generation: AtomicU64,
    routes: RwLock<Arc<Routes>>,
}

impl Routes {
    fn new(router: Router, routes: &[RouteName], generation: u64) -> Routes {
        let mut templates = matchit::Router::new();
        for route in routes {
            // A template given twice, or one matchit refuses, only loses
            // its name in logs.
            let _ = templates.insert(route.template, *route);
        }
        Routes {
            router,
            generation,
            templates,
        }
    }
}

impl Front {
    /// `routes` are the route templates `router` serves, as given to it.
    pub fn new(router: Router, routes: &[RouteName]) -> Front {
        let current = Arc::new(Routes::new(router, routes, 0));
        Front {
            shared: Arc::new(SharedRoutes {
                generation: AtomicU64::new(0),
                routes: RwLock::new(current.clone()),
            }),
            current,
            ids: Sequential::default(),
        }
    }

    /// Serves `router` from the next request of every connection on.
    pub fn replace(&self, router: Router, routes: &[RouteName]) {
        let mut shared = match self.shared.routes.write() {
            Ok(shared) => shared,
            Err(poisoned) => poisoned.into_inner(),
        };
        let generation = shared.generation + 1;
        *shared = Arc::new(Routes::new(router, routes, generation));
        self.shared.generation.store(generation, Ordering::Release);
    }

    /// This clone's routes, brought up to date.
    fn refresh(&mut self) {
        if self.shared.generation.load(Ordering::Acquire) == self.current.generation {
            return;
        }
        let shared = match self.shared.routes.read() {
            Ok(shared) => shared,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.current = shared.clone();
    }

    /// The route `path` matches, for logs and metrics.
    fn route(&self, path: &str) -> RouteName {
        self.current.templates.at(path).map_or(
            RouteName {
                template: UNROUTED,
                dialect: Some("none"),
            },
            |matched| *matched.value,
        )
    }

    #[cfg(test)]
    fn template(&self, path: &str) -> &'static str {
        self.route(path).template
    }
}

impl<B> Service<Request<B>> for Front
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // An axum router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Instant::now();
        self.refresh();
        let id = match request.headers().get(request_id::HEADER) {
            Some(id) if request_id::acceptable(id) => Some(id.clone()),
            _ => {
                let id = self.ids.next_id();
                if let Some(id) = &id {
                    request
                        .headers_mut()
                        .insert(request_id::header_name(), id.clone());
                }
                id
            }
        };
        let route = self.route(request.uri().path());
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            route = route.template,
            request_id = id.as_ref().and_then(|id| id.to_str().ok()).unwrap_or("-"),
        );
        let routed = {
            let _entered = span.enter();
            tracing::debug!("started processing request");
            self.current.router.clone().call(request)
        };
        Box::pin(
            async move {
                let Ok(mut response) = routed.await;
                if let Some(id) = id {
                    response
                        .headers_mut()
                        .entry(request_id::HEADER)
                        .or_insert(id);
                }
                let took = started.elapsed();
                let latency_us = took.as_micros() as u64;
                let status = response.status();
                let handled = response
                    .extensions()
                    .get::<Handled>()
                    .copied()
                    .unwrap_or(Handled {
                        method: UNNAMED_METHOD,
                        outcome: if status.is_success() {
                            Outcome::Ok
                        } else if status.is_server_error() {
                            Outcome::Failed
                        } else {
                            Outcome::Refused
                        },
                    });
                let dialect = route.dialect.unwrap_or("-");
                if let Some(dialect) = route.dialect {
                    meters::request(dialect, handled, took);
                }
                // One line, at error for this side's failures (tracing
                // takes a level only as a constant, hence the macro).
                macro_rules! access_line {
                    ($level:ident) => {
                        tracing::$level!(
                            target: ACCESS,
                            status = status.as_u16(),
                            latency_us,
                            dialect,
                            call = handled.method,
                            outcome = handled.outcome.as_str(),
                            "request answered"
                        )
                    };
                }
                if status.is_server_error() {
                    access_line!(error);
                } else {
                    access_line!(info);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use http::Request;
    use tower::ServiceExt;

    use super::Front;

    async fn id_answered(front: Front, sent: Option<&str>) -> String {
        let mut request = Request::get("/").body(Body::empty()).unwrap();
        if let Some(sent) = sent {
            request
                .headers_mut()
                .insert("x-request-id", sent.parse().unwrap());
        }
        let response = front.oneshot(request).await.unwrap();
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// The handler sees the id the answer carries: the client's own, or a
    /// new one per request.
    #[tokio::test]
    async fn answers_carry_the_request_id() {
        let router = Router::new().route(
            "/",
            get(|request: Request<Body>| async move {
                assert!(request.headers().contains_key("x-request-id"));
                "ok"
            }),
        );
        let front = Front::new(
            router,
            &[super::RouteName {
                template: "/",
                dialect: None,
            }],
        );
        assert_eq!(id_answered(front.clone(), Some("abc-1")).await, "abc-1");
        let first = id_answered(front.clone(), None).await;
        let second = id_answered(front.clone(), None).await;
        assert_ne!(first, second);
        assert!(
            first.ends_with("-0") || second.ends_with("-0"),
            "{first} {second}"
        );
        // Too long, or not printable: replaced by a new one, never logged
        // or echoed.
        let long = "x".repeat(200);
        assert!(id_answered(front.clone(), Some(&long))
            .await
            .ends_with("-2"));
        assert!(id_answered(front, Some("a b")).await.ends_with("-3"));
    }
}

#[cfg(test)]
mod template_tests {
    use axum::Router;

    use super::{Front, UNROUTED};

    #[test]
    fn paths_are_named_by_their_template() {
        let routes: Vec<super::RouteName> = ["/rest/{*call}", "/developer/v1/leads", "/healthz"]
            .into_iter()
            .map(|template| super::RouteName {
                template,
                dialect: None,
            })
            .collect();
        let front = Front::new(Router::new(), &routes);
        assert_eq!(
            front.template("/rest/1/s3cr3t/crm.lead.add.json"),
            "/rest/{*call}"
        );
        assert_eq!(front.template("/developer/v1/leads"), "/developer/v1/leads");
        assert_eq!(front.template("/anna@example.ru"), UNROUTED);
    }
}
