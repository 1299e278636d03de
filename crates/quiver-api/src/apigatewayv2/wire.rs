//! What every apigatewayv2 handler shares: reading the camelCase body, the refusals
//! worded as API Gateway words them, the rendering of each resource, loading and
//! editing the stored API in one store transaction, and list pagination.

use axum::body::Body;
use axum::http::HeaderMap;
use base64::Engine as _;
use quiver_model::http_api::{HttpApi, HttpDeployment, HttpIntegration, HttpRoute, HttpStage};
use quiver_model::http_api_cors;
use quiver_model::http_api_route::{is_resource_id, resource_id, RouteKey, RESOURCE_ID_LEN};
use quiver_model::{format_iso_millis, FunctionRef};
use quiver_store::StoreError;
use serde_json::{json, Map, Value};

use super::GatewayError;
use crate::body::read_limited;
use crate::query;
use crate::state::AppState;

/// Control-plane bodies are small.
const BODY_LIMIT: u64 = 1 << 20;
/// API Gateway's bounds on TimeoutInMillis for HTTP APIs; 30000 is also the default.
pub const TIMEOUT_MIN: u64 = 50;
pub const TIMEOUT_MAX: u64 = 30_000;

pub type Result<T> = std::result::Result<T, GatewayError>;

pub fn now() -> String {
    format_iso_millis(time::OffsetDateTime::now_utc())
}

pub fn new_id() -> String {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let mut random = [0u8; RESOURCE_ID_LEN];
    random.copy_from_slice(&bytes[..RESOURCE_ID_LEN]);
    resource_id(random)
}

/// API Gateway names the account with the id it could not find.
pub fn api_not_found(state: &AppState, api_id: &str) -> GatewayError {
    GatewayError::NotFound(format!(
        "Invalid API identifier specified {}:{api_id}",
        state.partition.account
    ))
}

pub fn bad(msg: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(msg.into())
}

pub async fn body_object(headers: &HeaderMap, body: Body, op: &str) -> Result<Map<String, Value>> {
    let bytes = read_limited(headers, body, BODY_LIMIT, op).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("Could not parse request body into json")),
    }
}

pub fn opt_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("Invalid input: {key} must be a string"))),
    }
}

pub fn required_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str> {
    opt_str(m, key)?.ok_or_else(|| bad(format!("Invalid input: {key} must not be null")))
}

pub fn opt_bool(m: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(format!("Invalid input: {key} must be a boolean"))),
    }
}

/// A string map member (`tags`, `stageVariables`).
pub fn opt_string_map(
    m: &Map<String, Value>,
    key: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    let refuse = || bad(format!("Invalid input: {key} must be a map of strings"));
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or_else(refuse)?.to_string())))
            .collect::<Result<_>>()
            .map(Some),
        Some(_) => Err(refuse()),
    }
}

/// A description: 0–1024 characters (botocore's StringWithLengthBetween0And1024).
pub fn opt_description(m: &Map<String, Value>) -> Result<Option<String>> {
    let d = opt_str(m, "description")?;
    if d.is_some_and(|d| d.chars().count() > 1024) {
        return Err(bad(
            "Invalid description specified: must be at most 1024 characters",
        ));
    }
    Ok(d.map(str::to_string))
}

/// Where this server answers the API: the function URL scheme and port under
/// `<api-id>.execute-api.<region>.<domain>`.
fn api_endpoint(state: &AppState, api_id: &str) -> String {
    state
        .function_url(api_id)
        .replacen(".lambda-url.", ".execute-api.", 1)
        .trim_end_matches('/')
        .to_string()
}

pub fn render_api(state: &AppState, a: &HttpApi) -> Value {
    let mut v = json!({
        "apiEndpoint": api_endpoint(state, &a.api_id),
        "apiId": a.api_id,
        "apiKeySelectionExpression": "$request.header.x-api-key",
        "createdDate": a.created_date,
        "disableExecuteApiEndpoint": a.disable_execute_api_endpoint,
        "name": a.name,
        "protocolType": "HTTP",
        "routeSelectionExpression": "$request.method $request.path",
        "tags": a.tags,
    });
    if let Some(d) = &a.description {
        v["description"] = json!(d);
    }
    if let Some(c) = &a.cors {
        v["corsConfiguration"] = http_api_cors::render(c);
    }
    if let Some(ver) = &a.version {
        v["version"] = json!(ver);
    }
    v
}

pub fn render_route(r: &HttpRoute) -> Value {
    let mut v = json!({
        "apiKeyRequired": false,
        "authorizationType": "NONE",
        "routeId": r.route_id,
        "routeKey": r.route_key,
    });
    if let Some(t) = &r.target {
        v["target"] = json!(t);
    }
    v
}

pub fn render_integration(i: &HttpIntegration) -> Value {
    json!({
        "connectionType": "INTERNET",
        "integrationId": i.integration_id,
        "integrationMethod": "POST",
        "integrationType": "AWS_PROXY",
        "integrationUri": i.integration_uri,
        "payloadFormatVersion": i.payload_format_version,
        "timeoutInMillis": i.timeout_in_millis,
    })
}

