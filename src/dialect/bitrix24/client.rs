//! The Bitrix24 forwarding client: leads to a portal through its inbound
//! webhook (the reference's client side, section 13).
//!
//! One lead goes as `crm.lead.add`; several go as one `batch` of up to 50
//! `crm.lead.add` commands keyed by gateway id, whose `result_error` says
//! which of them failed, so one bad lead never sinks the rest. Every lead
//! carries `ORIGINATOR_ID` (this gateway) and `ORIGIN_ID` (its gateway id);
//! before re-sending a lead that an earlier attempt may have delivered, the
//! client looks it up by those two with `crm.lead.list` and reuses the id it
//! finds, so a retry never creates a duplicate. A change of a lead the
//! portal has goes as `crm.lead.update` on the id its add got, with the
//! forward record's fields that carry changes. Requests are paced by the
//! worker's pacer (2 a second unless configured).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::codec::{CONTACT_LISTS, USER_FIELD_PREFIX};
use crate::forward::settings::TargetSettings;
use crate::forward::transport::{self, excerpt, id_text};
use crate::forward::{no_missing_keys, same_for_all, Attempt, Pacer, Protocol, Target};
use crate::lead::path::FieldPath;
use crate::lead::Lead;
use crate::mapping::Mapping;
use crate::store::ClaimedDelivery;

/// `batch` of up to 50 `crm.lead.add`; paced to the portal's 2 requests a
/// second, one at a time so the pace is exact.
pub const PROTOCOL: Protocol = Protocol {
    kind: "bitrix24",
    batch_limit: 50,
    default_rate: Some(2.0),
    default_concurrency: 1,
    url_schemes: &["http://", "https://"],
    missing_keys: no_missing_keys,
    example_url: "https://<portal>/rest/<user>/<code>/",
    updates: Some("crm.lead.update on the lead's portal id, with the fields of [[records.forward]] that carry changes (STATUS_ID, COMMENTS)"),
};

/// Error codes a portal uses for "not now".
const TRANSIENT_ERRORS: &[&str] = &[
    "QUERY_LIMIT_EXCEEDED",
    "OVERLOAD_LIMIT",
    "INTERNAL_SERVER_ERROR",
    "ERROR_SERVER",
];

pub struct Bitrix24Client {
    /// The webhook URL, ending in `/`.
    base: String,
    gateway_id: String,
    mapping: Arc<Mapping>,
    /// (wire name, contact list) of the multifields, one name per list.
    multifields: Vec<(String, FieldPath)>,
    client: reqwest::Client,
}

impl Bitrix24Client {
    pub fn new(settings: &TargetSettings, mapping: Arc<Mapping>, gateway_id: &str) -> Self {
        let mut base = settings.url.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        let mut multifields: Vec<(String, FieldPath)> = Vec::new();
        for list in CONTACT_LISTS {
            let mut names: Vec<&str> = mapping
                .fields()
                .filter(|(_, path)| **path == list)
                .map(|(name, _)| name)
                .collect();
            names.sort();
            if let Some(name) = names.first() {
                multifields.push(((*name).to_owned(), list));
            }
        }
        Bitrix24Client {
            base,
            gateway_id: gateway_id.to_owned(),
            mapping,
            multifields,
            client: transport::client(Duration::from_secs_f64(settings.timeout_secs)),
        }
    }

    /// `fields` of the crm.lead.add that creates `lead` at the portal.
    pub fn fields(&self, lead: &Lead) -> Map<String, Value> {
        let mut fields: Map<String, Value> =
            self.mapping.forward_fields(lead).into_iter().collect();
        let value_types = self.mapping.value_map("value_type");
        for (name, list) in &self.multifields {
            let points = super::codec::shown_contacts(lead, list);
            if points.is_empty() {
                continue;
            }
            let elements = points
                .iter()
                .map(|point| {
                    let value_type = point.label.clone().unwrap_or_else(|| {
                        value_types
                            .and_then(|map| map.to_wire(point.kind.as_str()))
                            .unwrap_or("WORK")
                            .to_owned()
                    });
                    json!({"VALUE": point.value, "VALUE_TYPE": value_type})
                })
                .collect();
            fields.insert(name.clone(), Value::Array(elements));
        }
        for (name, value) in &lead.custom {
            if name.starts_with(USER_FIELD_PREFIX) {
                fields.insert(name.clone(), value.clone());
            }
        }
        fields.insert(
            "ORIGINATOR_ID".into(),
            Value::String(self.gateway_id.clone()),
        );
        if let Some(id) = lead.id {
            fields.insert("ORIGIN_ID".into(), Value::String(id.to_string()));
        }
        fields
    }

