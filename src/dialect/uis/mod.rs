//! UIS / CoMagic Data API v2.0: JSON-RPC 2.0 on `POST /v2.0`, served by a
//! jsonrpsee server mounted as a tower service beside the other dialects.
//!
//! jsonrpsee dispatches methods and writes envelopes (ids echoed with their
//! JSON type). In front of it, `screen` answers what UIS refuses in its own
//! words before jsonrpsee would answer differently: unreadable JSON (id
//! null), batch arrays and notifications (-32099), a bad envelope, unknown
//! methods. The screen parses each request once; the parsed `params` reach
//! the method through the request's extensions, so jsonrpsee's raw params
//! are never parsed again. Every answer is HTTP 200. One module per method; `engine` is the
//! filter/sort/fields/paging machinery every `get.*` method shares; `error`
//! is the one place failures become UIS errors.

mod auth;
pub mod client;
pub mod engine;
pub mod error;
pub mod funnel;
pub mod import;
mod limits;
pub mod plugin;
mod report;
mod session;
pub mod settings;
mod unique_keys;
pub mod upload;

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method as Verb, StatusCode};
use jsonrpsee::server::{RpcModule, ServerHandle, TowerService};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tower::Service;

use crate::meters::{Handled, Outcome};

use crate::core::Core;
use crate::http::params::{read_body, Charset, ReadOptions};
use crate::http::{guard, Failure, Limits, ParamsError};
use crate::lead::path::WriteContext;
use crate::lead::ValidationRules;
use crate::mapping::Mapping;
use settings::UisSettings;

pub use error::UisError;

pub const ROUTES: &[&str] = &["/v2.0", "/v2.0/"];

/// What the methods read from the mapping file, checked at start-up.
pub const REQUIRED_RECORDS: &[(&str, &str)] = &[("report", "get.offline_messages_report")];
pub const REQUIRED_VALUE_MAPS: &[&str] = &["status"];

/// The methods served; anything else is `method_not_found` before dispatch.
pub const METHODS: &[&str] = &[
    "login.user",
    "logout.user",
    "get.sales_funnel",
    "upload.offline_messages",
    "get.offline_messages_report",
];

pub fn missing_in_mapping(mapping: &Mapping) -> Vec<(String, String)> {
    let mut missing = mapping.missing_parts("UIS", REQUIRED_RECORDS, REQUIRED_VALUE_MAPS);
    if mapping.funnels.is_empty() {
        missing.push((
            "funnels".into(),
            "the UIS dialect needs at least one [[funnels]] entry for get.sales_funnel".into(),
        ));
    }
    missing
}

pub struct Uis {
    core: Arc<Core>,
    mapping: std::sync::Arc<Mapping>,
    auth: auth::Auth,
    limits: limits::Limits,
    funnel_spec: engine::Spec,
    report_spec: engine::Spec,
    /// `upload.offline_messages` items → leads, without the store.
    decoder: upload::Decoder,
    app_id: i64,
}

/// The store-free decoder of `upload.offline_messages` (what `leadgate
/// translate` uses); UIS refuses an item without a phone or an e-mail.
pub fn decoder(
    mapping: std::sync::Arc<Mapping>,
    rules: ValidationRules,
    write_context: WriteContext,
) -> upload::Decoder {
    upload::Decoder {
        mapping,
        rules: ValidationRules {
            require_contact: true,
            ..rules
        },
        write_context,
    }
}

impl Uis {
    pub fn new(
        core: Arc<Core>,
        mapping: std::sync::Arc<Mapping>,
        settings: &UisSettings,
        rules: ValidationRules,
        write_context: WriteContext,
    ) -> Uis {
        Uis {
            auth: auth::Auth::new(
                &settings.keys,
                &settings.credentials,
                settings.session_ttl_secs,
            ),
            limits: limits::Limits::new(settings.day_limit, settings.minute_limit),
            funnel_spec: funnel::spec(),
            report_spec: report::spec(&mapping),
            app_id: settings.app_id,
            core,
            decoder: decoder(mapping.clone(), rules, write_context),
            mapping,
        }
    }

