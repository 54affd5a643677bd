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

use super::wiring::{self, Wiring};
use crate::config::{ConfigProblem, Settings};
use crate::core::Employees;
use crate::dialect::Decode;
use crate::forward::webhook::{self, Webhook, SIGNATURE_HEADER};
use crate::lead::path::WriteContext;
use crate::lead::{Lead, ValidationRules};

/// Besides the dialects: a canonical lead as JSON, in or out.
const CANONICAL: &str = "canonical";

#[derive(Debug, Error)]
pub enum TranslateError {
    #[error("--from must be one of {}", .0.join(", "))]
    UnknownSource(Vec<&'static str>),
    #[error("--to must be one of {}", .0.join(", "))]
    UnknownTarget(Vec<&'static str>),
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
    wiring: Wiring,
}

impl Translator {
    pub fn new(settings: &Settings) -> Result<Translator, TranslateError> {
        Ok(Translator {
            settings: settings.clone(),
            wiring: wiring::build(settings).map_err(TranslateError::Config)?,
        })
    }

    /// What `--from` takes: every dialect, and a canonical lead.
    pub fn sources(&self) -> Vec<&'static str> {
        let mut sources = self.wiring.dialect_names();
        sources.push(CANONICAL);
        sources
    }

    /// What `--to` takes: every dialect, the webhook, and a canonical lead.
    pub fn targets(&self) -> Vec<&'static str> {
        let mut targets = self.wiring.dialect_names();
        targets.extend([webhook::PROTOCOL.kind, CANONICAL]);
        targets
    }

    pub fn translate(
        &self,
        from: &str,
        to: &str,
        input: &[u8],
        lead_id: i64,
    ) -> Result<Preview, TranslateError> {
        let sources = self.sources();
        if !sources.contains(&from) {
            return Err(TranslateError::UnknownSource(sources));
        }
        let targets = self.targets();
        if !targets.contains(&to) {
            return Err(TranslateError::UnknownTarget(targets));
        }
        let mut leads = decode(&self.settings, &self.wiring, from, input)?;
        if leads.is_empty() {
            return Err(TranslateError::Empty(from.to_owned()));
        }
        for (offset, lead) in leads.iter_mut().enumerate() {
            lead.id = Some(lead_id + offset as i64);
        }
        let text = leads
            .iter()
            .map(|lead| encode(&self.settings, &self.wiring, to, lead))
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

fn decode(
    settings: &Settings,
    wiring: &Wiring,
    from: &str,
    input: &[u8],
) -> Result<Vec<Lead>, TranslateError> {
    if from == CANONICAL {
        return serde_json::from_slice::<Lead>(input)
            .map(|lead| vec![lead])
            .map_err(|error| input_error(from, error));
    }
    let wired = wiring
        .dialect(from)
        .ok_or_else(|| TranslateError::UnknownSource(wiring.dialect_names()))?;
    let decode = Decode {
        mapping: wired.mapping.clone(),
        employees: Arc::new(Employees::new(settings.employees.clone())),
        rules: ValidationRules {
            max_text_chars: settings.leads.max_text_chars,
            max_field_chars: settings.leads.max_field_chars,
            require_contact: false,
        },
        write_context: WriteContext {
            default_country_code: settings.leads.phone_default_country.clone(),
        },
        now: crate::lead::truncate_to_micros(chrono::Utc::now()),
    };
    wired
        .dialect
        .decode(input, decode)
        .map_err(|reason| input_error(from, reason))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn encode(settings: &Settings, wiring: &Wiring, to: &str, lead: &Lead) -> String {
    let gateway_id = &settings.forwarding.gateway_id;
    if let Some(wired) = wiring.dialect(to) {
        let target = wiring::target_or_example(settings, to, wired.dialect.protocol());
        return wired
            .dialect
            .preview(&target, wired.mapping.clone(), gateway_id, lead);
    }
    if to == webhook::PROTOCOL.kind {
        let target = wiring::target_or_example(settings, to, &webhook::PROTOCOL);
        let webhook = Webhook::new(&target);
        let body = Webhook::event(lead, 0);
        let signature = webhook
            .sign(&body)
            .map(|signed| format!("{SIGNATURE_HEADER}: {signed}\n"))
            .unwrap_or_default();
        return format!(
            "POST {}\nContent-Type: application/json\nidempotency-key: leadgate-{}\n{signature}\n{}\n",
            target.url,
            lead.id.unwrap_or_default(),
            String::from_utf8_lossy(&body)
        );
    }
    format!("{}\n", pretty(&json!(lead)))
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
            Err(TranslateError::UnknownSource(_))
        ));
    }
}
