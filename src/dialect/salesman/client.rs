//! The SalesMan forwarding client: each lead as `action=add`, form-encoded,
//! with the target's login and apikey (the reference's client side,
//! section 12). Fields come from the mapping file's `[[records.forward]]`,
//! the same file the server side decodes with.
//!
//! SalesMan answers HTTP 200 whatever happens, so the body decides: a
//! `result.text == "Success"` with its `id` is delivered; error codes
//! 400/401/402 are configuration problems (permanent), `1` is the server's
//! own failure (retried), anything else is about the lead (permanent). The
//! lead's gateway id travels as `uids[<gateway id>]`, which API 2.0 (and
//! this gateway's own SalesMan side) use to make a repeated add return the
//! stored lead instead of a duplicate.
//!
//! API 1.0 ignores `uids`, and a SalesMan can store a lead and still fail
//! the answer (a 500 with an empty body, a reply slower than the timeout).
//! So an attempt that may have reached it before is preceded by a look:
//! `action=list` of the newest leads, matched on every field sent among
//! phone, e-mail, name and text; found, it is the delivery.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::forward::settings::TargetSettings;
use crate::forward::transport::{self, excerpt};
use crate::forward::{look_before_sending, one_by_one, Attempt, Pacer, Protocol, Target};
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::store::ClaimedDelivery;

/// One lead per form post: keep enough of them in flight.
pub const PROTOCOL: Protocol = Protocol {
    kind: "salesman",
    batch_limit: 1,
    default_rate: None,
    default_concurrency: 16,
    url_schemes: &["http://", "https://"],
    missing_keys: |target| {
        let mut missing = Vec::new();
        if target.login.is_none() {
            missing.push("login");
        }
        if target.apikey.is_none() {
            missing.push("apikey");
        }
        missing
    },
    example_url: "https://<crm>/developer/v1/leads",
    updates: None,
};

pub struct SalesmanClient {
    url: String,
    login: String,
    apikey: String,
    gateway_id: String,
    mapping: Arc<Mapping>,
    /// `path` for a lead the mapping gives none (`path_fallback`).
    path_fallback: String,
    /// What replaces characters a MySQL `utf8` column cannot hold.
    astral_replacement: String,
    client: reqwest::Client,
}

/// The canonical channel whose SalesMan name is the default `path`.
const FALLBACK_CHANNEL: &str = "other";

/// SalesMan's MySQL tables are `utf8` (three bytes a character at most):
/// an emoji made it answer 500 to every attempt.
const DEFAULT_ASTRAL_REPLACEMENT: &str = "\u{FFFD}";

impl SalesmanClient {
    pub fn new(settings: &TargetSettings, mapping: Arc<Mapping>, gateway_id: &str) -> Self {
        SalesmanClient {
            url: settings.url.clone(),
            login: settings.login.clone().unwrap_or_default(),
            apikey: settings.apikey.clone().unwrap_or_default(),
            gateway_id: gateway_id.to_owned(),
            path_fallback: settings.path_fallback.clone().unwrap_or_else(|| {
                mapping
                    .value_map("channel")
                    .and_then(|channels| channels.to_wire(FALLBACK_CHANNEL))
                    .unwrap_or(FALLBACK_CHANNEL)
                    .to_owned()
            }),
            astral_replacement: settings
                .astral_replacement
                .clone()
                .unwrap_or_else(|| DEFAULT_ASTRAL_REPLACEMENT.to_owned()),
            mapping,
            client: transport::client(Duration::from_secs_f64(settings.timeout_secs)),
        }
    }

    /// The form an add request carries (credentials included).
    pub fn form(&self, lead: &Lead) -> Vec<(String, String)> {
        let mut form = vec![
            ("login".to_owned(), self.login.clone()),
            ("apikey".to_owned(), self.apikey.clone()),
            ("action".to_owned(), "add".to_owned()),
        ];
        let fields = encode(&self.mapping, lead);
        let has_path = fields.iter().any(|(name, _)| name == "path");
        form.extend(
            fields
                .into_iter()
                .map(|(name, value)| (name, storable(&value, &self.astral_replacement))),
        );
        if !has_path {
            form.push(("path".to_owned(), self.path_fallback.clone()));
        }
        if let Some(id) = lead.id {
            form.push((format!("uids[{}]", self.gateway_id), id.to_string()));
        }
        form
    }

    async fn send(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        let form = self.form(&delivery.lead);
        let look = self.look_up(&delivery.lead, &form, pacer);
        if let Some(found) = look_before_sending(delivery, look).await {
            return found;
        }
        pacer.take().await;
        let reply = match transport::send(self.client.post(&self.url).form(&form)).await {
            Ok(reply) => reply,
            Err(failure) => return failure,
        };
        reply.failure().unwrap_or_else(|| read_reply(&reply.body))
    }
}