    /// One call: authenticate (except login.user), check the caller's
    /// budget, run, charge; `metadata` rides on successes and errors alike.
    /// The result is JSON text: a report page is written row by row, never
    /// held as a tree (see `engine::JsonArray`).
    async fn dispatch(
        &self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Box<RawValue>, ErrorObjectOwned> {
        let empty = json!({});
        match method {
            "login.user" => {
                return session::login(self, params)
                    .await
                    .and_then(|result| raw(&result))
                    .map_err(|error| error.into_rpc(&empty))
            }
            "logout.user" => {
                return session::logout(self, params)
                    .await
                    .and_then(|result| raw(&result))
                    .map_err(|error| error.into_rpc(&empty))
            }
            _ => {}
        }
        let now = self.core.now();
        let caller = self
            .auth
            .caller(params, &self.core)
            .await
            .map_err(|error| error.into_rpc(&empty))?;
        let shared = self.core.shared_counters();
        let metadata = |total: Option<u64>, used: limits::Used| {
            let mut metadata = json!({"limits": self.limits.report(used, self.core.now())});
            if let Some(total) = total {
                metadata["total_items"] = total.into();
            }
            metadata
        };
        let used = self.limits.usage(&caller.key, now, shared).await;
        if let Err(error) = self.limits.check(used) {
            return Err(error.into_rpc(&metadata(None, used)));
        }
        let outcome = match method {
            "get.sales_funnel" => funnel::run(self, params)
                .and_then(|(data, total)| Ok((raw(&Value::Array(data))?, Some(total)))),
            "get.offline_messages_report" => report::run(self, params)
                .await
                .map(|(data, total)| (data, Some(total))),
            "upload.offline_messages" => upload::run(self, params, caller.employee)
                .await
                .and_then(|data| Ok((raw(&data)?, None))),
            _ => Err(UisError::method_not_found()),
        };
        match outcome {
            Ok((data, total)) => {
                let used = self.limits.charge(&caller.key, now, shared).await;
                // Serialising writes `data` as it is: no parse of a page
                // that may be megabytes long.
                serde_json::value::to_raw_value(&Answer {
                    data: &data,
                    metadata: metadata(total, used),
                })
                .map_err(|_| UisError::internal().into_rpc(&empty))
            }
            Err(error) => Err(error.into_rpc(&metadata(None, used))),
        }
    }
}

/// A `get.*` or `upload.*` result: the data as written, and the metadata.
#[derive(serde::Serialize)]
struct Answer<'a> {
    data: &'a RawValue,
    metadata: Value,
}

/// A result as JSON text.
fn raw(value: &Value) -> Result<Box<RawValue>, UisError> {
    serde_json::value::to_raw_value(value).map_err(|_| UisError::internal())
}

/// The params of the call in flight as the screen parsed them, handed to
/// the method through the request's extensions; the method writes its
/// outcome back for the metrics. One allocation per call for both.
#[derive(Clone)]
struct ScreenedParams(Arc<ScreenedCall>);

struct ScreenedCall {
    params: Map<String, Value>,
    outcome: OnceLock<Outcome>,
}

/// A call's outcome for the metrics: an internal error is this side's
/// failure, every other error the caller's.
fn outcome_of<T>(result: &Result<T, ErrorObjectOwned>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(error) if error.code() == UisError::internal().code => Outcome::Failed,
        Err(_) => Outcome::Refused,
    }
}

/// The jsonrpsee side: one async method per UIS method, all through
/// `dispatch`, with the params the screen parsed.
fn rpc_module(uis: Arc<Uis>) -> RpcModule<Uis> {
    let mut module = RpcModule::from_arc(uis);
    for method in METHODS {
        let registered =
            module.register_async_method(method, move |_, uis, extensions| async move {
                match extensions.get::<ScreenedParams>() {
                    Some(ScreenedParams(screened)) => {
                        let result = uis.dispatch(method, &screened.params).await;
                        let _ = screened.outcome.set(outcome_of(&result));
                        result
                    }
                    // Every request passes the screen first; nothing else
                    // reaches this module.
                    None => Err(UisError::internal().into_rpc(&json!({}))),
                }
            });
        if let Err(error) = registered {
            tracing::error!(%error, method, "UIS method not registered");
        }
    }
    module
}

/// The jsonrpsee service and the handle that keeps it running.
pub struct Endpoint {
    uis: Arc<Uis>,
    service: TowerService<tower::layer::util::Identity, tower::layer::util::Identity>,
    _running: ServerHandle,
    body_limit: ReadOptions,
}

