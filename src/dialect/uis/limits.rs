//! Points per access key per day and per minute, as UIS counts them: every
//! successful call costs one; a call when either budget is spent answers
//! -32029 `limit_exceeded`; `metadata.limits` reports both budgets and the
//! seconds until each resets. Counters are kept for the whole fleet on a
//! store replicas share, else per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::error::UisError;
use crate::store::SharedCounters;

#[derive(Default, Clone, Copy)]
struct Usage {
    minute: i64,
    minute_used: u64,
    day: i64,
    day_used: u64,
}

pub struct Limits {
    day_limit: u64,
    minute_limit: u64,
    usage: Mutex<HashMap<String, Usage>>,
}

impl Limits {
    pub fn new(day_limit: u64, minute_limit: u64) -> Limits {
        Limits {
            day_limit,
            minute_limit,
            usage: Mutex::new(HashMap::new()),
        }
    }

    fn current(&self, key: &str, now: DateTime<Utc>) -> Usage {
        let minute = now.timestamp().div_euclid(60);
        let day = now.timestamp().div_euclid(86_400);
        let mut usage = self
            .usage
            .lock()
            .ok()
            .and_then(|usage| usage.get(key).copied())
            .unwrap_or_default();
        if usage.minute != minute {
            usage.minute = minute;
            usage.minute_used = 0;
        }
        if usage.day != day {
            usage.day = day;
            usage.day_used = 0;
        }
        usage
    }

    /// The budgets `key` has used at `now`: counted for the fleet in
    /// `shared` (keyed by a digest, never the key itself) when there is
    /// one, else in this process. Should the shared count fail, this
    /// process counts alone.
    pub async fn usage(
        &self,
        key: &str,
        now: DateTime<Utc>,
        shared: Option<&Arc<dyn SharedCounters>>,
    ) -> Used {
        self.count(key, now, shared, 0).await
    }

    /// Charges one point for a successful call; the budgets used after it.
    pub async fn charge(
        &self,
        key: &str,
        now: DateTime<Utc>,
        shared: Option<&Arc<dyn SharedCounters>>,
    ) -> Used {
        self.count(key, now, shared, 1).await
    }

    async fn count(
        &self,
        key: &str,
        now: DateTime<Utc>,
        shared: Option<&Arc<dyn SharedCounters>>,
        cost: u64,
    ) -> Used {
        if let Some(shared) = shared {
            let hex = crate::core::digest_of(key);
            let minute = now.timestamp().div_euclid(60);
            let day = now.timestamp().div_euclid(86_400);
            let cost = cost as i64;
            let (minute_key, day_key) = (format!("uis:{hex}:minute"), format!("uis:{hex}:day"));
            // Both budgets at once: two round trips side by side, not in turn.
            let counted = async {
                let (minute_used, day_used) = tokio::try_join!(
                    shared.add_in_window(&minute_key, minute, cost),
                    shared.add_in_window(&day_key, day, cost),
                )?;
                Ok::<_, crate::store::StoreError>(Used {
                    minute: minute_used.max(0) as u64,
                    day: day_used.max(0) as u64,
                })
            };
            match counted.await {
                Ok(used) => return used,
                Err(error) => tracing::warn!(%error, "shared points unavailable; counting alone"),
            }
        }
        let mut usage = self.current(key, now);
        usage.minute_used += cost;
        usage.day_used += cost;
        if cost > 0 {
            if let Ok(mut all) = self.usage.lock() {
                all.insert(key.to_owned(), usage);
            }
        }
        Used {
            minute: usage.minute_used,
            day: usage.day_used,
        }
    }

    /// Refuses a call when a budget is spent.
    pub fn check(&self, used: Used) -> Result<(), UisError> {
        if used.day >= self.day_limit {
            return Err(UisError::limit_exceeded("day", self.day_limit));
        }
        if used.minute >= self.minute_limit {
            return Err(UisError::limit_exceeded("minute", self.minute_limit));
        }
        Ok(())
    }

    /// `metadata.limits` for budgets `used` at `now`.
    pub fn report(&self, used: Used, now: DateTime<Utc>) -> Value {
        let seconds = now.timestamp();
        json!({
            "day_limit": self.day_limit,
            "day_remaining": self.day_limit.saturating_sub(used.day),
            "day_reset": 86_400 - seconds.rem_euclid(86_400),
            "minute_limit": self.minute_limit,
            "minute_remaining": self.minute_limit.saturating_sub(used.minute),
            "minute_reset": 60 - seconds.rem_euclid(60),
        })
    }
}

/// Points a key has used in the current minute and day.
#[derive(Clone, Copy, Debug, Default)]
pub struct Used {
    pub minute: u64,
    pub day: u64,
}
