//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the binary
//! message format of InvokeWithResponseStream's response body (docs/wire.md §23).
//!
//! One message is:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | total length (big-endian, the whole message including both CRCs) |
//! | 4 | headers length |
//! | 4 | CRC32 of the 8 bytes above (the prelude) |
//! | n | headers: name length (1), name, value type (1), value |
//! | m | payload |
//! | 4 | CRC32 of everything before it |
//!
//! Only string header values (type 7: 2-byte length, UTF-8) are written; SDKs reject a
//! message whose checksums do not match, so both are always computed here. Pure bytes
//! in, bytes out, so the exact layout is unit-tested.

/// Header value type 7: a UTF-8 string with a 2-byte big-endian length.
const TYPE_STRING: u8 = 7;
/// Prelude (12) plus the message CRC (4).
const OVERHEAD: usize = 16;

/// Encodes one message with string `headers` (name, value) and `payload`.
/// Header names are at most 255 bytes and values at most 65535 (callers pass constants
/// and short values; longer ones are cut, never a panic).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut hbuf = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(65535)];
        hbuf.push(name.len() as u8);
        hbuf.extend_from_slice(name);
        hbuf.push(TYPE_STRING);
        hbuf.extend_from_slice(&(value.len() as u16).to_be_bytes());
        hbuf.extend_from_slice(value);
    }
    let total = OVERHEAD + hbuf.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(hbuf.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&hbuf);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An event message: `:event-type`, `:content-type`, `:message-type: event`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    encode(
        &[
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// A `PayloadChunk` event carrying raw function output bytes.
pub fn payload_chunk(bytes: &[u8]) -> Vec<u8> {
    event("PayloadChunk", "application/octet-stream", bytes)
}

/// How a streamed invocation ended, the `InvokeComplete` event's members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeComplete {
    /// The function's error type (e.g. `Sandbox.Timedout`); None on success.
    pub error_code: Option<String>,
    /// The error's details (the error JSON as the runtime reported it).
    pub error_details: Option<String>,
    /// Base64 of the log tail when `X-Amz-Log-Type: Tail` was asked for.
    pub log_result: Option<String>,
}

/// The closing `InvokeComplete` event: a JSON payload with the members that are set.
pub fn invoke_complete(c: &InvokeComplete) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("ErrorCode", &c.error_code),
        ("ErrorDetails", &c.error_details),
        ("LogResult", &c.log_result),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), serde_json::Value::String(v.clone()));
        }
    }
    event(
        "InvokeComplete",
        "application/json",
        serde_json::Value::Object(m).to_string().as_bytes(),
    )
}

/// A decoded message, for tests and for reading what [`encode`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// String headers in wire order.
    pub headers: Vec<(String, String)>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Why bytes are not one valid message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the prelude or its total length say.
    Truncated,
    /// The prelude CRC does not match.
    PreludeCrc,
    /// The message CRC does not match.
    MessageCrc,
    /// A header is malformed or not a string.
    BadHeader,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decodes the first message of `buf`; returns it and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
    if buf.len() < OVERHEAD {
        return Err(DecodeError::Truncated);
    }
    let total = be32(&buf[0..4]) as usize;
    let hlen = be32(&buf[4..8]) as usize;
    if crc32fast::hash(&buf[0..8]) != be32(&buf[8..12]) {
        return Err(DecodeError::PreludeCrc);
    }
    if total < OVERHEAD + hlen || buf.len() < total {
        return Err(DecodeError::Truncated);
    }
    if crc32fast::hash(&buf[..total - 4]) != be32(&buf[total - 4..total]) {
        return Err(DecodeError::MessageCrc);
    }
    let mut h = &buf[12..12 + hlen];
    let mut headers = Vec::new();
    while !h.is_empty() {
        let n = h[0] as usize;
        if h.len() < 1 + n + 3 || h[1 + n] != TYPE_STRING {
            return Err(DecodeError::BadHeader);
        }
        let name = std::str::from_utf8(&h[1..1 + n]).map_err(|_| DecodeError::BadHeader)?;
        let vlen = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
        let rest = &h[4 + n..];
        if rest.len() < vlen {
            return Err(DecodeError::BadHeader);
        }
        let value = std::str::from_utf8(&rest[..vlen]).map_err(|_| DecodeError::BadHeader)?;
        headers.push((name.to_string(), value.to_string()));
        h = &rest[vlen..];
    }
    let payload = buf[12 + hlen..total - 4].to_vec();
    Ok((Message { headers, payload }, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_message_layout() {
        // 16 bytes: total 16, headers 0, prelude CRC, message CRC.
        let m = encode(&[], b"");
        assert_eq!(m.len(), 16);
        assert_eq!(&m[0..8], &[0, 0, 0, 16, 0, 0, 0, 0]);
        assert_eq!(be32(&m[8..12]), crc32fast::hash(&m[0..8]));
        assert_eq!(be32(&m[12..16]), crc32fast::hash(&m[0..12]));
    }

    #[test]
    fn known_crc_value() {
        // CRC32 (IEEE) of "123456789" is the standard check value.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn header_encoding() {
        let m = encode(&[("ab", "xyz")], b"P");
        // name len 2, "ab", type 7, value len 0x0003, "xyz"
        assert_eq!(&m[12..20], &[2, b'a', b'b', 7, 0, 3, b'x', b'y']);
        assert_eq!(m[20], b'z');
        assert_eq!(m[21], b'P');
        assert_eq!(be32(&m[4..8]), 9);
        assert_eq!(be32(&m[0..4]) as usize, m.len());
    }

    #[test]
    fn chunk_round_trips() {
        let m = payload_chunk(b"hello");
        let (msg, used) = decode(&m).unwrap();
        assert_eq!(used, m.len());
        assert_eq!(msg.payload, b"hello");
        assert_eq!(
            msg.headers,
            vec![
                (":event-type".into(), "PayloadChunk".into()),
                (":content-type".into(), "application/octet-stream".into()),
                (":message-type".into(), "event".into()),
            ]
        );
    }

    #[test]
    fn complete_carries_only_set_members() {
        let (msg, _) = decode(&invoke_complete(&InvokeComplete::default())).unwrap();
        assert_eq!(msg.payload, b"{}");
        let c = InvokeComplete {
            error_code: Some("Unhandled".into()),
            error_details: Some("boom".into()),
            log_result: None,
        };
        let (msg, _) = decode(&invoke_complete(&c)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ErrorCode":"Unhandled","ErrorDetails":"boom"})
        );
        assert_eq!(msg.headers[0].1, "InvokeComplete");
    }

    #[test]
    fn corruption_is_detected() {
        let mut m = payload_chunk(b"data");
        let last = m.len() - 5;
        m[last] ^= 1;
        assert_eq!(decode(&m), Err(DecodeError::MessageCrc));
        let mut m = payload_chunk(b"data");
        m[3] ^= 1;
        assert_eq!(decode(&m), Err(DecodeError::PreludeCrc));
        let m = payload_chunk(b"data");
        assert_eq!(decode(&m[..m.len() - 1]), Err(DecodeError::Truncated));
    }

    #[test]
    fn two_messages_back_to_back() {
        let mut buf = payload_chunk(b"a");
        let first = buf.len();
        buf.extend(invoke_complete(&InvokeComplete::default()));
        let (_, used) = decode(&buf).unwrap();
        assert_eq!(used, first);
        let (m2, _) = decode(&buf[used..]).unwrap();
        assert_eq!(m2.headers[0].1, "InvokeComplete");
    }
}
