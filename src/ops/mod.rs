//! The operations page on the `[admin]` listener: what came in, what went
//! out, what is stuck and why, in a browser. Server-rendered HTML that
//! reads without JavaScript; a little plain script for the buttons
//! (Retry, Replay, reveal a contact). Everything is in the binary: no
//! CDN, no web fonts (users run it on closed networks).
//!
//! `auth.rs` signs a browser in (the admin token once, then an HttpOnly,
//! SameSite=Strict cookie); `data.rs` gathers each section's data, served
//! as JSON under `/ops/api/` and rendered by `page.rs` (over `html.rs`:
//! escaping, the document, the sign-in form); `chart.rs` draws the
//! traffic as SVG on the server; `assets.rs` the style and script.

mod assets;
mod auth;
mod chart;
mod data;
mod html;
mod page;

use std::sync::{Arc, RwLock};

use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::forward::admin::TargetNames;
use crate::http::admin_auth::AdminToken;
use crate::store::Store;

/// What `leadgate translate` does, for the page's Translate section: given
/// by the composition root, which alone knows the dialects.
pub trait Previews: Send + Sync {
    fn sources(&self) -> Vec<&'static str>;
    fn targets(&self) -> Vec<&'static str>;
    /// The request `to` would get for the `from` request `input`.
    fn preview(&self, from: &str, to: &str, input: &[u8]) -> Result<String, String>;
}

/// The configuration as the page shows it: names and kinds, never a
/// secret (a target's URL is shown as its scheme and host: a Bitrix24
/// webhook URL carries its code in the path).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConfigSummary {
    pub dialects: Vec<DialectSummary>,
    pub targets: Vec<TargetSummary>,
    pub rules: Vec<RuleSummary>,
    pub store: String,
}

impl ConfigSummary {
    pub fn dialect_names(&self) -> Vec<&str> {
        self.dialects
            .iter()
            .map(|dialect| dialect.name.as_str())
            .collect()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DialectSummary {
    pub name: String,
    pub enabled: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetSummary {
    pub name: String,
    pub kind: String,
    /// Scheme and host only.
    pub host: String,
    /// How it applies a lead's changes, or `None`: it cannot.
    pub updates: Option<String>,
    pub accepts_events: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleSummary {
    pub targets: Vec<String>,
    /// The rule's criteria in words ("dialects: salesman; channels: web").
    pub when: String,
}

/// What a reload replaces: the summary and the previews.
pub struct View {
    pub summary: ConfigSummary,
    pub previews: Arc<dyn Previews>,
}

/// Shared with the reloader, which swaps the view in.
#[derive(Clone)]
pub struct SharedView(Arc<RwLock<Arc<View>>>);

impl SharedView {
    pub fn new(view: View) -> SharedView {
        SharedView(Arc::new(RwLock::new(Arc::new(view))))
    }

    pub fn replace(&self, view: View) {
        match self.0.write() {
            Ok(mut current) => *current = Arc::new(view),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(view),
        }
    }

    fn current(&self) -> Arc<View> {
        match self.0.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

struct Ops {
    token: AdminToken,
    store: Arc<dyn Store>,
    targets: TargetNames,
    view: SharedView,
}

/// The routes below, for the front's logs.
pub const PATHS: &[&str] = &[
    "/",
    "/signin",
    "/signout",
    "/ops/translate",
    "/ops/traffic.svg",
    "/ops/api/deliveries",
    "/ops/api/dead",
    "/ops/api/leads",
    "/ops/api/leads/{id}/contacts",
    "/ops/api/translate",
    "/ops/api/traffic",
    "/ops/api/config",
];

pub fn routes(
    token: &str,
    store: Arc<dyn Store>,
    targets: TargetNames,
    view: SharedView,
) -> Router {
    let ops = Arc::new(Ops {
        token: AdminToken::new(token),
        store,
        targets,
        view,
    });
    // The data's own rejections (a wrong verb) in its JSON shape; the
    // pages answer in HTML.
    let data = Router::new()
        .route("/ops/api/deliveries", get(data::deliveries_json))
        .route("/ops/api/dead", get(data::dead_json))
        .route("/ops/api/leads", get(data::leads_json))
        .route("/ops/api/leads/{id}/contacts", get(data::contacts_json))
        .route("/ops/api/translate", post(data::translate_json))
        .route("/ops/api/traffic", get(data::traffic_json))
        .route("/ops/api/config", get(data::config_json))
        .layer(axum::middleware::map_response(
            crate::http::json_errors::as_json,
        ));
    Router::new()
        .route("/", get(page::home))
        .route("/signin", post(auth::sign_in))
        .route("/signout", post(auth::sign_out))
        .route("/ops/translate", post(page::translate_form))
        .route("/ops/traffic.svg", get(page::traffic_svg))
        .merge(data)
        .with_state(ops)
}
