//! `crm.lead.update`: only the fields sent change, inside the store's own
//! transaction (two concurrent updates of different fields both survive).
//! Unknown fields are ignored, as the portal does; a value the portal would
//! refuse changes nothing, and so does a lead outside the caller's rights
//! ("Access denied."). Answers `true`.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::codec::Mode;
use super::reply::Output;
use super::{lead_id, Args, Bitrix24, Bitrix24Error};
use crate::lead::{Employee, EmployeeDirectory, Lead, LeadError};

pub async fn run(
    bitrix24: &Arc<Bitrix24>,
    args: &Args,
    caller: &Employee,
) -> Result<Output, Bitrix24Error> {
    let id = lead_id(args)?;
    let fields = match args.get("fields") {
        Some(Value::Object(fields)) => fields.clone(),
        None | Some(Value::String(_)) => serde_json::Map::new(),
        Some(_) => {
            return Err(Bitrix24Error::BadArgument(
                "fields must be an object".into(),
            ))
        }
    };
    // The change runs on the store's writer, so it owns what it uses; its
    // Bitrix24 error is kept aside to answer in the portal's own words.
    let refused: Arc<Mutex<Option<Bitrix24Error>>> = Arc::default();
    let change = {
        let bitrix24 = Arc::clone(bitrix24);
        let refused = Arc::clone(&refused);
        move |lead: &mut Lead| {
            let before = lead.assigned_to;
            let mut result = bitrix24.codec.decode_fields(&fields, lead, Mode::Update);
            if let Some(assignee) = lead.assigned_to.filter(|id| Some(*id) != before) {
                if bitrix24.core.employees().by_id(assignee).is_none() {
                    result = Err(Bitrix24Error::Invalid(format!(
                        "Field ASSIGNED_BY_ID: user {assignee} not found"
                    )));
                }
            }
            result.map_err(|error| {
                let text = error.to_string();
                if let Ok(mut slot) = refused.lock() {
                    *slot = Some(error);
                }
                LeadError::InvalidValue {
                    field: text,
                    expected: "a value Bitrix24 accepts",
                }
            })
        }
    };
    let updated = bitrix24
        .core
        .update_for(caller, id, change, &bitrix24.rules)
        .await;
    if let Some(error) = refused.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(error);
    }
    updated?;
    Ok(Output::of(Value::Bool(true)))
}
