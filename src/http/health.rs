//! `GET /healthz`: the process answers. `GET /readyz`: the store answers too,
//! so a load balancer stops sending leads to a gateway that cannot keep them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::store::Store;

/// The routes below, for the front's logs.
pub const PATHS: &[&str] = &["/healthz", "/readyz"];

pub fn routes(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(store)
        .layer(axum::middleware::map_response(super::json_errors::as_json))
}

async fn ready(State(store): State<Arc<dyn Store>>) -> (StatusCode, &'static str) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(error) => {
            tracing::warn!(%error, "store is not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
        }
    }
}
