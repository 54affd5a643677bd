//! Requests in the charsets old sites still use: named in the
//! Content-Type (query and body, every dialect), or a dialect's
//! `legacy_charset` for bodies that name none and are not UTF-8. Bytes that
//! are not text in their charset still get the dialect's error.

mod common;

use base64::Engine;
use common::{TestGateway, APIKEY, LIVETEX_PASSWORD, LOGIN, UIS_KEY, WEBHOOK_CODE};
use encoding_rs::{Encoding, KOI8_R, WINDOWS_1251};
use serde_json::{json, Value};

fn encoded(text: &str, encoding: &'static Encoding) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

/// `text` in `encoding`, percent-encoded for a form or a query.
fn form_value(text: &str, encoding: &'static Encoding) -> String {
    form_urlencoded::byte_serialize(&encoded(text, encoding)).collect()
}

async fn post(
    gateway: &TestGateway,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    basic: bool,
) -> (u16, Value) {
    let mut request = gateway
        .client
        .post(format!("{}{path}", gateway.base))
        .header("content-type", content_type)
        .body(body);
    if basic {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{LOGIN}:{LIVETEX_PASSWORD}"));
        request = request.header("authorization", format!("Basic {credentials}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_reads_the_charset_a_request_names() {
    let gateway = TestGateway::start_with("[livetex]\nrequire_conversation = false\n").await;
    let name = "Анна Петрова — №5";

    // SalesMan: a windows-1251 form.
    let body = format!(
        "login={LOGIN}&apikey={APIKEY}&action=add&title={}&phone=%2B79001112233",
        form_value(name, WINDOWS_1251)
    );
    let (_, added) = post(
        &gateway,
        "/developer/v1/leads",
        "application/x-www-form-urlencoded; charset=windows-1251",
        body.into_bytes(),
        false,
    )
    .await;
    let id = added["result"]["id"].as_i64().expect("added");
    let info = gateway.get_json(&format!("action=info&id={id}")).await;
    assert_eq!(info["result"]["data"]["title"], name);

    // Bitrix24: a KOI8-R form.
    let body = format!(
        "fields[TITLE]={}&fields[NAME]={}",
        form_value("Заявка", KOI8_R),
        form_value("Пётр", KOI8_R)
    );
    let (status, added) = post(
        &gateway,
        &format!("/rest/1/{WEBHOOK_CODE}/crm.lead.add"),
        "application/x-www-form-urlencoded; charset=KOI8-R",
        body.into_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let lead: Value = gateway
        .client
        .get(format!(
            "{}/rest/1/{WEBHOOK_CODE}/crm.lead.get?id={}",
            gateway.base, added["result"]
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lead["result"]["TITLE"], "Заявка");
    assert_eq!(lead["result"]["NAME"], "Пётр");

    // LiveTex: a JSON body in windows-1251.
    let body = encoded(
        &json!({"name": "Ольга", "phone": "+79003334455", "site_id": 1}).to_string(),
        WINDOWS_1251,
    );
    let (status, added) = post(
        &gateway,
        "/v2/leads/add",
        "application/json; charset=windows-1251",
        body,
        true,
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["results"]["name"], "Ольга", "{added}");

    // UIS: a JSON-RPC call in windows-1251.
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "upload.offline_messages", "params": {
        "access_token": UIS_KEY,
        "offline_messages": [{"name": "Семён", "phone": "+79004445566", "message": "Перезвоните", "site_id": 1}]
    }});
    let (_, answer) = post(
        &gateway,
        "/v2.0",
        "application/json; charset=windows-1251",
        encoded(&call.to_string(), WINDOWS_1251),
        false,
    )
    .await;
    assert!(answer.get("result").is_some(), "{answer}");
    let day = |offset: i64| {
        (chrono::Utc::now() + chrono::Duration::days(offset))
            .format("%Y-%m-%d 00:00:00")
            .to_string()
    };
    let report = json!({"jsonrpc": "2.0", "id": 2, "method": "get.offline_messages_report", "params": {
        "access_token": UIS_KEY, "date_from": day(-1), "date_till": day(2),
    }});
    let answer: Value = gateway
        .client
        .post(format!("{}/v2.0", gateway.base))
        .json(&report)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = answer["result"]["data"].as_array().expect("report rows");
    assert!(
        rows.iter()
            .any(|row| row["visitor_name"] == "Семён" && row["text"] == "Перезвоните"),
        "{answer}"
    );

    // A charset nobody decodes, and bytes that are not text in the named
    // one: the dialect's own errors, nothing stored.
    let (status, refused) = post(
        &gateway,
        "/v2/leads/add",
        "application/json; charset=x-no-such",
        br#"{"name":"x","phone":"+79005556677"}"#.to_vec(),
        true,
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let (status, refused) = post(
        &gateway,
        &format!("/rest/1/{WEBHOOK_CODE}/crm.lead.add"),
        "application/x-www-form-urlencoded; charset=utf-8",
        format!("fields[TITLE]={}", form_value("Анна", WINDOWS_1251)).into_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].is_string(), "{refused}");
    let (_, refused) = post(
        &gateway,
        "/v2.0",
        "application/json; charset=x-no-such",
        call.to_string().into_bytes(),
        false,
    )
    .await;
    assert_eq!(
        refused["error"]["data"]["mnemonic"], "parse_error",
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_charset_reads_bodies_that_name_none() {
    let gateway = TestGateway::start_with(
        "[bitrix24]\nlegacy_charset = \"windows-1251\"\n[livetex]\nlegacy_charset = \"cp1251\"\nrequire_conversation = false\n",
    )
    .await;
    // No charset named, not UTF-8: read as windows-1251.
    let body = format!("fields[TITLE]={}", form_value("Анна", WINDOWS_1251));
    let (status, added) = post(
        &gateway,
        &format!("/rest/1/{WEBHOOK_CODE}/crm.lead.add"),
        "application/x-www-form-urlencoded",
        body.into_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let title = |id: Value| {
        let gateway = &gateway;
        async move {
            let lead: Value = gateway
                .client
                .get(format!(
                    "{}/rest/1/{WEBHOOK_CODE}/crm.lead.get?id={id}",
                    gateway.base
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            lead["result"]["TITLE"].clone()
        }
    };
    assert_eq!(title(added["result"].clone()).await, "Анна");
    // UTF-8 stays UTF-8.
    let (_, added) = post(
        &gateway,
        &format!("/rest/1/{WEBHOOK_CODE}/crm.lead.add"),
        "application/x-www-form-urlencoded",
        format!("fields[TITLE]={}", form_value("Ёлка", encoding_rs::UTF_8)).into_bytes(),
        false,
    )
    .await;
    assert_eq!(title(added["result"].clone()).await, "Ёлка");
    // A JSON body with no charset, in windows-1251.
    let (status, added) = post(
        &gateway,
        "/v2/leads/add",
        "application/json",
        encoded(
            &json!({"name": "Ольга", "phone": "+79003334455", "site_id": 1}).to_string(),
            WINDOWS_1251,
        ),
        true,
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["results"]["name"], "Ольга", "{added}");
}

#[tokio::test]
async fn an_unknown_legacy_charset_is_a_configuration_problem() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::settings(
        &dir.path().join("leads.db"),
        dir.path(),
        "[bitrix24]\nlegacy_charset = \"klingon\"\n",
    );
    let problems = leadgate::app::wiring::check(&settings).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|problem| problem.to_string().contains("bitrix24.legacy_charset")),
        "{problems:?}"
    );
}
