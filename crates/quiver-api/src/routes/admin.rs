//! Operator endpoints under `/_quiver/` (signed like every AWS call; read by the CLI).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /_quiver/environments`: every execution environment and its state, and how many
/// pre-made empty sandboxes are ready (`quiver ps`).
pub async fn environments(State(state): State<AppState>) -> Result<Response, ApiError> {
    let envs = state
        .engine
        .as_ref()
        .map(|e| e.environments())
        .unwrap_or_default();
    let premade = state.engine.as_ref().map_or(0, |e| e.premade_ready());
    let mut body = serde_json::json!({ "Environments": envs, "PremadeSandboxes": premade });
    if let Some(invoker) = &state.async_invoker {
        // Pending asynchronous invocations (the SQS API shows user queues' depths).
        if let Ok(d) = invoker.depth().await {
            body["AsyncEvents"] = serde_json::json!({"Visible": d.visible, "InFlight": d.in_flight, "Delayed": d.delayed});
        }
    }
    Ok(Json(body).into_response())
}
