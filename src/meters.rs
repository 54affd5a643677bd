//! The gateway's metrics: their names and labels in one place, the calls
//! that record them, and the one Prometheus recorder of the process that
//! `/metrics` renders. Labels are closed sets the code names (dialect,
//! method, outcome, target, state, reason), never a value a caller sent,
//! so a client cannot grow the series without bound.
//!
//! Recording goes through the `metrics` facade: with no recorder installed
//! (the library embedded, or a command that serves nothing) every call is
//! a no-op.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "leadgate_requests_total";
pub const REQUEST_DURATION: &str = "leadgate_request_duration_seconds";
pub const LEADS_ACCEPTED: &str = "leadgate_leads_accepted_total";
pub const STORE_COMMIT_DURATION: &str = "leadgate_store_commit_duration_seconds";
pub const STORE_BATCH_SIZE: &str = "leadgate_store_batch_size";
pub const DELIVERIES: &str = "leadgate_deliveries";
pub const OLDEST_PENDING: &str = "leadgate_delivery_oldest_pending_seconds";
pub const DELIVERY_ATTEMPTS: &str = "leadgate_delivery_attempts_total";
pub const DELIVERY_FAILURES: &str = "leadgate_delivery_failures_total";
pub const OPEN_CONNECTIONS: &str = "leadgate_open_connections";
pub const BUILD_INFO: &str = "leadgate_build_info";

/// How a request ended, as its dialect answered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Answered with what was asked for.
    Ok,
    /// Answered with the dialect's error for the caller's request (bad
    /// input, unknown method, refused credentials, limits).
    Refused,
    /// Answered with the dialect's error for a failure on this side
    /// (store unavailable, timeout, panic).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// What a dialect says of a request it answered: put into the response's
/// extensions, read by `http::Front` when the answer leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handled {
    /// The method as the dialect names it (`crm.lead.add`, `add`,
    /// `Leads.list`, `get.sales_funnel`); one of the dialect's own names,
    /// or `unknown`.
    pub method: &'static str,
    pub outcome: Outcome,
}

/// Set once this module's recorder is installed: until then the per-request
/// calls return at once, and no handle is cached that would stay a no-op.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// How often histograms are folded into their buckets when nobody scrapes
/// (the exporter keeps raw samples until then).
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use; `None` when another
/// recorder was installed first (an embedding program's own).
pub fn install() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0, 10.0,
                    ],
                )
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(STORE_BATCH_SIZE.into()),
                        &[
                            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                        ],
                    )
                })
                .map(|builder| builder.build_recorder());
            let recorder = match recorder {
                Ok(recorder) => recorder,
                Err(error) => {
                    tracing::warn!(%error, "metrics are off");
                    return None;
                }
            };
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics is empty");
                return None;
            }
            gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            let upkeep = handle.clone();
            let started = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP);
                    upkeep.run_upkeep();
                });
            if let Err(error) = started {
                tracing::warn!(%error, "no metrics upkeep thread; histograms fold at scrapes only");
            }
            INSTALLED.store(true, Ordering::Release);
            Some(handle)
        })
        .as_ref()
}

/// The two series of one kind of request: count and duration.
struct RequestSeries {
    requests: Counter,
    duration: Histogram,
}

thread_local! {
    /// Handles of the per-request series, by dialect and what the dialect
    /// said: finding a series from its labels in the registry cost about
    /// 10% of durable adds (BENCHMARKS.md), and the labels are few and
    /// fixed.
    static REQUEST_SERIES: RefCell<HashMap<(&'static str, Handled), RequestSeries>> =
        RefCell::new(HashMap::new());
    static ACCEPTED_SERIES: RefCell<HashMap<&'static str, Counter>> = RefCell::new(HashMap::new());
}

/// One answered request.
pub fn request(dialect: &'static str, handled: Handled, took: Duration) {
    if !INSTALLED.load(Ordering::Acquire) {
        return;
    }
    crate::traffic::record(crate::traffic::Kind::Requests, dialect, 1);
    REQUEST_SERIES.with(|series| {
        let mut series = series.borrow_mut();
        let kind = series
            .entry((dialect, handled))
            .or_insert_with(|| RequestSeries {
                requests: counter!(REQUESTS, "dialect" => dialect, "method" => handled.method, "outcome" => handled.outcome.as_str()),
                duration: histogram!(REQUEST_DURATION, "dialect" => dialect, "method" => handled.method),
            });
        kind.requests.increment(1);
        kind.duration.record(took.as_secs_f64());
    });
}

/// Leads a dialect stored as new.
pub fn leads_accepted(dialect: &'static str, count: u64) {
    if !INSTALLED.load(Ordering::Acquire) {
        return;
    }
    crate::traffic::record(crate::traffic::Kind::LeadsAccepted, dialect, count);
    ACCEPTED_SERIES.with(|series| {
        series
            .borrow_mut()
            .entry(dialect)
            .or_insert_with(|| counter!(LEADS_ACCEPTED, "dialect" => dialect))
            .increment(count);
    });
}

/// One commit of a batch of inserts.
pub fn store_commit(backend: &'static str, batch_size: usize, took: Duration) {
    histogram!(STORE_COMMIT_DURATION, "backend" => backend).record(took.as_secs_f64());
    histogram!(STORE_BATCH_SIZE, "backend" => backend).record(batch_size as f64);
}

/// A delivery attempt's result; `reason` names a failure's class
/// (`transient`, `rate_limited`, `permanent`) and is `None` on success.
pub fn delivery_attempt(target: &str, reason: Option<&'static str>) {
    if reason.is_none() && INSTALLED.load(Ordering::Acquire) {
        crate::traffic::record(crate::traffic::Kind::Delivered, target, 1);
    }
    counter!(DELIVERY_ATTEMPTS, "target" => target.to_owned()).increment(1);
    if let Some(reason) = reason {
        counter!(DELIVERY_FAILURES, "target" => target.to_owned(), "reason" => reason).increment(1);
    }
}

/// The outbox as the store counts it at a scrape.
pub fn deliveries(target: &str, state: &'static str, count: u64) {
    gauge!(DELIVERIES, "target" => target.to_owned(), "state" => state).set(count as f64);
}

/// How long the oldest pending delivery of a target has waited (0 when
/// none waits).
pub fn oldest_pending(target: &str, waited: Duration) {
    gauge!(OLDEST_PENDING, "target" => target.to_owned()).set(waited.as_secs_f64());
}

/// A connection opened (`+1`) or closed (`-1`).
pub fn connection(change: f64) {
    gauge!(OPEN_CONNECTIONS).increment(change);
}
