//! The NATS JetStream target against the real server CI runs
//! (LEADGATE_TEST_NATS_URL): one event per lead on the subject, once each,
//! across a gateway restart and a replay that publishes everything again.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::TestGateway;
use leadgate::store::TimeRange;

fn nats_url() -> Option<String> {
    match std::env::var("LEADGATE_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            common::skip_loudly(
                "LEADGATE_TEST_NATS_URL is not set, so the NATS JetStream target is NOT \
                 tested. CI sets it (.ci/run); set it to run this test",
            );
            None
        }
    }
}

async fn delivered(gateway: &TestGateway, count: usize) {
    common::wait_delivered(&gateway.store(), "events", count, Duration::from_secs(30)).await;
}

/// A subject and stream of this test's own, and the forwarding section
/// that publishes every lead there.
struct Events {
    subject: String,
    stream: String,
    settings: String,
}

fn events_on(url: &str, tag: &str) -> Events {
    let suffix = format!(
        "{}_{}_{tag}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let subject = format!("leadgate.test.{suffix}.leads");
    let stream = format!("LEADGATE_TEST_{suffix}");
    let settings = format!(
        r#"
[forwarding]
poll_interval_ms = 50
gateway_id = "gw-test"
[[forwarding.targets]]
name = "events"
kind = "nats"
url = "{url}"
subject = "{subject}"
stream = "{stream}"
[[forwarding.rules]]
targets = ["events"]
"#
    );
    Events {
        subject,
        stream,
        settings,
    }
}

#[tokio::test]
async fn lead_events_arrive_once_each_across_a_restart_and_a_replay() {
    let Some(url) = nats_url() else {
        return;
    };
    let Events {
        subject,
        stream,
        settings: extra,
    } = events_on(&url, "restart");
    let mut gateway = TestGateway::start_with(&extra).await;
    let mut ids = BTreeSet::new();
    for n in 0..10 {
        ids.insert(
            gateway
                .add(&[("title", &format!("Первый {n}")), ("phone", "89001112233")])
                .await,
        );
    }
    delivered(&gateway, 10).await;
    gateway.stop().await;

    let dir = std::mem::replace(&mut gateway.dir, tempfile::tempdir().unwrap());
    let gateway = TestGateway::start_in(dir, &extra).await;
    for n in 0..10 {
        ids.insert(
            gateway
                .add(&[("title", &format!("Второй {n}")), ("phone", "89001112233")])
                .await,
        );
    }
    delivered(&gateway, 20).await;
    // Everything published again, as after a crash between publish and
    // record: the stream keeps one copy of each.
    let replayed = gateway
        .store()
        .replay_deliveries("events".into(), TimeRange::default(), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(replayed, 20);
    delivered(&gateway, 20).await;

    let client = async_nats::connect(url.as_str()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut events = jetstream.get_stream(&stream).await.unwrap();
    let info = events.info().await.unwrap().clone();
    assert_eq!(info.state.messages, 20, "each lead once in the stream");
    let mut seen = BTreeSet::new();
    for sequence in info.state.first_sequence..=info.state.last_sequence {
        let message = events.get_raw_message(sequence).await.unwrap();
        assert_eq!(message.subject.as_str(), subject);
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(event["event"], "lead.accepted");
        let id = event["lead"]["id"].as_i64().unwrap();
        assert_eq!(
            message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|value| value.as_str()),
            Some(format!("gw-test-{id}").as_str()),
            "{:?}",
            message.headers
        );
        seen.insert(id);
    }
    assert_eq!(seen, ids);
    jetstream.delete_stream(&stream).await.unwrap();
}

#[tokio::test]
async fn a_change_is_published_once_as_lead_updated() {
    let Some(url) = nats_url() else {
        return;
    };
    let Events {
        stream, settings, ..
    } = events_on(&url, "changes");
    let gateway = TestGateway::start_with(&settings).await;
    let id = gateway
        .add(&[("title", "Анна"), ("phone", "89001112233")])
        .await;
    delivered(&gateway, 1).await;
    let answer: serde_json::Value = gateway
        .client
        .post(format!(
            "{}/rest/1/{}/crm.lead.update",
            gateway.base,
            common::WEBHOOK_CODE
        ))
        .json(&serde_json::json!({"id": id, "fields": {"STATUS_ID": "PROCESSED"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["result"], true, "{answer}");
    delivered(&gateway, 2).await;

    let client = async_nats::connect(url.as_str()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut events = jetstream.get_stream(&stream).await.unwrap();
    let info = events.info().await.unwrap().clone();
    assert_eq!(info.state.messages, 2);
    let message = events
        .get_raw_message(info.state.last_sequence)
        .await
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(event["event"], "lead.updated");
    assert_eq!(event["lead"]["stage"], "processed");
    assert_eq!(
        message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|value| value.as_str()),
        Some(format!("gw-test-{id}-r1").as_str())
    );
    jetstream.delete_stream(&stream).await.unwrap();
}
