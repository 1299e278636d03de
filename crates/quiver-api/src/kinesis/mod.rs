//! Kinesis Data Streams-compatible API (JSON 1.1, `X-Amz-Target: Kinesis_20131202.<Op>`,
//! docs/wire.md §29). This module is the wire: it parses requests and renders answers
//! and errors in Kinesis's shape (`{"__type": …, "message": …}`); the rules and the
//! storage are quiver-streams'.

mod ops;
mod records;
#[cfg(test)]
mod tests;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_streams::StreamError;
use serde_json::{json, Value};

use crate::state::AppState;

/// Largest request body: PutRecords' 5 MiB of data, base64 (4/3) plus the JSON around it.
const MAX_BODY: u64 = 8 * 1024 * 1024;

/// An error as a Kinesis client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl KinesisError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let status = if code == "InternalFailure" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        KinesisError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidArgumentException", message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// A domain error in Kinesis's words (`account` completes its not-found messages).
    pub fn from_stream(e: StreamError, account: &str) -> Self {
        match e {
            StreamError::StreamNotFound(n) => Self::new(
                "ResourceNotFoundException",
                format!("Stream {n} under account {account} not found."),
            ),
            StreamError::ShardNotFound { stream, shard } => Self::new(
                "ResourceNotFoundException",
                format!("Shard {shard} in stream {stream} under account {account} does not exist"),
            ),
            StreamError::InUse(n) => Self::new(
                "ResourceInUseException",
                format!("Stream {n} under account {account} already exists."),
            ),
            StreamError::Invalid(m) if m.starts_with("1 validation error") => Self::validation(m),
            StreamError::Invalid(m) => Self::invalid(m),
            StreamError::ExpiredIterator => Self::new(
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created more than 300000 milliseconds ago.",
            ),
            StreamError::Storage(m) => {
                tracing::error!("stream store: {m}");
                Self::new(
                    "InternalFailure",
                    "The stream store failed; see the Quiver server log.",
                )
            }
        }
    }
}

impl IntoResponse for KinesisError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "__type": self.code, "message": self.message }),
        )
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

/// Handles one Kinesis operation.
pub async fn handle(state: AppState, op: String, headers: HeaderMap, body: Body) -> Response {
    match run(state, &op, &headers, body).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: AppState,
    op: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, KinesisError> {
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.contains("cbor") {
        // The Java SDK prefers CBOR; it sends JSON with AWS_CBOR_DISABLE=1.
        return Err(KinesisError::new(
            "SerializationException",
            "CBOR (application/x-amz-cbor-1.1) is not supported; send application/x-amz-json-1.1 (Java SDK: set AWS_CBOR_DISABLE=1).",
        ));
    }
    let Some(streams) = state.streams.clone() else {
        return Err(KinesisError::new(
            "InternalFailure",
            "This server keeps no streams.",
        ));
    };
    let bytes = crate::body::read_limited(headers, body, MAX_BODY, op)
        .await
        .map_err(|e| KinesisError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "ValidationException",
            message: e.to_string(),
        })?;
    let req: Value = if bytes.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            KinesisError::new("SerializationException", format!("Invalid JSON: {e}"))
        })?
    };
    if !req.is_object() {
        return Err(KinesisError::new(
            "SerializationException",
            "The request body must be a JSON object",
        ));
    }
    let cx = ops::Cx {
        streams: &streams,
        partition: &state.partition,
    };
    match op {
        "PutRecord" => records::put_record(&cx, &req).await,
        "PutRecords" => records::put_records(&cx, &req).await,
        "GetShardIterator" => records::get_shard_iterator(&cx, &req).await,
        "GetRecords" => records::get_records(&cx, &req).await,
        _ => ops::dispatch(&cx, op, &req).await,
    }
    .map_err(|e| e.into_kinesis(&state.partition.account))
}

/// An operation's failure: already on the wire, or a domain error still to word.
pub enum OpError {
    Wire(KinesisError),
    Stream(StreamError),
}

impl OpError {
    fn into_kinesis(self, account: &str) -> KinesisError {
        match self {
            OpError::Wire(e) => e,
            OpError::Stream(e) => KinesisError::from_stream(e, account),
        }
    }
}

impl From<KinesisError> for OpError {
    fn from(e: KinesisError) -> Self {
        OpError::Wire(e)
    }
}

impl From<StreamError> for OpError {
    fn from(e: StreamError) -> Self {
        OpError::Stream(e)
    }
}
