//! `GET /metrics` on the admin listener: the process's Prometheus text.
//! Counters and histograms are recorded where things happen
//! (`crate::meters`); the outbox's gauges (deliveries by target and state,
//! the oldest pending delivery's age) are read from the store at each
//! scrape, so every replica reports the same shared queue.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::forward::admin::TargetNames;
use crate::meters;
use crate::store::Outbox;

/// The route below, for the front's logs.
pub const PATHS: &[&str] = &["/metrics"];

struct Scrape {
    handle: &'static PrometheusHandle,
    outbox: Arc<dyn Outbox>,
    /// Every configured target, so a target with an empty queue reports 0
    /// rather than no series (replaced by a reload).
    targets: TargetNames,
}

pub fn routes(
    handle: &'static PrometheusHandle,
    outbox: Arc<dyn Outbox>,
    targets: TargetNames,
) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(Arc::new(Scrape {
            handle,
            outbox,
            targets,
        }))
        .layer(axum::middleware::map_response(super::json_errors::as_json))
}

async fn render(State(scrape): State<Arc<Scrape>>) -> Response {
    let now = Utc::now();
    match scrape.outbox.delivery_backlog(now).await {
        Ok(backlog) => {
            for target in &scrape.targets.all() {
                let row = backlog.iter().find(|row| &row.target == target);
                let (pending, in_flight, dead) =
                    row.map_or((0, 0, 0), |row| (row.pending, row.in_flight, row.dead));
                meters::deliveries(target, "pending", pending);
                meters::deliveries(target, "in_flight", in_flight);
                meters::deliveries(target, "dead", dead);
                let waited = row
                    .and_then(|row| row.oldest_pending)
                    .and_then(|oldest| (now - oldest).to_std().ok())
                    .unwrap_or_default();
                meters::oldest_pending(target, waited);
            }
        }
        // The rest of the metrics still help while the store is away; the
        // outbox gauges keep their last values.
        Err(error) => tracing::warn!(%error, "cannot read the outbox for /metrics"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        scrape.handle.render(),
    )
        .into_response()
}
