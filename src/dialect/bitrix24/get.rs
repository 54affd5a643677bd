//! `crm.lead.get`: one lead with every field, multifields and user fields.

use serde_json::Value;

use super::reply::Output;
use super::{lead_id, Args, Bitrix24, Bitrix24Error};

pub async fn run(bitrix24: &Bitrix24, args: &Args) -> Result<Output, Bitrix24Error> {
    let id = lead_id(args)?;
    let lead = bitrix24
        .core
        .get(id)
        .await?
        .ok_or(Bitrix24Error::NotFound)?;
    Ok(Output::of(Value::Object(bitrix24.codec.encode_lead(&lead))))
}
