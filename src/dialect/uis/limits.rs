//! Points per access key per day and per minute, as UIS counts them: every
//! successful call costs one; a call when either budget is spent answers
//! -32029 `limit_exceeded`; `metadata.limits` reports both budgets and the
//! seconds until each resets. Counters are per process.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::error::UisError;

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

    /// Refuses a call when a budget is spent.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), UisError> {
        let usage = self.current(key, now);
        if usage.day_used >= self.day_limit {
            return Err(UisError::limit_exceeded("day", self.day_limit));
        }
        if usage.minute_used >= self.minute_limit {
            return Err(UisError::limit_exceeded("minute", self.minute_limit));
        }
        Ok(())
    }

    /// Charges one point for a successful call.
    pub fn charge(&self, key: &str, now: DateTime<Utc>) {
        let mut usage = self.current(key, now);
        usage.minute_used += 1;
        usage.day_used += 1;
        if let Ok(mut all) = self.usage.lock() {
            all.insert(key.to_owned(), usage);
        }
    }

    /// `metadata.limits` for `key` at `now`.
    pub fn report(&self, key: &str, now: DateTime<Utc>) -> Value {
        let usage = self.current(key, now);
        let seconds = now.timestamp();
        json!({
            "day_limit": self.day_limit,
            "day_remaining": self.day_limit.saturating_sub(usage.day_used),
            "day_reset": 86_400 - seconds.rem_euclid(86_400),
            "minute_limit": self.minute_limit,
            "minute_remaining": self.minute_limit.saturating_sub(usage.minute_used),
            "minute_reset": 60 - seconds.rem_euclid(60),
        })
    }
}
