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

/// Lambda's refusal of a version or alias (even `$LATEST`) for per-function settings.
const UNQUALIFIED_ONLY: &str = "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.";

/// A one-member body: small.
const BODY_LIMIT: u64 = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    recursive_loop: Option<String>,
}

/// The function the path names, which must be unqualified.
fn function(state: &AppState, raw: &str) -> Result<Target, ApiError> {
    let target = Target::parse(state, raw, None)?;
    if target.qualifier.is_some() {
        return Err(ApiError::InvalidParameter(UNQUALIFIED_ONLY.into()));
    }
    Ok(target)
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
    let target = function(&state, &raw)?;
    let name = target.name.clone();
    state
        .store(move |s| s.put_recursive_loop(&name, value))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    tracing::info!(function = %target.name, recursive_loop = value.as_str(), "recursion config set");
    Ok(render(value))
}

pub async fn get(State(state): State<AppState>, FnPath(raw): FnPath) -> Result<Response, ApiError> {
    let target = function(&state, &raw)?;
    let name = target.name.clone();
    let value = state
        .store(move |s| s.recursive_loop(&name))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    Ok(render(value))
}
