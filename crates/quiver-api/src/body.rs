//! Request bodies: per-operation size limits answered with Lambda's error (never a
//! framework default), and JSON parsing that reports client mistakes as
//! InvalidRequestContentException.

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Bodies over the limit are still read (and dropped) up to this many bytes, so that a
/// client that sends everything before reading the reply gets the 413 instead of a
/// connection reset.
const DRAIN_MAX: u64 = 256 << 20;

/// Reads at most `limit` bytes; more → 413 naming `operation`.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    operation: &str,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body;
    if declared.is_some_and(|n| n > limit) {
        if declared.is_some_and(|n| n <= DRAIN_MAX) {
            drain(&mut body, 0).await;
        }
        return Err(ApiError::too_large(limit, operation));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::InvalidRequestContent(format!("Could not read request body: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() as u64 > limit {
                let seen = buf.len() as u64;
                drop(buf);
                drain(&mut body, seen).await;
                return Err(ApiError::too_large(limit, operation));
            }
        }
    }
    Ok(buf.freeze())
}

async fn drain(body: &mut Body, mut seen: u64) {
    while seen <= DRAIN_MAX {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

/// Parses a JSON body; an empty body is `{}` (what botocore would have sent).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::InvalidRequestContent(format!("Could not parse request body into json: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    struct T {
        memory_size: Option<i64>,
    }

    #[test]
    fn json_errors_are_client_errors_and_unknown_fields_are_ignored() {
        assert_eq!(parse_json::<T>(b"").unwrap().memory_size, None);
        assert_eq!(
            parse_json::<T>(br#"{"MemorySize":256,"Surprise":[1]}"#)
                .unwrap()
                .memory_size,
            Some(256)
        );
        for bad in [&b"{"[..], br#"{"MemorySize":"big"}"#, b"[]", b"\xff"] {
            let e = parse_json::<T>(bad).unwrap_err();
            assert!(
                matches!(&e, ApiError::InvalidRequestContent(m) if m.starts_with("Could not parse request body into json: ")),
                "{e:?}"
            );
        }
    }

    #[tokio::test]
    async fn limits_apply_with_and_without_content_length() {
        let mut h = HeaderMap::new();
        assert_eq!(
            read_limited(&h, Body::from("abcd"), 4, "Op").await.unwrap(),
            Bytes::from("abcd")
        );
        let e = read_limited(&h, Body::from("abcde"), 4, "Op")
            .await
            .unwrap_err();
        assert_eq!(e, ApiError::too_large(4, "Op"));
        h.insert("content-length", "100".parse().unwrap());
        assert!(read_limited(&h, Body::from("a"), 4, "Op").await.is_err());
    }
}
