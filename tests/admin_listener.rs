//! The `[admin]` listener: `/metrics` in Prometheus text (names, labels,
//! counters moving), the delivery calls behind its token, and nothing of
//! it on the public port; JSON log lines from the real binary.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{KillOnDrop, TestGateway, APIKEY, LOGIN, WEBHOOK_CODE};
use serde_json::{json, Value};

const TOKEN: &str = "admin-token-for-tests-0123456789";

/// Samples of a Prometheus text page: series (name and sorted labels, as
/// written) → value. Fails on any line that is not a comment, a blank or a
/// sample.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        samples.insert(series.to_owned(), value);
    }
    samples
}

/// The value of the series named `name` whose labels include every one
/// of `labels`, summed over the others.
fn value(samples: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            series.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(key, value)| series.contains(&format!("{key}=\"{value}\"")))
        })
        .map(|(_, value)| value)
        .sum()
}

async fn scrape(client: &reqwest::Client, admin: &str) -> HashMap<String, f64> {
    let response = client.get(format!("{admin}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse_metrics(&response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_deliveries_are_served_on_the_admin_listener_only() {
    let gateway = TestGateway::start_with(&format!(
        r#"
[admin]
listen = "127.0.0.1:0"
token = "{TOKEN}"
[forwarding]
poll_interval_ms = 50
[[forwarding.targets]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/unreachable"
[[forwarding.rules]]
targets = ["hook"]
"#
    ))
    .await;
    let admin = format!(
        "http://{}",
        gateway.gateway.as_ref().unwrap().admin_addr().unwrap()
    );
    let client = &gateway.client;

    let before = scrape(client, &admin).await;
    assert_eq!(
        value(
            &before,
            "leadgate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // A SalesMan add, a SalesMan refusal, a Bitrix24 add and a UIS call.
    gateway
        .add(&[("title", "Анна"), ("phone", "+79001112233")])
        .await;
    let refused = client
        .get(format!(
            "{}/developer/v1/leads?login={LOGIN}&apikey={APIKEY}&action=nope",
            gateway.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 200);
    let added = client
        .post(format!(
            "{}/rest/1/{WEBHOOK_CODE}/crm.lead.add.json",
            gateway.base
        ))
        .json(&json!({"fields": {"TITLE": "Пётр", "PHONE": [{"VALUE": "+79002223344"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let uis: Value = client
        .post(format!("{}/v2.0", gateway.base))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "get.sales_funnel", "params": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(uis.get("error").is_some(), "{uis}");

    let after = scrape(client, &admin).await;
    let moved = |labels: &[(&str, &str)]| {
        value(&after, "leadgate_requests_total", labels)
            - value(&before, "leadgate_requests_total", labels)
    };
    assert_eq!(
        moved(&[
            ("dialect", "salesman"),
            ("method", "add"),
            ("outcome", "ok")
        ]),
        1.0
    );
    assert_eq!(
        moved(&[
            ("dialect", "salesman"),
            ("method", "unknown"),
            ("outcome", "refused")
        ]),
        1.0
    );
    assert_eq!(
        moved(&[
            ("dialect", "bitrix24"),
            ("method", "crm.lead.add"),
            ("outcome", "ok")
        ]),
        1.0
    );
    assert_eq!(
        moved(&[
            ("dialect", "uis"),
            ("method", "get.sales_funnel"),
            ("outcome", "refused")
        ]),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "leadgate_leads_accepted_total",
            &[("dialect", "salesman")]
        ) - value(
            &before,
            "leadgate_leads_accepted_total",
            &[("dialect", "salesman")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "leadgate_leads_accepted_total",
            &[("dialect", "bitrix24")]
        ) - value(
            &before,
            "leadgate_leads_accepted_total",
            &[("dialect", "bitrix24")]
        ),
        1.0
    );
    assert!(
        value(
            &after,
            "leadgate_request_duration_seconds_count",
            &[("dialect", "salesman"), ("method", "add")]
        ) >= 1.0
    );
    assert!(
        value(
            &after,
            "leadgate_store_commit_duration_seconds_count",
            &[("backend", "sqlite")]
        ) >= 2.0
    );
    assert!(value(&after, "leadgate_store_batch_size_count", &[]) >= 2.0);
    // Two leads queued for a target that cannot be reached: pending (or
    // in flight), and the oldest has waited.
    let queued = value(&after, "leadgate_deliveries", &[("target", "hook")]);
    assert_eq!(queued, 2.0, "{after:?}");
    assert!(
        value(
            &after,
            "leadgate_delivery_oldest_pending_seconds",
            &[("target", "hook")]
        ) >= 0.0
    );
    assert!(value(&after, "leadgate_open_connections", &[]) >= 1.0);
    // No series carries what a caller sent.
    for series in after.keys() {
        for sent in ["Анна", "Пётр", "79001112233", APIKEY, WEBHOOK_CODE, "nope"] {
            assert!(!series.contains(sent), "{series}");
        }
    }

    // The delivery calls: on the admin listener with the token only.
    let counts = client
        .get(format!("{admin}/admin/deliveries/counts"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(counts.status(), 200);
    let without = client
        .get(format!("{admin}/admin/deliveries/counts"))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 401);
    for path in ["/metrics", "/admin/deliveries/counts"] {
        let public = client
            .get(format!("{}{path}", gateway.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(public.status(), 404, "{path} on the public port");
    }
}

/// `LEADGATE_LOG_FORMAT=json`: every line the binary writes is a JSON
/// object, and a request leaves one access line naming its route, dialect,
/// method, status and latency, and none of its values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_parse_and_carry_an_access_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        common::config_text(
            &dir.path().join("leads.db"),
            &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
        ),
    )
    .unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("LEADGATE_LOG_FORMAT", "json")
            .env("LEADGATE_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    common::wait_ready(&client, &base).await;
    let answer = client
        .get(format!(
            "{base}/developer/v1/leads?login={LOGIN}&apikey={APIKEY}&action=add&title=Secret%20Name&phone=%2B79005556677"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // SIGTERM: the gateway stops and closes its log.
    let _ = Command::new("kill").arg(child.0.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    let stderr = child.0.stderr.take().unwrap();
    let mut access = None;
    let mut lines = 0;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        lines += 1;
        let entry: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(
            !line.contains("Secret") && !line.contains("79005556677") && !line.contains(APIKEY),
            "{line}"
        );
        let fields = &entry["fields"];
        if fields["message"] == "request answered" && fields["call"] == "add" {
            access = Some(entry.clone());
        }
        assert!(Instant::now() < deadline);
    }
    let _ = child.0.wait();
    assert!(lines >= 2);
    let access = access.expect("no access line for the add");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["fields"]["dialect"], "salesman");
    assert_eq!(access["fields"]["status"], 200);
    assert_eq!(access["fields"]["outcome"], "ok");
    assert!(access["fields"]["latency_us"].is_u64());
    assert_eq!(access["span"]["route"], "/developer/v1/leads");
    assert!(access["span"]["request_id"].is_string());
}

/// The token's older place is refused with a pointer to `[admin]`, not
/// left serving the admin API on the public port.
#[test]
fn the_old_admin_token_setting_is_refused_with_a_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        common::config_text(
            &dir.path().join("leads.db"),
            &format!("[forwarding]\nadmin_token = \"{TOKEN}\"\n"),
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("forwarding.admin_token"), "{stderr}");
    assert!(stderr.contains("[admin] listen"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
}
