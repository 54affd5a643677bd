//! A real Bitrix24 client, unmodified: fast-bitrix24 from PyPI drives the
//! gateway over HTTP (call() with more than 50 items, get_all() past 50
//! leads, get_by_ID(), a wrong webhook). It needs a Python with the package
//! installed, named by LEADGATE_TEST_PYTHON (`.ci/run` builds one); without
//! it the test says so loudly and passes, so `cargo test` works anywhere.

mod common;

use common::{TestGateway, WEBHOOK_CODE};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_bitrix24_runs_unchanged() {
    let Ok(python) = std::env::var("LEADGATE_TEST_PYTHON") else {
        common::skip_loudly(
            "fast_bitrix24_runs_unchanged: LEADGATE_TEST_PYTHON is not set \
             (a python with `pip install fast-bitrix24`; .ci/run sets it)",
        );
        return;
    };
    let mut gateway = TestGateway::start().await;
    let webhook = format!("{}/rest/1/{WEBHOOK_CODE}/", gateway.base);
    let bad_webhook = format!("{}/rest/1/not-the-code/", gateway.base);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/fast_bitrix24_client.py"
    );
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .arg(&webhook)
        .arg(&bad_webhook)
        .output()
        .await
        .expect("LEADGATE_TEST_PYTHON runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "bad report ({error}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    });

    let ids: Vec<i64> = report["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 73);
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 73, "every add got its own lead");
    assert_eq!(report["listed"], 73, "get_all pages past 50");
    let mut expected: Vec<String> = (0..73).map(|index| format!("SDK lead {index}")).collect();
    expected.sort();
    assert_eq!(report["listed_titles"], serde_json::json!(expected));
    assert!(report["first_phone"].as_str().unwrap().starts_with("+7900"));
    let by_id = report["by_id"].as_object().unwrap();
    assert_eq!(by_id.len(), 3);
    // call() hands ids back in the order batches answered, so only the
    // pairing of each id with its own lead can be checked.
    for id in [ids[0], ids[50], ids[72]] {
        let title = by_id[&id.to_string()].as_str().unwrap();
        assert!(title.starts_with("SDK lead "), "{id}: {title}");
    }
    assert!(report["single_title"]
        .as_str()
        .unwrap()
        .starts_with("SDK lead "));
    assert_eq!(report["updated"], true);
    assert_eq!(report["status_after_update"], "IN_PROCESS");
    let error = report["bad_token_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("401"),
        "a wrong webhook is refused with 401: {error:?}"
    );

    // The leads are really there, in order, for every other reader.
    let listed = gateway.get_json("action=list").await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(73));
    gateway.stop().await;
}
