//! PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency
//! (docs/wire.md §12).
//!
//! Reserved concurrency belongs to the function as a whole (every version), so these
//! refuse qualified names as Lambda does. The account rule (what a reservation may
//! leave unreserved) is the model's; the store checks it inside the write's
//! transaction. The engine enforces reservations from the next invocation on: the
//! invoker sees the store's change counter move and reads them again.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::state::AppState;

/// The body of a PutFunctionConcurrency request: small, like every config body.
const BODY_LIMIT: u64 = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    reserved_concurrent_executions: Option<i64>,
}

pub async fn put(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_LIMIT, "PutFunctionConcurrency").await?;
    crate::members::check(&bytes, &crate::members::PUT_FUNCTION_CONCURRENCY)?;
    let input: PutInput = parse_json(&bytes)?;
    let n = quiver_model::concurrency::validate_reserved(input.reserved_concurrent_executions)?;
    let target = Target::function_only(&state, &raw)?;
    let limit = state.account_concurrency;
    let name = target.name.clone();
    let total = state
        .store(move |s| {
            s.put_reserved_concurrency(&name, Some(n), &|others| {
                quiver_model::concurrency::check_reservation(limit, others, n)
            })
        })
        .await?
        // Lambda names `$LATEST` in this operation's not-found message.
        .map_err(|e| ApiError::from_store(e, &format!("{}:$LATEST", target.arn)))?;
    tracing::info!(function = %target.name, reserved = n, total_reserved = total, "reserved concurrency set");
    Ok(Json(json!({ "ReservedConcurrentExecutions": n })).into_response())
}

pub async fn get(State(state): State<AppState>, FnPath(raw): FnPath) -> Result<Response, ApiError> {
    let target = Target::function_only(&state, &raw)?;
    let name = target.name.clone();
    let reserved = state
        .store(move |s| s.reserved_concurrency(&name))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    Ok(match reserved {
        Some(n) => Json(json!({ "ReservedConcurrentExecutions": n })),
        None => Json(json!({})),
    }
    .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
) -> Result<Response, ApiError> {
    let target = Target::function_only(&state, &raw)?;
    let name = target.name.clone();
    let total = state
        .store(move |s| s.put_reserved_concurrency(&name, None, &|_| Ok(())))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    tracing::info!(function = %target.name, total_reserved = total, "reserved concurrency removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
