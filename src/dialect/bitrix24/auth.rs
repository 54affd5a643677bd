//! Who is calling: an incoming webhook (`/rest/{user_id}/{code}/...`) or an
//! application token in `auth`. Both come from config and act as one
//! employee. Unknown or missing credentials answer 401 like a portal:
//! NO_AUTH_FOUND for webhooks and missing tokens, invalid_token for tokens
//! the gateway never issued.

use std::collections::HashMap;

use super::error::Bitrix24Error;
use super::settings::{Bitrix24Token, Bitrix24Webhook};
use crate::core::Employees;
use crate::lead::Employee;

pub struct Credentials {
    /// (user id, code) → login.
    webhooks: HashMap<(String, String), String>,
    /// token → login.
    tokens: HashMap<String, String>,
}

/// What the request presented.
pub enum Presented<'a> {
    Webhook { user_id: &'a str, code: &'a str },
    Token(Option<&'a str>),
}

impl Presented<'_> {
    /// The key the rate limiter counts under.
    pub fn bucket(&self) -> String {
        match self {
            Presented::Webhook { user_id, code } => format!("webhook:{user_id}/{code}"),
            Presented::Token(token) => format!("token:{}", token.unwrap_or("")),
        }
    }
}

impl Credentials {
    pub fn new(webhooks: &[Bitrix24Webhook], tokens: &[Bitrix24Token]) -> Credentials {
        Credentials {
            webhooks: webhooks
                .iter()
                .map(|hook| {
                    (
                        (hook.user_id.to_string(), hook.code.clone()),
                        hook.login.to_lowercase(),
                    )
                })
                .collect(),
            tokens: tokens
                .iter()
                .map(|token| (token.token.clone(), token.login.to_lowercase()))
                .collect(),
        }
    }

    pub fn authenticate<'a>(
        &self,
        presented: &Presented<'_>,
        employees: &'a Employees,
    ) -> Result<&'a Employee, Bitrix24Error> {
        let login = match presented {
            Presented::Webhook { user_id, code } => self
                .webhooks
                .get(&((*user_id).to_owned(), (*code).to_owned()))
                .ok_or(Bitrix24Error::NoAuth)?,
            Presented::Token(None) => return Err(Bitrix24Error::NoAuth),
            Presented::Token(Some(token)) => {
                self.tokens.get(*token).ok_or(Bitrix24Error::InvalidToken)?
            }
        };
        employees
            .by_login(login)
            .filter(|employee| employee.active)
            .ok_or(Bitrix24Error::NoAuth)
    }
}
