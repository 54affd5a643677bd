//! Golden request/response fixtures, one folder per dialect under
//! tests/fixtures/. Each file is a conversation replayed against a fresh
//! gateway; every answer must match byte for byte, except that date-times
//! (which carry the moment of the test) are masked as `<datetime>`, and
//! requests may name `<yesterday>` and `<tomorrow>`.
//!
//! `LEADGATE_BLESS=1 cargo test --test golden` rewrites the expected answers
//! from what the gateway says now; review the diff before committing it.

mod common;

use std::path::Path;

use common::TestGateway;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Exchange {
    /// What the step shows, for a reader of the fixture.
    about: String,
    method: String,
    target: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    body: String,
    status: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    response_headers: Vec<(String, String)>,
    response: String,
}

async fn replay(file: &Path, bless: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|error| error.to_string())?;
    let mut exchanges: Vec<Exchange> =
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", file.display()))?;
    let mut gateway = TestGateway::start_with(common::SEED_ACCOUNT).await;
    let mut failures = Vec::new();
    for exchange in &mut exchanges {
        let mut request = gateway.client.request(
            exchange.method.parse().map_err(|_| "bad method")?,
            format!("{}{}", gateway.base, with_dates(&exchange.target)),
        );
        for (name, value) in &exchange.headers {
            request = request.header(name, value);
        }
        if !exchange.body.is_empty() {
            request = request.body(with_dates(&exchange.body));
        }
        let response = request.send().await.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = exchange
            .response_headers
            .iter()
            .map(|(name, _)| {
                let value = response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("<absent>");
                (name.clone(), value.to_owned())
            })
            .collect();
        let body = common::mask_times(&response.text().await.map_err(|e| e.to_string())?);
        if bless {
            exchange.status = status;
            exchange.response_headers = headers;
            exchange.response = body;
        } else if status != exchange.status
            || headers != exchange.response_headers
            || body != exchange.response
        {
            failures.push(format!(
                "{}: {}\n  expected {} {:?} {}\n  got      {} {:?} {}",
                file.display(),
                exchange.about,
                exchange.status,
                exchange.response_headers,
                exchange.response,
                status,
                headers,
                body
            ));
        }
    }
    gateway.stop().await;
    if bless {
        let mut text = serde_json::to_string_pretty(&exchanges).map_err(|e| e.to_string())?;
        text.push('\n');
        std::fs::write(file, text).map_err(|error| error.to_string())?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// `<yesterday>` and `<tomorrow>` in a request become those dates: report
/// windows (UIS allows three months) that hold the leads a fixture adds.
fn with_dates(text: &str) -> String {
    let today = chrono::Utc::now().date_naive();
    text.replace("<yesterday>", &(today - chrono::Days::new(1)).to_string())
        .replace("<tomorrow>", &(today + chrono::Days::new(1)).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_replay_byte_for_byte() {
    let bless = std::env::var_os("LEADGATE_BLESS").is_some();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    for dialect in std::fs::read_dir(&root).unwrap() {
        for file in std::fs::read_dir(dialect.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no fixtures under {}", root.display());
    let mut failures = Vec::new();
    for file in &files {
        if let Err(failure) = replay(file, bless).await {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
