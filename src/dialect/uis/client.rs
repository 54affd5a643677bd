//! The UIS / CoMagic forwarding client: leads as `upload.offline_messages`,
//! up to 50 per JSON-RPC call (the reference's client side, section 11).
//!
//! Items come from `[[records.forward]]` in the UIS mapping file, plus
//! `ext_id` = the gateway id (so a repeated upload is recognised),
//! `date_time` = when the gateway accepted the lead, and the phone in E.164. UIS checks every item before storing any, so one bad item refuses
//! the whole call: the client marks the item the error names as failed and
//! sends the rest again, so one bad lead never sinks its batch.
//!
//! Auth: a permanent access token from config, or `login.user` with the
//! target's login and password, cached until it expires; on -32001 the
//! client logs in again once and resends.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;

use crate::forward::settings::TargetSettings;
use crate::forward::transport::{self, excerpt, id_text};
use crate::forward::{needs_token_or_login, same_for_all, Attempt, Pacer, Protocol, Target};
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::store::ClaimedDelivery;

/// `upload.offline_messages` of up to 50 items.
pub const PROTOCOL: Protocol = Protocol {
    kind: "uis",
    batch_limit: 50,
    default_rate: None,
    default_concurrency: 2,
    url_schemes: &["http://", "https://"],
    missing_keys: needs_token_or_login,
    example_url: "https://dataapi.uiscom.ru/v2.0",
    updates: None,
};

/// JSON-RPC errors worth retrying: UIS's internal error and its limits.
const TRANSIENT_CODES: &[i64] = &[-32603, -32029];
const TOKEN_REFUSED: i64 = -32001;

enum Auth {
    Token(String),
    Login {
        login: String,
        password: String,
        session: Mutex<Option<(String, DateTime<Utc>)>>,
    },
}

pub struct UisClient {
    url: String,
    auth: Auth,
    site_id: Option<i64>,
    campaign_id: Option<i64>,
    mapping: std::sync::Arc<Mapping>,
    client: reqwest::Client,
}

/// A JSON-RPC error as UIS sends it.
struct RpcError {
    code: i64,
    message: String,
    field: Option<String>,
    reset: Option<Duration>,
}

impl RpcError {
    fn describe(&self) -> String {
        match &self.field {
            Some(field) => format!("UIS error {} at {field}: {}", self.code, self.message),
            None => format!("UIS error {}: {}", self.code, self.message),
        }
    }

    fn attempt(&self) -> Attempt {
        if TRANSIENT_CODES.contains(&self.code) {
            Attempt::Transient {
                error: self.describe(),
                retry_after: self.reset,
            }
        } else {
            Attempt::permanent(self.describe())
        }
    }
}

enum Failure {
    Rpc(RpcError),
    Transport(Attempt),
}

impl UisClient {
    pub fn new(settings: &TargetSettings, mapping: std::sync::Arc<Mapping>) -> Self {
        let auth = match &settings.token {
            Some(token) => Auth::Token(token.clone()),
            None => Auth::Login {
                login: settings.login.clone().unwrap_or_default(),
                password: settings.password.clone().unwrap_or_default(),
                session: Mutex::new(None),
            },
        };
        UisClient {
            url: settings.url.clone(),
            auth,
            site_id: settings.site_id,
            campaign_id: settings.campaign_id,
            mapping,
            client: transport::client(Duration::from_secs_f64(settings.timeout_secs)),
        }
    }

    /// One `offline_messages` item, or why the lead cannot be one.
    pub fn item(&self, lead: &Lead) -> Result<Value, String> {
        let mut item: Map<String, Value> = self.mapping.forward_fields(lead).into_iter().collect();
        // E.164 as the gateway normalised it ("+79001112233"); a number it
        // could not normalise goes as typed.
        if let Some(phone) = lead.phones.first() {
            let e164 = if phone.normalized.is_empty() {
                &phone.value
            } else {
                &phone.normalized
            };
            item.insert("phone".into(), Value::String(e164.clone()));
        }
        if !item.contains_key("phone") && !item.contains_key("email") {
            return Err("UIS needs a phone or an e-mail; the lead has neither".into());
        }
        if !item.contains_key("site_id") {
            if let Some(site) = self.site_id {
                item.insert("site_id".into(), Value::from(site));
            }
        }
        if let Some(campaign) = self.campaign_id {
            item.insert("campaign_id".into(), Value::from(campaign));
        }
        if !item.contains_key("site_id") && !item.contains_key("campaign_id") {
            return Err(
                "UIS needs a site_id or campaign_id: the lead has no site and the target sets none"
                    .into(),
            );
        }
        let accepted = lead.created_at.with_timezone(&self.mapping.timezone);
        item.insert(
            "date_time".into(),
            Value::String(accepted.format(&self.mapping.datetime_format).to_string()),
        );
        if let Some(id) = lead.id {
            item.insert("ext_id".into(), Value::String(id.to_string()));
        }
        Ok(Value::Object(item))
    }

