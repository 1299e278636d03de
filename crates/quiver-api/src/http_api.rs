//! The HTTP API listener: requests addressed to an HTTP API are recognised before any
//! other route and handed to the trigger ([`quiver_triggers::HttpApis`]).
//!
//! An API is addressed by host, `<api-id>.execute-api.<region>.<domain>[:port]`, or by
//! path, `/_api/<api-id>/...` (the rest, stage first for a named stage, is the path the
//! API sees). docs/wire.md §22.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quiver_model::http_api_route::is_resource_id;
use quiver_triggers::http_api::{ApiCall, MAX_API_PAYLOAD};

use crate::server::PeerAddr;
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
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let source_ip = parts
        .extensions
        .get::<PeerAddr>()
        .map(|p| p.0.ip().to_string())
        .unwrap_or_default();
    let protocol = match parts.version {
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        axum::http::Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    };
    let call = ApiCall {
        domain_name: format!("{api_id}{}", state.api_host_suffix()),
        api_id,
        method: parts.method.as_str().to_string(),
        raw_path,
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
        protocol: protocol.to_string(),
        source_ip,
    };
    let out = state.http_apis.handle(call).await;
    let mut resp = Response::new(Body::from(out.body));
    *resp.status_mut() = StatusCode::from_u16(out.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let h = resp.headers_mut();
    for (name, value) in out.headers {
        // Headers that HTTP cannot carry are dropped rather than failing the answer.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            h.append(n, v);
        }
    }
    if let Some(id) = out.request_id.and_then(|i| HeaderValue::from_str(&i).ok()) {
        h.insert("apigw-requestid", id);
    }
    resp
}
