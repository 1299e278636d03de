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
/// version's package counts, as in Lambda). Provisioned concurrency of functions
/// without a reservation comes out of the unreserved pool too (docs/wire.md §15).
pub async fn settings(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (usage, provisioned) = state
        .store(|s| Ok((s.usage()?, s.unreserved_provisioned_total()?)))
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?;
    let limit = state.account_concurrency;
    let unreserved = quiver_model::concurrency::unreserved(
        limit,
        usage.reserved_concurrency.saturating_add(provisioned),
    );
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
