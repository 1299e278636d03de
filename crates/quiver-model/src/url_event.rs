//! A function URL request as the function sees it (payload format 2.0) and the
//! function's answer as the client sees it: Lambda's documented mapping ("Invoking
//! Lambda function URLs"), pure so that it is table-tested here. docs/wire.md §21.

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// One HTTP request to a function URL, as received.
#[derive(Debug, Clone)]
pub struct UrlRequest<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoding kept), without the `/_url/<id>` prefix.
    pub raw_path: &'a str,
    /// The query string as sent, without `?` (empty when none).
    pub raw_query: &'a str,
    /// Header names and values in the order received (names in any case).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub protocol: &'a str,
    pub source_ip: &'a str,
    pub account_id: &'a str,
    pub url_id: &'a str,
    pub domain_name: &'a str,
    pub request_id: &'a str,
    /// Milliseconds since the epoch when the request arrived.
    pub time_epoch_ms: i64,
}

/// Whether a body of this content type reaches the function as text. Anything else
/// (images, octet streams, no type with bytes that are not UTF-8) is base64.
pub(crate) fn is_text(content_type: Option<&str>, body: &[u8]) -> bool {
    if std::str::from_utf8(body).is_err() {
        return false;
    }
    let Some(ct) = content_type else { return true };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("/json")
        || ct.ends_with("+json")
        || ct.ends_with("/xml")
        || ct.ends_with("+xml")
        || ct == "application/javascript"
        || ct == "application/x-www-form-urlencoded"
        || ct == "application/yaml"
}

/// `%XX` and `+` decoded (query keys and values); invalid escapes are kept as sent.
pub(crate) fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `12/Mar/2020:19:03:58 +0000`, the request time's documented form.
pub(crate) fn clf_time(epoch_ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = time::OffsetDateTime::from_unix_timestamp(epoch_ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The event of payload format 2.0 for `req`. Headers are lower-cased and repeated
/// ones comma-joined; `cookie` headers become `cookies` (and leave `headers`);
/// repeated query keys are comma-joined; `body` is absent without one. URLs have no
/// routes or stages: `routeKey` and `stage` are `$default`, and `pathParameters` /
/// `stageVariables` are left out (the documentation allows null or absent).
pub fn event(req: &UrlRequest<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in req.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string())),
            );
            continue;
        }
        match headers.get_mut(&name) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(Value::as_str)
        .map(str::to_string);
    let user_agent = headers.get("user-agent").cloned().unwrap_or(Value::Null);
    let mut query = Map::new();
    for pair in req.raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode_component(k), decode_component(v));
        match query.get_mut(&k) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": req.account_id,
            "apiId": req.url_id,
            "domainName": req.domain_name,
            "domainPrefix": req.url_id,
            "http": {
                "method": req.method,
                "path": req.raw_path,
                "protocol": req.protocol,
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
            },
            "requestId": req.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(req.time_epoch_ms),
            "timeEpoch": req.time_epoch_ms,
        },
        "isBase64Encoded": false,
    });
    let obj = ev.as_object_mut().expect("an object");
    if !cookies.is_empty() {
        obj.insert("cookies".into(), Value::Array(cookies));
    }
    if !query.is_empty() {
        obj.insert("queryStringParameters".into(), Value::Object(query));
    }
    if !req.body.is_empty() {
        if is_text(content_type.as_deref(), req.body) {
            let text = String::from_utf8_lossy(req.body).into_owned();
            obj.insert("body".into(), Value::String(text));
        } else {
            let b64 = base64::engine::general_purpose::STANDARD.encode(req.body);
            obj.insert("body".into(), Value::String(b64));
            obj.insert("isBase64Encoded".into(), Value::Bool(true));
        }
    }
    ev
}

/// What the client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlResponse {
    pub status: u16,
    /// Names as the function wrote them; `set-cookie` comes from `cookies`.
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
}

/// Why a function's answer cannot become an HTTP response (the client gets 502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed function URL response: {0}")]
pub struct MalformedResponse(pub String);

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The function's answer mapped as payload format 2.0 does: an object with
/// `statusCode` is a response description (`headers`, `cookies`, `body`,
/// `isBase64Encoded`); anything else (a string, a number, an object without
/// `statusCode`) is the body of a 200 `application/json` answer, byte for byte.
pub fn response(payload: &[u8]) -> Result<UrlResponse, MalformedResponse> {
    let inferred = || UrlResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        cookies: Vec::new(),
        body: payload.to_vec(),
    };
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(payload) else {
        return Ok(inferred());
    };
    let Some(status) = obj.get("statusCode") else {
        return Ok(inferred());
    };
    let bad = |m: &str| MalformedResponse(m.to_string());
    let status = status
        .as_u64()
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| bad("statusCode must be an integer from 100 to 599"))?
        as u16;
    let (headers, cookies) = head_parts(&obj)?;
    let b64 = obj
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if b64 => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| bad("body is not valid base64"))?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    Ok(UrlResponse {
        status,
        headers,
        cookies,
        body,
    })
}

/// A response description's headers (in order) and cookies.
pub(crate) type HeadParts = (Vec<(String, String)>, Vec<String>);

