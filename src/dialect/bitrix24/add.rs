//! `crm.lead.add`: `fields` become a canonical lead, stored durably before
//! the new id (a JSON integer, as the portal answers) goes back. `params` /
//! `options` (REGISTER_SONET_EVENT) are accepted and have nothing to do here.
//! A lead whose ORIGINATOR_ID + ORIGIN_ID is already stored is not stored
//! twice: its id comes back, so a retried forward never duplicates a lead.

use serde_json::Value;

use super::reply::Output;
use super::{Args, Bitrix24, Bitrix24Error};
use crate::core::NewLead;
use crate::lead::Employee;

pub async fn run(
    bitrix24: &Bitrix24,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let lead = bitrix24.codec.decode_add(args)?;
    let new = NewLead {
        lead,
        requested_assignee: None,
        created_by: Some(caller),
        // A portal gives a lead without ASSIGNED_BY_ID to the caller.
        default_assignee: bitrix24.default_assignee().or(Some(caller)),
        keep_stage: true,
        received_via: "bitrix24",
    };
    let (inserted, _) = bitrix24.core.create_lead(new, &bitrix24.rules).await?;
    let id = inserted.lead.id.ok_or(Bitrix24Error::Internal)?;
    Ok(Output::of(Value::from(id)))
}
