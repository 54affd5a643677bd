//! `crm.lead.list`: filter, order, select and paging by 50. `start` is a row
//! offset; `total` counts every match and `next` is the following page's
//! start when there is one; `start=-1` skips the count (keyset paging with
//! `filter[>ID]`), answering neither. Without an order, leads come by ID.

use serde_json::{Map, Value};

use super::codec::{wire_field_name, USER_FIELD_PREFIX};
use super::reply::Output;
use super::{Args, Bitrix24, Bitrix24Error};
use crate::core::Scope;
use crate::http::scalar_text;
use crate::lead::Employee;
use crate::store::LeadQuery;

pub const PAGE_SIZE: u64 = 50;

/// What `select` asked for.
struct Selection {
    all_standard: bool,
    all_user_fields: bool,
    names: Vec<String>,
}

impl Selection {
    fn parse(args: &Args) -> Selection {
        let names: Vec<String> = match args.get("select") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(scalar_text)
                .map(|name| wire_field_name(name.trim()))
                .filter(|name| !name.is_empty())
                .collect(),
            Some(Value::Object(items)) => items
                .values()
                .filter_map(scalar_text)
                .map(|name| wire_field_name(name.trim()))
                .collect(),
            Some(Value::String(one)) if !one.trim().is_empty() => {
                vec![wire_field_name(one.trim())]
            }
            _ => Vec::new(),
        };
        Selection {
            all_standard: names.is_empty() || names.iter().any(|name| name == "*"),
            all_user_fields: names.iter().any(|name| name == "UF_*"),
            names,
        }
    }

    fn apply(&self, bitrix24: &Bitrix24, full: Map<String, Value>) -> Map<String, Value> {
        // Lists (multifields, LINK) come only when named, as on a portal.
        let multifield = |name: &str| {
            bitrix24
                .codec
                .multifields
                .iter()
                .any(|(multi, _)| multi == name)
                || bitrix24
                    .codec
                    .kept_whole
                    .iter()
                    .any(|(kept, _)| kept == name)
        };
        full.into_iter()
            .filter(|(name, _)| {
                let is_user_field = name.starts_with(USER_FIELD_PREFIX);
                self.names.iter().any(|wanted| wanted == name)
                    || (self.all_standard && !is_user_field && !multifield(name))
                    || (self.all_user_fields && is_user_field)
            })
            .collect()
    }
}

pub async fn run(
    bitrix24: &Bitrix24,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let start_text = args.get("start").and_then(scalar_text).unwrap_or_default();
    let start: i64 = start_text.trim().parse().unwrap_or(0);
    let counting = start != -1;
    let offset = start.max(0) as u64;
    let mut query = LeadQuery {
        conditions: bitrix24.conditions(args)?,
        sort: bitrix24.sort(args)?,
        offset,
        limit: Some(PAGE_SIZE),
        count_total: counting,
        ..LeadQuery::default()
    };
    if query.sort.is_empty() {
        query.sort.push(crate::store::Sort {
            key: crate::store::SortKey::Id,
            descending: false,
        });
    }
    // Only the leads the caller's role may see, as LiveTex lists them.
    let page = bitrix24
        .core
        .query_for(caller, Scope::Visible, query)
        .await?;
    let selection = Selection::parse(args);
    let leads: Vec<Value> = page
        .leads
        .iter()
        .map(|lead| Value::Object(selection.apply(bitrix24, bitrix24.codec.encode_lead(lead))))
        .collect();
    let next = page
        .total
        .filter(|total| offset + PAGE_SIZE < *total)
        .map(|_| offset + PAGE_SIZE);
    Ok(Output {
        result: Value::Array(leads),
        total: page.total,
        next,
    })
}
