//! The settings file: one TOML file plus `LEADGATE__SECTION__KEY`
//! environment overrides (the `config` crate merges them). This module owns
//! the sections every gateway has (`[server]`, `[store]`, `[leads]`,
//! `[[employees]]`, `[[routing]]`) and assembles `[forwarding]` from its
//! owner; each dialect's section is kept as it was written and read by that
//! dialect, which the composition root (`app::wiring`) builds and checks.
//! `leadgate check` prints every problem, each naming the file, the key and
//! what is wrong, instead of stopping at the first.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod secrets;

use crate::lead::Employee;
use crate::problems::Problems;

pub use crate::forward::settings::{
    ForwardRuleSettings, ForwardingSettings, PredicateSettings, RetrySettings, TargetSettings,
};
pub use crate::problems::ConfigProblem;

/// Prefix of environment overrides: `LEADGATE__SERVER__LISTEN=0.0.0.0:8080`.
pub const ENV_PREFIX: &str = "LEADGATE";
/// More connection threads than this is a typo, not a machine.
const MAX_CONNECTION_THREADS: usize = 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub store: StoreSettings,
    /// Mapping files that replace the built-in ones, by dialect name.
    #[serde(default)]
    pub mappings: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub leads: LeadSettings,
    #[serde(default)]
    pub employees: Vec<Employee>,
    /// Which employees leads are routed to, by site and department (LiveTex
    /// `listRouted`/`showRouted` and the operators' view of `list`).
    #[serde(default)]
    pub routing: Vec<RoutingSettings>,
    /// Where accepted leads are forwarded, and how.
    #[serde(default)]
    pub forwarding: ForwardingSettings,
    /// The admin listener (metrics, deliveries); no admin surface without it.
    #[serde(default)]
    pub admin: Option<AdminSettings>,
    /// Every other section as written: a dialect's, read by that dialect.
    /// The composition root refuses a section no dialect owns.
    #[serde(flatten)]
    pub sections: BTreeMap<String, serde_json::Value>,
    /// The file the settings came from, for messages.
    #[serde(skip)]
    pub source: String,
}

/// `[admin]`: a second listener, for operators only: `/metrics`,
/// `/healthz`, `/readyz`, and with a token the `/admin/*` calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    pub listen: String,
    /// Bearer token of the `/admin/*` calls; without it they are not served.
    pub token: Option<String>,
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
    /// A client that reads nothing of its answer for this long is cut off.
    pub write_timeout_secs: f64,
    /// Connections served at once (a new one past it is answered 503); 0
    /// means what the open-files limit allows, less a reserve for the
    /// store and outgoing connections.
    pub max_connections: usize,
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
            write_timeout_secs: 30.0,
            max_connections: 0,
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
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.write_timeout_secs)
    }

    /// `max_connections`, or when 0 the open-files soft limit less
    /// [`RESERVED_FILES`].
    pub fn connection_cap(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let (soft, _hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024));
        let soft = usize::try_from(soft).unwrap_or(usize::MAX);
        soft.saturating_sub(RESERVED_FILES).max(16)
    }
}

/// Files kept free of client connections when the cap follows the
/// open-files limit: the store's database, log and reader connections,
/// forwarding clients' sockets, the admin's own requests.
pub const RESERVED_FILES: usize = 128;

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
    /// `postgres://user@host:port/database`: the PostgreSQL store instead
    /// of the SQLite file, for several replicas on one database.
    pub url: Option<String>,
    /// The PostgreSQL schema the tables live in (created if missing);
    /// the user's default `search_path` when unset.
    pub schema: Option<String>,
    /// PostgreSQL connections one process holds at most.
    pub pool_size: usize,
    /// PostgreSQL transactions of inserts in flight at once.
    pub writers: usize,
    pub read_connections: usize,
    /// Most inserts committed together in one transaction (one fsync).
    pub max_batch: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: PathBuf::from("./data/leadgate.db"),
            url: None,
            schema: None,
            pool_size: 16,
            writers: 4,
            read_connections: 4,
            max_batch: 512,
        }
    }
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
        let mut raw: serde_json::Value = built
            .try_deserialize()
            .map_err(|error| vec![problem("(settings)", error.to_string())])?;
        let mut unresolved = Vec::new();
        secrets::resolve(&mut raw, &mut unresolved);
        if !unresolved.is_empty() {
            return Err(unresolved
                .into_iter()
                .map(|(key, reason)| problem(&key, reason))
                .collect());
        }
        // Back through the config crate's own deserializer, so values read
        // as they always have (numbers given as strings, and the like).
        let resolved = config::Config::try_from(&raw)
            .map_err(|error| vec![problem("(file)", error.to_string())])?;
        let mut settings: Settings = resolved
            .try_deserialize()
            .map_err(|error| vec![problem("(settings)", error.to_string())])?;
        settings.source = source;
        Ok(settings)
    }

    /// The problems of the sections this module owns, and of
    /// `[forwarding]` as far as it can be checked without knowing the
    /// dialects (`app::wiring::check` adds the rest).
    pub fn check(&self, problems: &mut Problems<'_>) {
        self.check_server(problems);
        self.check_employees(problems);
        self.forwarding.check(problems);
        for (index, route) in self.routing.iter().enumerate() {
            for login in &route.employees {
                problems.employee(&format!("routing[{index}].employees"), login);
            }
        }
    }

    /// `[server]`, `[store]` and `[leads]`.
    fn check_server(&self, problems: &mut Problems<'_>) {
        if let Some(admin) = &self.admin {
            if admin.listen.parse::<SocketAddr>().is_err() {
                problems.add(
                    "admin.listen",
                    format!("{:?} is not an address:port", admin.listen),
                );
            } else if admin.listen == self.server.listen && !admin.listen.ends_with(":0") {
                problems.add(
                    "admin.listen",
                    "must differ from server.listen: the admin API has a port of its own",
                );
            }
            if matches!(&admin.token, Some(token) if token.trim().len() < 16) {
                problems.add("admin.token", "must be at least 16 characters");
            }
        }
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
            ("server.write_timeout_secs", self.server.write_timeout_secs),
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
        if let Some(url) = &self.store.url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                problems.add("store.url", "must be a postgres:// URL");
            } else if let Err(error) = url.parse::<tokio_postgres::Config>() {
                problems.add("store.url", format!("is not a PostgreSQL URL: {error}"));
            }
        }
        problems.above_zero("store.pool_size", self.store.pool_size as u64);
        problems.above_zero("store.writers", self.store.writers as u64);
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
}
