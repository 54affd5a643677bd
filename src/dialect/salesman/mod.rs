//! SalesMan CRM API 1.0, method `leads` (`/developer/v1/leads?action=…`).
//!
//! The real handler is a PHP script: any verb, parameters from the query and
//! the body merged, credentials in `login` + `apikey`, HTTP 200 with
//! `Access-Control-Allow-Origin: *` even for errors, PHP `json_encode` output.
//! One module per action; `error` is the one place that turns failures into
//! SalesMan envelopes; `reply` writes bytes the way PHP does.

pub mod add;
mod auth;
pub mod client;
pub mod error;
pub mod import;
mod info;
mod list;
pub mod plugin;
mod reply;
pub mod settings;
mod stat;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::Method;

use crate::core::Core;
use crate::http::params::ReadOptions;
use crate::http::{guard, Failure, Limits, Params};
use crate::lead::path::WriteContext;
use crate::lead::{Employee, EmployeeId, ValidationRules};
use crate::mapping::Mapping;
use crate::store::SortKey;
use settings::SalesmanSettings;

pub use error::SalesmanError;
use reply::Reply;

/// The paths old clients call: the documented one and the PHP file behind it.
pub const ROUTES: &[&str] = &["/developer/v1/leads", "/developer/v1/leads.php"];

/// What the handlers read from the mapping file: checked at start-up so a
/// user's own file that lacks one fails `leadgate check`, not a request.
pub const REQUIRED_RECORDS: &[(&str, &str)] = &[("list", "action=list"), ("info", "action=info")];
pub const REQUIRED_VALUE_MAPS: &[&str] = &["status"];

/// The required parts `mapping` lacks, as (key, problem) pairs.
pub fn missing_in_mapping(mapping: &Mapping) -> Vec<(String, String)> {
    mapping.missing_parts("SalesMan", REQUIRED_RECORDS, REQUIRED_VALUE_MAPS)
}

/// Everything the handlers need, built once at start-up.
pub struct Salesman {
    core: Arc<Core>,
    mapping: std::sync::Arc<Mapping>,
    credentials: auth::Credentials,
    default_assignee: Option<EmployeeId>,
    rules: ValidationRules,
    write_context: WriteContext,
    /// `order=` values of `action=list`: list column names whose canonical
    /// field the store can sort by, taken from the mapping file.
    sort_columns: HashMap<String, SortKey>,
    reply: Reply,
    body_limit: ReadOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Info,
    List,
    Stat,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Info => "info",
            Action::List => "list",
            Action::Stat => "stat",
        }
    }

    fn parse(text: &str) -> Option<Action> {
        match text {
            "add" => Some(Action::Add),
            "info" => Some(Action::Info),
            "list" => Some(Action::List),
            "stat" => Some(Action::Stat),
            _ => None,
        }
    }
}

impl Salesman {
    pub fn new(
        core: Arc<Core>,
        mapping: std::sync::Arc<Mapping>,
        settings: &SalesmanSettings,
        rules: ValidationRules,
        write_context: WriteContext,
        body_limit: impl Into<ReadOptions>,
    ) -> Salesman {
        let default_assignee = settings
            .default_assignee
            .as_deref()
            .and_then(|login| core.employees().by_login(login))
            .map(|employee| employee.id);
        let sort_columns = mapping
            .record("list")
            .map(|record| {
                record
                    .column_names()
                    .filter_map(|name| {
                        let key = match record.column_path(name)?.to_string().as_str() {
                            "id" => SortKey::Id,
                            "created_at" => SortKey::CreatedAt,
                            "updated_at" => SortKey::UpdatedAt,
                            "completed_at" => SortKey::CompletedAt,
                            "stage" => SortKey::Stage,
                            _ => return None,
                        };
                        Some((name.to_owned(), key))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Salesman {
            credentials: auth::Credentials::new(&settings.credentials),
            core,
            mapping,
            default_assignee,
            rules,
            write_context,
            sort_columns,
            reply: Reply::new(
                &settings.content_type,
                settings.escape_slashes,
                settings.escape_unicode,
            ),
            body_limit: body_limit.into(),
        }
    }

    fn default_assignee(&self) -> Option<&Employee> {
        use crate::lead::EmployeeDirectory;
        self.default_assignee
            .and_then(|id| self.core.employees().by_id(id))
    }
}

/// The dialect's routes, guarded so timeouts and panics still answer in
/// SalesMan's envelope.
pub fn routes(salesman: Arc<Salesman>, limits: Limits) -> Router {
    let reply = salesman.reply.clone();
    guard::dialect_routes(
        ROUTES,
        handle,
        salesman,
        limits.request_timeout,
        move |failure| {
            let error = match failure {
                Failure::Timeout => SalesmanError::Timeout,
                Failure::Panic => SalesmanError::Internal,
            };
            reply.error(&error)
        },
    )
}

async fn handle(State(salesman): State<Arc<Salesman>>, request: Request) -> Response {
    if request.method() == Method::OPTIONS {
        return salesman.reply.preflight(request.headers());
    }
    let mut action = None;
    let mut response = match serve(&salesman, request, &mut action).await {
        Ok(body) => salesman.reply.json(&body),
        Err(error) => {
            // The code, never the text: texts quote what the caller sent.
            tracing::debug!(code = error.code(), "salesman error");
            salesman.reply.error(&error)
        }
    };
    if let Some(action) = action {
        crate::http::name_method(&mut response, action.as_str());
    }
    response
}

async fn serve(
    salesman: &Salesman,
    request: Request,
    named: &mut Option<Action>,
) -> Result<serde_json::Value, SalesmanError> {
    let (parts, body) = request.into_parts();
    let params = Params::read(&parts, body, salesman.body_limit).await?;
    *named = params
        .get("action")
        .and_then(|action| Action::parse(action.trim()));
    let caller =
        salesman
            .credentials
            .authenticate(&params, &parts.headers, salesman.core.employees())?;
    let action = params
        .get("action")
        .and_then(|action| Action::parse(action.trim()))
        .ok_or(SalesmanError::UnknownAction)?;
    match action {
        Action::Add => add::run(salesman, &params, caller).await,
        // `stat` was called `info` in older releases: old clients still
        // ask for the counters as `info` without an id.
        Action::Info if params.get("id").is_none_or(|id| id.trim().is_empty()) => {
            stat::run(salesman).await
        }
        Action::Info => info::run(salesman, &params).await,
        Action::List => list::run(salesman, &params).await,
        Action::Stat => stat::run(salesman).await,
    }
}

#[cfg(test)]
mod tests;
