//! The whole configuration tree: one TOML file plus `LEADGATE__SECTION__KEY`
//! environment overrides (the `config` crate merges them), checked once at
//! start-up. `leadgate check` prints every problem this module finds, each
//! naming the file, the key and what is wrong, instead of stopping at the first.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::lead::Employee;
use crate::mapping::Mapping;
use crate::problems::Problems;

pub use crate::dialect::bitrix24::settings::Bitrix24Settings;
pub use crate::dialect::livetex::settings::LivetexSettings;
pub use crate::dialect::salesman::settings::SalesmanSettings;
pub use crate::dialect::uis::settings::UisSettings;
pub use crate::forward::settings::{
    ForwardRuleSettings, ForwardingSettings, PredicateSettings, RetrySettings, TargetKind,
    TargetSettings,
};
pub use crate::problems::ConfigProblem;

/// Prefix of environment overrides: `LEADGATE__SERVER__LISTEN=0.0.0.0:8080`.
pub const ENV_PREFIX: &str = "LEADGATE";
/// More connection threads than this is a typo, not a machine.
const MAX_CONNECTION_THREADS: usize = 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub store: StoreSettings,
    #[serde(default)]
    pub mappings: MappingSettings,
    #[serde(default)]
    pub leads: LeadSettings,
    #[serde(default)]
    pub employees: Vec<Employee>,
    #[serde(default)]
    pub salesman: SalesmanSettings,
    #[serde(default)]
    pub bitrix24: Bitrix24Settings,
    #[serde(default)]
    pub livetex: LivetexSettings,
    #[serde(default)]
    pub uis: UisSettings,
    /// Which employees leads are routed to, by site and department (LiveTex
    /// `listRouted`/`showRouted` and the operators' view of `list`).
    #[serde(default)]
    pub routing: Vec<RoutingSettings>,
    /// Where accepted leads are forwarded, and how.
    #[serde(default)]
    pub forwarding: ForwardingSettings,
    /// The file the settings came from, for messages.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub listen: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// A client must finish sending its request headers within this time.
    pub header_read_timeout_secs: f64,
    /// A request must be answered within this time.
    pub request_timeout_secs: f64,
    /// On SIGINT/SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace_secs: f64,
    /// Threads serving connections, each its own runtime; 0 means one per core.
    pub connection_threads: usize,
    pub tls: Option<TlsSettings>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:8080".into(),
            body_limit_bytes: 1024 * 1024,
            header_read_timeout_secs: 10.0,
            request_timeout_secs: 30.0,
            shutdown_grace_secs: 20.0,
            connection_threads: 0,
            tls: None,
        }
    }
}

impl ServerSettings {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.header_read_timeout_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_grace_secs)
    }
}

/// PEM files; relative paths are taken from the working directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// The SQLite file, created with its directory on first run.
    pub path: PathBuf,
    pub read_connections: usize,
    /// Most inserts committed together in one transaction (one fsync).
    pub max_batch: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: PathBuf::from("./data/leadgate.db"),
            read_connections: 4,
            max_batch: 512,
        }
    }
}

/// Paths of mapping files that replace the built-in ones, per dialect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSettings {
    pub salesman: Option<PathBuf>,
    pub bitrix24: Option<PathBuf>,
    pub livetex: Option<PathBuf>,
    pub uis: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeadSettings {
    /// Country code given to national phone numbers ("8 900 …", "900 …").
    pub phone_default_country: String,
    /// Longest lead text, in characters.
    pub max_text_chars: usize,
    /// Longest value of any other field, in characters.
    pub max_field_chars: usize,
}

impl Default for LeadSettings {
    fn default() -> Self {
        LeadSettings {
            phone_default_country: "7".into(),
            max_text_chars: 65_535,
            max_field_chars: 4_096,
        }
    }
}

