//! The LiveTex forwarding client: each lead as `Leads.add`, form-encoded,
//! with Bearer or Basic auth (the reference's client side, section 12).
//! Fields come from `[[records.forward]]` in the LiveTex mapping file, the
//! one the server side uses; `site_id` and `conversation_id`, which LiveTex
//! demands, fall back to the target's configuration.
//!
//! LiveTex has no idempotency key. Before re-sending a lead an earlier
//! attempt may have delivered, the client lists the site's leads created
//! since the lead was accepted and reuses one with the same conversation,
//! name and contact, so an ambiguous timeout does not become a duplicate.
//! Of a lead's later changes LiveTex can take one, its completion
//! (`Leads.setCompleted`).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::forward::settings::TargetSettings;
use crate::forward::transport::{self, excerpt, id_text};
use crate::forward::{
    look_before_sending, needs_token_or_login, one_by_one, Attempt, Pacer, Protocol, Target,
};
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::store::ClaimedDelivery;

/// One lead per `Leads.add`: keep enough of them in flight.
pub const PROTOCOL: Protocol = Protocol {
    kind: "livetex",
    batch_limit: 1,
    default_rate: None,
    default_concurrency: 16,
    url_schemes: &["http://", "https://"],
    missing_keys: needs_token_or_login,
    example_url: "https://api.livetex.ru/v2/",
    updates: Some("Leads.setCompleted when a lead is completed; other changes are not applied"),
};

/// LiveTex refuses longer texts (422).
const TEXT_LIMIT: usize = 2000;

enum Credentials {
    Bearer(String),
    Basic { login: String, password: String },
}

pub struct LivetexClient {
    /// The API base, ending in `/` (`https://api.livetex.ru/v2/`).
    base: String,
    credentials: Credentials,
    site_id: Option<i64>,
    conversation_id: Option<String>,
    mapping: std::sync::Arc<Mapping>,
    client: reqwest::Client,
}

impl LivetexClient {
    pub fn new(settings: &TargetSettings, mapping: std::sync::Arc<Mapping>) -> Self {
        let mut base = settings.url.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        let credentials = match (&settings.token, &settings.login, &settings.password) {
            (Some(token), _, _) => Credentials::Bearer(token.clone()),
            (None, login, password) => Credentials::Basic {
                login: login.clone().unwrap_or_default(),
                password: password.clone().unwrap_or_default(),
            },
        };
        LivetexClient {
            base,
            credentials,
            site_id: settings.site_id,
            conversation_id: settings.conversation_id.clone(),
            mapping,
            client: transport::client(Duration::from_secs_f64(settings.timeout_secs)),
        }
    }

