//! Each section's data, the same for the page and for its JSON endpoints
//! (`/ops/api/...`): deliveries per target, dead letters, recent leads
//! (contacts masked), traffic, the configuration summary, and Translate.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{auth, Ops};
use crate::lead::{ContactPoint, Lead, LeadId};
use crate::store::{DeliveryFilter, DeliveryState, LeadQuery, Sort, SortKey, StoreError};
use crate::traffic::{self, Kind};

/// Dead letters and recent leads shown at most.
pub(super) const SHOWN: usize = 100;
/// Newest leads a filter of Recent leads looks through.
const FILTER_WINDOW: u64 = 5_000;
/// Minutes the delivery rate is averaged over.
const RATE_MINUTES: usize = 10;

#[derive(Debug, Serialize)]
pub(super) struct TargetDeliveries {
    pub target: String,
    /// Waiting for a worker, never failed.
    pub pending: u64,
    /// Waiting again after a failed attempt.
    pub retrying: u64,
    pub in_flight: u64,
    pub delivered: u64,
    pub dead: u64,
    /// Seconds the oldest row still pending has waited.
    pub oldest_pending_secs: Option<i64>,
    /// Delivered per minute by this process, over the last ten minutes.
    pub delivered_per_minute: f64,
}

pub(super) async fn deliveries(ops: &Ops) -> Result<Vec<TargetDeliveries>, StoreError> {
    let now = Utc::now();
    let counts = ops.store.count_deliveries(now).await?;
    let backlog = ops.store.delivery_backlog(now).await?;
    let hour = traffic::last_hour();
    let mut names = ops.targets.all();
    for row in &counts {
        if !names.contains(&row.target) {
            names.push(row.target.clone());
        }
    }
    Ok(names
        .into_iter()
        .map(|target| {
            let count = counts.iter().find(|row| row.target == target);
            let waiting = backlog.iter().find(|row| row.target == target);
            let delivered_recently: u64 = hour
                .iter()
                .find(|series| series.kind == Kind::Delivered && series.name == target)
                .map_or(0, |series| {
                    series.per_minute.iter().rev().take(RATE_MINUTES).sum()
                });
            let retrying = count.map_or(0, |row| row.retrying);
            TargetDeliveries {
                pending: count.map_or(0, |row| row.pending.saturating_sub(retrying)),
                retrying,
                in_flight: count.map_or(0, |row| row.in_flight),
                delivered: count.map_or(0, |row| row.delivered),
                dead: count.map_or(0, |row| row.dead),
                oldest_pending_secs: waiting
                    .and_then(|row| row.oldest_pending)
                    .map(|oldest| (now - oldest).num_seconds().max(0)),
                delivered_per_minute: delivered_recently as f64 / RATE_MINUTES as f64,
                target,
            }
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub(super) struct DeadLetter {
    pub id: i64,
    pub lead_id: LeadId,
    pub target: String,
    /// 0: the lead itself; 1, 2, ...: a change of it.
    pub revision: u32,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: String,
    /// What `POST /admin/deliveries/replay` takes to send this lead again
    /// (none for a change, which is retried).
    pub replay: Option<ReplayWindow>,
}

#[derive(Debug, Serialize)]
pub(super) struct ReplayWindow {
    pub target: String,
    pub since: String,
    pub until: String,
}

pub(super) async fn dead_letters(ops: &Ops) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = ops
        .store
        .list_deliveries(DeliveryFilter {
            state: Some(DeliveryState::Dead),
            limit: Some(SHOWN as u64),
            ..Default::default()
        })
        .await?;
    let mut letters = Vec::with_capacity(rows.len());
    for row in rows {
        // The window of the lead's creation instant alone. A change is
        // retried, not replayed: a replay sends the lead itself again.
        let lead = if row.revision == 0 {
            ops.store.get(row.lead_id).await?
        } else {
            None
        };
        let replay = lead.map(|lead| ReplayWindow {
            target: row.target.clone(),
            since: rfc3339(lead.created_at),
            until: rfc3339(lead.created_at + chrono::Duration::microseconds(1)),
        });
        letters.push(DeadLetter {
            id: row.id,
            lead_id: row.lead_id,
            target: row.target,
            revision: row.revision,
            attempts: row.attempts,
            last_error: row.last_error,
            updated_at: rfc3339(row.updated_at),
            replay,
        });
    }
    Ok(letters)
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LeadFilter {
    pub dialect: Option<String>,
    pub q: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct RecentLead {
    pub id: LeadId,
    pub created_at: String,
    pub dialect: Option<String>,
    pub name: Option<String>,
    pub channel: Option<String>,
    /// Masked: `+79*******33`.
    pub phones: Vec<String>,
    /// Masked: `a***@example.ru`.
    pub emails: Vec<String>,
    pub forwarded: Vec<Forwarded>,
}

#[derive(Debug, Serialize)]
pub(super) struct Forwarded {
    pub target: String,
    pub revision: u32,
    pub state: &'static str,
    pub external_id: Option<String>,
}

pub(super) async fn recent_leads(
    ops: &Ops,
    filter: &LeadFilter,
) -> Result<Vec<RecentLead>, StoreError> {
    let dialect = filter.dialect.as_deref().filter(|name| !name.is_empty());
    let text = filter
        .q
        .as_deref()
        .map(|text| text.trim().to_lowercase())
        .filter(|text| !text.is_empty());
    let filtering = dialect.is_some() || text.is_some();
    let page = ops
        .store
        .query(LeadQuery {
            sort: vec![Sort {
                key: SortKey::Id,
                descending: true,
            }],
            limit: Some(if filtering {
                FILTER_WINDOW
            } else {
                SHOWN as u64
            }),
            ..LeadQuery::default()
        })
        .await?;
    let chosen: Vec<Lead> = page
        .leads
        .into_iter()
        .filter(|lead| dialect.is_none_or(|dialect| lead.received_via.as_deref() == Some(dialect)))
        .filter(|lead| text.as_deref().is_none_or(|text| mentions(lead, text)))
        .take(SHOWN)
        .collect();
    let mut leads = Vec::with_capacity(chosen.len());
    for lead in chosen {
        let id = lead.id.unwrap_or_default();
        let forwarded = ops
            .store
            .list_deliveries(DeliveryFilter {
                lead_id: Some(id),
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|row| Forwarded {
                state: if row.in_flight {
                    "in flight"
                } else if row.state == DeliveryState::Pending && row.attempts > 0 {
                    "retrying"
                } else {
                    row.state.as_str()
                },
                target: row.target,
                revision: row.revision,
                external_id: row.external_id,
            })
            .collect();
        leads.push(RecentLead {
            id,
            created_at: lead.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            dialect: lead.received_via.clone(),
            name: display_name(&lead),
            channel: lead
                .channel_description
                .clone()
                .or_else(|| lead.channel.map(|channel| channel.as_str().to_owned())),
            phones: lead.phones.iter().map(mask_phone).collect(),
            emails: lead.emails.iter().map(mask_email).collect(),
            forwarded,
        });
    }
    Ok(leads)
}

/// The lead's name as a person reads it: first, middle, last, else the title.
fn display_name(lead: &Lead) -> Option<String> {
    let parts: Vec<&str> = [&lead.name, &lead.second_name, &lead.last_name]
        .into_iter()
        .filter_map(|part| part.as_deref())
        .filter(|part| !part.trim().is_empty())
        .collect();
    if parts.is_empty() {
        lead.title.clone().or_else(|| lead.company.clone())
    } else {
        Some(parts.join(" "))
    }
}

/// The text filter: name, company, title, text and contacts.
fn mentions(lead: &Lead, text: &str) -> bool {
    let fields = [
        &lead.name,
        &lead.last_name,
        &lead.title,
        &lead.company,
        &lead.text,
    ];
    fields
        .into_iter()
        .flatten()
        .any(|field| field.to_lowercase().contains(text))
        || lead.phones.iter().chain(&lead.emails).any(|point| {
            point.value.to_lowercase().contains(text) || point.normalized.contains(text)
        })
}

/// The first two and last two characters of a phone; the rest starred.
pub(super) fn mask_phone(point: &ContactPoint) -> String {
    let chars: Vec<char> = point.normalized.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(index, character)| {
            if index < 3 || index >= chars.len() - 2 {
                *character
            } else {
                '*'
            }
        })
        .collect()
}

/// The first letter of the mailbox and the domain: `a***@example.ru`.
pub(super) fn mask_email(point: &ContactPoint) -> String {
    match point.value.split_once('@') {
        Some((mailbox, domain)) => {
            let first: String = mailbox.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Contacts {
    pub phones: Vec<String>,
    pub emails: Vec<String>,
}

pub(super) async fn contacts(ops: &Ops, id: LeadId) -> Result<Option<Contacts>, StoreError> {
    Ok(ops.store.get(id).await?.map(|lead| Contacts {
        phones: lead
            .phones
            .iter()
            .map(|point| point.value.clone())
            .collect(),
        emails: lead
            .emails
            .iter()
            .map(|point| point.value.clone())
            .collect(),
    }))
}

// --- JSON endpoints -------------------------------------------------------

fn json_answer(status: StatusCode, body: &impl Serialize) -> Response {
    let mut response = crate::http::json_errors::json(status, body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn refused() -> Response {
    json_answer(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "sign in with the admin token"}),
    )
}

fn unavailable(error: StoreError) -> Response {
    json_answer(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({"error": format!("the store: {error}")}),
    )
}

fn answer<T: Serialize>(result: Result<T, StoreError>) -> Response {
    match result {
        Ok(body) => json_answer(StatusCode::OK, &body),
        Err(error) => unavailable(error),
    }
}

pub(super) async fn deliveries_json(State(ops): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    answer(
        deliveries(&ops)
            .await
            .map(|targets| json!({ "targets": targets })),
    )
}

pub(super) async fn dead_json(State(ops): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    answer(dead_letters(&ops).await.map(|dead| json!({ "dead": dead })))
}

pub(super) async fn leads_json(
    State(ops): State<Arc<Ops>>,
    headers: HeaderMap,
    Query(filter): Query<LeadFilter>,
) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    answer(
        recent_leads(&ops, &filter)
            .await
            .map(|leads| json!({ "leads": leads })),
    )
}

pub(super) async fn contacts_json(
    State(ops): State<Arc<Ops>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    let Ok(id) = id.parse::<LeadId>() else {
        return json_answer(
            StatusCode::BAD_REQUEST,
            &json!({"error": "the id is not a number"}),
        );
    };
    match contacts(&ops, id).await {
        Ok(Some(contacts)) => json_answer(StatusCode::OK, &contacts),
        Ok(None) => json_answer(StatusCode::NOT_FOUND, &json!({"error": "no such lead"})),
        Err(error) => unavailable(error),
    }
}

#[derive(Debug, Deserialize)]
struct TranslateRequest {
    from: String,
    to: String,
    request: String,
}

pub(super) async fn translate_json(
    State(ops): State<Arc<Ops>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    let Ok(asked) = serde_json::from_slice::<TranslateRequest>(&body) else {
        return json_answer(
            StatusCode::BAD_REQUEST,
            &json!({"error": "send {\"from\", \"to\", \"request\"}"}),
        );
    };
    match ops
        .view
        .current()
        .previews
        .preview(&asked.from, &asked.to, asked.request.as_bytes())
    {
        Ok(preview) => json_answer(StatusCode::OK, &json!({ "preview": preview })),
        Err(error) => json_answer(StatusCode::UNPROCESSABLE_ENTITY, &json!({ "error": error })),
    }
}

pub(super) async fn traffic_json(State(ops): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    json_answer(
        StatusCode::OK,
        &json!({ "minutes": traffic::MINUTES, "series": traffic::last_hour() }),
    )
}

pub(super) async fn config_json(State(ops): State<Arc<Ops>>, headers: HeaderMap) -> Response {
    if !auth::signed_in(&ops, &headers) {
        return refused();
    }
    json_answer(StatusCode::OK, &ops.view.current().summary)
}

/// Query parameters as given, for the page.
pub(super) type QueryMap = HashMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_masked_but_recognisable() {
        let phone = ContactPoint::phone("8 (900) 111-22-33", "7");
        assert_eq!(mask_phone(&phone), "+79*******33");
        let email = ContactPoint::email("Anna@Example.RU");
        assert_eq!(mask_email(&email), "A***@Example.RU");
    }
}