/// Pages of `action=list` looked through for a lead maybe sent before: the
/// newest 1 000 leads (API 1.0 ignores `offset` and always answers the
/// newest 200; a repeated page ends the look).
const LOOK_UP_PAGES: u64 = 5;
/// SalesMan's page size.
const LIST_PAGE: usize = 200;

impl SalesmanClient {
    /// One `action=list` page with `params` (the credentials added): its
    /// JSON answer, or how the request failed. The import reads the list
    /// through it too.
    pub(super) async fn list_page(&self, params: &[(&str, &str)]) -> Result<Value, Attempt> {
        let mut form = vec![
            ("login", self.login.as_str()),
            ("apikey", self.apikey.as_str()),
            ("action", "list"),
        ];
        form.extend_from_slice(params);
        let reply = transport::send(self.client.post(&self.url).form(&form)).await?;
        if let Some(failure) = reply.failure() {
            return Err(failure);
        }
        reply.json().ok_or_else(|| {
            Attempt::transient(format!(
                "action=list answered not as SalesMan: {}",
                excerpt(&reply.body)
            ))
        })
    }

    /// The id SalesMan gave this lead, if an earlier attempt stored it:
    /// a row added since the day before the lead was accepted whose phone
    /// (digits), e-mail (any case), name and text equal every one of those
    /// the form sends. A lead with none of them cannot be told apart and is
    /// sent again.
    async fn look_up(
        &self,
        lead: &Lead,
        form: &[(String, String)],
        pacer: &Pacer,
    ) -> Result<Option<String>, Attempt> {
        let sent = |name: &str| field_of(form, name).filter(|value| !value.trim().is_empty());
        let phone = sent("phone").map(digits);
        let email = sent("email").map(|email| email.trim().to_lowercase());
        let name = sent("title").map(str::trim);
        let text = sent("description").map(str::trim);
        if phone.is_none() && email.is_none() && name.is_none() {
            return Ok(None);
        }
        let matches = |row: &Value| {
            let column = |key: &str| row[key].as_str().map(str::trim).unwrap_or_default();
            phone
                .as_ref()
                .is_none_or(|phone| same_phone(&digits(column("phone")), phone))
                && email
                    .as_ref()
                    .is_none_or(|email| column("email").to_lowercase() == *email)
                && name.is_none_or(|name| {
                    ["person", "client", "title"]
                        .iter()
                        .any(|key| column(key) == name)
                })
                && text.is_none_or(|text| column("content") == text)
        };
        let since = (lead.created_at - chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        let mut first_of_first_page = None;
        for page in 0..LOOK_UP_PAGES {
            pacer.take().await;
            let page_text = page.to_string();
            let body = self
                .list_page(&[
                    ("dateStart", since.as_str()),
                    ("first", "new"),
                    ("offset", page_text.as_str()),
                ])
                .await?;
            // An empty page is SalesMan's error 404 ("Не найдено").
            let Some(rows) = body["data"].as_array() else {
                break;
            };
            let first = rows.first().and_then(|row| transport::id_text(&row["id"]));
            if page == 0 {
                first_of_first_page = first;
            } else if first == first_of_first_page {
                break;
            }
            if let Some(row) = rows.iter().find(|row| matches(row)) {
                return Ok(transport::id_text(&row["id"]));
            }
            if rows.len() < LIST_PAGE {
                break;
            }
        }
        Ok(None)
    }
}

fn field_of<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Two phones' digits are one number when their last ten agree (a stored
/// `8 900…` is the `+7 900…` sent), or all of them for shorter numbers.
fn same_phone(stored: &str, sent: &str) -> bool {
    const SUBSCRIBER: usize = 10;
    if stored.len() >= SUBSCRIBER && sent.len() >= SUBSCRIBER {
        stored[stored.len() - SUBSCRIBER..] == sent[sent.len() - SUBSCRIBER..]
    } else {
        stored == sent
    }
}

/// `text` with every character beyond three UTF-8 bytes replaced.
fn storable(text: &str, replacement: &str) -> String {
    if text.chars().all(|character| character.len_utf8() <= 3) {
        return text.to_owned();
    }
    let mut kept = String::with_capacity(text.len());
    for character in text.chars() {
        if character.len_utf8() <= 3 {
            kept.push(character);
        } else {
            kept.push_str(replacement);
        }
    }
    kept
}

/// The lead's fields as the mapping's forward record writes them, unset
/// ones left out.
pub fn encode(mapping: &Mapping, lead: &Lead) -> Vec<(String, String)> {
    mapping
        .forward_fields(lead)
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect()
}

/// What a SalesMan reply body means for the lead.
pub fn read_reply(body: &[u8]) -> Attempt {
    let Ok(reply) = serde_json::from_slice::<Value>(body) else {
        // An HTML page or a PHP warning with status 200: the server is not
        // answering as SalesMan; worth another try later.
        return Attempt::transient(format!("not a SalesMan reply: {}", excerpt(body)));
    };
    let result = &reply["result"];
    if result["text"] == "Success" || *result == "Success" {
        let id = result.get("id").or_else(|| reply.get("id"));
        return Attempt::Delivered {
            external_id: id.and_then(transport::id_text),
        };
    }
    let error = &reply["error"];
    let code = match &error["code"] {
        Value::String(code) => code.clone(),
        Value::Number(code) => code.to_string(),
        _ => return Attempt::transient(format!("unexpected SalesMan reply: {}", excerpt(body))),
    };
    let text = error["text"].as_str().unwrap_or_default();
    let message = format!("SalesMan error {code}: {text}");
    match code.as_str() {
        "1" => Attempt::transient(message),
        _ => Attempt::permanent(message),
    }
}

#[async_trait]
impl Target for SalesmanClient {
    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        one_by_one(batch, |delivery| self.send(delivery, pacer)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::{Channel, ContactPoint};

    #[test]
    fn a_lead_becomes_the_add_form_of_the_mapping() {
        let mapping = Mapping::built_in("salesman").unwrap();
        let mut lead = Lead::new(chrono::Utc::now());
        lead.name = Some("Анна".into());
        lead.phones
            .push(ContactPoint::phone("8 900 111-22-33", "7"));
        lead.emails.push(ContactPoint::email("A@X.RU"));
        lead.channel = Some(Channel::Callback);
        lead.utm.source = Some("google".into());
        let form = encode(&mapping, &lead);
        let get = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("title"), Some("Анна"));
        assert_eq!(get("phone"), Some("8 900 111-22-33"));
        assert_eq!(get("email"), Some("A@X.RU"));
        assert_eq!(get("path"), Some("Обратный звонок"));
        assert_eq!(get("utm_source"), Some("google"));
        assert_eq!(get("company"), None);
    }

