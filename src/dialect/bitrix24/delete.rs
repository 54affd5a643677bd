//! `crm.lead.delete`: removes a lead durably; `true`, or "Not found".

use serde_json::Value;

use super::reply::Output;
use super::{lead_id, Args, Bitrix24, Bitrix24Error};

pub async fn run(bitrix24: &Bitrix24, args: &Args) -> Result<Output, Bitrix24Error> {
    let id = lead_id(args)?;
    if bitrix24.core.delete(id).await? {
        Ok(Output::of(Value::Bool(true)))
    } else {
        Err(Bitrix24Error::NotFound)
    }
}
