//! Signing a browser in: the admin token given once (`/?token=...`, or the
//! sign-in form) sets the session cookie and sends the browser to a URL
//! without the token, so it stays out of the history and the address bar.
//! Without the token or the cookie a caller gets the sign-in form and
//! nothing else.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::html::sign_in_form;
use super::Ops;

/// Whether the request carries the token or the session cookie.
pub(super) fn signed_in(ops: &Ops, headers: &HeaderMap) -> bool {
    ops.token.accepts(headers)
}

/// `token` given: the cookie and a redirect to `/` when it is the admin
/// token, the sign-in form again when it is not.
pub(super) fn sign_in_with(ops: &Ops, token: &str) -> Response {
    if ops.token.is_token(token) {
        (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, ops.token.session_cookie()),
                (header::LOCATION, "/".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response()
    } else {
        sign_in_form(Some("That is not the admin token."))
    }
}

/// `POST /signin` with the form's `token`.
pub(super) async fn sign_in(State(ops): State<Arc<Ops>>, body: Bytes) -> Response {
    let token = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    sign_in_with(&ops, &token)
}

/// `POST /signout`: the cookie expires.
pub(super) async fn sign_out() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                    crate::http::admin_auth::COOKIE
                ),
            ),
            (header::LOCATION, "/".to_owned()),
        ],
    )
        .into_response()
}
