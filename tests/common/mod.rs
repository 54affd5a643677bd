//! A real gateway on an ephemeral port, backed by a store in a temporary
//! directory, for the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use leadgate::app::Gateway;
use leadgate::config::Settings;
use tokio::net::TcpListener;

pub const APIKEY: &str = "test-apikey";
pub const LOGIN: &str = "demo@example.ru";

/// The account of the seed document's examples (its login and apikey), for
/// tests that replay the seed's own URLs.
pub const SEED_ACCOUNT: &str = r#"
[[employees]]
id = 10
name = "Владислав"
login = "vladislav@isaler.ru"
[[salesman.credentials]]
apikey = "aMgiCQyj8bCToNc47BZZYrRICoWSIl"
login = "vladislav@isaler.ru"
"#;

/// Employees and credentials every test shares; `extra` is appended.
/// The Bitrix24 webhook of employee 1 and an application token of employee 2.
pub const WEBHOOK_CODE: &str = "k9x2testcode";
pub const BITRIX24_TOKEN: &str = "test-bitrix24-token";
/// LiveTex password of employees 1 (admin) and 2 (manager).
pub const LIVETEX_PASSWORD: &str = "test-livetex-password";
/// UIS permanent keys of employee 1 (the second an agent key) and the
/// `login.user` password of employee 2.
pub const UIS_KEY: &str = "test-uis-key";
pub const UIS_AGENT_KEY: &str = "test-uis-agent-key";
pub const UIS_PASSWORD: &str = "test-uis-password";

/// The `[store]` section of a test gateway: the SQLite file at `store`, or,
/// with `LEADGATE_TEST_E2E_POSTGRES=1` (the dialect tests' second run in
/// `.ci/run`), a fresh schema on `LEADGATE_TEST_POSTGRES_URL`.
pub fn store_section(store: &Path) -> String {
    match (on_postgres(), std::env::var("LEADGATE_TEST_POSTGRES_URL")) {
        (true, Ok(url)) => postgres_store_section(&url, &schema_of(store)),
        _ => format!("[store]\npath = {:?}\n", store.display().to_string()),
    }
}

/// The schema of the gateway whose SQLite file would be `store`: kept in a
/// file beside it, so a gateway restarted in the same directory finds its
/// leads again, as it would in the file.
fn schema_of(store: &Path) -> String {
    let note = store.with_extension("schema");
    if let Ok(schema) = std::fs::read_to_string(&note) {
        return schema;
    }
    let schema = fresh_schema();
    std::fs::write(&note, &schema).unwrap();
    schema
}

/// The end-to-end tests run on PostgreSQL this time.
pub fn on_postgres() -> bool {
    std::env::var("LEADGATE_TEST_E2E_POSTGRES").is_ok_and(|flag| flag == "1")
}

/// `[store]` on PostgreSQL in `schema` (replicas of one test share it).
pub fn postgres_store_section(url: &str, schema: &str) -> String {
    format!("[store]\nurl = {url:?}\nschema = {schema:?}\npool_size = 8\n")
}

/// Drops the schemas that end-to-end test processes no longer running left
/// behind (the name carries the process id), once per process, so a
/// developer's database does not keep every run's (CI drops them all when
/// it ends). Whether a process runs is read from /proc; elsewhere nothing
/// is swept.
fn sweep_stale_schemas() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let Ok(url) = std::env::var("LEADGATE_TEST_POSTGRES_URL") else {
            return;
        };
        if !Path::new("/proc/self").exists() {
            return;
        }
        // Its own thread and runtime: callers may be inside one already.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                else {
                    return;
                };
                tokio::spawn(connection);
                let Ok(rows) = client
                    .query(
                        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'lg\\_e2e\\_%'",
                        &[],
                    )
                    .await
                else {
                    return;
                };
                for row in rows {
                    let schema: String = row.get(0);
                    let alive = schema
                        .split('_')
                        .nth(2)
                        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if !alive {
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                            .await;
                    }
                }
            });
        })
        .join();
    });
}

/// A PostgreSQL schema no other test uses.
pub fn fresh_schema() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    sweep_stale_schemas();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!(
        "lg_e2e_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn config_text(store: &Path, extra: &str) -> String {
    config_text_on(&store_section(store), extra)
}

