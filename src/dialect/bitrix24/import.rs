//! Importing a Bitrix24 portal's leads: `crm.lead.list` oldest first by
//! `ID`, keyset-paged (`>ID` the last one read), several list commands to
//! one `batch` request (each a further 50 rows), paced within the
//! portal's 2 requests a second. Rows are read back through the mapping's
//! `lead` record (the layout the server side writes: scalars, status,
//! assignee, dates) and its multifields (PHONE, EMAIL, WEB, IM) through
//! the codec, as an add would take them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::client::{Bitrix24Client, PROTOCOL};
use super::codec::{wire_field_name, Codec, Mode, CONTACT_LISTS};
use crate::core::Employees;
use crate::forward::transport::id_text;
use crate::forward::Pacer;
use crate::import::{ImportError, ImportSource, Page, SourceSettings};
use crate::lead::path::WriteContext;
use crate::lead::{Lead, Origin};
use crate::mapping::Mapping;

/// Rows one `crm.lead.list` answers.
const LIST_PAGE: usize = 50;
/// Commands one `batch` carries at most.
const BATCH_LIMIT: usize = 50;

pub struct Bitrix24Source {
    client: Bitrix24Client,
    pacer: Pacer,
    /// List commands per batch request.
    commands: usize,
    since: Option<String>,
    mapping: Arc<Mapping>,
    codec: Codec,
    context: WriteContext,
}

impl Bitrix24Source {
    pub fn new(settings: SourceSettings, mapping: Arc<Mapping>, context: WriteContext) -> Self {
        let connection = settings.connection;
        Bitrix24Source {
            client: Bitrix24Client::new(&connection, mapping.clone(), ""),
            pacer: Pacer::new(connection.requests_per_second(&PROTOCOL)),
            commands: connection
                .batch_size
                .unwrap_or(BATCH_LIMIT)
                .clamp(1, BATCH_LIMIT),
            since: settings.since.map(|since| {
                since
                    .with_timezone(&mapping.timezone)
                    .format(&mapping.datetime_format)
                    .to_string()
            }),
            codec: Codec::new(
                mapping.clone(),
                context.clone(),
                Arc::new(Employees::new(Vec::new())),
            ),
            mapping,
            context,
        }
    }

    fn command(&self, after: &str, start: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("order[ID]", "ASC")
            .append_pair("filter[>ID]", after)
            .append_pair("start", &start.to_string());
        if let Some(since) = &self.since {
            query.append_pair("filter[>=DATE_CREATE]", since);
        }
        for (index, field) in ["*", "UF_*", "PHONE", "EMAIL", "WEB", "IM"]
            .iter()
            .enumerate()
        {
            query.append_pair(&format!("select[{index}]"), field);
        }
        format!("crm.lead.list?{}", query.finish())
    }

    fn lead_of(&self, row: &Map<String, Value>) -> Option<Lead> {
        let id = id_text(row.get("ID")?)?;
        let mut lead = Lead::new(Utc::now());
        self.mapping
            .decode_row("lead", row, &mut lead, &self.context);
        // Multifields as an add takes them, without the portal's element ids.
        let contacts: Map<String, Value> = row
            .iter()
            .filter(|(name, _)| {
                self.mapping
                    .field(&wire_field_name(name))
                    .is_some_and(|(path, _)| CONTACT_LISTS.contains(path))
            })
            .map(|(name, elements)| {
                let elements = match elements {
                    Value::Array(items) => items
                        .iter()
                        .map(|item| match item {
                            Value::Object(element) => {
                                let mut element = element.clone();
                                element.remove("ID");
                                element.remove("TYPE_ID");
                                Value::Object(element)
                            }
                            other => other.clone(),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                (name.clone(), Value::Array(elements))
            })
            .collect();
        if let Err(error) = self.codec.decode_fields(&contacts, &mut lead, Mode::Add) {
            tracing::debug!(error = %error, "a lead's contacts did not read back");
        }
        lead.origin = Some(Origin {
            system: String::new(),
            external_id: id,
        });
        Some(lead)
    }
}

#[async_trait]
impl ImportSource for Bitrix24Source {
    async fn page(&self, cursor: Option<&str>) -> Result<Page, ImportError> {
        let after = cursor.unwrap_or("0");
        let mut commands = Map::new();
        for index in 0..self.commands {
            commands.insert(
                format!("page{index}"),
                Value::String(self.command(after, index * LIST_PAGE)),
            );
        }
        let reply = self
            .client
            .call("batch", &json!({"halt": 1, "cmd": commands}), &self.pacer)
            .await
            .map_err(ImportError::from_attempt)?;
        let part = |name: &str| match &reply["result"][name] {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let (results, errors) = (part("result"), part("result_error"));
        if let Some((_, error)) = errors.iter().next() {
            return Err(ImportError::Transient(format!(
                "crm.lead.list in the batch failed: {}",
                error
            )));
        }
        let mut leads = Vec::new();
        let mut last_full = false;
        for index in 0..self.commands {
            let rows = results
                .get(&format!("page{index}"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            last_full = rows.len() >= LIST_PAGE;
            leads.extend(
                rows.iter()
                    .filter_map(Value::as_object)
                    .filter_map(|row| self.lead_of(row)),
            );
            if !last_full {
                break;
            }
        }
        let last_id = leads
            .iter()
            .filter_map(|lead| lead.origin.as_ref()?.external_id.parse::<i64>().ok())
            .max();
        let total = (cursor.is_none())
            .then(|| reply["result"]["result_total"]["page0"].as_u64())
            .flatten();
        Ok(Page {
            next: last_id.filter(|_| last_full).map(|id| id.to_string()),
            leads,
            total,
        })
    }
}
