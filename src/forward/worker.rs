//! The delivery loop, one or more tasks per target: wait for the pacer,
//! claim due rows (a lease in the store), deliver them through the
//! adapter, record each outcome. New leads ring the target's doorbell so
//! an idle worker starts at once; the poll interval covers retries coming
//! due and leads written by other processes.
//!
//! Shutdown: no new claims; a delivery already on the wire gets the grace
//! period to finish and is recorded as usual; one that does not finish in
//! time goes back to the queue as a retry (its target may have it, so the
//! next attempt looks before it adds).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::backoff::RetryPolicy;
use super::{Attempt, Pacer, Target};
use crate::clock::Clock;
use crate::meters;
use crate::store::{ClaimedDelivery, DeliveryOutcome, FinishedDelivery, Outbox};

/// Wakes a target's idle workers when a lead is queued for it.
#[derive(Clone, Debug, Default)]
pub struct Doorbell {
    bells: Arc<HashMap<String, Arc<Notify>>>,
}

impl Doorbell {
    pub fn new<'a>(targets: impl IntoIterator<Item = &'a str>) -> Doorbell {
        Doorbell {
            bells: Arc::new(
                targets
                    .into_iter()
                    .map(|name| (name.to_owned(), Arc::new(Notify::new())))
                    .collect(),
            ),
        }
    }

    pub fn ring(&self, targets: &[String]) {
        for target in targets {
            if let Some(bell) = self.bells.get(target) {
                bell.notify_one();
            }
        }
    }

    fn bell(&self, target: &str) -> Arc<Notify> {
        self.bells.get(target).cloned().unwrap_or_default()
    }
}

/// One target as the workers drive it.
pub struct TargetWorker {
    pub name: String,
    pub target: Arc<dyn Target>,
    /// Leads per request.
    pub batch_size: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub pacer: Arc<Pacer>,
    /// Claiming loops per target: each claims `batch_size * concurrency`
    /// rows at a time and records their outcomes in one transaction, so the
    /// store pays two commits per claim, not per lead; a second loop keeps
    /// the target busy while the first records.
    pub loops: usize,
}

#[derive(Clone, Debug)]
pub struct ForwarderOptions {
    pub lease: Duration,
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
    /// How long a delivery on the wire may take to finish at shutdown.
    pub shutdown_grace: Duration,
}

/// The running workers of every target.
pub struct Forwarder {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    store: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
    options: ForwarderOptions,
}

impl Forwarder {
    pub fn start(
        store: Arc<dyn Outbox>,
        clock: Arc<dyn Clock>,
        workers: Vec<TargetWorker>,
        options: ForwarderOptions,
        doorbell: &Doorbell,
    ) -> Forwarder {
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            store,
            clock,
            options,
        });
        let mut tasks = Vec::new();
        for worker in workers {
            let worker = Arc::new(worker);
            let bell = doorbell.bell(&worker.name);
            for _ in 0..worker.loops.max(1) {
                tasks.push(tokio::spawn(run(
                    shared.clone(),
                    worker.clone(),
                    bell.clone(),
                    stopped.clone(),
                )));
            }
        }
        Forwarder { stop, tasks }
    }

    /// Stops claiming, lets deliveries on the wire finish (or return to the
    /// queue) and waits for every worker.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Resolves when a stop is requested (or the forwarder is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn run(
    shared: Arc<Shared>,
    worker: Arc<TargetWorker>,
    bell: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let poll = shared.options.poll_interval;
    loop {
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = worker.pacer.ready() => {}
            _ = stopping(&mut stop) => return,
        }
        let now = shared.clock.now();
        let lease_until = now
            + chrono::Duration::from_std(shared.options.lease)
                .unwrap_or_else(|_| chrono::Duration::seconds(120));
        let claimed = shared
            .store
            .claim_deliveries(
                worker.name.clone(),
                worker.batch_size.max(1) * worker.concurrency.max(1),
                now,
                lease_until,
            )
            .await;
        let batch = match claimed {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(target_name = %worker.name, %error, "cannot claim deliveries");
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stopping(&mut stop) => return,
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = bell.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stopping(&mut stop) => return,
            }
            continue;
        }
        match deliver(&shared, &worker, &batch, &mut stop).await {
            Some(attempts) => record(&shared, &worker, &batch, attempts).await,
            None => requeue(&shared, &worker, &batch).await,
        }
    }
}

