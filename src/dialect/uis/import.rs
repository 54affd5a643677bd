//! Importing a UIS / CoMagic account's web leads:
//! `get.offline_messages_report`, which answers at most three months at a
//! time, walked window by window from `--since` (else from 2010, before
//! the Data API) to now, 1 000 rows a call by `offset`. Rows are read back
//! through the mapping's `report` record (the layout the server side
//! writes): visitor name, phone and e-mail, text, status, employee, site,
//! form, both dates. Token or `login.user`, as the forwarding client.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::client::{UisClient, PROTOCOL};
use crate::forward::transport::id_text;
use crate::forward::Pacer;
use crate::import::{ImportError, ImportSource, Page, SourceSettings};
use crate::lead::path::WriteContext;
use crate::lead::{Lead, Origin};
use crate::mapping::Mapping;

/// Rows one report call answers.
const PAGE: u64 = 1_000;

pub struct UisSource {
    client: UisClient,
    pacer: Pacer,
    since: NaiveDate,
    mapping: Arc<Mapping>,
    context: WriteContext,
}

/// Where a page starts: the window's first day and the offset in it.
struct Position {
    window: NaiveDate,
    offset: u64,
}

impl Position {
    fn parse(cursor: &str) -> Option<Position> {
        let (window, offset) = cursor.split_once('|')?;
        Some(Position {
            window: NaiveDate::parse_from_str(window, "%Y-%m-%d").ok()?,
            offset: offset.parse().ok()?,
        })
    }

    fn text(&self) -> String {
        format!("{}|{}", self.window.format("%Y-%m-%d"), self.offset)
    }
}

impl UisSource {
    pub fn new(settings: SourceSettings, mapping: Arc<Mapping>, context: WriteContext) -> Self {
        let connection = settings.connection;
        UisSource {
            client: UisClient::new(&connection, mapping.clone()),
            pacer: Pacer::new(connection.requests_per_second(&PROTOCOL)),
            since: settings
                .since
                .map(|since| since.with_timezone(&mapping.timezone).date_naive())
                .unwrap_or_else(|| NaiveDate::from_ymd_opt(2010, 1, 1).unwrap_or_default()),
            mapping,
            context,
        }
    }

    /// The account's wall clock at the start of `day`.
    fn start_of(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        self.mapping
            .timezone
            .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .single()
            .map(|time| time.with_timezone(&Utc))
    }

    fn account_time(&self, time: DateTime<Utc>) -> String {
        time.with_timezone(&self.mapping.timezone)
            .format(&self.mapping.datetime_format)
            .to_string()
    }

    fn lead_of(&self, row: &Map<String, Value>) -> Option<Lead> {
        let id = id_text(row.get("id")?)?;
        let mut lead = Lead::new(Utc::now());
        self.mapping
            .decode_row("report", row, &mut lead, &self.context);
        lead.origin = Some(Origin {
            system: String::new(),
            external_id: id,
        });
        Some(lead)
    }
}

#[async_trait]
impl ImportSource for UisSource {
    async fn page(&self, cursor: Option<&str>) -> Result<Page, ImportError> {
        let position = cursor.and_then(Position::parse).unwrap_or(Position {
            window: self.since,
            offset: 0,
        });
        let next_window = position
            .window
            .checked_add_months(Months::new(3))
            .ok_or_else(|| ImportError::Refused("the window runs past the calendar".into()))?;
        let (Some(from), Some(next_start)) =
            (self.start_of(position.window), self.start_of(next_window))
        else {
            return Err(ImportError::Refused(
                "no such day on the account's clock".into(),
            ));
        };
        let now = Utc::now();
        let till = (next_start - chrono::Duration::seconds(1)).min(now);
        let params = json!({
            "date_from": self.account_time(from),
            "date_till": self.account_time(till),
            "offset": position.offset,
            "limit": PAGE,
        });
        let Value::Object(params) = params else {
            return Err(ImportError::Refused("parameters".into()));
        };
        let result = self
            .client
            .call("get.offline_messages_report", params, &self.pacer)
            .await
            .map_err(ImportError::from_attempt)?;
        let rows = result["data"].as_array().cloned().unwrap_or_default();
        let leads: Vec<Lead> = rows
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|row| self.lead_of(row))
            .collect();
        let next = if rows.len() as u64 >= PAGE {
            Some(Position {
                window: position.window,
                offset: position.offset + PAGE,
            })
        } else if next_start <= now {
            Some(Position {
                window: next_window,
                offset: 0,
            })
        } else {
            None
        };
        Ok(Page {
            next: next.map(|position| position.text()),
            leads,
            total: None,
        })
    }
}
