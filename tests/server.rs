//! Server behaviour shared by every dialect: TLS with HTTP/2 by ALPN, the
//! header-read timeout against slow clients, and `leadgate check`.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{TestGateway, APIKEY};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_http2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let extra = format!(
        "[server.tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let mut gateway = TestGateway::start_in(dir, &extra).await;
    let address = gateway.gateway.as_ref().unwrap().local_addr();
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();

    for http1_only in [false, true] {
        let mut builder = reqwest::Client::builder()
            .add_root_certificate(root.clone())
            .resolve("localhost", address);
        if http1_only {
            builder = builder.http1_only();
        }
        let client = builder.build().unwrap();
        let response = client
            .post(format!(
                "https://localhost:{}/developer/v1/leads",
                address.port()
            ))
            .form(&[
                ("login", "demo@example.ru"),
                ("apikey", APIKEY),
                ("action", "add"),
                ("title", "По TLS"),
            ])
            .send()
            .await
            .unwrap();
        let expected = if http1_only {
            reqwest::Version::HTTP_11
        } else {
            reqwest::Version::HTTP_2
        };
        assert_eq!(response.version(), expected);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["result"]["text"], "Success");
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let mut gateway = TestGateway::start_with("[server]\nheader_read_timeout_secs = 0.3\n").await;
    let address = gateway.gateway.as_ref().unwrap().local_addr();
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let mut buffer = Vec::new();
        stream.read_to_end(&mut buffer).map(|_| buffer)
    })
    .await
    .unwrap();
    // The server closed the connection (possibly after a 408) long before
    // the client's own 10 s read timeout.
    let buffer = outcome.expect("connection was closed, not timed out");
    assert!(
        buffer.is_empty() || buffer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&buffer)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    gateway.stop().await;
}

#[test]
fn check_command_names_file_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, common::config_text(&dir.path().join("l.db"), "")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        common::config_text(
            &dir.path().join("l.db"),
            "[server]\nlisten = \"not an address\"\n",
        )
        .replace(
            "default_assignee = \"demo@example.ru\"",
            "default_assignee = \"ghost\"",
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = bad.display().to_string();
    assert!(
        stderr.contains(&format!("{file}: server.listen:")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}: salesman.default_assignee:")),
        "{stderr}"
    );

    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config", "/nonexistent/leadgate.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn the_example_config_passes_check() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/leadgate.example.toml"
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_answered_in_the_dialect() {
    let mut gateway = TestGateway::start_with("[server]\nrequest_timeout_secs = 0.3\n").await;
    let address = gateway.gateway.as_ref().unwrap().local_addr();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // A body announced but never finished: the handler waits for it.
        stream
            .write_all(
                b"POST /developer/v1/leads HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/x-www-form-urlencoded\r\n\
                  Content-Length: 100\r\n\r\naction=add",
            )
            .unwrap();
        let mut buffer = Vec::new();
        let _ = stream.read_to_end(&mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#"{"result":"Error","error":{"code":"504","#),
        "{answer}"
    );
    assert!(
        answer.contains("access-control-allow-origin: *"),
        "{answer}"
    );
    gateway.stop().await;
}

#[test]
fn check_warns_of_per_process_secrets_on_a_shared_store() {
    let dir = tempfile::tempdir().unwrap();
    let check = |extra: &str| {
        let file = dir.path().join("shared.toml");
        let store = common::postgres_store_section("postgres://leadgate@db.example/leads", "gw");
        std::fs::write(&file, common::config_text_on(&store, extra)).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .args(["check", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = check("");
    assert!(
        stderr.contains("warning: livetex.token_secret: not set"),
        "{stderr}"
    );
    let stderr = check("[livetex]\ntoken_secret = \"shared\"\n");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_gateway_on_the_same_sqlite_file_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        common::config_text(&dir.path().join("leads.db"), ""),
    )
    .unwrap();
    let port = common::free_port();
    let mut first = common::spawn_binary(&config, port);
    common::wait_ready(&reqwest::Client::new(), &format!("http://127.0.0.1:{port}")).await;
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env(
            "LEADGATE__SERVER__LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .output()
        .unwrap();
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("process {}", first.id())),
        "names the holder: {stderr}"
    );
    assert!(stderr.contains("one gateway per SQLite file"), "{stderr}");
}
