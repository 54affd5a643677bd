//! Forwarding rules compiled once at start-up: which accepted leads go to
//! which targets. Evaluated on the request path before the insert, so the
//! lead's delivery rows join its own transaction.

use std::borrow::Cow;
use std::collections::HashSet;

use super::settings::{ForwardRuleSettings, PredicateSettings};
use crate::lead::path::{FieldPath, FieldValue};
use crate::lead::{Channel, ContactPoint, Lead};

#[derive(Debug, Default)]
pub struct ForwardRules {
    rules: Vec<Rule>,
    /// Targets that apply changes to leads they have (`Protocol::updates`).
    updates_to: Vec<String>,
}

#[derive(Debug)]
struct Rule {
    targets: Vec<String>,
    dialects: HashSet<String>,
    site_ids: HashSet<i64>,
    channels: HashSet<Channel>,
    utm_sources: HashSet<String>,
    utm_campaigns: HashSet<String>,
    when: Vec<Predicate>,
}

#[derive(Debug)]
struct Predicate {
    field: FieldPath,
    test: Test,
}

#[derive(Debug)]
enum Test {
    Equals(String),
    NotEquals(String),
    OneOf(HashSet<String>),
    /// Lower-cased needle.
    Contains(String),
    Present(bool),
}

impl ForwardRules {
    /// Compiles checked settings (`Settings::check` has refused unknown
    /// paths, channels and predicates without a test; such parts are skipped).
    pub fn compile(settings: &[ForwardRuleSettings]) -> ForwardRules {
        let rules = settings
            .iter()
            .map(|rule| Rule {
                targets: rule.targets.clone(),
                dialects: rule.dialects.iter().cloned().collect(),
                site_ids: rule.site_ids.iter().copied().collect(),
                channels: rule
                    .channels
                    .iter()
                    .filter_map(|name| Channel::parse(name))
                    .collect(),
                utm_sources: rule.utm_sources.iter().cloned().collect(),
                utm_campaigns: rule.utm_campaigns.iter().cloned().collect(),
                when: rule.when.iter().filter_map(Predicate::compile).collect(),
            })
            .collect();
        ForwardRules {
            rules,
            updates_to: Vec::new(),
        }
    }

    /// The targets that apply changes to the leads they have: a change to
    /// a lead is queued for those of them that have it.
    pub fn with_updates_to(mut self, targets: Vec<String>) -> ForwardRules {
        self.updates_to = targets;
        self
    }

    pub fn updates_to(&self) -> &[String] {
        &self.updates_to
    }

    /// The targets a lead that arrived through `dialect` goes to, each once,
    /// in the order the rules name them.
    pub fn targets_for(&self, dialect: &str, lead: &Lead) -> Vec<String> {
        let mut targets: Vec<String> = Vec::new();
        for rule in self.rules.iter().filter(|rule| rule.matches(dialect, lead)) {
            for target in &rule.targets {
                if !targets.contains(target) {
                    targets.push(target.clone());
                }
            }
        }
        targets
    }
}

fn allows<T: std::hash::Hash + Eq>(set: &HashSet<T>, value: Option<&T>) -> bool {
    set.is_empty() || value.is_some_and(|value| set.contains(value))
}

impl Rule {
    fn matches(&self, dialect: &str, lead: &Lead) -> bool {
        (self.dialects.is_empty() || self.dialects.contains(dialect))
            && allows(&self.site_ids, lead.site.id.as_ref())
            && allows(&self.channels, lead.channel.as_ref())
            && allows(&self.utm_sources, lead.utm.source.as_ref())
            && allows(&self.utm_campaigns, lead.utm.campaign.as_ref())
            && self.when.iter().all(|predicate| predicate.holds(lead))
    }
}

impl Predicate {
    fn compile(settings: &PredicateSettings) -> Option<Predicate> {
        let field = FieldPath::parse(&settings.field)?;
        let test = if let Some(value) = &settings.equals {
            Test::Equals(value.clone())
        } else if let Some(value) = &settings.not_equals {
            Test::NotEquals(value.clone())
        } else if let Some(values) = &settings.one_of {
            Test::OneOf(values.iter().cloned().collect())
        } else if let Some(needle) = &settings.contains {
            Test::Contains(needle.to_lowercase())
        } else {
            Test::Present(settings.present?)
        };
        Some(Predicate { field, test })
    }