    /// `fields` of the crm.lead.update that carries a change of `lead`:
    /// stage, assignee, completion and texts, nothing the portal keeps as
    /// lists (a PHONE sent again would be added again).
    pub fn change_fields(&self, lead: &Lead) -> Map<String, Value> {
        self.mapping.forward_changes(lead).into_iter().collect()
    }

    /// `crm.lead.update` on the portal's id for the lead.
    async fn update_one(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        let Some(portal_id) = &delivery.external_id else {
            return Attempt::permanent(
                "the portal gave no id for this lead when it was added; a change cannot reach it",
            );
        };
        let body = json!({
            "id": portal_id,
            "fields": self.change_fields(&delivery.lead),
            "params": {"REGISTER_SONET_EVENT": "Y"},
        });
        match self.call("crm.lead.update", &body, pacer).await {
            Ok(reply) if reply["result"] == Value::Bool(true) => Attempt::Delivered {
                external_id: Some(portal_id.clone()),
            },
            Ok(reply) => Attempt::transient(format!(
                "crm.lead.update answered without result true: {}",
                excerpt(reply.to_string().as_bytes())
            )),
            Err(failure) => failure,
        }
    }

    /// `crm.lead.get`: the portal's fields of its lead `portal_id`.
    pub async fn get_lead(
        &self,
        portal_id: &str,
        pacer: &Pacer,
    ) -> Result<Map<String, Value>, Attempt> {
        let reply = self
            .call("crm.lead.get", &json!({"id": portal_id}), pacer)
            .await?;
        match &reply["result"] {
            Value::Object(fields) => Ok(fields.clone()),
            _ => Err(Attempt::transient(format!(
                "crm.lead.get answered without a lead: {}",
                excerpt(reply.to_string().as_bytes())
            ))),
        }
    }

    pub(super) async fn call(
        &self,
        method: &str,
        body: &Value,
        pacer: &Pacer,
    ) -> Result<Value, Attempt> {
        pacer.take().await;
        let url = format!("{}{method}.json", self.base);
        let answer = transport::send(self.client.post(url).json(body)).await?;
        let (status, bytes) = (answer.status, &answer.body);
        let reply = answer.json();
        if let Some(failure) = answer.failure() {
            return Err(match (reply.as_ref(), failure) {
                (Some(reply), Attempt::Transient { retry_after, .. }) => Attempt::Transient {
                    error: describe(reply, status.as_u16()),
                    // The portal's limit is per second: wait at least that.
                    retry_after: retry_after
                        .or_else(|| reset_hint(reply))
                        .or(Some(Duration::from_secs(1))),
                },
                (Some(reply), Attempt::Permanent { .. }) => {
                    Attempt::permanent(describe(reply, status.as_u16()))
                }
                (_, failure) => failure,
            });
        }
        match reply {
            Some(reply) if reply.get("error").is_some() => {
                let code = reply["error"].as_str().unwrap_or_default();
                let error = describe(&reply, status.as_u16());
                Err(if TRANSIENT_ERRORS.contains(&code) {
                    Attempt::transient(error)
                } else {
                    Attempt::permanent(error)
                })
            }
            Some(reply) => Ok(reply),
            None => Err(Attempt::transient(format!(
                "not a Bitrix24 reply: {}",
                excerpt(bytes)
            ))),
        }
    }

