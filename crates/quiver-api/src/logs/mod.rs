//! CloudWatch Logs-compatible API (JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`).
//!
//! This module parses and answers; the data and its rules live in `quiver-logs`.
//! Errors are CloudWatch Logs' own: HTTP 400 with `{"__type": …, "message": …}`
//! (botocore reads `__type`), never Lambda's shape.

mod ops;
mod subscriptions;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_logs::LogError;
use serde_json::Value;

use crate::state::AppState;

/// Largest request body a Logs operation takes.
const MAX_BODY: u64 = 1_048_576;
/// PutLogEvents' body: its 1,048,576-byte batch limit counts messages plus 26 bytes
/// each, which the JSON around them (and escaping) exceeds, so the body may be larger
/// and the batch rule is checked on the parsed events (quiver-logs' `put`).
const MAX_PUT_BODY: u64 = 8 * 1_048_576;

/// An error as a CloudWatch Logs client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl LogsApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        LogsApiError {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameterException",
            message: message.into(),
        }
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        LogsApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<LogError> for LogsApiError {
    fn from(e: LogError) -> Self {
        let msg = e.to_string();
        match e {
            LogError::GroupNotFound | LogError::StreamNotFound => {
                LogsApiError::new(StatusCode::BAD_REQUEST, "ResourceNotFoundException", msg)
            }
            LogError::FilterNotFound => {
                LogsApiError::new(StatusCode::BAD_REQUEST, "ResourceNotFoundException", msg)
            }
            LogError::LimitExceeded(m) => {
                LogsApiError::new(StatusCode::BAD_REQUEST, "LimitExceededException", m)
            }
            LogError::GroupExists | LogError::StreamExists => LogsApiError::new(
                StatusCode::BAD_REQUEST,
                "ResourceAlreadyExistsException",
                msg,
            ),
            LogError::InvalidParameter(m) => LogsApiError::invalid(m),
            other => {
                tracing::error!("log store: {other}");
                LogsApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceUnavailableException",
                    "The log store failed; see the Quiver server log.",
                )
            }
        }
    }
}

impl IntoResponse for LogsApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.code, "message": self.message });
        json_response(self.status, &body)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

/// Handles one CloudWatch Logs operation.
pub async fn handle(state: AppState, op: String, headers: HeaderMap, body: Body) -> Response {
    match run(state, &op, &headers, body).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: AppState,
    op: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, LogsApiError> {
    let Some(store) = state.logs.clone() else {
        return Err(LogsApiError::new(
            StatusCode::BAD_REQUEST,
            "ServiceUnavailableException",
            "This Quiver server keeps no logs.",
        ));
    };
    let max = if op == "PutLogEvents" {
        MAX_PUT_BODY
    } else {
        MAX_BODY
    };
    let bytes = crate::body::read_limited(headers, body, max, op)
        .await
        .map_err(|e| {
            LogsApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "InvalidParameterException",
                e.to_string(),
            )
        })?;
    let req: Value = if bytes.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            LogsApiError::new(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                format!("Invalid JSON: {e}"),
            )
        })?
    };
    if !req.is_object() {
        return Err(LogsApiError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "The request body must be a JSON object",
        ));
    }
    if op == "PutSubscriptionFilter" {
        subscriptions::check_destination(&state, &req).await?;
    }
    let partition = state.partition.clone();
    let op = op.to_string();
    tokio::task::spawn_blocking(move || ops::dispatch(&store, &partition, &op, &req))
        .await
        .map_err(|e| {
            LogsApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceUnavailableException",
                format!("task failed: {e}"),
            )
        })?
}
