//! Who is calling: the single seam where SigV4 verification will go.
//!
//! Today (dev mode) any well-formed `AWS4-HMAC-SHA256` Authorization header is accepted:
//! the access key, date, region and service are parsed and handed on as the [`Caller`].
//! Verification (canonical request, key lookup, clock skew) replaces the body of
//! [`authenticate`] later without touching any route.

use axum::http::request::Parts;
use axum::http::HeaderMap;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No Authorization header at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// An Authorization header that is not a parsable SigV4 header.
    #[error("{0}")]
    Malformed(String),
}

/// Authenticates a request from its head (the body is not needed in dev mode).
pub fn authenticate(parts: &Parts) -> Result<Caller, AuthError> {
    authenticate_headers(&parts.headers)
}

fn authenticate_headers(headers: &HeaderMap) -> Result<Caller, AuthError> {
    let raw = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let raw = raw
        .to_str()
        .map_err(|_| AuthError::Malformed("Authorization header is not ASCII".into()))?;
    parse_authorization(raw)
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, SignedHeaders=…, Signature=…`.
pub fn parse_authorization(raw: &str) -> Result<Caller, AuthError> {
    let malformed = |what: &str| {
        AuthError::Malformed(format!(
            "Authorization header requires {what}. Authorization={raw}"
        ))
    };
    let rest = raw
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| malformed("the 'AWS4-HMAC-SHA256' algorithm"))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for field in rest.split(',') {
        let field = field.trim();
        if let Some(v) = field.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = field.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = field.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| malformed("'Credential' parameter"))?;
    signed_headers
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("'SignedHeaders' parameter"))?;
    signature
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("'Signature' parameter"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    match scope.as_slice() {
        [key, date, region, service, "aws4_request"] if !key.is_empty() && date.len() == 8 => {
            Ok(Caller {
                access_key: key.to_string(),
                date: date.to_string(),
                region: region.to_string(),
                service: service.to_string(),
            })
        }
        _ => Err(malformed(
            "a Credential of the form <key>/<yyyymmdd>/<region>/<service>/aws4_request",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_botocore_header() {
        let c = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDQUIVERTEST/20240501/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef0123",
        )
        .unwrap();
        assert_eq!(
            c,
            Caller {
                access_key: "AKIDQUIVERTEST".into(),
                date: "20240501".into(),
                region: "us-east-1".into(),
                service: "lambda".into()
            }
        );
    }

    #[test]
    fn missing_and_malformed() {
        assert_eq!(
            authenticate_headers(&HeaderMap::new()),
            Err(AuthError::Missing)
        );
        for bad in [
            "Basic dXNlcjpwYXNz",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AK/2024/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1/lambda/aws4_request, Signature=ab",
        ] {
            assert!(matches!(parse_authorization(bad), Err(AuthError::Malformed(_))), "{bad}");
        }
    }
}
