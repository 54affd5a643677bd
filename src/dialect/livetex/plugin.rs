//! LiveTex as the composition root plugs it in: `[livetex]` settings, the
//! `/v2/` routes, the `Leads.add` forwarding client, and `Leads.add`
//! decoded without a store.

use std::sync::Arc;

use axum::Router;

use super::client::{LivetexClient, PROTOCOL};
use super::settings::LivetexSettings;
use super::LivetexError;
use super::{decoder, missing_in_mapping, routes, Livetex};
use crate::dialect::{form_post_preview, from_section, request_params, Decode, Dialect, Serve};
use crate::forward::settings::TargetSettings;
use crate::forward::{Protocol, Target};
use crate::http::head_refusals::{Refusal, Refused};
use crate::http::params::ReadOptions;
use crate::http::Args;
use crate::lead::{Employee, Lead, Role};
use crate::mapping::Mapping;
use crate::problems::Problems;

pub struct LivetexDialect {
    settings: LivetexSettings,
}

/// Builds the dialect from its `[livetex]` section.
pub fn plugin(section: Option<&serde_json::Value>) -> Result<Box<dyn Dialect>, (String, String)> {
    Ok(Box::new(LivetexDialect {
        settings: from_section("livetex", section)?,
    }))
}

impl Dialect for LivetexDialect {
    fn name(&self) -> &'static str {
        "livetex"
    }

    fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn check(&self, problems: &mut Problems<'_>) {
        self.settings.check(problems);
    }

    fn per_process_secrets(&self) -> Vec<(&'static str, &'static str)> {
        match (&self.settings.token_secret, self.settings.enabled) {
            (None, true) => vec![(
                "livetex.token_secret",
                "each replica signs tokens with a random key of its own, so a token \
                 one replica issued is refused by the others",
            )],
            _ => Vec::new(),
        }
    }

    fn missing_in_mapping(&self, mapping: &Mapping) -> Vec<(String, String)> {
        missing_in_mapping(mapping)
    }

    fn route_templates(&self) -> &'static [&'static str] {
        super::ROUTES
    }

    fn head_refusal(&self, refused: Refused) -> Refusal {
        let error = match refused {
            Refused::TooLarge => LivetexError::TooLarge,
            Refused::Malformed => LivetexError::invalid("url"),
        };
        Refusal {
            status: error.status(),
            content_type: "application/json; charset=utf-8".into(),
            body: error.body().to_string(),
        }
    }

    fn routes(&self, serve: Serve) -> Router {
        let livetex = Livetex::new(
            serve.core,
            serve.mapping,
            &self.settings,
            serve.write_context,
            ReadOptions {
                legacy_charset: crate::dialect::legacy_charset(
                    self.settings.legacy_charset.as_deref(),
                ),
                ..serve.limits.body()
            },
        );
        routes(Arc::new(livetex), serve.limits)
    }

    /// `Leads.add` as an operator would send it; the lead is assigned to
    /// the caller, so the preview's caller is a stand-in.
    fn decode(&self, input: &[u8], decode: Decode) -> Result<Vec<Lead>, String> {
        let args = Args::from_params(&request_params(input)?);
        let operator = Employee {
            id: 0,
            name: "translate".into(),
            login: "translate".into(),
            role: Role::Admin,
            active: true,
        };
        decoder(decode.mapping, &self.settings, decode.write_context)
            .decode_add(&args, &operator, decode.now)
            .map(|lead| vec![lead])
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
        Some(Box::new(super::import::LivetexSource::new(
            settings, mapping, context,
        )))
    }

    fn target(&self, target: &TargetSettings, mapping: Arc<Mapping>, _: &str) -> Arc<dyn Target> {
        Arc::new(LivetexClient::new(target, mapping))
    }

    fn preview(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        _: &str,
        lead: &Lead,
    ) -> String {
        let client = LivetexClient::new(target, mapping);
        form_post_preview(
            &format!("{}/leads/add", target.url.trim_end_matches('/')),
            &client.form(lead),
        )
    }
}
