//! Function URL configurations (CreateFunctionUrlConfig and friends): the stored value,
//! its validation and the CORS answers computed from it. Pure; the event and response
//! mapping of a URL request is [`crate::url_event`]. Contracts: docs/wire.md §21.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Violations};

/// Lambda's url id: 32 characters of `[a-z0-9]`.
pub const URL_ID_LEN: usize = 32;

/// How a URL authenticates callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthType {
    #[serde(rename = "NONE")]
    None,
    /// Accepted and stored; requests are refused (403) until SigV4 identities exist.
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "NONE",
            AuthType::AwsIam => "AWS_IAM",
        }
    }
    fn parse(raw: &str, v: &mut Violations) -> Option<Self> {
        match raw {
            "NONE" => Some(AuthType::None),
            "AWS_IAM" => Some(AuthType::AwsIam),
            _ => {
                v.push(
                    raw,
                    "authType",
                    "Member must satisfy enum value set: [NONE, AWS_IAM]",
                );
                None
            }
        }
    }
}

/// The CORS settings of a URL, as the API shows them (members absent when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// The methods `AllowMethods` may name (the API reference's allowed values).
const METHODS: [&str; 7] = ["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"];

impl Cors {
    /// The model's constraints (list sizes, lengths, MaxAge range) and the allowed methods.
    pub fn validate(&self, v: &mut Violations) {
        fn list(
            v: &mut Violations,
            items: &Option<Vec<String>>,
            member: &str,
            max_items: usize,
            min_len: usize,
            max_len: usize,
        ) {
            let Some(items) = items else { return };
            if items.len() > max_items {
                v.push(
                    format!("[{}]", items.join(", ")),
                    member,
                    format!("Member must have length less than or equal to {max_items}"),
                );
            }
            for item in items {
                let m = format!("{member}.member");
                if item.len() > max_len {
                    v.push(
                        item.as_str(),
                        &m,
                        format!("Member must have length less than or equal to {max_len}"),
                    );
                } else if item.len() < min_len {
                    v.push(
                        item.as_str(),
                        &m,
                        format!("Member must have length greater than or equal to {min_len}"),
                    );
                }
            }
        }
        list(v, &self.allow_headers, "cors.allowHeaders", 100, 0, 1024);
        list(v, &self.expose_headers, "cors.exposeHeaders", 100, 0, 1024);
        list(v, &self.allow_origins, "cors.allowOrigins", 100, 1, 253);
        list(v, &self.allow_methods, "cors.allowMethods", 6, 0, 6);
        for m in self.allow_methods.iter().flatten() {
            if m.len() <= 6 && !METHODS.contains(&m.to_ascii_uppercase().as_str()) {
                v.push(
                    m.as_str(),
                    "cors.allowMethods.member",
                    "Member must satisfy enum value set: [GET, PUT, HEAD, POST, PATCH, DELETE, *]",
                );
            }
        }
        if let Some(age) = self.max_age {
            if age > 86400 {
                v.push(
                    age.to_string(),
                    "cors.maxAge",
                    "Member must have value less than or equal to 86400",
                );
            } else if age < 0 {
                v.push(
                    age.to_string(),
                    "cors.maxAge",
                    "Member must have value greater than or equal to 0",
                );
            }
        }
    }

