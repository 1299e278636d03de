//! The one place where errors become Lambda wire errors.
//!
//! Every error response carries the code in the `x-amzn-ErrorType` header **and** in the
//! body, with `message` or `Message` cased as Lambda's model cases it for that exception
//! (docs/wire.md §3); botocore reads the header first, strict SDKs read the body member.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_model::ModelError;
use quiver_store::{IntakeError, StoreError};

/// Lambda's message when a package cannot be extracted.
pub const UNZIP_FAILED: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

/// An error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400 ValidationException: shape constraints.
    #[error("{0}")]
    Validation(String),
    /// 400 InvalidParameterValueException: semantic validation.
    #[error("{0}")]
    InvalidParameter(String),
    /// 400 InvalidRequestContentException: the body is not the JSON the operation takes.
    #[error("{0}")]
    InvalidRequestContent(String),
    /// 404 ResourceNotFoundException.
    #[error("{0}")]
    NotFound(String),
    /// 409 ResourceConflictException.
    #[error("{0}")]
    Conflict(String),
    /// 404 CodeSigningConfigNotFoundException: a function write names an unknown config.
    #[error("{0}")]
    CodeSigningConfigNotFound(String),
    /// 404 ProvisionedConcurrencyConfigNotFoundException: the version or alias has no
    /// provisioned concurrency config.
    #[error("{0}")]
    ProvisionedConcurrencyConfigNotFound(String),
    /// 400 RecursiveInvocationException: a chain of requests went past 16 invocations
    /// and the function's RecursiveLoop is `Terminate` (docs/wire.md §18).
    #[error("{0}")]
    RecursiveInvocation(String),
    /// 412 PreconditionFailedException: stale RevisionId.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413 RequestEntityTooLargeException.
    #[error("{0}")]
    TooLarge(String),
    /// 403 AccessDeniedException: a function ARN of another account. The message is
    /// written by `crate::denied::complete`, which knows the operation's action.
    #[error("User is not authorized to access resource: {0}")]
    AccessDenied(String),
    /// 403 MissingAuthenticationTokenException.
    #[error("Missing Authentication Token")]
    MissingToken,
    /// 403 IncompleteSignatureException: an Authorization header we cannot parse.
    #[error("{0}")]
    IncompleteSignature(String),
    /// 404 UnknownOperationException: no such route.
    #[error("Unknown operation: {0}")]
    UnknownOperation(String),
    /// 429 TooManyRequestsException with Lambda's `Reason`.
    #[error("Rate Exceeded.")]
    TooManyRequests {
        /// e.g. `ConcurrentInvocationLimitExceeded`.
        reason: &'static str,
    },
    /// 500 ServiceException: our fault. The detail is logged, not sent.
    #[error("{0}")]
    Service(String),
}

