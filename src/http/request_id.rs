//! Request ids: a client's own `x-request-id` is kept, otherwise one is made
//! from the process start time and a counter (unique per process run, cheap,
//! and sortable when reading logs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

pub const HEADER: &str = "x-request-id";

pub fn header_name() -> HeaderName {
    HeaderName::from_static(HEADER)
}

#[derive(Clone)]
pub struct Sequential {
    prefix: String,
    counter: Arc<AtomicU64>,
}

impl Default for Sequential {
    fn default() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Sequential {
            prefix: format!("{started:x}"),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{number}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}
