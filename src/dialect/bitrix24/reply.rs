//! Answers as a portal writes them: `application/json`, the `time` block on
//! every success (b24pysdk raises KeyError without it), list `total`/`next`,
//! and errors with their HTTP status.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, FixedOffset, Utc};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::error::Bitrix24Error;

/// Bitrix24's method-time window: `operating` is counted over ten minutes.
const OPERATING_WINDOW_SECS: f64 = 600.0;

/// When a call started, on both clocks: the wall clock for the `time` block,
/// the monotonic one for durations.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    wall: SystemTime,
    started: Instant,
}

impl Timing {
    pub fn start() -> Timing {
        Timing {
            wall: SystemTime::now(),
            started: Instant::now(),
        }
    }

    /// The `time` object: seconds as floats, dates with the portal's offset.
    pub fn block(&self, timezone: FixedOffset) -> Value {
        let start = self
            .wall
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        let duration = self.started.elapsed().as_secs_f64();
        let finish = start + duration;
        let date = |seconds: f64| {
            DateTime::<Utc>::from_timestamp_micros((seconds * 1e6) as i64)
                .unwrap_or_default()
                .with_timezone(&timezone)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        json!({
            "start": round(start),
            "finish": round(finish),
            "duration": round(duration),
            "processing": round(duration),
            "date_start": date(start),
            "date_finish": date(finish),
            "operating_reset_at": (start + OPERATING_WINDOW_SECS) as i64,
            "operating": round(duration),
        })
    }
}

/// Portals print times with microsecond precision.
fn round(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

/// A method's result and its list counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub result: Value,
    pub total: Option<u64>,
    pub next: Option<u64>,
}

impl Output {
    pub fn of(result: Value) -> Output {
        Output {
            result,
            total: None,
            next: None,
        }
    }

    /// The success envelope: result, then next and total, then time.
    pub fn envelope(self, time: Value) -> Value {
        let mut body = Map::with_capacity(4);
        body.insert("result".into(), self.result);
        if let Some(next) = self.next {
            body.insert("next".into(), next.into());
        }
        if let Some(total) = self.total {
            body.insert("total".into(), total.into());
        }
        body.insert("time".into(), time);
        Value::Object(body)
    }
}

pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub fn error(error: &Bitrix24Error) -> Response {
    crate::http::mark_outcome(json(error.status(), &error.body()), error.outcome())
}
