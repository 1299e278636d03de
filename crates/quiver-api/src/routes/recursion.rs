//! PutFunctionRecursionConfig and GetFunctionRecursionConfig (docs/wire.md §14).
//!
//! The setting belongs to the function as a whole, so both refuse qualified names, as
//! the other per-function settings do. It is stored and reported only: honouring
//! `Terminate` (stopping a loop after 16 hops) is a later slice, see
//! [`quiver_model::recursion`].

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::RecursiveLoop;
use serde::Deserialize;
use serde_json::json;

use super::{FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::state::AppState;

/// A one-member body: small.
const BODY_LIMIT: u64 = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    recursive_loop: Option<String>,
}

fn render(value: RecursiveLoop) -> Response {
    Json(json!({ "RecursiveLoop": value.as_str() })).into_response()
}

pub async fn put(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_LIMIT, "PutFunctionRecursionConfig").await?;
    crate::members::check(&bytes, &crate::members::PUT_FUNCTION_RECURSION_CONFIG)?;
    let input: PutInput = parse_json(&bytes)?;
    let value = RecursiveLoop::parse(input.recursive_loop.as_deref())?;
    let target = Target::function_only(&state, &raw)?;
    let name = target.name.clone();
    state
        .store(move |s| s.put_recursive_loop(&name, value))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    tracing::info!(function = %target.name, recursive_loop = value.as_str(), "recursion config set");
    Ok(render(value))
}

pub async fn get(State(state): State<AppState>, FnPath(raw): FnPath) -> Result<Response, ApiError> {
    let target = Target::function_only(&state, &raw)?;
    let name = target.name.clone();
    let value = state
        .store(move |s| s.recursive_loop(&name))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    Ok(render(value))
}
