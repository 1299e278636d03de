//! Values exchanged between the host and a [`crate::RuntimeApi`]; no IO here.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

/// Largest function response (and error body) accepted: 6 MiB + 100 bytes, as RIE
/// (`interop.MaxPayloadSize`). Larger bodies get 413 and the invoker `ResponseTooLarge`.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// Largest streamed response passed through to a [`ChunkSink`]: Lambda's 20 MB soft
/// limit for response streaming (docs/wire.md §23.3).
pub const MAX_STREAMED_BYTES: usize = 20 * 1024 * 1024;

/// Where the chunks of a streamed response go as they arrive (bounded: a slow reader
/// slows the runtime down instead of growing a buffer), with the stream's content type.
///
/// The content type travels beside the chunks because a function URL in
/// `RESPONSE_STREAM` mode answers differently by it: the
/// `application/vnd.awslambda.http-integration-response` type means the stream starts
/// with a JSON prelude (status, headers, cookies), any other is the body's own type
/// (docs/wire.md §21.6). It is set before the first chunk is sent, so a reader that has
/// received a chunk can read it.
#[derive(Debug, Clone)]
pub struct ChunkSink {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    content_type: Arc<OnceLock<String>>,
}

/// The reading end of a [`ChunkSink`].
#[derive(Debug)]
pub struct ChunkStream {
    pub chunks: tokio::sync::mpsc::Receiver<Bytes>,
    content_type: Arc<OnceLock<String>>,
}

impl ChunkSink {
    /// A sink holding at most `depth` chunks in flight, and its reader.
    pub fn channel(depth: usize) -> (ChunkSink, ChunkStream) {
        let (tx, chunks) = tokio::sync::mpsc::channel(depth);
        let content_type = Arc::new(OnceLock::new());
        (
            ChunkSink {
                tx,
                content_type: content_type.clone(),
            },
            ChunkStream {
                chunks,
                content_type,
            },
        )
    }

    /// Records the stream's content type (the first call wins).
    pub fn set_content_type(&self, content_type: &str) {
        let _ = self.content_type.set(content_type.to_string());
    }

    /// Sends one chunk; `Err` when the reader went away.
    pub async fn send(&self, chunk: Bytes) -> Result<(), Bytes> {
        self.tx.send(chunk).await.map_err(|e| e.0)
    }
}

impl ChunkStream {
    /// The stream's content type, once the runtime has opened the stream.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.get().map(String::as_str)
    }
}

/// Tunables of one Runtime API server.
#[derive(Debug, Clone)]
pub struct RuntimeApiConfig {
    /// Bodies of `/response`, `/error` and `/init/error` larger than this are refused with
    /// 413 and never buffered beyond it.
    pub max_response_bytes: usize,
    /// After the cap is hit the rest of an oversized body is read and discarded (so the
    /// runtime sees the 413 instead of a reset, and the real size can be reported) up to
    /// this many bytes in total; beyond that the connection is closed.
    pub max_drain_bytes: usize,
    /// Cap of a streamed response passed through to a [`ChunkSink`].
    pub max_streamed_bytes: usize,
}

impl Default for RuntimeApiConfig {
    fn default() -> Self {
        Self {
            max_response_bytes: MAX_RESPONSE_BYTES,
            max_drain_bytes: 64 * 1024 * 1024,
            max_streamed_bytes: MAX_STREAMED_BYTES,
        }
    }
}

/// One event handed to the runtime. Becomes the body and headers of a `/next` answer.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The request id (a UUID). It appears in URL paths, so only `[A-Za-z0-9_-]` is accepted.
    pub request_id: String,
    /// The event bytes, delivered as is; empty is delivered as `{}` (wire §2).
    pub payload: Bytes,
    /// Epoch milliseconds at which the invocation times out (`Lambda-Runtime-Deadline-Ms`).
    pub deadline_ms: u64,
    /// The ARN as invoked, with its qualifier if one was used.
    pub invoked_function_arn: String,
    /// `Root=1-…;Parent=…;Sampled=…`, copied by runtimes to `_X_AMZN_TRACE_ID`.
    pub trace_id: Option<String>,
    /// Client context as already-decoded JSON text (never the base64 form).
    pub client_context: Option<String>,
    /// `{"cognitoIdentityId":…,"cognitoIdentityPoolId":…}` JSON text.
    pub cognito_identity: Option<String>,
    /// When set, a streamed `/response` is passed through here chunk by chunk instead of
    /// being collected (the outcome is then `Response` with an empty body).
    pub chunks: Option<ChunkSink>,
}

/// How the runtime answered one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// `/response`: the function's result bytes, untouched.
    Response(Bytes),
    /// `/error`, or `/init/error` while this invocation was waiting for init to finish.
    /// `error_type` is the `Lambda-Runtime-Function-Error-Type` header, or else the body's
    /// `errorType` field (the Python RIC never sends the header).
    Error {
        /// The error JSON exactly as the runtime posted it.
        body: Bytes,
        /// The error type, if the runtime named one.
        error_type: Option<String>,
    },
    /// The runtime posted a response larger than [`RuntimeApiConfig::max_response_bytes`];
    /// the invoker should see `Function.ResponseSizeTooLarge`. `size` is the byte count
    /// read (exact unless the body exceeded `max_drain_bytes`).
    ResponseTooLarge {
        /// Bytes the runtime sent.
        size: usize,
    },
}

/// How the runtime's init ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// The runtime called `/next` for the first time.
    Ready,
    /// The runtime posted `/init/error`.
    InitError {
        /// The error JSON exactly as the runtime posted it.
        body: Bytes,
        /// Header `Lambda-Runtime-Function-Error-Type`, else the body's `errorType`.
        error_type: Option<String>,
    },
}
