//! A read must never take the gateway's memory with it. The real binary is
//! filled with 100 000 leads, its peak RSS is reset, and UIS reports over
//! the largest window UIS allows run against it, plain and filtered and
//! sorted (which has to look at every lead of the window); the peak RSS
//! they cause, read from /proc, stays under a bound far below what holding
//! the window's rows would take. A bound, not a time: timings live in
//! BENCHMARKS.md (bench/reads.sh).

mod common;

use std::process::Child;

use common::{free_port, spawn_binary, wait_ready};
use serde_json::{json, Value};

const LEADS: usize = 100_000;
const PER_BATCH: usize = 50;
/// What the reports may add to the process's peak RSS. Holding the
/// window's report rows would take over a gigabyte at this size.
const BOUND_MB: f64 = 128.0;

struct Gateway {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"[store]
path = "{}"
[[employees]]
id = 1
name = "Memory"
login = "memory@example.ru"
role = "admin"
[salesman]
enabled = false
[livetex]
enabled = false
[[bitrix24.webhooks]]
user_id = 1
code = "fill"
login = "memory@example.ru"
[uis]
day_limit = 1000000
minute_limit = 1000000
[[uis.keys]]
key = "report-key"
login = "memory@example.ru"
"#,
            dir.path().join("leads.db").display()
        ),
    )
    .unwrap();
    Gateway {
        child: spawn_binary(&config, port),
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_over_the_largest_window_stay_within_a_memory_bound() {
    let gateway = start();
    let client = reqwest::Client::new();
    wait_ready(&client, &gateway.base).await;

    // 100 000 leads through Bitrix24 batch, 16 requests in flight.
    let batches = LEADS / PER_BATCH;
    let mut senders = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        let url = format!("{}/rest/1/fill/batch", gateway.base);
        senders.push(tokio::spawn(async move {
            for batch in (worker..batches).step_by(16) {
                let commands: serde_json::Map<String, Value> = (0..PER_BATCH)
                    .map(|item| {
                        let n = batch * PER_BATCH + item;
                        (
                            format!("c{item}"),
                            Value::String(format!(
                                "crm.lead.add?fields[TITLE]=Lead+{n}&fields[PHONE][0][VALUE]=%2B7900{n:07}&fields[COMMENTS]=Report+memory+{n}"
                            )),
                        )
                    })
                    .collect();
                let answer: Value = client
                    .post(&url)
                    .json(&json!({"halt": 0, "cmd": commands}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(
                    answer["result"]["result"].as_object().map(|done| done.len()),
                    Some(PER_BATCH),
                    "{answer}"
                );
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }

    let pid = gateway.child.id();
    // Forget the peak the filling reached: from here VmHWM is the reports'.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_mb(pid, "VmRSS");

    // The largest window UIS allows (three months), in the account's time.
    let now = chrono::Utc::now() + chrono::Duration::hours(3);
    let from = (now - chrono::Duration::days(85)).format("%Y-%m-%d %H:%M:%S");
    let till = (now + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S");
    let report = |extra: Value| {
        let mut params = json!({"access_token": "report-key", "date_from": from.to_string(), "date_till": till.to_string()});
        for (key, value) in extra.as_object().unwrap() {
            params[key] = value.clone();
        }
        let client = client.clone();
        let url = format!("{}/v2.0", gateway.base);
        async move {
            let answer: Value = client
                .post(url)
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "get.offline_messages_report", "params": params}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(answer["result"].is_object(), "{answer}");
            answer
        }
    };
    let plain = report(json!({"limit": 10000, "offset": 90000})).await;
    assert_eq!(plain["result"]["metadata"]["total_items"], LEADS);
    assert_eq!(plain["result"]["data"].as_array().unwrap().len(), 10000);
    let sorted = report(json!({
        "limit": 10000, "offset": 50000,
        "sort": [{"field": "visitor_phone_number", "order": "desc"}],
        "filter": {"field": "text", "operator": "like", "value": "Report memory%"},
    }))
    .await;
    assert_eq!(sorted["result"]["metadata"]["total_items"], LEADS);
    let rows = sorted["result"]["data"].as_array().unwrap();
    assert_eq!(rows.len(), 10000);
    // Descending phones: the 50 001st from the top.
    assert_eq!(
        rows[0]["visitor_phone_number"],
        format!("+7900{:07}", LEADS - 50_001)
    );

    // Filtered, unsorted: the scan reads two columns of each lead, the page
    // comes back whole.
    let filtered = report(json!({
        "limit": 5, "offset": 10,
        "filter": {"field": "visitor_phone_number", "operator": "like", "value": "+790000001%"},
    }))
    .await;
    assert_eq!(filtered["result"]["metadata"]["total_items"], 100);
    let rows = filtered["result"]["data"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    // Concurrent batches give ids in no particular order of the numbers
    // written; what holds is that the page is in id order and every row is
    // whole: its phone matches and its text is the same lead's.
    let ids: Vec<i64> = rows.iter().map(|row| row["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    for row in rows {
        let phone = row["visitor_phone_number"].as_str().unwrap();
        assert!(phone.starts_with("+790000001"), "{row}");
        let n: u64 = phone["+7900".len()..].parse().unwrap();
        assert_eq!(row["text"], format!("Report memory {n}"), "{row}");
    }

    let peak = status_mb(pid, "VmHWM");
    eprintln!("reports: peak RSS {before:.0} MB before, {peak:.0} MB after");
    assert!(
        peak - before < BOUND_MB,
        "the reports raised peak RSS from {before:.0} MB to {peak:.0} MB"
    );
}