/// Leads of these sites and departments (an empty list means any) are
/// routed to these employees (logins).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    #[serde(default)]
    pub site_ids: Vec<i64>,
    #[serde(default)]
    pub department_ids: Vec<i64>,
    pub employees: Vec<String>,
}

/// Loaded mapping files, one per dialect, compiled.
/// Shared: each dialect's server side and its forwarding client use the
/// same compiled mapping.
#[derive(Debug)]
pub struct Mappings {
    pub salesman: std::sync::Arc<Mapping>,
    pub bitrix24: std::sync::Arc<Mapping>,
    pub livetex: std::sync::Arc<Mapping>,
    pub uis: std::sync::Arc<Mapping>,
}

impl Settings {
    /// Reads `path` and the environment overrides. Syntax and type errors come
    /// back as problems naming the file.
    pub fn load(path: &Path) -> Result<Settings, Vec<ConfigProblem>> {
        let source = path.display().to_string();
        let problem = |key: &str, problem: String| ConfigProblem {
            file: source.clone(),
            key: key.into(),
            problem,
        };
        if !path.is_file() {
            return Err(vec![problem("(file)", "no such file".into())]);
        }
        let built = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|error| vec![problem("(file)", error.to_string())])?;
        let mut settings: Settings = built
            .try_deserialize()
            .map_err(|error| vec![problem("(settings)", error.to_string())])?;
        settings.source = source;
        Ok(settings)
    }

    /// Every semantic problem: references between sections, files that must
    /// exist, numbers that must be positive, and the mapping files.
    pub fn check(&self) -> Result<Mappings, Vec<ConfigProblem>> {
        let mut problems = Problems::new(&self.source, &self.employees);
        self.check_server(&mut problems);
        self.check_employees(&mut problems);
        self.forwarding.check(&mut problems);
        self.salesman.check(&mut problems);
        self.bitrix24.check(&mut problems);
        self.livetex.check(&mut problems);
        self.uis.check(&mut problems);
        for (index, route) in self.routing.iter().enumerate() {
            for login in &route.employees {
                problems.employee(&format!("routing[{index}].employees"), login);
            }
        }
        let mut problems = problems.into_vec();
        match self.mappings() {
            Ok(mappings) if problems.is_empty() => Ok(mappings),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        }
    }

    /// `[server]`, `[store]` and `[leads]`.
    fn check_server(&self, problems: &mut Problems<'_>) {
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problems.add(
                "server.listen",
                format!("{:?} is not an address:port", self.server.listen),
            );
        }
        problems.above_zero(
            "server.body_limit_bytes",
            self.server.body_limit_bytes as u64,
        );
        if self.server.connection_threads > MAX_CONNECTION_THREADS {
            problems.add(
                "server.connection_threads",
                format!(
                    "{} is more than {MAX_CONNECTION_THREADS} threads (0 means one per core)",
                    self.server.connection_threads
                ),
            );
        }
        for (key, value) in [
            (
                "server.header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
            (
                "server.request_timeout_secs",
                self.server.request_timeout_secs,
            ),
            (
                "server.shutdown_grace_secs",
                self.server.shutdown_grace_secs,
            ),
        ] {
            if !(value.is_finite() && value > 0.0 && value < 86_400.0) {
                problems.add(key, format!("{value} is not a number of seconds above 0"));
            }
        }
        if let Some(tls) = &self.server.tls {
            for (key, path) in [("server.tls.cert", &tls.cert), ("server.tls.key", &tls.key)] {
                if !path.is_file() {
                    problems.add(key, format!("{} is not a readable file", path.display()));
                }
            }
        }
        if self.store.path.as_os_str().is_empty() {
            problems.add("store.path", "must not be empty");
        }
        problems.above_zero("store.read_connections", self.store.read_connections as u64);
        problems.above_zero("store.max_batch", self.store.max_batch as u64);
        let country = &self.leads.phone_default_country;
        if country.is_empty() || country.len() > 3 || !country.bytes().all(|b| b.is_ascii_digit()) {
            problems.add(
                "leads.phone_default_country",
                format!("{country:?} is not a country calling code such as \"7\""),
            );
        }
    }

    /// `[[employees]]`: ids and logins unique, present and positive.
    fn check_employees(&self, problems: &mut Problems<'_>) {
        let mut ids = HashSet::new();
        let mut logins = HashSet::new();
        for (index, employee) in self.employees.iter().enumerate() {
            let key = format!("employees[{index}]");
            if !ids.insert(employee.id) {
                problems.add(
                    &format!("{key}.id"),
                    format!("id {} is used twice", employee.id),
                );
            }
            if employee.id <= 0 {
                problems.add(&format!("{key}.id"), "must be above 0");
            }
            if employee.login.trim().is_empty() {
                problems.add(&format!("{key}.login"), "must not be empty");
            } else if !logins.insert(employee.login.to_lowercase()) {
                problems.add(
                    &format!("{key}.login"),
                    format!("login {:?} is used twice", employee.login),
                );
            }
        }
    }

    /// Only the four mapping files, compiled (what `translate` needs from a
    /// configuration), with every problem they have.
    pub fn mappings(&self) -> Result<Mappings, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let uis = load_mapping(
            "uis",
            self.mappings.uis.as_deref(),
            crate::dialect::uis::missing_in_mapping,
            &mut problems,
        );
        let livetex = load_mapping(
            "livetex",
            self.mappings.livetex.as_deref(),
            crate::dialect::livetex::missing_in_mapping,
            &mut problems,
        );
        let bitrix24 = load_mapping(
            "bitrix24",
            self.mappings.bitrix24.as_deref(),
            crate::dialect::bitrix24::missing_in_mapping,
            &mut problems,
        );
        let salesman = load_mapping(
            "salesman",
            self.mappings.salesman.as_deref(),
            crate::dialect::salesman::missing_in_mapping,
            &mut problems,
        );
        match (salesman, bitrix24, livetex, uis) {
            (Some(salesman), Some(bitrix24), Some(livetex), Some(uis)) if problems.is_empty() => {
                Ok(Mappings {
                    salesman: salesman.into(),
                    bitrix24: bitrix24.into(),
                    livetex: livetex.into(),
                    uis: uis.into(),
                })
            }
            _ => Err(problems),
        }
    }
}

