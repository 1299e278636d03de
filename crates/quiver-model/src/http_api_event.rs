//! An HTTP API request as a function sees it: payload format 1.0 (what REST APIs and
//! SAM's `Api` events also send) and 2.0 (a function URL's event, [`crate::url_event`],
//! plus route and stage). Pure, so the mapping is table-tested here. docs/wire.md §22.
//!
//! Why 1.0 keeps two views of headers and query: it predates 2.0's comma-joined maps,
//! and functions written for REST APIs read `multiValueHeaders` and
//! `multiValueQueryStringParameters`. Its single-valued maps do not join repeats (AWS's
//! 1.0 example: `headers` holds a repeated header's last value, `queryStringParameters`
//! a repeated key's first), so a REST-era reader of one value gets one value.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::url_event::{clf_time, decode_component, is_text};

/// One request that reached a route of an HTTP API, as received.
#[derive(Debug, Clone)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoding kept), with the stage prefix for named stages.
    pub raw_path: &'a str,
    /// The query string as sent, without `?` (empty when none).
    pub raw_query: &'a str,
    /// Header names and values in the order received (names in any case).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub protocol: &'a str,
    pub source_ip: &'a str,
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub domain_name: &'a str,
    pub request_id: &'a str,
    /// Milliseconds since the epoch when the request arrived.
    pub time_epoch_ms: i64,
    /// The route reached: `$default` or `METHOD /template`.
    pub route_key: &'a str,
    /// `$default` or a stage name.
    pub stage: &'a str,
    /// Captured by the route's path variables (decoded); empty means `null`.
    pub path_parameters: &'a BTreeMap<String, String>,
    /// The stage's variables; empty means `null`.
    pub stage_variables: &'a BTreeMap<String, String>,
}

impl ApiRequest<'_> {
    /// The route's path template (`resource`, `resourcePath`): `$default` for that route.
    fn resource(&self) -> &str {
        match self.route_key.split_once(' ') {
            Some((_, template)) => template,
            None => self.route_key,
        }
    }
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    if m.is_empty() {
        return Value::Null;
    }
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Which value of a repeated name the single-valued 1.0 map keeps.
#[derive(Clone, Copy)]
enum Keep {
    First,
    Last,
}

/// Single-valued and multi-valued views of repeated (name, value) pairs.
fn both_views(
    pairs: impl Iterator<Item = (String, String)>,
    keep: Keep,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        match multi.get_mut(&name) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            _ => {
                multi.insert(name, Value::Array(vec![Value::String(value)]));
            }
        }
    }
    let single = multi
        .iter()
        .map(|(k, v)| {
            let values = v.as_array().map(Vec::as_slice).unwrap_or_default();
            let one = match keep {
                Keep::First => values.first(),
                Keep::Last => values.last(),
            };
            (k.clone(), one.cloned().unwrap_or(Value::Null))
        })
        .collect();
    (single, multi)
}

