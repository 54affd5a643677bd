//! The `[forwarding]` section: targets (where leads go, in which wire
//! protocol), rules (which accepted leads go to which targets) and the retry
//! policy, with the checks `leadgate check` runs on them.

use std::collections::HashSet;

use serde::Deserialize;

use super::Protocol;
use crate::lead::path::FieldPath;
use crate::problems::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardingSettings {
    pub targets: Vec<TargetSettings>,
    pub rules: Vec<ForwardRuleSettings>,
    pub retry: RetrySettings,
    /// A claimed delivery returns to the queue after this long if its worker
    /// never reports (a crash). Longer than any target's timeout.
    pub lease_secs: f64,
    /// How often idle workers look for due deliveries (new leads wake them
    /// at once; this covers retries coming due and other processes' leads).
    pub poll_interval_ms: u64,
    /// Where the admin token was before the admin listener: refused with
    /// a pointer to `[admin]`, so a config that relied on it is not left
    /// silently without its admin API, nor serves it on the public port.
    pub admin_token: Option<String>,
    /// How targets know leads from this gateway: Bitrix24 ORIGINATOR_ID,
    /// SalesMan `uids[...]` name. Give each deployment sharing a target its own.
    pub gateway_id: String,
}

impl Default for ForwardingSettings {
    fn default() -> Self {
        ForwardingSettings {
            targets: Vec::new(),
            rules: Vec::new(),
            retry: RetrySettings::default(),
            lease_secs: 120.0,
            poll_interval_ms: 500,
            admin_token: None,
            gateway_id: "leadgate".into(),
        }
    }
}

/// One place leads are forwarded to. Which keys apply depends on `kind`
/// (its [`Protocol`]); `leadgate check` names any that is missing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSettings {
    pub name: String,
    /// `webhook`, `nats`, or the name of a dialect.
    pub kind: String,
    /// Bitrix24: the webhook URL (`https://portal/rest/1/code/`); SalesMan:
    /// the leads endpoint; LiveTex: the API base (`https://host/v2/`); UIS:
    /// the JSON-RPC endpoint; webhook: where to POST; NATS: the server URL.
    pub url: String,
    /// SalesMan login, LiveTex login (Basic), UIS login (login.user).
    pub login: Option<String>,
    /// SalesMan apikey.
    pub apikey: Option<String>,
    /// LiveTex password (Basic), UIS password (login.user).
    pub password: Option<String>,
    /// LiveTex Bearer token, UIS permanent access token.
    pub token: Option<String>,
    /// Webhook: HMAC-SHA256 key of the signature header.
    pub secret: Option<String>,
    /// NATS subject the lead events are published on.
    pub subject: Option<String>,
    /// NATS: a JetStream stream capturing `subject`, created if missing
    /// (with a de-duplication window longer than a delivery lease).
    pub stream: Option<String>,
    /// LiveTex and UIS: the site leads are filed under when the lead has none.
    pub site_id: Option<i64>,
    /// LiveTex: the conversation leads are filed under when the lead has none.
    pub conversation_id: Option<String>,
    /// UIS: the campaign offline messages are filed under.
    pub campaign_id: Option<i64>,
    /// Requests per second at most (Bitrix24 portals allow 2).
    pub requests_per_second: Option<f64>,
    /// Leads per request where the protocol batches (Bitrix24 and UIS: 50).
    pub batch_size: Option<usize>,
    /// Requests in flight at once.
    pub concurrency: Option<usize>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// SalesMan: the `path` (client source) sent for a lead with no channel;
    /// SalesMan drops a lead's UTM fields when `path` is missing. Unset:
    /// the mapping's name for the channel `other`.
    pub path_fallback: Option<String>,
    /// What replaces each character a target's text columns cannot store
    /// (outside the Basic Multilingual Plane: emoji, in MySQL `utf8`
    /// tables, as SalesMan's are), so such a lead is delivered instead of
    /// failing on every attempt. SalesMan: U+FFFD unless set ("" drops
    /// them); other kinds send every character.
    pub astral_replacement: Option<String>,
    /// The token a target's own events must carry to change the leads it
    /// has (sync-back): Bitrix24's `auth[application_token]` of its
    /// outbound webhook, or the Bearer token of a JSON event. Unset: the
    /// target's events are refused.
    pub events_token: Option<String>,
}

fn default_timeout() -> f64 {
    15.0
}

impl ForwardingSettings {
    /// The targets' names, in configuration order.
    pub fn target_names(&self) -> Vec<String> {
        self.targets
            .iter()
            .map(|target| target.name.clone())
            .collect()
    }
}

impl TargetSettings {
    /// Leads per request: as configured, within what `protocol` allows.
    pub fn batch_size(&self, protocol: &Protocol) -> usize {
        self.batch_size
            .unwrap_or(protocol.batch_limit)
            .clamp(1, protocol.batch_limit)
    }

    /// Requests per second at most: as configured, or the protocol's own
    /// limit (a Bitrix24 portal answers QUERY_LIMIT_EXCEEDED above 2).
    pub fn requests_per_second(&self, protocol: &Protocol) -> Option<f64> {
        self.requests_per_second.or(protocol.default_rate)
    }

    pub fn concurrency(&self, protocol: &Protocol) -> usize {
        self.concurrency.unwrap_or(protocol.default_concurrency)
    }
}

/// Which accepted leads go to which targets. Every given criterion must
/// hold; a lead matching several rules goes to the union of their targets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardRuleSettings {
    pub targets: Vec<String>,
    /// The API the lead arrived through: salesman, bitrix24, livetex, uis.
    pub dialects: Vec<String>,
    pub site_ids: Vec<i64>,
    /// Canonical channels (web, call, callback, ...).
    pub channels: Vec<String>,
    pub utm_sources: Vec<String>,
    pub utm_campaigns: Vec<String>,
    /// Predicates on any canonical field.
    pub when: Vec<PredicateSettings>,
}