/// A dialect's mapping file (the user's own, or the built-in one), with
/// every problem it has, or the parts its dialect needs and it lacks, added
/// to `problems`.
fn load_mapping(
    dialect: &str,
    path: Option<&Path>,
    missing: fn(&Mapping) -> Vec<(String, String)>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Mapping> {
    let loaded = match path {
        Some(path) => Mapping::from_file(path),
        None => Mapping::built_in(dialect),
    };
    match loaded {
        Ok(mapping) => {
            for (key, problem) in missing(&mapping) {
                problems.push(ConfigProblem {
                    file: mapping.source.clone(),
                    key,
                    problem,
                });
            }
            Some(mapping)
        }
        Err(errors) => {
            problems.extend(errors.into_iter().map(ConfigProblem::from));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let problems = Settings::load(file.path()).unwrap().check().unwrap_err();
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
    fn a_minimal_file_gets_every_default() {
        let file = write(GOOD);
        let settings = Settings::load(file.path()).unwrap();
        assert_eq!(settings.server.body_limit_bytes, 1024 * 1024);
        assert_eq!(settings.store.path, PathBuf::from("./data/leadgate.db"));
        assert!(settings.check().is_ok());
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
        let problems = settings.check().err().unwrap();
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
        let problems = Settings::load(file.path()).unwrap().check().err().unwrap();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["records.list", "records.info", "values.status"]);
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
        let problems = Settings::load(file.path()).unwrap().check().err().unwrap();
        assert!(problems
            .iter()
            .any(|p| p.file == mapping.path().display().to_string()));
    }
}
