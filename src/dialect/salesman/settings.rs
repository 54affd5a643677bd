//! SalesMan's settings (`[salesman]`) and their checks.

use serde::Deserialize;

use crate::problems::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SalesmanSettings {
    pub enabled: bool,
    /// Charset of requests that name none and are not UTF-8 (old PHP
    /// sites post windows-1251); a charset a request names always wins.
    pub legacy_charset: Option<String>,
    /// Login of the employee who gets leads nobody else claims (SalesMan's
    /// "coordinator").
    pub default_assignee: Option<String>,
    /// The real handler answers `text/html`; some old callers parse that text.
    pub content_type: String,
    /// PHP's `json_encode` writes `/` as `\/`; byte-exact clients may compare.
    pub escape_slashes: bool,
    /// The real handler writes every non-ASCII character but Cyrillic
    /// (А-я, Ёё) as `\uXXXX` (é, —, №, €, CJK); Cyrillic stays raw.
    pub escape_unicode: bool,
    pub credentials: Vec<SalesmanCredential>,
}

impl Default for SalesmanSettings {
    fn default() -> Self {
        SalesmanSettings {
            legacy_charset: None,
            enabled: true,
            default_assignee: None,
            content_type: "text/html; charset=utf-8".into(),
            escape_slashes: true,
            escape_unicode: true,
            credentials: Vec::new(),
        }
    }
}

/// An account key and the employee login it may be used with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesmanCredential {
    pub apikey: String,
    pub login: String,
}

impl SalesmanSettings {
    pub fn check(&self, problems: &mut Problems<'_>) {
        if !self.enabled {
            return;
        }
        crate::dialect::check_legacy_charset(
            problems,
            "salesman.legacy_charset",
            self.legacy_charset.as_deref(),
        );
        if let Some(login) = &self.default_assignee {
            problems.employee("salesman.default_assignee", login);
        }
        if self.credentials.is_empty() {
            problems.add(
                "salesman.credentials",
                "the dialect is enabled but no credentials are configured",
            );
        }
        for (index, credential) in self.credentials.iter().enumerate() {
            let key = format!("salesman.credentials[{index}]");
            problems.not_blank(&format!("{key}.apikey"), &credential.apikey);
            problems.employee(&format!("{key}.login"), &credential.login);
        }
    }
}
