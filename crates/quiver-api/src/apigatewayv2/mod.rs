//! The apigatewayv2 control plane for HTTP APIs (restJson1 under `/v2/`, SigV4 scope
//! `apigateway`): Apis, Routes, Integrations, Stages, Deployments and tags, each in its
//! own file over the shared parsing and rendering of `wire.rs`.
//! Its errors have their own shape (`{"message": ...}` with `x-amzn-ErrorType`), so this
//! module maps them itself instead of through Lambda's [`crate::ApiError`].
//! Rules are `quiver-model`'s `http_api_route`; the value stored is `http_api`'s.
//! docs/wire.md §22.

mod apis;
mod integrations;
mod parts;
mod routes;
mod stages;
mod wire;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use quiver_store::StoreError;

use crate::state::AppState;

pub use apis::*;
pub use integrations::*;
pub use routes::*;
pub use stages::*;

use parts::{get_all, get_one};
use quiver_model::http_api::{HttpDeployment, HttpIntegration, HttpRoute, HttpStage};

/// Every way an apigatewayv2 request fails, as API Gateway names it.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// 400 `BadRequestException`.
    #[error("{0}")]
    BadRequest(String),
    /// 404 `NotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `ConflictException`.
    #[error("{0}")]
    Conflict(String),
    /// 500: the store or a task failed.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => {
                GatewayError::NotFound("Invalid API identifier specified".into())
            }
            StoreError::Conflict(m) => GatewayError::Conflict(m),
            other => GatewayError::Internal(other.to_string()),
        }
    }
}

impl From<crate::ApiError> for GatewayError {
    fn from(e: crate::ApiError) -> Self {
        GatewayError::Internal(e.to_string())
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            GatewayError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequestException"),
            GatewayError::NotFound(_) => (StatusCode::NOT_FOUND, "NotFoundException"),
            GatewayError::Conflict(_) => (StatusCode::CONFLICT, "ConflictException"),
            GatewayError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerErrorException",
            ),
        };
        if matches!(self, GatewayError::Internal(_)) {
            tracing::error!(error = %self, "apigatewayv2 request failed");
        }
        let body = serde_json::json!({ "message": self.to_string() }).to_string();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
        resp
    }
}

/// The `/v2/apis` and `/v2/tags` routes; Lambda's paths never start with `/v2/`, so
/// they merge into the one router under the same SigV4 layer.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/apis", get(get_apis).post(create_api))
        .route(
            "/v2/apis/{api}",
            get(get_api).patch(update_api).delete(delete_api),
        )
        .route("/v2/apis/{api}/cors", delete(delete_cors))
        .route(
            "/v2/apis/{api}/routes",
            get(get_all::<HttpRoute>).post(create_route),
        )
        .route(
            "/v2/apis/{api}/routes/{route}",
            get(get_one::<HttpRoute>)
                .patch(update_route)
                .delete(delete_route),
        )
        .route(
            "/v2/apis/{api}/integrations",
            get(get_all::<HttpIntegration>).post(create_integration),
        )
        .route(
            "/v2/apis/{api}/integrations/{integration}",
            get(get_one::<HttpIntegration>)
                .patch(update_integration)
                .delete(delete_integration),
        )
        .route(
            "/v2/apis/{api}/stages",
            get(get_all::<HttpStage>).post(create_stage),
        )
        .route(
            "/v2/apis/{api}/stages/{stage}",
            get(get_one::<HttpStage>)
                .patch(update_stage)
                .delete(delete_stage),
        )
        .route(
            "/v2/apis/{api}/deployments",
            get(get_all::<HttpDeployment>).post(create_deployment),
        )
        .route(
            "/v2/apis/{api}/deployments/{deployment}",
            get(get_one::<HttpDeployment>)
                .patch(update_deployment)
                .delete(delete_deployment),
        )
        .route(
            "/v2/tags/{arn}",
            get(get_tags).post(tag_resource).delete(untag_resource),
        )
}