pub fn routes(
    uis: Arc<Uis>,
    limits: Limits,
    legacy_charset: Option<&'static encoding_rs::Encoding>,
) -> Router {
    let (stop, running) = jsonrpsee::server::stop_channel();
    // Each HTTP request counts as a jsonrpsee "connection"; the gateway's own
    // server bounds connections, so jsonrpsee's guard must never refuse one.
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_connections(u32::MAX)
        .max_request_body_size(limits.body_limit_bytes.min(u32::MAX as usize) as u32)
        .max_response_body_size(u32::MAX)
        .build();
    let service = jsonrpsee::server::Server::builder()
        .set_config(config)
        .to_service_builder()
        .build(rpc_module(uis.clone()), stop);
    let endpoint = Arc::new(Endpoint {
        uis,
        service,
        _running: running,
        body_limit: ReadOptions {
            legacy_charset,
            ..limits.body()
        },
    });
    guard::dialect_routes(
        ROUTES,
        handle,
        endpoint,
        limits.request_timeout,
        move |_failure: Failure| reply(&UisError::internal().response(Value::Null)),
    )
}

fn reply(body: &Value) -> Response {
    reply_text(body.to_string())
}

fn reply_text(body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A call the screen let through, parsed once.
struct Screened {
    /// As the caller sent it: a string or any number.
    id: Value,
    method: &'static str,
    params: Map<String, Value>,
}

/// The answer UIS gives `body` before any method runs, if it refuses it
/// (parse errors, batches, notifications, bad envelopes, unknown methods).
pub fn refusal(body: &[u8]) -> Option<Value> {
    screen(body).err()
}

/// Answers UIS gives before a method runs, or the call to run.
fn screen(body: &[u8]) -> Result<Screened, Value> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(UisError::parse_error().response(Value::Null));
    };
    if let Some(key) = unique_keys::repeated_key(body) {
        // Which of two ids to answer with is as ambiguous as the rest.
        return Err(UisError::invalid_request()
            .at(key, None)
            .response(Value::Null));
    }
    let mut object = match value {
        Value::Array(_) => return Err(UisError::batch_not_supported().response(Value::Null)),
        Value::Object(object) => object,
        _ => return Err(UisError::invalid_request().response(Value::Null)),
    };
    let Some(id) = object.remove("id") else {
        return Err(UisError::notifications_not_supported().response(Value::Null));
    };
    if !(id.is_string() || id.is_number()) {
        return Err(UisError::invalid_request().response(Value::Null));
    }
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(UisError::invalid_request()
            .at("jsonrpc", object.get("jsonrpc"))
            .response(id));
    }
    let requested = object.get("method").and_then(Value::as_str);
    let Some(method) = requested.and_then(|name| METHODS.iter().find(|known| **known == name))
    else {
        let error = if requested.is_none() {
            UisError::invalid_request()
        } else {
            UisError::method_not_found()
        };
        return Err(error.at("method", object.get("method")).response(id));
    };
    let params = match object.remove("params") {
        None => Map::new(),
        Some(Value::Object(params)) => params,
        Some(other) => return Err(UisError::data_type("params", Some(&other)).response(id)),
    };
    Ok(Screened { id, method, params })
}

async fn handle(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    let mut handled = Handled {
        method: crate::http::UNNAMED_METHOD,
        outcome: Outcome::Refused,
    };
    let mut response = answer(&endpoint, request, &mut handled).await;
    response.extensions_mut().insert(handled);
    response
}

