//! Byte-level checks of the envelopes; the HTTP behaviour is covered end to
//! end in tests/salesman.rs.

use super::error::SalesmanError;
use super::reply::Reply;
use crate::http::ParamsError;

#[test]
fn auth_errors_are_the_real_bytes() {
    let reply = Reply::new("text/html; charset=utf-8", true);
    assert_eq!(
        reply.body_text(&SalesmanError::BadApiKey.envelope()),
        r#"{"result":"Error","error":{"code":"400","text":"Не верный API key"}}"#
    );
    assert_eq!(
        reply.body_text(&SalesmanError::UnknownUser.envelope()),
        r#"{"result":"Error","error":{"code":"401","text":"Неизвестный пользователь"}}"#
    );
    assert_eq!(
        reply.body_text(&SalesmanError::UnknownAction.envelope()),
        r#"{"result":"Error","error":{"code":"402","text":"Не известный метод"}}"#
    );
}

#[test]
fn add_failure_has_no_result_key() {
    let error = SalesmanError::AddFailed("Поле description длиннее 65535 символов".into());
    let reply = Reply::new("text/html; charset=utf-8", true);
    assert_eq!(
        reply.body_text(&error.envelope()),
        "{\"error\":{\"code\":\"1\",\"text\":\"Ошибка добавления лида. Поле description длиннее 65535 символов\"},\"Error\":\"Ошибка добавления лида. Поле description длиннее 65535 символов\"}"
    );
}

#[test]
fn slashes_are_escaped_like_php_unless_turned_off() {
    let value = serde_json::json!({"site": "https://example.ru/a"});
    assert_eq!(
        Reply::new("text/html", true).body_text(&value),
        r#"{"site":"https:\/\/example.ru\/a"}"#
    );
    assert_eq!(
        Reply::new("text/html", false).body_text(&value),
        r#"{"site":"https://example.ru/a"}"#
    );
}

#[test]
fn request_errors_have_their_own_codes() {
    assert_eq!(
        SalesmanError::Request(ParamsError::TooLarge { limit: 10 }).code(),
        "413"
    );
    assert_eq!(
        SalesmanError::Request(ParamsError::InvalidUtf8 {
            field: "title".into()
        })
        .code(),
        "415"
    );
}
