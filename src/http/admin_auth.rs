//! Who may use the admin listener's operations: a caller with the
//! `[admin] token`, as a Bearer header (scripts, `curl`) or as the session
//! cookie the operations page sets once the token is given (a browser).
//!
//! The cookie holds a digest derived from the token, never the token, and
//! is `HttpOnly` (no script reads it) and `SameSite=Strict` (no other site
//! makes the browser send it, so no cross-site request can use it).

use crate::digest::digest_of;
use axum::http::{header, HeaderMap};

/// The session cookie's name.
pub const COOKIE: &str = "leadgate_admin";

/// The token's digest, and the cookie value that stands for it.
pub struct AdminToken {
    /// Digests are compared, so the time taken says nothing of the token.
    digest: String,
    /// The digest of the cookie value it expects.
    cookie_digest: String,
    cookie: String,
}

impl AdminToken {
    pub fn new(token: &str) -> AdminToken {
        let cookie = digest_of(&format!("leadgate admin session\0{token}"));
        AdminToken {
            digest: digest_of(token),
            cookie_digest: digest_of(&cookie),
            cookie,
        }
    }

    /// Whether `given` is the token.
    pub fn is_token(&self, given: &str) -> bool {
        digest_of(given.trim()) == self.digest
    }

    /// A Bearer token or the session cookie.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if bearer.is_some_and(|token| self.is_token(token)) {
            return true;
        }
        cookie_value(headers, COOKIE).is_some_and(|value| digest_of(value) == self.cookie_digest)
    }

    /// The `Set-Cookie` value that signs a browser in.
    pub fn session_cookie(&self) -> String {
        format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie
        )
    }
}

/// A cookie's value from the `Cookie` headers.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_token_or_its_cookie_and_nothing_else() {
        let admin = AdminToken::new("s3cret");
        let cookie = admin.session_cookie();
        let pair = cookie.split(';').next().unwrap();
        assert!(!cookie.contains("s3cret"));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(admin.accepts(&headers(&[(header::AUTHORIZATION, "Bearer s3cret")])));
        assert!(admin.accepts(&headers(&[(header::COOKIE, &format!("a=b; {pair}"))])));
        assert!(!admin.accepts(&headers(&[(header::AUTHORIZATION, "Bearer nope")])));
        assert!(!admin.accepts(&headers(&[(header::COOKIE, "leadgate_admin=s3cret")])));
        assert!(!admin.accepts(&headers(&[(header::COOKIE, &pair.replace('=', "=x"))])));
        assert!(!admin.accepts(&HeaderMap::new()));
        // Another token's cookie is not this one's.
        let other = AdminToken::new("other").session_cookie();
        let other_pair = other.split(';').next().unwrap();
        assert!(!admin.accepts(&headers(&[(header::COOKIE, other_pair)])));
    }
}
