//! Answers as PHP writes them: HTTP 200 always, `Access-Control-Allow-Origin: *`
//! (site forms post from browsers), `json_encode` bytes with Cyrillic as is
//! and, by default, `/` escaped as `\/`, under the configured content type.

use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, CONTENT_TYPE,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use super::SalesmanError;

#[derive(Clone)]
pub struct Reply {
    content_type: HeaderValue,
    escape_slashes: bool,
}

impl Reply {
    pub fn new(content_type: &str, escape_slashes: bool) -> Reply {
        Reply {
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("text/html; charset=utf-8")),
            escape_slashes,
        }
    }

    pub fn body_text(&self, value: &Value) -> String {
        let text = value.to_string();
        // A '/' can only occur inside JSON strings, so a plain replace gives
        // exactly what PHP's json_encode writes.
        if self.escape_slashes && text.contains('/') {
            text.replace('/', "\\/")
        } else {
            text
        }
    }

    pub fn json(&self, value: &Value) -> Response {
        let mut response = Response::new(Body::from(self.body_text(value)));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        response
    }

    pub fn error(&self, error: &SalesmanError) -> Response {
        self.json(&error.envelope())
    }

    /// CORS preflight for browser forms that send JSON or the v2 headers.
    pub fn preflight(&self, request: &HeaderMap) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            request
                .get(ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned()
                .unwrap_or(HeaderValue::from_static("Content-Type, apikey, login")),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        response
    }
}
