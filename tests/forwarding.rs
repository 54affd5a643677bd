//! Forwarding end to end: a gateway forwards what it accepts to a second
//! gateway that serves the target's dialect over real HTTP on loopback, so
//! both the client side and the wire protocol are the real ones.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{wait_delivered, TestGateway, APIKEY, LOGIN, WEBHOOK_CODE};
use leadgate::core::SystemClock;
use leadgate::store::{DeliveryFilter, DeliveryState};
use serde_json::{json, Value};

fn bitrix24_target(target: &TestGateway, extra: &str) -> String {
    format!(
        r#"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
initial_backoff_secs = 0.1
max_backoff_secs = 0.5
max_attempts = 1000
[[forwarding.targets]]
name = "portal"
kind = "bitrix24"
url = "{}/rest/1/{WEBHOOK_CODE}/"
{extra}
[[forwarding.rules]]
targets = ["portal"]
"#,
        target.base
    )
}

async fn bitrix24_call(gateway: &TestGateway, method: &str, body: Value) -> Value {
    let response = gateway
        .client
        .post(format!("{}/rest/1/{WEBHOOK_CODE}/{method}", gateway.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// Every lead the Bitrix24 side holds that came from `originator`.
async fn portal_leads(portal: &TestGateway, originator: &str) -> Vec<Value> {
    let mut leads = Vec::new();
    let mut start = 0;
    loop {
        let page = bitrix24_call(
            portal,
            "crm.lead.list",
            json!({"filter": {"ORIGINATOR_ID": originator}, "select": ["*", "PHONE", "EMAIL"],
                   "order": {"ID": "ASC"}, "start": start}),
        )
        .await;
        if page["error"] == "QUERY_LIMIT_EXCEEDED" {
            // A rate-limited portal counts the test's own reads too.
            tokio::time::sleep(Duration::from_millis(600)).await;
            continue;
        }
        let rows = page["result"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("crm.lead.list failed: {page}"));
        leads.extend(rows);
        match page["next"].as_u64() {
            Some(next) => start = next,
            None => return leads,
        }
    }
}

#[tokio::test]
async fn a_salesman_lead_reaches_a_bitrix24_portal() {
    let portal = TestGateway::start().await;
    let gateway =
        TestGateway::start_with(&bitrix24_target(&portal, "requests_per_second = 50")).await;
    let id = gateway
        .add(&[
            ("title", "Анна Петрова"),
            ("phone", "8 (900) 111-22-33"),
            ("email", "Anna@Example.RU"),
            ("description", "Перезвоните после обеда"),
            ("path", "Обратный звонок"),
            ("utm_source", "yandex"),
        ])
        .await;
    let rows = wait_delivered(&gateway.store(), "portal", 1, Duration::from_secs(20)).await;
    assert_eq!(rows[0].lead_id, id);

    let leads = portal_leads(&portal, "leadgate").await;
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(rows[0].external_id.as_deref(), lead["ID"].as_str());
    assert_eq!(lead["ORIGIN_ID"], id.to_string());
    assert_eq!(lead["NAME"], "Анна Петрова");
    assert_eq!(lead["COMMENTS"], "Перезвоните после обеда");
    assert_eq!(lead["SOURCE_ID"], "CALLBACK");
    assert_eq!(lead["UTM_SOURCE"], "yandex");
    assert_eq!(lead["PHONE"][0]["VALUE"], "8 (900) 111-22-33");
    assert_eq!(lead["EMAIL"][0]["VALUE"], "Anna@Example.RU");
}

#[tokio::test]
async fn a_bitrix24_lead_reaches_a_salesman_crm() {
    let crm = TestGateway::start().await;
    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
gateway_id = "site-gw"
[[forwarding.targets]]
name = "crm"
kind = "salesman"
url = "{}/developer/v1/leads"
login = "{LOGIN}"
apikey = "{APIKEY}"
[[forwarding.rules]]
targets = ["crm"]
dialects = ["bitrix24"]
"#,
        crm.base
    ))
    .await;
    let added = bitrix24_call(
        &gateway,
        "crm.lead.add",
        json!({"fields": {"TITLE": "Заявка", "NAME": "Олег", "LAST_NAME": "Петров",
                          "ADDRESS_CITY": "Казань", "COMPANY_TITLE": "ООО Ромашка",
                          "PHONE": [{"VALUE": "+7 912 000-11-22", "VALUE_TYPE": "WORK"}],
                          "SOURCE_ID": "WEB", "COMMENTS": "Нужен счёт", "UTM_CAMPAIGN": "spring"}}),
    )
    .await;
    let id = added["result"].as_i64().unwrap();
    // A SalesMan lead is not forwarded: the rule names Bitrix24 only.
    gateway
        .add(&[("title", "Не для CRM"), ("phone", "89001234567")])
        .await;

    let rows = wait_delivered(&gateway.store(), "crm", 1, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].lead_id, id);
    let crm_id = rows[0].external_id.clone().unwrap();
    let info = crm.get_json(&format!("action=info&id={crm_id}")).await;
    let lead = &info["result"]["data"];
    // SalesMan has one name field: first and last name both reach it.
    assert_eq!(lead["person"], "Олег Петров", "{info}");
    assert_eq!(lead["city"], "Казань", "{info}");
    assert_eq!(lead["company"], "ООО Ромашка");
    assert_eq!(lead["description"], "Нужен счёт");
    assert_eq!(lead["phone"], "+7 912 000-11-22");
    assert_eq!(lead["utm_campaign"], "spring");
}

