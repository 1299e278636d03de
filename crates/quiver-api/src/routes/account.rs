//! GetAccountSettings.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::limits::{TOTAL_CODE_SIZE, UNZIPPED_MAX_BYTES, ZIP_MAX_BYTES};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Every figure is the server's own: the concurrency limit the engine enforces, what
/// reservations leave of it, and the functions and code the store holds (every
/// version's package counts, as in Lambda).
pub async fn settings(State(state): State<AppState>) -> Result<Response, ApiError> {
    let usage = state
        .store(|s| s.usage())
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?;
    let limit = state.account_concurrency;
    let unreserved = quiver_model::concurrency::unreserved(limit, usage.reserved_concurrency);
    Ok(Json(json!({
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": UNZIPPED_MAX_BYTES,
            "CodeSizeZipped": ZIP_MAX_BYTES,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {
            "TotalCodeSize": usage.total_code_size,
            "FunctionCount": usage.function_count,
        },
    }))
    .into_response())
}
