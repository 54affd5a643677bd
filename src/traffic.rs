//! What passed through this process minute by minute over the last hour:
//! requests and accepted leads per dialect, deliveries per target. The
//! operations page draws it; Prometheus (`meters.rs`) keeps the long view.
//! Counted only while metrics are on (an `[admin]` listener), with a few
//! atomics per event: one minute's slot is reused an hour later, reset by
//! the first event that finds it stale.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Minutes kept.
pub const MINUTES: usize = 60;

#[derive(Default)]
struct Slot {
    minute: AtomicU64,
    count: AtomicU64,
}

struct Ring {
    slots: [Slot; MINUTES],
}

impl Ring {
    fn new() -> Ring {
        Ring {
            slots: std::array::from_fn(|_| Slot::default()),
        }
    }

    fn add(&self, minute: u64, count: u64) {
        let slot = &self.slots[(minute % MINUTES as u64) as usize];
        if slot.minute.load(Ordering::Acquire) != minute
            && slot.minute.swap(minute, Ordering::AcqRel) != minute
        {
            slot.count.store(0, Ordering::Release);
        }
        slot.count.fetch_add(count, Ordering::AcqRel);
    }

    /// Counts of the `MINUTES` minutes ending with `now`, oldest first.
    fn last_hour(&self, now: u64) -> Vec<u64> {
        (0..MINUTES as u64)
            .rev()
            .map(|ago| {
                let minute = now.saturating_sub(ago);
                let slot = &self.slots[(minute % MINUTES as u64) as usize];
                if slot.minute.load(Ordering::Acquire) == minute {
                    slot.count.load(Ordering::Acquire)
                } else {
                    0
                }
            })
            .collect()
    }
}

/// What a series counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Requests,
    LeadsAccepted,
    Delivered,
}

/// Per (kind, dialect or target): a ring. Few series.
static SERIES: RwLock<Vec<(Kind, String, Arc<Ring>)>> = RwLock::new(Vec::new());

fn minute_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 60)
}

thread_local! {
    /// This thread's handles on the rings it has counted into: the shared
    /// list is locked once per series and thread, not per event.
    static HANDLES: std::cell::RefCell<Vec<(Kind, String, Arc<Ring>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Counts `count` events of `kind` for `name` (a dialect or a target).
pub fn record(kind: Kind, name: &str, count: u64) {
    let minute = minute_now();
    HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        if let Some((_, _, ring)) = handles.iter().find(|(k, n, _)| *k == kind && n == name) {
            ring.add(minute, count);
            return;
        }
        let ring = shared_ring(kind, name);
        ring.add(minute, count);
        handles.push((kind, name.to_owned(), ring));
    });
}

fn shared_ring(kind: Kind, name: &str) -> Arc<Ring> {
    let mut series = match SERIES.write() {
        Ok(series) => series,
        Err(poisoned) => poisoned.into_inner(),
    };
    match series.iter().find(|(k, n, _)| *k == kind && n == name) {
        Some((_, _, ring)) => ring.clone(),
        None => {
            let ring = Arc::new(Ring::new());
            series.push((kind, name.to_owned(), ring.clone()));
            ring
        }
    }
}

/// One series over the last hour.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Series {
    pub kind: Kind,
    pub name: String,
    /// Per minute, oldest first; the last is the current minute.
    pub per_minute: Vec<u64>,
}

/// Every series this process has counted, over the hour ending now.
pub fn last_hour() -> Vec<Series> {
    let now = minute_now();
    let series = match SERIES.read() {
        Ok(series) => series,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut all: Vec<Series> = series
        .iter()
        .map(|(kind, name, ring)| Series {
            kind: *kind,
            name: name.clone(),
            per_minute: ring.last_hour(now),
        })
        .collect();
    all.sort_by(|a, b| (a.name.as_str(), a.kind as u8).cmp(&(b.name.as_str(), b.kind as u8)));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_is_counted_and_an_hour_later_forgotten() {
        let ring = Ring::new();
        ring.add(1_000, 2);
        ring.add(1_000, 3);
        ring.add(1_001, 1);
        let hour = ring.last_hour(1_001);
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(&hour[MINUTES - 2..], &[5, 1]);
        // The same slot, an hour on: the old count is gone.
        ring.add(1_060, 7);
        assert_eq!(ring.last_hour(1_060)[MINUTES - 1], 7);
        assert_eq!(ring.last_hour(1_060).iter().sum::<u64>(), 8);
    }

    #[test]
    fn series_are_found_by_kind_and_name() {
        record(Kind::Requests, "traffic-test-dialect", 2);
        record(Kind::Requests, "traffic-test-dialect", 1);
        record(Kind::LeadsAccepted, "traffic-test-dialect", 1);
        let all = last_hour();
        let requests = all
            .iter()
            .find(|s| s.kind == Kind::Requests && s.name == "traffic-test-dialect")
            .unwrap();
        assert_eq!(requests.per_minute.iter().sum::<u64>(), 3);
    }
}
