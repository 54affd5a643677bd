//! Reload without restart: a changed settings file applied through
//! `POST /admin/reload` (a new SalesMan key works, a removed one stops
//! working, a changed listen address is reported as waiting for a restart),
//! a broken file refused with the running settings kept, and deliveries
//! unaffected (every lead reaches the webhook exactly once across the
//! reloads); SIGHUP does the same for the real binary.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use common::{TestGateway, APIKEY, LOGIN};
use serde_json::Value;

const TOKEN: &str = "reload-admin-token-0123456789";
const NEW_KEY: &str = "key-added-by-reload";

/// A webhook target counting what it receives, by lead id.
async fn receiver() -> (Arc<Mutex<HashMap<i64, usize>>>, String) {
    let received = Arc::new(Mutex::new(HashMap::new()));
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(received): State<Arc<Mutex<HashMap<i64, usize>>>>, body: Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap();
                    let id = event["lead"]["id"].as_i64().unwrap();
                    *received.lock().unwrap().entry(id).or_insert(0) += 1;
                    r#"{"id": "r-1"}"#
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (received, url)
}

fn extra(hook: &str, salesman_key: Option<&str>) -> String {
    let key = salesman_key.map_or(String::new(), |key| {
        format!("[[salesman.credentials]]\napikey = \"{key}\"\nlogin = \"{LOGIN}\"\n")
    });
    format!(
        r#"
[admin]
listen = "127.0.0.1:0"
token = "{TOKEN}"
[forwarding]
poll_interval_ms = 50
[[forwarding.targets]]
name = "hook"
kind = "webhook"
url = "{hook}"
[[forwarding.rules]]
targets = ["hook"]
{key}"#
    )
}

async fn add_with(gateway: &TestGateway, key: &str, title: &str) -> Value {
    gateway
        .client
        .get(format!(
            "{}/developer/v1/leads?login={LOGIN}&apikey={key}&action=add&title={title}&phone=%2B79001112233",
            gateway.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn reload(gateway: &TestGateway) -> (u16, Value) {
    let answer = gateway
        .client
        .post(format!(
            "{}/admin/reload",
            gateway.admin_base.as_ref().unwrap()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_file_is_applied_a_broken_one_refused_and_deliveries_go_on() {
    let (received, hook) = receiver().await;
    let gateway = TestGateway::start_with(&extra(&hook, None)).await;
    let file = gateway.dir.path().join("leadgate.toml");
    let store = gateway.dir.path().join("leads.db");
    for n in 0..5 {
        assert!(add_with(&gateway, APIKEY, &format!("before{n}")).await["result"]["id"].is_i64());
    }
    let refused = add_with(&gateway, NEW_KEY, "not-yet").await;
    assert!(refused.get("error").is_some(), "{refused}");

    // A new key, a new target (no rule sends it anything) and a changed
    // listen address.
    let text = common::config_text(&store, &extra(&hook, Some(NEW_KEY)))
        + "[server]\nlisten = \"127.0.0.1:1\"\n"
        + "[[forwarding.targets]]\nname = \"spare\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/spare\"\n";
    std::fs::write(&file, text).unwrap();
    let (status, answer) = reload(&gateway).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["reloaded"], true);
    assert_eq!(
        answer["needs_restart"],
        serde_json::json!(["server.listen"])
    );
    // The admin calls and /metrics know the new target at once.
    let admin = gateway.admin_base.clone().unwrap();
    let replayed = gateway
        .client
        .post(format!("{admin}/admin/deliveries/replay"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"target": "spare", "since": "2099-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 200, "{:?}", replayed.text().await);
    let metrics = gateway
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("target=\"spare\""), "{metrics}");
    for n in 0..5 {
        let added = add_with(&gateway, NEW_KEY, &format!("after{n}")).await;
        assert!(added["result"]["id"].is_i64(), "{added}");
    }

    // A file that fails the check: refused, the running settings kept.
    let broken = common::config_text(&store, &extra(&hook, Some(NEW_KEY)))
        + "[[routing]]\nemployees = [\"nobody@example.ru\"]\n";
    std::fs::write(&file, broken).unwrap();
    let (status, answer) = reload(&gateway).await;
    assert_eq!(status, 422, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("routing[0].employees"), "{error}");
    assert!(add_with(&gateway, NEW_KEY, "still").await["result"]["id"].is_i64());

    // The key removed again: refused from the next request on.
    std::fs::write(&file, common::config_text(&store, &extra(&hook, None))).unwrap();
    let (status, answer) = reload(&gateway).await;
    assert_eq!(status, 200, "{answer}");
    assert!(add_with(&gateway, NEW_KEY, "gone")
        .await
        .get("error")
        .is_some());

    // Every accepted lead reached the webhook, once.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = received.lock().unwrap().clone();
        if seen.len() == 11 {
            assert!(seen.values().all(|times| *times == 1), "{seen:?}");
            break;
        }
        assert!(Instant::now() < deadline, "delivered: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The operator's way: edit the file, send SIGHUP to the process.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_running_binary() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("leads.db");
    let config = dir.path().join("leadgate.toml");
    std::fs::write(&config, common::config_text(&store, "")).unwrap();
    let port = common::free_port();
    let mut child = common::KillOnDrop(common::spawn_binary(&config, port));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    common::wait_ready(&client, &base).await;
    let add = |key: &'static str| {
        let client = client.clone();
        let url =
            format!("{base}/developer/v1/leads?login={LOGIN}&apikey={key}&action=add&title=Hup");
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert!(add(NEW_KEY).await.get("error").is_some());
    let key = format!("[[salesman.credentials]]\napikey = \"{NEW_KEY}\"\nlogin = \"{LOGIN}\"\n");
    std::fs::write(&config, common::config_text(&store, &key)).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while add(NEW_KEY).await.get("error").is_some() {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Still serving the old key, and still the same process.
    assert!(add(APIKEY).await["result"]["id"].is_i64());
    assert!(child.0.try_wait().unwrap().is_none());
}

/// What a UIS key has spent stays spent across a reload: the dialect's
/// counters are built again, the gateway's are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_points_survive_a_reload() {
    let extra =
        format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n[uis]\nday_limit = 2\n");
    let gateway = TestGateway::start_with(&extra).await;
    let call = || async {
        gateway
            .client
            .post(format!("{}/v2.0", gateway.base))
            .json(&serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "method": "get.sales_funnel",
                "params": {"access_token": common::UIS_KEY}
            }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    for _ in 0..2 {
        let answer = call().await;
        assert!(answer.get("result").is_some(), "{answer}");
    }
    let (status, answer) = reload(&gateway).await;
    assert_eq!(status, 200, "{answer}");
    let over = call().await;
    assert_eq!(over["error"]["code"], -32029, "{over}");
}
