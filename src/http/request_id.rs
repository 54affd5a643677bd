//! Request ids: a client's own `x-request-id` is kept, otherwise one is made
//! from the process start time and a counter (unique per process run, cheap,
//! and sortable when reading logs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{HeaderName, HeaderValue};

pub const HEADER: &str = "x-request-id";

/// Longest client id kept.
const MAX_CLIENT_ID: usize = 64;

/// A client's id is kept only when it is short and printable ASCII without
/// spaces: it goes into every log line of the request, so it must not be
/// able to carry a forged line or a paragraph of caller data.
pub fn acceptable(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_CLIENT_ID
        && bytes.iter().all(|byte| byte.is_ascii_graphic())
}

pub fn header_name() -> HeaderName {
    HeaderName::from_static(HEADER)
}

/// Cloned with the front service for every request, so it holds only
/// shared parts.
#[derive(Clone)]
pub struct Sequential {
    prefix: Arc<str>,
    counter: Arc<AtomicU64>,
}

impl Default for Sequential {
    fn default() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Sequential {
            prefix: format!("{started:x}").into(),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Sequential {
    /// The next id of this process run.
    pub fn next_id(&self) -> Option<HeaderValue> {
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{number}", self.prefix)).ok()
    }
}
