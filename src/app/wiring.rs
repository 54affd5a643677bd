//! The dialect registry, and everything that needs to know which dialects
//! exist: building each from its section of the settings file, loading its
//! mapping file, knowing every forwarding target kind, and checking the
//! whole file (`leadgate check`).

use std::sync::Arc;

use crate::config::{ConfigProblem, ForwardingSettings, Settings, TargetSettings};
use crate::dialect::{self, Dialect};
use crate::forward::{nats, webhook, Protocol};
use crate::mapping::{Mapping, FORWARD_RECORD};
use crate::problems::Problems;

/// Builds a dialect from its section (absent: its defaults), or says which
/// key of the section is wrong.
pub type Plugin = fn(Option<&serde_json::Value>) -> Result<Box<dyn Dialect>, (String, String)>;

/// Every dialect, one line each: adding a dialect is its folder, its
/// mapping file and a line here.
const DIALECTS: &[(&str, Plugin)] = &[
    ("salesman", dialect::salesman::plugin::plugin),
    ("bitrix24", dialect::bitrix24::plugin::plugin),
    ("livetex", dialect::livetex::plugin::plugin),
    ("uis", dialect::uis::plugin::plugin),
];

/// Forwarding target kinds that are not dialects.
const OTHER_TARGETS: &[&Protocol] = &[&webhook::PROTOCOL, &nats::PROTOCOL];

/// Sections of the settings file that are not dialects'.
const GENERAL_SECTIONS: &[&str] = &[
    "server",
    "store",
    "mappings",
    "leads",
    "employees",
    "routing",
    "forwarding",
    "admin",
];

/// One dialect and its compiled mapping file, which its server side and
/// its forwarding client share.
pub struct Wired {
    pub dialect: Box<dyn Dialect>,
    pub mapping: Arc<Mapping>,
}

/// Every dialect, built and with its mapping.
pub struct Wiring {
    pub dialects: Vec<Wired>,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Wiring")
            .field("dialects", &self.dialect_names())
            .finish()
    }
}

impl Wiring {
    pub fn dialect(&self, name: &str) -> Option<&Wired> {
        self.dialects
            .iter()
            .find(|wired| wired.dialect.name() == name)
    }

    /// The wire protocol of a forwarding target kind, if there is one.
    pub fn protocol(&self, kind: &str) -> Option<&'static Protocol> {
        self.dialect(kind)
            .map(|wired| wired.dialect.protocol())
            .or_else(|| {
                OTHER_TARGETS
                    .iter()
                    .copied()
                    .find(|protocol| protocol.kind == kind)
            })
    }

    /// The configured targets whose kind applies changes to leads it has.
    pub fn targets_applying_updates(&self, settings: &ForwardingSettings) -> Vec<String> {
        settings
            .targets
            .iter()
            .filter(|target| {
                self.protocol(&target.kind)
                    .is_some_and(|protocol| protocol.updates.is_some())
            })
            .map(|target| target.name.clone())
            .collect()
    }

    /// Every forwarding target kind.
    pub fn target_kinds(&self) -> Vec<&'static str> {
        self.dialects
            .iter()
            .map(|wired| wired.dialect.protocol().kind)
            .chain(OTHER_TARGETS.iter().map(|protocol| protocol.kind))
            .collect()
    }

    pub fn dialect_names(&self) -> Vec<&'static str> {
        self.dialects
            .iter()
            .map(|wired| wired.dialect.name())
            .collect()
    }
}

/// Every dialect built from its section and its mapping file compiled, with
/// every problem those have; nothing else is checked (what `leadgate
/// translate` needs).
pub fn build(settings: &Settings) -> Result<Wiring, Vec<ConfigProblem>> {
    let mut problems = Problems::new(&settings.source, &settings.employees);
    let wiring = build_into(settings, &mut problems);
    match wiring {
        Some(wiring) if problems.is_empty() => Ok(wiring),
        _ => Err(problems.into_vec()),
    }
}

