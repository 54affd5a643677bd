//! `leadgate import` end to end: a second gateway serving the old
//! system's dialect over real HTTP holds 1 000 leads; the import brings
//! every one over exactly once, a re-run adds none, and a run stopped
//! part-way resumes where it stopped.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use common::{TestGateway, APIKEY, LOGIN};
use leadgate::import::{ImportError, ImportOptions, ImportProgress, ImportSource, Page};
use leadgate::lead::{ContactPoint, Lead, Stage};
use leadgate::store::{Assignment, LeadQuery, Store};

const LEADS: usize = 1_000;

/// `LEADS` leads in the old system's store, over a year of days.
async fn old_system() -> TestGateway {
    let old = TestGateway::start().await;
    let store = old.store();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap();
    let inserts = (0..LEADS).map(|n| {
        let store = store.clone();
        async move {
            let mut lead = Lead::new(start + chrono::Duration::minutes(n as i64 * 500));
            lead.name = Some(format!("Клиент {n}"));
            lead.phones
                .push(ContactPoint::phone(&format!("8 900 {:07}", n), "7"));
            lead.text = Some(format!("Заявка номер {n}"));
            lead.assigned_to = Some(if n % 2 == 0 { 1 } else { 2 });
            // The two stages every one of the four systems can say.
            lead.stage = if n % 3 == 0 {
                Stage::Processed
            } else {
                Stage::New
            };
            if !lead.stage.is_open() {
                lead.completed_at = Some(lead.created_at + chrono::Duration::hours(1));
            }
            store
                .insert(Box::new(lead), Assignment::default(), Vec::new())
                .await
                .unwrap();
        }
    });
    futures_util::future::join_all(inserts).await;
    old
}

struct Importing {
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

impl Importing {
    fn new() -> Importing {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("leadgate.toml");
        std::fs::write(&config, common::config_text(&dir.path().join("new.db"), "")).unwrap();
        let state = dir.path().join("import.json");
        Importing { dir, config, state }
    }

