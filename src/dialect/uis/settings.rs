//! UIS's settings (`[uis]`) and their checks.

use serde::Deserialize;

use crate::problems::Problems;

/// UIS / CoMagic Data API v2.0 (`POST /v2.0`, JSON-RPC 2.0).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UisSettings {
    pub enabled: bool,
    /// Charset of requests that name none and are not UTF-8 (old PHP
    /// sites post windows-1251); a charset a request names always wins.
    pub legacy_charset: Option<String>,
    /// `app_id` that `login.user` reports (the tenant).
    pub app_id: i64,
    /// Lifetime of a `login.user` session key; UIS uses one hour.
    pub session_ttl_secs: u64,
    /// Points per access token per day and per minute (every successful call
    /// costs one), reported in `metadata.limits`; over them, -32029.
    pub day_limit: u64,
    pub minute_limit: u64,
    /// Permanent API keys, each acting as an employee; `agent = true` keys
    /// may act for another employee with `user_id`.
    pub keys: Vec<UisKey>,
    /// Logins and passwords `login.user` accepts.
    pub credentials: Vec<UisCredential>,
}

impl Default for UisSettings {
    fn default() -> Self {
        UisSettings {
            legacy_charset: None,
            enabled: true,
            app_id: 1,
            session_ttl_secs: 3600,
            day_limit: 10_000,
            minute_limit: 300,
            keys: Vec::new(),
            credentials: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UisKey {
    pub key: String,
    pub login: String,
    #[serde(default)]
    pub agent: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UisCredential {
    pub login: String,
    pub password: String,
}

impl UisSettings {
    pub fn check(&self, problems: &mut Problems<'_>) {
        if !self.enabled {
            return;
        }
        crate::dialect::check_legacy_charset(
            problems,
            "uis.legacy_charset",
            self.legacy_charset.as_deref(),
        );
        for (index, key) in self.keys.iter().enumerate() {
            let at = format!("uis.keys[{index}]");
            problems.not_blank(&format!("{at}.key"), &key.key);
            problems.employee(&format!("{at}.login"), &key.login);
        }
        for (index, credential) in self.credentials.iter().enumerate() {
            let at = format!("uis.credentials[{index}]");
            if credential.password.is_empty() {
                problems.add(&format!("{at}.password"), "must not be empty");
            }
            problems.employee(&format!("{at}.login"), &credential.login);
        }
        problems.above_zero("uis.session_ttl_secs", self.session_ttl_secs);
        problems.above_zero("uis.day_limit", self.day_limit);
        problems.above_zero("uis.minute_limit", self.minute_limit);
    }
}
