//! UIS as the composition root plugs it in: `[uis]` settings, the JSON-RPC
//! route, the `upload.offline_messages` forwarding client, and offline
//! messages decoded without a store.

use std::sync::Arc;

use axum::Router;
use serde_json::{json, Value};

use super::client::{UisClient, PROTOCOL};
use super::error::UisError;
use super::settings::UisSettings;
use super::{decoder, missing_in_mapping, routes, Uis};
use crate::dialect::{from_section, json_post_preview, Decode, Dialect, Serve};
use crate::forward::settings::TargetSettings;
use crate::forward::{Protocol, Target};
use crate::http::head_refusals::{Refusal, Refused};
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::problems::Problems;

pub struct UisDialect {
    settings: UisSettings,
}

/// Builds the dialect from its `[uis]` section.
pub fn plugin(section: Option<&serde_json::Value>) -> Result<Box<dyn Dialect>, (String, String)> {
    Ok(Box::new(UisDialect {
        settings: from_section("uis", section)?,
    }))
}

impl Dialect for UisDialect {
    fn name(&self) -> &'static str {
        "uis"
    }

    fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn check(&self, problems: &mut Problems<'_>) {
        self.settings.check(problems);
    }

    fn missing_in_mapping(&self, mapping: &Mapping) -> Vec<(String, String)> {
        missing_in_mapping(mapping)
    }

    fn route_templates(&self) -> &'static [&'static str] {
        super::ROUTES
    }

    fn head_refusal(&self, refused: Refused) -> Refusal {
        let error = match refused {
            Refused::TooLarge => UisError::invalid_request(),
            Refused::Malformed => UisError::parse_error(),
        };
        Refusal {
            // UIS answers every JSON-RPC error with HTTP 200.
            status: http::StatusCode::OK,
            content_type: "application/json; charset=utf-8".into(),
            body: error.response(Value::Null).to_string(),
        }
    }

    fn routes(&self, serve: Serve) -> Router {
        let uis = Uis::new(
            serve.core,
            serve.mapping,
            &self.settings,
            serve.rules,
            serve.write_context,
        );
        let legacy_charset =
            crate::dialect::legacy_charset(self.settings.legacy_charset.as_deref());
        routes(Arc::new(uis), serve.limits, legacy_charset)
    }

    /// A whole `upload.offline_messages` request, its params, or the item
    /// list (or one item).
    fn decode(&self, input: &[u8], decode: Decode) -> Result<Vec<Lead>, String> {
        let request: Value = serde_json::from_slice(input).map_err(|error| error.to_string())?;
        let items = request
            .pointer("/params/offline_messages")
            .or_else(|| request.get("offline_messages"))
            .unwrap_or(&request);
        let items = match items {
            Value::Array(items) => items.clone(),
            Value::Object(_) => vec![items.clone()],
            _ => return Err("no offline_messages".into()),
        };
        decoder(decode.mapping, decode.rules, decode.write_context)
            .decode_offline_messages(&items, decode.now)
            .map_err(|error| format!("{error:?}"))
    }

    fn protocol(&self) -> &'static Protocol {
        &PROTOCOL
    }

    fn import_source(
        &self,
        settings: crate::import::SourceSettings,
        mapping: Arc<Mapping>,
        context: crate::lead::path::WriteContext,
    ) -> Option<Box<dyn crate::import::ImportSource>> {
        Some(Box::new(super::import::UisSource::new(
            settings, mapping, context,
        )))
    }

    fn target(&self, target: &TargetSettings, mapping: Arc<Mapping>, _: &str) -> Arc<dyn Target> {
        Arc::new(UisClient::new(target, mapping))
    }

    fn preview(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        _: &str,
        lead: &Lead,
    ) -> String {
        let client = UisClient::new(target, mapping);
        let item = match client.item(lead) {
            Ok(item) => item,
            Err(reason) => return format!("not sent to UIS: {reason}\n"),
        };
        let token = target
            .token
            .clone()
            .unwrap_or_else(|| "<access_token>".into());
        let body = json!({"jsonrpc": "2.0", "id": "leadgate_upload.offline_messages",
            "method": "upload.offline_messages",
            "params": {"access_token": token, "offline_messages": [item]}});
        json_post_preview(&target.url, &body)
    }
}