    /// Runs the `leadgate import` command; its standard output.
    fn run(&self, from: &str, url: &str, credentials: &[&str]) -> String {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .args(["import", "--config"])
            .arg(&self.config)
            .args([
                "--from",
                from,
                "--url",
                url,
                "--since",
                "2025-01-01",
                "--state",
            ])
            .arg(&self.state)
            .args(credentials)
            .env("OLD_SYSTEM_APIKEY", APIKEY)
            .env("LEADGATE_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    async fn store(&self) -> Arc<dyn Store> {
        let settings = common::settings_from(
            self.dir.path(),
            &std::fs::read_to_string(&self.config).unwrap(),
        );
        leadgate::app::stores::open(&settings.store, leadgate::app::stores::Opener::Command)
            .await
            .unwrap()
    }
}

async fn all_leads(store: &Arc<dyn Store>) -> Vec<Lead> {
    store
        .query(LeadQuery {
            limit: Some(10 * LEADS as u64),
            ..LeadQuery::default()
        })
        .await
        .unwrap()
        .leads
}

/// What every imported lead must have kept, checked against the source.
async fn same_history(old: &TestGateway, imported: &[Lead]) {
    assert_eq!(imported.len(), LEADS);
    let originals = all_leads(&old.store()).await;
    let by_origin: std::collections::HashMap<String, &Lead> = imported
        .iter()
        .map(|lead| (lead.origin.clone().unwrap().external_id, lead))
        .collect();
    assert_eq!(by_origin.len(), LEADS, "each lead once");
    for original in &originals {
        let copy = by_origin[&original.id.unwrap().to_string()];
        assert_eq!(copy.name, original.name);
        assert_eq!(copy.phones[0].normalized, original.phones[0].normalized);
        assert_eq!(copy.text, original.text);
        assert_eq!(copy.stage, original.stage, "{copy:?}");
        assert_eq!(copy.assigned_to, original.assigned_to);
        assert_eq!(copy.created_at.timestamp(), original.created_at.timestamp());
    }
}

fn summary_numbers(output: &str) -> (u64, u64) {
    let line = output
        .lines()
        .find(|line| line.starts_with("imported "))
        .unwrap_or_else(|| panic!("no summary in {output}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[1].parse().unwrap(), words[4].parse().unwrap())
}

async fn imports_each_lead_once(from: &str, old: &TestGateway, url: &str, credentials: &[&str]) {
    let importing = Importing::new();
    let first = importing.run(from, url, credentials);
    assert_eq!(summary_numbers(&first), (LEADS as u64, 0), "{first}");
    let again = importing.run(from, url, credentials);
    assert_eq!(summary_numbers(&again), (0, LEADS as u64), "{again}");
    assert!(
        !importing.state.exists(),
        "a finished import leaves no state"
    );
    let store = importing.store().await;
    let imported = all_leads(&store).await;
    assert!(imported.iter().all(|lead| lead
        .origin
        .as_ref()
        .unwrap()
        .system
        .starts_with(&format!("{from}:127.0.0.1"))));
    same_history(old, &imported).await;
    store.close().await.unwrap();
}

/// A source that fails for good after `pages` pages: a run cut short.
struct StopsAfter<'a> {
    inner: &'a dyn ImportSource,
    pages: u32,
    served: AtomicU32,
}

#[async_trait]
impl ImportSource for StopsAfter<'_> {
    async fn page(&self, cursor: Option<&str>) -> Result<Page, ImportError> {
        if self.served.fetch_add(1, Ordering::SeqCst) >= self.pages {
            return Err(ImportError::Refused("the connection went away".into()));
        }
        self.inner.page(cursor).await
    }
}

struct Quiet;

impl ImportProgress for Quiet {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

async fn an_interrupted_run_resumes(from: &str, url: &str, connection: &str) {
    let importing = Importing::new();
    let settings = common::settings_from(
        importing.dir.path(),
        &std::fs::read_to_string(&importing.config).unwrap(),
    );
    let wiring = leadgate::app::wiring::check(&settings).unwrap();
    let wired = wiring.dialect(from).unwrap();
    let mut target: leadgate::forward::settings::TargetSettings = toml::from_str(&format!(
        "name = \"old\"\nkind = \"{from}\"\nurl = \"{url}\"\n{connection}"
    ))
    .unwrap();
    target.timeout_secs = 10.0;
    let source = wired
        .dialect
        .import_source(
            leadgate::import::SourceSettings {
                connection: target,
                since: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            },
            wired.mapping.clone(),
            leadgate::lead::path::WriteContext::default(),
        )
        .unwrap();
    let options = ImportOptions {
        from: from.into(),
        url: url.into(),
        origin_system: format!("{from}:old"),
        state_path: importing.state.clone(),
        retry_delay: Duration::from_millis(10),
    };
    let store = importing.store().await;
    let employees = leadgate::core::Employees::new(settings.employees.clone());
    let cut = StopsAfter {
        inner: source.as_ref(),
        pages: 2,
        served: AtomicU32::new(0),
    };
    let stopped = leadgate::import::run(store.clone(), &employees, &cut, &options, &Quiet).await;
    assert!(stopped.is_err());
    assert!(importing.state.exists(), "the position is kept");
    let part = all_leads(&store).await.len();
    assert!(part > 0 && part < LEADS, "{part}");

    let resumed =
        leadgate::import::run(store.clone(), &employees, source.as_ref(), &options, &Quiet)
            .await
            .unwrap();
    assert!(resumed.resumed_at.is_some());
    assert_eq!(resumed.added, LEADS as u64);
    assert_eq!(all_leads(&store).await.len(), LEADS);
    store.close().await.unwrap();
}

fn salesman_url(old: &TestGateway) -> String {
    old.leads_url()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesman_history_is_imported_once_and_resumes() {
    let old = old_system().await;
    let url = salesman_url(&old);
    // The key from the environment, not the command line.
    imports_each_lead_once(
        "salesman",
        &old,
        &url,
        &["--login", LOGIN, "--apikey", "env:OLD_SYSTEM_APIKEY"],
    )
    .await;
    an_interrupted_run_resumes(
        "salesman",
        &url,
        &format!("login = \"{LOGIN}\"\napikey = \"{APIKEY}\""),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitrix24_history_is_imported_once_through_batches_and_resumes() {
    let old = old_system().await;
    let url = format!("{}/rest/1/{}/", old.base, common::WEBHOOK_CODE);
    imports_each_lead_once("bitrix24", &old, &url, &[]).await;
    // Four list commands a batch: 200 leads a request, five requests.
    an_interrupted_run_resumes("bitrix24", &url, "batch_size = 4\nrequests_per_second = 50").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livetex_history_is_imported_once_and_resumes() {
    let old = old_system().await;
    let url = format!("{}/v2/", old.base);
    let password = common::LIVETEX_PASSWORD;
    imports_each_lead_once(
        "livetex",
        &old,
        &url,
        &["--login", LOGIN, "--password", password],
    )
    .await;
    an_interrupted_run_resumes(
        "livetex",
        &url,
        &format!("login = \"{LOGIN}\"\npassword = \"{password}\""),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uis_history_is_imported_window_by_window_and_resumes() {
    let old = old_system().await;
    let url = format!("{}/v2.0", old.base);
    imports_each_lead_once("uis", &old, &url, &["--token", common::UIS_KEY]).await;
    an_interrupted_run_resumes("uis", &url, &format!("token = \"{}\"", common::UIS_KEY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_leaves_older_leads_behind() {
    let old = old_system().await;
    let importing = Importing::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["import", "--config"])
        .arg(&importing.config)
        .args([
            "--from",
            "salesman",
            "--url",
            &old.leads_url(),
            "--since",
            "2025-07-01",
        ])
        .args(["--login", LOGIN, "--apikey", APIKEY, "--state"])
        .arg(&importing.state)
        .output()
        .unwrap();
    assert!(output.status.success());
    let store = importing.store().await;
    let imported = all_leads(&store).await;
    let cut = Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap() - chrono::Duration::hours(3);
    assert!(!imported.is_empty() && imported.len() < LEADS);
    assert!(imported.iter().all(|lead| lead.created_at >= cut));
    store.close().await.unwrap();
}
