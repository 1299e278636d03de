//! The function URL listener: requests addressed to a URL are recognised before any
//! Lambda API route and handed to the trigger ([`quiver_triggers::FunctionUrls`]).
//!
//! A URL is addressed by host, `<url-id>.lambda-url.<region>.<domain>[:port]` (the
//! domain `--domain`, `localhost` by default, which resolves to the loopback on the
//! machine running Quiver), or by path, `/_url/<url-id>/...`, for clients that cannot
//! set `Host`. docs/wire.md §21.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quiver_model::function_url::is_url_id;
use quiver_triggers::function_url::{UrlCall, MAX_URL_PAYLOAD};
use quiver_triggers::UrlAnswer;

use crate::state::AppState;

/// The path prefix of path-based addressing.
pub const PATH_PREFIX: &str = "/_url/";

/// Where a request is addressed: the url id and the path the function sees.
fn addressed(state: &AppState, host: Option<&str>, path: &str) -> Option<(String, String)> {
    if let Some(host) = host {
        let host = host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        let host = host.to_ascii_lowercase();
        if let Some(id) = host.strip_suffix(&state.url_host_suffix()) {
            if is_url_id(id) {
                return Some((id.to_string(), path.to_string()));
            }
        }
    }
    let rest = path.strip_prefix(PATH_PREFIX)?;
    let (id, tail) = rest.split_once('/').map_or((rest, ""), |(i, t)| (i, t));
    is_url_id(id).then(|| (id.to_string(), format!("/{tail}")))
}

/// Runs before everything else: a URL request never reaches the Lambda routes, their
/// authentication or their request ids.
pub async fn dispatch(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().host().map(str::to_string));
    let Some((url_id, raw_path)) = addressed(&state, host.as_deref(), req.uri().path()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_URL_PAYLOAD + 1).await {
        Ok(b) if b.len() <= MAX_URL_PAYLOAD => b,
        _ => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [("content-type", "application/json")],
                r#"{"Message":"Request Entity Too Large"}"#,
            )
                .into_response()
        }
    };
    let meta = crate::http_front::request_meta(&parts);
    let call = UrlCall {
        domain_name: format!("{url_id}{}", state.url_host_suffix()),
        url_id,
        method: parts.method.as_str().to_string(),
        raw_path,
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        headers: meta.headers,
        body,
        protocol: meta.protocol,
        source_ip: meta.source_ip,
    };
    match state.function_urls.handle(call).await {
        UrlAnswer::Whole(out) => crate::http_front::answer(
            out.status,
            out.headers,
            out.body,
            out.request_id,
            "x-amzn-RequestId",
        ),
        UrlAnswer::Streamed(s) => crate::http_front::answer_with(
            s.status,
            s.headers,
            Body::new(crate::http_front::ChannelBody(s.body)),
            Some(s.request_id),
            "x-amzn-RequestId",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_model::{Partition, RuntimeCatalogue};
    use std::sync::Arc;

    fn state(dir: &std::path::Path) -> AppState {
        let store = Arc::new(quiver_store::SqliteStore::open_in_memory().unwrap());
        let code = quiver_store::CodeStore::open(dir).unwrap();
        AppState::new(
            store,
            code,
            Partition::new("us-east-1", "123456789012"),
            RuntimeCatalogue::new([]),
        )
    }

    #[test]
    fn host_and_path_addressing() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let id = "0123456789abcdef0123456789abcdef";
        let cases = [
            (
                Some(format!("{id}.lambda-url.us-east-1.localhost:9000")),
                "/a/b",
                Some("/a/b"),
            ),
            (
                Some(format!("{id}.LAMBDA-URL.us-east-1.localhost")),
                "/",
                Some("/"),
            ),
            (
                Some(format!("{id}.lambda-url.eu-west-1.localhost")),
                "/",
                None,
            ),
            (
                Some("127.0.0.1:9000".to_string()),
                &format!("/_url/{id}/x?y") as &str,
                Some("/x?y"),
            ),
            (
                Some("127.0.0.1:9000".to_string()),
                &format!("/_url/{id}") as &str,
                Some("/"),
            ),
            (Some("127.0.0.1:9000".to_string()), "/_url/short/x", None),
            (
                Some("127.0.0.1:9000".to_string()),
                "/2015-03-31/functions",
                None,
            ),
        ];
        for (host, path, want) in cases {
            let got = addressed(&s, host.as_deref(), path);
            assert_eq!(
                got.as_ref().map(|(_, p)| p.as_str()),
                want,
                "{host:?} {path}"
            );
            if let Some((got_id, _)) = got {
                assert_eq!(got_id, id);
            }
        }
    }

    #[test]
    fn function_url_keeps_the_public_port() {
        let dir = tempfile::tempdir().unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        let s = state(dir.path()).with_public_url("http://127.0.0.1:41234");
        assert_eq!(
            s.function_url(id),
            format!("http://{id}.lambda-url.us-east-1.localhost:41234/")
        );
        let s = state(dir.path())
            .with_public_url("https://quiver.example")
            .with_url_domain("dev.example");
        assert_eq!(
            s.function_url(id),
            format!("https://{id}.lambda-url.us-east-1.dev.example/")
        );
    }
}
