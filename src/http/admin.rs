//! The admin endpoints over HTTP, the same operations as `leadgate
//! deliveries`: `GET /admin/deliveries` (rows; `state`, `target`, `lead_id`,
//! `after`, `limit`), `GET /admin/deliveries/counts`, `POST
//! /admin/deliveries/retry` (`{"ids": [...], "target", "state"}`) and `POST
//! /admin/deliveries/replay` (`{"target", "since", "until"}`). Mounted only
//! when `forwarding.admin_token` is set; every call needs it as a Bearer
//! token. Answers are JSON, errors `{"error": "..."}` with 400/401/404/503.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ring::digest::{digest, SHA256};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::deliver::admin::{parse_state, AdminError, DeliveryAdmin};
use crate::store::DeliveryFilter;

struct Admin {
    deliveries: DeliveryAdmin,
    /// SHA-256 of the token: comparing digests leaks nothing about the token.
    token_digest: Vec<u8>,
}

pub fn routes(deliveries: DeliveryAdmin, token: &str) -> Router {
    let admin = Arc::new(Admin {
        deliveries,
        token_digest: digest(&SHA256, token.as_bytes()).as_ref().to_vec(),
    });
    Router::new()
        .route("/admin/deliveries", get(list))
        .route("/admin/deliveries/counts", get(counts))
        .route("/admin/deliveries/retry", post(retry))
        .route("/admin/deliveries/replay", post(replay))
        .with_state(admin)
}

fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refuse(status: StatusCode, message: impl std::fmt::Display) -> Response {
    answer(status, json!({"error": message.to_string()}))
}

fn failure(error: AdminError) -> Response {
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

fn authorized(admin: &Admin, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(token) if digest(&SHA256, token.as_bytes()).as_ref() == admin.token_digest => Ok(()),
        _ => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "an admin Bearer token is required",
        )),
    }
}

fn number(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Response> {
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
) -> Response {
    if let Err(refusal) = authorized(&admin, &headers) {
        return refusal;
    }
    let filter = (|| -> Result<DeliveryFilter, Response> {
        Ok(DeliveryFilter {
            ids: None,
            target: query.get("target").cloned(),
            state: query
                .get("state")
                .map(|state| parse_state(state))
                .transpose()
                .map_err(failure)?,
            lead_id: number(&query, "lead_id")?,
            after_id: number(&query, "after")?,
            limit: Some(number(&query, "limit")?.unwrap_or(100).clamp(1, 10_000) as u64),
        })
    })();
    let filter = match filter {
        Ok(filter) => filter,
        Err(refusal) => return refusal,
    };
    match admin.deliveries.list(filter).await {
        Ok(rows) => answer(StatusCode::OK, json!({ "deliveries": rows })),
        Err(error) => failure(error),
    }
}

async fn counts(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = authorized(&admin, &headers) {
        return refusal;
    }
    match admin.deliveries.counts().await {
        Ok(counts) => answer(StatusCode::OK, json!({ "targets": counts })),
        Err(error) => failure(error),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryRequest {
    ids: Option<Vec<i64>>,
    target: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    target: String,
    since: Option<String>,
    until: Option<String>,
}

fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, Response> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|error| refuse(StatusCode::BAD_REQUEST, format!("bad JSON body: {error}")))
}

async fn retry(State(admin): State<Arc<Admin>>, headers: HeaderMap, bytes: Bytes) -> Response {
    if let Err(refusal) = authorized(&admin, &headers) {
        return refusal;
    }
    let request: RetryRequest = match body(&bytes) {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let state = match request.state.as_deref().map(parse_state).transpose() {
        Ok(state) => state,
        Err(error) => return failure(error),
    };
    let filter = DeliveryFilter {
        ids: request.ids,
        target: request.target,
        state,
        ..Default::default()
    };
    match admin.deliveries.retry(filter).await {
        Ok(moved) => answer(StatusCode::OK, json!({ "requeued": moved })),
        Err(error) => failure(error),
    }
}

impl Default for ReplayRequest {
    fn default() -> Self {
        ReplayRequest {
            target: String::new(),
            since: None,
            until: None,
        }
    }
}

async fn replay(State(admin): State<Arc<Admin>>, headers: HeaderMap, bytes: Bytes) -> Response {
    if let Err(refusal) = authorized(&admin, &headers) {
        return refusal;
    }
    let request: ReplayRequest = match body(&bytes) {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    match admin
        .deliveries
        .replay(
            &request.target,
            request.since.as_deref(),
            request.until.as_deref(),
        )
        .await
    {
        Ok(queued) => answer(StatusCode::OK, json!({ "queued": queued })),
        Err(error) => failure(error),
    }
}
