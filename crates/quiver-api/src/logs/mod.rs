//! CloudWatch Logs-compatible reads (JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`).

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Handles one CloudWatch Logs operation.
pub async fn handle(_state: AppState, op: String, _headers: HeaderMap, _body: Body) -> Response {
    crate::error::ApiError::UnknownOperation(format!("Logs_20140328.{op}")).into_response()
}
