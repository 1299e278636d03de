//! The handlers of the `/v2/apis` routes: parse the camelCase body, check it against the
//! model, edit the stored API in one store transaction, render camelCase.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::http_api::{HttpApi, HttpIntegration, HttpRoute, HttpStage};
use quiver_model::http_api_route::{is_resource_id, resource_id, RouteKey, RESOURCE_ID_LEN};
use quiver_model::{format_iso_millis, FunctionRef};
use quiver_store::StoreError;
use serde_json::{json, Map, Value};

use super::GatewayError;
use crate::body::read_limited;
use crate::state::AppState;

/// Control-plane bodies are small.
const BODY_LIMIT: u64 = 1 << 20;
/// API Gateway's bounds on TimeoutInMillis for HTTP APIs; 30000 is also the default.
const TIMEOUT_MIN: u64 = 50;
const TIMEOUT_MAX: u64 = 30_000;

type Result<T> = std::result::Result<T, GatewayError>;

fn now() -> String {
    format_iso_millis(time::OffsetDateTime::now_utc())
}

fn new_id() -> String {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let mut random = [0u8; RESOURCE_ID_LEN];
    random.copy_from_slice(&bytes[..RESOURCE_ID_LEN]);
    resource_id(random)
}

fn api_not_found() -> GatewayError {
    GatewayError::NotFound("Invalid API identifier specified".into())
}

async fn body_object(headers: &HeaderMap, body: Body, op: &str) -> Result<Map<String, Value>> {
    let bytes = read_limited(headers, body, BODY_LIMIT, op).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(GatewayError::BadRequest(
            "Could not parse request body into json".into(),
        )),
    }
}

fn opt_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(GatewayError::BadRequest(format!(
            "Invalid input: {key} must be a string"
        ))),
    }
}

fn required_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str> {
    opt_str(m, key)?
        .ok_or_else(|| GatewayError::BadRequest(format!("Invalid input: {key} must not be null")))
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

fn render_api(state: &AppState, a: &HttpApi) -> Value {
    let mut v = json!({
        "apiEndpoint": api_endpoint(state, &a.api_id),
        "apiId": a.api_id,
        "apiKeySelectionExpression": "$request.header.x-api-key",
        "createdDate": a.created_date,
        "disableExecuteApiEndpoint": false,
        "name": a.name,
        "protocolType": "HTTP",
        "routeSelectionExpression": "$request.method $request.path",
        "tags": {},
    });
    if let Some(d) = &a.description {
        v["description"] = json!(d);
    }
    v
}

fn render_route(r: &HttpRoute) -> Value {
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

fn render_integration(i: &HttpIntegration) -> Value {
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

fn render_stage(s: &HttpStage) -> Value {
    json!({
        "autoDeploy": s.auto_deploy,
        "createdDate": s.created_date,
        "lastUpdatedDate": s.last_updated_date,
        "stageName": s.stage_name,
        "stageVariables": s.stage_variables,
        "defaultRouteSettings": {"detailedMetricsEnabled": false},
        "routeSettings": {},
        "tags": {},
    })
}

/// A function ARN or name that an integration may target: it must exist now (the
/// trigger resolves it again on every request).
async fn check_function(state: &AppState, uri: &str) -> Result<()> {
    let bad = || GatewayError::BadRequest(format!("Invalid integration URI specified: {uri}"));
    let f = FunctionRef::parse(uri, "integrationUri").map_err(|_| bad())?;
    let (name, q) = (f.name.clone(), f.qualifier.clone());
    let found = state
        .store(move |s| s.resolve(&name, q.as_deref()))
        .await??;
    if found.is_none() {
        return Err(GatewayError::BadRequest(format!(
            "Integration URI names a function that does not exist: {uri}"
        )));
    }
    Ok(())
}

fn route_key(raw: &str) -> Result<()> {
    RouteKey::parse(raw)
        .map(|_| ())
        .map_err(|e| GatewayError::BadRequest(e.to_string()))
}

fn checked_api_id(raw: &str) -> Result<String> {
    if is_resource_id(raw) {
        Ok(raw.to_string())
    } else {
        Err(api_not_found())
    }
}

async fn load(state: &AppState, api_id: &str) -> Result<HttpApi> {
    let id = checked_api_id(api_id)?;
    state
        .store(move |s| s.get_http_api(&id))
        .await??
        .ok_or_else(api_not_found)
}

/// Applies `f` to the stored API in one store transaction; a refusal by `f` (a
/// duplicate, an unknown id) comes back as it was given and nothing is written.
async fn edit(
    state: &AppState,
    api_id: &str,
    f: impl FnMut(&mut HttpApi) -> Result<()> + Send + 'static,
) -> Result<HttpApi> {
    let id = checked_api_id(api_id)?;
    let mut f = f;
    state
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
                None => Ok(Ok(written?)),
            }
        })
        .await??
}

