//! `action=stat`: per active employee, open leads created and leads processed
//! in the current calendar month (on the dialect's wall clock), counts as
//! strings as PHP sends them.

use chrono::Utc;
use serde_json::{json, Value};

use super::{Salesman, SalesmanError};

pub async fn run(salesman: &Salesman) -> Result<Value, SalesmanError> {
    let stats = salesman
        .core
        .monthly_stats(Utc::now(), salesman.mapping.timezone)
        .await?;
    let rows: Vec<Value> = stats
        .iter()
        .map(|row| {
            json!({
                "title": row.employee.login,
                "open": row.open.to_string(),
                "processed": row.processed.to_string(),
            })
        })
        .collect();
    Ok(json!({ "data": rows }))
}
