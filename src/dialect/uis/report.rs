//! `get.offline_messages_report`: leads created between `date_from` and
//! `date_till` (account time, at most 3 months apart) as report rows laid
//! out by the mapping's `report` record, lead stages shown as statuses,
//! through the shared get engine. Memory stays bounded whatever the window:
//! a plain call is paged by the store, and a filtered or sorted one streams
//! the window through the engine's page builder a chunk at a time.

use chrono::{DateTime, Months, NaiveDateTime, TimeZone, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::engine::{JsonArray, Spec};
use super::error::UisError;
use super::Uis;
use crate::lead::path::FieldPath;
use crate::lead::{Lead, LeadId};
use crate::mapping::Mapping;
use crate::store::{Compare, Condition, LeadQuery, Operand, Sort, SortKey, TimeRange};

/// Leads read from the store at a time while a filtered or sorted report
/// scans its window: what the report holds at once, besides its page.
const SCAN_CHUNK: u64 = 2_000;

/// Fields that are lists, which a filter or sort cannot use.
const LISTS: &[&str] = &[
    "tags",
    "segments",
    "attributes",
    "visitor_custom_properties",
];

pub fn spec(mapping: &Mapping) -> Spec {
    let fields: Vec<String> = mapping
        .record("report")
        .map(|record| record.column_names().map(str::to_owned).collect())
        .unwrap_or_default();
    let scalar: Vec<String> = fields
        .iter()
        .filter(|name| !LISTS.contains(&name.as_str()))
        .cloned()
        .collect();
    Spec {
        default_fields: fields.clone(),
        fields,
        filterable: scalar.clone(),
        sortable: scalar,
        extra_params: &["date_from", "date_till", "include_tech_offline_messages"],
    }
}

fn date(uis: &Uis, params: &Map<String, Value>, name: &str) -> Result<DateTime<Utc>, UisError> {
    let value = params.get(name).ok_or_else(|| UisError::required(name))?;
    let text = value
        .as_str()
        .ok_or_else(|| UisError::data_type(name, Some(value)))?;
    let naive = NaiveDateTime::parse_from_str(text, &uis.mapping.datetime_format)
        .map_err(|_| UisError::invalid_value(name, Some(value)))?;
    uis.mapping
        .timezone
        .from_local_datetime(&naive)
        .single()
        .map(|time| time.with_timezone(&Utc))
        .ok_or_else(|| UisError::invalid_value(name, Some(value)))
}

/// The page of report rows as JSON text, and how many rows match.
pub async fn run(uis: &Uis, params: &Map<String, Value>) -> Result<(Box<RawValue>, u64), UisError> {
    let query = uis.report_spec.check(params)?;
    let from = date(uis, params, "date_from")?;
    let till = date(uis, params, "date_till")?;
    if till < from {
        return Err(UisError::invalid_value(
            "date_till",
            params.get("date_till"),
        ));
    }
    // Three calendar months on the account's clock: in UTC, a window from
    // 1 October (30 September, 21:00 UTC) would end on 30 December.
    let local = |time: DateTime<Utc>| time.with_timezone(&uis.mapping.timezone).naive_local();
    if local(from)
        .checked_add_months(Months::new(3))
        .is_some_and(|limit| local(till) > limit)
    {
        return Err(UisError::date_interval());
    }
    let Some(record) = uis.mapping.record("report") else {
        return Ok((JsonArray::default().finish(), 0));
    };
    let window = TimeRange {
        from: Some(from),
        to: Some(till + chrono::Duration::seconds(1)),
    };
    let by_id = || Sort {
        key: SortKey::Id,
        descending: false,
    };
    let encode = |lead: &Lead| record.encode(&uis.mapping, lead, uis.core.employees());
    if query.is_plain() {
        // No filter and no sort: the store pages and counts by itself, and
        // the page is read a chunk at a time.
        let mut rows = JsonArray::default();
        let first = uis
            .core
            .query(LeadQuery {
                created: window,
                sort: vec![by_id()],
                offset: query.offset(),
                limit: Some(query.limit().min(SCAN_CHUNK)),
                count_total: true,
                ..LeadQuery::default()
            })
            .await?;
        let total = first.total.unwrap_or_default();
        let mut remaining = query.limit().saturating_sub(first.leads.len() as u64);
        let mut last = first.leads.last().and_then(|lead| lead.id);
        for lead in first.leads {
            rows.push(&query.project_owned(encode(&lead)));
        }
        // The rest of the page, walking ids up to the window's last one.
        let end = match (last, remaining > 0) {
            (Some(_), true) => id_span(uis, window).await?.map(|(_, end)| end),
            _ => None,
        };
        while let (Some(after), Some(end), true) = (last, end, remaining > 0) {
            let chunk = uis
                .core
                .query(LeadQuery {
                    created: window,
                    conditions: vec![
                        id_condition(Compare::Greater, after),
                        id_condition(Compare::LessOrEqual, end),
                    ],
                    sort: vec![by_id()],
                    limit: Some(remaining.min(SCAN_CHUNK)),
                    walk_ids: true,
                    ..LeadQuery::default()
                })
                .await?;
            let read = chunk.leads.len() as u64;
            for lead in chunk.leads {
                last = lead.id;
                rows.push(&query.project_owned(encode(&lead)));
            }
            if read < remaining.min(SCAN_CHUNK) {
                break;
            }
            remaining -= read;
        }
        return Ok((rows.finish(), total));
    }
    // Filters and sorts work on report rows, so every lead of the window is
    // encoded, a chunk at a time, and only what the page needs is kept: of
    // each lead, only the columns the filter and the sort read.
    let scanned = query.scanned_fields();
    let mut builder = query.page_builder();
    if let Some((first, last_in_window)) = id_span(uis, window).await? {
        let mut last = first - 1;
        loop {
            let chunk = uis
                .core
                .query(LeadQuery {
                    created: window,
                    conditions: vec![
                        id_condition(Compare::Greater, last),
                        id_condition(Compare::LessOrEqual, last_in_window),
                    ],
                    sort: vec![by_id()],
                    limit: Some(SCAN_CHUNK),
                    walk_ids: true,
                    ..LeadQuery::default()
                })
                .await?;
            for lead in &chunk.leads {
                let row = record.encode_only(&uis.mapping, lead, uis.core.employees(), &scanned);
                builder.push(lead.id.unwrap_or_default(), &row);
            }
            match chunk.leads.last().and_then(|lead| lead.id) {
                Some(id) if chunk.leads.len() as u64 == SCAN_CHUNK => last = id,
                _ => break,
            }
        }
    }
    // The page's leads, read back a chunk of ids at a time.
    let (ids, total) = builder.finish();
    let mut rows = JsonArray::default();
    for chunk in ids.chunks(SCAN_CHUNK as usize) {
        let found = uis
            .core
            .query(LeadQuery {
                ids: Some(chunk.to_vec()),
                ..LeadQuery::default()
            })
            .await?;
        let mut by_id: std::collections::HashMap<LeadId, Lead> = found
            .leads
            .into_iter()
            .filter_map(|lead| Some((lead.id?, lead)))
            .collect();
        for lead in chunk.iter().filter_map(|id| by_id.remove(id)) {
            rows.push(&query.project_owned(encode(&lead)));
        }
    }
    Ok((rows.finish(), total))
}

fn id_condition(compare: Compare, id: LeadId) -> Condition {
    Condition {
        field: FieldPath::Id,
        compare,
        operands: vec![Operand::Int(id)],
    }
}

/// The first and the last id of the leads created in `window`, if any: the
/// stretch of ids a scan of the window walks.
async fn id_span(uis: &Uis, window: TimeRange) -> Result<Option<(LeadId, LeadId)>, UisError> {
    let mut ends = Vec::with_capacity(2);
    for descending in [false, true] {
        let end = uis
            .core
            .query(LeadQuery {
                created: window,
                sort: vec![Sort {
                    key: SortKey::Id,
                    descending,
                }],
                limit: Some(1),
                ..LeadQuery::default()
            })
            .await?;
        ends.push(end.leads.first().and_then(|lead| lead.id));
    }
    Ok(ends[0].zip(ends[1]))
}