    fn holds(&self, lead: &Lead) -> bool {
        let values = values_of(&self.field, lead);
        match &self.test {
            Test::Present(wanted) => values.is_empty() != *wanted,
            Test::Equals(expected) => values.iter().any(|value| value == expected),
            Test::NotEquals(unwanted) => values.iter().all(|value| value != unwanted),
            Test::OneOf(allowed) => values.iter().any(|value| allowed.contains(value.as_ref())),
            Test::Contains(needle) => values
                .iter()
                .any(|value| value.to_lowercase().contains(needle.as_str())),
        }
    }
}

/// A field's values as text; a contact list gives every entry (raw and
/// normalised), so `phones equals +79001112233` matches however it was typed.
fn values_of<'a>(field: &FieldPath, lead: &'a Lead) -> Vec<Cow<'a, str>> {
    let points: Option<&'a [ContactPoint]> = match field {
        FieldPath::Phones => Some(&lead.phones),
        FieldPath::Emails => Some(&lead.emails),
        FieldPath::Webs => Some(&lead.webs),
        FieldPath::Messengers => Some(&lead.messengers),
        _ => None,
    };
    if let Some(points) = points {
        return points
            .iter()
            .flat_map(|point| {
                [
                    Cow::Borrowed(point.value.as_str()),
                    Cow::Borrowed(point.normalized.as_str()),
                ]
            })
            .collect();
    }
    let text = match field.get(lead) {
        FieldValue::Absent => return Vec::new(),
        FieldValue::Text(text) => Cow::Borrowed(text),
        FieldValue::Composed(text) => Cow::Owned(text),
        FieldValue::Enum(name) => Cow::Borrowed(name),
        FieldValue::Int(number) => Cow::Owned(number.to_string()),
        FieldValue::Float(number) => Cow::Owned(number.to_string()),
        FieldValue::Bool(flag) => Cow::Borrowed(if flag { "true" } else { "false" }),
        FieldValue::Time(time) => Cow::Owned(time.to_rfc3339()),
        FieldValue::Date(date) => Cow::Owned(date.to_string()),
        FieldValue::Employee(id, _) => Cow::Owned(id.to_string()),
        FieldValue::Json(serde_json::Value::String(text)) => Cow::Borrowed(text.as_str()),
        FieldValue::Json(serde_json::Value::Null) => return Vec::new(),
        FieldValue::Json(value) => Cow::Owned(value.to_string()),
    };
    vec![text]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> ForwardRules {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            rules: Vec<ForwardRuleSettings>,
        }
        let wrapper: Wrapper = toml::from_str(text).unwrap();
        ForwardRules::compile(&wrapper.rules)
    }

    fn lead() -> Lead {
        let mut lead = Lead::new(chrono::Utc::now());
        lead.utm.source = Some("google".into());
        lead.site.id = Some(7);
        lead.channel = Some(Channel::Web);
        lead.phones
            .push(ContactPoint::phone("8 (900) 111-22-33", "7"));
        lead.custom
            .insert("UF_CRM_PLAN".into(), serde_json::json!("gold"));
        lead
    }

    #[test]
    fn every_criterion_must_hold_and_targets_are_united_once() {
        let rules = rule(
            r#"
            [[rules]]
            targets = ["a", "b"]
            dialects = ["salesman"]
            site_ids = [7]
            channels = ["web"]
            utm_sources = ["google"]
            [[rules.when]]
            field = "phones"
            equals = "+79001112233"
            [[rules.when]]
            field = "custom.UF_CRM_PLAN"
            one_of = ["gold", "silver"]
            [[rules]]
            targets = ["b", "c"]
            [[rules.when]]
            field = "text"
            present = false
            [[rules]]
            targets = ["d"]
            utm_campaigns = ["spring"]
            "#,
        );
        assert_eq!(rules.targets_for("salesman", &lead()), ["a", "b", "c"]);
        assert_eq!(rules.targets_for("bitrix24", &lead()), ["b", "c"]);
        let mut other = lead();
        other.site.id = None;
        other.text = Some("hello".into());
        assert!(rules.targets_for("salesman", &other).is_empty());
    }

    #[test]
    fn contains_ignores_case_and_not_equals_needs_every_value_to_differ() {
        let rules = rule(
            r#"
            [[rules]]
            targets = ["x"]
            [[rules.when]]
            field = "utm.source"
            contains = "GOO"
            [[rules.when]]
            field = "stage"
            not_equals = "junk"
            "#,
        );
        assert_eq!(rules.targets_for("uis", &lead()), ["x"]);
        let mut junk = lead();
        junk.stage = crate::lead::Stage::Junk;
        assert!(rules.targets_for("uis", &junk).is_empty());
    }
}
