//! Two gateway replicas on one PostgreSQL database behave as one gateway:
//! a lead added through one is read through the other at once, a LiveTex
//! lock is exclusive across both, and each lead is forwarded by exactly
//! one of them. Needs `LEADGATE_TEST_POSTGRES_URL`; skips loudly without it.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use common::{JsonAnswer, TestGateway, LIVETEX_PASSWORD, WEBHOOK_CODE};
use leadgate::core::SystemClock;
use serde_json::Value;
use tokio::net::TcpListener;

fn postgres_url() -> Option<String> {
    match std::env::var("LEADGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            common::skip_loudly(
                "replica tests need PostgreSQL: set LEADGATE_TEST_POSTGRES_URL \
                 (e.g. postgres://postgres@127.0.0.1:5432/test)",
            );
            None
        }
    }
}

/// `count` gateways with `extra` on one fresh schema.
async fn fleet(url: &str, extra: &str, count: usize) -> Vec<TestGateway> {
    let schema = common::fresh_schema();
    let text = common::config_text_on(&common::postgres_store_section(url, &schema), extra);
    let mut started = Vec::new();
    for _ in 0..count {
        let dir = tempfile::tempdir().unwrap();
        let settings = common::settings_from(dir.path(), &text);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        started
            .push(TestGateway::start_from(dir, &settings, Arc::new(SystemClock), listener).await);
    }
    started
}

