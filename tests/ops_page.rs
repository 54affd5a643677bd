//! The operations page on the admin listener: signing in (the token once,
//! then the cookie; nothing without them), its JSON endpoints, the page
//! rendered without JavaScript, and (with LEADGATE_TEST_BROWSER) the whole
//! page driven in headless Chromium by `tests/browser/ops_page.mjs`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::{deliveries_until, TestGateway};
use leadgate::store::DeliveryState;
use serde_json::{json, Value};

const TOKEN: &str = "ops-page-admin-token-0123456789";

/// A webhook receiver that refuses every lead (422) until `/fix` is
/// called, then takes them.
async fn receiver() -> (String, String) {
    let fixed = Arc::new(AtomicBool::new(false));
    let app = Router::new()
        .route(
            "/hook",
            post(|State(fixed): State<Arc<AtomicBool>>| async move {
                if fixed.load(Ordering::SeqCst) {
                    (StatusCode::OK, r#"{"id": "r-1"}"#)
                } else {
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        r#"{"error": "phone format"}"#,
                    )
                }
            }),
        )
        .route(
            "/fix",
            post(|State(fixed): State<Arc<AtomicBool>>| async move {
                fixed.store(true, Ordering::SeqCst);
                "fixed"
            }),
        )
        .with_state(fixed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/hook"), format!("{base}/fix"))
}

/// A gateway with the admin listener, forwarding to a receiver that
/// refuses, and one SalesMan lead already dead there.
async fn gateway_with_a_dead_letter() -> (TestGateway, String, i64) {
    let (hook, fix) = receiver().await;
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
url = "{hook}"
secret = "receiver-secret-never-shown"
[[forwarding.rules]]
targets = ["hook"]
dialects = ["salesman"]
"#
    ))
    .await;
    let id = gateway
        .add(&[
            ("title", "Анна Петрова"),
            ("phone", "8 (900) 111-22-33"),
            ("email", "anna@example.ru"),
            ("description", "Перезвоните <b>после</b> обеда"),
        ])
        .await;
    deliveries_until(&gateway.store(), "hook", Duration::from_secs(20), |rows| {
        rows.first()
            .is_some_and(|row| row.state == DeliveryState::Dead)
    })
    .await;
    (gateway, fix, id)
}

