//! Operator endpoints under `/_quiver/` (signed like every AWS call; read by the CLI).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /_quiver/environments`: every execution environment and its state, and how many
/// pre-made empty sandboxes are ready (`quiver ps`).
pub async fn environments(State(state): State<AppState>) -> Result<Response, ApiError> {
    let envs = state.engine.as_ref().map(|e| e.environments()).unwrap_or_default();
    let premade = state.engine.as_ref().map_or(0, |e| e.premade_ready());
    Ok(Json(serde_json::json!({ "Environments": envs, "PremadeSandboxes": premade })).into_response())
}
