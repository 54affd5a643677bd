//! Secret settings given as `env:NAME` or `file:/path` reach the gateway
//! as the secret itself: a SalesMan key from the environment and a
//! Bitrix24 webhook code from a file (as a mounted Kubernetes Secret)
//! both authenticate; a reference that cannot be read stops the start
//! with the key and the variable named, never a value.

mod common;

use common::{TestGateway, APIKEY, LOGIN, WEBHOOK_CODE};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_in_the_config_are_read_from_the_environment_and_files() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("LEADGATE_TEST_SALESMAN_APIKEY", APIKEY);
    let code_file = dir.path().join("webhook-code");
    std::fs::write(&code_file, format!("{WEBHOOK_CODE}\n")).unwrap();
    let text = common::config_text(&dir.path().join("leads.db"), "")
        .replacen(
            &format!("apikey = \"{APIKEY}\""),
            "apikey = \"env:LEADGATE_TEST_SALESMAN_APIKEY\"",
            1,
        )
        .replacen(
            &format!("code = \"{WEBHOOK_CODE}\""),
            &format!("code = \"file:{}\"", code_file.display()),
            1,
        );
    assert!(text.contains("env:LEADGATE_TEST_SALESMAN_APIKEY"));
    let settings = common::settings_from(dir.path(), &text);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = TestGateway::start_from(
        dir,
        &settings,
        std::sync::Arc::new(leadgate::core::SystemClock),
        listener,
    )
    .await;

    let added: Value = gateway
        .client
        .get(format!(
            "{}/developer/v1/leads?login={LOGIN}&apikey={APIKEY}&action=add&title=Anna&phone=%2B79001112233",
            gateway.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(added["result"]["id"].as_i64().is_some(), "{added}");
    let answer = gateway
        .client
        .post(format!(
            "{}/rest/1/{WEBHOOK_CODE}/crm.lead.add.json",
            gateway.base
        ))
        .json(&json!({"fields": {"TITLE": "Пётр"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[test]
fn an_unreadable_reference_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::config_text(&dir.path().join("leads.db"), "").replacen(
        &format!("apikey = \"{APIKEY}\""),
        "apikey = \"env:LEADGATE_TEST_SECRET_NOT_SET\"",
        1,
    );
    let config = dir.path().join("leadgate.toml");
    std::fs::write(&config, text).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("salesman.credentials[0].apikey"), "{said}");
    assert!(
        said.contains("LEADGATE_TEST_SECRET_NOT_SET is not set"),
        "{said}"
    );
}
