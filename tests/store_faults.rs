//! PostgreSQL going away under a running gateway: a TCP proxy between the
//! gateway and the database is cut and restored. While it is cut, requests
//! get their dialect's "try again later" error quickly (no hang, no 500
//! page) and `/readyz` says not ready; once it is back the gateway recovers
//! by itself, and every lead it acknowledged is there. Needs
//! `LEADGATE_TEST_POSTGRES_URL`; skips loudly without it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestGateway;
use leadgate::core::SystemClock;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards connections to the database until cut; while cut, closes every
/// connection it carried and refuses new ones.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    carried: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let carried: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (accept_cut, accept_carried) = (cut.clone(), carried.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if accept_cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_carried.lock().unwrap().push(task);
            }
        });
        Proxy { port, cut, carried }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self.carried.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// host:port and the URL with that part replaced by the proxy's.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[after_scheme..];
    let host_start = rest.find('@').map_or(0, |at| at + 1);
    let host_end = rest[host_start..]
        .find(['/', '?'])
        .map_or(rest.len(), |at| host_start + at);
    let upstream = rest[host_start..host_end].to_owned();
    let proxied = format!(
        "{}{}127.0.0.1:{port}{}",
        &url[..after_scheme],
        &rest[..host_start],
        &rest[host_end..]
    );
    let upstream = if upstream.contains(':') {
        upstream
    } else {
        format!("{upstream}:5432")
    };
    (upstream, proxied)
}

async fn add(gateway: &TestGateway, title: &str) -> (u16, serde_json::Value, Duration) {
    let started = tokio::time::Instant::now();
    let response = gateway
        .client
        .post(gateway.leads_url())
        .form(&[
            ("login", common::LOGIN),
            ("apikey", common::APIKEY),
            ("action", "add"),
            ("title", title),
            ("phone", "+79001112233"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body, started.elapsed())
}

async fn ready(gateway: &TestGateway) -> u16 {
    gateway
        .client
        .get(format!("{}/readyz", gateway.base))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_cut_and_restored_under_load_loses_no_acknowledged_lead() {
    let url = match std::env::var("LEADGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            common::skip_loudly("store fault tests need LEADGATE_TEST_POSTGRES_URL");
            return;
        }
    };
    let (upstream, _) = through_proxy(&url, 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = through_proxy(&url, proxy.port);
    let schema = common::fresh_schema();
    let text = common::config_text_on(&common::postgres_store_section(&proxied, &schema), "");
    let dir = tempfile::tempdir().unwrap();
    let settings = common::settings_from(dir.path(), &text);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut gateway =
        TestGateway::start_from(dir, &settings, Arc::new(SystemClock), listener).await;

    let mut acknowledged = Vec::new();
    for n in 0..10 {
        let (status, body, _) = add(&gateway, &format!("до {n}")).await;
        assert_eq!(status, 200);
        acknowledged.push(body["result"]["id"].as_i64().unwrap());
    }
    assert_eq!(ready(&gateway).await, 200);

    proxy.cut();
    let mut refused = 0;
    for n in 0..5 {
        let (status, body, took) = add(&gateway, &format!("во время {n}")).await;
        assert_eq!(status, 200, "SalesMan answers errors with 200: {body}");
        match body["result"]["id"].as_i64() {
            Some(id) => acknowledged.push(id),
            None => {
                refused += 1;
                assert_eq!(body["error"]["code"], "1", "{body}");
                assert!(
                    body["error"]["text"]
                        .as_str()
                        .unwrap()
                        .contains("повторите"),
                    "a try-again error: {body}"
                );
            }
        }
        assert!(took < Duration::from_secs(15), "no hang: {took:?}");
    }
    assert!(refused > 0, "with the database cut, adds are refused");
    assert_eq!(
        ready(&gateway).await,
        503,
        "not ready while the database is away"
    );

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ready(&gateway).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in 0..10 {
        let (status, body, _) = add(&gateway, &format!("после {n}")).await;
        assert_eq!(status, 200);
        acknowledged.push(
            body["result"]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("recovered, yet: {body}")),
        );
    }
    for id in &acknowledged {
        let info = gateway.get_json(&format!("action=info&id={id}")).await;
        assert_eq!(info["result"]["data"]["id"], *id, "acknowledged lead {id}");
    }
    gateway.stop().await;
}