/// The `headers` (scalar values) and `cookies` (strings) of a response description,
/// shared with the prelude of a streamed answer ([`crate::url_stream`]).
pub(crate) fn head_parts(
    obj: &serde_json::Map<String, Value>,
) -> Result<HeadParts, MalformedResponse> {
    let bad = |m: &str| MalformedResponse(m.to_string());
    let mut headers = Vec::new();
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                let v = scalar_text(v).ok_or_else(|| bad("header values must be strings"))?;
                headers.push((k.clone(), v));
            }
        }
        Some(_) => return Err(bad("headers must be an object")),
    }
    let mut cookies = Vec::new();
    match obj.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for c in a {
                cookies.push(
                    c.as_str()
                        .ok_or_else(|| bad("cookies must be strings"))?
                        .to_string(),
                );
            }
        }
        Some(_) => return Err(bad("cookies must be an array")),
    }
    Ok((headers, cookies))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(headers: &'a [(String, String)], query: &'a str, body: &'a [u8]) -> UrlRequest<'a> {
        UrlRequest {
            method: "POST",
            raw_path: "/my/path",
            raw_query: query,
            headers,
            body,
            protocol: "HTTP/1.1",
            source_ip: "123.123.123.123",
            account_id: "123456789012",
            url_id: "abcdefghijklmnopqrstuvwxyz012345",
            domain_name: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-west-2.on.aws",
            request_id: "id",
            time_epoch_ms: 1583348638390,
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// The documented request example, member by member.
    #[test]
    fn documented_request_example() {
        let headers = h(&[
            ("Header1", "value1"),
            ("header2", "value1"),
            ("Header2", "value2"),
            ("Cookie", "cookie1; cookie2"),
            ("User-Agent", "agent"),
        ]);
        let query = "parameter1=value1&parameter1=value2&parameter2=value";
        let ev = event(&req(&headers, query, b"Hello from client!"));
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["routeKey"], "$default");
        assert_eq!(ev["rawPath"], "/my/path");
        assert_eq!(ev["rawQueryString"], query);
        assert_eq!(ev["cookies"], json!(["cookie1", "cookie2"]));
        assert_eq!(ev["headers"]["header1"], "value1");
        assert_eq!(ev["headers"]["header2"], "value1,value2");
        assert!(ev["headers"].get("cookie").is_none());
        assert_eq!(
            ev["queryStringParameters"],
            json!({"parameter1": "value1,value2", "parameter2": "value"})
        );
        let rc = &ev["requestContext"];
        assert_eq!(rc["accountId"], "123456789012");
        assert_eq!(rc["apiId"], "abcdefghijklmnopqrstuvwxyz012345");
        assert_eq!(rc["domainPrefix"], "abcdefghijklmnopqrstuvwxyz012345");
        assert_eq!(
            rc["http"],
            json!({"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1",
                   "sourceIp": "123.123.123.123", "userAgent": "agent"})
        );
        assert_eq!(rc["routeKey"], "$default");
        assert_eq!(rc["stage"], "$default");
        assert_eq!(rc["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(rc["timeEpoch"], 1583348638390_i64);
        assert_eq!(ev["body"], "Hello from client!");
        assert_eq!(ev["isBase64Encoded"], false);
        assert!(ev.get("pathParameters").is_none());
        assert!(ev.get("stageVariables").is_none());
    }

    #[test]
    fn binary_bodies_are_base64() {
        let headers = h(&[("content-type", "application/octet-stream")]);
        let ev = event(&req(&headers, "", &[0, 159, 146, 150]));
        assert_eq!(ev["isBase64Encoded"], true);
        assert_eq!(ev["body"], "AJ+Slg==");
        let none = h(&[]);
        let ev = event(&req(&none, "", b""));
        assert!(ev.get("body").is_none());
        assert!(ev.get("queryStringParameters").is_none());
        assert!(ev.get("cookies").is_none());
    }

    #[test]
    fn query_values_are_decoded() {
        let none = h(&[]);
        let ev = event(&req(&none, "a=1%202&b=x+y&c", b""));
        assert_eq!(
            ev["queryStringParameters"],
            json!({"a": "1 2", "b": "x y", "c": ""})
        );
    }

    /// The documented response examples: a string, an object without statusCode, a
    /// custom response with cookies.
    #[test]
    fn documented_response_examples() {
        let r = response(br#""Hello, world!""#).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#""Hello, world!""#);
        assert_eq!(
            r.headers,
            vec![("content-type".to_string(), "application/json".to_string())]
        );
        let r = response(br#"{"message": "Hello, world!"}"#).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"message": "Hello, world!"}"#);
        let r = response(
            br#"{"statusCode": 201, "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
                "body": "{ \"message\": \"Hello, world!\" }",
                "cookies": ["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"],
                "isBase64Encoded": false}"#,
        )
        .unwrap();
        assert_eq!(r.status, 201);
        assert!(r
            .headers
            .contains(&("My-Custom-Header".into(), "Custom Value".into())));
        assert_eq!(r.cookies.len(), 2);
        assert_eq!(r.body, br#"{ "message": "Hello, world!" }"#);
        let r =
            response(br#"{"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}"#).unwrap();
        assert_eq!(r.body, vec![0, 1, 2]);
    }

    #[test]
    fn malformed_responses() {
        for bad in [
            &br#"{"statusCode": "x"}"#[..],
            br#"{"statusCode": 99}"#,
            br#"{"statusCode": 200, "headers": []}"#,
            br#"{"statusCode": 200, "body": "!!", "isBase64Encoded": true}"#,
        ] {
            assert!(response(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
