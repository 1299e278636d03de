//! The API itself: CreateApi (with quick create), GetApi(s), UpdateApi, DeleteApi,
//! DeleteCorsConfiguration, and the tags of an API (`/v2/tags/{arn}`).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::http_api::{HttpApi, HttpIntegration, HttpRoute, HttpStage};
use quiver_model::http_api_cors;
use quiver_model::http_api_route::is_resource_id;
use serde_json::{json, Map, Value};

use super::wire::*;
use super::GatewayError;
use crate::query;
use crate::state::AppState;

/// API Gateway's tag limits: 50 per resource, keys 1–128, values 0–256.
const MAX_TAGS: usize = 50;

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(bad("Invalid API name specified: must be 1-128 characters"));
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(bad(format!(
                "Invalid tag key specified: {k}; must be 1-128 characters"
            )));
        }
        if v.chars().count() > 256 {
            return Err(bad(format!(
                "Invalid tag value specified for {k}: must be at most 256 characters"
            )));
        }
    }
    Ok(())
}

fn cors_member(m: &Map<String, Value>) -> Result<Option<http_api_cors::Cors>> {
    match m.get("corsConfiguration") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => http_api_cors::parse(v)
            .map(Some)
            .map_err(|e| GatewayError::BadRequest(e.0)),
    }
}

/// HTTP APIs route by method and path only.
fn check_route_selection(m: &Map<String, Value>) -> Result<()> {
    match opt_str(m, "routeSelectionExpression")? {
        None | Some("$request.method $request.path") => Ok(()),
        Some(other) => Err(bad(format!(
            "Invalid route selection expression specified: {other}; HTTP APIs support only $request.method $request.path"
        ))),
    }
}

fn default_stage() -> HttpStage {
    let t = now();
    HttpStage {
        stage_name: "$default".into(),
        auto_deploy: true,
        created_date: t.clone(),
        last_updated_date: t,
        ..Default::default()
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
    check_name(name)?;
    match required_str(&m, "protocolType")? {
        "HTTP" => {}
        "WEBSOCKET" => return Err(bad("WebSocket APIs are not supported by this server")),
        other => return Err(bad(format!("Invalid protocol type specified: {other}"))),
    }
    check_route_selection(&m)?;
    let target = opt_str(&m, "target")?;
    let key = opt_str(&m, "routeKey")?;
    if key.is_some() && target.is_none() {
        return Err(bad("RouteKey can only be specified together with Target"));
    }
    let tags = opt_string_map(&m, "tags")?.unwrap_or_default();
    check_tags(&tags)?;
    if tags.len() > MAX_TAGS {
        return Err(bad(format!(
            "Too many tags: at most {MAX_TAGS} are allowed"
        )));
    }
    let mut api = HttpApi {
        api_id: new_id(),
        name: name.to_string(),
        description: opt_description(&m)?,
        created_date: now(),
        cors: cors_member(&m)?,
        disable_execute_api_endpoint: opt_bool(&m, "disableExecuteApiEndpoint")?.unwrap_or(false),
        version: opt_str(&m, "version")?.map(str::to_string),
        tags,
        ..Default::default()
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

pub async fn get_apis(State(state): State<AppState>, RawQuery(q): RawQuery) -> Result<Json<Value>> {
    let all = state.store(|s| s.list_http_apis()).await??;
    let items = all
        .iter()
        .map(|a| (a.api_id.clone(), render_api(&state, a)))
        .collect();
    Ok(Json(page(q.as_deref(), items)?))
}

/// UpdateApi: the members given replace the stored ones; quick create's `target` /
/// `routeKey` and the WebSocket-only members are refused rather than ignored.
pub async fn update_api(
    State(state): State<AppState>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    let m = body_object(&headers, body, "UpdateApi").await?;
    for unsupported in ["target", "routeKey", "credentialsArn"] {
        if m.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(bad(format!(
                "{unsupported} is not supported by UpdateApi on this server"
            )));
        }
    }
    let name = opt_str(&m, "name")?.map(str::to_string);
    if let Some(n) = &name {
        check_name(n)?;
    }
    check_route_selection(&m)?;
    let description = opt_description(&m)?;
    let cors = cors_member(&m)?;
    let disable = opt_bool(&m, "disableExecuteApiEndpoint")?;
    let version = opt_str(&m, "version")?.map(str::to_string);
    let updated = edit(&state, &api, move |a| {
        if let Some(n) = &name {
            a.name = n.clone();
        }
        if description.is_some() {
            a.description = description.clone();
        }
        if cors.is_some() {
            a.cors = cors.clone();
        }
        if let Some(d) = disable {
            a.disable_execute_api_endpoint = d;
        }
        if version.is_some() {
            a.version = version.clone();
        }
        Ok(())
    })
    .await?;
    Ok(Json(render_api(&state, &updated)))
}

pub async fn delete_api(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<StatusCode> {
    if !is_resource_id(&api) {
        return Err(api_not_found(&state, &api));
    }
    let id = api.clone();
    if state.store(move |s| s.delete_http_api(&id)).await?? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(api_not_found(&state, &api))
    }
}

/// DeleteCorsConfiguration (`DELETE /v2/apis/{apiId}/cors`): the API stops answering
/// preflights and adding CORS headers.
pub async fn delete_cors(
    State(state): State<AppState>,
    Path(api): Path<String>,
) -> Result<StatusCode> {
    edit(&state, &api, |a| {
        a.cors = None;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The api id in an HTTP API's ARN, `arn:aws:apigateway:<region>::/apis/<id>`; other
/// resources (stages, domain names) cannot be tagged here yet.
fn tagged_api(state: &AppState, arn: &str) -> Result<String> {
    let refuse = || bad(format!("Invalid resource ARN specified: {arn}"));
    let rest = arn.strip_prefix("arn:").ok_or_else(refuse)?;
    let mut parts = rest.splitn(5, ':');
    let (Some(_partition), Some("apigateway"), Some(region), Some(""), Some(path)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(refuse());
    };
    let id = path.strip_prefix("/apis/").ok_or_else(refuse)?;
    if region != state.partition.region || !is_resource_id(id) {
        return Err(api_not_found(state, id));
    }
    Ok(id.to_string())
}

pub async fn tag_resource(
    State(state): State<AppState>,
    Path(arn): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let m = body_object(&headers, body, "TagResource").await?;
    let tags = opt_string_map(&m, "tags")?.unwrap_or_default();
    check_tags(&tags)?;
    let id = tagged_api(&state, &arn)?;
    edit(&state, &id, move |a| {
        a.tags.extend(tags.clone());
        if a.tags.len() > MAX_TAGS {
            return Err(bad(format!(
                "Too many tags: at most {MAX_TAGS} are allowed"
            )));
        }
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({}))).into_response())
}

pub async fn untag_resource(
    State(state): State<AppState>,
    Path(arn): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode> {
    let pairs = query::pairs(q.as_deref());
    let keys: Vec<String> = query::all(&pairs, "tagKeys")
        .into_iter()
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        return Err(bad("Invalid input: tagKeys must not be empty"));
    }
    let id = tagged_api(&state, &arn)?;
    edit(&state, &id, move |a| {
        for k in &keys {
            a.tags.remove(k);
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_tags(
    State(state): State<AppState>,
    Path(arn): Path<String>,
) -> Result<Json<Value>> {
    let id = tagged_api(&state, &arn)?;
    let a = load(&state, &id).await?;
    Ok(Json(json!({ "tags": a.tags })))
}
