//! Values exchanged between the host and a [`crate::RuntimeApi`]; no IO here.

use bytes::Bytes;

/// Largest function response (and error body) accepted: 6 MiB + 100 bytes, as RIE
/// (`interop.MaxPayloadSize`). Larger bodies get 413 and the invoker `ResponseTooLarge`.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// Largest streamed response passed through to a [`ChunkSink`]: Lambda's 20 MB soft
/// limit for response streaming (docs/wire.md §23.3).
pub const MAX_STREAMED_BYTES: usize = 20 * 1024 * 1024;

/// Where the chunks of a streamed response go as they arrive (bounded: a slow reader
/// slows the runtime down instead of growing a buffer).
pub type ChunkSink = tokio::sync::mpsc::Sender<Bytes>;

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
