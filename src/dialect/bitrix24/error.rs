//! The one place where failures become Bitrix24's wire errors:
//! `{"error":"CODE","error_description":"text"}` with the HTTP status a portal
//! uses. CRM business errors carry an empty code and HTTP 400, as Bitrix24
//! sends them; SDKs (fast-bitrix24) only notice errors with a 4xx/5xx status.

use http::StatusCode;
use serde_json::{json, Value};
use thiserror::Error;

use crate::core::{AccessError, CoreError};
use crate::http::ParamsError;
use crate::lead::LeadError;
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum Bitrix24Error {
    #[error("Wrong authorization data")]
    NoAuth,
    #[error("The access token provided is invalid.")]
    InvalidToken,
    #[error("Method not found!")]
    MethodNotFound,
    #[error("ID is not defined or invalid.")]
    InvalidId,
    #[error("Not found")]
    NotFound,
    /// Outside the caller's role: the seed's own text, with an empty code.
    #[error("Access denied.")]
    AccessDenied,
    /// `crm.lead.add` without `fields`, or with something else than an
    /// object there.
    #[error("Parameter 'fields' must be array.")]
    FieldsNotArray,
    /// A field value the CRM refuses (ERROR_CORE, as crm.status.add reports).
    #[error("{0}")]
    Invalid(String),
    /// A parameter of the call itself that cannot be used (filter, order, ...).
    #[error("{0}")]
    BadArgument(String),
    #[error("{}", request_text(.0))]
    Request(#[from] ParamsError),
    #[error("Max batch length exceeded")]
    BatchTooLong,
    #[error("Method is not allowed for batch usage")]
    BatchMethodNotAllowed,
    #[error("Too many requests")]
    QueryLimitExceeded,
    #[error("Internal server error")]
    Internal,
    #[error("Server is temporarily unavailable, retry later")]
    Unavailable,
    #[error("Request took too long, retry later")]
    Timeout,
}

fn request_text(error: &ParamsError) -> String {
    match error {
        ParamsError::TooLarge { limit } => format!("Request body is larger than {limit} bytes"),
        other => other.to_string(),
    }
}

impl Bitrix24Error {
    /// Whether the caller's request or this side failed (metrics).
    pub fn outcome(&self) -> crate::meters::Outcome {
        match self {
            Bitrix24Error::Internal | Bitrix24Error::Unavailable | Bitrix24Error::Timeout => {
                crate::meters::Outcome::Failed
            }
            _ => crate::meters::Outcome::Refused,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Bitrix24Error::NoAuth | Bitrix24Error::InvalidToken => StatusCode::UNAUTHORIZED,
            Bitrix24Error::MethodNotFound => StatusCode::NOT_FOUND,
            Bitrix24Error::InvalidId
            | Bitrix24Error::NotFound
            | Bitrix24Error::AccessDenied
            | Bitrix24Error::FieldsNotArray
            | Bitrix24Error::Invalid(_)
            | Bitrix24Error::BadArgument(_)
            | Bitrix24Error::BatchTooLong => StatusCode::BAD_REQUEST,
            Bitrix24Error::Request(ParamsError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Bitrix24Error::Request(_) => StatusCode::BAD_REQUEST,
            Bitrix24Error::BatchMethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Bitrix24Error::QueryLimitExceeded | Bitrix24Error::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Bitrix24Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Bitrix24Error::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Bitrix24Error::NoAuth => "NO_AUTH_FOUND",
            Bitrix24Error::InvalidToken => "invalid_token",
            Bitrix24Error::MethodNotFound => "ERROR_METHOD_NOT_FOUND",
            Bitrix24Error::InvalidId
            | Bitrix24Error::NotFound
            | Bitrix24Error::AccessDenied
            | Bitrix24Error::FieldsNotArray => "",
            Bitrix24Error::Invalid(_) => "ERROR_CORE",
            Bitrix24Error::BadArgument(_) => "INVALID_ARG_VALUE",
            Bitrix24Error::Request(_) => "INVALID_REQUEST",
            Bitrix24Error::BatchTooLong => "ERROR_BATCH_LENGTH_EXCEEDED",
            Bitrix24Error::BatchMethodNotAllowed => "ERROR_BATCH_METHOD_NOT_ALLOWED",
            Bitrix24Error::QueryLimitExceeded => "QUERY_LIMIT_EXCEEDED",
            Bitrix24Error::Internal => "INTERNAL_SERVER_ERROR",
            Bitrix24Error::Unavailable => "OVERLOAD_LIMIT",
            Bitrix24Error::Timeout => "ERROR_UNEXPECTED_ANSWER",
        }
    }

    /// The error object, as a response body and as a batch `result_error` entry.
    pub fn body(&self) -> Value {
        json!({"error": self.code(), "error_description": self.to_string()})
    }

    pub fn from_lead(error: &LeadError) -> Bitrix24Error {
        Bitrix24Error::Invalid(error.to_string())
    }
}

impl From<StoreError> for Bitrix24Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Rejected(error) => Bitrix24Error::from_lead(&error),
            StoreError::Closed => Bitrix24Error::Unavailable,
            other => {
                tracing::error!(error = %other, "store failure on a Bitrix24 call");
                Bitrix24Error::Internal
            }
        }
    }
}

impl From<AccessError> for Bitrix24Error {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::NotFound => Bitrix24Error::NotFound,
            AccessError::Forbidden => Bitrix24Error::AccessDenied,
            AccessError::Core(error) => error.into(),
        }
    }
}

impl From<CoreError> for Bitrix24Error {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Invalid(error) => Bitrix24Error::from_lead(&error),
            CoreError::Store(error) => error.into(),
        }
    }
}
