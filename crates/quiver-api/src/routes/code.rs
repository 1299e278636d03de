//! The code download behind GetFunction's `Code.Location`: no signature needed, the
//! unguessable token is the credential, and it expires (see `state::CODE_URL_TTL`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub async fn download(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(sha) = state.code_urls.redeem(&token) else {
        return (
            StatusCode::FORBIDDEN,
            "This code URL is invalid or has expired; call GetFunction for a new one.\n",
        )
            .into_response();
    };
    match tokio::fs::read(state.code.blob_path(&sha)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        Err(e) => {
            tracing::error!(%sha, error = %e, "code blob unreadable");
            (
                StatusCode::NOT_FOUND,
                "The code package is no longer available.\n",
            )
                .into_response()
        }
    }
}
