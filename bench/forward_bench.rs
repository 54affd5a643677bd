//! Forwarding throughput and delivery lag, end to end on one machine: a
//! gateway takes durable SalesMan adds and forwards them to a target, and
//! the delivery rows say when each lead was accepted and when the target's
//! acknowledgement was recorded (accept → target commit).
//!
//! Targets: a webhook receiver (a minimal hyper/axum server) and a second
//! gateway serving Bitrix24 on loopback. Two kinds of run:
//! - burst: LEADS adds as fast as 32 clients can send them; throughput is
//!   leads / (last delivery − first accept).
//! - steady: adds offered at RATE per second for LEADS leads, below the
//!   target's capacity, so lag is the forwarding path's own, not a queue.
//!
//!   cargo run --profile dist --example forward_bench -- webhook burst 5000
//!   cargo run --profile dist --example forward_bench -- bitrix24-paced steady 1500 80
//!   (targets: webhook, webhook16, bitrix24-paced, bitrix24-unpaced)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use leadgate::app::Gateway;
use leadgate::config::Settings;
use leadgate::store::{DeliveryFilter, DeliveryState};

const APIKEY: &str = "bench-apikey";

fn settings(dir: &std::path::Path, name: &str, extra: &str) -> Settings {
    let text = format!(
        r#"
[store]
path = "{}/{name}.db"
[[employees]]
id = 1
name = "Bench"
login = "bench@example.ru"
[salesman]
default_assignee = "bench@example.ru"
[[salesman.credentials]]
apikey = "{APIKEY}"
login = "bench@example.ru"
[[bitrix24.webhooks]]
user_id = 1
code = "bench-code"
login = "bench@example.ru"
{extra}
"#,
        dir.display()
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    Settings::load(&file).unwrap_or_else(|problems| panic!("{problems:?}"))
}

async fn start(settings: &Settings) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Gateway::start(settings, Some(listener)).await.unwrap()
}

async fn webhook_receiver(received: Arc<AtomicU64>) -> String {
    let app = Router::new().route(
        "/hook",
        post(move || {
            let received = received.clone();
            async move {
                received.fetch_add(1, Ordering::Relaxed);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args.first().map_or("webhook", String::as_str).to_owned();
    let mode = args.get(1).map_or("burst", String::as_str).to_owned();
    let leads: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(5000);
    let rate: f64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(80.0);
    let dir = tempfile::tempdir().unwrap();

    let received = Arc::new(AtomicU64::new(0));
    let mut portal = None;
    let target_config = match target.as_str() {
        "webhook" | "webhook16" => {
            let url = webhook_receiver(received.clone()).await;
            let concurrency = if target == "webhook16" { 16 } else { 4 };
            format!(
                "kind = \"webhook\"\nurl = \"{url}\"\nsecret = \"bench\"\nconcurrency = {concurrency}"
            )
        }
        "bitrix24-paced" | "bitrix24-unpaced" => {
            let gateway = start(&settings(dir.path(), "portal", "")).await;
            let url = format!("http://{}/rest/1/bench-code/", gateway.local_addr());
            portal = Some(gateway);
            let rate = if target == "bitrix24-paced" { 2 } else { 1000 };
            format!("kind = \"bitrix24\"\nurl = \"{url}\"\nrequests_per_second = {rate}")
        }
        other => panic!("unknown target {other}"),
    };
    let source_settings = settings(
        dir.path(),
        "gateway",
        &format!(
            "[forwarding]\n[[forwarding.targets]]\nname = \"target\"\n{target_config}\n\
             [[forwarding.rules]]\ntargets = [\"target\"]\n"
        ),
    );
    let gateway = start(&source_settings).await;
    let url = format!("http://{}/developer/v1/leads", gateway.local_addr());
    let client = reqwest::Client::new();

    let started = Instant::now();
    let send = move |n: usize| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let title = format!("Лид {n}");
            let phone = format!("+7900{n:07}");
            let response = client
                .post(&url)
                .form(&[
                    ("login", "bench@example.ru"),
                    ("apikey", APIKEY),
                    ("action", "add"),
                    ("title", title.as_str()),
                    ("phone", phone.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
        }
    };
    if mode == "steady" {
        let mut tasks = Vec::with_capacity(leads);
        let interval = Duration::from_secs_f64(1.0 / rate);
        for n in 0..leads {
            tokio::time::sleep_until((started + interval * n as u32).into()).await;
            tasks.push(tokio::spawn(send(n)));
        }
        for task in tasks {
            task.await.unwrap();
        }
    } else {
        let next = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..32 {
            let next = next.clone();
            let send = send.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if n >= leads {
                        return;
                    }
                    send(n).await;
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap();
        }
    }
    let accepted_in = started.elapsed();

    let store = gateway.store();
    let rows = loop {
        let rows = store
            .list_deliveries(DeliveryFilter {
                limit: Some(leads as u64 + 10),
                ..Default::default()
            })
            .await
            .unwrap();
        let delivered = rows
            .iter()
            .filter(|row| row.state == DeliveryState::Delivered)
            .count();
        if delivered >= leads {
            break rows;
        }
        assert!(
            rows.iter().all(|row| row.state != DeliveryState::Dead),
            "a delivery died"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let first_accept = rows.iter().map(|row| row.created_at).min().unwrap();
    let last_delivery = rows.iter().map(|row| row.updated_at).max().unwrap();
    let span = (last_delivery - first_accept).to_std().unwrap_or_default();
    let mut lags: Vec<f64> = rows
        .iter()
        .map(|row| {
            (row.updated_at - row.created_at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0
        })
        .collect();
    lags.sort_by(|a, b| a.total_cmp(b));
    let retried = rows.iter().filter(|row| row.attempts > 0).count();
    println!(
        "| {target} | {mode}{} | {leads} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {retried} |",
        if mode == "steady" {
            format!(" {rate:.0}/s")
        } else {
            String::new()
        },
        leads as f64 / accepted_in.as_secs_f64(),
        leads as f64 / span.as_secs_f64(),
        percentile(&lags, 50.0),
        percentile(&lags, 99.0),
        lags.last().copied().unwrap_or(f64::NAN),
    );
    gateway.shutdown().await.unwrap();
    if let Some(portal) = portal {
        portal.shutdown().await.unwrap();
    }
}
