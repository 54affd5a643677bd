//! A JSON-RPC client that is not ours drives the UIS endpoint: raw
//! `requests` calls in the CoMagic SDKs' style and the PyPI SDK
//! `comagic-data-api-sdk` itself. Needs a Python with both installed, named
//! by LEADGATE_TEST_PYTHON (`.ci/run` builds one); without it the test says
//! so loudly and passes.

mod common;

use common::TestGateway;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comagic_clients_run_unchanged() {
    let Ok(python) = std::env::var("LEADGATE_TEST_PYTHON") else {
        common::skip_loudly(
            "comagic_clients_run_unchanged: LEADGATE_TEST_PYTHON is not set \
             (a python with `pip install comagic-data-api-sdk`; .ci/run sets it)",
        );
        return;
    };
    let mut gateway = TestGateway::start().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/comagic_client.py"
    );
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .arg(&gateway.base)
        .arg("ivanov@example.ru")
        .arg(common::UIS_PASSWORD)
        .output()
        .await
        .expect("LEADGATE_TEST_PYTHON runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the client script failed:\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "bad report ({error}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(
        report["session_key"],
        json!({"access_token": "str", "expire_at": "int", "app_id": "int"})
    );
    assert_eq!(report["funnels"], json!(["leadgate"]));
    assert_eq!(report["stages"], 5);
    let uploaded = report["uploaded"].as_array().unwrap();
    assert_eq!(uploaded.len(), 12);
    let mut ids: Vec<i64> = uploaded.iter().map(|id| id.as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(
        report["report_ids"],
        json!(ids),
        "the SDK reads back every upload"
    );
    assert_eq!(report["report_status"], json!(["not_processed"]));
    assert_eq!(
        report["report_date_type"], "datetime",
        "the SDK parsed date_time"
    );
    let bad = report["bad_token_error"].as_str().unwrap_or_default();
    assert!(bad.contains("access_token_invalid"), "{bad}");
    assert_eq!(
        report["after_logout"]["data"]["mnemonic"],
        "access_token_invalid"
    );
    gateway.stop().await;
}
