//! Importing a LiveTex account's leads: `Leads.list` (`GET leads/list`)
//! oldest first (`sort=created_at:a`), 100 a page by `offset`, from
//! `created_at>=` with `--since`, Bearer `token` or Basic login/password.
//! Lead objects are read back through the mapping's `lead` record (the
//! layout the server side writes) and their nested objects: site,
//! department, conversation, and the assigned, creating and completing
//! employees.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Map, Value};

use crate::forward::transport::{self, id_text};
use crate::import::{json_answer, ImportError, ImportSource, Page, SourceSettings};
use crate::lead::path::WriteContext;
use crate::lead::{Lead, Origin};
use crate::mapping::Mapping;

/// Leads one `Leads.list` answers at most.
const PAGE: u64 = 100;

pub struct LivetexSource {
    /// The API base, ending in `/`.
    base: String,
    token: Option<String>,
    login: String,
    password: String,
    since: Option<String>,
    mapping: Arc<Mapping>,
    context: WriteContext,
    client: reqwest::Client,
}

impl LivetexSource {
    pub fn new(settings: SourceSettings, mapping: Arc<Mapping>, context: WriteContext) -> Self {
        let connection = settings.connection;
        let mut base = connection.url.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        LivetexSource {
            base,
            token: connection.token,
            login: connection.login.unwrap_or_default(),
            password: connection.password.unwrap_or_default(),
            since: settings
                .since
                .map(|since| since.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            mapping,
            context,
            client: transport::client(Duration::from_secs_f64(connection.timeout_secs)),
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
        let request = self
            .client
            .get(format!("{}leads/list", self.base))
            .query(&query);
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request.basic_auth(&self.login, Some(&self.password)),
        };
        let body = json_answer(request, "Leads.list").await?;
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
