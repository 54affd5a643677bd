//! Bitrix24 REST, `crm.lead.*`, `crm.status.list` and `batch`
//! (`/rest/{user_id}/{code}/{method}` and `/rest/{method}` + `auth`).
//!
//! SDKs built for real portals (fast-bitrix24, b24pysdk) run unchanged: any
//! verb, JSON or PHP-bracket parameters, method names in any case with an
//! optional `.json`, the `time` block on every success and errors with the
//! portal's codes and HTTP statuses. One module per method; `call` is the one
//! dispatch both plain requests and `batch` commands go through; `error` is
//! the one place failures become wire errors.

mod add;
mod auth;
mod batch;
pub mod client;
pub mod codec;
mod delete;
pub mod error;
pub mod events;
mod fields;
mod filter;
mod get;
pub mod import;
mod limit;
mod list;
pub mod plugin;
mod reply;
pub mod settings;
mod status;
mod update;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use serde_json::Value;

use crate::core::Core;
use crate::http::params::ReadOptions;
use crate::http::{guard, Failure, Limits, Params};
use crate::lead::path::WriteContext;
use crate::lead::{Employee, EmployeeId, ValidationRules};
use crate::mapping::Mapping;
use settings::Bitrix24Settings;

pub use crate::http::Args;
pub use error::Bitrix24Error;
use reply::{Output, Timing};

/// Every path under `/rest/`; the method and credentials are in the rest.
pub const ROUTES: &[&str] = &["/rest", "/rest/", "/rest/{*call}"];

/// What the methods read from the mapping file, checked at start-up.
pub const REQUIRED_RECORDS: &[(&str, &str)] = &[("lead", "crm.lead.get and crm.lead.list")];
pub const REQUIRED_VALUE_MAPS: &[&str] = &["status", "source", "value_type", "semantics"];

/// The required parts `mapping` lacks, as (key, problem) pairs.
pub fn missing_in_mapping(mapping: &Mapping) -> Vec<(String, String)> {
    mapping.missing_parts("Bitrix24", REQUIRED_RECORDS, REQUIRED_VALUE_MAPS)
}

/// Everything the methods need, built once at start-up.
pub struct Bitrix24 {
    core: Arc<Core>,
    /// Lead ⇄ `fields`; owns the mapping.
    codec: codec::Codec,
    credentials: auth::Credentials,
    default_assignee: Option<EmployeeId>,
    rules: ValidationRules,
    /// The `crm.lead.fields` answer.
    field_descriptions: Value,
    limiter: Option<limit::Limiter>,
    body_limit: ReadOptions,
}

/// The methods, parsed once per call from their case-insensitive names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    LeadAdd,
    LeadGet,
    LeadList,
    LeadUpdate,
    LeadDelete,
    LeadFields,
    StatusList,
    Batch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::LeadAdd => "crm.lead.add",
            Method::LeadGet => "crm.lead.get",
            Method::LeadList => "crm.lead.list",
            Method::LeadUpdate => "crm.lead.update",
            Method::LeadDelete => "crm.lead.delete",
            Method::LeadFields => "crm.lead.fields",
            Method::StatusList => "crm.status.list",
            Method::Batch => "batch",
        }
    }

    fn parse(name: &str) -> Option<Method> {
        let name = name.to_ascii_lowercase();
        let name = name.strip_suffix(".json").unwrap_or(&name);
        Some(match name {
            "crm.lead.add" => Method::LeadAdd,
            "crm.lead.get" => Method::LeadGet,
            "crm.lead.list" => Method::LeadList,
            "crm.lead.update" => Method::LeadUpdate,
            "crm.lead.delete" => Method::LeadDelete,
            "crm.lead.fields" => Method::LeadFields,
            "crm.status.list" => Method::StatusList,
            "batch" => Method::Batch,
            _ => return None,
        })
    }
}

impl Bitrix24 {
    pub fn new(
        core: Arc<Core>,
        mapping: std::sync::Arc<Mapping>,
        settings: &Bitrix24Settings,
        rules: ValidationRules,
        write_context: WriteContext,
        body_limit: impl Into<ReadOptions>,
    ) -> Bitrix24 {
        let default_assignee = settings
            .default_assignee
            .as_deref()
            .and_then(|login| core.employees().by_login(login))
            .map(|employee| employee.id);
        let codec = codec::Codec::new(mapping, write_context, core.shared_employees());
        let field_descriptions = fields::describe(&codec.mapping, &codec.multifields);
        Bitrix24 {
            credentials: auth::Credentials::new(&settings.webhooks, &settings.tokens),
            default_assignee,
            rules,
            field_descriptions,
            limiter: settings.rate_limit.as_ref().map(limit::Limiter::new),
            body_limit: body_limit.into(),
            core,
            codec,
        }
    }

