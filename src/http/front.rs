//! What every request meets before its route: a request id (the client's own
//! `x-request-id` when it is short and printable, otherwise a new one) that
//! the answer carries back, and a tracing span naming the method, the route
//! template the path matches (`/rest/{*call}`, never the path itself, which
//! carries Bitrix24 webhook codes and whatever a client typed) and the id;
//! never the query or the body, which carry api keys, phones and e-mails.
//!
//! One service around the whole router rather than tower-http layers inside
//! it: axum boxes every route again for each `Router::layer` and clones the
//! boxes for every request. This and the one-layer dialect guard made
//! durable adds 6.5% faster.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::Request;
use tower::Service;
use tracing::Instrument;

use super::request_id::{self, Sequential};

/// What the span says of a path no route matches.
const UNROUTED: &str = "(no route)";

/// The router with request ids and a span per request; what the server
/// serves.
#[derive(Clone)]
pub struct Front {
    router: Router,
    ids: Sequential,
    /// The templates of `router`'s routes, to name a request in logs.
    templates: Arc<matchit::Router<&'static str>>,
}

impl Front {
    /// `templates` are the route templates `router` serves, as given to it.
    pub fn new(router: Router, templates: &[&'static str]) -> Front {
        let mut matcher = matchit::Router::new();
        for template in templates {
            // A template given twice, or one matchit refuses, only loses
            // its name in logs.
            let _ = matcher.insert(*template, *template);
        }
        Front {
            router,
            ids: Sequential::default(),
            templates: Arc::new(matcher),
        }
    }

    /// The template `path` matches, for logs.
    fn template(&self, path: &str) -> &'static str {
        self.templates
            .at(path)
            .map_or(UNROUTED, |matched| *matched.value)
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

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<B>>::poll_ready(&mut self.router, context)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Instant::now();
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
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            route = self.template(request.uri().path()),
            request_id = id.as_ref().and_then(|id| id.to_str().ok()).unwrap_or("-"),
        );
        let routed = {
            let _entered = span.enter();
            tracing::debug!("started processing request");
            self.router.call(request)
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
                let latency_us = started.elapsed().as_micros() as u64;
                let status = response.status().as_u16();
                if response.status().is_server_error() {
                    tracing::error!(status, latency_us, "response failed");
                } else {
                    tracing::debug!(status, latency_us, "finished processing request");
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
        let front = Front::new(router, &["/"]);
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
        let front = Front::new(
            Router::new(),
            &["/rest/{*call}", "/developer/v1/leads", "/healthz"],
        );
        assert_eq!(
            front.template("/rest/1/s3cr3t/crm.lead.add.json"),
            "/rest/{*call}"
        );
        assert_eq!(front.template("/developer/v1/leads"), "/developer/v1/leads");
        assert_eq!(front.template("/anna@example.ru"), UNROUTED);
    }
}
