//! What the operations page (`ops/`) is given by the composition root:
//! the configuration summary, which only the wiring can describe, and
//! `leadgate translate` behind the page's Translate section. Rebuilt by a
//! reload.

use std::sync::Arc;

use super::translate::Translator;
use super::wiring::Wiring;
use crate::config::Settings;
use crate::ops::{ConfigSummary, DialectSummary, Previews, RuleSummary, TargetSummary, View};

impl Previews for Translator {
    fn sources(&self) -> Vec<&'static str> {
        Translator::sources(self)
    }

    fn targets(&self) -> Vec<&'static str> {
        Translator::targets(self)
    }

    fn preview(&self, from: &str, to: &str, input: &[u8]) -> Result<String, String> {
        self.translate(from, to, input, 1)
            .map(|preview| preview.text)
            .map_err(|error| error.to_string())
    }
}

/// A translator that has no mapping to work with (a broken file a reload
/// refused cannot reach here; this covers a build that failed anyway).
struct NoPreviews(String);

impl Previews for NoPreviews {
    fn sources(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn targets(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn preview(&self, _: &str, _: &str, _: &[u8]) -> Result<String, String> {
        Err(self.0.clone())
    }
}

pub fn view(settings: &Settings, wiring: &Wiring) -> View {
    let previews: Arc<dyn Previews> = match Translator::new(settings) {
        Ok(translator) => Arc::new(translator),
        Err(error) => Arc::new(NoPreviews(error.to_string())),
    };
    View {
        summary: summary(settings, wiring),
        previews,
    }
}

fn summary(settings: &Settings, wiring: &Wiring) -> ConfigSummary {
    ConfigSummary {
        dialects: wiring
            .dialects
            .iter()
            .map(|wired| DialectSummary {
                name: wired.dialect.name().to_owned(),
                enabled: wired.dialect.enabled(),
            })
            .collect(),
        targets: settings
            .forwarding
            .targets
            .iter()
            .map(|target| TargetSummary {
                name: target.name.clone(),
                kind: target.kind.clone(),
                host: scheme_and_host(&target.url),
                updates: wiring
                    .protocol(&target.kind)
                    .and_then(|protocol| protocol.updates)
                    .map(str::to_owned),
                accepts_events: target.events_token.is_some(),
            })
            .collect(),
        rules: settings
            .forwarding
            .rules
            .iter()
            .map(|rule| {
                let mut when = Vec::new();
                let mut list = |name: &str, values: Vec<String>| {
                    if !values.is_empty() {
                        when.push(format!("{name}: {}", values.join(", ")));
                    }
                };
                list("dialects", rule.dialects.clone());
                list(
                    "site ids",
                    rule.site_ids.iter().map(i64::to_string).collect(),
                );
                list("channels", rule.channels.clone());
                list("utm_source", rule.utm_sources.clone());
                list("utm_campaign", rule.utm_campaigns.clone());
                list(
                    "fields",
                    rule.when
                        .iter()
                        .map(|predicate| predicate.field.clone())
                        .collect(),
                );
                RuleSummary {
                    targets: rule.targets.clone(),
                    when: if when.is_empty() {
                        "every lead".into()
                    } else {
                        when.join("; ")
                    },
                }
            })
            .collect(),
        store: match &settings.store.url {
            Some(url) => format!("PostgreSQL at {}", scheme_and_host(url)),
            None => format!("SQLite, {}", settings.store.path.display()),
        },
    }
}

/// `https://portal.bitrix24.ru` of `https://portal.bitrix24.ru/rest/1/code/`:
/// paths, queries and user info can carry secrets.
fn scheme_and_host(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", parsed.scheme()),
            (Some(host), None) => format!("{}://{host}", parsed.scheme()),
            (None, _) => parsed.scheme().to_owned(),
        },
        Err(_) => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_everything_that_can_hold_a_secret() {
        assert_eq!(
            scheme_and_host("https://portal.bitrix24.ru/rest/1/k9x2code/"),
            "https://portal.bitrix24.ru"
        );
        assert_eq!(
            scheme_and_host("postgres://user:pw@db.internal:5432/leads"),
            "postgres://db.internal:5432"
        );
        assert_eq!(
            scheme_and_host("https://crm.ru/leads?apikey=secret"),
            "https://crm.ru"
        );
    }
}
