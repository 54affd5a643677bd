//! `login.user` and `logout.user`.

use serde_json::{json, Map, Value};

use super::error::UisError;
use super::Uis;

pub async fn login(uis: &Uis, params: &Map<String, Value>) -> Result<Value, UisError> {
    for (name, value) in params {
        if name != "login" && name != "password" {
            return Err(UisError::unexpected(name, Some(value)));
        }
    }
    let text = |name: &str| -> Result<&str, UisError> {
        let value = params.get(name).ok_or_else(|| UisError::required(name))?;
        value
            .as_str()
            .ok_or_else(|| UisError::data_type(name, Some(value)))
    };
    let (token, expires) = uis
        .auth
        .login(text("login")?, text("password")?, &uis.core)
        .await?;
    Ok(
        json!({"data": {"access_token": token, "expire_at": expires.timestamp(), "app_id": uis.app_id}}),
    )
}

pub async fn logout(uis: &Uis, params: &Map<String, Value>) -> Result<Value, UisError> {
    for (name, value) in params {
        if name != "access_token" {
            return Err(UisError::unexpected(name, Some(value)));
        }
    }
    let value = params
        .get("access_token")
        .ok_or_else(|| UisError::required("access_token"))?;
    let token = value
        .as_str()
        .ok_or_else(|| UisError::data_type("access_token", Some(value)))?;
    uis.auth.logout(token, value, &uis.core).await?;
    Ok(json!({"data": {}}))
}
