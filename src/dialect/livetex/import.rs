//! Importing a LiveTex account's leads: `Leads.list` (`GET leads/list`)
//! oldest first (`sort=created_at:a`), 100 a page by `offset`, from
//! `created_at>=` with `--since`, Bearer `token` or Basic login/password.
//! Lead objects are read back through the mapping's `lead` record (the
//! layout the server side writes) and their nested objects: site,
//! department, conversation, and the assigned, creating and completing
//! employees.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Map, Value};

use super::client::LivetexClient;
use crate::forward::transport::{self, id_text};
use crate::import::{ImportError, ImportSource, Page, SourceSettings};
use crate::lead::path::WriteContext;
use crate::lead::{Lead, Origin};
use crate::mapping::Mapping;

/// Leads one `Leads.list` answers at most.
const PAGE: u64 = 100;

pub struct LivetexSource {
    client: LivetexClient,
    since: Option<String>,
    mapping: Arc<Mapping>,
    context: WriteContext,
}

impl LivetexSource {
    pub fn new(settings: SourceSettings, mapping: Arc<Mapping>, context: WriteContext) -> Self {
        LivetexSource {
            client: LivetexClient::new(&settings.connection, mapping.clone()),
            since: settings
                .since
                .map(|since| since.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            mapping,
            context,
        }
    }

    fn lead_of(&self, row: &Map<String, Value>) -> Option<Lead> {
        let id = id_text(row.get("id")?)?;
        let mut lead = Lead::new(Utc::now());
        self.mapping
            .decode_row("lead", row, &mut lead, &self.context);
        let nested_id = |name: &str| row.get(name).and_then(|object| object.get("id"));
        let employee = |name: &str| nested_id(name).and_then(Value::as_i64);
        lead.assigned_to = employee("assigned_to");
        lead.created_by = employee("created_by");
        lead.completed_by = employee("completed_by");
        lead.site.id = nested_id("site").and_then(Value::as_i64);
        lead.site.url = row
            .get("site")
            .and_then(|site| site.get("url"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        lead.department_id = nested_id("department").and_then(Value::as_i64);
        lead.conversation_id = nested_id("conversation").and_then(id_text);
        lead.origin = Some(Origin {
            system: String::new(),
            external_id: id,
        });
        Some(lead)
    }
}

#[async_trait]
impl ImportSource for LivetexSource {
    async fn page(&self, cursor: Option<&str>) -> Result<Page, ImportError> {
        let offset: u64 = cursor.and_then(|cursor| cursor.parse().ok()).unwrap_or(0);
        let mut query = vec![
            ("sort", "created_at:a".to_owned()),
            ("offset", offset.to_string()),
            ("limit", PAGE.to_string()),
        ];
        if let Some(since) = &self.since {
            query.push(("q", format!("created_at>={since}")));
        }
        let body = self
            .client
            .list(&query)
            .await
            .map_err(ImportError::from_attempt)?;
        let Some(rows) = body["results"].as_array() else {
            return Err(ImportError::Refused(format!(
                "Leads.list refused: {}",
                transport::excerpt(body.to_string().as_bytes())
            )));
        };
        let leads: Vec<Lead> = rows
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|row| self.lead_of(row))
            .collect();
        let total = body["total"].as_u64();
        let next = offset + rows.len() as u64;
        Ok(Page {
            next: (rows.len() as u64 >= PAGE && total.is_none_or(|total| next < total))
                .then(|| next.to_string()),
            leads,
            total: cursor.is_none().then_some(total).flatten(),
        })
    }
}
