//! An HTTP API's CorsConfiguration: its wire members (camelCase, apigatewayv2's
//! bounds), and what API Gateway does with it when serving. docs/wire.md §22.5.
//!
//! The value and the header rules are the function URL's [`Cors`] (the same six
//! members, the same origin / method / header checks); what differs is the wire
//! (camelCase, MaxAge -1..86400, any method name, credentials refused with a `*`
//! origin) and that API Gateway drops every CORS header the integration returns.

use serde_json::{Map, Value};

pub use crate::function_url::Cors;

/// Why a CorsConfiguration is refused (answered as `BadRequestException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CorsError(pub String);

fn strings(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, CorsError> {
    let bad = || CorsError(format!("Invalid input: {key} must be a list of strings"));
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// Parses and checks a `corsConfiguration` object.
pub fn parse(v: &Value) -> Result<Cors, CorsError> {
    let Value::Object(m) = v else {
        return Err(CorsError(
            "Invalid input: corsConfiguration must be an object".into(),
        ));
    };
    let allow_credentials = match m.get("allowCredentials") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(CorsError(
                "Invalid input: allowCredentials must be a boolean".into(),
            ))
        }
    };
    let max_age = match m.get("maxAge") {
        None | Some(Value::Null) => None,
        Some(n) => match n.as_i64() {
            Some(a) if (-1..=86400).contains(&a) => Some(a),
            _ => {
                return Err(CorsError(
                    "Invalid input: maxAge must be an integer between -1 and 86400".into(),
                ))
            }
        },
    };
    let cors = Cors {
        allow_credentials,
        allow_headers: strings(m, "allowHeaders")?,
        allow_methods: strings(m, "allowMethods")?,
        allow_origins: strings(m, "allowOrigins")?,
        expose_headers: strings(m, "exposeHeaders")?,
        max_age,
    };
    if let Some(bad) = cors
        .allow_methods
        .iter()
        .flatten()
        .find(|m| m.is_empty() || m.len() > 64)
    {
        return Err(CorsError(format!(
            "Invalid input: allowMethods member '{bad}' must be 1-64 characters"
        )));
    }
    let wildcard = cors.allow_origins.iter().flatten().any(|o| o == "*");
    if wildcard && cors.allow_credentials == Some(true) {
        return Err(CorsError(
            "allow-credentials is not supported if 'allow-origin' is *".into(),
        ));
    }
    Ok(cors)
}

/// The `corsConfiguration` member as API Gateway renders it (unset members absent).
pub fn render(c: &Cors) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("allowCredentials", c.allow_credentials.map(Value::Bool));
    put("allowHeaders", c.allow_headers.clone().map(Value::from));
    put("allowMethods", c.allow_methods.clone().map(Value::from));
    put("allowOrigins", c.allow_origins.clone().map(Value::from));
    put("exposeHeaders", c.expose_headers.clone().map(Value::from));
    put("maxAge", c.max_age.map(Value::from));
    Value::Object(m)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
/// With CORS configured API Gateway answers it itself (unless a route names
/// `OPTIONS` explicitly); any other `OPTIONS` is an ordinary request.
pub fn is_preflight(method: &str, headers: &[(String, String)]) -> bool {
    method.eq_ignore_ascii_case("OPTIONS")
        && header(headers, "origin").is_some()
        && header(headers, "access-control-request-method").is_some()
}

/// The headers of API Gateway's own 204 answer to a preflight: the configured
/// access-control-* headers when the origin and the method pass, none otherwise
/// (the browser then refuses the real request).
pub fn preflight(cors: &Cors, headers: &[(String, String)]) -> Vec<(String, String)> {
    let (Some(origin), Some(method)) = (
        header(headers, "origin"),
        header(headers, "access-control-request-method"),
    ) else {
        return Vec::new();
    };
    cors.preflight(
        origin,
        method,
        header(headers, "access-control-request-headers"),
    )
}

