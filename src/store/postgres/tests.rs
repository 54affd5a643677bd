//! The store conformance suite against PostgreSQL, each test in a schema
//! of its own. `LEADGATE_TEST_POSTGRES_URL` names the database; without it
//! these tests skip and say so, with it they must pass.

use super::{PostgresOptions, PostgresStore};

/// A fresh schema on the test database, reopened on the same schema.
pub(crate) struct PostgresBackend {
    options: PostgresOptions,
}

/// The test database's URL, or `None` after saying loudly that PostgreSQL
/// tests are skipped.
pub(crate) fn test_url() -> Option<String> {
    match std::env::var("LEADGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: PostgreSQL store tests (set LEADGATE_TEST_POSTGRES_URL, \
                 e.g. postgres://postgres@127.0.0.1:5432/test, to run them)"
            );
            None
        }
    }
}

/// A schema name no other test uses.
pub(crate) fn fresh_schema() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!(
        "lg_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops the schemas that test processes no longer running left behind
/// (the name carries the process id), once per process: CI drops them all
/// when it ends, a developer's database would otherwise keep every run's.
async fn sweep_stale_schemas(url: &str) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    // Whether a process runs is read from /proc; elsewhere nothing is swept.
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    SWEPT
        .get_or_init(|| async {
            let Ok((client, connection)) =
                tokio_postgres::connect(url, tokio_postgres::NoTls).await
            else {
                return;
            };
            tokio::spawn(connection);
            let Ok(rows) = client
                .query(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'lg\\_test\\_%'",
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
                    .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
                if !alive {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .await;
                }
            }
        })
        .await;
}

impl PostgresBackend {
    pub(crate) async fn new() -> Option<PostgresBackend> {
        let url = test_url()?;
        sweep_stale_schemas(&url).await;
        let mut options = PostgresOptions::new(url);
        options.schema = Some(fresh_schema());
        options.pool_size = 8;
        Some(PostgresBackend { options })
    }
}

impl crate::store::conformance::Backend for PostgresBackend {
    type Store = PostgresStore;

    async fn open(&self) -> PostgresStore {
        PostgresStore::open(self.options.clone())
            .await
            .expect("PostgreSQL store opens (LEADGATE_TEST_POSTGRES_URL is set)")
    }
}

mod conformance {
    crate::store::conformance::store_conformance!(super::PostgresBackend::new());
}

#[test]
fn passwords_never_reach_messages() {
    assert_eq!(
        super::redacted("postgres://leadgate:s3cret@db.example:5432/leads"),
        "postgres://leadgate@db.example:5432/leads"
    );
    assert_eq!(
        super::redacted("postgres://db.example/leads"),
        "postgres://db.example/leads"
    );
}

/// A lead PostgreSQL cannot store as sent (U+0000 in a field) fails the
/// batch's multi-row statements; written lead by lead, it is stored with
/// U+FFFD in place, and the leads batched with it are stored as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_neither_sinks_its_batch_nor_the_lead() {
    use crate::store::conformance::{lead_at, Backend};
    use crate::store::{Assignment, LeadStore};
    use std::sync::Arc;

    let Some(backend) = PostgresBackend::new().await else {
        return;
    };
    let store = Arc::new(backend.open().await);
    let mut inserts = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        inserts.push(tokio::spawn(async move {
            let mut lead = lead_at(n);
            lead.name = Some(if n == 3 {
                "Ан\u{0}на".into()
            } else {
                format!("Лид {n}")
            });
            store
                .insert(Box::new(lead), Assignment::default(), Vec::new())
                .await
        }));
    }
    let mut stored = Vec::new();
    for insert in inserts {
        stored.push(insert.await.unwrap().expect("every lead is stored"));
    }
    for inserted in stored {
        let id = inserted.lead.id.unwrap();
        let read = store.get(id).await.unwrap().unwrap();
        let name = read.name.unwrap();
        assert!(!name.contains('\u{0}'), "{name:?}");
        if name.starts_with("Ан") {
            assert_eq!(name, "Ан\u{fffd}на");
        }
    }
}
