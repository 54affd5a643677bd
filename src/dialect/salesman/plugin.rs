//! SalesMan as the composition root plugs it in: `[salesman]` settings,
//! the `leads` routes, the form-posting forwarding client, and form adds
//! decoded without a store.

use std::sync::Arc;

use axum::Router;

use super::client::{SalesmanClient, PROTOCOL};
use super::settings::SalesmanSettings;
use super::SalesmanError;
use super::{add, missing_in_mapping, routes, Salesman};
use crate::dialect::{form_post_preview, from_section, request_params, Decode, Dialect, Serve};
use crate::forward::settings::TargetSettings;
use crate::forward::{Protocol, Target};
use crate::http::head_refusals::{Refusal, Refused};
use crate::http::params::ReadOptions;
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::problems::Problems;

pub struct SalesmanDialect {
    settings: SalesmanSettings,
}

/// Builds the dialect from its `[salesman]` section.
pub fn plugin(section: Option<&serde_json::Value>) -> Result<Box<dyn Dialect>, (String, String)> {
    Ok(Box::new(SalesmanDialect {
        settings: from_section("salesman", section)?,
    }))
}

impl Dialect for SalesmanDialect {
    fn name(&self) -> &'static str {
        "salesman"
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
            Refused::TooLarge => SalesmanError::Request(crate::http::ParamsError::HeadTooLarge),
            Refused::Malformed => {
                SalesmanError::bad_parameter("url", "недопустимые байты в адресе или заголовках")
            }
        };
        Refusal {
            // SalesMan answers errors with HTTP 200, as PHP does.
            status: http::StatusCode::OK,
            content_type: self.settings.content_type.clone(),
            body: error.envelope().to_string(),
        }
    }

    fn routes(&self, serve: Serve) -> Router {
        let salesman = Salesman::new(
            serve.core,
            serve.mapping,
            &self.settings,
            serve.rules,
            serve.write_context,
            ReadOptions {
                legacy_charset: crate::dialect::legacy_charset(
                    self.settings.legacy_charset.as_deref(),
                ),
                ..serve.limits.body()
            },
        );
        routes(Arc::new(salesman), serve.limits)
    }

    fn decode(&self, input: &[u8], decode: Decode) -> Result<Vec<Lead>, String> {
        let params = request_params(input)?;
        add::decode(&decode.mapping, &params, &decode.write_context)
            .map(|lead| vec![lead])
            .map_err(|error| error.envelope().to_string())
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
        Some(Box::new(super::import::SalesmanSource::new(
            settings, mapping, context,
        )))
    }

    fn target(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        gateway_id: &str,
    ) -> Arc<dyn Target> {
        Arc::new(SalesmanClient::new(target, mapping, gateway_id))
    }

    fn preview(
        &self,
        target: &TargetSettings,
        mapping: Arc<Mapping>,
        gateway_id: &str,
        lead: &Lead,
    ) -> String {
        let client = SalesmanClient::new(target, mapping, gateway_id);
        form_post_preview(&target.url, &client.form(lead))
    }
}
