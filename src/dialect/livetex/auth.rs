//! Who is calling: HTTP Basic (login + password from config) or a Bearer
//! token issued by `POST /v2/oauth2/token` (password grant). Tokens are
//! signed, not stored: `base64url(login \n expiry) . base64url(HMAC-SHA256)`,
//! so every gateway process that shares the key accepts them and nothing
//! about them lives in one process's memory.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::error::LivetexError;
use super::settings::LivetexCredential;
use crate::core::Employees;
use crate::lead::Employee;

pub struct Credentials {
    /// lower-cased login → password.
    passwords: HashMap<String, String>,
    /// None only when the OS gave no randomness for a key: tokens are then
    /// neither issued nor accepted, Basic still works.
    key: Option<hmac::Key>,
    pub token_ttl_secs: u64,
}

/// Compares without stopping at the first difference, so the time taken
/// says nothing about how much of a password was right.
fn same(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

impl Credentials {
    pub fn new(
        configured: &[LivetexCredential],
        secret: Option<&str>,
        token_ttl_secs: u64,
    ) -> Credentials {
        let key = match secret {
            Some(secret) => Some(secret.as_bytes().to_vec()),
            None => process_key(),
        };
        let key = key.map(|key| hmac::Key::new(hmac::HMAC_SHA256, &key));
        Credentials {
            passwords: configured
                .iter()
                .map(|entry| (entry.login.to_lowercase(), entry.password.clone()))
                .collect(),
            key,
            token_ttl_secs,
        }
    }

    /// The employee behind `login` + `password`, if they match the config.
    pub fn check_password<'a>(
        &self,
        login: &str,
        password: &str,
        employees: &'a Employees,
    ) -> Option<&'a Employee> {
        let login = login.trim().to_lowercase();
        let expected = self.passwords.get(&login)?;
        if !same(expected.as_bytes(), password.as_bytes()) {
            return None;
        }
        employees
            .by_login(&login)
            .filter(|employee| employee.active)
    }

    pub fn issue(&self, employee: &Employee, now: DateTime<Utc>) -> Option<String> {
        let key = self.key.as_ref()?;
        let expires = now.timestamp() + self.token_ttl_secs as i64;
        let payload = format!("{}\n{expires}", employee.login.to_lowercase());
        Some(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(hmac::sign(key, payload.as_bytes()).as_ref())
        ))
    }

    fn verify<'a>(
        &self,
        token: &str,
        now: DateTime<Utc>,
        employees: &'a Employees,
    ) -> Option<&'a Employee> {
        let (payload, signature) = token.trim().split_once('.')?;
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        hmac::verify(self.key.as_ref()?, payload.as_bytes(), &signature).ok()?;
        let (login, expires) = payload.split_once('\n')?;
        if expires.parse::<i64>().ok()? <= now.timestamp() || !self.passwords.contains_key(login) {
            return None;
        }
        employees.by_login(login).filter(|employee| employee.active)
    }

    /// Basic or Bearer from the `Authorization` header, or `access_token`
    /// as a parameter (RFC 6750 allows it; scripts use it).
    pub fn authenticate<'a>(
        &self,
        headers: &HeaderMap,
        access_token: Option<&str>,
        now: DateTime<Utc>,
        employees: &'a Employees,
    ) -> Result<&'a Employee, LivetexError> {
        let header = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::trim);
        let found = match header.and_then(|value| value.split_once(' ')) {
            Some((scheme, credentials)) if scheme.eq_ignore_ascii_case("basic") => STANDARD
                .decode(credentials.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| {
                    let (login, password) = text.split_once(':')?;
                    self.check_password(login, password, employees)
                }),
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                self.verify(token, now, employees)
            }
            _ => access_token.and_then(|token| self.verify(token, now, employees)),
        };
        found.ok_or(LivetexError::Unauthorized)
    }
}

/// No configured key: one per process from the OS's random source, the
/// same across reloads (which build the credentials again); tokens then
/// end with the process.
fn process_key() -> Option<Vec<u8>> {
    static KEY: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = vec![0u8; 32];
        match SystemRandom::new().fill(&mut key) {
            Ok(()) => Some(key),
            Err(_) => {
                tracing::error!("no OS randomness for the LiveTex token key; tokens are refused");
                None
            }
        }
    })
    .clone()
}