/// Everything wrong with the settings file, or the dialects wired: what
/// `leadgate check` prints and the gateway refuses to start with.
pub fn check(settings: &Settings) -> Result<Wiring, Vec<ConfigProblem>> {
    let mut problems = Problems::new(&settings.source, &settings.employees);
    settings.check(&mut problems);
    let wiring = build_into(settings, &mut problems);
    if let Some(wiring) = &wiring {
        for wired in &wiring.dialects {
            wired.dialect.check(&mut problems);
        }
        check_forwarding(settings, wiring, &mut problems);
    }
    match wiring {
        Some(wiring) if problems.is_empty() => Ok(wiring),
        _ => Err(problems.into_vec()),
    }
}

/// What a valid configuration may still get wrong, for `leadgate check` to
/// say: settings left to per-process defaults on a store that several
/// replicas share.
pub fn warnings(settings: &Settings, wiring: &Wiring) -> Vec<String> {
    let mut warnings = Vec::new();
    if settings.store.url.is_none() {
        return warnings;
    }
    warnings.extend(
        wiring
            .dialects
            .iter()
            .flat_map(|wired| wired.dialect.per_process_secrets())
            .map(|(key, why)| {
                format!(
                    "{key}: not set, while [store] url lets several replicas share the store: {why}"
                )
            }),
    );
    warnings
}

/// Per forwarding target, how changes to the leads it has reach it (or
/// that they cannot), for `leadgate check` to say.
pub fn update_notes(settings: &Settings, wiring: &Wiring) -> Vec<String> {
    settings
        .forwarding
        .targets
        .iter()
        .filter_map(|target| {
            let protocol = wiring.protocol(&target.kind)?;
            Some(match protocol.updates {
                Some(how) => format!(
                    "target {:?} ({}): changes to its leads are forwarded as {how}",
                    target.name, target.kind
                ),
                None => format!(
                    "target {:?} ({}): cannot apply changes to a lead; status, assignee, \
                     completion and text changes stay in the gateway",
                    target.name, target.kind
                ),
            })
        })
        .collect()
}

fn build_into(settings: &Settings, problems: &mut Problems<'_>) -> Option<Wiring> {
    for section in settings.sections.keys() {
        if !DIALECTS.iter().any(|(name, _)| name == section) {
            let known: Vec<&str> = GENERAL_SECTIONS
                .iter()
                .chain(DIALECTS.iter().map(|(name, _)| name))
                .copied()
                .collect();
            problems.add(
                section,
                format!("unknown section; the sections are {}", known.join(", ")),
            );
        }
    }
    for name in settings.mappings.keys() {
        if !DIALECTS.iter().any(|(dialect, _)| dialect == name) {
            problems.add(&format!("mappings.{name}"), "no dialect has this name");
        }
    }
    let mut dialects = Vec::new();
    let mut complete = true;
    for (name, plugin) in DIALECTS {
        let dialect = match plugin(settings.sections.get(*name)) {
            Ok(dialect) => dialect,
            Err((key, problem)) => {
                problems.add(&key, problem);
                complete = false;
                continue;
            }
        };
        let path = settings.mappings.get(*name);
        let loaded = match path {
            Some(path) => Mapping::from_file(path),
            None => Mapping::built_in(name),
        };
        match loaded {
            Ok(mapping) => {
                for (key, problem) in dialect.missing_in_mapping(&mapping) {
                    problems.push(ConfigProblem {
                        file: mapping.source.clone(),
                        key,
                        problem,
                    });
                }
                dialects.push(Wired {
                    dialect,
                    mapping: Arc::new(mapping),
                });
            }
            Err(errors) => {
                for error in errors {
                    problems.push(error.into());
                }
                complete = false;
            }
        }
    }
    complete.then_some(Wiring { dialects })
}

