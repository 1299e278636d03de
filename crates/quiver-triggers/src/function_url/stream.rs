//! A function URL in `RESPONSE_STREAM` mode: the function's output goes to the client
//! as it is written (docs/wire.md §21.6).
//!
//! The answer's head waits for the first bytes: until then a refusal (throttled, not
//! found) or a failure is still an ordinary answer (429, 404, 502). After it, the body
//! is passed through chunk by chunk, and a failure mid-stream can only cut the stream
//! short (the client sees a body that ends without its last chunk), as Lambda does.

use bytes::{Bytes, BytesMut};
use quiver_engine::{ChunkSink, ChunkStream, InvokeResult};
use quiver_model::function_url::FunctionUrlConfig;
use quiver_model::url_stream::{self, StreamHead, HTTP_INTEGRATION};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{FunctionUrls, UrlAnswer, UrlCall, UrlOutcome};
use crate::TriggerError;

/// Chunks in flight between the function and the client (a slow client slows the
/// function's writes down instead of growing a buffer).
const DEPTH: usize = 16;

/// Why a streamed body ended early; the HTTP server aborts the response on it.
#[derive(Debug, thiserror::Error)]
#[error("the function's response stream ended with an error")]
pub struct StreamCut;

/// A streamed answer: its head, and its body as it comes.
#[derive(Debug)]
pub struct StreamedAnswer {
    pub status: u16,
    /// In order; `set-cookie` may repeat.
    pub headers: Vec<(String, String)>,
    pub request_id: String,
    pub body: mpsc::Receiver<Result<Bytes, StreamCut>>,
}

type Run = JoinHandle<Result<InvokeResult, TriggerError>>;

impl FunctionUrls {
    pub(super) async fn invoke_streamed(
        &self,
        config: &FunctionUrlConfig,
        call: &UrlCall,
    ) -> UrlAnswer {
        let (invocation, request_id) = match self.invocation(config, call) {
            Ok(i) => i,
            Err(refused) => return refused.into(),
        };
        let (sink, mut stream) = ChunkSink::channel(DEPTH);
        let invoker = self.invoker.clone();
        let mut run: Run =
            tokio::spawn(async move { invoker.invoke_streaming(invocation, Some(sink)).await });
        let first = tokio::select! {
            biased;
            c = stream.chunks.recv() => c,
            r = &mut run => return ended(config, &request_id, r, &mut stream).into(),
        };
        let Some(first) = first else {
            // The sink was dropped without a chunk: the invocation is ending.
            let r = (&mut run).await;
            return ended(config, &request_id, r, &mut stream).into();
        };
        let content_type = stream
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let (head, rest) = if content_type.eq_ignore_ascii_case(HTTP_INTEGRATION) {
            match read_prelude(first, &mut stream).await {
                Ok(found) => found,
                Err(why) => {
                    // Nothing was sent yet: the malformed head is a 502, and the function
                    // is left to finish on its own (its output has nowhere to go).
                    tokio::spawn(drain(stream, run));
                    return FunctionUrls::failed(config, &request_id, &why).into();
                }
            }
        } else {
            (StreamHead::plain(&content_type), first)
        };
        let (tx, body) = mpsc::channel(DEPTH);
        tokio::spawn(pass_through(rest, stream, run, tx, request_id.clone()));
        let mut headers = head.headers;
        headers.extend(head.cookies.into_iter().map(|c| ("set-cookie".into(), c)));
        UrlAnswer::Streamed(StreamedAnswer {
            status: head.status,
            headers,
            request_id,
            body,
        })
    }
}

/// The answer of an invocation that ended before streaming anything: a refusal, a
/// failure (502), or a function that did not stream, whose result is the body as it is
/// (a `RESPONSE_STREAM` URL does not read a payload 2.0 response description).
fn ended(
    config: &FunctionUrlConfig,
    request_id: &str,
    r: Result<Result<InvokeResult, TriggerError>, tokio::task::JoinError>,
    stream: &mut ChunkStream,
) -> UrlOutcome {
    let result = match r {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => return FunctionUrls::not_run(config, request_id, e),
        Err(e) => {
            return FunctionUrls::not_run(
                config,
                request_id,
                TriggerError::Platform(format!("invocation task failed: {e}")),
            )
        }
    };
    if result.function_error.is_some() {
        return FunctionUrls::failed(config, request_id, "the function failed");
    }
    // Chunks written just before the end are still in the channel.
    let mut body = BytesMut::new();
    while let Ok(c) = stream.chunks.try_recv() {
        body.extend_from_slice(&c);
    }
    let (content_type, body) = if body.is_empty() {
        ("application/json".to_string(), result.payload)
    } else {
        let ct = stream
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        (ct, body.freeze())
    };
    if content_type.eq_ignore_ascii_case(HTTP_INTEGRATION) {
        return match url_stream::split_prelude(&body) {
            Ok(Some((head, start))) => {
                let mut headers = head.headers;
                headers.extend(head.cookies.into_iter().map(|c| ("set-cookie".into(), c)));
                UrlOutcome {
                    status: head.status,
                    headers,
                    body: body.slice(start..),
                    request_id: Some(request_id.to_string()),
                }
            }
            Ok(None) => FunctionUrls::failed(config, request_id, "the prelude never ended"),
            Err(e) => FunctionUrls::failed(config, request_id, &e.to_string()),
        };
    }
    UrlOutcome {
        status: 200,
        headers: vec![("content-type".into(), content_type)],
        body,
        request_id: Some(request_id.to_string()),
    }
}

/// Collects chunks until the prelude's delimiter: the head, and the body bytes that
/// came after it in the same chunk.
async fn read_prelude(
    first: Bytes,
    stream: &mut ChunkStream,
) -> Result<(StreamHead, Bytes), String> {
    let mut buf = BytesMut::from(&first[..]);
    loop {
        match url_stream::split_prelude(&buf) {
            Ok(Some((head, start))) => return Ok((head, buf.freeze().slice(start..))),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        match stream.chunks.recv().await {
            Some(c) => buf.extend_from_slice(&c),
            None => return Err("the stream ended inside its prelude".into()),
        }
    }
}

/// Passes the body on, then cuts it short if the invocation failed after all.
async fn pass_through(
    rest: Bytes,
    mut stream: ChunkStream,
    run: Run,
    tx: mpsc::Sender<Result<Bytes, StreamCut>>,
    request_id: String,
) {
    let mut open = rest.is_empty() || tx.send(Ok(rest)).await.is_ok();
    while let Some(c) = stream.chunks.recv().await {
        // A client that went away is not followed: the function runs to its end.
        if open && tx.send(Ok(c)).await.is_err() {
            open = false;
        }
    }
    let failed = match run.await {
        Ok(Ok(result)) => result.function_error.is_some(),
        Ok(Err(e)) => {
            tracing::warn!(%request_id, "streamed function URL invocation failed: {e}");
            true
        }
        Err(e) => {
            tracing::warn!(%request_id, "streamed function URL invocation task failed: {e}");
            true
        }
    };
    if failed && open {
        tracing::info!(%request_id, "function URL stream cut short: the function failed mid-stream");
        let _ = tx.send(Err(StreamCut)).await;
    }
}

/// Reads and drops what a function still writes after its answer was refused.
async fn drain(mut stream: ChunkStream, run: Run) {
    while stream.chunks.recv().await.is_some() {}
    let _ = run.await;
}
