//! Bitrix24 as the composition root plugs it in: `[bitrix24]` settings,
//! the `/rest/` routes, the `batch` forwarding client, and `crm.lead.add`
//! decoded without a store.

use std::sync::Arc;

use axum::Router;
use serde_json::json;

use super::client::{Bitrix24Client, PROTOCOL};
use super::codec::Codec;
use super::settings::Bitrix24Settings;
use super::Bitrix24Error;
use super::{missing_in_mapping, routes, Bitrix24};
use crate::dialect::{from_section, json_post_preview, request_params, Decode, Dialect, Serve};
use crate::forward::settings::TargetSettings;
use crate::forward::{Protocol, Target};
use crate::http::head_refusals::{Refusal, Refused};
use crate::http::params::ReadOptions;
use crate::http::Args;
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::problems::Problems;

pub struct Bitrix24Dialect {
    settings: Bitrix24Settings,
}

/// Builds the dialect from its `[bitrix24]` section.
pub fn plugin(section: Option<&serde_json::Value>) -> Result<Box<dyn Dialect>, (String, String)> {
    Ok(Box::new(Bitrix24Dialect {
        settings: from_section("bitrix24", section)?,
    }))
}

impl Dialect for Bitrix24Dialect {
    fn name(&self) -> &'static str {
        "bitrix24"
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
        let error = Bitrix24Error::Request(match refused {
            Refused::TooLarge => crate::http::ParamsError::HeadTooLarge,
            Refused::Malformed => crate::http::ParamsError::InvalidUtf8 {
                field: "url".into(),
            },
        });
        Refusal {
            status: error.status(),
            content_type: "application/json; charset=utf-8".into(),
            body: error.body().to_string(),
        }
    }

    fn routes(&self, serve: Serve) -> Router {
        let bitrix24 = Bitrix24::new(
            serve.core,
            serve.mapping,
            &self.settings,
            serve.rules,
            serve.write_context,
            self.read_options(serve.limits),
        );
        routes(Arc::new(bitrix24), serve.limits)
    }

    /// The portals' outbound webhooks, for the Bitrix24 targets with an
    /// `events_token`, whether or not the gateway serves Bitrix24 callers.
    fn event_routes(&self, serve: Serve) -> Option<(Router, &'static str)> {
        let events = super::events::PortalEvents::new(
            serve.sync_back,
            &serve.targets,
            serve.mapping.clone(),
            Codec::new(
                serve.mapping,
                serve.write_context,
                serve.core.shared_employees(),
            ),
            self.read_options(serve.limits),
        )?;
        Some((super::events::routes(events), super::events::ROUTE))
    }

    fn decode(&self, input: &[u8], decode: Decode) -> Result<Vec<Lead>, String> {
        let args = Args::from_params(&request_params(input)?);
        Codec::new(decode.mapping, decode.write_context, decode.employees)
            .decode_add(&args)
            .map(|lead| vec![lead])
            .map_err(|error| error.to_string())
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
        Some(Box::new(super::import::Bitrix24Source::new(
            settings, mapping, context,
        )))
    }

    fn target(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        gateway_id: &str,
    ) -> Arc<dyn Target> {
        Arc::new(Bitrix24Client::new(target, mapping, gateway_id))
    }

    fn preview(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        gateway_id: &str,
        lead: &Lead,
    ) -> String {
        let client = Bitrix24Client::new(target, mapping, gateway_id);
        let body = json!({"fields": client.fields(lead), "params": {"REGISTER_SONET_EVENT": "Y"}});
        json_post_preview(
            &format!("{}/crm.lead.add.json", target.url.trim_end_matches('/')),
            &body,
        )
    }
}

impl Bitrix24Dialect {
    fn read_options(&self, limits: crate::http::Limits) -> ReadOptions {
        ReadOptions {
            legacy_charset: crate::dialect::legacy_charset(self.settings.legacy_charset.as_deref()),
            ..limits.body()
        }
    }
}
