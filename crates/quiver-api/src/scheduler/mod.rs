//! The EventBridge Scheduler API (restJson1, SigV4 service `scheduler`): schedules under
//! `/schedules/{Name}`, groups under `/schedule-groups/{Name}`, group tags under
//! `/tags/{ResourceArn}`. None of these paths is Lambda's (Lambda's all start with a
//! date), so they merge into the one router as apigatewayv2's `/v2/` routes do.
//! Scheduler's errors are `{"Message": ...}` with `x-amzn-ErrorType`, mapped here.
//! `wire.rs` parses and renders; the rules are `quiver-events`' (expressions) and
//! `quiver-model`'s `schedule`; the fires are `quiver-triggers`' ticker. docs/wire.md §25.

mod handlers;
mod wire;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// Every way a Scheduler request fails, as Scheduler names it.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// 400 `ValidationException`.
    #[error("{0}")]
    Validation(String),
    /// 404 `ResourceNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `ConflictException`.
    #[error("{0}")]
    Conflict(String),
    /// 500 `InternalServerException`: the store or a task failed.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::ApiError> for SchedulerError {
    fn from(e: crate::ApiError) -> Self {
        match e {
            crate::ApiError::TooLarge(m) => SchedulerError::Validation(m),
            other => SchedulerError::Internal(other.to_string()),
        }
    }
}

impl From<quiver_store::StoreError> for SchedulerError {
    fn from(e: quiver_store::StoreError) -> Self {
        SchedulerError::Internal(e.to_string())
    }
}

impl IntoResponse for SchedulerError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            SchedulerError::Validation(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
            SchedulerError::NotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            SchedulerError::Conflict(_) => (StatusCode::CONFLICT, "ConflictException"),
            SchedulerError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
            }
        };
        if matches!(self, SchedulerError::Internal(_)) {
            tracing::error!(error = %self, "scheduler request failed");
        }
        let body = serde_json::json!({ "Message": self.to_string() }).to_string();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
        resp
    }
}

/// The Scheduler routes.
pub fn routes() -> Router<AppState> {
    use handlers::*;
    Router::new()
        .route("/schedules", get(list_schedules))
        .route(
            "/schedules/{name}",
            get(get_schedule)
                .post(create_schedule)
                .put(update_schedule)
                .delete(delete_schedule),
        )
        .route("/schedule-groups", get(list_groups))
        .route(
            "/schedule-groups/{name}",
            get(get_group).post(create_group).delete(delete_group),
        )
        .route(
            "/tags/{arn}",
            get(list_tags).post(tag_resource).delete(untag_resource),
        )
}
