//! Importing a SalesMan CRM's leads: `action=list`, oldest first by id,
//! 200 rows a page (`offset` is the page number), from `dateStart` with
//! `--since`. Rows are read back through the mapping's `list` record (the
//! layout the server side writes), so names, contacts, text, status,
//! result, client source, assignee and both dates come over; `action=list`
//! carries no UTM fields.
//!
//! The cursor is `<page>:<first id of page 0>`: SalesMan API 1.0 ignores
//! `offset` and answers the same page every time, which shows as page N
//! starting with page 0's first id; the import then ends there (with a
//! warning) instead of reading one page forever.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

use super::client::SalesmanClient;
use super::list::PAGE_SIZE;
use crate::forward::transport;
use crate::import::{ImportError, ImportSource, Page, SourceSettings};
use crate::lead::path::WriteContext;
use crate::lead::{Lead, Origin};
use crate::mapping::Mapping;

pub struct SalesmanSource {
    client: SalesmanClient,
    since: Option<String>,
    mapping: Arc<Mapping>,
    context: WriteContext,
}

impl SalesmanSource {
    pub fn new(settings: SourceSettings, mapping: Arc<Mapping>, context: WriteContext) -> Self {
        SalesmanSource {
            client: SalesmanClient::new(&settings.connection, mapping.clone(), ""),
            since: settings.since.map(|since| {
                since
                    .with_timezone(&mapping.timezone)
                    .format(&mapping.date_format)
                    .to_string()
            }),
            mapping,
            context,
        }
    }

    fn lead_of(&self, row: &serde_json::Map<String, Value>) -> Option<Lead> {
        let id = transport::id_text(row.get("id")?)?;
        let mut lead = Lead::new(Utc::now());
        self.mapping
            .decode_row("list", row, &mut lead, &self.context);
        lead.origin = Some(Origin {
            system: String::new(),
            external_id: id,
        });
        Some(lead)
    }
}

#[async_trait]
impl ImportSource for SalesmanSource {
    async fn page(&self, cursor: Option<&str>) -> Result<Page, ImportError> {
        let (page, first_id) = match cursor.and_then(|cursor| cursor.split_once(':')) {
            Some((page, first)) => (page.parse::<u64>().unwrap_or(0), Some(first.to_owned())),
            None => (0, None),
        };
        let page_text = page.to_string();
        let mut params = vec![
            ("order", "id"),
            ("first", "old"),
            ("offset", page_text.as_str()),
        ];
        if let Some(since) = &self.since {
            params.push(("dateStart", since.as_str()));
        }
        let body = self
            .client
            .list_page(&params)
            .await
            .map_err(ImportError::from_attempt)?;
        let Some(rows) = body["data"].as_array() else {
            // An empty page is SalesMan's error 404; any other error is not.
            return if body["error"]["code"] == "404" {
                Ok(Page::default())
            } else {
                Err(ImportError::Refused(format!(
                    "action=list refused: {}",
                    transport::excerpt(body.to_string().as_bytes())
                )))
            };
        };
        let this_first = rows.first().and_then(|row| transport::id_text(&row["id"]));
        if page > 0 && this_first.is_some() && this_first == first_id {
            tracing::warn!("this SalesMan ignores offset (API 1.0): only its first page was read");
            return Ok(Page::default());
        }
        let leads: Vec<Lead> = rows
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|row| self.lead_of(row))
            .collect();
        let first_id = first_id.or(this_first).unwrap_or_default();
        Ok(Page {
            next: (rows.len() as u64 >= PAGE_SIZE).then(|| format!("{}:{first_id}", page + 1)),
            leads,
            total: None,
        })
    }
}
