//! When a failed delivery is tried again: exponential backoff with full
//! jitter, so many leads that failed together (a target outage) do not
//! return together, never sooner than the target's own reset hint.

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

use super::settings::RetrySettings;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl From<&RetrySettings> for RetryPolicy {
    fn from(settings: &RetrySettings) -> Self {
        RetryPolicy {
            max_attempts: settings.max_attempts.max(1),
            initial: Duration::from_secs_f64(settings.initial_backoff_secs.max(0.001)),
            max: Duration::from_secs_f64(settings.max_backoff_secs.max(0.001)),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure (1 = the first): a random
    /// point in the upper half of `initial * 2^(failures-1)`, capped at
    /// `max`; at least `hint`.
    pub fn delay(&self, failures: u32, hint: Option<Duration>) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let ceiling = self.initial.saturating_mul(1u32 << exponent).min(self.max);
        let jittered = ceiling.mul_f64(0.5 + 0.5 * unit_random());
        jittered.max(hint.unwrap_or_default())
    }

    /// Whether a delivery that has failed `failures` times is given up.
    pub fn exhausted(&self, failures: u32) -> bool {
        failures >= self.max_attempts
    }
}

fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 1.0;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_caps_and_honours_hints() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        for _ in 0..100 {
            let first = policy.delay(1, None);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = policy.delay(3, None);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let late = policy.delay(40, None);
            assert!(late >= Duration::from_secs(5) && late <= Duration::from_secs(10));
            assert!(policy.delay(1, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        }
        assert!(!policy.exhausted(4));
        assert!(policy.exhausted(5));
    }
}
