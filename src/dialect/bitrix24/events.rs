//! Sync-back from a Bitrix24 portal: its outbound webhooks (`ONCRMLEADADD`,
//! `ONCRMLEADUPDATE`, `ONCRMLEADDELETE`) POSTed to
//! `/events/bitrix24/{target}`, form-encoded as the portal sends them:
//! `event`, `data[FIELDS][ID]`, `ts`, `auth[domain]`,
//! `auth[application_token]`, ...
//!
//! The event carries only the portal's id, so the lead is read back with
//! `crm.lead.get` through the target's own webhook URL; its `STATUS_ID`
//! and `ASSIGNED_BY_ID`, decoded through the Bitrix24 mapping (the same
//! value maps as the server side), are applied to the gateway's lead
//! forwarded there ([`SyncBack`]). A lead the gateway did not forward is
//! acknowledged and left alone; a deletion at the portal deletes nothing
//! here (the old clients keep their history).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::client::Bitrix24Client;
use super::codec::{Codec, Mode};
use crate::forward::settings::TargetSettings;
use crate::forward::{Attempt, Pacer};
use crate::http::params::ReadOptions;
use crate::http::{scalar_text, Args, Params};
use crate::lead::path::FieldPath;
use crate::lead::{EmployeeDirectory, Lead};
use crate::mapping::Mapping;
use crate::sync_back::{Reported, SyncBack, SyncError};

pub const ROUTE: &str = "/events/bitrix24/{target}";

/// The portals whose events are served, by target name.
pub struct PortalEvents {
    sync_back: Arc<SyncBack>,
    portals: HashMap<String, Portal>,
    codec: Codec,
    read: ReadOptions,
}

struct Portal {
    client: Bitrix24Client,
    /// Its own pace for read-backs, at the target's rate: the portal
    /// counts them with the forwarding worker's requests.
    pacer: Pacer,
}

impl PortalEvents {
    /// `None` when no Bitrix24 target has an `events_token`.
    pub fn new(
        sync_back: Arc<SyncBack>,
        targets: &[TargetSettings],
        mapping: Arc<Mapping>,
        codec: Codec,
        read: ReadOptions,
    ) -> Option<PortalEvents> {
        let portals: HashMap<String, Portal> = targets
            .iter()
            .filter(|target| {
                target.kind == super::client::PROTOCOL.kind && target.events_token.is_some()
            })
            .map(|target| {
                let portal = Portal {
                    client: Bitrix24Client::new(target, mapping.clone(), ""),
                    pacer: Pacer::new(target.requests_per_second(&super::client::PROTOCOL)),
                };
                (target.name.clone(), portal)
            })
            .collect();
        (!portals.is_empty()).then_some(PortalEvents {
            sync_back,
            portals,
            codec,
            read,
        })
    }
}

pub fn routes(events: PortalEvents) -> Router {
    Router::new()
        .route(ROUTE, post(receive))
        .with_state(Arc::new(events))
        // A wrong verb as `{"error": ...}`, as the portal reads errors.
        .layer(axum::middleware::map_response(
            crate::http::json_errors::as_json,
        ))
}

async fn receive(
    State(events): State<Arc<PortalEvents>>,
    Path(target): Path<String>,
    request: Request,
) -> Response {
    match handle(&events, &target, request).await {
        Ok(result) => answer(StatusCode::OK, json!({ "result": result })),
        Err(Refused::Sync(error)) => refusal(&error),
        Err(Refused::Portal(error)) => answer(
            StatusCode::BAD_GATEWAY,
            json!({"error": "PORTAL_UNAVAILABLE", "error_description": error}),
        ),
    }
}

enum Refused {
    Sync(SyncError),
    /// The portal could not be read back; the event can be sent again.
    Portal(String),
}

impl From<SyncError> for Refused {
    fn from(error: SyncError) -> Refused {
        Refused::Sync(error)
    }
}