fn default_stage() -> HttpStage {
    let t = now();
    HttpStage {
        stage_name: "$default".into(),
        auto_deploy: true,
        stage_variables: Default::default(),
        created_date: t.clone(),
        last_updated_date: t,
    }
}

/// CreateApi, including quick create (`target` with an optional `routeKey`): one
/// AWS_PROXY integration (payload 2.0), one route (`$default` unless named) and the
/// auto-deployed `$default` stage.
pub async fn create_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateApi").await?;
    let name = required_str(&m, "name")?;
    if name.is_empty() || name.len() > 128 {
        return Err(GatewayError::BadRequest(
            "Invalid API name specified: must be 1-128 characters".into(),
        ));
    }
    match required_str(&m, "protocolType")? {
        "HTTP" => {}
        "WEBSOCKET" => {
            return Err(GatewayError::BadRequest(
                "WebSocket APIs are not supported by this server".into(),
            ))
        }
        other => {
            return Err(GatewayError::BadRequest(format!(
                "Invalid protocol type specified: {other}"
            )))
        }
    }
    let target = opt_str(&m, "target")?;
    let key = opt_str(&m, "routeKey")?;
    if key.is_some() && target.is_none() {
        return Err(GatewayError::BadRequest(
            "RouteKey can only be specified together with Target".into(),
        ));
    }
    let mut api = HttpApi {
        api_id: new_id(),
        name: name.to_string(),
        description: opt_str(&m, "description")?.map(str::to_string),
        created_date: now(),
        routes: vec![],
        integrations: vec![],
        stages: vec![],
    };
    if let Some(target) = target {
        let key = key.unwrap_or("$default");
        route_key(key)?;
        check_function(&state, target).await?;
        let integration_id = new_id();
        api.routes.push(HttpRoute {
            route_id: new_id(),
            route_key: key.to_string(),
            target: Some(format!("integrations/{integration_id}")),
        });
        api.integrations.push(HttpIntegration {
            integration_id,
            integration_uri: target.to_string(),
            payload_format_version: "2.0".into(),
            timeout_in_millis: TIMEOUT_MAX as u32,
        });
        api.stages.push(default_stage());
    }
    let stored = api.clone();
    state.store(move |s| s.create_http_api(&stored)).await??;
    Ok((StatusCode::CREATED, Json(render_api(&state, &api))).into_response())
}

