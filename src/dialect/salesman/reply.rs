//! Answers as PHP writes them: HTTP 200 always, `Access-Control-Allow-Origin: *`
//! (site forms post from browsers), `json_encode` bytes as the real handler's
//! `json_encode_cyr` writes them (Cyrillic raw, every other non-ASCII
//! character as `\uXXXX`, `/` as `\/`), under the configured content type.

use std::io::Write as _;

use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, CONTENT_TYPE,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use super::SalesmanError;

/// The characters the real handler's `json_encode_cyr` leaves raw: the
/// Russian alphabet (А-я, Ёё).
fn stays_raw(character: char) -> bool {
    matches!(character, 'А'..='я' | 'Ё' | 'ё')
}

#[derive(Clone)]
pub struct Reply {
    content_type: HeaderValue,
    escape_slashes: bool,
    escape_unicode: bool,
}

impl Reply {
    pub fn new(content_type: &str, escape_slashes: bool, escape_unicode: bool) -> Reply {
        Reply {
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("text/html; charset=utf-8")),
            escape_slashes,
            escape_unicode,
        }
    }

    #[cfg(test)]
    pub fn body_text(&self, value: &Value) -> String {
        // Only ASCII backslashes are ever added to serde_json's UTF-8.
        String::from_utf8(self.body_bytes(value)).unwrap_or_default()
    }

    /// serde_json's own writer rather than `Value`'s `Display`, which goes
    /// through `core::fmt` one piece at a time (2.5% of a connection
    /// runtime's samples on durable adds).
    fn body_bytes(&self, value: &Value) -> Vec<u8> {
        // Serialising a `Value` cannot fail: its keys are strings.
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        let slashes = self.escape_slashes && bytes.contains(&b'/');
        let unicode = self.escape_unicode && !bytes.is_ascii();
        if !slashes && !unicode {
            return bytes;
        }
        // serde_json writes UTF-8; the check only keeps this total.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return bytes;
        };
        // A '/' or a non-ASCII character can only occur inside JSON
        // strings, so replacing them one by one gives exactly what PHP's
        // json_encode writes.
        let mut escaped = Vec::with_capacity(bytes.len() + 16);
        for character in text.chars() {
            match character {
                '/' if self.escape_slashes => escaped.extend_from_slice(b"\\/"),
                character
                    if character.is_ascii() || !self.escape_unicode || stays_raw(character) =>
                {
                    let mut buffer = [0u8; 4];
                    escaped.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
                }
                character => {
                    let mut units = [0u16; 2];
                    for unit in character.encode_utf16(&mut units) {
                        // Writing into a Vec cannot fail.
                        let _ = write!(escaped, "\\u{unit:04x}");
                    }
                }
            }
        }
        escaped
    }

    pub fn json(&self, value: &Value) -> Response {
        let mut response = Response::new(Body::from(self.body_bytes(value)));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        response
    }

    pub fn error(&self, error: &SalesmanError) -> Response {
        crate::http::mark_outcome(self.json(&error.envelope()), error.outcome())
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