/// What `[forwarding]` refers to by name: target kinds, the mapping
/// records a dialect target fills its requests from, and dialect names in
/// rules.
fn check_forwarding(settings: &Settings, wiring: &Wiring, problems: &mut Problems<'_>) {
    for (index, target) in settings.forwarding.targets.iter().enumerate() {
        let key = format!("forwarding.targets[{index}]");
        match wiring.protocol(&target.kind) {
            None => problems.add(
                &format!("{key}.kind"),
                format!(
                    "{:?} is not one of {}",
                    target.kind,
                    wiring.target_kinds().join(", ")
                ),
            ),
            Some(protocol) => {
                crate::forward::settings::check_target(target, &key, protocol, problems);
                if let Some(wired) = wiring.dialect(&target.kind) {
                    if wired.mapping.record(FORWARD_RECORD).is_none() {
                        problems.push(ConfigProblem {
                            file: wired.mapping.source.clone(),
                            key: key.clone(),
                            problem: format!(
                                "a {} target needs [[records.{FORWARD_RECORD}]] in this mapping file",
                                target.kind
                            ),
                        });
                    }
                }
            }
        }
    }
    for (index, rule) in settings.forwarding.rules.iter().enumerate() {
        for name in &rule.dialects {
            if wiring.dialect(name).is_none() {
                problems.add(
                    &format!("forwarding.rules[{index}].dialects"),
                    format!(
                        "{name:?} is not one of {}",
                        wiring.dialect_names().join(", ")
                    ),
                );
            }
        }
    }
}