/// Applies the API's CORS settings to an integration's answer: every access-control-*
/// header the integration set is dropped (API Gateway ignores them), then, for a
/// request with an allowed `Origin`, the configured ones are added.
pub fn apply(
    cors: &Cors,
    request_headers: &[(String, String)],
    answer: &mut Vec<(String, String)>,
) {
    answer.retain(|(n, _)| {
        let n = n.to_ascii_lowercase();
        !n.starts_with("access-control-")
    });
    if let Some(origin) = header(request_headers, "origin") {
        answer.extend(cors.simple(origin));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
        header(h, k)
    }

    #[test]
    fn parse_table() {
        // (input, refusal fragment or None when accepted)
        let cases: Vec<(Value, Option<&str>)> = vec![
            (json!({}), None),
            (
                json!({"allowOrigins": ["https://a.example"], "maxAge": -1}),
                None,
            ),
            (
                json!({"allowMethods": ["GET", "OPTIONS", "*"], "maxAge": 86400}),
                None,
            ),
            (json!({"maxAge": 86401}), Some("maxAge")),
            (json!({"maxAge": -2}), Some("maxAge")),
            (json!({"maxAge": "10"}), Some("maxAge")),
            (
                json!({"allowOrigins": "https://a.example"}),
                Some("allowOrigins"),
            ),
            (json!({"allowHeaders": [1]}), Some("allowHeaders")),
            (json!({"allowMethods": [""]}), Some("allowMethods")),
            (json!({"allowCredentials": "yes"}), Some("allowCredentials")),
            (
                json!({"allowOrigins": ["*"], "allowCredentials": true}),
                Some("allow-credentials is not supported if 'allow-origin' is *"),
            ),
            (
                json!({"allowOrigins": ["*"], "allowCredentials": false}),
                None,
            ),
            (json!([1]), Some("must be an object")),
        ];
        for (input, want) in cases {
            let got = parse(&input);
            match want {
                None => assert!(got.is_ok(), "{input}: {got:?}"),
                Some(frag) => {
                    let e = got.expect_err(&input.to_string());
                    assert!(e.0.contains(frag), "{input}: {e}");
                }
            }
        }
    }

    #[test]
    fn render_round_trips() {
        let v = json!({"allowOrigins": ["https://a.example"], "allowMethods": ["GET"],
                       "allowCredentials": true, "maxAge": 300, "exposeHeaders": ["x-id"]});
        assert_eq!(render(&parse(&v).unwrap()), v);
    }

    #[test]
    fn preflight_and_apply() {
        let cors = parse(&json!({
            "allowOrigins": ["https://app.example"],
            "allowMethods": ["GET", "POST"],
            "allowHeaders": ["content-type"],
            "exposeHeaders": ["x-request-id"],
            "allowCredentials": true,
            "maxAge": 600,
        }))
        .unwrap();
        let req = hs(&[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ]);
        assert!(is_preflight("OPTIONS", &req));
        assert!(!is_preflight("GET", &req));
        assert!(!is_preflight("OPTIONS", &hs(&[("origin", "x")])));
        let h = preflight(&cors, &req);
        assert_eq!(
            get(&h, "access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(get(&h, "access-control-allow-methods"), Some("GET,POST"));
        assert_eq!(
            get(&h, "access-control-allow-headers"),
            Some("content-type")
        );
        assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(get(&h, "access-control-max-age"), Some("600"));
        let evil = hs(&[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "GET"),
        ]);
        assert!(preflight(&cors, &evil).is_empty());
        let delete = hs(&[
            ("origin", "https://app.example"),
            ("access-control-request-method", "DELETE"),
        ]);
        assert!(preflight(&cors, &delete).is_empty());

        let mut answer = hs(&[
            ("content-type", "text/plain"),
            ("Access-Control-Allow-Origin", "*"),
            ("access-control-max-age", "1"),
        ]);
        apply(
            &cors,
            &hs(&[("origin", "https://app.example")]),
            &mut answer,
        );
        assert_eq!(get(&answer, "content-type"), Some("text/plain"));
        assert_eq!(
            get(&answer, "access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(
            get(&answer, "access-control-expose-headers"),
            Some("x-request-id")
        );
        assert_eq!(get(&answer, "access-control-max-age"), None);
        let mut answer = hs(&[("access-control-allow-origin", "*")]);
        apply(
            &cors,
            &hs(&[("origin", "https://evil.example")]),
            &mut answer,
        );
        assert!(answer.is_empty());
    }
}
