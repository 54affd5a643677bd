//! `Leads.list` and `Leads.listRouted` (and `GET /v2/leads`): `q`, `fields`,
//! `sort`, `offset`, `limit` (default 50, at most 100); `{"total","results"}`
//! with `total` counting every match. What the caller may see is decided by
//! core's access rules, not here.

use serde_json::Value;

use super::codec::{project_some, selection};
use super::error::LivetexError;
use super::{number, Livetex, Output};
use crate::core::Scope;
use crate::http::Args;
use crate::lead::Employee;
use crate::store::LeadQuery;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 100;

pub async fn run(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
    scope: Scope,
) -> Result<Output, LivetexError> {
    let limit = number(args, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(LivetexError::invalid("limit"));
    }
    let offset = number(args, "offset")?.unwrap_or(0);
    let criteria = livetex.criteria(args.text("q"), caller, scope)?;
    let selection = selection(args)?;
    let query = LeadQuery {
        conditions: criteria.conditions,
        any_of: criteria.any_of,
        sort: livetex.sort(args.text("sort"))?,
        offset,
        limit: Some(limit),
        count_total: true,
        ..LeadQuery::default()
    };
    let page = livetex.core.query_for(caller, scope, query).await?;
    let results = page
        .leads
        .iter()
        .map(|lead| project_some(livetex.encode_lead(lead, caller), &selection))
        .collect();
    Ok(Output {
        results: Value::Array(results),
        total: page.total,
    })
}
