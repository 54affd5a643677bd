//! `leadgate translate --from DIALECT --to DIALECT`: reads one request in a
//! dialect (or a canonical lead as JSON) and prints the request the
//! gateway would send to a target of the other kind, so an integration team
//! can check a mapping offline. Decoding runs through the very decoders the
//! server uses (they need no store), encoding through the very forwarding
//! clients, with the configured mapping files and, when the configuration
//! has a target of that kind, its settings.

use std::sync::Arc;

use serde_json::{json, Value};
use thiserror::Error;

use crate::config::{ConfigProblem, Mappings, Settings, TargetKind, TargetSettings};
use crate::core::Employees;
use crate::dialect::bitrix24::client::Bitrix24Client;
use crate::dialect::bitrix24::codec::Codec;
use crate::dialect::livetex::{self, client::LivetexClient};
use crate::dialect::salesman::client::SalesmanClient;
use crate::dialect::uis::{self, client::UisClient};
use crate::forward::webhook::{Webhook, SIGNATURE_HEADER};
use crate::http::{Args, Params};
use crate::lead::path::WriteContext;
use crate::lead::{Employee, Lead, Role, ValidationRules};

pub const SOURCES: &[&str] = &["salesman", "bitrix24", "livetex", "uis", "canonical"];
pub const TARGETS: &[&str] = &[
    "salesman",
    "bitrix24",
    "livetex",
    "uis",
    "webhook",
    "canonical",
];

#[derive(Debug, Error)]
pub enum TranslateError {
    #[error("--from must be one of {}", SOURCES.join(", "))]
    UnknownSource,
    #[error("--to must be one of {}", TARGETS.join(", "))]
    UnknownTarget,
    #[error("the input is not a {dialect} request: {reason}")]
    Input { dialect: String, reason: String },
    #[error("the {0} request holds no lead")]
    Empty(String),
    #[error("configuration problems:\n{}", .0.iter().map(|problem| format!("  {problem}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<ConfigProblem>),
}

/// What the gateway would send: a request line, headers and the body.
pub struct Preview {
    pub leads: usize,
    pub text: String,
}

/// Mapping files compiled once, for any number of previews.
pub struct Translator {
    settings: Settings,
    mappings: Mappings,
}

impl Translator {
    pub fn new(settings: &Settings) -> Result<Translator, TranslateError> {
        Ok(Translator {
            settings: settings.clone(),
            mappings: settings.mappings().map_err(TranslateError::Config)?,
        })
    }

    pub fn translate(
        &self,
        from: &str,
        to: &str,
        input: &[u8],
        lead_id: i64,
    ) -> Result<Preview, TranslateError> {
        if !SOURCES.contains(&from) {
            return Err(TranslateError::UnknownSource);
        }
        if !TARGETS.contains(&to) {
            return Err(TranslateError::UnknownTarget);
        }
        let mut leads = decode(&self.settings, &self.mappings, from, input)?;
        if leads.is_empty() {
            return Err(TranslateError::Empty(from.to_owned()));
        }
        for (offset, lead) in leads.iter_mut().enumerate() {
            lead.id = Some(lead_id + offset as i64);
        }
        let text = leads
            .iter()
            .map(|lead| encode(&self.settings, &self.mappings, to, lead))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Preview {
            leads: leads.len(),
            text,
        })
    }
}

/// One preview (what `leadgate translate` runs).
pub fn translate(
    settings: &Settings,
    from: &str,
    to: &str,
    input: &[u8],
    lead_id: i64,
) -> Result<Preview, TranslateError> {
    Translator::new(settings)?.translate(from, to, input, lead_id)
}

fn input_error(dialect: &str, reason: impl ToString) -> TranslateError {
    TranslateError::Input {
        dialect: dialect.to_owned(),
        reason: reason.to_string(),
    }
}

/// The request as parameters: a JSON body, or a query string / form body.
fn params(dialect: &str, input: &[u8]) -> Result<Params, TranslateError> {
    let trimmed = input.trim_ascii();
    if trimmed.starts_with(b"{") {
        Params::from_json(trimmed).map_err(|error| input_error(dialect, error))
    } else {
        let text = std::str::from_utf8(trimmed).map_err(|error| input_error(dialect, error))?;
        Params::from_query(text.trim_start_matches('?'))
            .map_err(|error| input_error(dialect, error))
    }
}

