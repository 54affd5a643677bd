//! Bitrix24's leaky bucket: each request adds one to its credential's
//! counter, which drains at a fixed rate; a request that would overflow the
//! bucket is refused with 503 QUERY_LIMIT_EXCEEDED and not counted, so a
//! client that backs off gets through again. Off unless configured.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::settings::Bitrix24RateLimit;

pub struct Limiter {
    per_second: f64,
    capacity: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(settings: &Bitrix24RateLimit) -> Limiter {
        Limiter {
            per_second: settings.per_second,
            capacity: settings.capacity,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request under `key`: in the store every replica shares
    /// when there is one (keyed by a digest, so no credential is written to
    /// the database), else in this process. Should the shared count fail,
    /// this process counts alone rather than refuse or wave everyone in.
    pub async fn admit_anywhere(
        &self,
        key: &str,
        shared: Option<&std::sync::Arc<dyn crate::store::SharedCounters>>,
    ) -> bool {
        if let Some(shared) = shared {
            let hex = crate::core::digest_of(key);
            match shared
                .leaky_admit(&format!("bitrix24:{hex}"), self.capacity, self.per_second)
                .await
            {
                Ok(admitted) => return admitted,
                Err(error) => {
                    tracing::warn!(%error, "shared rate limit unavailable; counting alone")
                }
            }
        }
        self.admit(key, Instant::now())
    }

    /// Counts one request under `key` at `now`; false when over the limit.
    pub fn admit(&self, key: &str, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; never refuse because of it.
            return true;
        };
        let (level, since) = buckets.entry(key.to_owned()).or_insert((0.0, now));
        let drained = now.saturating_duration_since(*since).as_secs_f64() * self.per_second;
        *level = (*level - drained).max(0.0);
        *since = now;
        if *level + 1.0 > self.capacity {
            return false;
        }
        *level += 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refuses_above_capacity_and_drains_over_time() {
        let limiter = Limiter::new(&Bitrix24RateLimit {
            per_second: 2.0,
            capacity: 3.0,
        });
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.admit("a", start)));
        assert!(!limiter.admit("a", start));
        assert!(limiter.admit("b", start), "buckets are per credential");
        assert!(limiter.admit("a", start + Duration::from_millis(500)));
        assert!(!limiter.admit("a", start + Duration::from_millis(500)));
        assert!(limiter.admit("a", start + Duration::from_secs(10)));
    }
}
