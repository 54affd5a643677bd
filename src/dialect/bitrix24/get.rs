//! `crm.lead.get`: one lead with every field, multifields and user fields.

use serde_json::Value;

use super::reply::Output;
use super::{lead_id, Args, Bitrix24, Bitrix24Error};
use crate::core::Scope;
use crate::lead::Employee;

pub async fn run(
    bitrix24: &Bitrix24,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let id = lead_id(args)?;
    // As the caller's role may see it: "Access denied." outside it.
    let lead = bitrix24.core.get_for(caller, Scope::Visible, id).await?;
    Ok(Output::of(Value::Object(bitrix24.codec.encode_lead(&lead))))
}
