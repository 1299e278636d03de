//! `POST /` with `X-Amz-Target: <Service>.<Operation>`: the AWS JSON protocols
//! (SQS JSON 1.0, CloudWatch Logs JSON 1.1) share the endpoint with Lambda's REST API,
//! like a region endpoint (docs/design.md §2). This file only dispatches by prefix.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

/// Dispatches on the `X-Amz-Target` prefix.
pub async fn dispatch(
    State(state): State<AppState>,
    caller: Option<Extension<crate::auth::Caller>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if let Some(op) = target.strip_prefix("AmazonSQS.") {
        return Ok(crate::sqs::handle(state, op.to_string(), headers, body).await);
    }
    if let Some(op) = target.strip_prefix("Logs_20140328.") {
        return Ok(crate::logs::handle(state, op.to_string(), headers, body).await);
    }
    // The AWS query protocol (no X-Amz-Target, a form body): SNS, by its signing scope.
    if target.is_empty() && caller.is_some_and(|Extension(c)| c.service == "sns") {
        return Ok(crate::sns::handle(state, headers, body).await);
    }
    if let Some(op) = target.strip_prefix("AWSEvents.") {
        return Ok(crate::events::handle(state, op.to_string(), headers, body).await);
    }
    if let Some(op) = target.strip_prefix("Kinesis_20131202.") {
        return Ok(crate::kinesis::handle(state, op.to_string(), headers, body).await);
    }
    Err(ApiError::UnknownOperation(if target.is_empty() {
        "POST / without X-Amz-Target".into()
    } else {
        target
    }))
}