/// The attempts, or `None` when a shutdown's grace ran out first.
async fn deliver(
    shared: &Shared,
    worker: &TargetWorker,
    batch: &[ClaimedDelivery],
    stop: &mut watch::Receiver<bool>,
) -> Option<Vec<Attempt>> {
    // New leads: one request per chunk, all in flight together. Changes
    // (rare, and one lead's at a time by the claim's order): one each.
    let delivery = async {
        let (updates, adds): (Vec<&ClaimedDelivery>, Vec<&ClaimedDelivery>) =
            batch.iter().partition(|delivery| delivery.is_update());
        if updates.is_empty() {
            let requests = batch
                .chunks(worker.batch_size.max(1))
                .map(|chunk| worker.target.deliver(chunk, &worker.pacer));
            return futures_util::future::join_all(requests)
                .await
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
        }
        let adds: Vec<ClaimedDelivery> = adds.into_iter().cloned().collect();
        let add_requests = adds
            .chunks(worker.batch_size.max(1))
            .map(|chunk| worker.target.deliver(chunk, &worker.pacer));
        let update_requests = updates
            .iter()
            .map(|delivery| worker.target.update(delivery, &worker.pacer));
        let (add_attempts, update_attempts) = futures_util::future::join(
            futures_util::future::join_all(add_requests),
            futures_util::future::join_all(update_requests),
        )
        .await;
        let mut add_attempts = add_attempts.into_iter().flatten();
        let mut update_attempts = update_attempts.into_iter();
        batch
            .iter()
            .map(|delivery| {
                let next = if delivery.is_update() {
                    update_attempts.next()
                } else {
                    add_attempts.next()
                };
                next.unwrap_or_else(|| Attempt::transient("the adapter gave no result"))
            })
            .collect::<Vec<_>>()
    };
    tokio::pin!(delivery);
    tokio::select! {
        attempts = &mut delivery => Some(attempts),
        _ = stopping(stop) => {
            tokio::time::timeout(shared.options.shutdown_grace, delivery).await.ok()
        }
    }
}

/// Back to the queue after a shutdown cut the requests short; not a failed
/// attempt, but the target may have the leads, so the next claim looks first.
async fn requeue(shared: &Shared, worker: &TargetWorker, batch: &[ClaimedDelivery]) {
    let outcomes = batch
        .iter()
        .map(|delivery| FinishedDelivery {
            claim: delivery.claim,
            outcome: DeliveryOutcome::Requeue {
                error: "interrupted by shutdown; the target may have it".into(),
            },
        })
        .collect();
    if let Err(error) = shared
        .store
        .finish_deliveries(outcomes, shared.clock.now())
        .await
    {
        tracing::warn!(target_name = %worker.name, %error, "cannot requeue interrupted deliveries");
    }
}

async fn record(
    shared: &Shared,
    worker: &TargetWorker,
    batch: &[ClaimedDelivery],
    attempts: Vec<Attempt>,
) {
    let now = shared.clock.now();
    let policy = &shared.options.retry;
    let mut hold = None;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut attempts = attempts.into_iter();
    for delivery in batch {
        let attempt = attempts
            .next()
            .unwrap_or_else(|| Attempt::transient("the adapter gave no result for this lead"));
        let outcome = match attempt {
            Attempt::Delivered { external_id } => {
                meters::delivery_attempt(&worker.name, None);
                DeliveryOutcome::Delivered { external_id }
            }
            Attempt::Permanent { error } => {
                meters::delivery_attempt(&worker.name, Some("permanent"));
                tracing::warn!(
                    target_name = %worker.name,
                    delivery = delivery.claim.delivery_id,
                    "delivery failed for good; dead-lettered"
                );
                DeliveryOutcome::Dead { error }
            }
            Attempt::Transient { error, retry_after } => {
                let reason = if retry_after.is_some() {
                    "rate_limited"
                } else {
                    "transient"
                };
                meters::delivery_attempt(&worker.name, Some(reason));
                let failures = delivery.attempts + 1;
                if retry_after.is_some() {
                    hold = hold.max(retry_after);
                }
                if policy.exhausted(failures) {
                    tracing::warn!(
                        target_name = %worker.name,
                        delivery = delivery.claim.delivery_id,
                        failures,
                        "retries exhausted; dead-lettered"
                    );
                    DeliveryOutcome::Dead {
                        error: format!("gave up after {failures} attempts; last error: {error}"),
                    }
                } else {
                    let delay = policy.delay(failures, retry_after);
                    // The class, never the error's text: a target's answer
                    // can quote the lead.
                    tracing::warn!(
                        target_name = %worker.name,
                        delivery = delivery.claim.delivery_id,
                        failures,
                        reason,
                        retry_in_ms = delay.as_millis() as u64,
                        "delivery failed; will retry"
                    );
                    DeliveryOutcome::Retry {
                        error,
                        due: now
                            + chrono::Duration::from_std(delay)
                                .unwrap_or_else(|_| chrono::Duration::seconds(600)),
                    }
                }
            }
        };
        outcomes.push(FinishedDelivery {
            claim: delivery.claim,
            outcome,
        });
    }
    if let Some(delay) = hold {
        worker.pacer.hold_for(delay);
    }
    let delivered = outcomes
        .iter()
        .filter(|finished| matches!(finished.outcome, DeliveryOutcome::Delivered { .. }))
        .count();
    tracing::debug!(target_name = %worker.name, batch = batch.len(), delivered, "delivery batch done");
    if let Err(error) = shared.store.finish_deliveries(outcomes, now).await {
        // The leases run out and the rows are claimed again; adapters look
        // before they add, so the target still gets each lead once.
        tracing::warn!(target_name = %worker.name, %error, "cannot record delivery outcomes");
    }
}
