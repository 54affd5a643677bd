//! `crm.lead.add`: `fields` become a canonical lead, stored durably before
//! the new id (a JSON integer, as the portal answers) goes back. `params` /
//! `options` (REGISTER_SONET_EVENT) are accepted and have nothing to do here.
//! A lead whose ORIGINATOR_ID + ORIGIN_ID is already stored is not stored
//! twice: its id comes back, so a retried forward never duplicates a lead.
//! Without `fields` (or with a non-object there) nothing is created.

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
    let mut lead = bitrix24.codec.decode_add(args)?;
    // A portal gives a lead without ASSIGNED_BY_ID to the caller (or the
    // configured default), never to whoever had the same phone before:
    // that is SalesMan's rule, not Bitrix24's.
    if lead.assigned_to.is_none() {
        lead.assigned_to = bitrix24
            .default_assignee()
            .or(Some(caller))
            .map(|employee| employee.id);
    }
    let new = NewLead {
        lead,
        requested_assignee: None,
        created_by: Some(caller),
        default_assignee: None,
        keep_stage: true,
        received_via: "bitrix24",
    };
    let (inserted, _) = bitrix24.core.create_lead(new, &bitrix24.rules).await?;
    let id = inserted.lead.id.ok_or(Bitrix24Error::Internal)?;
    Ok(Output::of(Value::from(id)))
}