fn decode(
    settings: &Settings,
    mappings: &Mappings,
    from: &str,
    input: &[u8],
) -> Result<Vec<Lead>, TranslateError> {
    let write_context = WriteContext {
        default_country_code: settings.leads.phone_default_country.clone(),
    };
    let rules = ValidationRules {
        max_text_chars: settings.leads.max_text_chars,
        max_field_chars: settings.leads.max_field_chars,
        require_contact: false,
    };
    let employees = Arc::new(Employees::new(settings.employees.clone()));
    let now = crate::lead::truncate_to_micros(chrono::Utc::now());
    match from {
        "canonical" => serde_json::from_slice::<Lead>(input)
            .map(|lead| vec![lead])
            .map_err(|error| input_error(from, error)),
        "salesman" => {
            let params = params(from, input)?;
            crate::dialect::salesman::add::decode(&mappings.salesman, &params, &write_context)
                .map(|lead| vec![lead])
                .map_err(|error| input_error(from, error.envelope()))
        }
        "bitrix24" => {
            let args = Args::from_params(&params(from, input)?);
            Codec::new(mappings.bitrix24.clone(), write_context, employees)
                .decode_add(&args)
                .map(|lead| vec![lead])
                .map_err(|error| input_error(from, error))
        }
        "livetex" => {
            let args = Args::from_params(&params(from, input)?);
            let operator = Employee {
                id: 0,
                name: "translate".into(),
                login: "translate".into(),
                role: Role::Admin,
                active: true,
            };
            livetex::decoder(mappings.livetex.clone(), &settings.livetex, write_context)
                .decode_add(&args, &operator, now)
                .map(|lead| vec![lead])
                .map_err(|error| input_error(from, format!("{error:?}")))
        }
        _ => {
            // A whole JSON-RPC request, its params, or the item list.
            let request: Value =
                serde_json::from_slice(input).map_err(|error| input_error(from, error))?;
            let items = request
                .pointer("/params/offline_messages")
                .or_else(|| request.get("offline_messages"))
                .unwrap_or(&request);
            let items = match items {
                Value::Array(items) => items.clone(),
                Value::Object(_) => vec![items.clone()],
                _ => return Err(input_error(from, "no offline_messages")),
            };
            uis::decoder(mappings.uis.clone(), rules, write_context)
                .decode_offline_messages(&items, now)
                .map_err(|error| input_error(from, format!("{error:?}")))
        }
    }
}

/// The configured target of this kind, or one with placeholder credentials.
fn target(settings: &Settings, kind: TargetKind, url: &str) -> TargetSettings {
    settings
        .forwarding
        .targets
        .iter()
        .find(|target| target.kind == kind)
        .cloned()
        .unwrap_or_else(|| TargetSettings {
            name: kind.as_str().into(),
            kind,
            url: url.into(),
            login: Some("<login>".into()),
            apikey: Some("<apikey>".into()),
            password: Some("<password>".into()),
            token: Some("<access_token>".into()),
            secret: None,
            subject: None,
            stream: None,
            site_id: None,
            conversation_id: None,
            campaign_id: None,
            requests_per_second: None,
            batch_size: None,
            concurrency: None,
            timeout_secs: 15.0,
        })
}

