//! LiveTex API v2, resource Leads (`/v2/leads/{method}`, `/v2/leads.{method}`,
//! RESTful `GET|POST /v2/leads`, `GET /v2/leads/{id}`), `Utils.batch` and the
//! OAuth2 token endpoint.
//!
//! Names are case-insensitive; GET and POST both work; parameters come from
//! the query string, forms (with brackets), multipart or JSON. Callers are
//! employees with LiveTex roles; what each may see is decided in
//! `core::access`, once for every dialect. One module per method; `error` is
//! the one place failures become LiveTex errors.

pub mod add;
mod auth;
mod batch;
pub mod client;
mod codec;
mod complete;
pub mod error;
pub mod import;
mod list;
mod lock;
pub mod plugin;
mod query;
pub mod settings;
mod show;
mod token;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method as Verb, StatusCode};
use serde_json::{Map, Value};

use crate::core::{Core, Scope};
use crate::http::params::ReadOptions;
use crate::http::{guard, scalar_text, Args, Failure, Limits, Params};
use crate::lead::path::WriteContext;
use crate::lead::{Employee, LeadId, ValidationRules};
use crate::mapping::Mapping;
use settings::LivetexSettings;

pub use codec::{parse_fields, project};
pub use error::LivetexError;

/// Everything under `/v2/`; the resource and method are in the rest.
pub const ROUTES: &[&str] = &["/v2", "/v2/", "/v2/{*call}"];

/// What the methods read from the mapping file, checked at start-up.
pub const REQUIRED_RECORDS: &[(&str, &str)] = &[("lead", "Lead objects")];
pub const REQUIRED_VALUE_MAPS: &[&str] = &["result", "type"];

/// LiveTex's own limit on strings without a stated one.
pub const MAX_STRING_CHARS: usize = 255;

pub fn missing_in_mapping(mapping: &Mapping) -> Vec<(String, String)> {
    mapping.missing_parts("LiveTex", REQUIRED_RECORDS, REQUIRED_VALUE_MAPS)
}

pub struct Livetex {
    core: Arc<Core>,
    mapping: std::sync::Arc<Mapping>,
    credentials: auth::Credentials,
    rules: ValidationRules,
    /// `Leads.add` → lead, without the store.
    decoder: add::Decoder,
    body_limit: ReadOptions,
}

/// The Leads methods (and batch), parsed from case-insensitive names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    List,
    ListRouted,
    Show,
    ShowRouted,
    Add,
    Lock,
    Unlock,
    SetCompleted,
    Batch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::List => "Leads.list",
            Method::ListRouted => "Leads.listRouted",
            Method::Show => "Leads.show",
            Method::ShowRouted => "Leads.showRouted",
            Method::Add => "Leads.add",
            Method::Lock => "Leads.lock",
            Method::Unlock => "Leads.unlock",
            Method::SetCompleted => "Leads.setCompleted",
            Method::Batch => "utils.batch",
        }
    }

    fn parse(name: &str) -> Option<Method> {
        Some(match name.to_ascii_lowercase().as_str() {
            "list" => Method::List,
            "listrouted" => Method::ListRouted,
            "show" => Method::Show,
            "showrouted" => Method::ShowRouted,
            "add" => Method::Add,
            "lock" => Method::Lock,
            "unlock" => Method::Unlock,
            "setcompleted" => Method::SetCompleted,
            _ => return None,
        })
    }

    /// `Leads.list`, `leads.setCompleted`, `Utils.batch` (batch items).
    fn parse_dotted(name: &str) -> Option<Method> {
        let (resource, method) = name.trim().split_once('.')?;
        match resource.to_ascii_lowercase().as_str() {
            "leads" => Method::parse(method),
            "utils" if method.eq_ignore_ascii_case("batch") => Some(Method::Batch),
            _ => None,
        }
    }
}

/// A method's answer: `results`, and `total` for lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub results: Value,
    pub total: Option<u64>,
}

impl Output {
    pub fn of(results: Value) -> Output {
        Output {
            results,
            total: None,
        }
    }

    fn envelope(self) -> Value {
        let mut body = Map::with_capacity(2);
        if let Some(total) = self.total {
            body.insert("total".into(), total.into());
        }
        body.insert("results".into(), self.results);
        Value::Object(body)
    }
}

/// An optional non-negative integer parameter.
fn number(args: &Args, name: &str) -> Result<Option<u64>, LivetexError> {
    match args.get(name).and_then(scalar_text) {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| LivetexError::invalid(name)),
    }
}

