//! Bitrix24's settings (`[bitrix24]`) and their checks.

use serde::Deserialize;

use crate::problems::Problems;

/// Bitrix24 REST (`/rest/...`). Without webhooks or tokens every call is
/// refused with NO_AUTH_FOUND, as a portal does for unknown credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bitrix24Settings {
    pub enabled: bool,
    /// Charset of requests that name none and are not UTF-8 (old PHP
    /// sites post windows-1251); a charset a request names always wins.
    pub legacy_charset: Option<String>,
    /// Login of the employee who gets leads added without ASSIGNED_BY_ID.
    pub default_assignee: Option<String>,
    /// Incoming webhooks: `/rest/{user_id}/{code}/...`.
    pub webhooks: Vec<Bitrix24Webhook>,
    /// Application tokens, sent as `auth`. They never expire: SDKs refresh
    /// expired tokens at oauth.bitrix24.tech, which the gateway cannot answer.
    pub tokens: Vec<Bitrix24Token>,
    /// Bitrix24's leaky bucket per credential; absent means no limit.
    pub rate_limit: Option<Bitrix24RateLimit>,
}

impl Default for Bitrix24Settings {
    fn default() -> Self {
        Bitrix24Settings {
            legacy_charset: None,
            enabled: true,
            default_assignee: None,
            webhooks: Vec::new(),
            tokens: Vec::new(),
            rate_limit: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Webhook {
    pub user_id: i64,
    pub code: String,
    /// The employee the webhook acts as; its id must be `user_id`.
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Token {
    pub token: String,
    pub login: String,
}

/// Requests drain from the bucket at `per_second`; above `capacity` queued
/// requests the answer is 503 QUERY_LIMIT_EXCEEDED. Bitrix24 uses 2/s and 50
/// (Enterprise: 5/s and 250).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24RateLimit {
    pub per_second: f64,
    pub capacity: f64,
}

impl Bitrix24Settings {
    pub fn check(&self, problems: &mut Problems<'_>) {
        if !self.enabled {
            return;
        }
        crate::dialect::check_legacy_charset(
            problems,
            "bitrix24.legacy_charset",
            self.legacy_charset.as_deref(),
        );
        if let Some(login) = &self.default_assignee {
            problems.employee("bitrix24.default_assignee", login);
        }
        for (index, webhook) in self.webhooks.iter().enumerate() {
            let key = format!("bitrix24.webhooks[{index}]");
            if webhook.code.trim().is_empty() || webhook.code.contains('/') {
                problems.add(
                    &format!("{key}.code"),
                    "must be a non-empty code without '/'",
                );
            }
            if let Some(employee) = problems.employee(&format!("{key}.login"), &webhook.login) {
                if employee.id != webhook.user_id {
                    problems.add(
                        &format!("{key}.user_id"),
                        format!(
                            "{} is not the id of {:?} ({})",
                            webhook.user_id, webhook.login, employee.id
                        ),
                    );
                }
            }
        }
        for (index, token) in self.tokens.iter().enumerate() {
            let key = format!("bitrix24.tokens[{index}]");
            problems.not_blank(&format!("{key}.token"), &token.token);
            problems.employee(&format!("{key}.login"), &token.login);
        }
        if let Some(limit) = &self.rate_limit {
            if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
                problems.add("bitrix24.rate_limit.per_second", "must be a number above 0");
            }
            if !(limit.capacity.is_finite() && limit.capacity >= 1.0) {
                problems.add(
                    "bitrix24.rate_limit.capacity",
                    "must be a number of at least 1",
                );
            }
        }
    }
}
