//! HTTP assembly: one router for every dialect, what every request goes
//! through (request id and tracing span in `front`, per-dialect timeout and
//! panic guard in `guard`), health endpoints, and the server loop itself
//! (plain or TLS, graceful stop).

pub mod admin;
pub mod admin_auth;
pub mod args;
mod deadlines;
mod front;
pub mod guard;
pub mod head_refusals;
pub mod health;
pub mod json_errors;
pub mod metrics;
pub mod params;
mod request_id;
mod runtimes;
pub mod server;
pub mod tls;

use std::time::Duration;

pub use args::{scalar_text, Args};
pub use front::{mark_outcome, name_method, Front, RouteName, UNNAMED_METHOD};
pub use guard::Failure;
pub use params::{Params, ParamsError};
pub use server::{RunningServer, ServerOptions};

/// Bounds used by the guards; one place so every dialect gets the same.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// Longest pause in a request body before it counts as cut short.
    pub body_stall: Duration,
}

impl Limits {
    pub fn body(&self) -> params::ReadOptions {
        params::ReadOptions {
            max_bytes: self.body_limit_bytes,
            stall: Some(self.body_stall),
            // A dialect's own setting (`legacy_charset`) fills it in.
            legacy_charset: None,
        }
    }
}
