//! `Leads.show` and `Leads.showRouted` (and `GET /v2/leads/{id}`).

use serde_json::Value;

use super::codec::{parse_fields, project};
use super::error::LivetexError;
use super::{lead_id, Livetex, Output};
use crate::core::Scope;
use crate::http::Args;
use crate::lead::Employee;

pub async fn run(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
    scope: Scope,
) -> Result<Output, LivetexError> {
    let id = lead_id(args)?;
    let selection = args
        .text("fields")
        .filter(|fields| !fields.trim().is_empty())
        .map(parse_fields)
        .transpose()?;
    let lead = livetex.core.get_for(caller, scope, id).await?;
    let object = livetex.encode_lead(&lead, caller);
    Ok(Output::of(Value::Object(match &selection {
        Some(selection) => project(object, selection),
        None => object,
    })))
}
