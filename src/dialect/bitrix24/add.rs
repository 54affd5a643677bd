//! `crm.lead.add`: `fields` become a canonical lead, stored durably before
//! the new id (a JSON integer, as the portal answers) goes back. `params` /
//! `options` (REGISTER_SONET_EVENT) are accepted and have nothing to do here.
//! A lead whose ORIGINATOR_ID + ORIGIN_ID is already stored is not stored
//! twice: its id comes back, so a retried forward never duplicates a lead.

use serde_json::{Map, Value};

use super::codec::Mode;
use super::reply::Output;
use super::{Args, Bitrix24, Bitrix24Error};
use crate::core::NewLead;
use crate::lead::{Employee, EmployeeDirectory, Lead};

impl Bitrix24 {
    /// The lead a `crm.lead.add` call describes, not yet stored.
    pub fn decode_add(&self, args: &Args) -> Result<Lead, Bitrix24Error> {
        let empty = Map::new();
        let fields = match args.get("fields") {
            Some(Value::Object(fields)) => fields,
            None | Some(Value::String(_)) => &empty,
            Some(_) => {
                return Err(Bitrix24Error::BadArgument(
                    "fields must be an object".into(),
                ))
            }
        };
        let mut lead = Lead::new(chrono::Utc::now());
        self.decode_fields(fields, &mut lead, Mode::Add)?;
        if let Some(id) = lead.assigned_to {
            if self.core.employees().by_id(id).is_none() {
                return Err(Bitrix24Error::Invalid(format!(
                    "Field ASSIGNED_BY_ID: user {id} not found"
                )));
            }
        }
        Ok(lead)
    }
}

pub async fn run(
    bitrix24: &Bitrix24,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let lead = bitrix24.decode_add(args)?;
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
