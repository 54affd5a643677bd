//! The one place where failures become UIS errors: a JSON-RPC error object
//! whose `data` carries the stable `mnemonic` (codes are not unique), the
//! offending `field` (dots for nesting), the caller's `value` as sent,
//! template `params`, and `metadata`. Always HTTP 200.

use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{json, Map, Value};

use crate::core::CoreError;
use crate::store::StoreError;

/// Boxed: errors are rare and carry a map, results stay small.
#[derive(Debug, Clone, PartialEq)]
pub struct UisError(Box<Detail>);

#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub code: i32,
    pub message: String,
    pub mnemonic: &'static str,
    pub field: Option<String>,
    pub value: Option<Value>,
    pub params: Map<String, Value>,
}

impl std::ops::Deref for UisError {
    type Target = Detail;
    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl std::ops::DerefMut for UisError {
    fn deref_mut(&mut self) -> &mut Detail {
        &mut self.0
    }
}

impl std::fmt::Display for UisError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} ({})", self.message, self.mnemonic)
    }
}

impl UisError {
    fn new(code: i32, mnemonic: &'static str, message: impl Into<String>) -> UisError {
        UisError(Box::new(Detail {
            code,
            message: message.into(),
            mnemonic,
            field: None,
            value: None,
            params: Map::new(),
        }))
    }

    pub fn at(mut self, field: impl Into<String>, value: Option<&Value>) -> UisError {
        self.field = Some(field.into());
        self.value = value.cloned();
        self
    }

    pub fn with_param(mut self, name: &str, value: Value) -> UisError {
        self.params.insert(name.to_owned(), value);
        self
    }

    pub fn parse_error() -> UisError {
        UisError::new(
            -32700,
            "parse_error",
            "Invalid JSON was received by the server.",
        )
    }
    pub fn invalid_request() -> UisError {
        UisError::new(
            -32600,
            "invalid_request",
            "Invalid Request The JSON sent is not a valid Request object",
        )
    }
    pub fn method_not_found() -> UisError {
        UisError::new(
            -32601,
            "method_not_found",
            "The method does not exist / is not available",
        )
    }
    pub fn data_type(field: &str, value: Option<&Value>) -> UisError {
        UisError::new(-32602, "data_type_error", "Data supplied is of wrong type").at(field, value)
    }
    pub fn required(field: &str) -> UisError {
        UisError::new(
            -32602,
            "required_parameter_missed",
            "The required parameter has been missed",
        )
        .at(field, None)
    }
    pub fn invalid_value(field: &str, value: Option<&Value>) -> UisError {
        UisError::new(-32602, "invalid_parameter_value", "Invalid parameter value").at(field, value)
    }
    pub fn unexpected(field: &str, value: Option<&Value>) -> UisError {
        UisError::new(
            -32602,
            "unexpected_parameters",
            "Unexpected method parameter(s)",
        )
        .at(field, value)
    }
    pub fn filter_prohibited(value: &Value) -> UisError {
        UisError::new(
            -32602,
            "filter_prohibited",
            "Filter by parameter is prohibited",
        )
        .at("filter.field", Some(value))
    }
    pub fn sort_prohibited(value: &Value) -> UisError {
        UisError::new(-32602, "sort_prohibited", "Sort by parameter is prohibited")
            .at("sort.field", Some(value))
    }
    pub fn date_interval() -> UisError {
        UisError::new(
            -32602,
            "date_interval_limit_reached",
            "Max value of requested date interval is 3 months",
        )
        .at("date_till", None)
    }
    pub fn data_limit(field: &str, max: usize) -> UisError {
        UisError::new(
            -32602,
            "data_limit_exceeded",
            format!("Data limit exceeded: at most {max} items"),
        )
        .at(field, None)
        .with_param("max", max.into())
    }
    pub fn internal() -> UisError {
        UisError::new(
            -32603,
            "internal_error",
            "Internal error, contact the support service",
        )
    }
    pub fn token_invalid(value: Option<&Value>) -> UisError {
        UisError::new(-32001, "access_token_invalid", "Access token is invalid")
            .at("access_token", value)
    }
    pub fn token_expired(value: Option<&Value>) -> UisError {
        UisError::new(
            -32001,
            "access_token_expired",
            "Access token has been expired",
        )
        .at("access_token", value)
    }
    pub fn auth_error() -> UisError {
        UisError::new(-32001, "auth_error", "Login or password is wrong")
    }
    pub fn forbidden() -> UisError {
        UisError::new(-32003, "forbidden", "Permission denied")
    }
    pub fn limit_exceeded(kind: &str, max: u64) -> UisError {
        UisError::new(
            -32029,
            "limit_exceeded",
            format!(
                "Limit per {kind} has been exceeded. Value of current limit per {kind} is {max}"
            ),
        )
        .with_param("limit_type", kind.into())
        .with_param("limit_max_value", max.into())
    }
    pub fn batch_not_supported() -> UisError {
        UisError::new(
            -32099,
            "batch_operations_not_supported",
            "Batch operations not supported",
        )
    }
    pub fn notifications_not_supported() -> UisError {
        UisError::new(
            -32099,
            "notifications_not_supported",
            "Notifications not supported",
        )
    }

    pub fn data(&self, metadata: &Value) -> Value {
        let mut data =
            json!({"mnemonic": self.mnemonic, "params": self.params, "metadata": metadata});
        if let Some(field) = &self.field {
            data["field"] = Value::String(field.clone());
        }
        if let Some(value) = &self.value {
            // UIS echoes the caller's input as sent; non-strings as their JSON text.
            data["value"] = match value {
                Value::String(text) => Value::String(text.clone()),
                other => Value::String(other.to_string()),
            };
        }
        data
    }

    pub fn into_rpc(self, metadata: &Value) -> ErrorObjectOwned {
        let data = self.data(metadata);
        ErrorObjectOwned::owned(self.0.code, self.0.message, Some(data))
    }

    /// A whole response for errors answered before jsonrpsee sees the call.
    pub fn response(&self, id: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": self.code, "message": self.message, "data": self.data(&json!({}))}})
    }
}

impl From<StoreError> for UisError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure on a UIS call");
        UisError::internal()
    }
}

impl From<CoreError> for UisError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Invalid(error) => {
                UisError::invalid_value(error.field().unwrap_or("offline_messages"), None)
            }
            CoreError::Store(error) => error.into(),
        }
    }
}
