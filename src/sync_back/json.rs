//! The generic JSON event route, `POST /events/{target}`: a target system
//! (or anything acting for it) reports a lead's new status and assignee.
//!
//! ```text
//! Authorization: Bearer <events_token of the target>
//! {"external_id": "123", "status": "processed", "outcome": null, "assignee": 2}
//! ```
//!
//! `external_id` is the id the target gave the lead (or `lead_id`, the
//! gateway's own); `status` and `outcome` are canonical names (`new`,
//! `in_progress`, `processed`, `converted`, `junk`, `closed`; `spam`,
//! `duplicate`, `not_target`, `other`), `assignee` an employee id. Answers
//! are JSON with `ok`, or `error` and `message`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{Reported, SyncBack, SyncError};
use crate::lead::{LeadId, Outcome, Stage};

/// An event is a few fields; anything larger is not one.
const BODY_LIMIT: usize = 64 * 1024;

pub const ROUTE: &str = "/events/{target}";

pub fn routes(sync_back: Arc<SyncBack>) -> Router {
    Router::new()
        .route(ROUTE, post(receive))
        .with_state(sync_back)
        // A wrong verb in the same JSON shape.
        .layer(axum::middleware::map_response(
            crate::http::json_errors::as_json,
        ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    external_id: Option<serde_json::Value>,
    lead_id: Option<LeadId>,
    status: Option<String>,
    outcome: Option<String>,
    assignee: Option<i64>,
}

async fn receive(
    State(sync_back): State<Arc<SyncBack>>,
    Path(target): Path<String>,
    request: Request,
) -> Response {
    match handle(&sync_back, &target, request).await {
        Ok(answer) => crate::http::json_errors::json(StatusCode::OK, &answer),
        Err(error) => refusal(&error),
    }
}

async fn handle(
    sync_back: &SyncBack,
    target: &str,
    request: Request,
) -> Result<serde_json::Value, SyncError> {
    let token = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    sync_back.check(target, token)?;
    let body: Body = request.into_body();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| SyncError::Invalid(format!("the body is over {BODY_LIMIT} bytes")))?;
    let event: Event = serde_json::from_slice(&bytes)
        .map_err(|error| SyncError::Invalid(format!("not an event: {error}")))?;
    let reported = Reported {
        stage: parse(event.status.as_deref(), Stage::parse, "status")?,
        outcome: parse(event.outcome.as_deref(), Outcome::parse, "outcome")?,
        assignee: event.assignee,
    };
    if reported == Reported::default() {
        return Err(SyncError::Invalid(
            "the event names no status, outcome or assignee".into(),
        ));
    }
    let id = match (event.lead_id, event.external_id) {
        (Some(id), _) => id,
        (None, Some(external)) => {
            let external = match external {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(number) => number.to_string(),
                _ => return Err(SyncError::Invalid("external_id must be a string".into())),
            };
            sync_back
                .lead_known_as(target, &external)
                .await?
                .ok_or(SyncError::UnknownLead)?
        }
        (None, None) => {
            return Err(SyncError::Invalid(
                "the event names no lead: send external_id or lead_id".into(),
            ))
        }
    };
    let lead = sync_back.apply(target, id, reported).await?;
    Ok(json!({
        "ok": true,
        "lead_id": id,
        "status": lead.stage.as_str(),
        "outcome": lead.outcome.map(|outcome| outcome.as_str()),
        "assignee": lead.assigned_to,
    }))
}

fn parse<T>(
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
    field: &str,
) -> Result<Option<T>, SyncError> {
    match text {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .ok_or_else(|| SyncError::Invalid(format!("{field} {text:?} is not a canonical name"))),
    }
}

/// The one place a sync-back error becomes an answer.
fn refusal(error: &SyncError) -> Response {
    let (status, code) = match error {
        SyncError::UnknownTarget(_) => (StatusCode::NOT_FOUND, "unknown_target"),
        SyncError::BadToken => (StatusCode::UNAUTHORIZED, "unauthorized"),
        SyncError::UnknownLead => (StatusCode::NOT_FOUND, "unknown_lead"),
        SyncError::UnknownEmployee(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_employee"),
        SyncError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_event"),
        SyncError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    tracing::debug!(code, "sync-back event refused");
    crate::http::json_errors::json(
        status,
        &json!({"ok": false, "error": code, "message": error.to_string()}),
    )
}
