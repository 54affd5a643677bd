//! LiveTex's settings (`[livetex]`) and their checks.

use serde::Deserialize;

use crate::problems::Problems;

/// LiveTex API v2 (`/v2/leads/...`): HTTP Basic with these logins and
/// passwords, or Bearer tokens issued by `POST /v2/oauth2/token` for them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LivetexSettings {
    pub enabled: bool,
    /// Charset of requests that name none and are not UTF-8 (old PHP
    /// sites post windows-1251); a charset a request names always wins.
    pub legacy_charset: Option<String>,
    /// LiveTex refuses `Leads.add` without `conversation_id`; web forms have
    /// no LiveTex conversation, so a deployment may relax it.
    pub require_conversation: bool,
    /// Key that signs Bearer tokens, so every gateway process sharing a store
    /// accepts the others' tokens. Without it a random key is drawn at start
    /// and tokens end with the process.
    pub token_secret: Option<String>,
    /// Lifetime of an issued token (`expires_in`).
    pub token_ttl_secs: u64,
    pub credentials: Vec<LivetexCredential>,
}

impl Default for LivetexSettings {
    fn default() -> Self {
        LivetexSettings {
            legacy_charset: None,
            enabled: true,
            require_conversation: true,
            token_secret: None,
            token_ttl_secs: 86_400,
            credentials: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivetexCredential {
    pub login: String,
    pub password: String,
}

impl LivetexSettings {
    pub fn check(&self, problems: &mut Problems<'_>) {
        if !self.enabled {
            return;
        }
        crate::dialect::check_legacy_charset(
            problems,
            "livetex.legacy_charset",
            self.legacy_charset.as_deref(),
        );
        for (index, credential) in self.credentials.iter().enumerate() {
            let key = format!("livetex.credentials[{index}]");
            if credential.password.is_empty() {
                problems.add(&format!("{key}.password"), "must not be empty");
            }
            problems.employee(&format!("{key}.login"), &credential.login);
        }
        problems.above_zero("livetex.token_ttl_secs", self.token_ttl_secs);
    }
}
