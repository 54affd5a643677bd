//! One folder per dialect. Each folder holds both directions of its dialect:
//! the server side (decode requests, encode answers and errors) and the
//! forwarding client. Every dialect plugs in through [`Dialect`]; dialects
//! never import each other, and only the composition root (`app`) lists
//! them.

pub mod bitrix24;
pub mod livetex;
pub mod salesman;
pub mod uis;

use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::core::{Core, Employees};
use crate::forward::settings::TargetSettings;
use crate::forward::{Protocol, Target};
use crate::http::head_refusals::{Refusal, Refused};
use crate::http::Limits;
use crate::lead::path::WriteContext;
use crate::lead::{Lead, ValidationRules};
use crate::mapping::Mapping;
use crate::problems::Problems;

/// One dialect as the composition root sees it, built from its own section
/// of the settings file (see [`from_section`]).
pub trait Dialect: Send + Sync {
    /// Its name everywhere: the settings section, the key under
    /// `[mappings]`, the built-in mapping file, the forwarding target
    /// `kind`, the API a lead was received through, and `leadgate
    /// translate --from/--to`.
    fn name(&self) -> &'static str;

    /// Whether its routes are served (`enabled` in its section).
    fn enabled(&self) -> bool;

    /// Checks its own section.
    fn check(&self, problems: &mut Problems<'_>);

    /// Its settings that must be the same in every replica on a shared
    /// store and are left to a per-process default (a random signing key),
    /// as (key, why): `leadgate check` warns of them with `[store] url`.
    fn per_process_secrets(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// What its mapping file must declare and lacks, as (key, problem).
    fn missing_in_mapping(&self, mapping: &Mapping) -> Vec<(String, String)>;

    /// Its routes, guarded so every failure answers in its own shape.
    fn routes(&self, serve: Serve) -> Router;

    /// The route its CRM's own events about forwarded leads come to
    /// (sync-back), with the route's template, when a target of its kind
    /// accepts them; served whether or not the dialect is.
    fn event_routes(&self, serve: Serve) -> Option<(Router, &'static str)> {
        let _ = serve;
        None
    }

    /// The templates of those routes (logs name requests by them).
    fn route_templates(&self) -> &'static [&'static str];

    /// Its answer to a request on its routes whose head hyper refused
    /// before any route saw it (a URL over 64 KiB, bytes not allowed in a
    /// URL, too many headers): a client fault, in its own error shape.
    fn head_refusal(&self, refused: Refused) -> Refusal;

    /// A request in this dialect as the leads it would create, decoded
    /// without a store (`leadgate translate`).
    fn decode(&self, input: &[u8], decode: Decode) -> Result<Vec<Lead>, String>;

    /// Its forwarding client's wire protocol.
    fn protocol(&self) -> &'static Protocol;

    /// Its forwarding client for `target`.
    /// Where `leadgate import --from <this dialect>` reads: its system's
    /// list API, decoded through `mapping`. `None`: it cannot be imported.
    fn import_source(
        &self,
        settings: crate::import::SourceSettings,
        mapping: Arc<Mapping>,
        context: WriteContext,
    ) -> Option<Box<dyn crate::import::ImportSource>> {
        let _ = (settings, mapping, context);
        None
    }

    fn target(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        gateway_id: &str,
    ) -> Arc<dyn Target>;

    /// The request its forwarding client would send for `lead`, as text
    /// (`leadgate translate`).
    fn preview(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        gateway_id: &str,
        lead: &Lead,
    ) -> String;
}

/// What a dialect serves with, from the rest of the gateway.
pub struct Serve {
    pub core: Arc<Core>,
    pub mapping: Arc<Mapping>,
    pub rules: ValidationRules,
    pub write_context: WriteContext,
    pub limits: Limits,
    /// Applies what targets report about their leads, for a dialect that
    /// serves its CRM's own events (Bitrix24's outbound webhooks).
    pub sync_back: Arc<crate::sync_back::SyncBack>,
    /// The forwarding targets, for the events of those of this dialect's kind.
    pub targets: Arc<[crate::forward::settings::TargetSettings]>,
}

/// What a dialect decodes with: no store.
pub struct Decode {
    pub mapping: Arc<Mapping>,
    pub employees: Arc<Employees>,
    pub rules: ValidationRules,
    pub write_context: WriteContext,
    /// When the decoded leads were created.
    pub now: DateTime<Utc>,
}

/// A dialect's settings from its section of the settings file, or the
/// defaults when the file has none. A problem names the section's key.
pub fn from_section<S: DeserializeOwned + Default>(
    name: &str,
    section: Option<&serde_json::Value>,
) -> Result<S, (String, String)> {
    match section {
        None => Ok(S::default()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|error| (name.to_owned(), error.to_string())),
    }
}

/// The charset a `legacy_charset` setting names (checked at start).
pub fn legacy_charset(label: Option<&str>) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(label?.trim().as_bytes())
}

/// Checks a dialect's `legacy_charset` setting: a WHATWG label such as
/// `windows-1251` or `koi8-r`.
pub fn check_legacy_charset(problems: &mut Problems<'_>, key: &str, label: Option<&str>) {
    if let Some(label) = label {
        if legacy_charset(Some(label)).is_none() {
            problems.add(
                key,
                format!("{label:?} is not a charset label (windows-1251, koi8-r, ...)"),
            );
        }
    }
}

/// A request as parameters, for decoders that read form or query pairs:
/// a JSON object, or a query string / form body.
pub fn request_params(input: &[u8]) -> Result<crate::http::Params, String> {
    let trimmed = input.trim_ascii();
    if trimmed.starts_with(b"{") {
        crate::http::Params::from_json(trimmed).map_err(|error| error.to_string())
    } else {
        let text = std::str::from_utf8(trimmed).map_err(|error| error.to_string())?;
        crate::http::Params::from_query(text.trim_start_matches('?'))
            .map_err(|error| error.to_string())
    }
}

/// A form POST as `leadgate translate` prints it.
pub fn form_post_preview(url: &str, form: &[(String, String)]) -> String {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    format!("POST {url}\nContent-Type: application/x-www-form-urlencoded\n\n{body}\n")
}

/// A JSON POST as `leadgate translate` prints it.
pub fn json_post_preview(url: &str, body: &serde_json::Value) -> String {
    format!(
        "POST {url}\nContent-Type: application/json\n\n{}\n",
        serde_json::to_string_pretty(body).unwrap_or_default()
    )
}