pub fn config_text_on(store_section: &str, extra: &str) -> String {
    format!(
        r#"
{store_section}

[[employees]]
id = 1
name = "Координатор Демо"
login = "demo@example.ru"
role = "admin"

[[employees]]
id = 2
name = "Иванов Иван"
login = "ivanov@example.ru"
role = "manager"

[[employees]]
id = 3
name = "Уволенный"
login = "gone@example.ru"
active = false

[salesman]
default_assignee = "demo@example.ru"
[[salesman.credentials]]
apikey = "{APIKEY}"
login = "demo@example.ru"
[[salesman.credentials]]
apikey = "{APIKEY}"
login = "ivanov@example.ru"
[[salesman.credentials]]
apikey = "other-account-key"
login = "gone@example.ru"
[[bitrix24.webhooks]]
user_id = 1
code = "{WEBHOOK_CODE}"
login = "demo@example.ru"
[[bitrix24.tokens]]
token = "{BITRIX24_TOKEN}"
login = "ivanov@example.ru"
[[livetex.credentials]]
login = "demo@example.ru"
password = "{LIVETEX_PASSWORD}"
[[livetex.credentials]]
login = "ivanov@example.ru"
password = "{LIVETEX_PASSWORD}"
[[uis.keys]]
key = "{UIS_KEY}"
login = "demo@example.ru"
[[uis.keys]]
key = "{UIS_AGENT_KEY}"
login = "demo@example.ru"
agent = true
[[uis.credentials]]
login = "ivanov@example.ru"
password = "{UIS_PASSWORD}"
{extra}
"#
    )
}

pub struct TestGateway {
    pub gateway: Option<Gateway>,
    pub base: String,
    /// `http://` and the `[admin]` listener's address, when configured.
    pub admin_base: Option<String>,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        TestGateway::start_with("").await
    }

    pub async fn start_with(extra: &str) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        TestGateway::start_in(dir, extra).await
    }

    pub async fn start_in(dir: tempfile::TempDir, extra: &str) -> TestGateway {
        TestGateway::start_on_clock(dir, extra, std::sync::Arc::new(leadgate::core::SystemClock))
            .await
    }

    /// A gateway whose clock the test moves (lock expiry, relative dates).
    pub async fn start_on_clock(
        dir: tempfile::TempDir,
        extra: &str,
        clock: std::sync::Arc<dyn leadgate::core::Clock>,
    ) -> TestGateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestGateway::start_on_listener(dir, extra, clock, listener).await
    }

    /// A gateway on a listener the test bound (a target coming back on the
    /// port it was down on).
    pub async fn start_on_listener(
        dir: tempfile::TempDir,
        extra: &str,
        clock: std::sync::Arc<dyn leadgate::core::Clock>,
        listener: TcpListener,
    ) -> TestGateway {
        let settings = settings(&dir.path().join("leads.db"), dir.path(), extra);
        TestGateway::start_from(dir, &settings, clock, listener).await
    }

    /// A gateway on `settings` as they are (replicas on one PostgreSQL schema).
    pub async fn start_from(
        dir: tempfile::TempDir,
        settings: &Settings,
        clock: std::sync::Arc<dyn leadgate::core::Clock>,
        listener: TcpListener,
    ) -> TestGateway {
        let gateway = Gateway::start_with_clock(settings, Some(listener), clock)
            .await
            .unwrap();
        let base = format!("http://{}", gateway.local_addr());
        let admin_base = gateway
            .admin_addr()
            .map(|address| format!("http://{address}"));
        TestGateway {
            gateway: Some(gateway),
            base,
            admin_base,
            client: reqwest::Client::new(),
            dir,
        }
    }

    pub fn leads_url(&self) -> String {
        format!("{}/developer/v1/leads", self.base)
    }

    /// GET with the test credentials and `query` appended; the body as text.
    pub async fn get(&self, query: &str) -> String {
        let url = format!(
            "{}?login=demo%40example.ru&apikey={APIKEY}&{query}",
            self.leads_url()
        );
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    pub async fn get_json(&self, query: &str) -> serde_json::Value {
        let text = self.get(query).await;
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
    }

    /// POST a form with the test credentials.
    pub async fn post_form(&self, fields: &[(&str, &str)]) -> serde_json::Value {
        let mut form = vec![("login", LOGIN), ("apikey", APIKEY)];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(self.leads_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn add(&self, fields: &[(&str, &str)]) -> i64 {
        let mut form = vec![("action", "add")];
        form.extend_from_slice(fields);
        let answer = self.post_form(&form).await;
        answer["result"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("add failed: {answer}"))
    }

    pub async fn stop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await.unwrap();
        }
    }

    pub fn store(&self) -> std::sync::Arc<dyn leadgate::store::Store> {
        self.gateway.as_ref().expect("gateway running").store()
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("leads.db")
    }
}

pub fn settings(store: &Path, dir: &Path, extra: &str) -> Settings {
    settings_from(dir, &config_text(store, extra))
}

pub fn settings_from(dir: &Path, text: &str) -> Settings {
    let file = dir.join("leadgate.toml");
    std::fs::write(&file, text).unwrap();
    Settings::load(&file).unwrap()
}

