//! Pure wire formatting: `/next` headers from an [`Invocation`], error bodies, error types.

use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::{Invocation, RuntimeApiError};

pub(crate) const H_REQUEST_ID: &str = "lambda-runtime-aws-request-id";
pub(crate) const H_DEADLINE: &str = "lambda-runtime-deadline-ms";
pub(crate) const H_ARN: &str = "lambda-runtime-invoked-function-arn";
pub(crate) const H_TRACE: &str = "lambda-runtime-trace-id";
pub(crate) const H_CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
pub(crate) const H_COGNITO: &str = "lambda-runtime-cognito-identity";
pub(crate) const H_ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// Trailer of a streamed response: the error JSON, base64-encoded.
pub(crate) const H_ERROR_BODY: &str = "lambda-runtime-function-error-body";
/// `streaming` on a `/response` that is sent chunked.
pub(crate) const H_RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";

/// Builds the `/next` answer's headers. Validated when the host calls `invoke`, so a bad
/// field is the caller's error and never reaches the runtime as a broken response.
/// Absent or empty optional fields are omitted, as RIE does.
pub(crate) fn next_headers(inv: &Invocation) -> Result<HeaderMap, RuntimeApiError> {
    let id = &inv.request_id;
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(RuntimeApiError::InvalidInvocation {
            field: "request_id",
            reason: format!("{id:?} must be non-empty [A-Za-z0-9_-] (it goes into URL paths)"),
        });
    }
    let mut h = HeaderMap::with_capacity(8);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(H_REQUEST_ID, value("request_id", id)?);
    h.insert(H_DEADLINE, HeaderValue::from(inv.deadline_ms));
    let mut opt = |name: &'static str, field: &'static str, v: Option<&str>| match v
        .filter(|s| !s.is_empty())
    {
        Some(s) => value(field, s).map(|v| {
            h.insert(HeaderName::from_static(name), v);
        }),
        None => Ok(()),
    };
    opt(
        H_ARN,
        "invoked_function_arn",
        Some(&inv.invoked_function_arn),
    )?;
    opt(H_TRACE, "trace_id", inv.trace_id.as_deref())?;
    opt(
        H_CLIENT_CONTEXT,
        "client_context",
        inv.client_context.as_deref(),
    )?;
    opt(
        H_COGNITO,
        "cognito_identity",
        inv.cognito_identity.as_deref(),
    )?;
    Ok(h)
}

/// A header value from text. CR/LF become spaces: they can only be JSON whitespace in
/// the client-context/identity texts (inside JSON strings they are escaped), so this
/// keeps pretty-printed JSON valid instead of refusing it.
fn value(field: &'static str, s: &str) -> Result<HeaderValue, RuntimeApiError> {
    let v = if s.contains(['\r', '\n']) {
        HeaderValue::from_str(&s.replace(['\r', '\n'], " "))
    } else {
        HeaderValue::from_str(s)
    };
    v.map_err(|e| RuntimeApiError::InvalidInvocation {
        field,
        reason: e.to_string(),
    })
}

/// The `{"errorMessage","errorType"}` body the Runtime API answers errors with (RIE shape).
pub(crate) fn error_body(error_type: &str, message: &str) -> bytes::Bytes {
    serde_json::json!({ "errorMessage": message, "errorType": error_type })
        .to_string()
        .into()
}