    /// The Leads.add form of a lead.
    pub fn form(&self, lead: &Lead) -> Vec<(String, String)> {
        let mut form: Vec<(String, String)> = Vec::new();
        for (name, value) in self.mapping.forward_fields(lead) {
            let text = match value {
                Value::String(text) if name == "text" => text.chars().take(TEXT_LIMIT).collect(),
                Value::String(text) => text,
                other => other.to_string(),
            };
            form.push((name, text));
        }
        let has = |form: &[(String, String)], name: &str| form.iter().any(|(key, _)| key == name);
        if !has(&form, "site_id") {
            if let Some(site) = self.site_id {
                form.push(("site_id".into(), site.to_string()));
            }
        }
        if !has(&form, "conversation_id") {
            if let Some(conversation) = &self.conversation_id {
                form.push(("conversation_id".into(), conversation.clone()));
            }
        }
        form
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic { login, password } => request.basic_auth(login, Some(password)),
        }
    }

    /// Sends a request and reads its JSON body, or says how it failed.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Value, Attempt> {
        let answer = transport::send(self.authorized(request)).await?;
        if let Some(failure) = answer.failure() {
            return Err(failure);
        }
        let reply: Value = serde_json::from_slice(&answer.body).map_err(|_| {
            Attempt::transient(format!("not a LiveTex reply: {}", excerpt(&answer.body)))
        })?;
        if reply["message"] == "Too Many Requests" {
            return Err(Attempt::Transient {
                error: "LiveTex: Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(1)),
            });
        }
        Ok(reply)
    }

    /// `Leads.list` with `query`: its JSON answer, or how it failed. The
    /// import reads the list through it too.
    pub(super) async fn list(&self, query: &[(&str, String)]) -> Result<Value, Attempt> {
        self.exchange(
            self.client
                .get(format!("{}leads/list", self.base))
                .query(query),
        )
        .await
    }

    /// The id of a lead an earlier attempt created, if it finds one.
    async fn look_up(
        &self,
        lead: &Lead,
        form: &[(String, String)],
        pacer: &Pacer,
    ) -> Result<Option<String>, Attempt> {
        let field = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let mut criteria = vec![format!(
            "created_at>={}",
            lead.created_at.format("%Y-%m-%dT%H:%M:%SZ")
        )];
        if let Some(site) = field("site_id") {
            criteria.push(format!("site_ids={site}"));
        }
        pacer.take().await;
        let reply = self
            .list(&[
                ("q", criteria.join(";")),
                ("fields", "id,name,email,phone,conversation".into()),
                ("sort", "created_at:a".into()),
                ("limit", "100".into()),
            ])
            .await?;
        let same = |found: &Value, key: &str, wire: &str| match field(key) {
            None => true,
            Some(sent) => {
                found[wire] == sent || found[wire] == Value::from(sent.parse::<i64>().ok())
            }
        };
        let matched = reply["results"].as_array().and_then(|rows| {
            rows.iter().find(|row| {
                same(row, "name", "name")
                    && same(row, "email", "email")
                    && same(row, "phone", "phone")
                    && field("conversation_id").is_none_or(|conversation| {
                        row["conversation"]["id"].to_string().trim_matches('"') == conversation
                    })
            })
        });
        Ok(matched.and_then(|row| id_text(&row["id"])))
    }

    async fn send(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        let form = self.form(&delivery.lead);
        let look = self.look_up(&delivery.lead, &form, pacer);
        if let Some(found) = look_before_sending(delivery, look).await {
            return found;
        }
        pacer.take().await;
        let request = self
            .client
            .post(format!("{}leads/add", self.base))
            .form(&form);
        match self.exchange(request).await {
            Ok(reply) => match id_text(&reply["results"]["id"]) {
                Some(id) => Attempt::Delivered {
                    external_id: Some(id),
                },
                None => Attempt::transient(format!(
                    "Leads.add answered without an id: {}",
                    excerpt(reply.to_string().as_bytes())
                )),
            },
            Err(failure) => failure,
        }
    }
}

#[async_trait]
impl Target for LivetexClient {
    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        one_by_one(batch, |delivery| self.send(delivery, pacer)).await
    }

    /// LiveTex applies one change to a lead: its completion
    /// (`Leads.setCompleted`, which leaves a completed lead as it is, so a
    /// retry is harmless). Any other change has nothing to carry it.
    async fn update(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        let Some(livetex_id) = &delivery.external_id else {
            return Attempt::permanent(
                "LiveTex gave no id for this lead when it was added; a change cannot reach it",
            );
        };
        let delivered = Attempt::Delivered {
            external_id: Some(livetex_id.clone()),
        };
        if delivery.lead.completed_at.is_none() {
            return delivered;
        }
        let mut form = vec![("id", livetex_id.clone())];
        if let Some(answer) = &delivery.lead.answer_text {
            form.push(("answer_text", answer.chars().take(TEXT_LIMIT).collect()));
        }
        pacer.take().await;
        let request = self
            .client
            .post(format!("{}leads/setCompleted", self.base))
            .form(&form);
        match self.exchange(request).await {
            Ok(reply) if reply.get("error").is_some() || reply.get("errors").is_some() => {
                Attempt::permanent(format!(
                    "Leads.setCompleted refused: {}",
                    excerpt(reply.to_string().as_bytes())
                ))
            }
            Ok(_) => delivered,
            Err(failure) => failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::ContactPoint;

    #[test]
    fn the_form_falls_back_to_the_target_site_and_conversation_and_cuts_text() {
        let settings: TargetSettings = toml::from_str(
            r#"name = "chat"
            kind = "livetex"
            url = "https://api.livetex.example/v2"
            token = "t"
            site_id = 12
            conversation_id = "c-1""#,
        )
        .unwrap();
        let client = LivetexClient::new(&settings, Mapping::built_in("livetex").unwrap().into());
        let mut lead = Lead::new(chrono::Utc::now());
        lead.phones
            .push(ContactPoint::phone("+7 900 111-22-33", "7"));
        lead.text = Some("х".repeat(2500));
        let form = client.form(&lead);
        let get = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(get("name").as_deref(), Some("+7 900 111-22-33"));
        assert_eq!(get("site_id").as_deref(), Some("12"));
        assert_eq!(get("conversation_id").as_deref(), Some("c-1"));
        assert_eq!(get("result").as_deref(), Some("missed"));
        assert_eq!(get("text").unwrap().chars().count(), 2000);
        assert_eq!(client.base, "https://api.livetex.example/v2/");
    }
}