/// The configured target of `kind`, or one with placeholder credentials
/// where the configuration has none (what `leadgate translate` shows).
pub fn target_or_example(settings: &Settings, kind: &str, protocol: &Protocol) -> TargetSettings {
    settings
        .forwarding
        .targets
        .iter()
        .find(|target| target.kind == kind)
        .cloned()
        .unwrap_or_else(|| TargetSettings {
            name: kind.into(),
            kind: kind.into(),
            url: protocol.example_url.into(),
            login: Some("<login>".into()),
            apikey: Some("<apikey>".into()),
            password: Some("<password>".into()),
            token: Some("<access_token>".into()),
            secret: None,
            subject: None,
            stream: None,
            site_id: None,
            conversation_id: None,
            campaign_id: None,
            requests_per_second: None,
            batch_size: None,
            concurrency: None,
            timeout_secs: 15.0,
            path_fallback: None,
            astral_replacement: None,
            events_token: None,
        })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Settings;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    const GOOD: &str = r#"
[[employees]]
id = 1
name = "Иванов Иван"
login = "ivan@example.ru"

[salesman]
default_assignee = "ivan@example.ru"
[[salesman.credentials]]
apikey = "demo"
login = "ivan@example.ru"
"#;

    #[test]
    fn forwarding_problems_name_the_target_rule_and_key() {
        let file = write(&format!(
            r#"{GOOD}
[forwarding]
gateway_id = "has space"
lease_secs = -1
[[forwarding.targets]]
name = "crm"
kind = "salesman"
url = "ftp://crm"
[[forwarding.targets]]
name = "crm"
kind = "bitrix24"
url = "https://portal/rest/1/x/"
batch_size = 51
requests_per_second = 0
[[forwarding.targets]]
name = "events"
kind = "nats"
url = "nats://127.0.0.1:4222"
[[forwarding.rules]]
targets = ["crm", "ghost"]
dialects = ["fax"]
channels = ["pigeon"]
[[forwarding.rules.when]]
field = "no.such.path"
equals = "x"
contains = "y"
"#
        ));
        let problems = check(&Settings::load(file.path()).unwrap()).unwrap_err();
        let keys: Vec<&str> = problems
            .iter()
            .map(|problem| problem.key.as_str())
            .collect();
        for key in [
            "forwarding.targets[0].url",
            "forwarding.targets[0].login",
            "forwarding.targets[0].apikey",
            "forwarding.targets[1].name",
            "forwarding.targets[1].batch_size",
            "forwarding.targets[1].requests_per_second",
            "forwarding.targets[2].subject",
            "forwarding.rules[0].targets",
            "forwarding.rules[0].dialects",
            "forwarding.rules[0].channels",
            "forwarding.rules[0].when[0].field",
            "forwarding.rules[0].when[0]",
            "forwarding.lease_secs",
            "forwarding.gateway_id",
        ] {
            assert!(keys.contains(&key), "{key} missing from {problems:#?}");
        }
        assert!(problems
            .iter()
            .any(|problem| problem.problem.contains("\"ghost\" is not the name")));
    }

    #[test]
    fn check_says_which_targets_apply_changes() {
        let file = write(&format!(
            r#"{GOOD}
[[forwarding.targets]]
name = "crm"
kind = "salesman"
url = "https://crm.example.ru/developer/v1/leads"
login = "a"
apikey = "k"
[[forwarding.targets]]
name = "portal"
kind = "bitrix24"
url = "https://portal.example.ru/rest/1/code/"
"#
        ));
        let settings = Settings::load(file.path()).unwrap();
        let wiring = check(&settings).unwrap();
        let notes = update_notes(&settings, &wiring);
        assert!(notes[0].starts_with("target \"crm\" (salesman): cannot apply changes"));
        assert!(notes[1].contains("crm.lead.update"));
        assert_eq!(
            wiring.targets_applying_updates(&settings.forwarding),
            ["portal"]
        );
    }

    #[test]
    fn a_minimal_file_gets_every_default() {
        let file = write(GOOD);
        let settings = Settings::load(file.path()).unwrap();
        assert_eq!(settings.server.body_limit_bytes, 1024 * 1024);
        assert_eq!(settings.store.path, PathBuf::from("./data/leadgate.db"));
        assert!(check(&settings).is_ok());
    }

    #[test]
    fn problems_name_file_and_key() {
        let file = write(
            r#"
[server]
listen = "nowhere"
connection_threads = 100000
[[employees]]
id = 1
name = "A"
login = "a"
[[employees]]
id = 1
name = "B"
login = "A"
[salesman]
default_assignee = "ghost"
[[salesman.credentials]]
apikey = "k"
login = "nobody"
"#,
        );
        let settings = Settings::load(file.path()).unwrap();
        let problems = check(&settings).err().unwrap();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.listen",
                "server.connection_threads",
                "employees[1].id",
                "employees[1].login",
                "salesman.default_assignee",
                "salesman.credentials[0].login"
            ]
        );
        let file_name = file.path().display().to_string();
        assert!(problems.iter().all(|p| p.file == file_name));
    }

    #[test]
    fn a_mapping_without_what_the_dialect_reads_fails_check() {
        let mapping = write("[dialect]\nname = \"salesman\"\n[fields]\ntitle = \"name\"\n");
        let file = write(&format!(
            "{GOOD}\n[mappings]\nsalesman = {:?}\n",
            mapping.path().display().to_string()
        ));
        let problems = check(&Settings::load(file.path()).unwrap()).err().unwrap();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["records.list", "records.info", "values.status"]);
    }

    /// A dialect's section is read by the dialect: its unknown keys, a
    /// section no dialect owns and a mapping for no dialect are refused.
    #[test]
    fn unknown_sections_and_dialect_keys_are_refused() {
        let file = write(&format!(
            "{GOOD}\n[sever]\nlisten = \"x\"\n[uis]\nbogus = 1\n[mappings]\nfax = \"/nope\"\n"
        ));
        let problems = check(&Settings::load(file.path()).unwrap()).unwrap_err();
        let keys: Vec<&str> = problems
            .iter()
            .map(|problem| problem.key.as_str())
            .collect();
        assert_eq!(keys, ["sever", "mappings.fax", "uis"], "{problems:?}");
        assert!(problems[2].problem.contains("bogus"), "{problems:?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let file = write("[server]\nlisen = \"127.0.0.1:1\"\n");
        let problems = Settings::load(file.path()).err().unwrap();
        assert!(problems[0].problem.contains("lisen"), "{problems:?}");
    }

    #[test]
    fn a_broken_mapping_file_is_reported_with_its_own_name() {
        let mapping = write("[fields]\ntitle = \"no.such.path\"\n");
        let file = write(&format!(
            "{GOOD}\n[mappings]\nsalesman = {:?}\n",
            mapping.path().display().to_string()
        ));
        let problems = check(&Settings::load(file.path()).unwrap()).err().unwrap();
        assert!(problems
            .iter()
            .any(|p| p.file == mapping.path().display().to_string()));
    }
}
