//! What the two HTTP fronts that run functions (function URLs, HTTP APIs) share: the
//! plain values a trigger needs from a request, and a trigger's answer as a response.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use tokio::sync::mpsc;

use crate::server::PeerAddr;

/// A request's headers (names lower-cased by the HTTP stack, values lossily decoded),
/// the peer's address and the protocol, as the events report them.
pub(crate) struct RequestMeta {
    pub headers: Vec<(String, String)>,
    pub source_ip: String,
    pub protocol: String,
}

pub(crate) fn request_meta(parts: &Parts) -> RequestMeta {
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
    RequestMeta {
        headers,
        source_ip,
        protocol: protocol.to_string(),
    }
}

/// A trigger's answer as a response; `request_id` goes in `id_header` when present.
pub(crate) fn answer(
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    request_id: Option<String>,
    id_header: &'static str,
) -> Response {
    answer_with(status, headers, Body::from(body), request_id, id_header)
}

/// A response body fed by a channel as a function streams; an `Err` aborts the
/// response (the client sees a body cut short, never a complete-looking one).
pub(crate) struct ChannelBody(pub mpsc::Receiver<Result<Bytes, quiver_triggers::StreamCut>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = quiver_triggers::StreamCut;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|c| c.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// As [`answer`], with any body (a streamed one).
pub(crate) fn answer_with(
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    request_id: Option<String>,
    id_header: &'static str,
) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let h = resp.headers_mut();
    for (name, value) in headers {
        // Headers that HTTP cannot carry are dropped rather than failing the answer.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            h.append(n, v);
        }
    }
    if let Some(id) = request_id.and_then(|i| HeaderValue::from_str(&i).ok()) {
        h.insert(id_header, id);
    }
    resp
}