    async fn rpc(&self, method: &str, params: Value, pacer: &Pacer) -> Result<Value, Failure> {
        pacer.take().await;
        let body = json!({"jsonrpc": "2.0", "id": format!("leadgate_{method}"), "method": method, "params": params});
        let answer = transport::send(self.client.post(&self.url).json(&body))
            .await
            .map_err(Failure::Transport)?;
        if let Some(failure) = answer.failure() {
            return Err(Failure::Transport(failure));
        }
        let reply: Value = serde_json::from_slice(&answer.body).map_err(|_| {
            Failure::Transport(Attempt::transient(format!(
                "not a JSON-RPC reply: {}",
                excerpt(&answer.body)
            )))
        })?;
        if let Some(error) = reply.get("error") {
            // A -32029 says which limit ran out and when it resets.
            let limits = &error["data"]["metadata"]["limits"];
            let reset = if limits["minute_remaining"] == 0 {
                limits["minute_reset"].as_u64()
            } else if limits["day_remaining"] == 0 {
                limits["day_reset"].as_u64()
            } else {
                None
            }
            .map(Duration::from_secs);
            return Err(Failure::Rpc(RpcError {
                code: error["code"].as_i64().unwrap_or(-32603),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
                field: error["data"]["field"].as_str().map(str::to_owned),
                reset,
            }));
        }
        Ok(reply["result"].clone())
    }

    /// The access token to send; `fresh` drops a cached session first.
    async fn token(&self, fresh: bool, pacer: &Pacer) -> Result<String, Attempt> {
        let (login, password, session) = match &self.auth {
            Auth::Token(token) => return Ok(token.clone()),
            Auth::Login {
                login,
                password,
                session,
            } => (login, password, session),
        };
        let mut cached = session.lock().await;
        if fresh {
            *cached = None;
        }
        if let Some((token, expires)) = cached.as_ref() {
            if *expires > Utc::now() + chrono::Duration::seconds(30) {
                return Ok(token.clone());
            }
        }
        let result = self
            .rpc(
                "login.user",
                json!({"login": login, "password": password}),
                pacer,
            )
            .await
            .map_err(|failure| match failure {
                Failure::Transport(attempt) => attempt,
                Failure::Rpc(error) if error.code == TOKEN_REFUSED => {
                    Attempt::permanent(format!("login.user refused: {}", error.describe()))
                }
                Failure::Rpc(error) => error.attempt(),
            })?;
        let token = result["data"]["access_token"]
            .as_str()
            .ok_or_else(|| Attempt::transient("login.user answered without an access_token"))?
            .to_owned();
        let expires = result["data"]["expire_at"]
            .as_i64()
            .and_then(|at| DateTime::from_timestamp(at, 0))
            .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(50));
        *cached = Some((token.clone(), expires));
        Ok(token)
    }

    /// Calls `method` with `params` and the session's access token (after
    /// one fresh `login.user` if the session was dropped); its `result`.
    pub(super) async fn call(
        &self,
        method: &str,
        params: serde_json::Map<String, Value>,
        pacer: &Pacer,
    ) -> Result<Value, Attempt> {
        let mut relogged = false;
        loop {
            let token = self.token(relogged, pacer).await?;
            let mut params = params.clone();
            params.insert("access_token".into(), Value::String(token));
            match self.rpc(method, Value::Object(params), pacer).await {
                Ok(result) => return Ok(result),
                Err(Failure::Rpc(error))
                    if error.code == TOKEN_REFUSED
                        && !relogged
                        && matches!(self.auth, Auth::Login { .. }) =>
                {
                    relogged = true;
                }
                Err(Failure::Rpc(error)) => return Err(error.attempt()),
                Err(Failure::Transport(attempt)) => return Err(attempt),
            }
        }
    }

    /// Uploads `items` (indexes into the batch) and returns their attempts.
    async fn upload(
        &self,
        items: &[(usize, Value)],
        pacer: &Pacer,
    ) -> Result<Vec<Attempt>, Failure> {
        let mut relogged = false;
        loop {
            let token = self
                .token(relogged, pacer)
                .await
                .map_err(Failure::Transport)?;
            let messages: Vec<&Value> = items.iter().map(|(_, item)| item).collect();
            let params = json!({"access_token": token, "offline_messages": messages});
            match self.rpc("upload.offline_messages", params, pacer).await {
                Ok(result) => {
                    let data = result["data"].as_array().cloned().unwrap_or_default();
                    return Ok((0..items.len())
                        .map(|position| {
                            match data.get(position).and_then(|row| id_text(&row["id"])) {
                                Some(id) => Attempt::Delivered {
                                    external_id: Some(id),
                                },
                                None => {
                                    Attempt::transient("the upload reply has no id for this lead")
                                }
                            }
                        })
                        .collect());
                }
                Err(Failure::Rpc(error))
                    if error.code == TOKEN_REFUSED
                        && !relogged
                        && matches!(self.auth, Auth::Login { .. }) =>
                {
                    relogged = true;
                }
                Err(failure) => return Err(failure),
            }
        }
    }
}