/// GET `url` with `cookie` as the request's `Cookie` header.
async fn with_cookie(client: &reqwest::Client, url: String, cookie: &str) -> reqwest::Response {
    client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn signing_in_takes_the_token_once_and_then_the_cookie() {
    let (gateway, _, _) = gateway_with_a_dead_letter().await;
    let admin = gateway.admin_base.clone().unwrap();
    let client = no_redirects();

    // Nothing but the form without the token.
    let page = client.get(format!("{admin}/")).send().await.unwrap();
    assert_eq!(page.status(), 401);
    let text = page.text().await.unwrap();
    assert!(text.contains("name=\"token\""));
    assert!(!text.contains("Анна") && !text.contains("Dead letters"));

    let wrong = client
        .get(format!("{admin}/?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    let signed = client
        .get(format!("{admin}/?token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/");
    let cookie = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let pair = cookie.split(';').next().unwrap().to_owned();

    let page = with_cookie(&client, format!("{admin}/"), &pair).await;
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("Recent leads") && text.contains("Анна Петрова"));
    // What a caller sent is text, never markup.
    assert!(!text.contains("<b>после</b>"));
    // Contacts masked until revealed; secrets never.
    assert!(text.contains("+79*******33") && !text.contains("900) 111-22-33"));
    assert!(!text.contains("receiver-secret-never-shown") && !text.contains(TOKEN));

    // The same through the form, and a Bearer header works everywhere.
    let posted = client
        .post(format!("{admin}/signin"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    let bearer = client
        .get(format!("{admin}/ops/api/leads"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    // A made-up or another token's cookie is refused, page and JSON alike.
    for bad in [
        "leadgate_admin=0000",
        "leadgate_admin=",
        &pair.replace('a', "b"),
    ] {
        let page = with_cookie(&client, format!("{admin}/"), bad).await;
        assert_eq!(page.status(), 401, "{bad}");
        let api = with_cookie(&client, format!("{admin}/ops/api/dead"), bad).await;
        assert_eq!(api.status(), 401, "{bad}");
    }
    // The cookie also signs the admin API (the page's buttons call it).
    let counts = with_cookie(&client, format!("{admin}/admin/deliveries/counts"), &pair).await;
    assert_eq!(counts.status(), 200);
    // Signing out expires the cookie.
    let out = client
        .post(format!("{admin}/signout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The page is not on the public port.
    let public = client
        .get(format!("{}/", gateway.base))
        .send()
        .await
        .unwrap();
    assert_ne!(public.status(), 200);
}

async fn api(client: &reqwest::Client, admin: &str, path: &str) -> Value {
    let response = client
        .get(format!("{admin}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_json_endpoints_say_what_the_page_shows() {
    let (gateway, fix, id) = gateway_with_a_dead_letter().await;
    let admin = gateway.admin_base.clone().unwrap();
    let client = reqwest::Client::new();
    for path in [
        "/ops/api/deliveries",
        "/ops/api/dead",
        "/ops/api/leads",
        "/ops/api/traffic",
        "/ops/api/config",
        "/ops/traffic.svg",
    ] {
        let refused = client.get(format!("{admin}{path}")).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{path}");
    }

    // A wrong verb is refused in the data's JSON shape.
    let wrong_verb = client
        .get(format!("{admin}/ops/api/translate"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_verb.status(), 405);
    assert!(wrong_verb.json::<Value>().await.unwrap()["error"].is_string());

    let deliveries = api(&client, &admin, "/ops/api/deliveries").await;
    let hook = &deliveries["targets"][0];
    assert_eq!(hook["target"], "hook");
    assert_eq!(hook["dead"], 1);
    assert_eq!(hook["pending"], 0);

    let dead = api(&client, &admin, "/ops/api/dead").await;
    let letter = &dead["dead"][0];
    assert_eq!(letter["lead_id"], id);
    assert!(
        letter["last_error"].as_str().unwrap().contains("422"),
        "{letter}"
    );
    assert_eq!(letter["replay"]["target"], "hook");

    let leads = api(&client, &admin, "/ops/api/leads").await;
    let lead = &leads["leads"][0];
    assert_eq!(lead["id"], id);
    assert_eq!(lead["dialect"], "salesman");
    assert_eq!(lead["name"], "Анна Петрова");
    assert_eq!(lead["phones"][0], "+79*******33");
    assert_eq!(lead["emails"][0], "a***@example.ru");
    assert_eq!(lead["forwarded"][0]["state"], "dead");
    // Filters: by dialect and by text.
    assert_eq!(
        api(&client, &admin, "/ops/api/leads?dialect=bitrix24").await["leads"],
        json!([])
    );
    assert_eq!(
        api(&client, &admin, "/ops/api/leads?q=петрова").await["leads"][0]["id"],
        id
    );
    assert_eq!(
        api(&client, &admin, "/ops/api/leads?q=nobody").await["leads"],
        json!([])
    );
    let contacts = api(&client, &admin, &format!("/ops/api/leads/{id}/contacts")).await;
    assert_eq!(contacts["phones"][0], "8 (900) 111-22-33");
    assert_eq!(contacts["emails"][0], "anna@example.ru");

    let traffic = api(&client, &admin, "/ops/api/traffic").await;
    let accepted: u64 = traffic["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|series| series["kind"] == "leads_accepted" && series["name"] == "salesman")
        .flat_map(|series| series["per_minute"].as_array().unwrap().clone())
        .map(|count| count.as_u64().unwrap())
        .sum();
    assert!(accepted >= 1, "{traffic}");

    let config = api(&client, &admin, "/ops/api/config").await;
    assert_eq!(config["targets"][0]["name"], "hook");
    assert!(config["targets"][0]["host"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let text = config.to_string();
    assert!(!text.contains("receiver-secret-never-shown") && !text.contains(TOKEN));
    assert!(!text.contains("/hook"), "paths can hold secrets: {text}");

    let translated: Value = client
        .post(format!("{admin}/ops/api/translate"))
        .bearer_auth(TOKEN)
        .json(&json!({"from": "salesman", "to": "bitrix24", "request": "action=add&title=Анна&phone=89001112233&path=Звонок"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let preview = translated["preview"].as_str().unwrap();
    assert!(
        preview.contains("crm.lead.add") && preview.contains("\"SOURCE_ID\": \"CALL\""),
        "{preview}"
    );
    let refused = client
        .post(format!("{admin}/ops/api/translate"))
        .bearer_auth(TOKEN)
        .json(&json!({"from": "klingon", "to": "bitrix24", "request": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);

    // The Retry the page's button sends, once the receiver is fixed.
    client.post(&fix).send().await.unwrap();
    let retried: Value = client
        .post(format!("{admin}/admin/deliveries/retry"))
        .bearer_auth(TOKEN)
        .json(&json!({"ids": [letter["id"]]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(retried["requeued"], 1);
    common::wait_delivered(&gateway.store(), "hook", 1, Duration::from_secs(20)).await;
    assert_eq!(
        api(&client, &admin, "/ops/api/dead").await["dead"],
        json!([])
    );
}

#[tokio::test]
async fn the_page_reads_without_javascript() {
    let (gateway, _, id) = gateway_with_a_dead_letter().await;
    let admin = gateway.admin_base.clone().unwrap();
    let client = reqwest::Client::new();
    let page = |path: String| {
        let request = client.get(format!("{admin}{path}")).bearer_auth(TOKEN);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let home = page("/".into()).await;
    for section in [
        "id=\"deliveries\"",
        "id=\"dead\"",
        "id=\"leads\"",
        "id=\"translate\"",
        "id=\"traffic\"",
        "id=\"config\"",
    ] {
        assert!(home.contains(section), "{section}");
    }
    assert!(home.contains("<svg"), "the chart is drawn on the server");
    assert!(
        !home.contains("src=\"http") && !home.contains("href=\"http"),
        "nothing from elsewhere"
    );
    // A contact revealed by a plain link.
    let revealed = page(format!("/?reveal={id}")).await;
    assert!(revealed.contains("8 (900) 111-22-33"));
    // A translation by a plain form.
    let translated = client
        .post(format!("{admin}/ops/translate"))
        .bearer_auth(TOKEN)
        .form(&[
            ("from", "salesman"),
            ("to", "livetex"),
            ("request", "action=add&title=Анна&phone=89001112233"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        translated.contains("id=\"preview\"") && translated.contains("leads/add"),
        "{translated}"
    );
}

#[tokio::test]
async fn in_a_real_browser() {
    if std::env::var("LEADGATE_TEST_BROWSER").map_or(true, |value| value.is_empty()) {
        common::skip_loudly(
            "LEADGATE_TEST_BROWSER is not set, so the operations page is NOT tested in a \
             browser. CI sets it after installing Chromium and playwright-core (.ci/run)",
        );
        return;
    }
    let (gateway, fix, id) = gateway_with_a_dead_letter().await;
    let admin = gateway.admin_base.clone().unwrap();
    let artefacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&artefacts).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/ops_page.mjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .env("ADMIN_URL", &admin)
        .env("ADMIN_TOKEN", TOKEN)
        .env("FIX_URL", &fix)
        .env("LEAD_ID", id.to_string())
        .env("SCREENSHOT", artefacts.join("ops_page.png"))
        .output()
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(said.contains("ops page: all steps passed"), "{said}");
    assert!(artefacts.join("ops_page.png").exists());
    common::wait_delivered(&gateway.store(), "hook", 1, Duration::from_secs(5)).await;
}
