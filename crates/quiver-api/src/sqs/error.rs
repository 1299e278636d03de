//! SQS's error format for the JSON protocol: `{"__type": "com.amazonaws.sqs#<Code>",
//! "message": ...}` plus the `x-amzn-query-error: <legacy code>;Sender` header that
//! query-compatible clients (botocore) use to report SQS's historic error codes
//! (e.g. `AWS.SimpleQueueService.NonExistentQueue` for QueueDoesNotExist).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_queue::QueueError;

/// An SQS error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    pub status: StatusCode,
    /// The modeled shape name, e.g. `QueueDoesNotExist`.
    pub code: &'static str,
    /// The legacy (query protocol) code, when it differs from `code`.
    pub query_code: Option<&'static str>,
    pub message: String,
}

impl SqsError {
    fn new(
        code: &'static str,
        query_code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            query_code,
            message: message.into(),
        }
    }

    pub fn queue_does_not_exist() -> Self {
        Self::new(
            "QueueDoesNotExist",
            Some("AWS.SimpleQueueService.NonExistentQueue"),
            "The specified queue does not exist.",
        )
    }
    pub fn queue_name_exists(m: impl Into<String>) -> Self {
        Self::new("QueueNameExists", Some("QueueAlreadyExists"), m)
    }
    pub fn invalid_parameter(m: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", None, m)
    }
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            None,
            format!("The request must contain the parameter {name}."),
        )
    }
    pub fn invalid_attribute_name(m: impl Into<String>) -> Self {
        Self::new("InvalidAttributeName", None, m)
    }
    pub fn invalid_attribute_value(name: &str) -> Self {
        Self::new(
            "InvalidAttributeValue",
            None,
            format!("Invalid value for the parameter {name}."),
        )
    }
    pub fn invalid_message_contents() -> Self {
        Self::new(
            "InvalidMessageContents",
            None,
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    }
    pub fn receipt_invalid(handle: &str) -> Self {
        Self::new(
            "ReceiptHandleIsInvalid",
            None,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }
    pub fn message_not_inflight() -> Self {
        Self::new(
            "MessageNotInflight",
            Some("AWS.SimpleQueueService.MessageNotInflight"),
            "Message does not exist or is not available for visibility timeout change.",
        )
    }
    pub fn empty_batch(entry: &str) -> Self {
        Self::new(
            "EmptyBatchRequest",
            Some("AWS.SimpleQueueService.EmptyBatchRequest"),
            format!("There should be at least one {entry} in the request."),
        )
    }
    pub fn too_many_entries(n: usize) -> Self {
        Self::new(
            "TooManyEntriesInBatchRequest",
            Some("AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
            format!("Maximum number of entries per request are 10. You have sent {n}."),
        )
    }
    pub fn ids_not_distinct(id: &str) -> Self {
        Self::new(
            "BatchEntryIdsNotDistinct",
            Some("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
            format!("Id {id} repeated."),
        )
    }
    pub fn invalid_batch_entry_id() -> Self {
        Self::new(
            "InvalidBatchEntryId",
            Some("AWS.SimpleQueueService.InvalidBatchEntryId"),
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        )
    }
    pub fn batch_too_long(sent: usize) -> Self {
        Self::new(
            "BatchRequestTooLong",
            Some("AWS.SimpleQueueService.BatchRequestTooLong"),
            format!(
                "Batch requests cannot be longer than 262144 bytes. You have sent {sent} bytes."
            ),
        )
    }
    pub fn unsupported(m: impl Into<String>) -> Self {
        Self::new(
            "UnsupportedOperation",
            Some("AWS.SimpleQueueService.UnsupportedOperation"),
            m,
        )
    }
    pub fn invalid_address(url: &str) -> Self {
        Self::new(
            "InvalidAddress",
            None,
            format!("The address {url} is not valid for this endpoint."),
        )
    }
    /// The body is not the JSON the operation takes.
    pub fn serialization(m: impl Into<String>) -> Self {
        Self::new("SerializationException", None, m)
    }
    pub fn too_large(limit: u64) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Self::new(
                "RequestEntityTooLarge",
                None,
                format!("Request body is larger than the limit of {limit} bytes."),
            )
        }
    }
    /// Our fault: logged in full, reported briefly.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "SQS request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..Self::new(
                "InternalError",
                None,
                "We encountered an internal error. Please try again.",
            )
        }
    }

    /// For batch entries: the code as it goes into `BatchResultErrorEntry.Code`.
    pub fn entry_code(&self) -> &'static str {
        self.code
    }
}

impl From<QueueError> for SqsError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::QueueNotFound(_) => SqsError::queue_does_not_exist(),
            QueueError::InvalidReceipt(h) => SqsError::receipt_invalid(&h),
            QueueError::MessageNotInFlight(_) => SqsError::message_not_inflight(),
            QueueError::MessageNotFound(h) => SqsError::invalid_parameter(format!(
                "Value {h} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
            )),
            QueueError::Invalid(m) => SqsError::invalid_parameter(m),
            e @ (QueueError::Closed | QueueError::Storage(_)) => SqsError::internal(e),
        }
    }
}

impl IntoResponse for SqsError {
    fn into_response(self) -> Response {
        let fault = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = serde_json::json!({
            "__type": format!("com.amazonaws.sqs#{}", self.code),
            "message": self.message,
        });
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("{};{fault}", self.query_code.unwrap_or(self.code)))
        {
            h.insert("x-amzn-query-error", v);
        }
        resp
    }
}
