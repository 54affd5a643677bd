//! What every HTTP adapter shares: one client per target, and the reading
//! of a reply's status before its body (an HTML error page from a proxy must
//! become a clear transient or permanent failure, never a parse crash).

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use super::Attempt;

/// A client with the target's timeout; rustls, no redirects followed for
/// POSTs (a redirected POST would silently turn into a GET).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("leadgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A target's answer, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    /// What a non-success status means (see [`status_failure`]).
    pub fn failure(&self) -> Option<Attempt> {
        status_failure(self.status, &self.headers, &self.body)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends a request and reads the answer; a network failure or timeout on
/// the way is the transient attempt it means.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Attempt> {
    let response = request
        .send()
        .await
        .map_err(|error| network_failure(&error))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|error| network_failure(&error))?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// An id a target wrote as a number or a non-empty string.
pub fn id_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Number(id) => Some(id.to_string()),
        serde_json::Value::String(id) if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

/// Network failures and timeouts: the request may or may not have arrived.
pub fn network_failure(error: &reqwest::Error) -> Attempt {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    Attempt::transient(format!("{what}: {}", without_url(error)))
}

fn without_url(error: &reqwest::Error) -> String {
    // The URL can carry a webhook code or an apikey; keep it out of errors
    // that end up in the store and the logs.
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<target>");
    }
    text
}

/// `Retry-After` in seconds, if the reply has one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(|seconds| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// The failure a non-success status means, or `None` for 2xx: 408, 425,
/// 429 and 5xx are worth retrying, other 4xx are not.
pub fn status_failure(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<Attempt> {
    if status.is_success() {
        return None;
    }
    let said = excerpt(body);
    let error = if said.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {said}", status.as_u16())
    };
    let transient = status.is_server_error()
        || matches!(status.as_u16(), 408 | 425 | 429)
        || status.is_informational()
        || status.is_redirection();
    Some(if transient {
        Attempt::Transient {
            error,
            retry_after: retry_after(headers),
        }
    } else {
        Attempt::permanent(error)
    })
}

/// The start of a reply body for an error message, on one line.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > 300 {
        line.push('…');
    }
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_split_into_transient_and_permanent() {
        let headers = HeaderMap::new();
        assert_eq!(status_failure(StatusCode::OK, &headers, b""), None);
        let html = b"<html><body>502 Bad Gateway</body></html>";
        assert!(matches!(
            status_failure(StatusCode::BAD_GATEWAY, &headers, html),
            Some(Attempt::Transient { .. })
        ));
        assert!(matches!(
            status_failure(StatusCode::UNAUTHORIZED, &headers, b"{}"),
            Some(Attempt::Permanent { .. })
        ));
        let mut limited = HeaderMap::new();
        limited.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            status_failure(StatusCode::TOO_MANY_REQUESTS, &limited, b""),
            Some(Attempt::Transient {
                error: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(7)),
            })
        );
    }
}