    /// Portal ids of the leads an earlier attempt may have created, by
    /// gateway id.
    async fn look_up(
        &self,
        batch: &[&ClaimedDelivery],
        pacer: &Pacer,
    ) -> Result<HashMap<i64, String>, Attempt> {
        let mut commands = Map::new();
        for delivery in batch {
            let id = delivery.lead.id.unwrap_or_default();
            let mut query = form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("filter[ORIGINATOR_ID]", &self.gateway_id)
                .append_pair("filter[ORIGIN_ID]", &id.to_string())
                .append_pair("select[0]", "ID")
                .append_pair("start", "-1");
            commands.insert(
                key(id),
                Value::String(format!("crm.lead.list?{}", query.finish())),
            );
        }
        let reply = self
            .call("batch", &json!({"halt": 0, "cmd": commands}), pacer)
            .await?;
        let (results, errors) = batch_parts(&reply);
        let mut found = HashMap::new();
        for delivery in batch {
            let id = delivery.lead.id.unwrap_or_default();
            if let Some(error) = errors.get(&key(id)) {
                return Err(Attempt::transient(format!(
                    "look-up before retry failed: {}",
                    describe(error, 200)
                )));
            }
            let portal_id = results
                .get(&key(id))
                .and_then(Value::as_array)
                .and_then(|rows| rows.first())
                .and_then(|row| id_text(&row["ID"]));
            if let Some(portal_id) = portal_id {
                found.insert(id, portal_id);
            }
        }
        Ok(found)
    }

    async fn add_one(&self, lead: &Lead, pacer: &Pacer) -> Attempt {
        let body = json!({
            "fields": self.fields(lead),
            "params": {"REGISTER_SONET_EVENT": "Y"},
        });
        match self.call("crm.lead.add", &body, pacer).await {
            Ok(reply) => match id_text(&reply["result"]) {
                Some(id) => Attempt::Delivered {
                    external_id: Some(id),
                },
                None => Attempt::transient(format!(
                    "crm.lead.add answered without an id: {}",
                    excerpt(reply.to_string().as_bytes())
                )),
            },
            Err(failure) => failure,
        }
    }

    async fn add_many(&self, batch: &[&ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        let mut commands = Map::new();
        for delivery in batch {
            let mut query = form_urlencoded::Serializer::new(String::new());
            php_query(
                "fields",
                &Value::Object(self.fields(&delivery.lead)),
                &mut query,
            );
            query.append_pair("params[REGISTER_SONET_EVENT]", "Y");
            commands.insert(
                key(delivery.lead.id.unwrap_or_default()),
                Value::String(format!("crm.lead.add?{}", query.finish())),
            );
        }
        let reply = match self
            .call("batch", &json!({"halt": 0, "cmd": commands}), pacer)
            .await
        {
            Ok(reply) => reply,
            Err(failure) => return vec![failure; batch.len()],
        };
        let (results, errors) = batch_parts(&reply);
        batch
            .iter()
            .map(|delivery| {
                let key = key(delivery.lead.id.unwrap_or_default());
                if let Some(error) = errors.get(&key) {
                    let code = error["error"].as_str().unwrap_or_default();
                    let text = describe(error, 200);
                    return if TRANSIENT_ERRORS.contains(&code) {
                        Attempt::transient(text)
                    } else {
                        Attempt::permanent(text)
                    };
                }
                match results.get(&key).and_then(id_text) {
                    Some(id) => Attempt::Delivered {
                        external_id: Some(id),
                    },
                    None => Attempt::transient("the batch reply has no result for this lead"),
                }
            })
            .collect()
    }
}

/// A batch command's key: the gateway id, prefixed so the keys never look
/// like a 0-based sequence, which PHP would turn into a JSON list.
fn key(lead_id: i64) -> String {
    format!("lead{lead_id}")
}

/// `result.result` and `result.result_error` of a batch reply, keyed by
/// command; PHP writes an empty one as `[]`.
fn batch_parts(reply: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let part = |name: &str| match &reply["result"][name] {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    (part("result"), part("result_error"))
}

fn describe(reply: &Value, status: u16) -> String {
    let code = reply["error"].as_str().unwrap_or("error");
    let text = reply["error_description"].as_str().unwrap_or_default();
    format!("Bitrix24 {code} (HTTP {status}): {text}")
        .trim_end_matches([' ', ':'])
        .to_owned()
}

/// `time.operating_reset_at` of a 429: when the method may be called again.
fn reset_hint(reply: &Value) -> Option<Duration> {
    let reset_at = reply["time"]["operating_reset_at"].as_f64()?;
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let wait = reset_at - now;
    (wait.is_finite() && wait > 0.0).then(|| Duration::from_secs_f64(wait.min(600.0)))
}

/// Writes a JSON tree as PHP bracket pairs (`fields[PHONE][0][VALUE]=…`),
/// the form a batch command's query string takes.
pub fn php_query(prefix: &str, value: &Value, out: &mut form_urlencoded::Serializer<'_, String>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                php_query(&format!("{prefix}[{name}]"), child, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                php_query(&format!("{prefix}[{index}]"), child, out);
            }
        }
        Value::Null => {
            out.append_pair(prefix, "");
        }
        Value::String(text) => {
            out.append_pair(prefix, text);
        }
        other => {
            out.append_pair(prefix, &other.to_string());
        }
    }
}