    /// The origin to echo in `Access-Control-Allow-Origin`, when `origin` is allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        let origins = self.allow_origins.as_deref().unwrap_or_default();
        if origins.iter().any(|o| o == "*") {
            // A wildcard with credentials must name the origin (browsers refuse `*`).
            return Some(if self.allow_credentials == Some(true) {
                origin.to_string()
            } else {
                "*".to_string()
            });
        }
        origins
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin))
            .map(|_| origin.to_string())
    }

    /// The headers of the answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), answered without invoking the function. A
    /// disallowed origin or method gets no CORS headers, so the browser refuses.
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        request_headers: Option<&str>,
    ) -> Vec<(String, String)> {
        let Some(allow_origin) = self.allowed_origin(origin) else {
            return Vec::new();
        };
        let methods = self.allow_methods.as_deref().unwrap_or_default();
        let method_ok = methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(method));
        if !method_ok {
            return Vec::new();
        }
        let mut h = vec![
            ("access-control-allow-origin".to_string(), allow_origin),
            (
                "access-control-allow-methods".to_string(),
                if methods.iter().any(|m| m == "*") {
                    method.to_string()
                } else {
                    methods.join(",")
                },
            ),
        ];
        let allowed = self.allow_headers.as_deref().unwrap_or_default();
        if let Some(asked) = request_headers.filter(|a| !a.trim().is_empty()) {
            let value = if allowed.iter().any(|a| a == "*") {
                asked.to_string()
            } else {
                allowed.join(",")
            };
            if !value.is_empty() {
                h.push(("access-control-allow-headers".to_string(), value));
            }
        }
        if self.allow_credentials == Some(true) {
            h.push((
                "access-control-allow-credentials".to_string(),
                "true".to_string(),
            ));
        }
        if let Some(age) = self.max_age {
            h.push(("access-control-max-age".to_string(), age.to_string()));
        }
        h.push(("vary".to_string(), "Origin".to_string()));
        h
    }

    /// The CORS headers added to an ordinary response for a request from `origin`.
    pub fn simple(&self, origin: &str) -> Vec<(String, String)> {
        let Some(allow_origin) = self.allowed_origin(origin) else {
            return Vec::new();
        };
        let mut h = vec![("access-control-allow-origin".to_string(), allow_origin)];
        if self.allow_credentials == Some(true) {
            h.push((
                "access-control-allow-credentials".to_string(),
                "true".to_string(),
            ));
        }
        if let Some(expose) = self.expose_headers.as_ref().filter(|e| !e.is_empty()) {
            h.push((
                "access-control-expose-headers".to_string(),
                expose.join(","),
            ));
        }
        h.push(("vary".to_string(), "Origin".to_string()));
        h
    }
}

/// A stored function URL configuration: one per function (unqualified) or alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrlConfig {
    pub url_id: String,
    pub function_name: String,
    /// The alias it targets; None for the unqualified function (`$LATEST`).
    pub qualifier: Option<String>,
    pub auth_type: AuthType,
    pub cors: Option<Cors>,
    pub invoke_mode: InvokeMode,
    /// ISO-8601 with milliseconds, like Lambda's `2021-10-31T12:00:00.000000Z` members.
    pub creation_time: String,
    pub last_modified_time: String,
}

/// How a URL invokes its function: `Buffered` waits for the whole answer (6 MB) and
/// maps it as a payload 2.0 response; `ResponseStream` passes the function's streamed
/// output on as it is written (docs/wire.md §21.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvokeMode {
    #[default]
    Buffered,
    ResponseStream,
}

impl InvokeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            InvokeMode::Buffered => "BUFFERED",
            InvokeMode::ResponseStream => "RESPONSE_STREAM",
        }
    }

    /// The stored or given name; None for anything else.
    pub fn from_name(raw: &str) -> Option<Self> {
        match raw {
            "BUFFERED" => Some(InvokeMode::Buffered),
            "RESPONSE_STREAM" => Some(InvokeMode::ResponseStream),
            _ => None,
        }
    }
}

/// The body members of Create/UpdateFunctionUrlConfig, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrlInput {
    pub auth_type: Option<String>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<String>,
}

/// A validated input: what Create stores, or what Update changes (None = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionUrlChange {
    pub auth_type: Option<AuthType>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<InvokeMode>,
}

impl FunctionUrlInput {
    /// Checks every member; `AuthType` is required on create.
    pub fn validate(&self, creating: bool) -> Result<FunctionUrlChange, ModelError> {
        let mut v = Violations::new();
        let auth_type = match &self.auth_type {
            Some(raw) => AuthType::parse(raw, &mut v),
            None if creating => {
                v.push("null", "authType", "Member must not be null".to_string());
                None
            }
            None => None,
        };
        let invoke_mode = match self.invoke_mode.as_deref() {
            None => None,
            Some(raw) => {
                let m = InvokeMode::from_name(raw);
                if m.is_none() {
                    v.push(
                        raw,
                        "invokeMode",
                        "Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]",
                    );
                }
                m
            }
        };
        if let Some(c) = &self.cors {
            c.validate(&mut v);
        }
        v.into_result()?;
        Ok(FunctionUrlChange {
            auth_type,
            cors: self.cors.clone(),
            invoke_mode,
        })
    }
}