pub fn render_stage(s: &HttpStage) -> Value {
    let mut v = json!({
        "autoDeploy": s.auto_deploy,
        "createdDate": s.created_date,
        "lastUpdatedDate": s.last_updated_date,
        "stageName": s.stage_name,
        "stageVariables": s.stage_variables,
        "defaultRouteSettings": {"detailedMetricsEnabled": false},
        "routeSettings": {},
        "tags": {},
    });
    if let Some(d) = &s.deployment_id {
        v["deploymentId"] = json!(d);
    }
    if let Some(d) = &s.description {
        v["description"] = json!(d);
    }
    v
}

pub fn render_deployment(d: &HttpDeployment) -> Value {
    let mut v = json!({
        "autoDeployed": false,
        "createdDate": d.created_date,
        "deploymentId": d.deployment_id,
        "deploymentStatus": "DEPLOYED",
    });
    if let Some(desc) = &d.description {
        v["description"] = json!(desc);
    }
    v
}

/// A function ARN or name that an integration may target: it must exist now (the
/// trigger resolves it again on every request).
pub async fn check_function(state: &AppState, uri: &str) -> Result<()> {
    let refuse = || bad(format!("Invalid integration URI specified: {uri}"));
    let f = FunctionRef::parse(uri, "integrationUri").map_err(|_| refuse())?;
    let (name, q) = (f.name.clone(), f.qualifier.clone());
    let found = state
        .store(move |s| s.resolve(&name, q.as_deref()))
        .await??;
    if found.is_none() {
        return Err(bad(format!(
            "Integration URI names a function that does not exist: {uri}"
        )));
    }
    Ok(())
}

pub fn route_key(raw: &str) -> Result<()> {
    RouteKey::parse(raw)
        .map(|_| ())
        .map_err(|e| GatewayError::BadRequest(e.to_string()))
}

/// A route's `target` must name an integration of the same API.
pub fn check_target(api: &HttpApi, target: &str) -> Result<()> {
    let known = target
        .strip_prefix("integrations/")
        .is_some_and(|id| api.integrations.iter().any(|i| i.integration_id == id));
    if known {
        Ok(())
    } else {
        Err(bad(format!("Invalid target specified: {target}")))
    }
}

fn checked_api_id(state: &AppState, raw: &str) -> Result<String> {
    if is_resource_id(raw) {
        Ok(raw.to_string())
    } else {
        Err(api_not_found(state, raw))
    }
}

pub async fn load(state: &AppState, api_id: &str) -> Result<HttpApi> {
    let id = checked_api_id(state, api_id)?;
    state
        .store(move |s| s.get_http_api(&id))
        .await??
        .ok_or_else(|| api_not_found(state, api_id))
}

/// Applies `f` to the stored API in one store transaction; a refusal by `f` (a
/// duplicate, an unknown id) comes back as it was given and nothing is written.
pub async fn edit(
    state: &AppState,
    api_id: &str,
    f: impl FnMut(&mut HttpApi) -> Result<()> + Send + 'static,
) -> Result<HttpApi> {
    let id = checked_api_id(state, api_id)?;
    let mut f = f;
    let outcome = state
        .store(move |s| {
            let mut refusal = None;
            let written = s.update_http_api(&id, &mut |a| {
                f(a).map_err(|e| {
                    refusal = Some(e);
                    StoreError::Conflict("refused by the edit".into())
                })
            });
            match refusal {
                Some(e) => Ok(Err(e)),
                None => Ok(Ok(written)),
            }
        })
        .await??;
    match outcome? {
        Ok(api) => Ok(api),
        Err(StoreError::NotFound) => Err(api_not_found(state, api_id)),
        Err(e) => Err(e.into()),
    }
}

/// One page of a Get* list: `maxResults` (a positive integer; every item when
/// absent) and `nextToken` (opaque: the key of the last item of the previous page).
/// `items` come as (key, rendered) and are ordered by key, so a page stays right
/// when items are added or removed between calls.
pub fn page(raw_query: Option<&str>, mut items: Vec<(String, Value)>) -> Result<Value> {
    let pairs = query::pairs(raw_query);
    let limit = match query::first(&pairs, "maxResults") {
        None => usize::MAX,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(bad(format!(
                    "Invalid maxResults specified: {m}; must be a positive integer"
                )))
            }
        },
    };
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(token) = query::first(&pairs, "nextToken").filter(|t| !t.is_empty()) {
        let after = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad(format!("Invalid pagination token specified: {token}")))?;
        items.retain(|(k, _)| *k > after);
    }
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&items[limit - 1].0)
    });
    let mut v = json!({ "items": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>() });
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(keys: &[&str]) -> Vec<(String, Value)> {
        keys.iter().map(|k| (k.to_string(), json!(k))).collect()
    }

    #[test]
    fn pages_follow_the_token_and_survive_removals() {
        let first = page(Some("maxResults=2"), items(&["c", "a", "b", "d"])).unwrap();
        assert_eq!(first["items"], json!(["a", "b"]));
        let token = first["nextToken"].as_str().unwrap().to_string();
        // "b" (the token's key) removed meanwhile: the next page still starts at "c".
        let q = format!("maxResults=2&nextToken={token}");
        let second = page(Some(&q), items(&["a", "c", "d"])).unwrap();
        assert_eq!(second["items"], json!(["c", "d"]));
        assert!(second.get("nextToken").is_none());
        let all = page(None, items(&["b", "a"])).unwrap();
        assert_eq!(all, json!({"items": ["a", "b"]}));
        for bad in ["maxResults=0", "maxResults=x", "nextToken=%25%25"] {
            assert!(page(Some(bad), items(&["a"])).is_err(), "{bad}");
        }
    }
}
