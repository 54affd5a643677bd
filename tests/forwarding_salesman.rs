//! Exactly once into a SalesMan that keeps no idempotency key: a stand-in
//! of the open-source SalesMan's API 1.0 that ignores `uids`, stores a
//! lead and then answers 500 with an empty body for one marked field (its
//! request logger failing on an apostrophe), and stores another and
//! answers slower than the client's timeout. Each lead is stored there
//! once, and every delivery ends delivered.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use common::TestGateway;
use leadgate::store::DeliveryState;
use serde_json::{json, Value};

#[derive(Default)]
struct Crm {
    /// Stored leads, oldest first: (id, form fields).
    leads: Mutex<Vec<(u64, HashMap<String, String>)>>,
    adds: Mutex<u64>,
}

async fn api(State(crm): State<Arc<Crm>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    match form.get("action").map(String::as_str) {
        Some("add") => {
            *crm.adds.lock().unwrap() += 1;
            let id = {
                let mut leads = crm.leads.lock().unwrap();
                let id = leads.len() as u64 + 1;
                leads.push((id, form.clone()));
                id
            };
            let title = form.get("title").cloned().unwrap_or_default();
            if title.contains('\'') {
                // Stored, then the request logger fails.
                return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
            }
            if title.contains("медленно") {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            json!({"result": {"text": "Success", "id": id, "mailresult": null}})
                .to_string()
                .into_response()
        }
        Some("list") => {
            let leads = crm.leads.lock().unwrap();
            // API 1.0: the newest 200, whatever offset and dateStart say.
            let rows: Vec<Value> = leads
                .iter()
                .rev()
                .take(200)
                .map(|(id, form)| {
                    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
                    json!({
                        "id": id.to_string(),
                        "person": field("title"),
                        "phone": field("phone"),
                        "email": field("email"),
                        "content": field("description"),
                        "datum": "2026-12-04 10:00:00",
                    })
                })
                .collect();
            if rows.is_empty() {
                return json!({"result": "Error", "error": {"code": "404", "text": "Не найдено"}})
                    .to_string()
                    .into_response();
            }
            json!({ "data": rows }).to_string().into_response()
        }
        _ => json!({"result": "Error", "error": {"code": "402", "text": "Не известный метод"}})
            .to_string()
            .into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lead_is_stored_once_after_a_500_and_a_timeout() {
    let crm = Arc::new(Crm::default());
    let app = Router::new()
        .route("/developer/v1/leads", post(api))
        .with_state(crm.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/developer/v1/leads",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
initial_backoff_secs = 0.1
max_backoff_secs = 0.3
max_attempts = 20
[[forwarding.targets]]
name = "crm"
kind = "salesman"
url = "{url}"
login = "bridge@example.ru"
apikey = "bridge-key"
timeout_secs = 0.5
[[forwarding.rules]]
targets = ["crm"]
"#
    ))
    .await;
    let titles = ["Анна Обычная", "Д'Артаньян", "Пётр медленно"];
    for (n, title) in titles.iter().enumerate() {
        gateway
            .add(&[
                ("title", title),
                ("phone", &format!("8900111223{n}")),
                ("email", &format!("client{n}@example.ru")),
            ])
            .await;
    }

    let store = gateway.store();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = store
            .list_deliveries(leadgate::store::DeliveryFilter::default())
            .await
            .unwrap();
        if rows.len() == 3 && rows.iter().all(|row| row.state == DeliveryState::Delivered) {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = crm.leads.lock().unwrap().clone();
    for title in titles {
        let copies = stored
            .iter()
            .filter(|(_, form)| form.get("title").map(String::as_str) == Some(title))
            .count();
        assert_eq!(copies, 1, "{title}: {stored:?}");
    }
    assert_eq!(stored.len(), 3);
    // The 500 and the timeout were each followed by a look, not an add.
    assert_eq!(*crm.adds.lock().unwrap(), 3);
}
