//! The webhook target: each lead as canonical JSON, POSTed to a URL and
//! signed with HMAC-SHA256 of the exact body bytes, so the receiver can
//! check it came from this gateway. The lead's gateway id travels as
//! `Idempotency-Key` (with the change's revision for a `lead.updated`
//! event): a receiver that keeps it sees a retried delivery as the same
//! event.

use std::fmt::Write;

use async_trait::async_trait;
use ring::hmac;

use super::transport;
use super::{no_missing_keys, one_by_one, Attempt, Pacer, Protocol, Target};
use crate::forward::settings::TargetSettings;
use crate::lead::Lead;
use crate::store::ClaimedDelivery;

/// One lead per POST, no keys beyond the URL.
pub const PROTOCOL: Protocol = Protocol {
    kind: "webhook",
    batch_limit: 1,
    default_rate: None,
    default_concurrency: 16,
    url_schemes: &["http://", "https://"],
    missing_keys: no_missing_keys,
    example_url: "https://<receiver>/leads",
    updates: Some("a lead.updated event"),
};

/// `X-Leadgate-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "x-leadgate-signature";

pub struct Webhook {
    url: String,
    key: Option<hmac::Key>,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(settings: &TargetSettings) -> Webhook {
        Webhook {
            url: settings.url.clone(),
            key: settings
                .secret
                .as_ref()
                .map(|secret| hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
            client: transport::client(std::time::Duration::from_secs_f64(settings.timeout_secs)),
        }
    }

    /// The body of one delivery's event: `lead.accepted` for a new lead,
    /// `lead.updated` (with the whole lead as it is now) for a change.
    pub fn body(delivery: &ClaimedDelivery) -> Vec<u8> {
        let event = if delivery.is_update() {
            "lead.updated"
        } else {
            "lead.accepted"
        };
        Webhook::event_of(event, &delivery.lead, delivery.claim.delivery_id)
    }

    /// The `lead.accepted` event JSON for `lead`, delivered as delivery
    /// `delivery_id`.
    pub fn event(lead: &Lead, delivery_id: i64) -> Vec<u8> {
        Webhook::event_of("lead.accepted", lead, delivery_id)
    }

    fn event_of(event: &'static str, lead: &Lead, delivery_id: i64) -> Vec<u8> {
        // Serialised straight from the lead: no intermediate JSON tree.
        #[derive(serde::Serialize)]
        struct Event<'a> {
            event: &'static str,
            delivery_id: i64,
            lead: &'a Lead,
        }
        serde_json::to_vec(&Event {
            event,
            delivery_id,
            lead,
        })
        .unwrap_or_default()
    }

    /// What a receiver keeps to see a retried delivery as the same event:
    /// the lead's gateway id, and for a change its revision.
    pub fn idempotency_key(delivery: &ClaimedDelivery) -> String {
        let lead_id = delivery.lead.id.unwrap_or_default();
        if delivery.is_update() {
            format!("leadgate-{lead_id}-r{}", delivery.revision)
        } else {
            format!("leadgate-{lead_id}")
        }
    }

    /// The signature header value for `body`, when the target has a secret.
    pub fn sign(&self, body: &[u8]) -> Option<String> {
        self.key.as_ref().map(|key| signature(key, body))
    }

    async fn send(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        let body = Webhook::body(delivery);
        let lead_id = delivery.lead.id.unwrap_or_default();
        let mut request = self
            .client
            .post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", Webhook::idempotency_key(delivery))
            .header("x-leadgate-lead", lead_id.to_string());
        if let Some(signed) = self.sign(&body) {
            request = request.header(SIGNATURE_HEADER, signed);
        }
        pacer.take().await;
        let reply = match transport::send(request.body(body)).await {
            Ok(reply) => reply,
            Err(failure) => return failure,
        };
        if let Some(failure) = reply.failure() {
            return failure;
        }
        // A receiver may answer with its own id for the lead.
        let external_id = reply
            .json()
            .and_then(|answer| answer.get("id").and_then(transport::id_text));
        Attempt::Delivered { external_id }
    }
}

pub fn signature(key: &hmac::Key, body: &[u8]) -> String {
    let tag = hmac::sign(key, body);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256=");
    for byte in tag.as_ref() {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[async_trait]
impl Target for Webhook {
    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        one_by_one(batch, |delivery| self.send(delivery, pacer)).await
    }

    async fn update(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        self.send(delivery, pacer).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            signature(&key, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