    fn default_assignee(&self) -> Option<&Employee> {
        use crate::lead::EmployeeDirectory;
        self.default_assignee
            .and_then(|id| self.core.employees().by_id(id))
    }

    /// Runs one method for `caller`. `in_batch` refuses a nested batch.
    /// Boxed because `batch` calls back into it: the future type would
    /// otherwise contain itself.
    fn call<'a>(
        self: &'a Arc<Self>,
        method: &'a str,
        args: &'a Args,
        caller: &'a Employee,
        in_batch: bool,
    ) -> CallFuture<'a> {
        Box::pin(async move {
            let method = Method::parse(method).ok_or(Bitrix24Error::MethodNotFound)?;
            match method {
                Method::LeadAdd => add::run(self, args, caller).await,
                Method::LeadGet => get::run(self, args, caller).await,
                Method::LeadList => list::run(self, args, caller).await,
                Method::LeadUpdate => update::run(self, args, caller).await,
                Method::LeadDelete => delete::run(self, args, caller).await,
                Method::LeadFields => Ok(Output::of(self.field_descriptions.clone())),
                Method::StatusList => status::run(self, args),
                Method::Batch if in_batch => Err(Bitrix24Error::BatchMethodNotAllowed),
                Method::Batch => batch::run(self, args, caller).await,
            }
        })
    }
}

type CallFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Output, Bitrix24Error>> + Send + 'a>>;

/// `id`/`ID`: a positive integer, or "ID is not defined or invalid".
fn lead_id(args: &Args) -> Result<i64, Bitrix24Error> {
    args.get("id")
        .and_then(crate::http::scalar_text)
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or(Bitrix24Error::InvalidId)
}

/// The dialect's routes, guarded so timeouts and panics still answer with a
/// Bitrix24 error body.
pub fn routes(bitrix24: Arc<Bitrix24>, limits: Limits) -> Router {
    guard::dialect_routes(
        ROUTES,
        handle,
        bitrix24,
        limits.request_timeout,
        move |failure| {
            reply::error(&match failure {
                Failure::Timeout => Bitrix24Error::Timeout,
                Failure::Panic => Bitrix24Error::Internal,
            })
        },
    )
}

async fn handle(State(bitrix24): State<Arc<Bitrix24>>, request: Request) -> Response {
    let timing = Timing::start();
    let mut method = None;
    let mut response = match serve(&bitrix24, request, &mut method).await {
        Ok(output) => reply::json(
            http::StatusCode::OK,
            &output.envelope(timing.block(bitrix24.codec.mapping.timezone)),
        ),
        Err(error) => {
            // The code, never the text: texts quote what the caller sent.
            tracing::debug!(code = error.code(), "bitrix24 error");
            reply::error(&error)
        }
    };
    if let Some(method) = method {
        crate::http::name_method(&mut response, method);
    }
    response
}

/// A path's method as a metric label: one this gateway serves, never
/// whatever a caller typed.
fn method_label(method: &str) -> &'static str {
    Method::parse(method).map_or(crate::http::UNNAMED_METHOD, Method::as_str)
}

async fn serve(
    bitrix24: &Arc<Bitrix24>,
    request: Request,
    named: &mut Option<&'static str>,
) -> Result<Output, Bitrix24Error> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let params = Params::read_keeping_json(&parts, body, bitrix24.body_limit).await?;
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .skip(1)
        .filter(|segment| !segment.is_empty())
        .collect();
    let args = Args::from_params(&params);
    let (presented, method) = match segments.as_slice() {
        [user_id, code, method] => (auth::Presented::Webhook { user_id, code }, *method),
        [method] => (auth::Presented::Token(args.text("auth")), *method),
        _ => return Err(Bitrix24Error::MethodNotFound),
    };
    *named = Some(method_label(method));
    let caller = bitrix24
        .credentials
        .authenticate(&presented, bitrix24.core.employees())?;
    if let Some(limiter) = &bitrix24.limiter {
        if !limiter
            .admit_anywhere(&presented.bucket(), bitrix24.core.shared_counters())
            .await
        {
            return Err(Bitrix24Error::QueryLimitExceeded);
        }
    }
    bitrix24.call(method, &args, caller, false).await
}

#[cfg(test)]
mod tests;
