//! Request pacing per target: at most `rate` requests a second, evenly
//! spaced, so a portal's limit (Bitrix24: 2 a second) is never hit rather
//! than hit and retried. A target's "come back later" holds the whole
//! target, not just the one lead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::SharedPacing;

pub struct Pacer {
    interval: Option<Duration>,
    /// The earliest moment the next request may leave.
    next: Mutex<Instant>,
    /// Slots shared with the other replicas on the store, under this key.
    shared: Option<(Arc<dyn SharedPacing>, String)>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Pacer")
            .field("interval", &self.interval)
            .field("shared", &self.shared.as_ref().map(|(_, key)| key))
            .finish()
    }
}

impl Pacer {
    /// `None`: no limit.
    pub fn new(requests_per_second: Option<f64>) -> Pacer {
        Pacer {
            interval: requests_per_second
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .map(|rate| Duration::from_secs_f64(1.0 / rate)),
            next: Mutex::new(Instant::now()),
            shared: None,
        }
    }

    /// Paced together with every replica on the store: the slots live in
    /// the store under `key`. Should the store not answer, this process
    /// paces alone until it does, so a database hiccup never floods a
    /// target.
    pub fn shared(mut self, pacing: Arc<dyn SharedPacing>, key: String) -> Pacer {
        if self.interval.is_some() {
            self.shared = Some((pacing, key));
        }
        self
    }

    fn next(&self) -> Instant {
        self.next
            .lock()
            .map(|next| *next)
            .unwrap_or_else(|_| Instant::now())
    }

    /// Waits until a request could leave, without taking the slot: the
    /// worker claims its batch after this, so leads that arrive while it
    /// waits ride along in the same request.
    pub async fn ready(&self) {
        tokio::time::sleep_until(self.next()).await;
        if let Some((pacing, key)) = &self.shared {
            if let Ok(wait) = pacing.next_slot(key).await {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Takes the next slot and waits for it.
    pub async fn take(&self) {
        let local = self.take_local();
        if let (Some((pacing, key)), Some(interval)) = (&self.shared, self.interval) {
            match pacing.take_slot(key, interval).await {
                Ok(wait) => {
                    tokio::time::sleep(wait).await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, pacing = %key, "shared pacing unavailable; pacing alone");
                }
            }
        }
        tokio::time::sleep_until(local).await;
    }

    /// Takes this process's own next slot; returns when it is.
    fn take_local(&self) -> Instant {
        match self.next.lock() {
            Ok(mut next) => {
                let at = (*next).max(Instant::now());
                *next = at + self.interval.unwrap_or_default();
                at
            }
            Err(_) => Instant::now(),
        }
    }

    /// No request before `delay` from now (a 429's reset hint), from this
    /// process or, when shared, from any replica.
    /// Whether `other` keeps the same pace under the same shared key: a
    /// reload that leaves a target's pace alone keeps its pacer, and with
    /// it the time of the last request sent.
    pub fn paces_like(&self, other: &Pacer) -> bool {
        self.interval == other.interval
            && self.shared.as_ref().map(|(_, key)| key) == other.shared.as_ref().map(|(_, key)| key)
    }

    pub fn hold_for(&self, delay: Duration) {
        if let Ok(mut next) = self.next.lock() {
            *next = (*next).max(Instant::now() + delay);
        }
        if let Some((pacing, key)) = &self.shared {
            let (pacing, key) = (pacing.clone(), key.clone());
            tokio::spawn(async move {
                if let Err(error) = pacing.hold(&key, delay).await {
                    tracing::warn!(%error, pacing = %key, "cannot share a hold");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_rate_and_holds_push_them_back() {
        let pacer = Pacer::new(Some(2.0));
        let start = Instant::now();
        for _ in 0..5 {
            pacer.take().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(2000));
        pacer.hold_for(Duration::from_secs(3));
        pacer.take().await;
        assert_eq!(start.elapsed(), Duration::from_millis(5000));
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let pacer = Pacer::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            pacer.take().await;
        }
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
