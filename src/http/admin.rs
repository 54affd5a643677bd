//! The admin endpoints over HTTP, the same operations as `leadgate
//! deliveries`: `GET /admin/deliveries` (rows; `state`, `target`, `lead_id`,
//! `after`, `limit`), `GET /admin/deliveries/counts`, `POST
//! /admin/deliveries/retry` (`{"ids": [...], "target", "state"}`) and `POST
//! /admin/deliveries/replay` (`{"target", "since", "until"}`), and `POST
//! /admin/reload` (the settings file read and applied again). Mounted only
//! on the `[admin]` listener when `admin.token` is set; every call needs it
//! as a Bearer token or the operations page's session cookie
//! (`admin_auth.rs`). Answers are JSON, errors `{"error": "..."}` with 400/401/404/503.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin_auth::AdminToken;
use crate::forward::admin::{parse_state, AdminError, DeliveryAdmin};
use crate::store::DeliveryFilter;

/// Re-reads and applies the settings file: the keys that changed but
/// wait for a restart, or why the file was refused. Given by the
/// composition root, which alone knows how to rebuild the gateway.
pub type Reload = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send>> + Send + Sync,
>;

struct Admin {
    deliveries: DeliveryAdmin,
    reload: Reload,
    token: AdminToken,
}

/// The routes below, for the front's logs.
pub const PATHS: &[&str] = &[
    "/admin/deliveries",
    "/admin/deliveries/counts",
    "/admin/deliveries/retry",
    "/admin/deliveries/replay",
    "/admin/reload",
];

pub fn routes(deliveries: DeliveryAdmin, reload: Reload, token: &str) -> Router {
    let admin = Arc::new(Admin {
        deliveries,
        reload,
        token: AdminToken::new(token),
    });
    Router::new()
        .route("/admin/deliveries", get(list))
        .route("/admin/deliveries/counts", get(counts))
        .route("/admin/deliveries/retry", post(retry))
        .route("/admin/deliveries/replay", post(replay))
        .route("/admin/reload", post(reload_settings))
        .with_state(admin)
        // Rejections (wrong verb, body too large, bad query) in the
        // admin's own `{"error": ...}` shape.
        .layer(axum::middleware::map_response(super::json_errors::as_json))
}

fn answer(status: StatusCode, body: Value) -> Response {
    super::json_errors::json(status, &body)
}

/// A refused admin call: small, so `Result`s carrying it stay cheap.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        answer(self.status, json!({"error": self.message}))
    }
}

fn refuse(status: StatusCode, message: impl std::fmt::Display) -> Refusal {
    Refusal {
        status,
        message: message.to_string(),
    }
}

fn failure(error: AdminError) -> Refusal {
    match error {
        AdminError::UnknownTarget(_) => refuse(StatusCode::NOT_FOUND, error),
        AdminError::BadTime(_) | AdminError::BadState(_) => refuse(StatusCode::BAD_REQUEST, error),
        AdminError::Store(store) => {
            tracing::warn!(error = %store, "admin request failed in the store");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot answer now",
            )
        }
    }
}

fn authorized(admin: &Admin, headers: &HeaderMap) -> Result<(), Refusal> {
    if admin.token.accepts(headers) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "an admin Bearer token is required",
        ))
    }
}

fn number(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Refusal> {
    query
        .get(name)
        .map(|text| {
            text.trim().parse::<i64>().map_err(|_| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    format!("{name} must be an integer"),
                )
            })
        })
        .transpose()
}

async fn list(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    authorized(&admin, &headers)?;
    let filter = DeliveryFilter {
        ids: None,
        target: query.get("target").cloned(),
        state: query
            .get("state")
            .map(|state| parse_state(state))
            .transpose()
            .map_err(failure)?,
        lead_id: number(&query, "lead_id")?,
        external_id: query.get("external_id").cloned(),
        after_id: number(&query, "after")?,
        limit: Some(number(&query, "limit")?.unwrap_or(100).clamp(1, 10_000) as u64),
    };
    let rows = admin.deliveries.list(filter).await.map_err(failure)?;
    Ok(answer(StatusCode::OK, json!({ "deliveries": rows })))
}

async fn counts(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Result<Response, Refusal> {
    authorized(&admin, &headers)?;
    let counts = admin.deliveries.counts().await.map_err(failure)?;
    Ok(answer(StatusCode::OK, json!({ "targets": counts })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryRequest {
    ids: Option<Vec<i64>>,
    target: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    target: String,
    since: Option<String>,
    until: Option<String>,
}

fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|error| refuse(StatusCode::BAD_REQUEST, format!("bad JSON body: {error}")))
}

async fn retry(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Refusal> {
    authorized(&admin, &headers)?;
    let request: RetryRequest = body(&bytes)?;
    let state = request
        .state
        .as_deref()
        .map(parse_state)
        .transpose()
        .map_err(failure)?;
    let filter = DeliveryFilter {
        ids: request.ids,
        target: request.target,
        state,
        ..Default::default()
    };
    let moved = admin.deliveries.retry(filter).await.map_err(failure)?;
    Ok(answer(StatusCode::OK, json!({ "requeued": moved })))
}

async fn replay(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Refusal> {
    authorized(&admin, &headers)?;
    let request: ReplayRequest = body(&bytes)?;
    if request.target.trim().is_empty() {
        return Err(refuse(StatusCode::BAD_REQUEST, "target is required"));
    }
    let queued = admin
        .deliveries
        .replay(
            &request.target,
            request.since.as_deref(),
            request.until.as_deref(),
        )
        .await
        .map_err(failure)?;
    Ok(answer(StatusCode::OK, json!({ "queued": queued })))
}

/// `POST /admin/reload`: 200 `{"reloaded": true, "needs_restart": [...]}`,
/// or 422 with the problems of a file that fails the check (the running
/// settings stay).
async fn reload_settings(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorized(&admin, &headers)?;
    match (admin.reload)().await {
        Ok(needs_restart) => Ok(answer(
            StatusCode::OK,
            json!({"reloaded": true, "needs_restart": needs_restart}),
        )),
        Err(reason) => Err(refuse(StatusCode::UNPROCESSABLE_ENTITY, reason)),
    }
}
