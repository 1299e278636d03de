//! The head of a streamed function URL answer (`InvokeMode: RESPONSE_STREAM`,
//! docs/wire.md §21.6). A function that wants to choose the status, headers and
//! cookies of a streamed answer opens its stream with the content type
//! [`HTTP_INTEGRATION`] and writes a JSON prelude (`{statusCode, headers, cookies}`),
//! then eight NUL bytes, then the body (Node's `awslambda.HttpResponseStream.from`
//! does this). Any other content type is the body's own, answered as 200.

use serde_json::Value;

use crate::url_event::{head_parts, MalformedResponse};

/// The content type that announces a prelude.
pub const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// What ends the prelude.
pub const DELIMITER: [u8; 8] = [0; 8];

/// The most bytes read while looking for the delimiter (API Gateway's documented limit
/// for the same prelude); a prelude that has not ended by then is malformed.
pub const MAX_PRELUDE_BYTES: usize = 16 * 1024;

/// A streamed answer's status, headers and cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<String>,
}

impl StreamHead {
    /// The head of a stream without a prelude: 200 with the stream's content type.
    pub fn plain(content_type: &str) -> Self {
        StreamHead {
            status: 200,
            headers: vec![("content-type".into(), content_type.to_string())],
            cookies: Vec::new(),
        }
    }
}

/// Looks for the prelude at the start of `buf` (the stream's bytes so far):
/// `Ok(None)` while more bytes are needed, else the head and where the body starts.
pub fn split_prelude(buf: &[u8]) -> Result<Option<(StreamHead, usize)>, MalformedResponse> {
    let Some(end) = buf.windows(DELIMITER.len()).position(|w| w == DELIMITER) else {
        if buf.len() > MAX_PRELUDE_BYTES {
            return Err(MalformedResponse(format!(
                "no prelude delimiter in the first {MAX_PRELUDE_BYTES} bytes"
            )));
        }
        return Ok(None);
    };
    if end > MAX_PRELUDE_BYTES {
        return Err(MalformedResponse(format!(
            "the prelude is longer than {MAX_PRELUDE_BYTES} bytes"
        )));
    }
    let head = parse_prelude(&buf[..end])?;
    Ok(Some((head, end + DELIMITER.len())))
}

/// Parses the prelude's JSON: an object whose `statusCode` (default 200), `headers`
/// and `cookies` are read as a payload 2.0 response description's are; an empty
/// prelude is a plain 200.
pub fn parse_prelude(json: &[u8]) -> Result<StreamHead, MalformedResponse> {
    let bad = |m: &str| MalformedResponse(m.to_string());
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(StreamHead {
            status: 200,
            headers: Vec::new(),
            cookies: Vec::new(),
        });
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(json) else {
        return Err(bad("the prelude must be a JSON object"));
    };
    let status = match obj.get("statusCode") {
        None | Some(Value::Null) => 200,
        Some(s) => s
            .as_u64()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| bad("statusCode must be an integer from 100 to 599"))?
            as u16,
    };
    let (headers, cookies) = head_parts(&obj)?;
    Ok(StreamHead {
        status,
        headers,
        cookies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(prelude: &str, body: &[u8]) -> Vec<u8> {
        let mut v = prelude.as_bytes().to_vec();
        v.extend_from_slice(&DELIMITER);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn prelude_found_and_body_start() {
        let buf = framed(
            r#"{"statusCode":201,"headers":{"x-a":"1","content-type":"text/plain"},"cookies":["a=b"]}"#,
            b"hello",
        );
        let (head, start) = split_prelude(&buf).unwrap().unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(head.cookies, vec!["a=b".to_string()]);
        assert!(head.headers.contains(&("x-a".into(), "1".into())));
        assert_eq!(&buf[start..], b"hello");
    }

    #[test]
    fn waits_for_more_then_gives_up() {
        assert_eq!(split_prelude(br#"{"statusCode":200"#).unwrap(), None);
        // Seven NULs are not the delimiter yet.
        assert_eq!(split_prelude(b"{}\0\0\0\0\0\0\0").unwrap(), None);
        let long = vec![b' '; MAX_PRELUDE_BYTES + 1];
        assert!(split_prelude(&long).is_err());
    }

    #[test]
    fn defaults_and_refusals() {
        let (head, _) = split_prelude(&framed("{}", b"")).unwrap().unwrap();
        assert_eq!((head.status, head.headers.len()), (200, 0));
        let (head, _) = split_prelude(&framed("", b"x")).unwrap().unwrap();
        assert_eq!(head.status, 200);
        for bad in [
            r#"{"statusCode":99}"#,
            r#"{"statusCode":"200"}"#,
            r#"{"headers":[1]}"#,
            r#"{"cookies":"a=b"}"#,
            r#"[1,2]"#,
            "not json",
        ] {
            assert!(split_prelude(&framed(bad, b"")).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_head_carries_the_content_type() {
        let h = StreamHead::plain("text/event-stream");
        assert_eq!(h.status, 200);
        assert_eq!(
            h.headers,
            vec![("content-type".to_string(), "text/event-stream".to_string())]
        );
    }
}
