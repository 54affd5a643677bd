//! The NATS JetStream target: one event per accepted lead (and one per
//! forwarded change, `-r<revision>` added to its id), published on the
//! configured subject with `Nats-Msg-Id: <gateway id>-<lead id>`, and
//! counted as delivered only when the stream acknowledges it. A re-publish
//! (a retry after a lost ack, a replay, a restart mid-delivery) carries the
//! same id, so the stream stores the event once within its de-duplication
//! window; a stream the gateway creates gets a window well past a lease.
//!
//! The connection is made on first use and rebuilt after a failure, so a
//! NATS server that is down at start-up only delays deliveries.

use std::time::Duration;

use async_nats::jetstream::{self, context::Publish, stream};
use async_trait::async_trait;
use tokio::sync::Mutex;

use super::webhook::Webhook;
use super::{same_for_all, Attempt, Pacer, Protocol, Target};
use crate::forward::settings::TargetSettings;
use crate::store::ClaimedDelivery;

/// Publishes are pipelined inside one batch already, so one batch at a
/// time.
pub const PROTOCOL: Protocol = Protocol {
    kind: "nats",
    batch_limit: 256,
    default_rate: None,
    default_concurrency: 1,
    url_schemes: &["nats://", "tls://"],
    missing_keys: |target| {
        if target.subject.is_none() {
            vec!["subject"]
        } else {
            Vec::new()
        }
    },
    example_url: "nats://127.0.0.1:4222",
    updates: Some("a lead.updated event"),
};

pub struct NatsTarget {
    url: String,
    subject: String,
    stream: Option<String>,
    gateway_id: String,
    timeout: Duration,
    duplicate_window: Duration,
    context: Mutex<Option<jetstream::Context>>,
}

impl NatsTarget {
    pub fn new(settings: &TargetSettings, gateway_id: &str, lease: Duration) -> NatsTarget {
        NatsTarget {
            url: settings.url.clone(),
            subject: settings.subject.clone().unwrap_or_default(),
            stream: settings.stream.clone(),
            gateway_id: gateway_id.to_owned(),
            timeout: Duration::from_secs_f64(settings.timeout_secs),
            // Longer than any re-claim after a crash (one lease) and the
            // backoff that may follow it.
            duplicate_window: (lease * 4).max(Duration::from_secs(3600)),
            context: Mutex::new(None),
        }
    }

    /// The same for every publish of one delivery, different for each
    /// change of a lead (its revision).
    pub fn message_id(&self, delivery: &ClaimedDelivery) -> String {
        let lead_id = delivery.lead.id.unwrap_or_default();
        if delivery.is_update() {
            format!("{}-{lead_id}-r{}", self.gateway_id, delivery.revision)
        } else {
            format!("{}-{lead_id}", self.gateway_id)
        }
    }

    async fn connect(&self) -> Result<jetstream::Context, Attempt> {
        let mut slot = self.context.lock().await;
        if let Some(context) = slot.as_ref() {
            return Ok(context.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout))
            .connect(self.url.as_str())
            .await
            .map_err(|error| Attempt::transient(format!("cannot connect to NATS: {error}")))?;
        let mut context = jetstream::new(client);
        context.set_timeout(self.timeout);
        if let Some(name) = &self.stream {
            context
                .get_or_create_stream(stream::Config {
                    name: name.clone(),
                    subjects: vec![self.subject.clone()],
                    duplicate_window: self.duplicate_window,
                    ..Default::default()
                })
                .await
                .map_err(|error| {
                    Attempt::transient(format!("cannot set up stream {name:?}: {error}"))
                })?;
        }
        *slot = Some(context.clone());
        Ok(context)
    }

    async fn forget_connection(&self) {
        *self.context.lock().await = None;
    }
}

#[async_trait]
impl Target for NatsTarget {
    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt> {
        let context = match self.connect().await {
            Ok(context) => context,
            Err(failure) => return same_for_all(batch, failure),
        };
        // Publish the whole batch, then wait for the acks together.
        let mut pending = Vec::with_capacity(batch.len());
        for delivery in batch {
            pacer.take().await;
            let publish = Publish::build()
                .payload(Webhook::body(delivery).into())
                .message_id(self.message_id(delivery));
            pending.push(context.send_publish(self.subject.clone(), publish).await);
        }
        let mut attempts = Vec::with_capacity(batch.len());
        let mut broken = false;
        for sent in pending {
            let attempt = match sent {
                Ok(ack) => match ack.await {
                    Ok(ack) => Attempt::Delivered {
                        external_id: Some(format!("{}:{}", ack.stream, ack.sequence)),
                    },
                    Err(error) => {
                        broken = true;
                        Attempt::transient(format!("no acknowledgement from JetStream: {error}"))
                    }
                },
                Err(error) => {
                    broken = true;
                    Attempt::transient(format!("cannot publish: {error}"))
                }
            };
            attempts.push(attempt);
        }
        if broken {
            self.forget_connection().await;
        }
        attempts
    }

    /// A `lead.updated` event, published like a new lead's.
    async fn update(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        self.deliver(std::slice::from_ref(delivery), pacer)
            .await
            .pop()
            .unwrap_or_else(|| Attempt::transient("no acknowledgement from JetStream"))
    }
}
