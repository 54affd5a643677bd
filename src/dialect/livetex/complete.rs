//! `Leads.setCompleted`: result=completed, completed_by, completed_at,
//! duration and answer_text; a lead already completed stays exactly as it
//! is and the call still succeeds. "Returns nothing": `{"results": null}`.

use serde_json::Value;

use super::error::LivetexError;
use super::{lead_id, Livetex, Output};
use crate::http::{scalar_text, Args};
use crate::lead::Employee;

pub async fn run(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
) -> Result<Output, LivetexError> {
    let id = lead_id(args)?;
    let answer = args
        .get("answer_text")
        .and_then(scalar_text)
        .filter(|text| !text.trim().is_empty());
    livetex
        .core
        .complete(caller, id, answer, &livetex.rules)
        .await
        .map_err(|error| match error {
            crate::core::AccessError::Core(crate::core::CoreError::Invalid(error)) => {
                LivetexError::from_lead(&error, |field| livetex.mapping.wire_name(field).to_owned())
            }
            other => other.into(),
        })?;
    Ok(Output::of(Value::Null))
}
