//! Durability of acknowledged leads across the worst stops: the real binary
//! is SIGKILLed in the middle of a burst of adds, and separately stopped with
//! SIGTERM; after a restart every id that was acknowledged is present and
//! intact.

mod common;

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, spawn_binary, wait_ready, APIKEY};
use serde_json::Value;

struct Binary {
    child: Child,
    base: String,
}

fn start(config: &std::path::Path, port: u16) -> Binary {
    let child = spawn_binary(config, port);
    Binary {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Sends adds from `workers` concurrent clients until told to stop; records
/// every acknowledged id with the title it was sent with.
fn burst(
    client: &reqwest::Client,
    base: &str,
    workers: usize,
    acknowledged: Arc<Mutex<Vec<(i64, String)>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|worker| {
            let client = client.clone();
            let url = format!("{base}/developer/v1/leads");
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    let title = format!("Лид {worker}-{n}");
                    let phone = format!("+7900{worker:03}{n:04}");
                    let sent = client
                        .post(&url)
                        .form(&[
                            ("login", "demo@example.ru"),
                            ("apikey", APIKEY),
                            ("action", "add"),
                            ("title", title.as_str()),
                            ("phone", phone.as_str()),
                        ])
                        .send()
                        .await;
                    let Ok(response) = sent else { return };
                    let Ok(answer) = response.json::<Value>().await else {
                        return;
                    };
                    if let Some(id) = answer["result"]["id"].as_i64() {
                        acknowledged.lock().unwrap().push((id, title));
                    }
                }
            })
        })
        .collect()
}

async fn verify(client: &reqwest::Client, base: &str, acknowledged: &[(i64, String)]) {
    for (id, title) in acknowledged {
        let answer: Value = client
            .get(format!(
                "{base}/developer/v1/leads?login=demo%40example.ru&apikey={APIKEY}&action=info&id={id}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["result"]["data"]["title"], *title,
            "acknowledged lead {id} lost or changed: {answer}"
        );
    }
}

async fn run(stop: impl Fn(&mut Child)) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        common::config_text(&dir.path().join("leads.db"), ""),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let port = free_port();

    let mut binary = start(&config, port);
    wait_ready(&client, &binary.base).await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let workers = burst(&client, &binary.base, 32, acknowledged.clone());
    // Stop mid-burst, once a good number of leads has been acknowledged.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 500 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop(&mut binary.child);
    let _ = binary.child.wait();
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 100,
        "burst too small: {}",
        acknowledged.len()
    );

    let mut restarted = start(&config, port);
    wait_ready(&client, &restarted.base).await;
    verify(&client, &restarted.base, &acknowledged).await;
    let _ = restarted.child.kill();
    let _ = restarted.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_burst_loses_no_acknowledged_lead() {
    run(|child| {
        // std's kill is SIGKILL on Unix: no chance to flush anything.
        child.kill().unwrap();
    })
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    run(|child| {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(Instant::now() < deadline, "did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await;
}