/// The error type of a posted error: the header when present and non-empty, else the
/// body's `errorType` (the Python RIC never sends the header). Only small bodies are
/// parsed, so a huge error body costs nothing extra.
pub(crate) fn error_type(header: Option<&HeaderValue>, body: &[u8]) -> Option<String> {
    if let Some(t) = header
        .and_then(|h| h.to_str().ok())
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_owned());
    }
    if body.len() > 64 * 1024 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errorType")?
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Invocation {
        Invocation {
            request_id: "8f0e1a2b-0000-4000-8000-000000000001".into(),
            deadline_ms: 1_700_000_000_123,
            invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            ..Default::default()
        }
    }

    #[test]
    fn required_headers_and_omitted_optionals() {
        let h = next_headers(&inv()).unwrap();
        assert_eq!(h[CONTENT_TYPE], "application/json");
        assert_eq!(h[H_REQUEST_ID], "8f0e1a2b-0000-4000-8000-000000000001");
        assert_eq!(h[H_DEADLINE], "1700000000123");
        assert_eq!(h[H_ARN], "arn:aws:lambda:us-east-1:000000000000:function:f");
        assert!(h.get(H_TRACE).is_none());
        assert!(h.get(H_CLIENT_CONTEXT).is_none());
        assert!(h.get(H_COGNITO).is_none());
    }

    #[test]
    fn optionals_present_and_multiline_json_flattened() {
        let mut i = inv();
        i.trace_id = Some("Root=1-5e1b4151-5ac6c58f5b5dbd6a5a5a5a5a;Sampled=0".into());
        i.client_context = Some("{\n  \"custom\": {\"k\": \"v\"}\n}".into());
        i.cognito_identity = Some(String::new());
        let h = next_headers(&i).unwrap();
        assert_eq!(
            h[H_TRACE],
            "Root=1-5e1b4151-5ac6c58f5b5dbd6a5a5a5a5a;Sampled=0"
        );
        let cc: serde_json::Value = serde_json::from_slice(h[H_CLIENT_CONTEXT].as_bytes()).unwrap();
        assert_eq!(cc["custom"]["k"], "v");
        assert!(h.get(H_COGNITO).is_none(), "empty optional is omitted");
    }

    #[test]
    fn bad_request_ids_and_values_refused() {
        for bad in ["", "a/b", "a b", "ü"] {
            let mut i = inv();
            i.request_id = bad.into();
            assert!(matches!(
                next_headers(&i),
                Err(RuntimeApiError::InvalidInvocation {
                    field: "request_id",
                    ..
                })
            ));
        }
        let mut i = inv();
        i.trace_id = Some("a\u{1}b".into());
        assert!(matches!(
            next_headers(&i),
            Err(RuntimeApiError::InvalidInvocation {
                field: "trace_id",
                ..
            })
        ));
    }

    #[test]
    fn error_type_prefers_header_then_body() {
        let body = br#"{"errorMessage":"x","errorType":"ValueError"}"#;
        let h = HeaderValue::from_static("Runtime.ImportModuleError");
        assert_eq!(
            error_type(Some(&h), body).as_deref(),
            Some("Runtime.ImportModuleError")
        );
        assert_eq!(error_type(None, body).as_deref(), Some("ValueError"));
        assert_eq!(
            error_type(Some(&HeaderValue::from_static("")), body).as_deref(),
            Some("ValueError")
        );
        assert_eq!(error_type(None, b"not json"), None);
        assert_eq!(error_type(None, br#"{"errorType":""}"#), None);
    }

    #[test]
    fn error_body_shape() {
        let v: serde_json::Value =
            serde_json::from_slice(&error_body("InvalidRequestID", "Invalid request ID")).unwrap();
        assert_eq!(v["errorType"], "InvalidRequestID");
        assert_eq!(v["errorMessage"], "Invalid request ID");
    }
}

/// The error a streamed response reported in its trailers (`…-Error-Type`, and
/// `…-Error-Body` with the error JSON in base64): the error body and its type, or None
/// when the stream ended normally. A missing or undecodable body becomes
/// `{"errorType":…,"errorMessage":""}` so the invoker still sees a JSON error.
pub(crate) fn streamed_error(
    trailers: Option<&HeaderMap>,
) -> Option<(bytes::Bytes, Option<String>)> {
    use base64::Engine as _;
    let t = trailers?;
    let error_type = t
        .get(H_ERROR_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())?
        .to_owned();
    let body = t
        .get(H_ERROR_BODY)
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .ok()
        })
        .filter(|b| serde_json::from_slice::<serde_json::Value>(b).is_ok())
        .unwrap_or_else(|| {
            serde_json::json!({"errorType": error_type, "errorMessage": ""})
                .to_string()
                .into_bytes()
        });
    Some((body.into(), Some(error_type)))
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn trailers_carry_a_streamed_error() {
        assert!(streamed_error(None).is_none());
        let mut t = HeaderMap::new();
        assert!(streamed_error(Some(&t)).is_none());
        t.insert(H_ERROR_TYPE, HeaderValue::from_static("Error"));
        // base64 of {"errorType":"Error","errorMessage":"boom"}
        t.insert(
            H_ERROR_BODY,
            HeaderValue::from_static(
                "eyJlcnJvclR5cGUiOiJFcnJvciIsImVycm9yTWVzc2FnZSI6ImJvb20ifQ==",
            ),
        );
        let (body, ty) = streamed_error(Some(&t)).unwrap();
        assert_eq!(ty.as_deref(), Some("Error"));
        assert_eq!(&body[..], br#"{"errorType":"Error","errorMessage":"boom"}"#);
        t.insert(H_ERROR_BODY, HeaderValue::from_static("%%%"));
        let (body, _) = streamed_error(Some(&t)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorType"], "Error");
    }
}