impl ApiError {
    /// (status, error code, body member for the message)
    fn wire(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Validation(_) => (StatusCode::BAD_REQUEST, "ValidationException", "message"),
            InvalidParameter(_) => (
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                "message",
            ),
            InvalidRequestContent(_) => (
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                "message",
            ),
            NotFound(_) => (
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                "Message",
            ),
            Conflict(_) => (StatusCode::CONFLICT, "ResourceConflictException", "message"),
            CodeSigningConfigNotFound(_) => (
                StatusCode::NOT_FOUND,
                "CodeSigningConfigNotFoundException",
                "Message",
            ),
            ProvisionedConcurrencyConfigNotFound(_) => (
                StatusCode::NOT_FOUND,
                "ProvisionedConcurrencyConfigNotFoundException",
                "message",
            ),
            RecursiveInvocation(_) => (
                StatusCode::BAD_REQUEST,
                "RecursiveInvocationException",
                "Message",
            ),
            PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailedException",
                "message",
            ),
            TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                "message",
            ),
            AccessDenied(_) => (StatusCode::FORBIDDEN, "AccessDeniedException", "Message"),
            MissingToken => (
                StatusCode::FORBIDDEN,
                "MissingAuthenticationTokenException",
                "message",
            ),
            IncompleteSignature(_) => (
                StatusCode::FORBIDDEN,
                "IncompleteSignatureException",
                "message",
            ),
            UnknownOperation(_) => (
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "message",
            ),
            TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "message",
            ),
            Service(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                "Message",
            ),
        }
    }

    pub fn code(&self) -> &'static str {
        self.wire().1
    }

    pub fn status(&self) -> StatusCode {
        self.wire().0
    }

    /// `Function not found: <arn>`
    pub fn function_not_found(arn: &str) -> Self {
        ApiError::NotFound(format!("Function not found: {arn}"))
    }

    /// `Request must be smaller than N bytes for the <Op> operation`
    pub fn too_large(limit: u64, operation: &str) -> Self {
        ApiError::TooLarge(format!(
            "Request must be smaller than {limit} bytes for the {operation} operation"
        ))
    }

    /// Maps a store error; `arn` names the resource in not-found and conflict messages.
    pub fn from_store(e: StoreError, arn: &str) -> Self {
        match e {
            StoreError::NotFound => ApiError::function_not_found(arn),
            StoreError::AlreadyExists => {
                let name = arn.rsplit_once(":function:").map(|(_, n)| n).unwrap_or(arn);
                ApiError::Conflict(format!("Function already exist: {name}"))
            }
            StoreError::RevisionMismatch { .. } => ApiError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
            ),
            StoreError::CodeShaMismatch { current } => ApiError::InvalidParameter(format!(
                "CodeSHA256 does not match the CodeSha256 of $LATEST ({current}). Please try again with the CodeSha256 of $LATEST."
            )),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::UpdateInProgress => ApiError::Conflict(
                quiver_model::Lifecycle::Updating
                    .update_conflict(arn)
                    .unwrap_or_default(),
            ),
            StoreError::Intake(IntakeError::TooLarge { limit }) => {
                ApiError::InvalidParameter(format!("Unzipped size must be smaller than {limit} bytes"))
            }
            StoreError::Intake(IntakeError::Io(e)) => ApiError::Service(format!("extracting code: {e}")),
            StoreError::Intake(e) => ApiError::InvalidParameter(format!("{UNZIP_FAILED} ({e})")),
            StoreError::Invalid(e) => e.into(),
            other => ApiError::Service(other.to_string()),
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Validation(_) => ApiError::Validation(e.to_string()),
            ModelError::InvalidParameter(m) => ApiError::InvalidParameter(m),
            // Raised only while the server starts; never by a request.
            ModelError::RuntimeConfig(m) => ApiError::Service(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, key) = self.wire();
        let message = match &self {
            ApiError::Service(detail) => {
                tracing::error!(%detail, "internal error");
                "An internal error occurred. See the Quiver server log.".to_string()
            }
            other => other.to_string(),
        };
        let kind = if status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut body = serde_json::json!({ "Type": kind, key: message });
        if let ApiError::TooManyRequests { reason } = &self {
            body["Reason"] = serde_json::Value::from(*reason);
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::AccessDenied(resource) = self {
            resp.extensions_mut()
                .insert(crate::denied::DeniedResource(resource));
        }
        resp.headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn parts(e: ApiError) -> (u16, String, serde_json::Value) {
        let r = e.into_response();
        let status = r.status().as_u16();
        let code = r.headers()["x-amzn-ErrorType"]
            .to_str()
            .unwrap()
            .to_string();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, code, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn codes_statuses_and_message_casing_follow_the_model() {
        let (s, c, b) = parts(ApiError::function_not_found(
            "arn:aws:lambda:us-east-1:000000000000:function:f",
        ))
        .await;
        assert_eq!((s, c.as_str()), (404, "ResourceNotFoundException"));
        assert_eq!(
            b["Message"],
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(b["Type"], "User");
        assert!(b.get("message").is_none());

        let (s, c, b) = parts(ApiError::from_store(
            StoreError::AlreadyExists,
            "arn:aws:lambda:us-east-1:0:function:dup",
        ))
        .await;
        assert_eq!((s, c.as_str()), (409, "ResourceConflictException"));
        assert_eq!(b["message"], "Function already exist: dup");

        let (s, c, b) = parts(ApiError::too_large(70167211, "CreateFunction")).await;
        assert_eq!((s, c.as_str()), (413, "RequestEntityTooLargeException"));
        assert_eq!(
            b["message"],
            "Request must be smaller than 70167211 bytes for the CreateFunction operation"
        );

        let (s, c, _) = parts(ApiError::from_store(
            StoreError::RevisionMismatch {
                current: "x".into(),
            },
            "a",
        ))
        .await;
        assert_eq!((s, c.as_str()), (412, "PreconditionFailedException"));
        let (s, c, _) = parts(ApiError::MissingToken).await;
        assert_eq!(
            (s, c.as_str()),
            (403, "MissingAuthenticationTokenException")
        );

        let (s, c, b) = parts(ApiError::Service("disk on fire".into())).await;
        assert_eq!(
            (s, c.as_str(), b["Type"].as_str()),
            (500, "ServiceException", Some("Service"))
        );
        assert!(
            !b["Message"].as_str().unwrap().contains("disk"),
            "internal detail leaked"
        );
    }

    #[tokio::test]
    async fn model_and_intake_errors_map_to_lambda_types() {
        let mut v = quiver_model::Violations::new();
        v.push("1", "timeout", "x");
        let (s, c, b) = parts(v.into_result().unwrap_err().into()).await;
        assert_eq!((s, c.as_str()), (400, "ValidationException"));
        assert!(b["message"]
            .as_str()
            .unwrap()
            .starts_with("1 validation error detected"));
        let (_, c, b) = parts(ApiError::from_store(
            StoreError::Intake(IntakeError::NotAZip("x".into())),
            "a",
        ))
        .await;
        assert_eq!(c, "InvalidParameterValueException");
        assert!(b["message"].as_str().unwrap().starts_with(UNZIP_FAILED));
        let (_, _, b) = parts(ApiError::from_store(
            StoreError::Intake(IntakeError::TooLarge { limit: 262144000 }),
            "a",
        ))
        .await;
        assert_eq!(
            b["message"],
            "Unzipped size must be smaller than 262144000 bytes"
        );
    }
}
