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

impl PostgresBackend {
    pub(crate) async fn new() -> Option<PostgresBackend> {
        let url = test_url()?;
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
