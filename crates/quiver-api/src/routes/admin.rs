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

/// `GET /_quiver/runtimes`: the runtime catalogue resolved at start (`quiver runtime
/// ls`): each id, where it comes from, the version its interpreter reported, the
/// interpreter, and the host paths its sandboxes are shown read-only.
pub async fn runtimes(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list: Vec<serde_json::Value> = state
        .runtimes
        .iter()
        .map(|rt| {
            let prefix = match &rt.source {
                quiver_model::RuntimeSource::Prefix(p) => Some(p.display().to_string()),
                _ => None,
            };
            let mut v = serde_json::json!({
                "Id": rt.id,
                "Source": rt.source.label(),
                "Version": rt.version,
                "Interpreter": rt.interpreter.as_ref().map(|p| p.display().to_string()),
                "Prefix": prefix,
                "Binds": rt.binds().iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            });
            // Only image runtimes have it (docs/wire.md §17).
            if let Some(i) = rt.image_runtime() {
                v["Image"] = serde_json::json!({
                    "Digest": i.digest,
                    "Root": i.root.display().to_string(),
                    "Command": i.command,
                    "Os": i.os,
                });
                // Pulled images only: where from, pinned to the manifest (§19).
                if let Some(r) = &i.reference {
                    v["Image"]["Reference"] = serde_json::json!(r);
                }
            }
            v
        })
        .collect();
    Ok(Json(serde_json::json!({ "Runtimes": list })).into_response())
}

/// `GET /_quiver/mappings`: the running event source mappings with their lag
/// (ApproximateNumberOfMessages), batches, errors and pollers (`quiver ps --mappings`).
pub async fn mappings(State(state): State<AppState>) -> Result<Response, ApiError> {
    let rows = match &state.mappings {
        Some(m) => m.stats().await,
        None => Vec::new(),
    };
    Ok(Json(serde_json::json!({ "Mappings": rows })).into_response())
}
