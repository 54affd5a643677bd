//! HTTP assembly: one router for every dialect, what every request goes
//! through (request id and tracing span in `front`, per-dialect timeout and
//! panic guard in `guard`), health endpoints, and the server loop itself
//! (plain or TLS, graceful stop).

pub mod admin;
pub mod args;
mod front;
pub mod guard;
pub mod health;
pub mod params;
mod request_id;
mod runtimes;
pub mod server;
pub mod tls;

use std::time::Duration;

pub use args::{scalar_text, Args};
pub use front::Front;
pub use guard::Failure;
pub use params::{Params, ParamsError};
pub use server::{RunningServer, ServerOptions};

/// A path safe to log. Bitrix24 webhook paths carry their secret
/// (`/rest/{user}/{secret}/{method}`), so that segment is masked.
pub fn log_path(path: &str) -> std::borrow::Cow<'_, str> {
    let mut segments = path.split('/');
    let is_webhook = segments.nth(1) == Some("rest")
        && segments
            .next()
            .is_some_and(|user| user.parse::<u64>().is_ok())
        && segments.clone().count() >= 2;
    if !is_webhook {
        return path.into();
    }
    let mut masked: Vec<&str> = path.split('/').collect();
    masked[3] = "***";
    masked.join("/").into()
}

/// Bounds used by the guards; one place so every dialect gets the same.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::log_path;

    #[test]
    fn webhook_secrets_are_masked() {
        assert_eq!(
            log_path("/rest/1/s3cr3t/crm.lead.add.json"),
            "/rest/1/***/crm.lead.add.json"
        );
        assert_eq!(log_path("/rest/crm.lead.add"), "/rest/crm.lead.add");
        assert_eq!(log_path("/developer/v1/leads"), "/developer/v1/leads");
    }
}
