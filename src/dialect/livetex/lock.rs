//! `Leads.lock` and `Leads.unlock`: `{"results": true|false}` exactly as the
//! seed words it (30 minutes; the holder prolongs; only the holder unlocks;
//! an unlocked lead unlocks fine). The decision is one conditional update in
//! the store (core::Core::lock), so concurrent callers get one winner.

use serde_json::Value;

use super::error::LivetexError;
use super::{lead_id, Livetex, Output};
use crate::http::Args;
use crate::lead::Employee;

pub async fn lock(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
) -> Result<Output, LivetexError> {
    let id = lead_id(args)?;
    Ok(Output::of(Value::Bool(
        livetex.core.lock(caller, id).await?,
    )))
}

pub async fn unlock(
    livetex: &Livetex,
    args: &Args,
    caller: &Employee,
) -> Result<Output, LivetexError> {
    let id = lead_id(args)?;
    Ok(Output::of(Value::Bool(
        livetex.core.unlock(caller, id).await?,
    )))
}
