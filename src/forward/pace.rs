//! Request pacing per target: at most `rate` requests a second, evenly
//! spaced, so a portal's limit (Bitrix24: 2 a second) is never hit rather
//! than hit and retried. A target's "come back later" holds the whole
//! target, not just the one lead.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    /// The earliest moment the next request may leave.
    next: Mutex<Instant>,
}

impl Pacer {
    /// `None`: no limit.
    pub fn new(requests_per_second: Option<f64>) -> Pacer {
        Pacer {
            interval: requests_per_second
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .map(|rate| Duration::from_secs_f64(1.0 / rate)),
            next: Mutex::new(Instant::now()),
        }
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
    }

    /// Takes the next slot and waits for it.
    pub async fn take(&self) {
        let at = match self.next.lock() {
            Ok(mut next) => {
                let at = (*next).max(Instant::now());
                *next = at + self.interval.unwrap_or_default();
                at
            }
            Err(_) => Instant::now(),
        };
        tokio::time::sleep_until(at).await;
    }

    /// No request before `delay` from now (a 429's reset hint).
    pub fn hold_for(&self, delay: Duration) {
        if let Ok(mut next) = self.next.lock() {
            *next = (*next).max(Instant::now() + delay);
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