/// The answer to one request; `handled` says what it was, for metrics
/// (refused until a method has run).
async fn answer(endpoint: &Endpoint, request: Request, handled: &mut Handled) -> Response {
    if request.method() != Verb::POST {
        let mut response = reply(&UisError::invalid_request().response(Value::Null));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&parts, body, endpoint.body_limit).await {
        Ok(bytes) => bytes,
        Err(ParamsError::TooLarge { limit }) => {
            let error = UisError::invalid_request().with_param("max_body_bytes", limit.into());
            return reply(&error.response(Value::Null));
        }
        // Cut short: what arrived is not a whole JSON document.
        Err(_) => return reply(&UisError::parse_error().response(Value::Null)),
    };
    // A body in the charset its Content-Type names (or the legacy one),
    // as UTF-8; bytes that are not text in it are not JSON either.
    let decoded = Charset::of_headers(&parts.headers, endpoint.body_limit.legacy_charset).and_then(
        |charset| match charset.utf8_body(&bytes)? {
            // Already UTF-8: the bytes as read are kept, not copied.
            std::borrow::Cow::Borrowed(_) => Ok(None),
            std::borrow::Cow::Owned(text) => Ok(Some(text)),
        },
    );
    let bytes = match decoded {
        Ok(decoded) => decoded.map_or(bytes, bytes::Bytes::from),
        Err(_) => return reply(&UisError::parse_error().response(Value::Null)),
    };
    let screened = match screen(&bytes) {
        Ok(screened) => screened,
        Err(answer) => return reply(&answer),
    };
    handled.method = screened.method;
    if !(screened.id.is_string() || screened.id.is_u64()) {
        // jsonrpsee takes only strings and unsigned integers as ids, while
        // UIS echoes any number (`-7`, `1.5`) as sent: such a call runs the
        // same dispatch, and its envelope, in jsonrpsee's field order, is
        // written here.
        let result = endpoint
            .uis
            .dispatch(screened.method, &screened.params)
            .await;
        handled.outcome = outcome_of(&result);
        let answer = match result {
            Ok(result) => format!(
                r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#,
                screened.id,
                result.get()
            ),
            Err(error) => json!({"jsonrpc": "2.0", "id": screened.id, "error": error}).to_string(),
        };
        return reply_text(answer);
    }
    // jsonrpsee insists on a JSON content type; the screen has just parsed it.
    let mut forwarded = http::Request::builder()
        .method(Verb::POST)
        .uri(parts.uri.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes))
        .unwrap_or_default();
    *forwarded.version_mut() = parts.version;
    let call = Arc::new(ScreenedCall {
        params: screened.params,
        outcome: OnceLock::new(),
    });
    forwarded
        .extensions_mut()
        .insert(ScreenedParams(call.clone()));
    let mut service = endpoint.service.clone();
    match service.call(forwarded).await {
        Ok(response) => {
            handled.outcome = call.outcome.get().copied().unwrap_or(Outcome::Refused);
            let (mut parts, body) = response.into_parts();
            parts.status = StatusCode::OK;
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => {
            handled.outcome = Outcome::Failed;
            tracing::error!(%error, "jsonrpsee service failed");
            reply(&UisError::internal().response(screened.id))
        }
    }
}

#[cfg(test)]
mod round_trip {
    use std::sync::Arc;

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::Uis;
    use crate::core::{Core, Employees};
    use crate::dialect::uis::settings::UisSettings;
    use crate::lead::path::WriteContext;
    use crate::lead::ValidationRules;
    use crate::mapping::Mapping;
    use crate::store::sqlite::{SqliteOptions, SqliteStore};

    fn dialect(dir: &tempfile::TempDir) -> Uis {
        let store = SqliteStore::open(SqliteOptions::new(dir.path().join("leads.db")))
            .expect("store opens");
        let core = Core::new(Arc::new(store), Employees::new(Vec::new()));
        Uis::new(
            Arc::new(core),
            Mapping::built_in("uis")
                .expect("built-in mapping compiles")
                .into(),
            &UisSettings::default(),
            ValidationRules::default(),
            WriteContext::default(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// An uploaded offline message, decoded and written as a report row,
        /// says what was sent.
        #[test]
        fn upload_then_report_gives_the_same_fields(
            name in "[^\u{0}\\s][^\u{0}]{0,40}",
            message in "[^\u{0}\\s][^\u{0}]{0,200}",
            phone in "\\+79[0-9]{9}",
            site_id in 1u32..1_000_000,
            form_name in "[A-Za-zА-Яа-я][A-Za-zА-Яа-я ]{0,19}",
        ) {
            let dir = tempfile::tempdir().unwrap();
            let uis = dialect(&dir);
            let item = json!({"name": name, "message": message, "phone": phone, "site_id": site_id, "form_name": form_name});
            let lead = uis
                .decoder
                .decode_offline_messages(&[item], uis.core.now())
                .unwrap()
                .remove(0);
            let record = uis.mapping.record("report").unwrap();
            let row = record.encode(&uis.mapping, &lead, uis.core.employees());
            prop_assert_eq!(&row["visitor_name"], &Value::String(name));
            prop_assert_eq!(&row["text"], &Value::String(message));
            prop_assert_eq!(&row["visitor_phone_number"], &Value::String(phone));
            prop_assert_eq!(&row["site_id"], &Value::from(site_id));
            prop_assert_eq!(&row["form_name"], &Value::String(form_name));
            prop_assert_eq!(&row["status"], "not_processed");
        }
    }
}