/// Replaces every `YYYY-MM-DD HH:MM:SS` (also with `T` and an offset, as
/// Bitrix24 writes them) with `<datetime>`, and the numbers of Bitrix24's
/// `time` block and UIS limit resets with `<seconds>`, so answers that carry the moment of the
/// request compare with fixtures.
pub fn mask_times(text: &str) -> String {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-dd?dd:dd:dd";
    let offset_shape = b"+dd:dd";
    let fits = |at: usize, pattern: &[u8]| {
        bytes.len() >= at + pattern.len()
            && bytes[at..at + pattern.len()].iter().zip(pattern).all(
                |(byte, pattern)| match pattern {
                    b'd' => byte.is_ascii_digit(),
                    b'?' => *byte == b' ' || *byte == b'T',
                    b'+' => *byte == b'+' || *byte == b'-',
                    other => byte == other,
                },
            )
    };
    const TIME_KEYS: [&str; 8] = [
        "\"start\":",
        "\"finish\":",
        "\"duration\":",
        "\"processing\":",
        "\"operating\":",
        "\"operating_reset_at\":",
        "\"day_reset\":",
        "\"minute_reset\":",
    ];
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < bytes.len() {
        if fits(index, shape) {
            out.push_str("<datetime>");
            index += shape.len();
            if fits(index, offset_shape) {
                index += offset_shape.len();
            }
            continue;
        }
        if let Some(key) = TIME_KEYS
            .iter()
            .find(|key| text[index..].starts_with(**key))
        {
            let number_start = index + key.len();
            let number_end = number_start
                + bytes[number_start..]
                    .iter()
                    .take_while(|byte| {
                        byte.is_ascii_digit() || matches!(byte, b'.' | b'e' | b'E' | b'-')
                    })
                    .count();
            if number_end > number_start {
                out.push_str(key);
                out.push_str("<seconds>");
                index = number_end;
                continue;
            }
        }
        let char_len = text[index..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[index..index + char_len]);
        index += char_len;
    }
    out
}

/// Says a test was skipped where the person running the tests sees it:
/// written to stderr directly, past libtest's output capture, which would
/// otherwise hide the message of a passing (skipped) test.
pub fn skip_loudly(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED: {message} !!!\n");
}

/// Waits until the delivery rows of `target` satisfy `done`, and returns
/// them; panics with what they say when `within` runs out.
pub async fn deliveries_until(
    store: &std::sync::Arc<dyn leadgate::store::Store>,
    target: &str,
    within: std::time::Duration,
    done: impl Fn(&[leadgate::store::DeliveryRecord]) -> bool,
) -> Vec<leadgate::store::DeliveryRecord> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rows = store
            .list_deliveries(leadgate::store::DeliveryFilter {
                target: Some(target.into()),
                limit: Some(100_000),
                ..Default::default()
            })
            .await
            .unwrap();
        if done(&rows) {
            return rows;
        }
        if tokio::time::Instant::now() > deadline {
            let stuck: Vec<_> = rows
                .iter()
                .filter(|row| row.state != leadgate::store::DeliveryState::Delivered)
                .take(3)
                .collect();
            panic!("deliveries to {target} did not get there; e.g. {stuck:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
}

/// Waits until `count` deliveries to `target` are delivered.
pub async fn wait_delivered(
    store: &std::sync::Arc<dyn leadgate::store::Store>,
    target: &str,
    count: usize,
    within: std::time::Duration,
) -> Vec<leadgate::store::DeliveryRecord> {
    deliveries_until(store, target, within, |rows| {
        rows.iter()
            .filter(|row| row.state == leadgate::store::DeliveryState::Delivered)
            .count()
            >= count
    })
    .await
}

/// A port nothing listens on right now, for a gateway binary to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real `leadgate serve` binary on `config`, listening on `port`, its
/// log at warn on stderr.
/// A spawned gateway that a failing assertion does not leave running (it
/// would hold its port for every later run on the machine).
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn_binary(config: &Path, port: u16) -> std::process::Child {
    spawn_binary_with(config, port, &[])
}

/// As [`spawn_binary`], with more environment (`LEADGATE__ADMIN__LISTEN`).
pub fn spawn_binary_with(
    config: &Path,
    port: u16,
    environment: &[(&str, String)],
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["serve", "--config"])
        .arg(config)
        .env("LEADGATE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .env("LEADGATE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits up to 30 s for the gateway at `base` to answer `/readyz` with 200.
pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |response| response.status() != 200)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "gateway did not become ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The JSON a request is answered with, for tests that only read answers.
pub trait JsonAnswer {
    fn json_answer(self) -> impl std::future::Future<Output = serde_json::Value> + Send;
}

impl JsonAnswer for reqwest::RequestBuilder {
    async fn json_answer(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}