fn form_text(form: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn encode(settings: &Settings, mappings: &Mappings, to: &str, lead: &Lead) -> String {
    let gateway_id = &settings.forwarding.gateway_id;
    let form_request = |url: &str, form: &[(String, String)]| {
        format!(
            "POST {url}\nContent-Type: application/x-www-form-urlencoded\n\n{}\n",
            form_text(form)
        )
    };
    match to {
        "salesman" => {
            let target = target(
                settings,
                TargetKind::Salesman,
                "https://<crm>/developer/v1/leads",
            );
            let client = SalesmanClient::new(&target, mappings.salesman.clone(), gateway_id);
            form_request(&target.url, &client.form(lead))
        }
        "bitrix24" => {
            let target = target(
                settings,
                TargetKind::Bitrix24,
                "https://<portal>/rest/<user>/<code>/",
            );
            let client = Bitrix24Client::new(&target, mappings.bitrix24.clone(), gateway_id);
            let body =
                json!({"fields": client.fields(lead), "params": {"REGISTER_SONET_EVENT": "Y"}});
            format!(
                "POST {}/crm.lead.add.json\nContent-Type: application/json\n\n{}\n",
                target.url.trim_end_matches('/'),
                pretty(&body)
            )
        }
        "livetex" => {
            let target = target(settings, TargetKind::Livetex, "https://api.livetex.ru/v2/");
            let client = LivetexClient::new(&target, mappings.livetex.clone());
            form_request(
                &format!("{}/leads/add", target.url.trim_end_matches('/')),
                &client.form(lead),
            )
        }
        "uis" => {
            let target = target(settings, TargetKind::Uis, "https://dataapi.uiscom.ru/v2.0");
            let client = UisClient::new(&target, mappings.uis.clone());
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
            format!(
                "POST {}\nContent-Type: application/json\n\n{}\n",
                target.url,
                pretty(&body)
            )
        }
        "webhook" => {
            let target = target(settings, TargetKind::Webhook, "https://<receiver>/leads");
            let webhook = Webhook::new(&target);
            let body = Webhook::event(lead, 0);
            let signature = webhook
                .sign(&body)
                .map(|signed| format!("{SIGNATURE_HEADER}: {signed}\n"))
                .unwrap_or_default();
            format!(
                "POST {}\nContent-Type: application/json\nidempotency-key: leadgate-{}\n{signature}\n{}\n",
                target.url,
                lead.id.unwrap_or_default(),
                String::from_utf8_lossy(&body)
            )
        }
        _ => format!("{}\n", pretty(&json!(lead))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        toml::from_str("").unwrap()
    }

    #[test]
    fn a_salesman_form_becomes_a_bitrix24_add() {
        let preview = translate(
            &settings(),
            "salesman",
            "bitrix24",
            "action=add&title=%D0%90%D0%BD%D0%BD%D0%B0&phone=89001112233&path=Callback".as_bytes(),
            7,
        )
        .unwrap();
        assert_eq!(preview.leads, 1);
        assert!(preview
            .text
            .starts_with("POST https://<portal>/rest/<user>/<code>/crm.lead.add.json\n"));
        assert!(
            preview.text.contains("\"NAME\": \"Анна\""),
            "{}",
            preview.text
        );
        assert!(preview.text.contains("\"SOURCE_ID\": \"CALLBACK\""));
        assert!(preview.text.contains("\"ORIGIN_ID\": \"7\""));
    }

    #[test]
    fn a_bitrix24_add_becomes_a_uis_upload_and_bad_input_says_why() {
        let without_site = translate(
            &settings(),
            "bitrix24",
            "uis",
            r#"{"fields": {"NAME": "Олег", "EMAIL": [{"VALUE": "o@x.ru"}]}}"#.as_bytes(),
            1,
        )
        .unwrap();
        assert!(without_site
            .text
            .starts_with("not sent to UIS: UIS needs a site_id"));
        let with_target: Settings = toml::from_str(
            r#"[[forwarding.targets]]
            name = "analytics"
            kind = "uis"
            url = "https://dataapi.uiscom.ru/v2.0"
            token = "key"
            site_id = 5"#,
        )
        .unwrap();
        let preview = translate(
            &with_target,
            "bitrix24",
            "uis",
            r#"{"fields": {"NAME": "Олег", "PHONE": [{"VALUE": "8 912 000 11 22"}], "COMMENTS": "Счёт"}}"#
                .as_bytes(),
            1,
        )
        .unwrap();
        assert!(
            preview.text.contains("\"phone\": \"+79120001122\""),
            "{}",
            preview.text
        );
        assert!(preview.text.contains("\"message\": \"Счёт\""));
        assert!(preview.text.contains("\"site_id\": 5"));
        assert!(preview.text.contains("\"access_token\": \"key\""));
        assert!(matches!(
            translate(&settings(), "uis", "salesman", b"not json", 1),
            Err(TranslateError::Input { .. })
        ));
        assert!(matches!(
            translate(&settings(), "fax", "salesman", b"", 1),
            Err(TranslateError::UnknownSource)
        ));
    }
}