#[async_trait]
impl Target for Bitrix24Client {
    async fn update(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        self.update_one(delivery, pacer).await
    }

    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        let maybe_sent: Vec<&ClaimedDelivery> = batch
            .iter()
            .filter(|delivery| delivery.maybe_sent_before())
            .collect();
        let found = if maybe_sent.is_empty() {
            HashMap::new()
        } else {
            match self.look_up(&maybe_sent, pacer).await {
                Ok(found) => found,
                // Without the look-up a re-send could duplicate: retry later.
                Err(failure) => return same_for_all(batch, failure),
            }
        };
        let to_add: Vec<&ClaimedDelivery> = batch
            .iter()
            .filter(|delivery| !found.contains_key(&delivery.lead.id.unwrap_or_default()))
            .collect();
        let mut added = match to_add.as_slice() {
            [] => Vec::new(),
            [one] => vec![self.add_one(&one.lead, pacer).await],
            many => self.add_many(many, pacer).await,
        }
        .into_iter();
        batch
            .iter()
            .map(
                |delivery| match found.get(&delivery.lead.id.unwrap_or_default()) {
                    Some(portal_id) => Attempt::Delivered {
                        external_id: Some(portal_id.clone()),
                    },
                    None => added
                        .next()
                        .unwrap_or_else(|| Attempt::transient("no reply for this lead")),
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_become_php_brackets() {
        let mut query = form_urlencoded::Serializer::new(String::new());
        php_query(
            "fields",
            &json!({"NAME": "Анна", "PHONE": [{"VALUE": "+7900", "VALUE_TYPE": "WORK"}], "X": null}),
            &mut query,
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.finish().as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("fields[NAME]".into(), "Анна".into()),
                ("fields[PHONE][0][VALUE]".into(), "+7900".into()),
                ("fields[PHONE][0][VALUE_TYPE]".into(), "WORK".into()),
                ("fields[X]".into(), String::new()),
            ]
        );
    }

    #[test]
    fn fields_carry_the_gateway_origin_and_only_writable_fields() {
        let settings: TargetSettings = toml::from_str(
            r#"name = "portal"
            kind = "bitrix24"
            url = "https://portal.example/rest/1/code""#,
        )
        .unwrap();
        let client = Bitrix24Client::new(
            &settings,
            Mapping::built_in("bitrix24").unwrap().into(),
            "leadgate",
        );
        let mut lead = Lead::new(chrono::Utc::now());
        lead.id = Some(17);
        lead.name = Some("Анна".into());
        lead.assigned_to = Some(3);
        lead.phones
            .push(crate::lead::ContactPoint::phone("8 900 111 22 33", "7"));
        lead.custom.insert("UF_CRM_PLAN".into(), json!("gold"));
        let fields = client.fields(&lead);
        assert_eq!(fields["NAME"], "Анна");
        assert_eq!(fields["STATUS_ID"], "NEW");
        assert_eq!(fields["ORIGINATOR_ID"], "leadgate");
        assert_eq!(fields["ORIGIN_ID"], "17");
        assert_eq!(fields["UF_CRM_PLAN"], "gold");
        assert_eq!(fields["PHONE"][0]["VALUE"], "8 900 111 22 33");
        assert!(fields.get("ID").is_none());
        assert!(fields.get("ASSIGNED_BY_ID").is_none());
        assert!(fields.get("DATE_CREATE").is_none());
        assert_eq!(client.base, "https://portal.example/rest/1/code/");
    }

    #[test]
    fn batch_errors_are_per_command_and_php_empty_arrays_are_empty() {
        let reply = json!({"result": {"result": {"lead1": 5}, "result_error": []}});
        let (results, errors) = batch_parts(&reply);
        assert_eq!(results["lead1"], 5);
        assert!(errors.is_empty());
    }
}
