//! The HTML every answer of the page is made of: escaping, the document
//! around a body, the headers (a strict Content-Security-Policy), and the
//! sign-in form a caller without the token gets.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::assets;

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted
/// attributes.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

pub(super) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Nothing from elsewhere, ever; the inline style and script are
            // the page's own.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

pub(super) fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{}</style></head><body>{body}</body></html>",
        escape(title),
        assets::STYLE
    )
}

/// The plain sign-in form: all a caller without the token gets.
pub(super) fn sign_in_form(error: Option<&str>) -> Response {
    let error = error
        .map(|error| format!("<p class=\"error\">{}</p>", escape(error)))
        .unwrap_or_default();
    html(
        StatusCode::UNAUTHORIZED,
        document(
            "leadgate: sign in",
            &format!(
                "<form class=\"signin\" method=\"post\" action=\"/signin\">\
                 <h1>leadgate</h1><label for=\"token\">Admin token</label>\
                 <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" autofocus>\
                 {error}<input type=\"submit\" value=\"Sign in\"></form>"
            ),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
