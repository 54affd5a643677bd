//! `action=add`: a site form's lead. Every field is optional on the wire, and
//! the real handler stores an `add` with no lead fields at all, so this one
//! does too (a form whose fields were all renamed still leaves a trace).
//! `uids[<name>]=<value>` (API 2.0) is an external id: sending the same one
//! twice returns the stored lead's id instead of a duplicate, which makes a
//! client's blind retry safe.

use chrono::Utc;
use serde_json::{json, Value};

use super::{Salesman, SalesmanError};
use crate::core::NewLead;
use crate::http::params::base_name;
use crate::http::Params;
use crate::lead::path::WriteContext;
use crate::lead::{Employee, Lead, Origin};
use crate::mapping::Mapping;

/// Parameters that steer the request and are never lead fields.
const CONTROL: &[&str] = &["login", "apikey", "action", "user"];
const EXTERNAL_IDS: &str = "uids";

pub async fn run(
    salesman: &Salesman,
    params: &Params,
    caller: &Employee,
) -> Result<Value, SalesmanError> {
    let lead = decode(&salesman.mapping, params, &salesman.write_context)?;
    let (inserted, _) = salesman
        .core
        .create_lead(
            NewLead {
                lead,
                requested_assignee: params.get("user"),
                created_by: Some(caller),
                default_assignee: salesman.default_assignee(),
                keep_stage: false,
                received_via: "salesman",
            },
            &salesman.rules,
        )
        .await
        .map_err(|error| SalesmanError::from_add(&salesman.mapping, error))?;
    let id = inserted.lead.id.unwrap_or_default();
    // The v1 handler also reports the notification mailer's outcome: the
    // real server answers an empty array when it sent nothing, and the
    // gateway sends no mail.
    Ok(json!({"result": {"text": "Success", "id": id, "mailresult": []}}))
}

/// The lead an `add` request describes, not yet validated against length
/// limits or stored. Public for the fuzz target.
pub fn decode(
    mapping: &Mapping,
    params: &Params,
    write_context: &WriteContext,
) -> Result<Lead, SalesmanError> {
    let mut lead = Lead::new(Utc::now());
    let mut fields = Vec::with_capacity(params.len());
    for (name, value) in params.effective() {
        let base = base_name(name);
        if base.len() == name.len() {
            fields.push((name, value));
        } else if base == EXTERNAL_IDS {
            if lead.origin.is_none() && !value.trim().is_empty() {
                let system = &name[base.len()..].trim_matches(['[', ']']);
                lead.origin = Some(Origin {
                    system: format!("salesman:{system}"),
                    external_id: value.trim().to_owned(),
                });
            }
        } else if mapping.knows_field(base) || CONTROL.contains(&base) {
            // `email[]=…` is an array where the handler expects a string.
            return Err(SalesmanError::bad_parameter(base, "ожидается строка"));
        } else {
            fields.push((name, value));
        }
    }
    mapping
        .decode_into(&mut lead, fields, CONTROL, write_context)
        .map_err(|error| SalesmanError::undecodable(mapping, &error))?;
    Ok(lead)
}
