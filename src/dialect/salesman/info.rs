//! `action=info&id=N`: one lead in the v1 wrapper
//! `{"result":{"data":{…},"id":"<id as sent>"}}`; the record's columns come
//! from `[[records.info]]` in the mapping file.

use serde_json::{json, Value};

use super::{Salesman, SalesmanError};
use crate::http::Params;

pub async fn run(salesman: &Salesman, params: &Params) -> Result<Value, SalesmanError> {
    let sent = params
        .get("id")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or(SalesmanError::MissingParameters)?;
    let id: i64 = sent
        .parse()
        .map_err(|_| SalesmanError::bad_parameter("id", "ожидается целое число"))?;
    let lead = salesman
        .core
        .get(id)
        .await?
        .ok_or(SalesmanError::NotFound)?;
    let record = salesman
        .mapping
        .record("info")
        .ok_or(SalesmanError::Internal)?
        .encode(&salesman.mapping, &lead, salesman.core.employees());
    Ok(json!({"result": {"data": record, "id": sent}}))
}