/// The required `id`.
fn lead_id(args: &Args) -> Result<LeadId, LivetexError> {
    let text = args
        .get("id")
        .and_then(scalar_text)
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| LivetexError::required("id"))?;
    text.trim()
        .parse()
        .ok()
        .filter(|id: &LeadId| *id > 0)
        .ok_or_else(|| LivetexError::invalid("id"))
}

/// The store-free decoder of `Leads.add` (what `leadgate translate` uses).
pub fn decoder(
    mapping: std::sync::Arc<Mapping>,
    settings: &LivetexSettings,
    write_context: WriteContext,
) -> add::Decoder {
    add::Decoder {
        mapping,
        write_context,
        require_conversation: settings.require_conversation,
    }
}

impl Livetex {
    pub fn new(
        core: Arc<Core>,
        mapping: std::sync::Arc<Mapping>,
        settings: &LivetexSettings,
        write_context: WriteContext,
        body_limit: impl Into<ReadOptions>,
    ) -> Livetex {
        Livetex {
            credentials: auth::Credentials::new(
                &settings.credentials,
                settings.token_secret.as_deref(),
                settings.token_ttl_secs,
            ),
            rules: ValidationRules {
                max_field_chars: MAX_STRING_CHARS,
                ..ValidationRules::livetex()
            },
            decoder: decoder(mapping.clone(), settings, write_context),
            core,
            mapping,
            body_limit: body_limit.into(),
        }
    }

    async fn call_method(
        &self,
        method: Method,
        args: &Args,
        caller: &Employee,
    ) -> Result<Output, LivetexError> {
        match method {
            Method::List => list::run(self, args, caller, Scope::Visible).await,
            Method::ListRouted => list::run(self, args, caller, Scope::Routed).await,
            Method::Show => show::run(self, args, caller, Scope::Visible).await,
            Method::ShowRouted => show::run(self, args, caller, Scope::Routed).await,
            Method::Add => add::run(self, args, caller).await,
            Method::Lock => lock::lock(self, args, caller).await,
            Method::Unlock => lock::unlock(self, args, caller).await,
            Method::SetCompleted => complete::run(self, args, caller).await,
            // Batch items cannot hold a batch; `batch::run` refuses it first.
            Method::Batch => Err(LivetexError::Forbidden),
        }
    }
}

pub fn routes(livetex: Arc<Livetex>, limits: Limits) -> Router {
    guard::dialect_routes(
        ROUTES,
        handle,
        livetex,
        limits.request_timeout,
        move |failure| {
            reply_error(&match failure {
                Failure::Timeout => LivetexError::Timeout,
                Failure::Panic => LivetexError::Internal,
            })
        },
    )
}

