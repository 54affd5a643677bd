//! `apikey` then `login`, checked in the real handler's order so a client sees
//! the same first error: unknown key (400), then a login that key does not
//! cover (401). API 2.0 clients send both as headers; they are read there too.

use std::collections::HashMap;

use http::HeaderMap;

use super::settings::SalesmanCredential;
use super::SalesmanError;
use crate::core::Employees;
use crate::http::Params;
use crate::lead::Employee;

pub struct Credentials {
    /// apikey → lower-cased logins it may be used with.
    logins_by_key: HashMap<String, Vec<String>>,
}

fn credential<'a>(params: &'a Params, headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .or_else(|| headers.get(name).and_then(|value| value.to_str().ok()))
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

impl Credentials {
    pub fn new(configured: &[SalesmanCredential]) -> Credentials {
        let mut logins_by_key: HashMap<String, Vec<String>> = HashMap::new();
        for entry in configured {
            logins_by_key
                .entry(entry.apikey.clone())
                .or_default()
                .push(entry.login.to_lowercase());
        }
        Credentials { logins_by_key }
    }

    pub fn authenticate<'a>(
        &self,
        params: &Params,
        headers: &HeaderMap,
        employees: &'a Employees,
    ) -> Result<&'a Employee, SalesmanError> {
        let logins = credential(params, headers, "apikey")
            .and_then(|key| self.logins_by_key.get(key))
            .ok_or(SalesmanError::BadApiKey)?;
        let login = credential(params, headers, "login").ok_or(SalesmanError::UnknownUser)?;
        let login = login.to_lowercase();
        if !logins.contains(&login) {
            return Err(SalesmanError::UnknownUser);
        }
        employees
            .by_login(&login)
            .filter(|employee| employee.active)
            .ok_or(SalesmanError::UnknownUser)
    }
}
