//! Answers of the routes no dialect owns (health, admin, the operations
//! page's data, target events, and paths no route matches) as JSON: one
//! builder for them all, and errors as `{"error": "..."}`, never axum's
//! plain-text rejections (a wrong verb, a body over the limit, a query
//! that does not parse).

use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde_json::json;

/// The answer to a path no route serves.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

/// `body` as JSON with `status`.
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"error": text}` with `status`.
pub fn error(status: StatusCode, text: &str) -> Response {
    json(status, &json!({ "error": text }))
}

/// Turns a framework's error answer (4xx or 5xx that is not JSON) into
/// `{"error": "<reason>"}`, keeping its status and headers such as `allow`.
pub async fn as_json(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let body = Body::from(json!({ "error": reason }).to_string());
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, body)
}
