//! The HTTP API listener: requests addressed to an HTTP API are recognised before any
//! other route and handed to the trigger ([`quiver_triggers::HttpApis`]).
//!
//! An API is addressed by host, `<api-id>.execute-api.<region>.<domain>[:port]`, or by
//! path, `/_api/<api-id>/...` (the rest, stage first for a named stage, is the path the
//! API sees). docs/wire.md §22.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quiver_model::http_api_route::is_resource_id;
use quiver_triggers::http_api::{ApiCall, MAX_API_PAYLOAD};

use crate::state::AppState;

/// The path prefix of path-based addressing.
pub const PATH_PREFIX: &str = "/_api/";

/// The api id a request addresses and the path the API sees.
fn addressed(state: &AppState, host: Option<&str>, path: &str) -> Option<(String, String)> {
    if let Some(host) = host {
        let bare = match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        let bare = bare.to_ascii_lowercase();
        if let Some(id) = bare.strip_suffix(&state.api_host_suffix()) {
            if is_resource_id(id) {
                return Some((id.to_string(), path.to_string()));
            }
        }
    }
    let rest = path.strip_prefix(PATH_PREFIX)?;
    let (id, tail) = rest.split_once('/').map_or((rest, ""), |(i, t)| (i, t));
    is_resource_id(id).then(|| (id.to_string(), format!("/{tail}")))
}

/// Runs outermost: an API request never reaches the Lambda routes or their SigV4 check.
pub async fn dispatch(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().host().map(str::to_string));
    let Some((api_id, raw_path)) = addressed(&state, host.as_deref(), req.uri().path()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_API_PAYLOAD + 1).await {
        Ok(b) if b.len() <= MAX_API_PAYLOAD => b,
        _ => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [("content-type", "application/json")],
                r#"{"message":"Request Entity Too Large"}"#,
            )
                .into_response()
        }
    };
    let meta = crate::http_front::request_meta(&parts);
    let call = ApiCall {
        domain_name: format!("{api_id}{}", state.api_host_suffix()),
        api_id,
        method: parts.method.as_str().to_string(),
        raw_path,
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        headers: meta.headers,
        body,
        protocol: meta.protocol,
        source_ip: meta.source_ip,
    };
    let out = state.http_apis.handle(call).await;
    crate::http_front::answer(
        out.status,
        out.headers,
        out.body,
        out.request_id,
        "apigw-requestid",
    )
}
