//! `crm.lead.delete`: removes a lead durably; `true`, "Not found", or
//! "Access denied." for a lead outside the caller's rights.

use serde_json::Value;

use super::reply::Output;
use super::{lead_id, Args, Bitrix24, Bitrix24Error};
use crate::lead::Employee;

pub async fn run(
    bitrix24: &Bitrix24,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let id = lead_id(args)?;
    bitrix24.core.delete_for(caller, id).await?;
    Ok(Output::of(Value::Bool(true)))
}
