//! `Leads.show` and `Leads.showRouted` (and `GET /v2/leads/{id}`).

use super::codec::{project_some, selection};
use super::error::LivetexError;
use super::{lead_id, Livetex, Output};
use crate::core::Scope;
use crate::http::Args;
use crate::lead::Employee;

pub async fn run(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
    scope: Scope,
) -> Result<Output, LivetexError> {
    let id = lead_id(args)?;
    let selection = selection(args)?;
    let lead = livetex.core.get_for(caller, scope, id).await?;
    Ok(Output::of(project_some(
        livetex.encode_lead(&lead, caller),
        &selection,
    )))
}
