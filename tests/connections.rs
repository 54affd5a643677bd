//! Connections that hold resources without using them: sockets that never
//! send a byte, clients that never read their answer, more connections
//! than the file limit allows. None of them may take the gateway's
//! descriptors for longer than the configured timeouts, and `/healthz`
//! keeps answering while thousands are open.

mod common;

use std::time::{Duration, Instant};

use common::{config_text, free_port, wait_ready, TestGateway, WEBHOOK_CODE};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Whether the server has closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Err(_elapsed) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_closed_after_the_header_timeout() {
    let gateway = TestGateway::start_with("[server]\nheader_read_timeout_secs = 1\n").await;
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(address(&gateway.base)).await.unwrap());
    }
    // One that sent half a request line.
    let mut partial = TcpStream::connect(address(&gateway.base)).await.unwrap();
    partial.write_all(b"GET /hea").await.unwrap();
    let started = Instant::now();
    for stream in &mut silent {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    assert!(closed_within(&mut partial, Duration::from_secs(5)).await);
    assert!(started.elapsed() < Duration::from_secs(5));
    // A client that is merely slow between requests on a kept-alive
    // connection is closed the same way, after its first answer.
    let mut kept = TcpStream::connect(address(&gateway.base)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut kept, Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_after_the_write_timeout() {
    let gateway = TestGateway::start_with(
        "[server]\nwrite_timeout_secs = 1\nheader_read_timeout_secs = 30\n",
    )
    .await;
    // Fifty leads make each list answer some 50 KB.
    for index in 0..50 {
        let added = gateway
            .client
            .post(format!(
                "{}/rest/1/{WEBHOOK_CODE}/crm.lead.add.json",
                gateway.base
            ))
            .json(&json!({"fields": {"TITLE": format!("lead {index} {}", "x".repeat(500)), "COMMENTS": "y".repeat(400)}}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), 200);
    }
    let request = format!("GET /rest/1/{WEBHOOK_CODE}/crm.lead.list HTTP/1.1\r\nHost: g\r\n\r\n");
    const PIPELINED: usize = 400;
    let mut stream = TcpStream::connect(address(&gateway.base)).await.unwrap();
    stream
        .write_all(request.repeat(PIPELINED).as_bytes())
        .await
        .unwrap();
    // Not reading: the answers fill both socket buffers and the server's
    // write stalls.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut received = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received)).await;
    let answers = String::from_utf8_lossy(&received)
        .matches("HTTP/1.1 200")
        .count();
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the server kept the connection open"
    );
    assert!(
        answers < PIPELINED,
        "all {answers} answers were written; the connection was never cut"
    );
    // The gateway itself is fine.
    let health = gateway
        .client
        .get(format!("{}/healthz", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// The real binary under a soft open-files limit of 1024: it raises the
/// limit to the hard one at start, so 2000 silent sockets leave `/healthz`
/// answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_two_thousand_silent_sockets_are_open() {
    // This test holds 2000 sockets itself.
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    if files < 4500 || hard < 4500 {
        common::skip_loudly(&format!(
            "connection test needs an open-files hard limit of 4500 (have {hard})"
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(&config, config_text(&dir.path().join("leads.db"), "")).unwrap();
    let port = free_port();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn 1024 && exec {} serve --config {}",
            env!("CARGO_BIN_EXE_leadgate"),
            config.display()
        ))
        .env("LEADGATE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("LEADGATE__SERVER__HEADER_READ_TIMEOUT_SECS", "60")
        .env("LEADGATE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;

    let mut silent = Vec::new();
    for _ in 0..2000 {
        silent.push(TcpStream::connect(address(&base)).await.unwrap());
    }
    // Give the accept loop time to take them all.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        let health = client
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("healthz answers");
        assert_eq!(health.status(), 200);
    }
    drop(silent);
    let _ = child.kill();
    let _ = child.wait();
}

/// Past `max_connections`, a new connection is answered 503 at once
/// rather than left waiting or reset; once the silent ones time out,
/// `/healthz` answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_answered_503() {
    let gateway =
        TestGateway::start_with("[server]\nmax_connections = 20\nheader_read_timeout_secs = 2\n")
            .await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(address(&gateway.base)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(address(&gateway.base)).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), extra.read_to_end(&mut answer))
        .await
        .expect("answered at once")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after"), "{answer}");
    // The silent ones are cut off after the header timeout.
    for stream in &mut silent {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    let health = gateway
        .client
        .get(format!("{}/healthz", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
