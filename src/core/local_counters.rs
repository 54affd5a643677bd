//! Inbound limits (Bitrix24's leaky bucket, UIS points per minute and per
//! day) counted in this process, for a store that shares none with other
//! processes (SQLite: one gateway per file). The gateway holds one for its
//! whole life and hands it to every core it builds, so a reload, which
//! builds the dialects and their own counters again, neither forgets what
//! a caller has spent nor hands out a fresh budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use crate::store::{SharedCounters, StoreError};

#[derive(Default)]
pub struct LocalCounters {
    /// Per key: the bucket's level and when it was last drained.
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Per key: the latest window counted and what it holds; an older
    /// window is forgotten when a newer one starts.
    windows: Mutex<HashMap<String, Window>>,
}

struct Bucket {
    level: f64,
    since: Instant,
}

struct Window {
    number: i64,
    used: i64,
}

#[async_trait]
impl SharedCounters for LocalCounters {
    async fn leaky_admit(
        &self,
        key: &str,
        capacity: f64,
        per_second: f64,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            level: 0.0,
            since: now,
        });
        let drained = now.saturating_duration_since(bucket.since).as_secs_f64() * per_second;
        bucket.level = (bucket.level - drained).max(0.0);
        bucket.since = now;
        if bucket.level + 1.0 > capacity {
            return Ok(false);
        }
        bucket.level += 1.0;
        Ok(true)
    }

    async fn add_in_window(&self, key: &str, window: i64, cost: i64) -> Result<i64, StoreError> {
        let mut windows = match self.windows.lock() {
            Ok(windows) => windows,
            Err(poisoned) => poisoned.into_inner(),
        };
        let counted = windows.entry(key.to_owned()).or_insert(Window {
            number: window,
            used: 0,
        });
        if window > counted.number {
            *counted = Window {
                number: window,
                used: 0,
            };
        } else if window < counted.number {
            // A window already gone (a clock stepped back): nothing to
            // count it against.
            return Ok(cost);
        }
        counted.used += cost;
        Ok(counted.used)
    }
}

#[cfg(test)]
mod tests {
    use super::LocalCounters;
    use crate::store::SharedCounters;

    #[tokio::test]
    async fn windows_count_until_the_next_starts() {
        let counters = LocalCounters::default();
        assert_eq!(counters.add_in_window("k", 10, 1).await.unwrap(), 1);
        assert_eq!(counters.add_in_window("k", 10, 1).await.unwrap(), 2);
        assert_eq!(counters.add_in_window("k", 10, 0).await.unwrap(), 2);
        assert_eq!(counters.add_in_window("other", 10, 1).await.unwrap(), 1);
        assert_eq!(counters.add_in_window("k", 11, 1).await.unwrap(), 1);
        assert_eq!(counters.add_in_window("k", 10, 1).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_bucket_admits_its_capacity_then_refuses() {
        let counters = LocalCounters::default();
        for _ in 0..3 {
            assert!(counters.leaky_admit("k", 3.0, 0.001).await.unwrap());
        }
        assert!(!counters.leaky_admit("k", 3.0, 0.001).await.unwrap());
        assert!(counters.leaky_admit("other", 3.0, 0.001).await.unwrap());
    }
}
