//! GetAccountSettings.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::limits::{
    CONCURRENT_EXECUTIONS, TOTAL_CODE_SIZE, UNZIPPED_MAX_BYTES, ZIP_MAX_BYTES,
};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn settings(State(state): State<AppState>) -> Result<Response, ApiError> {
    let usage = state
        .store(|s| s.usage())
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?;
    Ok(Json(json!({
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": UNZIPPED_MAX_BYTES,
            "CodeSizeZipped": ZIP_MAX_BYTES,
            "ConcurrentExecutions": CONCURRENT_EXECUTIONS,
            "UnreservedConcurrentExecutions": CONCURRENT_EXECUTIONS.saturating_sub(usage.reserved_concurrency),
        },
        "AccountUsage": {
            "TotalCodeSize": usage.total_code_size,
            "FunctionCount": usage.function_count,
        },
    }))
    .into_response())
}
