//! SQS-compatible queues (JSON 1.0 protocol, `X-Amz-Target: AmazonSQS.<Op>`).
//!
//! - [`error`]: SQS's error wire format (the one place SQS errors are shaped).
//! - [`attrs`]: queue attributes ⇄ `QueueConfig`.
//! - [`queues`]: queue operations; [`messages`]: message operations and batches.
//! - [`md5`]: the checksums clients verify; `fifo`: FIFO send parameters.
//!
//! Durability, visibility and long polling are `quiver-queue`'s; this module parses,
//! validates every input, and shapes answers.

pub mod attrs;
pub mod error;
mod fifo;
pub mod messages;
mod msg_attrs;
pub mod queues;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_model::Partition;
use quiver_queue::Queues;
use serde::de::DeserializeOwned;

use crate::state::AppState;
pub use error::SqsError;

/// Whole request bodies (a batch of ten 256 KiB messages is refused by size before this).
pub const MAX_REQUEST: u64 = 1 << 20;

/// What every handler needs.
pub struct Ctx {
    pub queues: Queues,
    pub partition: Partition,
    /// `http://<Host>/<account>`: queue URLs name the endpoint the client used.
    pub base: String,
}

impl Ctx {
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// The queue name a `QueueUrl` names.
    pub fn name_of(&self, url: Option<&str>) -> Result<String, SqsError> {
        name_from_url(&self.partition.account, url)
    }
}

/// The queue name a `QueueUrl` names (any host: clients may reach us by several names;
/// the account must be ours).
pub fn name_from_url(account: &str, url: Option<&str>) -> Result<String, SqsError> {
    let url = url.ok_or_else(|| SqsError::missing_parameter("QueueUrl"))?;
    let path = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map_or("", |j| &url[i + 3 + j..]),
        None => url,
    };
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [a, name] if *a == account && quiver_queue::is_valid_queue_name(name) => {
            Ok(name.to_string())
        }
        [_, _] => Err(SqsError::queue_does_not_exist()),
        _ => Err(SqsError::invalid_address(url)),
    }
}

/// Parses a JSON body (empty = `{}`); unknown members are ignored, as botocore may send newer ones.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SqsError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| SqsError::serialization(format!("Could not parse request body: {e}")))
}

fn ok(v: serde_json::Value) -> Response {
    let mut r = (StatusCode::OK, v.to_string()).into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    r
}

fn host(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
        })
        .unwrap_or("localhost")
        .to_string()
}

/// Handles one SQS operation.
pub async fn handle(state: AppState, op: String, headers: HeaderMap, body: Body) -> Response {
    match run(&state, &op, &headers, body).await {
        Ok(v) => ok(v),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    op: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Value, SqsError> {
    let queues = state
        .queues
        .clone()
        .ok_or_else(|| SqsError::unsupported("Queues are not enabled on this server."))?;
    let bytes = crate::body::read_limited(headers, body, MAX_REQUEST, op)
        .await
        .map_err(|e| match e {
            crate::ApiError::TooLarge(_) => SqsError::too_large(MAX_REQUEST),
            other => SqsError::serialization(other.to_string()),
        })?;
    let ctx = Ctx {
        queues: (*queues).clone(),
        partition: state.partition.clone(),
        base: format!("http://{}/{}", host(headers), state.partition.account),
    };
    let b = &bytes[..];
    match op {
        "CreateQueue" => queues::create(&ctx, parse(b)?).await,
        "GetQueueUrl" => queues::get_url(&ctx, parse(b)?).await,
        "ListQueues" => queues::list(&ctx, parse(b)?).await,
        "GetQueueAttributes" => queues::get_attributes(&ctx, parse(b)?).await,
        "SetQueueAttributes" => queues::set_attributes(&ctx, parse(b)?).await,
        "PurgeQueue" => queues::purge(&ctx, parse(b)?).await,
        "DeleteQueue" => queues::delete(&ctx, parse(b)?).await,
        "ListDeadLetterSourceQueues" => queues::dead_letter_sources(&ctx, parse(b)?).await,
        "SendMessage" => messages::send(&ctx, parse(b)?).await,
        "SendMessageBatch" => messages::send_batch(&ctx, parse(b)?).await,
        "ReceiveMessage" => messages::receive(&ctx, parse(b)?).await,
        "DeleteMessage" => messages::delete(&ctx, parse(b)?).await,
        "DeleteMessageBatch" => messages::delete_batch(&ctx, parse(b)?).await,
        "ChangeMessageVisibility" => messages::change_visibility(&ctx, parse(b)?).await,
        "ChangeMessageVisibilityBatch" => messages::change_visibility_batch(&ctx, parse(b)?).await,
        _ => Err(SqsError::unsupported(format!(
            "The operation AmazonSQS.{op} is not supported by this server."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_resolve_to_names() {
        let a = "000000000000";
        assert_eq!(
            name_from_url(a, Some("http://other:9/000000000000/q")).unwrap(),
            "q"
        );
        assert_eq!(
            name_from_url(a, Some("/000000000000/q-1_")).unwrap(),
            "q-1_"
        );
        assert_eq!(
            name_from_url(a, Some("http://h/111111111111/q"))
                .unwrap_err()
                .code,
            "QueueDoesNotExist"
        );
        assert_eq!(
            name_from_url(a, Some("http://h/000000000000/q.fifo")).unwrap(),
            "q.fifo"
        );
        assert_eq!(
            name_from_url(a, Some("http://h/000000000000/q.txt"))
                .unwrap_err()
                .code,
            "QueueDoesNotExist"
        );
        assert_eq!(
            name_from_url(a, Some("http://h/q")).unwrap_err().code,
            "InvalidAddress"
        );
        assert_eq!(
            name_from_url(a, Some("http://h")).unwrap_err().code,
            "InvalidAddress"
        );
        assert_eq!(name_from_url(a, None).unwrap_err().code, "MissingParameter");
    }
}