/// `offline_messages[3].phone` → 3.
fn item_index(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("offline_messages[")?;
    rest[..rest.find(']')?].parse().ok()
}

#[async_trait]
impl Target for UisClient {
    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        let mut attempts: Vec<Option<Attempt>> = vec![None; batch.len()];
        let mut items: Vec<(usize, Value)> = Vec::new();
        for (index, delivery) in batch.iter().enumerate() {
            match self.item(&delivery.lead) {
                Ok(item) => items.push((index, item)),
                Err(reason) => attempts[index] = Some(Attempt::permanent(reason)),
            }
        }
        // Each round either uploads the rest or removes the item UIS named.
        while !items.is_empty() {
            match self.upload(&items, pacer).await {
                Ok(results) => {
                    for ((index, _), attempt) in items.iter().zip(results) {
                        attempts[*index] = Some(attempt);
                    }
                    break;
                }
                Err(Failure::Rpc(error)) => {
                    let named = error
                        .field
                        .as_deref()
                        .and_then(item_index)
                        .filter(|position| *position < items.len());
                    match named {
                        Some(position) if error.code == -32602 => {
                            let (index, _) = items.remove(position);
                            attempts[index] = Some(error.attempt());
                        }
                        _ => {
                            for (index, _) in &items {
                                attempts[*index] = Some(error.attempt());
                            }
                            break;
                        }
                    }
                }
                Err(Failure::Transport(attempt)) => {
                    for (index, _) in &items {
                        attempts[*index] = Some(attempt.clone());
                    }
                    break;
                }
            }
        }
        let fallback = same_for_all(batch, Attempt::transient("no result for this lead"));
        attempts
            .into_iter()
            .zip(fallback)
            .map(|(attempt, fallback)| attempt.unwrap_or(fallback))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::ContactPoint;

    fn client() -> UisClient {
        let settings: TargetSettings = toml::from_str(
            r#"name = "uis"
            kind = "uis"
            url = "https://dataapi.uiscom.example/v2.0"
            token = "t"
            site_id = 5"#,
        )
        .unwrap();
        UisClient::new(&settings, Mapping::built_in("uis").unwrap().into())
    }

    #[test]
    fn an_item_carries_e164_the_gateway_id_and_the_target_site() {
        let mut lead = Lead::new(chrono::Utc::now());
        lead.id = Some(9);
        lead.name = Some("Анна".into());
        lead.phones
            .push(ContactPoint::phone("8 (900) 111-22-33", "7"));
        lead.text = Some("Перезвоните".into());
        let item = client().item(&lead).unwrap();
        assert_eq!(item["phone"], "+79001112233");
        assert_eq!(item["ext_id"], "9");
        assert_eq!(item["site_id"], 5);
        assert_eq!(item["message"], "Перезвоните");
        assert_eq!(item["name"], "Анна");
        assert!(item["date_time"].as_str().unwrap().len() == 19);
    }

    #[test]
    fn a_lead_without_contact_cannot_be_an_item() {
        let lead = Lead::new(chrono::Utc::now());
        assert!(client().item(&lead).is_err());
        assert_eq!(item_index("offline_messages[12].phone"), Some(12));
        assert_eq!(item_index("access_token"), None);
    }
}
