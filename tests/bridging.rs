//! Two CRMs bridged both ways: a change made through any dialect reaches
//! the target that has the lead (a second gateway serving Bitrix24, over
//! real HTTP), and a change made in the target comes back through its
//! events (Bitrix24 outbound webhooks, the generic JSON event) to the
//! gateway's lead, where the old clients read it.

mod common;

use std::time::Duration;

use common::{deliveries_until, wait_delivered, TestGateway, WEBHOOK_CODE};
use leadgate::store::DeliveryState;
use serde_json::{json, Value};

const EVENTS_TOKEN: &str = "portal-application-token";

fn portal_target(portal: &TestGateway) -> String {
    format!(
        r#"
[forwarding]
poll_interval_ms = 50
[forwarding.retry]
initial_backoff_secs = 0.1
max_backoff_secs = 0.5
[[forwarding.targets]]
name = "portal"
kind = "bitrix24"
url = "{}/rest/1/{WEBHOOK_CODE}/"
requests_per_second = 50
events_token = "{EVENTS_TOKEN}"
[[forwarding.rules]]
targets = ["portal"]
"#,
        portal.base
    )
}

async fn bitrix24_call(gateway: &TestGateway, method: &str, body: Value) -> Value {
    gateway
        .client
        .post(format!("{}/rest/1/{WEBHOOK_CODE}/{method}", gateway.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A SalesMan lead, delivered to the portal: (gateway id, portal id).
async fn forwarded_lead(gateway: &TestGateway) -> (i64, String) {
    let id = gateway
        .add(&[
            ("title", "Анна Петрова"),
            ("phone", "8 900 111-22-33"),
            ("description", "Перезвоните"),
        ])
        .await;
    let rows = wait_delivered(&gateway.store(), "portal", 1, Duration::from_secs(20)).await;
    (id, rows[0].external_id.clone().expect("the portal's id"))
}

async fn portal_event(
    gateway: &TestGateway,
    event: &str,
    portal_id: &str,
    token: &str,
) -> (u16, Value) {
    let response = gateway
        .client
        .post(format!("{}/events/bitrix24/portal", gateway.base))
        .form(&[
            ("event", event),
            ("data[FIELDS][ID]", portal_id),
            ("ts", "1733300000"),
            ("auth[domain]", "portal.bitrix24.ru"),
            ("auth[application_token]", token),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_status_changed_through_a_dialect_reaches_the_portal_in_order() {
    let portal = TestGateway::start().await;
    let gateway = TestGateway::start_with(&portal_target(&portal)).await;
    let (id, portal_id) = forwarded_lead(&gateway).await;

    // Two changes through the gateway's own Bitrix24 API.
    for (status, comment) in [("IN_PROCESS", "Звонили"), ("PROCESSED", "Договорились")]
    {
        let answer = bitrix24_call(
            &gateway,
            "crm.lead.update",
            json!({"id": id, "fields": {"STATUS_ID": status, "COMMENTS": comment}}),
        )
        .await;
        assert_eq!(answer["result"], true, "{answer}");
    }
    // A change that carries nothing a target applies queues nothing.
    bitrix24_call(
        &gateway,
        "crm.lead.update",
        json!({"id": id, "fields": {"POST": "Директор"}}),
    )
    .await;
    let rows = deliveries_until(
        &gateway.store(),
        "portal",
        Duration::from_secs(20),
        |rows| {
            !rows.is_empty()
                && rows.iter().all(|row| row.state == DeliveryState::Delivered)
                && rows.iter().any(|row| row.revision > 0)
        },
    )
    .await;
    assert!(rows.iter().all(|row| row.lead_id == id));
    assert!(rows.len() <= 3, "changes coalesce: {rows:?}");

    let there = bitrix24_call(&portal, "crm.lead.get", json!({"id": portal_id})).await;
    assert_eq!(there["result"]["STATUS_ID"], "PROCESSED", "{there}");
    assert_eq!(there["result"]["COMMENTS"], "Договорились");
    // The lead was not added twice.
    let all = bitrix24_call(&portal, "crm.lead.list", json!({"select": ["ID"]})).await;
    assert_eq!(all["total"], 1, "{all}");
}

#[tokio::test]
async fn a_portal_event_brings_its_status_back_to_the_old_clients() {
    let portal = TestGateway::start().await;
    let gateway = TestGateway::start_with(&portal_target(&portal)).await;
    let (id, portal_id) = forwarded_lead(&gateway).await;
    let before = gateway.get_json(&format!("action=info&id={id}")).await;

    // The lead is closed as processed in the new CRM, and reassigned.
    let changed = bitrix24_call(
        &portal,
        "crm.lead.update",
        json!({"id": portal_id, "fields": {"STATUS_ID": "PROCESSED", "ASSIGNED_BY_ID": 2}}),
    )
    .await;
    assert_eq!(changed["result"], true, "{changed}");

    let (status, refused) = portal_event(&gateway, "ONCRMLEADUPDATE", &portal_id, "wrong").await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["error"], "INVALID_CREDENTIALS");

    let (status, answer) =
        portal_event(&gateway, "ONCRMLEADUPDATE", &portal_id, EVENTS_TOKEN).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["applied"], true, "{answer}");
    assert_eq!(answer["result"]["lead_id"], id);

    let after = gateway.get_json(&format!("action=info&id={id}")).await;
    assert_ne!(
        before["result"]["data"]["status"],
        after["result"]["data"]["status"]
    );
    assert_eq!(after["result"]["data"]["status"], 2, "{after}");
    assert_eq!(after["result"]["data"]["statusName"], "Обработан");
    assert_eq!(after["result"]["data"]["iduser"], 2);
    let lead = gateway.store().get(id).await.unwrap().unwrap();
    assert_eq!(lead.assigned_to, Some(2));
    assert!(lead.completed_at.is_some());

    // Not echoed back to the portal it came from.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = wait_delivered(&gateway.store(), "portal", 1, Duration::from_secs(5)).await;
    assert!(rows.iter().all(|row| row.revision == 0), "{rows:?}");

    // A lead the gateway never forwarded, and a deletion: acknowledged, no change.
    let foreign = bitrix24_call(
        &portal,
        "crm.lead.add",
        json!({"fields": {"TITLE": "Чужой"}}),
    )
    .await;
    let foreign_id = foreign["result"].to_string();
    let (status, answer) = portal_event(&gateway, "ONCRMLEADADD", &foreign_id, EVENTS_TOKEN).await;
    assert_eq!(
        (status, answer["result"]["applied"].clone()),
        (200, json!(false))
    );
    let (status, answer) =
        portal_event(&gateway, "ONCRMLEADDELETE", &portal_id, EVENTS_TOKEN).await;
    assert_eq!(
        (status, answer["result"]["applied"].clone()),
        (200, json!(false))
    );
    assert!(gateway.store().get(id).await.unwrap().is_some());
    let (status, _) = portal_event(&gateway, "ONCRMDEALADD", &portal_id, EVENTS_TOKEN).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_json_event_sets_status_by_the_targets_id() {
    let portal = TestGateway::start().await;
    let gateway = TestGateway::start_with(&portal_target(&portal)).await;
    let (id, portal_id) = forwarded_lead(&gateway).await;
    let send = |body: Value, token: &'static str| {
        let request = gateway
            .client
            .post(format!("{}/events/portal", gateway.base))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, answer) = send(
        json!({"external_id": portal_id, "status": "junk", "outcome": "spam"}),
        "nope",
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (401, json!("unauthorized"))
    );
    let (status, answer) = send(
        json!({"external_id": "999999", "status": "junk"}),
        EVENTS_TOKEN,
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (404, json!("unknown_lead"))
    );
    let wrong_verb = gateway
        .client
        .get(format!("{}/events/portal", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_verb.status(), 405);
    assert!(wrong_verb.json::<Value>().await.unwrap()["error"].is_string());
    let (status, answer) = send(
        json!({"external_id": portal_id, "status": "sold"}),
        EVENTS_TOKEN,
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (400, json!("invalid_event"))
    );

    let (status, answer) = send(
        json!({"external_id": portal_id, "status": "junk", "outcome": "spam"}),
        EVENTS_TOKEN,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["lead_id"], id);
    let info = gateway.get_json(&format!("action=info&id={id}")).await;
    assert_eq!(info["result"]["data"]["status"], 3, "{info}");
    assert_eq!(info["result"]["data"]["rezult"], 1, "{info}");
}

#[tokio::test]
async fn a_lead_completed_here_is_completed_at_livetex() {
    let livetex = TestGateway::start().await;
    let gateway = TestGateway::start_with(&format!(
        r#"
[forwarding]
poll_interval_ms = 50
[[forwarding.targets]]
name = "chat"
kind = "livetex"
url = "{}/v2/"
login = "{}"
password = "{}"
site_id = 8
conversation_id = "imported"
[[forwarding.rules]]
targets = ["chat"]
"#,
        livetex.base,
        common::LOGIN,
        common::LIVETEX_PASSWORD
    ))
    .await;
    let id = gateway
        .add(&[("title", "Игорь"), ("phone", "89024443322")])
        .await;
    let rows = wait_delivered(&gateway.store(), "chat", 1, Duration::from_secs(20)).await;
    let there: i64 = rows[0].external_id.as_deref().unwrap().parse().unwrap();
    assert!(livetex
        .store()
        .get(there)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_none());

    // Completed through this gateway's own LiveTex API.
    let answer: Value = gateway
        .client
        .post(format!("{}/v2/leads/setCompleted", gateway.base))
        .basic_auth(common::LOGIN, Some(common::LIVETEX_PASSWORD))
        .form(&[
            ("id", id.to_string().as_str()),
            ("answer_text", "Перезвонили"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("error").is_none(), "{answer}");
    deliveries_until(&gateway.store(), "chat", Duration::from_secs(20), |rows| {
        rows.len() == 2 && rows.iter().all(|row| row.state == DeliveryState::Delivered)
    })
    .await;
    let completed = livetex.store().get(there).await.unwrap().unwrap();
    assert!(completed.completed_at.is_some());
    assert_eq!(completed.answer_text.as_deref(), Some("Перезвонили"));
}
