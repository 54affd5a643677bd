//! Builds each configured target's adapter and worker settings at start-up:
//! the one place that turns a target `kind` into its adapter (a dialect's
//! forwarding client, the webhook or NATS). `wiring::check` has already
//! refused unknown kinds and targets whose mapping lacks what they send.

use std::sync::Arc;
use std::time::Duration;

use super::wiring::Wiring;
use crate::config::{ForwardingSettings, TargetSettings};
use crate::forward::backoff::RetryPolicy;
use crate::forward::nats::{self, NatsTarget};
use crate::forward::webhook::{self, Webhook};
use crate::forward::{ForwarderOptions, Pacer, Protocol, Target, TargetWorker};
use crate::store::SharedPacing;

/// One worker set per target. A target whose kind is unknown (which
/// `wiring::check` refuses) gets none. With `shared` (a store several
/// replicas share), a paced target is paced for the whole fleet.
pub fn build(
    settings: &ForwardingSettings,
    wiring: &Wiring,
    shared: Option<Arc<dyn SharedPacing>>,
) -> Vec<TargetWorker> {
    let lease = Duration::from_secs_f64(settings.lease_secs);
    settings
        .targets
        .iter()
        .filter_map(|target| {
            let protocol = wiring.protocol(&target.kind)?;
            let adapter = adapter(target, protocol, wiring, &settings.gateway_id, lease)?;
            let pace = target.requests_per_second(protocol);
            Some(TargetWorker {
                name: target.name.clone(),
                target: adapter,
                batch_size: target.batch_size(protocol),
                concurrency: target.concurrency(protocol),
                pacer: Arc::new(match &shared {
                    Some(pacing) => {
                        Pacer::new(pace).shared(pacing.clone(), format!("target:{}", target.name))
                    }
                    None => Pacer::new(pace),
                }),
                // A paced target gets one loop, so its batches fill up
                // while it waits for the next slot.
                loops: if pace.is_some() { 1 } else { 4 },
            })
        })
        .collect()
}

fn adapter(
    target: &TargetSettings,
    protocol: &Protocol,
    wiring: &Wiring,
    gateway_id: &str,
    lease: Duration,
) -> Option<Arc<dyn Target>> {
    if let Some(wired) = wiring.dialect(&target.kind) {
        return Some(
            wired
                .dialect
                .target(target, wired.mapping.clone(), gateway_id),
        );
    }
    if protocol.kind == webhook::PROTOCOL.kind {
        Some(Arc::new(Webhook::new(target)))
    } else if protocol.kind == nats::PROTOCOL.kind {
        Some(Arc::new(NatsTarget::new(target, gateway_id, lease)))
    } else {
        None
    }
}

pub fn options(settings: &ForwardingSettings, shutdown_grace: Duration) -> ForwarderOptions {
    ForwarderOptions {
        lease: Duration::from_secs_f64(settings.lease_secs),
        poll_interval: Duration::from_millis(settings.poll_interval_ms),
        retry: RetryPolicy::from(&settings.retry),
        shutdown_grace,
    }
}
