//! Who is calling: `params.access_token` is a permanent key from config or
//! a session key from `login.user` (one hour, ended by `logout.user`);
//! agents' keys may act for another employee with `user_id`.
//!
//! Session keys live in the store (core::Core::open_session), so every
//! gateway process sharing it accepts them, a restart keeps them, and a
//! logout ends them everywhere.

use std::collections::HashMap;

use chrono::Duration;
use serde_json::{Map, Value};

use super::error::UisError;
use super::settings::{UisCredential, UisKey};
use crate::core::{Core, Session};
use crate::lead::{Employee, EmployeeDirectory};

pub struct Auth {
    /// key → (lower-cased login, agent).
    keys: HashMap<String, (String, bool)>,
    passwords: HashMap<String, String>,
    ttl: Duration,
}

/// The caller and the key they used (rate limits count per key).
pub struct Caller<'a> {
    pub employee: &'a Employee,
    pub key: String,
}

impl Auth {
    pub fn new(keys: &[UisKey], credentials: &[UisCredential], ttl_secs: u64) -> Auth {
        Auth {
            keys: keys
                .iter()
                .map(|key| (key.key.clone(), (key.login.to_lowercase(), key.agent)))
                .collect(),
            passwords: credentials
                .iter()
                .map(|entry| (entry.login.to_lowercase(), entry.password.clone()))
                .collect(),
            ttl: Duration::seconds(ttl_secs.min(i64::MAX as u64) as i64),
        }
    }

    /// `login.user`: a new session key and when it expires.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        core: &Core,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>), UisError> {
        let login = login.trim().to_lowercase();
        // Compared without stopping at the first difference, so timing says
        // nothing about how much of a password was right.
        let known = self.passwords.get(&login).is_some_and(|expected| {
            expected.len() == password.len()
                && expected
                    .bytes()
                    .zip(password.bytes())
                    .fold(0u8, |difference, (a, b)| difference | (a ^ b))
                    == 0
        });
        let active = core
            .employees()
            .by_login(&login)
            .is_some_and(|employee| employee.active);
        if !known || !active {
            return Err(UisError::auth_error());
        }
        Ok(core.open_session(&login, self.ttl).await?)
    }

    /// `logout.user`: the key stops working at once, in every process.
    pub async fn logout(
        &self,
        token: &str,
        token_value: &Value,
        core: &Core,
    ) -> Result<(), UisError> {
        if core.end_session(token).await? {
            Ok(())
        } else {
            Err(UisError::token_invalid(Some(token_value)))
        }
    }

    pub async fn caller<'a>(
        &self,
        params: &Map<String, Value>,
        core: &'a Core,
    ) -> Result<Caller<'a>, UisError> {
        let value = params
            .get("access_token")
            .ok_or_else(|| UisError::required("access_token"))?;
        let token = value
            .as_str()
            .ok_or_else(|| UisError::data_type("access_token", Some(value)))?;
        let (login, agent) = match self.keys.get(token) {
            Some((login, agent)) => (login.clone(), *agent),
            None => match core.session(token).await? {
                Session::Valid { login } => (login, false),
                Session::Expired => return Err(UisError::token_expired(Some(value))),
                Session::Unknown => return Err(UisError::token_invalid(Some(value))),
            },
        };
        let employees = core.employees();
        let employee = employees
            .by_login(&login)
            .filter(|employee| employee.active)
            .ok_or_else(|| UisError::token_invalid(Some(value)))?;
        let employee = match params.get("user_id") {
            // The seed: user_id "is required for an agent".
            None | Some(Value::Null) if agent => return Err(UisError::required("user_id")),
            None | Some(Value::Null) => employee,
            Some(user) => {
                let id = user
                    .as_i64()
                    .ok_or_else(|| UisError::data_type("user_id", Some(user)))?;
                if !agent && id != employee.id {
                    return Err(UisError::forbidden().at("user_id", Some(user)));
                }
                employees
                    .by_id(id)
                    .filter(|employee| employee.active)
                    .ok_or_else(|| UisError::invalid_value("user_id", Some(user)))?
            }
        };
        Ok(Caller {
            employee,
            key: token.to_owned(),
        })
    }
}