pub async fn get_api(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<Json<Value>> {
    let a = load(&state, &api).await?;
    Ok(Json(render_api(&state, &a)))
}

pub async fn get_apis(State(state): State<AppState>) -> Result<Json<Value>> {
    let all = state.store(|s| s.list_http_apis()).await??;
    let items: Vec<Value> = all.iter().map(|a| render_api(&state, a)).collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn delete_api(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<StatusCode> {
    let id = checked_api_id(&api)?;
    if state.store(move |s| s.delete_http_api(&id)).await?? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(api_not_found())
    }
}

/// A route's `target` must name an integration of the same API.
fn check_target(api: &HttpApi, target: &str) -> Result<()> {
    let known = target
        .strip_prefix("integrations/")
        .is_some_and(|id| api.integrations.iter().any(|i| i.integration_id == id));
    if known {
        Ok(())
    } else {
        Err(GatewayError::BadRequest(format!(
            "Invalid target specified: {target}"
        )))
    }
}

pub async fn create_route(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateRoute").await?;
    let key = required_str(&m, "routeKey")?.to_string();
    route_key(&key)?;
    let target = opt_str(&m, "target")?.map(str::to_string);
    let route = HttpRoute {
        route_id: new_id(),
        route_key: key.clone(),
        target,
    };
    let stored = route.clone();
    edit(&state, &api, move |a| {
        if a.routes.iter().any(|r| r.route_key == stored.route_key) {
            return Err(GatewayError::Conflict(format!(
                "Route with key {} already exists for this API",
                stored.route_key
            )));
        }
        if let Some(t) = &stored.target {
            check_target(a, t)?;
        }
        a.routes.push(stored.clone());
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(render_route(&route))).into_response())
}

pub async fn get_routes(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<Json<Value>> {
    let a = load(&state, &api).await?;
    let items: Vec<Value> = a.routes.iter().map(render_route).collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn delete_route(
    State(state): State<AppState>,
    Path((api, route)): Path<(String, String)>,
) -> Result<StatusCode> {
    edit(&state, &api, move |a| {
        let before = a.routes.len();
        a.routes.retain(|r| r.route_id != route);
        if a.routes.len() == before {
            return Err(GatewayError::NotFound(
                "Invalid Route identifier specified".into(),
            ));
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn create_integration(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateIntegration").await?;
    let kind = required_str(&m, "integrationType")?;
    if kind != "AWS_PROXY" {
        return Err(GatewayError::BadRequest(format!(
            "Unsupported integration type: {kind}; this server supports AWS_PROXY"
        )));
    }
    let uri = required_str(&m, "integrationUri")?.to_string();
    let version = match opt_str(&m, "payloadFormatVersion")? {
        Some(v @ ("1.0" | "2.0")) => v.to_string(),
        Some(other) => {
            return Err(GatewayError::BadRequest(format!(
                "Invalid payload format version specified: {other}"
            )))
        }
        None => {
            return Err(GatewayError::BadRequest(
                "PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs".into(),
            ))
        }
    };
    let timeout = match m.get("timeoutInMillis") {
        None | Some(Value::Null) => TIMEOUT_MAX,
        Some(v) => match v.as_u64() {
            Some(t) if (TIMEOUT_MIN..=TIMEOUT_MAX).contains(&t) => t,
            _ => {
                return Err(GatewayError::BadRequest(format!(
                    "Invalid timeout specified: must be between {TIMEOUT_MIN} and {TIMEOUT_MAX} milliseconds"
                )))
            }
        },
    };
    load(&state, &api).await?;
    check_function(&state, &uri).await?;
    let integration = HttpIntegration {
        integration_id: new_id(),
        integration_uri: uri,
        payload_format_version: version,
        timeout_in_millis: timeout as u32,
    };
    let stored = integration.clone();
    edit(&state, &api, move |a| {
        a.integrations.push(stored.clone());
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(render_integration(&integration))).into_response())
}

pub async fn get_integrations(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<Json<Value>> {
    let a = load(&state, &api).await?;
    let items: Vec<Value> = a.integrations.iter().map(render_integration).collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn create_stage(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "CreateStage").await?;
    let name = required_str(&m, "stageName")?.to_string();
    let valid = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if !valid {
        return Err(GatewayError::BadRequest(format!(
            "Invalid stage name specified: {name}"
        )));
    }
    let auto_deploy = match m.get("autoDeploy") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(GatewayError::BadRequest(
                "Invalid input: autoDeploy must be a boolean".into(),
            ))
        }
    };
    let mut vars = std::collections::BTreeMap::new();
    match m.get("stageVariables") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                let v = v.as_str().ok_or_else(|| {
                    GatewayError::BadRequest(
                        "Invalid input: stage variables must be strings".into(),
                    )
                })?;
                vars.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => {
            return Err(GatewayError::BadRequest(
                "Invalid input: stageVariables must be a map".into(),
            ))
        }
    }
    let t = now();
    let stage = HttpStage {
        stage_name: name,
        auto_deploy,
        stage_variables: vars,
        created_date: t.clone(),
        last_updated_date: t,
    };
    let stored = stage.clone();
    edit(&state, &api, move |a| {
        if a.stages.iter().any(|s| s.stage_name == stored.stage_name) {
            return Err(GatewayError::Conflict(format!(
                "Stage already exists: {}",
                stored.stage_name
            )));
        }
        a.stages.push(stored.clone());
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(render_stage(&stage))).into_response())
}

pub async fn get_stages(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<Json<Value>> {
    let a = load(&state, &api).await?;
    let items: Vec<Value> = a.stages.iter().map(render_stage).collect();
    Ok(Json(json!({ "items": items })))
}
