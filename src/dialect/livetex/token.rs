//! `POST /v2/oauth2/token` with the password grant (`grant_type=password`,
//! `username`, `password`): `{"access_token","token_type":"bearer","expires_in"}`.

use serde_json::{json, Value};

use super::error::LivetexError;
use super::Livetex;
use crate::http::{scalar_text, Args};

pub fn run(livetex: &Livetex, args: &Args) -> Result<Value, LivetexError> {
    let text = |name: &str| {
        args.get(name)
            .and_then(scalar_text)
            .filter(|value| !value.is_empty())
    };
    let grant = text("grant_type").ok_or_else(|| LivetexError::required("grant_type"))?;
    if grant != "password" {
        return Err(LivetexError::invalid("grant_type"));
    }
    let username = text("username").ok_or_else(|| LivetexError::required("username"))?;
    let password = text("password").ok_or_else(|| LivetexError::required("password"))?;
    let employee = livetex
        .credentials
        .check_password(&username, &password, livetex.core.employees())
        .ok_or(LivetexError::Unauthorized)?;
    Ok(json!({
        "access_token": livetex
            .credentials
            .issue(employee, livetex.core.now())
            .ok_or(LivetexError::Unavailable)?,
        "token_type": "bearer",
        "expires_in": livetex.credentials.token_ttl_secs,
    }))
}
