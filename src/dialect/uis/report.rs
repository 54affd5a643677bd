//! `get.offline_messages_report`: leads created between `date_from` and
//! `date_till` (account time, at most 3 months apart) as report rows laid
//! out by the mapping's `report` record, lead stages shown as statuses,
//! through the shared get engine.

use chrono::{DateTime, Months, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::engine::Spec;
use super::error::UisError;
use super::Uis;
use crate::mapping::Mapping;
use crate::store::{LeadQuery, TimeRange};

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

pub async fn run(uis: &Uis, params: &Map<String, Value>) -> Result<(Vec<Value>, u64), UisError> {
    let query = uis.report_spec.check(params)?;
    let from = date(uis, params, "date_from")?;
    let till = date(uis, params, "date_till")?;
    if till < from {
        return Err(UisError::invalid_value(
            "date_till",
            params.get("date_till"),
        ));
    }
    if from
        .checked_add_months(Months::new(3))
        .is_some_and(|limit| till > limit)
    {
        return Err(UisError::date_interval());
    }
    let page = uis
        .core
        .query(LeadQuery {
            created: TimeRange {
                from: Some(from),
                to: Some(till + chrono::Duration::seconds(1)),
            },
            sort: vec![crate::store::Sort {
                key: crate::store::SortKey::Id,
                descending: false,
            }],
            ..LeadQuery::default()
        })
        .await?;
    let Some(record) = uis.mapping.record("report") else {
        return Ok((Vec::new(), 0));
    };
    let rows = page
        .leads
        .iter()
        .map(|lead| record.encode(&uis.mapping, lead, uis.core.employees()))
        .collect();
    Ok(query.apply(rows))
}