async fn handle(events: &PortalEvents, target: &str, request: Request) -> Result<Value, Refused> {
    let (parts, body) = request.into_parts();
    let params = Params::read_keeping_json(&parts, body, events.read)
        .await
        .map_err(|error| SyncError::Invalid(error.to_string()))?;
    let args = Args::from_params(&params);
    let token = args
        .get("auth")
        .and_then(|auth| auth.get("application_token"))
        .and_then(scalar_text);
    events.sync_back.check(target, token.as_deref())?;
    let portal = events
        .portals
        .get(target)
        .ok_or_else(|| SyncError::UnknownTarget(target.to_owned()))?;
    let event = args.text("event").unwrap_or_default().to_ascii_uppercase();
    let portal_id = args
        .get("data")
        .and_then(|data| data.get("FIELDS"))
        .and_then(|fields| fields.get("ID"))
        .and_then(scalar_text)
        .filter(|id| !id.trim().is_empty());
    match event.as_str() {
        "ONCRMLEADADD" | "ONCRMLEADUPDATE" => {}
        "ONCRMLEADDELETE" => return Ok(json!({"applied": false, "reason": "deletions are kept"})),
        _ => {
            return Err(SyncError::Invalid(format!(
            "event {event:?} is not a lead event (ONCRMLEADADD, ONCRMLEADUPDATE, ONCRMLEADDELETE)"
        ))
            .into())
        }
    }
    let portal_id =
        portal_id.ok_or_else(|| SyncError::Invalid("data[FIELDS][ID] is missing".into()))?;
    let Some(lead_id) = events.sync_back.lead_known_as(target, &portal_id).await? else {
        return Ok(json!({"applied": false, "reason": "not a lead this gateway forwarded"}));
    };
    let fields = portal
        .client
        .get_lead(&portal_id, &portal.pacer)
        .await
        .map_err(|failure| match failure {
            Attempt::Transient { error, .. } | Attempt::Permanent { error } => {
                Refused::Portal(error)
            }
            Attempt::Delivered { .. } => Refused::Portal("no answer".into()),
        })?;
    let reported = reported(&events.codec, &fields, events.sync_back.employees())?;
    let lead = events.sync_back.apply(target, lead_id, reported).await?;
    Ok(json!({
        "applied": true,
        "lead_id": lead_id,
        "stage": lead.stage.as_str(),
        "assigned_to": lead.assigned_to,
    }))
}

/// Status and assignee of the portal's lead, in canonical terms. An
/// assignee who is not an employee here is left out (the portal's users
/// need not all be the gateway's), not refused.
fn reported(
    codec: &Codec,
    fields: &Map<String, Value>,
    employees: &crate::core::Employees,
) -> Result<Reported, SyncError> {
    let wanted = |path: &FieldPath| {
        matches!(
            path,
            FieldPath::Stage
                | FieldPath::Outcome
                | FieldPath::Employee(crate::lead::path::EmployeeSlot::AssignedTo, _)
        )
    };
    let state: Map<String, Value> = fields
        .iter()
        .filter(|(name, _)| {
            codec
                .mapping
                .field(name)
                .is_some_and(|(path, _)| wanted(path))
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let has = |path: FieldPath| {
        state.keys().any(|name| {
            codec
                .mapping
                .field(name)
                .is_some_and(|(found, _)| *found == path)
        })
    };
    let mut scratch = Lead::new(chrono::Utc::now());
    codec
        .decode_fields(&state, &mut scratch, Mode::Add)
        .map_err(|error| SyncError::Invalid(format!("the portal's lead: {error}")))?;
    let staged = has(FieldPath::Stage);
    Ok(Reported {
        stage: staged.then_some(scratch.stage),
        outcome: if staged || has(FieldPath::Outcome) {
            scratch.outcome
        } else {
            None
        },
        assignee: scratch
            .assigned_to
            .filter(|id| employees.by_id(*id).is_some()),
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    crate::http::json_errors::json(status, &body)
}

/// A refused event in Bitrix24's error shape.
fn refusal(error: &SyncError) -> Response {
    let (status, code) = match error {
        SyncError::UnknownTarget(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        SyncError::BadToken => (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"),
        SyncError::UnknownLead => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        SyncError::UnknownEmployee(_) | SyncError::Invalid(_) => {
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
        }
        SyncError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "INTERNAL_SERVER_ERROR"),
    };
    tracing::debug!(code, "bitrix24 event refused");
    answer(
        status,
        json!({"error": code, "error_description": error.to_string()}),
    )
}
