//! The one place where failures become SalesMan's wire errors. The real
//! handler answers HTTP 200 with `{"result":"Error","error":{"code":"400",
//! "text":"…"}}` (codes are strings), except a failed `add`, which answers
//! `{"error":{"code":"1","text":"Ошибка добавления лида. …"},"Error":"…"}`.
//! Codes 400, 401, 402, 404 and 405 and their texts are the real ones; the
//! others are ours, chosen in the same style for failures PHP never reports.

use serde_json::{json, Value};
use thiserror::Error;

use crate::core::CoreError;
use crate::http::ParamsError;
use crate::lead::LeadError;
use crate::mapping::{DecodeError, Mapping};

#[derive(Debug, Error)]
pub enum SalesmanError {
    #[error("Не верный API key")]
    BadApiKey,
    #[error("Неизвестный пользователь")]
    UnknownUser,
    #[error("Не известный метод")]
    UnknownAction,
    #[error("Не найдено")]
    NotFound,
    #[error("Отсутствуют параметры")]
    MissingParameters,
    #[error("Неверный параметр {name}: {expected}")]
    BadParameter { name: String, expected: String },
    #[error("Ошибка добавления лида. {0}")]
    AddFailed(String),
    #[error("{}", request_text(.0))]
    Request(#[from] ParamsError),
    #[error("Хранилище недоступно, повторите запрос позже")]
    Unavailable,
    #[error("Превышено время ожидания ответа, повторите запрос позже")]
    Timeout,
    #[error("Внутренняя ошибка, повторите запрос позже")]
    Internal,
}

fn request_text(error: &ParamsError) -> String {
    match error {
        ParamsError::TooLarge { limit } => {
            format!("Слишком большой запрос: больше {limit} байт")
        }
        ParamsError::TooMany { limit } => {
            format!("Слишком много параметров: больше {limit}")
        }
        ParamsError::InvalidUtf8 { field } => {
            format!("Параметр {field} не в кодировке UTF-8")
        }
        ParamsError::InvalidText { field, charset } => {
            format!("Параметр {field} не в кодировке {charset}")
        }
        ParamsError::UnknownCharset { label } => {
            format!("Кодировка {label} не поддерживается")
        }
        ParamsError::MalformedJson { reason } => format!("Некорректный JSON: {reason}"),
        ParamsError::JsonNotObject => "Тело JSON должно быть объектом".into(),
        ParamsError::MalformedMultipart { reason } => {
            format!("Некорректный multipart/form-data: {reason}")
        }
        ParamsError::Incomplete => "Тело запроса короче заявленной длины".into(),
        ParamsError::HeadTooLarge => "Слишком длинный адрес или заголовки запроса".into(),
    }
}

impl SalesmanError {
    /// Whether the caller's request or this side failed (metrics).
    pub fn outcome(&self) -> crate::meters::Outcome {
        match self {
            SalesmanError::Unavailable | SalesmanError::Timeout | SalesmanError::Internal => {
                crate::meters::Outcome::Failed
            }
            _ => crate::meters::Outcome::Refused,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            SalesmanError::BadApiKey => "400",
            SalesmanError::UnknownUser => "401",
            SalesmanError::UnknownAction => "402",
            SalesmanError::NotFound => "404",
            SalesmanError::MissingParameters | SalesmanError::BadParameter { .. } => "405",
            SalesmanError::AddFailed(_) => "1",
            SalesmanError::Request(
                ParamsError::TooLarge { .. }
                | ParamsError::TooMany { .. }
                | ParamsError::HeadTooLarge,
            ) => "413",
            // A body cut short leaves parameters missing: the client's
            // fault, answered as SalesMan answers missing parameters.
            SalesmanError::Request(ParamsError::Incomplete) => "405",
            SalesmanError::Request(_) => "415",
            SalesmanError::Internal => "500",
            SalesmanError::Unavailable => "503",
            SalesmanError::Timeout => "504",
        }
    }

    pub fn envelope(&self) -> Value {
        let text = self.to_string();
        match self {
            SalesmanError::AddFailed(_) => json!({
                "error": {"code": self.code(), "text": text},
                "Error": text,
            }),
            _ => json!({
                "result": "Error",
                "error": {"code": self.code(), "text": text},
            }),
        }
    }

    pub fn bad_parameter(name: &str, expected: &str) -> SalesmanError {
        SalesmanError::BadParameter {
            name: name.into(),
            expected: expected.into(),
        }
    }

    /// A lead the model refused, said with the caller's own field names.
    pub fn invalid_lead(mapping: &Mapping, error: &LeadError) -> SalesmanError {
        let wire = |field: &str| mapping.wire_name(field).to_owned();
        SalesmanError::AddFailed(match error {
            LeadError::TooLong { field, max } => {
                format!("Поле {} длиннее {max} символов", wire(field))
            }
            LeadError::ContactRequired => "Нужен email или телефон".into(),
            LeadError::Required { field } => format!("Не заполнено поле {}", wire(field)),
            LeadError::InvalidValue { field, .. } => {
                format!("Неверное значение поля {}", wire(field))
            }
            LeadError::Empty { .. } => "Отсутствуют параметры".into(),
            LeadError::LockedByOther => "Лид заблокирован другим сотрудником".into(),
            LeadError::AlreadyCompleted => "Лид уже обработан".into(),
            LeadError::NotPermitted => "Нет прав на этот лид".into(),
        })
    }

    pub fn undecodable(mapping: &Mapping, error: &DecodeError) -> SalesmanError {
        match error {
            DecodeError::Field { wire_field, source } => match source {
                LeadError::InvalidValue { .. } => {
                    SalesmanError::AddFailed(format!("Неверное значение поля {wire_field}"))
                }
                other => SalesmanError::invalid_lead(mapping, other),
            },
            DecodeError::UnknownValue { wire_field } => {
                SalesmanError::AddFailed(format!("Неизвестное значение поля {wire_field}"))
            }
        }
    }

    /// A core failure while adding: the lead was not stored.
    pub fn from_add(mapping: &Mapping, error: CoreError) -> SalesmanError {
        match error {
            CoreError::Invalid(error) => SalesmanError::invalid_lead(mapping, &error),
            CoreError::Store(error) => {
                tracing::error!(%error, "lead not stored");
                SalesmanError::AddFailed("Хранилище недоступно, повторите запрос позже".into())
            }
        }
    }
}

impl From<CoreError> for SalesmanError {
    /// Core failures outside `add` (reads): the store is the only thing that fails.
    fn from(error: CoreError) -> Self {
        tracing::error!(%error, "store read failed");
        SalesmanError::Unavailable
    }
}
