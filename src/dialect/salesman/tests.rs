//! Byte-level checks of the envelopes; the HTTP behaviour is covered end to
//! end in tests/salesman.rs.

use super::error::SalesmanError;
use super::reply::Reply;
use crate::http::ParamsError;

#[test]
fn auth_errors_are_the_real_bytes() {
    let reply = Reply::new("text/html; charset=utf-8", true, true);
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
    let reply = Reply::new("text/html; charset=utf-8", true, true);
    assert_eq!(
        reply.body_text(&error.envelope()),
        "{\"error\":{\"code\":\"1\",\"text\":\"Ошибка добавления лида. Поле description длиннее 65535 символов\"},\"Error\":\"Ошибка добавления лида. Поле description длиннее 65535 символов\"}"
    );
}

#[test]
fn slashes_are_escaped_like_php_unless_turned_off() {
    let value = serde_json::json!({"site": "https://example.ru/a"});
    assert_eq!(
        Reply::new("text/html", true, true).body_text(&value),
        r#"{"site":"https:\/\/example.ru\/a"}"#
    );
    assert_eq!(
        Reply::new("text/html", false, true).body_text(&value),
        r#"{"site":"https://example.ru/a"}"#
    );
}

#[test]
fn non_ascii_outside_russian_is_escaped_like_the_real_handler() {
    let value = serde_json::json!({"title": "Анна Ёлкина — café №5 € 日本 😀", "city": "ёж"});
    assert_eq!(
        Reply::new("text/html", true, true).body_text(&value),
        r#"{"title":"Анна Ёлкина \u2014 caf\u00e9 \u21165 \u20ac \u65e5\u672c \ud83d\ude00","city":"ёж"}"#
    );
    assert_eq!(
        Reply::new("text/html", true, false).body_text(&value),
        r#"{"title":"Анна Ёлкина — café №5 € 日本 😀","city":"ёж"}"#
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

mod round_trip {
    use chrono::Utc;
    use proptest::prelude::*;

    use crate::lead::path::WriteContext;
    use crate::lead::Lead;
    use crate::mapping::Mapping;

    /// Wire fields that `add` takes and `info` gives back unchanged.
    const ECHOED: &[&str] = &[
        "title",
        "email",
        "phone",
        "company",
        "description",
        "ip",
        "country",
        "city",
        "partner",
        "site",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "utm_referrer",
    ];

    fn value() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[^\\x00-\\x1f\\s][^\\x00-\\x1f]{0,30}[^\\x00-\\x1f\\s]")
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a form sends in these fields, `info` returns as sent.
        #[test]
        fn add_fields_come_back_from_info_unchanged(
            values in proptest::collection::vec(proptest::option::of(value()), ECHOED.len())
        ) {
            let mapping = Mapping::built_in("salesman").unwrap();
            let sent: Vec<(&str, &str)> = ECHOED
                .iter()
                .zip(&values)
                .filter_map(|(name, value)| value.as_deref().map(|value| (*name, value)))
                .collect();
            let mut lead = Lead::new(Utc::now());
            mapping
                .decode_into(&mut lead, sent.iter().copied(), &[], &WriteContext::default())
                .unwrap();
            lead.id = Some(1);
            let record = mapping
                .record("info")
                .unwrap()
                .encode(&mapping, &lead, &Vec::new());
            for (name, value) in &sent {
                // `partner` is an integer column, as the real handler
                // writes it: a number sent comes back as a JSON number.
                let text = match &record[*name] {
                    serde_json::Value::Number(number) if *name == "partner" => number.to_string(),
                    other => other.as_str().unwrap_or_default().to_owned(),
                };
                prop_assert_eq!(text.as_str(), *value, "{}", name);
            }
            for name in ECHOED.iter().filter(|name| !sent.iter().any(|(sent, _)| sent == *name)) {
                prop_assert!(record[*name].is_null(), "{} should be null", name);
            }
        }
    }
}
