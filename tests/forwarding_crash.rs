//! Exactly once at the target across a SIGKILL: the real binary forwards to
//! a stand-in Bitrix24 portal that, like a real one, does not de-duplicate
//! and commits a lead before it answers. Killed while requests are on the
//! wire, restarted, the gateway looks up what may have arrived before it
//! re-sends: every lead ends up at the portal exactly once.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use common::{free_port, spawn_binary_with, wait_ready, APIKEY, LOGIN};
use serde_json::{json, Map, Value};

/// The portal's leads: (portal id, ORIGIN_ID), in creation order.
#[derive(Default)]
struct Portal {
    leads: Mutex<Vec<(i64, String)>>,
}

impl Portal {
    fn add(&self, fields: &HashMap<String, String>) -> i64 {
        let mut leads = self.leads.lock().unwrap();
        let id = leads.len() as i64 + 1;
        leads.push((id, fields.get("ORIGIN_ID").cloned().unwrap_or_default()));
        id
    }

    fn find(&self, origin: &str) -> Vec<Value> {
        self.leads
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, stored)| stored == origin)
            .map(|(id, _)| json!({"ID": id.to_string()}))
            .collect()
    }
}

/// `fields[NAME]=…` pairs of a batch command, keyed by the name in brackets.
fn bracketed(query: &str, prefix: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .filter_map(|(key, value)| {
            let inner = key.strip_prefix(prefix)?.strip_prefix('[')?;
            let name = inner.split(']').next()?.to_owned();
            Some((name, value.into_owned()))
        })
        .collect()
}

async fn method(
    State(portal): State<Arc<Portal>>,
    Path((_, _, method)): Path<(String, String, String)>,
    body: Bytes,
) -> String {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let reply = match method.trim_end_matches(".json") {
        "crm.lead.add" => {
            let fields: HashMap<String, String> = body["fields"]
                .as_object()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|(key, value)| (key.clone(), value.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            json!({"result": portal.add(&fields)})
        }
        "batch" => {
            let mut results = Map::new();
            for (key, command) in body["cmd"].as_object().cloned().unwrap_or_default() {
                let command = command.as_str().unwrap_or_default();
                let (name, query) = command.split_once('?').unwrap_or((command, ""));
                let result = match name {
                    "crm.lead.add" => json!(portal.add(&bracketed(query, "fields"))),
                    "crm.lead.list" => {
                        let filter = bracketed(query, "filter");
                        json!(portal.find(filter.get("ORIGIN_ID").map_or("", String::as_str)))
                    }
                    other => panic!("unexpected command {other}"),
                };
                results.insert(key, result);
            }
            json!({"result": {"result": results, "result_error": []}})
        }
        other => panic!("unexpected method {other}"),
    };
    // Committed already; the answer is slow, so a kill lands while the
    // gateway is waiting for it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    reply.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_still_delivers_each_lead_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store_section(&dir.path().join("leads.db"));
    kill_mid_delivery(dir, &store, After::Restart).await;
}

/// Two replicas on one PostgreSQL schema: one is killed mid-delivery and
/// not restarted; the other takes its claims over when their leases run
/// out, looks up what may have arrived, and every lead is at the portal
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_delivery_leaves_its_work_to_the_other() {
    let Ok(url) = std::env::var("LEADGATE_TEST_POSTGRES_URL") else {
        common::skip_loudly("the replica crash test needs LEADGATE_TEST_POSTGRES_URL");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = common::postgres_store_section(&url, &common::fresh_schema());
    kill_mid_delivery(dir, &store, After::OtherReplica).await;
}

/// What carries on after the kill.
#[derive(PartialEq)]
enum After {
    /// The same gateway, restarted on its store.
    Restart,
    /// A second replica that was running all along.
    OtherReplica,
}

async fn kill_mid_delivery(dir: tempfile::TempDir, store: &str, after: After) {
    const TOKEN: &str = "crash-test-admin-token";
    const LEADS: usize = 200;
    let portal = Arc::new(Portal::default());
    let app = Router::new()
        .route("/rest/{user}/{code}/{method}", post(method))
        .with_state(portal.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal_url = format!("http://{}/rest/1/code/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        common::config_text_on(
            store,
            &format!(
                r#"
[admin]
token = "{TOKEN}"
[forwarding]
poll_interval_ms = 50
lease_secs = 1.5
[forwarding.retry]
initial_backoff_secs = 0.1
max_backoff_secs = 0.5
max_attempts = 1000
[[forwarding.targets]]
name = "portal"
kind = "bitrix24"
url = "{portal_url}"
requests_per_second = 20
batch_size = 10
[[forwarding.rules]]
targets = ["portal"]
"#
            ),
        ),
    )
    .unwrap();
    let client = reqwest::Client::new();
    // Each process's admin listener (its port from the environment, as an
    // orchestrator would set it).
    let start = |port: u16, admin_port: u16| {
        spawn_binary_with(
            &config,
            port,
            &[("LEADGATE__ADMIN__LISTEN", format!("127.0.0.1:{admin_port}"))],
        )
    };
    let port = free_port();
    let admin_port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut gateway = start(port, admin_port);
    wait_ready(&client, &base).await;
    let survivor_port = free_port();
    let survivor_admin_port = free_port();
    let mut survivor =
        (after == After::OtherReplica).then(|| start(survivor_port, survivor_admin_port));
    if survivor.is_some() {
        wait_ready(&client, &format!("http://127.0.0.1:{survivor_port}")).await;
    }

    let mut acknowledged = Vec::new();
    for n in 0..LEADS {
        let title = format!("Лид {n}");
        let answer: Value = client
            .post(format!("{base}/developer/v1/leads"))
            .form(&[
                ("login", LOGIN),
                ("apikey", APIKEY),
                ("action", "add"),
                ("title", title.as_str()),
                ("phone", "+79001112233"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        acknowledged.push(answer["result"]["id"].as_i64().unwrap().to_string());
    }
    // Kill once deliveries are well under way, with requests on the wire.
    let deadline = Instant::now() + Duration::from_secs(30);
    while portal.leads.lock().unwrap().len() < LEADS / 4 {
        assert!(Instant::now() < deadline, "deliveries did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(70)).await;
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    let at_kill = portal.leads.lock().unwrap().len();
    assert!(at_kill < LEADS, "the kill came too late to test anything");

    let (mut gateway, base) = match survivor.take() {
        Some(survivor) => (survivor, format!("http://127.0.0.1:{survivor_admin_port}")),
        None => (
            start(port, admin_port),
            format!("http://127.0.0.1:{admin_port}"),
        ),
    };
    // The admin listener serves /readyz too.
    wait_ready(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts: Value = client
            .get(format!("{base}/admin/deliveries/counts"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if counts["targets"][0]["delivered"] == LEADS {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {counts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = gateway.kill();
    let _ = gateway.wait();

    let leads = portal.leads.lock().unwrap().clone();
    let mut origins: Vec<String> = leads.iter().map(|(_, origin)| origin.clone()).collect();
    origins.sort();
    let mut expected = acknowledged.clone();
    expected.sort();
    assert_eq!(
        origins.len(),
        LEADS,
        "each lead exactly once at the portal (killed with {at_kill} there)"
    );
    assert_eq!(origins, expected);
}
