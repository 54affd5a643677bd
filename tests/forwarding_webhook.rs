//! The webhook target and what every target shares: fan-out from one rule
//! set to several targets, signatures a receiver can check, a receiver's
//! 4xx dead-lettered at once and its HTML 502 retried, and a shutdown that
//! lets a delivery on the wire finish.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::TestGateway;
use leadgate::store::{DeliveryFilter, DeliveryState, Outbox, Store};
use ring::hmac;
use serde_json::{json, Value};

const SECRET: &str = "webhook-secret";

/// A receiver that answers with the scripted statuses in turn (then 200),
/// after `delay`, and keeps what it was sent.
#[derive(Default)]
struct Receiver {
    script: Mutex<Vec<(StatusCode, &'static str)>>,
    delay: Mutex<Duration>,
    received: Mutex<Vec<(HeaderMap, Bytes)>>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let delay = *receiver.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    receiver.received.lock().unwrap().push((headers, body));
    let mut script = receiver.script.lock().unwrap();
    if script.is_empty() {
        (StatusCode::OK, r#"{"id": "r-1"}"#)
    } else {
        script.remove(0)
    }
}

async fn receiver() -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver::default());
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

fn config(hook: &str, portal: &str, extra_rules: &str) -> String {
    format!(
        r#"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
initial_backoff_secs = 0.05
max_backoff_secs = 0.2
[[forwarding.targets]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret = "{SECRET}"
timeout_secs = 5
[[forwarding.targets]]
name = "portal"
kind = "bitrix24"
url = "{portal}"
requests_per_second = 50
[[forwarding.rules]]
targets = ["hook"]
{extra_rules}
"#
    )
}

async fn rows(store: &Arc<dyn Store>, target: &str) -> Vec<leadgate::store::DeliveryRecord> {
    store
        .list_deliveries(DeliveryFilter {
            target: Some(target.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn until(
    store: &Arc<dyn Store>,
    target: &str,
    done: impl Fn(&[leadgate::store::DeliveryRecord]) -> bool,
) -> Vec<leadgate::store::DeliveryRecord> {
    common::deliveries_until(store, target, Duration::from_secs(20), done).await
}

#[tokio::test]
async fn signed_events_fan_out_and_failures_are_told_apart() {
    let (receiver, hook) = receiver().await;
    let portal = TestGateway::start().await;
    let portal_url = format!("{}/rest/1/{}/", portal.base, common::WEBHOOK_CODE);
    // Leads from Google also go to the portal; the rest only to the hook.
    let gateway = TestGateway::start_with(&config(
        &hook,
        &portal_url,
        "[[forwarding.rules]]\ntargets = [\"portal\"]\nutm_sources = [\"google\"]",
    ))
    .await;
    receiver.script.lock().unwrap().push((
        StatusCode::BAD_GATEWAY,
        "<html><body>502 Bad Gateway</body></html>",
    ));
    let google = gateway
        .add(&[
            ("title", "Из Google"),
            ("phone", "89001110000"),
            ("utm_source", "google"),
        ])
        .await;
    let store = gateway.store();
    let hooked = until(&store, "hook", |rows| {
        rows.iter().any(|row| row.state == DeliveryState::Delivered)
    })
    .await;
    assert_eq!(hooked[0].attempts, 1, "the HTML 502 was retried");
    assert_eq!(hooked[0].external_id.as_deref(), Some("r-1"));
    until(&store, "portal", |rows| {
        rows.len() == 1 && rows[0].state == DeliveryState::Delivered
    })
    .await;

    let other = gateway
        .add(&[("title", "Сам пришёл"), ("phone", "89001110001")])
        .await;
    until(&store, "hook", |rows| {
        rows.iter()
            .filter(|row| row.state == DeliveryState::Delivered)
            .count()
            == 2
    })
    .await;
    assert_eq!(
        rows(&store, "portal").await.len(),
        1,
        "no rule sends it to the portal"
    );

    // Every body is signed; a receiver checks the signature with the secret.
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let mut ids = Vec::new();
    for (headers, body) in &received {
        let signature = headers["x-leadgate-signature"].to_str().unwrap();
        let hex = signature.strip_prefix("sha256=").unwrap();
        let tag: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
            .collect();
        hmac::verify(&key, body, &tag).expect("signature verifies");
        let event: Value = serde_json::from_slice(body).unwrap();
        let id = event["lead"]["id"].as_i64().unwrap();
        assert_eq!(
            headers["idempotency-key"].to_str().unwrap(),
            format!("leadgate-{id}")
        );
        ids.push(id);
    }
    assert_eq!(ids, [google, google, other]);

    // A 4xx is the receiver saying no: dead at once, with its words kept.
    receiver
        .script
        .lock()
        .unwrap()
        .push((StatusCode::UNPROCESSABLE_ENTITY, "missing field"));
    gateway
        .add(&[("title", "Отказ"), ("phone", "89001110002")])
        .await;
    let dead = until(&store, "hook", |rows| {
        rows.iter().any(|row| row.state == DeliveryState::Dead)
    })
    .await;
    let dead = dead
        .iter()
        .find(|row| row.state == DeliveryState::Dead)
        .unwrap();
    assert_eq!(dead.attempts, 1);
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 422: missing field"));
}

#[tokio::test]
async fn shutdown_lets_a_delivery_on_the_wire_finish() {
    let (receiver, hook) = receiver().await;
    *receiver.delay.lock().unwrap() = Duration::from_millis(700);
    let mut gateway = TestGateway::start_with(&config(&hook, "http://127.0.0.1:9/", "")).await;
    gateway
        .add(&[("title", "В пути"), ("phone", "89001110003")])
        .await;
    let store = gateway.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !rows(&store, "hook").await[0].in_flight {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.stop().await;
    assert_eq!(receiver.received.lock().unwrap().len(), 1);

    // The store after the stop: the delivery was recorded, not left claimed.
    let reopened = leadgate::store::sqlite::SqliteStore::open(
        leadgate::store::sqlite::SqliteOptions::new(gateway.store_path()),
    )
    .unwrap();
    let after = reopened
        .list_deliveries(DeliveryFilter::default())
        .await
        .unwrap();
    assert_eq!(after[0].state, DeliveryState::Delivered);
    reopened.close().await.unwrap();
}

#[tokio::test]
async fn a_delivery_that_outlasts_the_grace_goes_back_to_the_queue() {
    let (receiver, hook) = receiver().await;
    *receiver.delay.lock().unwrap() = Duration::from_secs(3);
    let extra = format!(
        "{}\n[server]\nshutdown_grace_secs = 0.3\n",
        config(&hook, "http://127.0.0.1:9/", "")
    );
    let mut gateway = TestGateway::start_with(&extra).await;
    gateway
        .add(&[("title", "Долго"), ("phone", "89001110004")])
        .await;
    let store = gateway.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !rows(&store, "hook").await[0].in_flight {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopping = tokio::time::Instant::now();
    gateway.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "the grace bounds the stop"
    );

    let reopened = leadgate::store::sqlite::SqliteStore::open(
        leadgate::store::sqlite::SqliteOptions::new(gateway.store_path()),
    )
    .unwrap();
    let after = reopened
        .list_deliveries(DeliveryFilter::default())
        .await
        .unwrap();
    assert_eq!(after[0].state, DeliveryState::Pending);
    assert!(!after[0].in_flight);
    assert_eq!(after[0].attempts, 0, "a shutdown is not a failed attempt");
    assert!(after[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("interrupted by shutdown"));
    reopened.close().await.unwrap();
}

#[tokio::test]
async fn a_change_goes_out_as_a_lead_updated_event_with_its_own_key() {
    let (receiver, hook) = receiver().await;
    let portal = TestGateway::start().await;
    let portal_url = format!("{}/rest/1/{}/", portal.base, common::WEBHOOK_CODE);
    let gateway = TestGateway::start_with(&config(&hook, &portal_url, "")).await;
    let id = gateway
        .add(&[("title", "Анна"), ("phone", "89001112233")])
        .await;
    until(&gateway.store(), "hook", |rows| {
        rows.len() == 1 && rows[0].state == DeliveryState::Delivered
    })
    .await;
    let answer: Value = gateway
        .client
        .post(format!(
            "{}/rest/1/{}/crm.lead.update",
            gateway.base,
            common::WEBHOOK_CODE
        ))
        .json(&json!({"id": id, "fields": {"STATUS_ID": "JUNK"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["result"], true, "{answer}");
    let rows = until(&gateway.store(), "hook", |rows| {
        rows.len() == 2 && rows.iter().all(|row| row.state == DeliveryState::Delivered)
    })
    .await;
    assert_eq!(rows[1].revision, 1);
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let (headers, body) = &received[1];
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["event"], "lead.updated");
    assert_eq!(event["lead"]["stage"], "junk");
    assert_eq!(
        headers["idempotency-key"],
        format!("leadgate-{id}-r1").as_str()
    );
    assert_ne!(received[0].0["idempotency-key"], headers["idempotency-key"]);
}
