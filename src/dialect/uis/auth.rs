//! Who is calling: `params.access_token` is a permanent key from config or
//! a session key from `login.user` (one hour, revoked by `logout.user`);
//! agents' keys may act for another employee with `user_id`.
//!
//! Session keys live in this process's memory: a process restart or a
//! second gateway process does not know them, and clients log in again
//! (the SDKs do on -32001). Permanent keys work everywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

use super::error::UisError;
use crate::config::{UisCredential, UisKey};
use crate::core::Employees;
use crate::lead::{Employee, EmployeeDirectory};

struct Session {
    login: String,
    expires: DateTime<Utc>,
}

pub struct Auth {
    /// key → (lower-cased login, agent).
    keys: HashMap<String, (String, bool)>,
    passwords: HashMap<String, String>,
    sessions: Mutex<HashMap<String, Session>>,
    ttl: Duration,
    random: SystemRandom,
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
            sessions: Mutex::new(HashMap::new()),
            ttl: Duration::seconds(ttl_secs.min(i64::MAX as u64) as i64),
            random: SystemRandom::new(),
        }
    }

    /// `login.user`: a new session key and when it expires.
    pub fn login(
        &self,
        login: &str,
        password: &str,
        now: DateTime<Utc>,
        employees: &Employees,
    ) -> Result<(String, DateTime<Utc>), UisError> {
        let login = login.trim().to_lowercase();
        let known = self.passwords.get(&login).is_some_and(|expected| {
            expected.len() == password.len()
                && expected
                    .bytes()
                    .zip(password.bytes())
                    .fold(0u8, |difference, (a, b)| difference | (a ^ b))
                    == 0
        });
        if !known
            || employees
                .by_login(&login)
                .is_none_or(|employee| !employee.active)
        {
            return Err(UisError::auth_error());
        }
        let mut bytes = [0u8; 24];
        self.random
            .fill(&mut bytes)
            .map_err(|_| UisError::internal())?;
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let expires = now + self.ttl;
        let mut sessions = self.sessions.lock().map_err(|_| UisError::internal())?;
        sessions.retain(|_, session| session.expires > now);
        sessions.insert(token.clone(), Session { login, expires });
        Ok((token, expires))
    }

    /// `logout.user`: the key stops working at once.
    pub fn logout(&self, token: &str, token_value: &Value) -> Result<(), UisError> {
        let mut sessions = self.sessions.lock().map_err(|_| UisError::internal())?;
        sessions
            .remove(token)
            .map(|_| ())
            .ok_or_else(|| UisError::token_invalid(Some(token_value)))
    }

    pub fn caller<'a>(
        &self,
        params: &Map<String, Value>,
        now: DateTime<Utc>,
        employees: &'a Employees,
    ) -> Result<Caller<'a>, UisError> {
        let value = params
            .get("access_token")
            .ok_or_else(|| UisError::required("access_token"))?;
        let token = value
            .as_str()
            .ok_or_else(|| UisError::data_type("access_token", Some(value)))?;
        let (login, agent) = if let Some((login, agent)) = self.keys.get(token) {
            (login.clone(), *agent)
        } else {
            let mut sessions = self.sessions.lock().map_err(|_| UisError::internal())?;
            match sessions.get(token) {
                Some(session) if session.expires > now => (session.login.clone(), false),
                Some(_) => {
                    sessions.remove(token);
                    return Err(UisError::token_expired(Some(value)));
                }
                None => return Err(UisError::token_invalid(Some(value))),
            }
        };
        let employee = employees
            .by_login(&login)
            .filter(|employee| employee.active)
            .ok_or_else(|| UisError::token_invalid(Some(value)))?;
        let employee = match params.get("user_id") {
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