/// `field` and exactly one test.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredicateSettings {
    /// A canonical path: `utm.campaign`, `phones`, `custom.UF_CRM_X`, ...
    pub field: String,
    pub equals: Option<String>,
    pub not_equals: Option<String>,
    pub one_of: Option<Vec<String>>,
    /// Case-insensitive substring.
    pub contains: Option<String>,
    /// `true`: the field has a value; `false`: it has none.
    pub present: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    pub initial_backoff_secs: f64,
    pub max_backoff_secs: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 15,
            initial_backoff_secs: 1.0,
            max_backoff_secs: 600.0,
        }
    }
}

impl ForwardingSettings {
    /// Everything but what depends on a target's kind (the composition
    /// root checks that with [`check_target`] and the kind's protocol) and
    /// on which dialects exist (`rules[].dialects`).
    pub fn check(&self, problems: &mut Problems<'_>) {
        let mut names = HashSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            let key = format!("forwarding.targets[{index}]");
            if target.name.trim().is_empty() {
                problems.add(&format!("{key}.name"), "must not be empty");
            } else if !names.insert(target.name.as_str()) {
                problems.add(
                    &format!("{key}.name"),
                    format!("target {:?} is named twice", target.name),
                );
            }
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let key = format!("forwarding.rules[{index}]");
            if rule.targets.is_empty() {
                problems.add(&format!("{key}.targets"), "names no target");
            }
            for name in &rule.targets {
                if !names.contains(name.as_str()) {
                    problems.add(
                        &format!("{key}.targets"),
                        format!("{name:?} is not the name of any [[forwarding.targets]] entry"),
                    );
                }
            }
            for channel in &rule.channels {
                if crate::lead::Channel::parse(channel).is_none() {
                    problems.add(
                        &format!("{key}.channels"),
                        format!("{channel:?} is not a canonical channel"),
                    );
                }
            }
            for (position, predicate) in rule.when.iter().enumerate() {
                let key = format!("{key}.when[{position}]");
                if FieldPath::parse(&predicate.field).is_none() {
                    problems.add(
                        &format!("{key}.field"),
                        format!("{:?} is not a canonical field path", predicate.field),
                    );
                }
                let tests = [
                    predicate.equals.is_some(),
                    predicate.not_equals.is_some(),
                    predicate.one_of.is_some(),
                    predicate.contains.is_some(),
                    predicate.present.is_some(),
                ];
                if tests.iter().filter(|given| **given).count() != 1 {
                    problems.add(
                        &key,
                        "needs exactly one of equals, not_equals, one_of, contains, present",
                    );
                }
            }
        }
        let retry = &self.retry;
        if retry.max_attempts == 0 {
            problems.add("forwarding.retry.max_attempts", "must be above 0");
        }
        for (key, value) in [
            (
                "forwarding.retry.initial_backoff_secs",
                retry.initial_backoff_secs,
            ),
            ("forwarding.retry.max_backoff_secs", retry.max_backoff_secs),
            ("forwarding.lease_secs", self.lease_secs),
        ] {
            if !(value.is_finite() && value > 0.0 && value < 86_400.0 * 7.0) {
                problems.add(key, format!("{value} is not a number of seconds above 0"));
            }
        }
        if self.gateway_id.trim().is_empty()
            || !self
                .gateway_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            problems.add(
                "forwarding.gateway_id",
                "must be letters, digits, '-', '_' or '.'",
            );
        }
        if self.poll_interval_ms == 0 {
            problems.add("forwarding.poll_interval_ms", "must be above 0");
        }
        if self.admin_token.is_some() {
            problems.add(
                "forwarding.admin_token",
                "has moved: the admin API is served on a listener of its own; \
                 set [admin] listen and [admin] token instead",
            );
        }
    }
}

/// The checks of one target that depend on its kind's `protocol`: the URL's
/// scheme, the keys the protocol needs, and the numbers within its limits.
pub fn check_target(
    target: &TargetSettings,
    key: &str,
    protocol: &Protocol,
    problems: &mut Problems<'_>,
) {
    if !protocol
        .url_schemes
        .iter()
        .any(|scheme| target.url.starts_with(scheme))
    {
        problems.add(
            &format!("{key}.url"),
            format!(
                "{:?} is not a {} URL",
                target.url,
                protocol.url_schemes.join(" or ")
            ),
        );
    }
    for missing in (protocol.missing_keys)(target) {
        problems.add(
            &format!("{key}.{missing}"),
            format!("a {} target needs it", protocol.kind),
        );
    }
    if let Some(rate) = target.requests_per_second {
        if !(rate.is_finite() && (0.001..=100_000.0).contains(&rate)) {
            problems.add(
                &format!("{key}.requests_per_second"),
                format!("{rate} is not a rate between 0.001 and 100000"),
            );
        }
    }
    if let Some(size) = target.batch_size {
        let limit = protocol.batch_limit;
        if size == 0 || size > limit {
            problems.add(
                &format!("{key}.batch_size"),
                format!(
                    "must be between 1 and {limit} for a {} target",
                    protocol.kind
                ),
            );
        }
    }
    if target.concurrency == Some(0) {
        problems.add(&format!("{key}.concurrency"), "must be above 0");
    }
    if !(target.timeout_secs.is_finite()
        && target.timeout_secs > 0.0
        && target.timeout_secs <= 3600.0)
    {
        problems.add(
            &format!("{key}.timeout_secs"),
            format!(
                "{} is not a number of seconds in (0, 3600]",
                target.timeout_secs
            ),
        );
    }
}