#[tokio::test]
async fn a_target_down_during_a_burst_gets_every_lead_once_when_it_returns() {
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = parked.local_addr().unwrap();
    drop(parked);
    let portal_base = format!("http://{address}");
    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
initial_backoff_secs = 0.05
max_backoff_secs = 0.5
max_attempts = 10000
[[forwarding.targets]]
name = "portal"
kind = "bitrix24"
url = "{portal_base}/rest/1/{WEBHOOK_CODE}/"
requests_per_second = 40
timeout_secs = 5
[[forwarding.rules]]
targets = ["portal"]
"#
    ))
    .await;

    let gateway = Arc::new(gateway);
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..50 {
                let name = format!("Клиент {worker}-{n}");
                let phone = format!("8900{worker:03}{n:04}");
                ids.push(gateway.add(&[("title", &name), ("phone", &phone)]).await);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = gateway
        .store()
        .list_deliveries(DeliveryFilter {
            state: Some(DeliveryState::Pending),
            limit: Some(2000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        waiting.len(),
        1000,
        "nothing can be delivered while it is down"
    );
    assert!(waiting.iter().any(|row| row.last_error.is_some()));

    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let portal = TestGateway::start_on_listener(
        tempfile::tempdir().unwrap(),
        "",
        Arc::new(SystemClock),
        listener,
    )
    .await;
    let rows = wait_delivered(&gateway.store(), "portal", 1000, Duration::from_secs(120)).await;
    assert_eq!(rows.len(), 1000);

    let leads = portal_leads(&portal, "leadgate").await;
    assert_eq!(leads.len(), 1000, "each lead exactly once at the portal");
    let mut origins: Vec<i64> = leads
        .iter()
        .map(|lead| lead["ORIGIN_ID"].as_str().unwrap().parse().unwrap())
        .collect();
    origins.sort();
    ids.sort();
    assert_eq!(origins, ids);
}

#[tokio::test]
async fn a_portal_limited_to_two_requests_a_second_never_refuses_a_burst() {
    let portal = TestGateway::start_with(
        r#"
[bitrix24.rate_limit]
per_second = 2
capacity = 2
"#,
    )
    .await;
    let gateway = TestGateway::start_with(&bitrix24_target(
        &portal,
        "requests_per_second = 2\nbatch_size = 50",
    ))
    .await;
    let gateway = Arc::new(gateway);
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..10 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..100 {
                let name = format!("Лид {worker}-{n}");
                gateway
                    .add(&[("title", &name), ("phone", "89000000000")])
                    .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = wait_delivered(&gateway.store(), "portal", 1000, Duration::from_secs(60)).await;
    let took = started.elapsed();
    assert!(
        rows.iter()
            .all(|row| row.attempts == 0 && row.last_error.is_none()),
        "the portal refused a request: {:?}",
        rows.iter().find(|row| row.last_error.is_some())
    );
    assert_eq!(portal_leads(&portal, "leadgate").await.len(), 1000);
    // 1000 leads at 50 a request and 2 requests a second: about ten seconds,
    // close to 100 leads a second and not slower than twice that.
    assert!(took >= Duration::from_secs(8), "{took:?}");
    assert!(took <= Duration::from_secs(20), "{took:?}");
    eprintln!("1000 leads through a 2 req/s portal in {took:?}");
}

#[tokio::test]
async fn a_permanent_refusal_is_dead_lettered_and_retry_re_drives_it() {
    let crm = TestGateway::start().await;
    let extra = |apikey: &str| {
        format!(
            r#"
[forwarding]
poll_interval_ms = 50
[[forwarding.targets]]
name = "crm"
kind = "salesman"
url = "{}/developer/v1/leads"
login = "{LOGIN}"
apikey = "{apikey}"
[[forwarding.rules]]
targets = ["crm"]
"#,
            crm.base
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = TestGateway::start_in(dir, &extra("wrong-key")).await;
    gateway
        .add(&[("title", "Ирина"), ("phone", "89001112233")])
        .await;
    let store = gateway.store();
    let dead = loop {
        let rows = store
            .list_deliveries(DeliveryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            })
            .await
            .unwrap();
        if !rows.is_empty() {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(dead[0].attempts, 1, "a refused apikey is not retried");
    // SalesMan's code for a wrong apikey is 400; it is configuration, not data.
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("error 400"),
        "{dead:?}"
    );

    // Fix the key, restart, re-drive the dead row.
    gateway.stop().await;
    let dir = std::mem::replace(&mut gateway.dir, tempfile::tempdir().unwrap());
    let gateway = TestGateway::start_in(dir, &extra(APIKEY)).await;
    let moved = gateway
        .store()
        .retry_deliveries(
            DeliveryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let rows = wait_delivered(&gateway.store(), "crm", 1, Duration::from_secs(20)).await;
    let crm_id = rows[0].external_id.clone().unwrap();
    let info = crm.get_json(&format!("action=info&id={crm_id}")).await;
    assert_eq!(info["result"]["data"]["person"], "Ирина");
}

#[tokio::test]
async fn deliveries_are_inspected_and_re_driven_by_command_and_over_http() {
    const TOKEN: &str = "admin-token-0123456789";
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("http://{}/hook", parked.local_addr().unwrap());
    drop(parked);
    let gateway = TestGateway::start_with(&format!(
        r#"
[admin]
listen = "127.0.0.1:0"
token = "{TOKEN}"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
max_attempts = 1
[[forwarding.targets]]
name = "hook"
kind = "webhook"
url = "{down}"
timeout_secs = 2
[[forwarding.rules]]
targets = ["hook"]
"#
    ))
    .await;
    let lead = gateway
        .add(&[("title", "Пётр"), ("phone", "89005554433")])
        .await;
    let store = gateway.store();
    loop {
        let dead = store
            .list_deliveries(DeliveryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            })
            .await
            .unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The command, beside the running gateway.
    let config = gateway.dir.path().join("leadgate.toml");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .arg("deliveries")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["list", "--state", "dead", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let row: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["lead_id"], lead);
    assert_eq!(row["state"], "dead");
    assert!(row["last_error"]
        .as_str()
        .unwrap()
        .contains("gave up after 1 attempts"));
    let (code, stdout, _) = run(&["list"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("hook: 0 pending, 0 in flight, 0 delivered, 1 dead"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&["replay", "--target", "nowhere"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("not a configured forwarding target"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["list", "--state", "lost"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a delivery state"), "{stderr}");
    // A reader that is already gone (`| head` after its lines): every
    // listing ends quietly, with no panic and a clean exit.
    for args in [&["list"][..], &["list", "--json"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .arg("deliveries")
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }

    // The same over HTTP.
    let admin_base = gateway.admin_base.clone().unwrap();
    let admin = |path: &str| format!("{admin_base}/admin/deliveries{path}");
    let refused = gateway.client.get(admin("")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = gateway
        .client
        .get(admin(""))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let listed: Value = gateway
        .client
        .get(admin("?state=dead&target=hook"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["deliveries"][0]["lead_id"], lead);
    let counts: Value = gateway
        .client
        .get(admin("/counts"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["targets"][0]["dead"], 1);
    let bad = gateway
        .client
        .get(admin("?limit=many"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = gateway
        .client
        .post(admin("/replay"))
        .bearer_auth(TOKEN)
        .body(r#"{"target": "nowhere"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let retried: Value = gateway
        .client
        .post(admin("/retry"))
        .bearer_auth(TOKEN)
        .body(r#"{"target": "hook"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(retried["requeued"], 1);
    let replayed: Value = gateway
        .client
        .post(admin("/replay"))
        .bearer_auth(TOKEN)
        .body(r#"{"target": "hook", "since": "2000-01-01"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replayed["queued"], 1);
}

/// A report window around now in UIS's own time (Moscow): UIS dates are
/// local, so a UTC "today" misses leads accepted after 21:00 UTC.
fn report_window() -> (String, String) {
    let moscow = chrono::FixedOffset::east_opt(3 * 3600).unwrap();
    let now = chrono::Utc::now().with_timezone(&moscow);
    let format = "%Y-%m-%d %H:%M:%S";
    (
        (now - chrono::Duration::hours(1))
            .format(format)
            .to_string(),
        (now + chrono::Duration::hours(1))
            .format(format)
            .to_string(),
    )
}

async fn uis_call(gateway: &TestGateway, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    gateway
        .client
        .post(format!("{}/v2.0", gateway.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_livetex_lead_reaches_uis_as_an_offline_message() {
    let uis = TestGateway::start().await;
    // A session from login.user, as a client without a permanent key.
    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
[[forwarding.targets]]
name = "uis"
kind = "uis"
url = "{}/v2.0"
login = "ivanov@example.ru"
password = "{}"
[[forwarding.rules]]
targets = ["uis"]
dialects = ["livetex"]
"#,
        uis.base,
        common::UIS_PASSWORD
    ))
    .await;
    let response = gateway
        .client
        .post(format!("{}/v2/leads/add", gateway.base))
        .basic_auth(LOGIN, Some(common::LIVETEX_PASSWORD))
        .form(&[
            ("name", "Мария"),
            ("site_id", "31"),
            ("conversation_id", "conv-7"),
            ("phone", "+7 (913) 555-44-33"),
            ("email", "maria@example.ru"),
            ("text", "Хочу тариф «Бизнес»"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let added: Value = response.json().await.unwrap();
    let id = added["results"]["id"].as_i64().unwrap();

    let rows = wait_delivered(&gateway.store(), "uis", 1, Duration::from_secs(20)).await;
    assert_eq!(rows[0].lead_id, id);
    let uis_id: i64 = rows[0].external_id.as_deref().unwrap().parse().unwrap();
    let (date_from, date_till) = report_window();
    let report = uis_call(
        &uis,
        "get.offline_messages_report",
        json!({"access_token": common::UIS_KEY,
               "date_from": date_from, "date_till": date_till,
               "fields": ["id", "visitor_name", "visitor_phone_number", "visitor_email", "text", "site_id"]}),
    )
    .await;
    assert_eq!(
        report["result"]["data"],
        json!([{"id": uis_id, "visitor_name": "Мария", "visitor_phone_number": "+79135554433",
                "visitor_email": "maria@example.ru", "text": "Хочу тариф «Бизнес»", "site_id": 31}]),
        "{report}"
    );
}

#[tokio::test]
async fn a_uis_offline_message_reaches_livetex() {
    let livetex = TestGateway::start().await;
    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
[[forwarding.targets]]
name = "chat"
kind = "livetex"
url = "{}/v2/"
login = "{LOGIN}"
password = "{}"
conversation_id = "imported"
[[forwarding.rules]]
targets = ["chat"]
dialects = ["uis"]
"#,
        livetex.base,
        common::LIVETEX_PASSWORD
    ))
    .await;
    let uploaded = uis_call(
        &gateway,
        "upload.offline_messages",
        json!({"access_token": common::UIS_KEY, "offline_messages": [
            {"name": "Игорь", "phone": "79024443322", "message": "Нужна консультация", "site_id": 8,
             "ext_id": "u-1"},
            {"name": "Без связи", "email": "x@example.ru", "site_id": 8, "ext_id": "u-2"}]}),
    )
    .await;
    let first = uploaded["result"]["data"][0]["id"].as_i64().unwrap();

    let rows = wait_delivered(&gateway.store(), "chat", 2, Duration::from_secs(20)).await;
    let row = rows.iter().find(|row| row.lead_id == first).unwrap();
    let livetex_id = row.external_id.clone().unwrap();
    let shown: Value = livetex
        .client
        .get(format!("{}/v2/leads/show?id={livetex_id}", livetex.base))
        .basic_auth(LOGIN, Some(common::LIVETEX_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lead = &shown["results"];
    assert_eq!(lead["name"], "Игорь", "{shown}");
    assert_eq!(lead["phone"], "79024443322");
    assert_eq!(lead["text"], "Нужна консультация");
    assert_eq!(lead["site"]["id"], 8);
    assert_eq!(lead["conversation"]["id"], "imported");
}

#[test]
fn translate_previews_the_target_request_offline() {
    use std::io::Write;
    let run = |from: &str, to: &str, input: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"))
            .args(["translate", "--from", from, "--to", to, "--id", "42"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(
        "livetex",
        "bitrix24",
        "name=%D0%9C%D0%B0%D1%80%D0%B8%D1%8F&site_id=3&conversation_id=c&phone=89001112233",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"NAME\": \"Мария\""), "{stdout}");
    assert!(stdout.contains("\"ORIGIN_ID\": \"42\""));
    let (code, stdout, _) = run(
        "canonical",
        "webhook",
        r#"{"name": "Лев", "stage": "new", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}"#,
    );
    assert_eq!(code, Some(0));
    assert!(stdout.contains("idempotency-key: leadgate-42"), "{stdout}");
    let (code, _, stderr) = run("livetex", "bitrix24", "site_id=3");
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a livetex request"), "{stderr}");
}

#[tokio::test]
async fn a_uis_session_lost_by_the_target_is_renewed_with_login_user() {
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = parked.local_addr().unwrap();
    let mut uis = TestGateway::start_on_listener(
        tempfile::tempdir().unwrap(),
        "",
        Arc::new(SystemClock),
        parked,
    )
    .await;
    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
initial_backoff_secs = 0.05
max_backoff_secs = 0.2
[[forwarding.targets]]
name = "uis"
kind = "uis"
url = "http://{address}/v2.0"
login = "ivanov@example.ru"
password = "{}"
site_id = 3
[[forwarding.rules]]
targets = ["uis"]
"#,
        common::UIS_PASSWORD
    ))
    .await;
    gateway
        .add(&[("title", "Первый"), ("phone", "89001112233")])
        .await;
    wait_delivered(&gateway.store(), "uis", 1, Duration::from_secs(20)).await;

    // The target comes back with a fresh store: the session key the client
    // holds means nothing there any more (-32001).
    uis.stop().await;
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let uis = TestGateway::start_on_listener(
        tempfile::tempdir().unwrap(),
        "",
        Arc::new(SystemClock),
        listener,
    )
    .await;
    gateway
        .add(&[("title", "Второй"), ("phone", "89001112234")])
        .await;
    let rows = wait_delivered(&gateway.store(), "uis", 2, Duration::from_secs(20)).await;
    assert!(
        rows.iter().all(|row| row.attempts == 0),
        "re-login and resend happen within one attempt: {rows:?}"
    );
    let (date_from, date_till) = report_window();
    let report = uis_call(
        &uis,
        "get.offline_messages_report",
        json!({"access_token": common::UIS_KEY,
               "date_from": date_from, "date_till": date_till,
               "fields": ["visitor_name"]}),
    )
    .await;
    assert_eq!(
        report["result"]["data"],
        json!([{"visitor_name": "Второй"}])
    );
}