/// Two gateways with `extra` on one fresh schema.
async fn replicas(url: &str, extra: &str) -> (TestGateway, TestGateway) {
    let mut started = fleet(url, extra, 2).await;
    let second = started.pop().unwrap();
    let first = started.pop().unwrap();
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lead_added_through_one_replica_is_read_through_the_other() {
    let Some(url) = postgres_url() else { return };
    let (mut one, mut other) = replicas(&url, "").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let gateway = if n % 2 == 0 { &one } else { &other };
        ids.push(
            gateway
                .add(&[("title", &format!("Лид {n}")), ("phone", "+79001112233")])
                .await,
        );
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids are unique across replicas");
    for (n, id) in ids.iter().enumerate() {
        let reader = if n % 2 == 0 { &other } else { &one };
        let info = reader.get_json(&format!("action=info&id={id}")).await;
        assert_eq!(info["result"]["data"]["title"], format!("Лид {n}"));
        let lead: Value = reader
            .client
            .get(format!(
                "{}/rest/1/{WEBHOOK_CODE}/crm.lead.get?id={id}",
                reader.base
            ))
            .json_answer()
            .await;
        assert_eq!(lead["result"]["TITLE"], format!("Лид {n}"));
    }
    // Same phone: every lead after the first went to the first one's
    // assignee, whichever replica took it.
    let listed = other.get_json("action=list").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 20);
    one.stop().await;
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_lock_attempts_over_two_replicas_leave_one_owner() {
    let Some(url) = postgres_url() else { return };
    let (mut one, mut other) =
        replicas(&url, "[livetex]\ntoken_secret = \"shared-secret\"\n").await;
    let added: Value = one
        .client
        .post(format!("{}/v2/leads/add", one.base))
        .basic_auth(common::LOGIN, Some(LIVETEX_PASSWORD))
        .form(&[
            ("name", "Анна"),
            ("site_id", "12"),
            ("conversation_id", "88001"),
            ("phone", "+79001112233"),
        ])
        .json_answer()
        .await;
    let id = added["results"]["id"].as_i64().unwrap().to_string();
    let bases = [one.base.clone(), other.base.clone()];
    let client = reqwest::Client::new();
    let mut attempts = Vec::new();
    for attempt in 0..50 {
        let who = if attempt % 2 == 0 {
            "demo@example.ru"
        } else {
            "ivanov@example.ru"
        };
        let url = format!("{}/v2/leads/lock", bases[attempt % 2]);
        let client = client.clone();
        let id = id.clone();
        attempts.push(tokio::spawn(async move {
            let body: Value = client
                .post(url)
                .basic_auth(who, Some(LIVETEX_PASSWORD))
                .form(&[("id", id.as_str())])
                .json_answer()
                .await;
            (who, body["results"].as_bool() == Some(true))
        }));
    }
    let mut winners = std::collections::HashSet::new();
    for attempt in attempts {
        let (who, locked) = attempt.await.unwrap();
        if locked {
            winners.insert(who);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one employee holds the lock");
    one.stop().await;
    other.stop().await;
}

/// A stand-in target that counts the events it receives per lead.
#[derive(Default)]
struct Counter {
    by_lead: Mutex<HashMap<i64, u32>>,
}

async fn count(State(counter): State<Arc<Counter>>, body: Bytes) -> &'static str {
    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(id) = event["lead"]["id"].as_i64() {
        *counter.by_lead.lock().unwrap().entry(id).or_default() += 1;
    }
    r#"{"ok": true}"#
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_lead_is_forwarded_by_exactly_one_replica() {
    let Some(url) = postgres_url() else { return };
    let counter = Arc::new(Counter::default());
    let app = Router::new()
        .route("/hook", post(count))
        .with_state(counter.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let forwarding = format!(
        "[forwarding]\npoll_interval_ms = 20\n[[forwarding.targets]]\nname = \"hook\"\n\
         kind = \"webhook\"\nurl = \"{hook}\"\ntimeout_secs = 5\n\
         [[forwarding.rules]]\ntargets = [\"hook\"]\n"
    );
    let (mut one, mut other) = replicas(&url, &forwarding).await;
    let mut adds = Vec::new();
    for n in 0..60 {
        let base = if n % 2 == 0 {
            one.base.clone()
        } else {
            other.base.clone()
        };
        let client = one.client.clone();
        adds.push(tokio::spawn(async move {
            let body: Value = client
                .post(format!("{base}/developer/v1/leads"))
                .form(&[
                    ("login", common::LOGIN),
                    ("apikey", common::APIKEY),
                    ("action", "add"),
                    ("title", &format!("Лид {n}")),
                    ("phone", &format!("+7900{n:07}")),
                ])
                .json_answer()
                .await;
            body["result"]["id"].as_i64().unwrap()
        }));
    }
    let mut ids = Vec::new();
    for add in adds {
        ids.push(add.await.unwrap());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let received = counter.by_lead.lock().unwrap().len();
        if received >= ids.len() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let any duplicate that was on its way arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let by_lead = counter.by_lead.lock().unwrap().clone();
    for id in &ids {
        assert_eq!(
            by_lead.get(id),
            Some(&1),
            "lead {id} delivered exactly once"
        );
    }
    assert_eq!(by_lead.len(), ids.len());
    one.stop().await;
    other.stop().await;
}

/// A stand-in Bitrix24 portal that notes when each request arrives.
#[derive(Default)]
struct Portal {
    arrivals: Mutex<Vec<tokio::time::Instant>>,
}

async fn portal_add(State(portal): State<Arc<Portal>>) -> String {
    let mut arrivals = portal.arrivals.lock().unwrap();
    arrivals.push(tokio::time::Instant::now());
    format!(r#"{{"result": {}}}"#, arrivals.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_together_keep_a_portal_at_two_requests_a_second() {
    let Some(url) = postgres_url() else { return };
    let portal = Arc::new(Portal::default());
    let app = Router::new()
        .route("/rest/1/code/crm.lead.add.json", post(portal_add))
        .with_state(portal.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/rest/1/code/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // One lead per request, at Bitrix24's default 2 requests a second.
    let forwarding = format!(
        "[forwarding]\npoll_interval_ms = 20\n[[forwarding.targets]]\nname = \"portal\"\n\
         kind = \"bitrix24\"\nurl = \"{base}\"\nbatch_size = 1\n\
         [[forwarding.rules]]\ntargets = [\"portal\"]\n"
    );
    let mut fleet = fleet(&url, &forwarding, 3).await;
    let leads = 9;
    for n in 0..leads {
        fleet[n % 3]
            .add(&[
                ("title", &format!("Лид {n}")),
                ("phone", &format!("+7901{n:07}")),
            ])
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while portal.arrivals.lock().unwrap().len() < leads && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut arrivals = portal.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), leads, "every lead reached the portal once");
    arrivals.sort();
    // Slots are 500 ms apart for the whole fleet; a little jitter at most.
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(400),
            "requests {gap:?} apart: the fleet went over 2 a second"
        );
    }
    for gateway in &mut fleet {
        gateway.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbound_limits_hold_for_the_fleet() {
    let Some(url) = postgres_url() else { return };
    let (mut one, mut other) = replicas(
        &url,
        "[bitrix24.rate_limit]\nper_second = 0.01\ncapacity = 3\n\
         [uis]\nminute_limit = 4\n",
    )
    .await;
    // Bitrix24's bucket: three requests fit, wherever they land; the
    // fourth overflows it.
    let mut statuses = Vec::new();
    for n in 0..4 {
        let gateway = if n % 2 == 0 { &one } else { &other };
        let response = gateway
            .client
            .get(format!(
                "{}/rest/1/{WEBHOOK_CODE}/crm.lead.list",
                gateway.base
            ))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 503]);
    // UIS points: four a minute for the key, across both replicas. The
    // test stays clear of a minute's turn so the budget is one minute's.
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second > 50 {
        tokio::time::sleep(Duration::from_secs((62 - second) as u64)).await;
    }
    let mut mnemonics = Vec::new();
    for n in 0..5 {
        let gateway = if n % 2 == 0 { &one } else { &other };
        let answer: Value = gateway
            .client
            .post(format!("{}/v2.0", gateway.base))
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "id": n, "method": "get.sales_funnel",
                "params": {"access_token": common::UIS_KEY}}),
            )
            .json_answer()
            .await;
        mnemonics.push(
            answer["error"]["data"]["mnemonic"]
                .as_str()
                .unwrap_or("ok")
                .to_owned(),
        );
        if n == 3 {
            assert_eq!(
                answer["result"]["metadata"]["limits"]["minute_remaining"], 0,
                "{answer}"
            );
        }
    }
    assert_eq!(mnemonics, ["ok", "ok", "ok", "ok", "limit_exceeded"]);
    one.stop().await;
    other.stop().await;
}

#[test]
fn migrate_brings_a_fresh_schema_up_to_date_twice_over() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    let schema = common::fresh_schema();
    std::fs::write(
        &config,
        common::config_text_on(&common::postgres_store_section(&url, &schema), ""),
    )
    .unwrap();
    for _ in 0..2 {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .args(["migrate", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("store schema is current"));
    }
}
