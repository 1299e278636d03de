//! InvokeWithResponseStream
//! (`POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations`).
//!
//! The answer is 200 with an `application/vnd.amazon.eventstream` body: `PayloadChunk`
//! events with the function's output, then one `InvokeComplete` that carries the error
//! (if any) and the log tail (docs/wire.md §23). A function failure is never an HTTP
//! error here either: it is `ErrorCode`/`ErrorDetails` in `InvokeComplete`. A function
//! that does not stream is answered with its whole result as one chunk.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use quiver_model::eventstream::{self, InvokeComplete};
use quiver_triggers::{Invocation, Source};
use tokio::sync::mpsc;

use super::invoke::{chain_of, client_context, header, invoke_error, wants_tail, MAX_SYNC_PAYLOAD};
use super::{FnPath, Target};
use crate::body::read_limited;
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// The model's `ResponseStreamingInvocationType`: no `Event` for streaming.
fn is_dry_run(headers: &HeaderMap) -> Result<bool, ApiError> {
    match header(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => Ok(false),
        Some("DryRun") => Ok(true),
        Some(other) => Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]"
        ))),
    }
}

/// `ErrorCode` and `ErrorDetails` of a failed invocation: the error JSON's `errorType`
/// and `errorMessage` (the whole body when it is not such an object).
fn error_parts(function_error: Option<&str>, payload: &[u8]) -> (String, String) {
    let v: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    let field = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(|t| t.as_str())
            .map(str::to_string)
    };
    let code = field("errorType")
        .or_else(|| function_error.map(str::to_string))
        .unwrap_or_else(|| "Unhandled".into());
    let details =
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
    (code, details)
}

pub async fn invoke_with_response_stream(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::namespaced(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let dry_run = is_dry_run(&headers)?;
    let tail = wants_tail(&headers)?;
    let context = client_context(&headers)?;
    let chain = chain_of(&headers);
    let payload =
        read_limited(&headers, body, MAX_SYNC_PAYLOAD, "InvokeWithResponseStream").await?;
    let payload = if payload.iter().all(u8::is_ascii_whitespace) {
        bytes::Bytes::from_static(b"{}")
    } else {
        payload
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(ApiError::InvalidRequestContent(format!(
            "Could not parse request body into json: Could not parse payload into json: {e}"
        )));
    }
    let function = target.function_target();
    if dry_run {
        state
            .invoker
            .resolve(&function)
            .await
            .map_err(|e| invoke_error(e, &target))?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let call = Invocation {
        target: function,
        invoked_arn: target.arn.clone(),
        payload,
        request_id: request_id.clone(),
        client_context: context,
        want_log_tail: tail,
        source: Source::Api,
        chain,
    };
    // The function's chunks come in on `chunks` while it runs; the answer (status and
    // headers) waits for the first chunk or the end, so a refusal (not found, throttled)
    // is still an HTTP error and the executed version is known.
    let (chunk_tx, stream) = quiver_engine::ChunkSink::channel(16);
    let mut chunk_rx = stream.chunks;
    let invoker = state.invoker.clone();
    let mut run = tokio::spawn(async move { invoker.invoke_streaming(call, Some(chunk_tx)).await });
    let version = state
        .invoker
        .resolve(&target.function_target())
        .await
        .ok()
        .map(|r| r.spec.version.clone());
    let first = tokio::select! {
        biased;
        r = &mut run => Err(r),
        c = chunk_rx.recv() => match c {
            Some(c) => Ok(c),
            None => Err((&mut run).await),
        },
    };
    let first = match first {
        Ok(c) => c,
        Err(r) => {
            // Ended before streaming anything: refusals are still HTTP errors.
            let result = r
                .map_err(|e| ApiError::Service(format!("invocation task failed: {e}")))?
                .map_err(|e| invoke_error(e, &target))?;
            let mut frames = Vec::new();
            while let Ok(c) = chunk_rx.try_recv() {
                frames.extend(eventstream::payload_chunk(&c));
            }
            frames.extend(closing_frames(&result));
            return Ok(answer(
                Body::from(frames),
                &request_id,
                Some(&result.executed_version),
            ));
        }
    };
    let (frame_tx, frame_rx) = mpsc::channel::<bytes::Bytes>(16);
    tokio::spawn(async move {
        let mut next = Some(first);
        while let Some(c) = next {
            if frame_tx
                .send(eventstream::payload_chunk(&c).into())
                .await
                .is_err()
            {
                break; // the caller went away; the invocation still runs to its end
            }
            next = chunk_rx.recv().await;
        }
        drop(chunk_rx);
        let end = match run.await {
            Ok(Ok(result)) => closing_frames(&result),
            Ok(Err(e)) => eventstream::invoke_complete(&InvokeComplete {
                error_code: Some("ServiceException".into()),
                error_details: Some(e.to_string()),
                log_result: None,
            }),
            Err(e) => eventstream::invoke_complete(&InvokeComplete {
                error_code: Some("ServiceException".into()),
                error_details: Some(format!("invocation task failed: {e}")),
                log_result: None,
            }),
        };
        let _ = frame_tx.send(end.into()).await;
    });
    Ok(answer(
        Body::new(FrameBody(frame_rx)),
        &request_id,
        version.as_deref(),
    ))
}

/// A response body fed by a channel of already-framed messages.
struct FrameBody(mpsc::Receiver<bytes::Bytes>);

impl hyper::body::Body for FrameBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|c| c.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// 200 with the event-stream content type and Lambda's headers.
fn answer(body: Body, request_id: &str, version: Option<&str>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("X-Amz-Executed-Version", v);
    }
    resp
}

/// What follows the streamed chunks: the collected payload of a function that did not
/// stream (one chunk), then `InvokeComplete`.
fn closing_frames(result: &quiver_engine::InvokeResult) -> Vec<u8> {
    let mut complete = InvokeComplete {
        log_result: result
            .log_tail
            .as_ref()
            .map(|t| base64::engine::general_purpose::STANDARD.encode(t.as_bytes())),
        ..Default::default()
    };
    let mut frames = Vec::new();
    if result.function_error.is_some() {
        let (code, details) = error_parts(result.function_error.as_deref(), &result.payload);
        complete.error_code = Some(code);
        complete.error_details = Some(details);
    } else if !result.payload.is_empty() {
        frames.extend(eventstream::payload_chunk(&result.payload));
    }
    frames.extend(eventstream::invoke_complete(&complete));
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_parts_from_error_json() {
        let (c, d) = error_parts(
            Some("Unhandled"),
            br#"{"errorType":"Error","errorMessage":"boom"}"#,
        );
        assert_eq!((c.as_str(), d.as_str()), ("Error", "boom"));
        let (c, d) = error_parts(Some("Unhandled"), b"not json");
        assert_eq!((c.as_str(), d.as_str()), ("Unhandled", "not json"));
    }
}