fn reply(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn reply_error(error: &LivetexError) -> Response {
    crate::http::mark_outcome(reply(error.status(), &error.body()), error.outcome())
}

async fn handle(State(livetex): State<Arc<Livetex>>, request: Request) -> Response {
    let mut method = None;
    let mut response = match serve(&livetex, request, &mut method).await {
        Ok(body) => reply(StatusCode::OK, &body),
        Err(error) => {
            // The status, never the text: texts name what the caller sent.
            tracing::debug!(status = error.status().as_u16(), "livetex error");
            reply_error(&error)
        }
    };
    if let Some(method) = method {
        crate::http::name_method(&mut response, method);
    }
    response
}

/// What a path asks for.
enum Target {
    Method(Method),
    /// `GET /v2/leads/{id}`.
    ShowId(String),
    Token,
}

fn target(verb: &Verb, path: &str) -> Option<Target> {
    let path = path.trim_start_matches("/v2/").trim_end_matches('/');
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let lower: Vec<String> = segments
        .iter()
        .map(|segment| segment.to_ascii_lowercase())
        .collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    Some(match lower.as_slice() {
        ["leads"] if verb == Verb::POST => Target::Method(Method::Add),
        ["leads"] => Target::Method(Method::List),
        ["leads", id] if id.bytes().all(|byte| byte.is_ascii_digit()) => {
            Target::ShowId((*id).to_owned())
        }
        ["leads", method] => Target::Method(Method::parse(method)?),
        ["utils", "batch"] | ["utils.batch"] => Target::Method(Method::Batch),
        ["oauth2", "token"] | ["oauth2.token"] => Target::Token,
        [dotted] => Target::Method(Method::parse_dotted(dotted)?),
        _ => return None,
    })
}

async fn serve(
    livetex: &Livetex,
    request: Request,
    named: &mut Option<&'static str>,
) -> Result<Value, LivetexError> {
    let (parts, body) = request.into_parts();
    let params = Params::read_keeping_json(&parts, body, livetex.body_limit).await?;
    let mut args = Args::from_params(&params);
    let target = target(&parts.method, parts.uri.path()).ok_or(LivetexError::NotFound)?;
    *named = Some(match &target {
        Target::Method(method) => method.as_str(),
        Target::ShowId(_) => Method::Show.as_str(),
        Target::Token => "oauth2.token",
    });
    if let Target::Token = target {
        return token::run(livetex, &args);
    }
    let caller = livetex.credentials.authenticate(
        &parts.headers,
        args.text("access_token"),
        livetex.core.now(),
        livetex.core.employees(),
    )?;
    let method = match target {
        Target::ShowId(id) => {
            args.insert("id", Value::String(id));
            Method::Show
        }
        Target::Method(method) => method,
        Target::Token => return Err(LivetexError::NotFound),
    };
    let output = match method {
        Method::Batch => batch::run(livetex, &args, caller).await?,
        other => livetex.call_method(other, &args, caller).await?,
    };
    Ok(output.envelope())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_names_are_case_insensitive() {
        let get = Verb::GET;
        let method = |path: &str| match target(&get, path) {
            Some(Target::Method(method)) => Some(method),
            _ => None,
        };
        assert_eq!(method("/v2/leads/list"), Some(Method::List));
        assert_eq!(method("/v2/Leads.listRouted"), Some(Method::ListRouted));
        assert_eq!(method("/v2/leads/SetCompleted"), Some(Method::SetCompleted));
        assert_eq!(method("/v2/leads"), Some(Method::List));
        assert_eq!(method("/v2/utils/batch"), Some(Method::Batch));
        assert_eq!(method("/v2/leads/nope"), None);
        assert_eq!(method("/v2/sites/list"), None);
        assert!(matches!(
            target(&Verb::POST, "/v2/leads"),
            Some(Target::Method(Method::Add))
        ));
        assert!(matches!(target(&get, "/v2/leads/42"), Some(Target::ShowId(id)) if id == "42"));
        assert!(matches!(
            target(&Verb::POST, "/v2/oauth2/token"),
            Some(Target::Token)
        ));
    }
}

#[cfg(test)]
mod round_trip {
    use std::sync::Arc;

    use proptest::prelude::*;
    use serde_json::Value;

    use super::Livetex;
    use crate::core::{Core, Employees};
    use crate::dialect::livetex::settings::LivetexSettings;
    use crate::http::{Args, Params};
    use crate::lead::path::WriteContext;
    use crate::lead::{Employee, Role};
    use crate::mapping::Mapping;
    use crate::store::sqlite::{SqliteOptions, SqliteStore};

    fn caller() -> Employee {
        Employee {
            id: 7,
            name: "Оператор".into(),
            login: "op@example.ru".into(),
            role: Role::Operator,
            active: true,
        }
    }

    fn dialect(dir: &tempfile::TempDir) -> Livetex {
        let store = SqliteStore::open(SqliteOptions::new(dir.path().join("leads.db")))
            .expect("store opens");
        let core = Core::new(Arc::new(store), Employees::new(vec![caller()]));
        Livetex::new(
            Arc::new(core),
            Mapping::built_in("livetex")
                .expect("built-in mapping compiles")
                .into(),
            &LivetexSettings::default(),
            WriteContext::default(),
            1 << 20,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// Leads.add parameters, decoded and written back as a Lead object,
        /// say what was sent.
        #[test]
        fn add_then_encode_gives_the_same_fields(
            name in "[^\u{0}\\s][^\u{0}]{0,40}",
            text in "[^\u{0}]{0,200}",
            email in "[a-z0-9.]{1,10}@[a-z]{1,8}\\.ru",
            site_id in 1u32..1_000_000,
            conversation_id in 1u32..1_000_000,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let livetex = dialect(&dir);
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("name", &name)
                .append_pair("text", &text)
                .append_pair("email", &email)
                .append_pair("site_id", &site_id.to_string())
                .append_pair("conversation_id", &conversation_id.to_string());
            let args = Args::from_params(&Params::from_query(&form.finish()).unwrap());
            let lead = livetex
                .decoder
                .decode_add(&args, &caller(), livetex.core.now())
                .unwrap();
            let object = livetex.encode_lead(&lead, &caller());
            prop_assert_eq!(&object["name"], &Value::String(name));
            prop_assert_eq!(&object["email"], &Value::String(email));
            prop_assert_eq!(&object["site"]["id"], &Value::from(site_id));
            prop_assert_eq!(&object["conversation"]["id"], &Value::from(conversation_id));
            prop_assert_eq!(&object["type"], "chat");
            prop_assert_eq!(&object["is_managed"], &Value::Bool(true));
            if !text.trim().is_empty() {
                prop_assert_eq!(&object["text"], &Value::String(text));
            }
        }
    }
}
