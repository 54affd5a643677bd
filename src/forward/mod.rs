//! Forwarding: accepted leads reach other systems, exactly once at the
//! target, whatever fails on the way.
//!
//! The outbox rows are written by the store in the lead's own transaction
//! (`rules.rs` decides which targets a lead goes to). `worker.rs` claims due
//! rows per target, paces requests (`pace.rs`), hands batches to the
//! target's adapter and records each lead's outcome; transient failures come
//! back after a backoff with jitter (`backoff.rs`), permanent ones and
//! exhausted retries become dead rows that `leadgate deliveries retry`
//! re-drives. Adapters speak their system's wire protocol: the four
//! dialects' clients live in their dialect folders (`dialect::*::client`),
//! the webhook and NATS ones here.

pub mod admin;
pub mod backoff;
pub mod nats;
pub mod pace;
pub mod rules;
pub mod settings;
pub mod transport;
pub mod webhook;
mod worker;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::ClaimedDelivery;
pub use pace::Pacer;
pub use rules::ForwardRules;
pub use worker::{Doorbell, Forwarder, ForwarderOptions, TargetWorker};

/// How one lead's delivery attempt ended, as the adapter saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Delivered {
        /// The lead's id in the target system, where it has one.
        external_id: Option<String>,
    },
    /// Worth trying again (network, timeout, 5xx, rate limits), no sooner
    /// than `retry_after` when the target said so.
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help (validation, credentials, 4xx).
    Permanent { error: String },
}

impl Attempt {
    pub fn transient(error: impl Into<String>) -> Attempt {
        Attempt::Transient {
            error: error.into(),
            retry_after: None,
        }
    }

    pub fn permanent(error: impl Into<String>) -> Attempt {
        Attempt::Permanent {
            error: error.into(),
        }
    }
}

/// What forwarding must know of a kind of target before it builds one:
/// each adapter (a dialect's client, the webhook, NATS) describes its wire
/// protocol with one of these.
#[derive(Debug)]
pub struct Protocol {
    /// The target `kind` in `[[forwarding.targets]]`.
    pub kind: &'static str,
    /// Most leads one request carries (`batch_size` may be lower).
    pub batch_limit: usize,
    /// Requests per second when the target sets none (a Bitrix24 portal's 2).
    pub default_rate: Option<f64>,
    /// Requests in flight when the target sets none.
    pub default_concurrency: usize,
    /// What `url` must start with.
    pub url_schemes: &'static [&'static str],
    /// The keys a target of this kind needs and lacks.
    pub missing_keys: fn(&settings::TargetSettings) -> Vec<&'static str>,
    /// Where `leadgate translate` says the request goes when the
    /// configuration has no target of this kind.
    pub example_url: &'static str,
    /// How a target of this kind applies a change to a lead it already has
    /// (`leadgate check` says it), or `None`: it cannot, and changes stay
    /// in the gateway.
    pub updates: Option<&'static str>,
}

/// For protocols that need no keys beyond the URL.
pub fn no_missing_keys(_: &settings::TargetSettings) -> Vec<&'static str> {
    Vec::new()
}

/// For protocols that authenticate with a token, or a login and a password.
pub fn needs_token_or_login(target: &settings::TargetSettings) -> Vec<&'static str> {
    if target.token.is_some() || (target.login.is_some() && target.password.is_some()) {
        Vec::new()
    } else {
        vec!["token (or login and password)"]
    }
}

/// A target system, in its own wire protocol.
#[async_trait]
pub trait Target: Send + Sync + 'static {
    /// Delivers up to the target's batch size of leads and says how each
    /// went, in order, one attempt per delivery. Takes `pacer` before every
    /// request it sends. A delivery whose `maybe_sent_before()` holds may
    /// already be at the target: the adapter must not create it twice.
    async fn deliver(&self, batch: &[ClaimedDelivery], pacer: &Pacer) -> Vec<Attempt>;

    /// Applies a change to a lead the target already has
    /// (`delivery.is_update()`): the lead as it is now, at
    /// `delivery.external_id` where the target gave one. Changes are
    /// idempotent (they set values), so a retry never applies one twice.
    /// Only called for targets whose protocol has `updates`.
    async fn update(&self, delivery: &ClaimedDelivery, pacer: &Pacer) -> Attempt {
        let _ = (delivery, pacer);
        Attempt::permanent("this target cannot apply changes to a lead")
    }
}

/// For a target without an idempotency key: when an earlier claim of
/// `delivery` may have reached it, `look` (the adapter's search for the
/// lead there) runs first. `Some` is the attempt's outcome (found, or the
/// look failed and the attempt is retried later); `None`: send it.
pub async fn look_before_sending(
    delivery: &ClaimedDelivery,
    look: impl std::future::Future<Output = Result<Option<String>, Attempt>>,
) -> Option<Attempt> {
    if !delivery.maybe_sent_before() {
        return None;
    }
    match look.await {
        Ok(Some(id)) => Some(Attempt::Delivered {
            external_id: Some(id),
        }),
        Ok(None) => None,
        Err(failure) => Some(failure),
    }
}

/// For protocols that carry one lead per request: each in turn. (The worker
/// hands such a target chunks of one and runs them concurrently.)
pub async fn one_by_one<'a, Send, Sending>(batch: &'a [ClaimedDelivery], send: Send) -> Vec<Attempt>
where
    Send: Fn(&'a ClaimedDelivery) -> Sending,
    Sending: std::future::Future<Output = Attempt>,
{
    let mut attempts = Vec::with_capacity(batch.len());
    for delivery in batch {
        attempts.push(send(delivery).await);
    }
    attempts
}

/// Every lead in the batch ended the same way (one request for all of them).
pub fn same_for_all(batch: &[ClaimedDelivery], attempt: Attempt) -> Vec<Attempt> {
    vec![attempt; batch.len()]
}
