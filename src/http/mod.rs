//! HTTP assembly: one router for every dialect, the layers every request goes
//! through (request id, tracing span, per-dialect timeout and panic guard),
//! health endpoints, and the server loop itself (plain or TLS, graceful stop).

pub mod admin;
pub mod args;
pub mod guard;
pub mod health;
pub mod params;
mod request_id;
pub mod server;
pub mod tls;

use std::time::Duration;

use axum::Router;
use http::Request;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use args::{scalar_text, Args};
pub use guard::Failure;
pub use params::{Params, ParamsError};
pub use server::{RunningServer, ServerOptions};

/// Adds the layers shared by every route. Dialect routers come in already
/// guarded (their own timeout and panic answers).
pub fn with_common_layers(router: Router) -> Router {
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(request_id::HEADER)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("-");
                    // Path only: query strings and bodies carry api keys,
                    // phones and e-mails, which never reach the log.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %log_path(request.uri().path()),
                        request_id,
                    )
                })
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::DEBUG)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(PropagateRequestIdLayer::new(request_id::header_name()))
        .layer(SetRequestIdLayer::new(
            request_id::header_name(),
            request_id::Sequential::default(),
        ))
}

/// A path safe to log. Bitrix24 webhook paths carry their secret
/// (`/rest/{user}/{secret}/{method}`), so that segment is masked.
pub fn log_path(path: &str) -> std::borrow::Cow<'_, str> {
    let mut segments = path.split('/');
    let is_webhook = segments.nth(1) == Some("rest")
        && segments
            .next()
            .is_some_and(|user| user.parse::<u64>().is_ok())
        && segments.clone().count() >= 2;
    if !is_webhook {
        return path.into();
    }
    let mut masked: Vec<&str> = path.split('/').collect();
    masked[3] = "***";
    masked.join("/").into()
}

/// Bounds used by the guards; one place so every dialect gets the same.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::log_path;

    #[test]
    fn webhook_secrets_are_masked() {
        assert_eq!(
            log_path("/rest/1/s3cr3t/crm.lead.add.json"),
            "/rest/1/***/crm.lead.add.json"
        );
        assert_eq!(log_path("/rest/crm.lead.add"), "/rest/crm.lead.add");
        assert_eq!(log_path("/developer/v1/leads"), "/developer/v1/leads");
    }
}
