//! SQS-compatible queues (JSON 1.0 protocol, `X-Amz-Target: AmazonSQS.<Op>`).

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Handles one SQS operation.
pub async fn handle(_state: AppState, op: String, _headers: HeaderMap, _body: Body) -> Response {
    crate::error::ApiError::UnknownOperation(format!("AmazonSQS.{op}")).into_response()
}