/// The event of payload format 1.0 for `req`. Header names are lower-cased; maps
/// without entries (`queryStringParameters`, `pathParameters`, `stageVariables`, their
/// multi-value twins) are `null`; `body` is `null` without one; bodies that are not
/// text are base64 with `isBase64Encoded`.
pub fn event_v1(req: &ApiRequest<'_>) -> Value {
    let (headers, multi_headers) = both_views(
        req.headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone())),
        Keep::Last,
    );
    let (query, multi_query) = both_views(
        req.raw_query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(k), decode_component(v))
            }),
        Keep::First,
    );
    let content_type = headers.get("content-type").and_then(Value::as_str);
    let user_agent = headers.get("user-agent").cloned().unwrap_or(Value::Null);
    let (body, base64) = if req.body.is_empty() {
        (Value::Null, false)
    } else if is_text(content_type, req.body) {
        (
            Value::String(String::from_utf8_lossy(req.body).into_owned()),
            false,
        )
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(req.body);
        (Value::String(b64), true)
    };
    let nullable = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    let domain_prefix = req.domain_name.split('.').next().unwrap_or(req.api_id);
    json!({
        "version": "1.0",
        "resource": req.resource(),
        "path": req.raw_path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": nullable(query),
        "multiValueQueryStringParameters": nullable(multi_query),
        "requestContext": {
            "accountId": req.account_id,
            "apiId": req.api_id,
            "domainName": req.domain_name,
            "domainPrefix": domain_prefix,
            "extendedRequestId": req.request_id,
            "httpMethod": req.method,
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": req.source_ip,
                "user": null,
                "userAgent": user_agent,
                "userArn": null,
            },
            "path": req.raw_path,
            "protocol": req.protocol,
            "requestId": req.request_id,
            "requestTime": clf_time(req.time_epoch_ms),
            "requestTimeEpoch": req.time_epoch_ms,
            "resourceId": req.route_key,
            "resourcePath": req.resource(),
            "stage": req.stage,
        },
        "pathParameters": string_map(req.path_parameters),
        "stageVariables": string_map(req.stage_variables),
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// The event of payload format 2.0 for `req`: a function URL's event
/// ([`crate::url_event::event`]) with the route, the stage and what they carry.
pub fn event_v2(req: &ApiRequest<'_>) -> Value {
    let url = crate::url_event::UrlRequest {
        method: req.method,
        raw_path: req.raw_path,
        raw_query: req.raw_query,
        headers: req.headers,
        body: req.body,
        protocol: req.protocol,
        source_ip: req.source_ip,
        account_id: req.account_id,
        url_id: req.api_id,
        domain_name: req.domain_name,
        request_id: req.request_id,
        time_epoch_ms: req.time_epoch_ms,
    };
    let mut ev = crate::url_event::event(&url);
    ev["routeKey"] = Value::String(req.route_key.to_string());
    ev["requestContext"]["routeKey"] = Value::String(req.route_key.to_string());
    ev["requestContext"]["stage"] = Value::String(req.stage.to_string());
    let domain_prefix = req.domain_name.split('.').next().unwrap_or(req.api_id);
    ev["requestContext"]["domainPrefix"] = Value::String(domain_prefix.to_string());
    let obj = ev.as_object_mut().expect("an object");
    // 2.0 leaves empty maps out rather than sending null.
    if !req.path_parameters.is_empty() {
        obj.insert("pathParameters".into(), string_map(req.path_parameters));
    }
    if !req.stage_variables.is_empty() {
        obj.insert("stageVariables".into(), string_map(req.stage_variables));
    }
    ev
}

/// The function's answer mapped as payload format 1.0 does. Unlike 2.0 nothing is
/// inferred: the answer must be an object with `statusCode`; `headers` and
/// `multiValueHeaders` both become response headers (each listed value its own
/// header), `body` with `isBase64Encoded` as in 2.0. `cookies` is not a 1.0 member.
pub fn response_v1(
    payload: &[u8],
) -> Result<crate::url_event::UrlResponse, crate::url_event::MalformedResponse> {
    use crate::url_event::MalformedResponse;
    let bad = |m: &str| MalformedResponse(m.to_string());
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(payload) else {
        return Err(bad("a 1.0 answer must be an object with statusCode"));
    };
    if !obj.contains_key("statusCode") {
        return Err(bad("a 1.0 answer must be an object with statusCode"));
    }
    obj.remove("cookies");
    let multi = obj.remove("multiValueHeaders");
    let mut out = crate::url_event::response(Value::Object(obj).to_string().as_bytes())?;
    match multi {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, values) in m {
                let values = values
                    .as_array()
                    .ok_or_else(|| bad("multiValueHeaders values must be lists"))?;
                for v in values {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return Err(bad("multiValueHeaders values must be strings")),
                    };
                    out.headers.push((name.clone(), v));
                }
            }
        }
        Some(_) => return Err(bad("multiValueHeaders must be an object")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        headers: Vec<(String, String)>,
        params: BTreeMap<String, String>,
        vars: BTreeMap<String, String>,
    }

    fn fixture() -> Fixture {
        let h = |n: &str, v: &str| (n.to_string(), v.to_string());
        Fixture {
            headers: vec![
                h("Header1", "value1"),
                h("header2", "value1"),
                h("Header2", "value2"),
                h("User-Agent", "curl/8"),
                h("Content-Type", "application/json"),
            ],
            params: [("id".to_string(), "7".to_string())].into(),
            vars: [("env".to_string(), "dev".to_string())].into(),
        }
    }

    fn request<'a>(f: &'a Fixture, query: &'a str, body: &'a [u8]) -> ApiRequest<'a> {
        ApiRequest {
            method: "GET",
            raw_path: "/items/7",
            raw_query: query,
            headers: &f.headers,
            body,
            protocol: "HTTP/1.1",
            source_ip: "127.0.0.1",
            account_id: "123456789012",
            api_id: "a1b2c3d4e5",
            domain_name: "a1b2c3d4e5.execute-api.us-east-1.localhost",
            request_id: "req-1",
            time_epoch_ms: 1_583_349_317_135,
            route_key: "GET /items/{id}",
            stage: "$default",
            path_parameters: &f.params,
            stage_variables: &f.vars,
        }
    }

    #[test]
    fn documented_shape() {
        let f = fixture();
        let ev = event_v1(&request(
            &f,
            "parameter1=value1&parameter1=value2&parameter2=value",
            b"{\"a\":1}",
        ));
        assert_eq!(ev["version"], "1.0");
        assert_eq!(ev["resource"], "/items/{id}");
        assert_eq!(ev["path"], "/items/7");
        assert_eq!(ev["httpMethod"], "GET");
        assert_eq!(ev["headers"]["header1"], "value1");
        assert_eq!(ev["headers"]["header2"], "value2");
        assert_eq!(
            ev["multiValueHeaders"]["header2"],
            json!(["value1", "value2"])
        );
        assert_eq!(ev["queryStringParameters"]["parameter1"], "value1");
        assert_eq!(ev["queryStringParameters"]["parameter2"], "value");
        assert_eq!(
            ev["multiValueQueryStringParameters"]["parameter1"],
            json!(["value1", "value2"])
        );
        assert_eq!(ev["pathParameters"], json!({"id": "7"}));
        assert_eq!(ev["stageVariables"], json!({"env": "dev"}));
        assert_eq!(ev["body"], "{\"a\":1}");
        assert_eq!(ev["isBase64Encoded"], false);
        let rc = &ev["requestContext"];
        assert_eq!(rc["resourcePath"], "/items/{id}");
        assert_eq!(rc["httpMethod"], "GET");
        assert_eq!(rc["path"], "/items/7");
        assert_eq!(rc["stage"], "$default");
        assert_eq!(rc["requestId"], "req-1");
        assert_eq!(rc["domainPrefix"], "a1b2c3d4e5");
        assert_eq!(rc["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(rc["identity"]["userAgent"], "curl/8");
        assert_eq!(rc["requestTime"], "04/Mar/2020:19:15:17 +0000");
        assert_eq!(rc["requestTimeEpoch"], 1_583_349_317_135_i64);
    }

    #[test]
    fn empty_maps_and_body_are_null() {
        let mut f = fixture();
        f.params.clear();
        f.vars.clear();
        let mut req = request(&f, "", b"");
        req.route_key = "$default";
        let ev = event_v1(&req);
        assert_eq!(ev["resource"], "$default");
        assert_eq!(ev["requestContext"]["resourcePath"], "$default");
        for member in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert_eq!(ev[member], Value::Null, "{member}");
        }
    }

    #[test]
    fn v2_carries_route_stage_and_variables() {
        let f = fixture();
        let mut req = request(&f, "a=1&a=2", b"");
        req.stage = "prod";
        req.raw_path = "/prod/items/7";
        let ev = event_v2(&req);
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["routeKey"], "GET /items/{id}");
        assert_eq!(ev["rawPath"], "/prod/items/7");
        assert_eq!(ev["requestContext"]["routeKey"], "GET /items/{id}");
        assert_eq!(ev["requestContext"]["stage"], "prod");
        assert_eq!(ev["requestContext"]["apiId"], "a1b2c3d4e5");
        assert_eq!(ev["requestContext"]["domainPrefix"], "a1b2c3d4e5");
        assert_eq!(ev["headers"]["header2"], "value1,value2");
        assert_eq!(ev["queryStringParameters"]["a"], "1,2");
        assert_eq!(ev["pathParameters"], json!({"id": "7"}));
        assert_eq!(ev["stageVariables"], json!({"env": "dev"}));
        let mut f = fixture();
        f.params.clear();
        f.vars.clear();
        let ev = event_v2(&request(&f, "", b""));
        assert!(ev.get("pathParameters").is_none());
        assert!(ev.get("stageVariables").is_none());
    }

    #[test]
    fn v1_responses() {
        let r = response_v1(
            br#"{"statusCode":201,"headers":{"x-one":"1"},"multiValueHeaders":{"x-many":["a","b"]},"body":"hi"}"#,
        )
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.body, b"hi");
        let h = |n: &str| -> Vec<&str> {
            r.headers
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(h("x-one"), ["1"]);
        assert_eq!(h("x-many"), ["a", "b"]);
        let r = response_v1(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#).unwrap();
        assert_eq!(r.body, b"hi");
        // Nothing is inferred in 1.0: these are failures (the client gets 502).
        for bad in [
            &b"\"just a string\""[..],
            br#"{"body":"no status"}"#,
            b"not json",
            br#"{"statusCode":700}"#,
            br#"{"statusCode":200,"multiValueHeaders":{"x":"not a list"}}"#,
        ] {
            assert!(
                response_v1(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn binary_bodies_and_decoded_queries() {
        let mut f = fixture();
        f.headers = vec![("Content-Type".into(), "image/png".into())];
        let ev = event_v1(&request(&f, "q=a%20b+c&flag", &[0x89, 0x50, 0xff]));
        assert_eq!(ev["isBase64Encoded"], true);
        assert_eq!(ev["body"], "iVD/");
        assert_eq!(
            ev["queryStringParameters"],
            json!({"q": "a b c", "flag": ""})
        );
        assert_eq!(ev["requestContext"]["identity"]["userAgent"], Value::Null);
    }
}
