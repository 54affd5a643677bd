//! The one place where failures become LiveTex's wire errors:
//! `{"code":<status>,"message":"<reason phrase>"}` with that HTTP status,
//! and for invalid input `"errors":{"<parameter>":["invalid"|"required"]}`
//! (status 422). Clients seen in the wild read `message` and the status.

use http::StatusCode;
use serde_json::{json, Map, Value};
use thiserror::Error;

use crate::core::{AccessError, CoreError};
use crate::http::ParamsError;
use crate::lead::LeadError;
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum LivetexError {
    #[error("Unauthorized")]
    Unauthorized,
    #[error("Forbidden")]
    Forbidden,
    #[error("Not Found")]
    NotFound,
    /// Parameters and what is wrong with each ("invalid" or "required").
    #[error("Unprocessable Entity")]
    Invalid(Vec<(String, &'static str)>),
    #[error("Request Entity Too Large")]
    TooLarge,
    #[error("Internal Server Error")]
    Internal,
    #[error("Service Unavailable")]
    Unavailable,
    #[error("Gateway Timeout")]
    Timeout,
}

impl LivetexError {
    /// Whether the caller's request or this side failed (metrics).
    pub fn outcome(&self) -> crate::meters::Outcome {
        match self {
            LivetexError::Internal | LivetexError::Unavailable | LivetexError::Timeout => {
                crate::meters::Outcome::Failed
            }
            _ => crate::meters::Outcome::Refused,
        }
    }

    pub fn invalid(parameter: &str) -> LivetexError {
        LivetexError::Invalid(vec![(parameter.to_owned(), "invalid")])
    }

    pub fn required(parameter: &str) -> LivetexError {
        LivetexError::Invalid(vec![(parameter.to_owned(), "required")])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            LivetexError::Unauthorized => StatusCode::UNAUTHORIZED,
            LivetexError::Forbidden => StatusCode::FORBIDDEN,
            LivetexError::NotFound => StatusCode::NOT_FOUND,
            LivetexError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            LivetexError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            LivetexError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            LivetexError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            LivetexError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn body(&self) -> Value {
        let mut body = json!({"code": self.status().as_u16(), "message": self.to_string()});
        if let LivetexError::Invalid(problems) = self {
            let mut errors = Map::new();
            for (parameter, problem) in problems {
                errors.insert(parameter.clone(), json!([problem]));
            }
            body["errors"] = Value::Object(errors);
        }
        body
    }

    /// A lead the model refused, named by the caller's parameters.
    pub fn from_lead(error: &LeadError, wire_name: impl Fn(&str) -> String) -> LivetexError {
        match error {
            LeadError::ContactRequired => LivetexError::Invalid(vec![
                ("email".into(), "required"),
                ("phone".into(), "required"),
            ]),
            LeadError::Required { field } => {
                LivetexError::Invalid(vec![(wire_name(field), "required")])
            }
            LeadError::TooLong { field, .. } | LeadError::InvalidValue { field, .. } => {
                LivetexError::Invalid(vec![(wire_name(field), "invalid")])
            }
            LeadError::Empty { .. } => LivetexError::required("name"),
            LeadError::LockedByOther | LeadError::AlreadyCompleted | LeadError::NotPermitted => {
                LivetexError::Forbidden
            }
        }
    }
}

impl From<ParamsError> for LivetexError {
    fn from(error: ParamsError) -> Self {
        match error {
            ParamsError::TooLarge { .. } => LivetexError::TooLarge,
            ParamsError::InvalidUtf8 { field } | ParamsError::InvalidText { field, .. } => {
                LivetexError::invalid(&field)
            }
            _ => LivetexError::invalid("body"),
        }
    }
}

impl From<StoreError> for LivetexError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Closed => LivetexError::Unavailable,
            StoreError::Rejected(error) => LivetexError::from_lead(&error, str::to_owned),
            other => {
                tracing::error!(error = %other, "store failure on a LiveTex call");
                LivetexError::Internal
            }
        }
    }
}

impl From<CoreError> for LivetexError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Invalid(error) => LivetexError::from_lead(&error, str::to_owned),
            CoreError::Store(error) => error.into(),
        }
    }
}

impl From<AccessError> for LivetexError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::NotFound => LivetexError::NotFound,
            AccessError::Forbidden => LivetexError::Forbidden,
            AccessError::Core(error) => error.into(),
        }
    }
}