/// Whether `q` may carry a URL: an alias name (the model's `FunctionUrlQualifier`:
/// `[0-9a-zA-Z-_]+`, not all digits, at most 128). `$LATEST` and versions may not.
pub fn check_qualifier(q: &str) -> Result<(), ModelError> {
    let ok = !q.is_empty()
        && q.len() <= 128
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !q.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        let mut v = Violations::new();
        v.push(
            q,
            "qualifier",
            "Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)",
        );
        v.into_result()
    }
}

/// Whether `id` has the shape of a url id (so a Host that is not one is not looked up).
pub fn is_url_id(id: &str) -> bool {
    id.len() == URL_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_credentials: None,
            allow_headers: Some(vec!["content-type".into(), "x-custom".into()]),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_origins: Some(vec!["https://www.example.com".into()]),
            expose_headers: Some(vec!["x-trace".into()]),
            max_age: Some(300),
        }
    }

    #[test]
    fn validation_table() {
        let cases: Vec<(FunctionUrlInput, bool, Option<&str>)> = vec![
            (
                FunctionUrlInput {
                    auth_type: Some("NONE".into()),
                    ..Default::default()
                },
                true,
                None,
            ),
            (
                FunctionUrlInput::default(),
                true,
                Some("Value null at 'authType'"),
            ),
            (FunctionUrlInput::default(), false, None),
            (
                FunctionUrlInput {
                    auth_type: Some("OPEN".into()),
                    ..Default::default()
                },
                true,
                Some("Value 'OPEN' at 'authType'"),
            ),
            (
                FunctionUrlInput {
                    auth_type: Some("NONE".into()),
                    cors: Some(Cors {
                        max_age: Some(86401),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                true,
                Some("Value '86401' at 'cors.maxAge'"),
            ),
            (
                FunctionUrlInput {
                    auth_type: Some("NONE".into()),
                    cors: Some(Cors {
                        allow_methods: Some(vec!["FETCH".into()]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                true,
                Some("Value 'FETCH' at 'cors.allowMethods.member'"),
            ),
            (
                FunctionUrlInput {
                    auth_type: Some("NONE".into()),
                    invoke_mode: Some("FAST".into()),
                    ..Default::default()
                },
                true,
                Some("Value 'FAST' at 'invokeMode'"),
            ),
            (
                FunctionUrlInput {
                    auth_type: Some("NONE".into()),
                    invoke_mode: Some("RESPONSE_STREAM".into()),
                    ..Default::default()
                },
                true,
                None,
            ),
        ];
        for (input, creating, want) in cases {
            let got = input.validate(creating);
            match want {
                None => assert!(got.is_ok(), "{input:?}: {got:?}"),
                Some(w) => {
                    let msg = got.expect_err("refused").to_string();
                    assert!(msg.contains(w), "{msg} lacks {w}");
                }
            }
        }
    }

    #[test]
    fn qualifiers() {
        assert!(check_qualifier("live").is_ok());
        assert!(check_qualifier("v1_a-b").is_ok());
        assert!(check_qualifier("1").is_err());
        assert!(check_qualifier("$LATEST").is_err());
        assert!(check_qualifier("").is_err());
    }

    #[test]
    fn preflight_answers_allowed_origins_only() {
        let c = cors();
        let h = c.preflight("https://www.example.com", "POST", Some("content-type"));
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("access-control-allow-origin"),
            Some("https://www.example.com")
        );
        assert_eq!(get("access-control-allow-methods"), Some("GET,POST"));
        assert_eq!(
            get("access-control-allow-headers"),
            Some("content-type,x-custom")
        );
        assert_eq!(get("access-control-max-age"), Some("300"));
        assert!(c.preflight("https://evil.example", "POST", None).is_empty());
        assert!(c
            .preflight("https://www.example.com", "DELETE", None)
            .is_empty());
    }

    #[test]
    fn wildcard_origin_with_credentials_names_the_origin() {
        let c = Cors {
            allow_origins: Some(vec!["*".into()]),
            allow_credentials: Some(true),
            ..Default::default()
        };
        let h = c.simple("http://localhost:3000");
        assert!(h.contains(&(
            "access-control-allow-origin".into(),
            "http://localhost:3000".into()
        )));
        assert!(h.contains(&("access-control-allow-credentials".into(), "true".into())));
    }
}
