//! `upload.offline_messages`: up to 50 web leads per call, each with a phone
//! or an e-mail and one of `visitor_session_id`, `campaign_id` or `site_id`.
//! Every item is checked before any is stored, so a bad item refuses the call
//! without storing half of it; `ext_id` makes an item idempotent (the stored
//! lead's id comes back on a retry). Result: one `{"id"}` per item, in order.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::error::UisError;
use super::Uis;
use crate::core::NewLead;
use crate::http::scalar_text;
use crate::lead::path::WriteContext;
use crate::lead::{Employee, Lead, Origin, ValidationRules};
use crate::mapping::Mapping;

pub const MAX_ITEMS: usize = 50;

/// Item keys this method takes besides the mapping's fields.
const CONTROL: &[&str] = &["date_time", "ext_id", "user_fields"];

/// Decodes `offline_messages` items through the mapping. It holds no store,
/// so `leadgate translate` decodes with it alone.
pub struct Decoder {
    pub(super) mapping: Arc<Mapping>,
    pub(super) rules: ValidationRules,
    pub(super) write_context: WriteContext,
}

impl Decoder {
    /// The leads an `offline_messages` list describes, checked item by item
    /// as the method checks them, not stored.
    pub fn decode_offline_messages(
        &self,
        items: &[Value],
        now: DateTime<Utc>,
    ) -> Result<Vec<Lead>, UisError> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| self.decode_item(index, item, now))
            .collect()
    }

    /// One item of the list, checked as the method checks it; `now` is when
    /// an item without `date_time` was created.
    fn decode_item(
        &self,
        index: usize,
        item: &Value,
        now: DateTime<Utc>,
    ) -> Result<Lead, UisError> {
        let at = |name: &str| format!("offline_messages[{index}].{name}");
        let Value::Object(item) = item else {
            return Err(UisError::data_type(
                &format!("offline_messages[{index}]"),
                Some(item),
            ));
        };
        for (name, value) in item {
            if !CONTROL.contains(&name.as_str()) && self.mapping.field(name).is_none() {
                return Err(UisError::unexpected(&at(name), Some(value)));
            }
        }
        let created = match item.get("date_time") {
            None | Some(Value::Null) => now,
            Some(value) => {
                let invalid = || {
                    let mut error = UisError::invalid_value(&at("date_time"), Some(value));
                    error.mnemonic = "invalid_date_time";
                    error
                };
                let text = value.as_str().ok_or_else(invalid)?;
                let naive = NaiveDateTime::parse_from_str(text, &self.mapping.datetime_format)
                    .map_err(|_| invalid())?;
                let time = self
                    .mapping
                    .timezone
                    .from_local_datetime(&naive)
                    .single()
                    .ok_or_else(invalid)?
                    .with_timezone(&Utc);
                if time > now {
                    return Err(invalid());
                }
                crate::lead::truncate_to_micros(time)
            }
        };
        let present = |name: &str| {
            item.get(name)
                .and_then(scalar_text)
                .is_some_and(|text| !text.trim().is_empty())
        };
        if !present("phone") && !present("email") {
            return Err(UisError::required(&at("phone")));
        }
        if !present("visitor_session_id") && !present("campaign_id") && !present("site_id") {
            return Err(UisError::required(&at("site_id")));
        }
        if item.get("campaign_id").and_then(Value::as_i64) == Some(-1) && !present("site_id") {
            return Err(UisError::required(&at("site_id")));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in item {
            if CONTROL.contains(&name.as_str()) {
                continue;
            }
            let text =
                scalar_text(value).ok_or_else(|| UisError::data_type(&at(name), Some(value)))?;
            pairs.push((name.clone(), text));
        }
        let mut lead = Lead::new(created);
        self.mapping
            .decode_into(
                &mut lead,
                pairs
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
                &[],
                &self.write_context,
            )
            .map_err(|error| {
                UisError::invalid_value(&at(error.wire_field()), item.get(error.wire_field()))
            })?;
        // Custom fields keep the JSON type they were sent with (campaign_id 3
        // reads back as 3, not "3").
        for (name, value) in item {
            if let Some((crate::lead::path::FieldPath::Custom(custom), _)) =
                self.mapping.field(name)
            {
                if value.is_number() || value.is_boolean() {
                    lead.custom.insert(custom.clone(), value.clone());
                }
            }
        }
        lead.updated_at = now;
        if let Some(ext_id) = item
            .get("ext_id")
            .and_then(scalar_text)
            .filter(|text| !text.is_empty())
        {
            lead.origin = Some(Origin {
                system: "uis".into(),
                external_id: ext_id,
            });
        }
        if let Some(fields) = item.get("user_fields") {
            if !fields.is_array() {
                return Err(UisError::data_type(&at("user_fields"), Some(fields)));
            }
            lead.custom.insert("user_fields".into(), fields.clone());
        }
        self.rules.check(&lead).map_err(|error| {
            UisError::invalid_value(
                &at(self.mapping.wire_name(error.field().unwrap_or("name"))),
                None,
            )
        })?;
        Ok(lead)
    }
}

pub async fn run(
    uis: &Uis,
    params: &Map<String, Value>,
    caller: &Employee,
) -> Result<Value, UisError> {
    for (name, value) in params {
        if !["access_token", "user_id", "offline_messages"].contains(&name.as_str()) {
            return Err(UisError::unexpected(name, Some(value)));
        }
    }
    let list = params
        .get("offline_messages")
        .ok_or_else(|| UisError::required("offline_messages"))?;
    let Value::Array(items) = list else {
        return Err(UisError::data_type("offline_messages", Some(list)));
    };
    if items.is_empty() {
        return Err(UisError::required("offline_messages"));
    }
    if items.len() > MAX_ITEMS {
        return Err(UisError::data_limit("offline_messages", MAX_ITEMS));
    }
    let leads = uis.decoder.decode_offline_messages(items, uis.core.now())?;
    // Stored together: they share commits, and ids follow item order.
    let inserts = leads.into_iter().map(|lead| {
        uis.core.create_lead(
            NewLead {
                lead,
                requested_assignee: None,
                created_by: Some(caller),
                default_assignee: Some(caller),
                keep_stage: true,
                received_via: "uis",
            },
            &uis.decoder.rules,
        )
    });
    let mut data = Vec::with_capacity(items.len());
    for outcome in futures_util::future::join_all(inserts).await {
        let (inserted, _) = outcome?;
        data.push(json!({"id": inserted.lead.id}));
    }
    Ok(Value::Array(data))
}
