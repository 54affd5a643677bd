//! `leadgate store copy` from SQLite to PostgreSQL and back: every lead
//! (with its id), delivery row and live session arrives; a second run adds
//! nothing; the copy back reads the same through a dialect. Needs
//! `LEADGATE_TEST_POSTGRES_URL`; skips loudly without it.

mod common;

use common::{JsonAnswer, TestGateway};
use serde_json::{json, Value};

fn copy(from: &str, to: &str, schema: &str) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args([
            "store", "copy", "--from", from, "--to", to, "--schema", schema,
        ])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A gateway on the SQLite file in `dir`, even when the other end-to-end
/// tests run on PostgreSQL (LEADGATE_TEST_E2E_POSTGRES): the copy between
/// the two is what is tested.
async fn sqlite_gateway(dir: tempfile::TempDir, extra: &str) -> TestGateway {
    let sqlite_section = format!(
        "[store]\npath = {:?}\n",
        dir.path().join("leads.db").display().to_string()
    );
    let settings =
        common::settings_from(dir.path(), &common::config_text_on(&sqlite_section, extra));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    TestGateway::start_from(
        dir,
        &settings,
        std::sync::Arc::new(leadgate::core::SystemClock),
        listener,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_copied_to_postgres_and_back_keeps_every_lead_delivery_and_session() {
    let Ok(url) = std::env::var("LEADGATE_TEST_POSTGRES_URL") else {
        common::skip_loudly("store copy tests need LEADGATE_TEST_POSTGRES_URL");
        return;
    };
    // A target that is never reached: every lead leaves a pending delivery.
    let forwarding = "[forwarding]\npoll_interval_ms = 60000\n[[forwarding.targets]]\n\
                      name = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n\
                      [[forwarding.rules]]\ntargets = [\"hook\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = sqlite_gateway(dir, forwarding).await;
    let mut ids = Vec::new();
    for n in 0..30 {
        ids.push(
            gateway
                .add(&[
                    ("title", &format!("Лид {n}")),
                    ("phone", &format!("+7902{n:07}")),
                ])
                .await,
        );
    }
    let login: Value = gateway
        .client
        .post(format!("{}/v2.0", gateway.base))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "login.user",
            "params": {"login": "ivanov@example.ru", "password": common::UIS_PASSWORD}}))
        .json_answer()
        .await;
    let token = login["result"]["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    gateway.stop().await;
    let sqlite = gateway.store_path().display().to_string();
    let schema = common::fresh_schema();

    let (ok, stdout, stderr) = copy(&sqlite, &url, &schema);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("copied 30 leads, 30 deliveries, 1 sessions"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = copy(&sqlite, &url, &schema);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("copied 0 leads, 0 deliveries"),
        "a second run adds nothing: {stdout}"
    );

    // Back into a new SQLite file, then read through the dialects.
    let back = tempfile::tempdir().unwrap();
    let back_file = back.path().join("leads.db").display().to_string();
    let (ok, stdout, stderr) = copy(&url, &back_file, &schema);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("copied 30 leads, 30 deliveries, 1 sessions"),
        "{stdout}"
    );
    let mut restored = sqlite_gateway(back, forwarding).await;
    for (n, id) in ids.iter().enumerate() {
        let info = restored.get_json(&format!("action=info&id={id}")).await;
        assert_eq!(info["result"]["data"]["title"], format!("Лид {n}"));
    }
    // The session issued before the copy still works after it.
    let funnel: Value = restored
        .client
        .post(format!("{}/v2.0", restored.base))
        .json(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "get.sales_funnel",
            "params": {"access_token": token}}),
        )
        .json_answer()
        .await;
    assert!(funnel.get("result").is_some(), "{funnel}");
    // A new lead takes an id after the copied ones.
    let next = restored
        .add(&[("title", "после копии"), ("phone", "+79029999999")])
        .await;
    assert!(next > *ids.iter().max().unwrap());
    restored.stop().await;
}