    fn settings(extra: &str) -> TargetSettings {
        toml::from_str(&format!(
            "name = \"crm\"\nkind = \"salesman\"\nurl = \"http://crm/\"\n{extra}"
        ))
        .unwrap()
    }

    fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// SalesMan drops UTM fields without `path`; its `utf8` tables refuse
    /// emoji on every attempt.
    #[test]
    fn every_lead_gets_a_path_and_only_storable_characters() {
        let mapping = Arc::new(Mapping::built_in("salesman").unwrap());
        let mut lead = Lead::new(chrono::Utc::now());
        lead.name = Some("Анна 🌷".into());
        lead.utm.source = Some("google".into());
        let client = SalesmanClient::new(&settings(""), mapping.clone(), "leadgate");
        let form = client.form(&lead);
        assert_eq!(field(&form, "path"), Some("Другое"), "{form:?}");
        assert_eq!(field(&form, "utm_source"), Some("google"));
        assert_eq!(field(&form, "title"), Some("Анна \u{FFFD}"));

        let client = SalesmanClient::new(
            &settings("path_fallback = \"Сайт\"\nastral_replacement = \"\""),
            mapping,
            "leadgate",
        );
        let form = client.form(&lead);
        assert_eq!(field(&form, "path"), Some("Сайт"));
        assert_eq!(field(&form, "title"), Some("Анна "));
        // A lead with a channel keeps the mapping's path.
        lead.channel = Some(Channel::Callback);
        let form = client.form(&lead);
        assert_eq!(field(&form, "path"), Some("Обратный звонок"));
        assert_eq!(form.iter().filter(|(key, _)| key == "path").count(), 1);
    }

    #[test]
    fn replies_are_read_by_their_body_not_their_status() {
        assert_eq!(
            read_reply(br#"{"result":{"text":"Success","id":42,"mailresult":null}}"#),
            Attempt::Delivered {
                external_id: Some("42".into())
            }
        );
        assert!(matches!(
            read_reply(br#"{"result":"Error","error":{"code":"401","text":"bad key"}}"#),
            Attempt::Permanent { .. }
        ));
        assert!(matches!(
            read_reply(br#"{"result":"Error","error":{"code":"1","text":"db"}}"#),
            Attempt::Transient { .. }
        ));
        assert!(matches!(
            read_reply(b"<html>Fatal error</html>"),
            Attempt::Transient { .. }
        ));
    }
}
