//! Function URL configs: Create/Get/Update/Delete/ListFunctionUrlConfig(s) under
//! `/2021-10-31/functions/{FunctionName}/url(s)` (docs/wire.md §21). A config belongs
//! to the unqualified function or to one alias; `FunctionUrl` is where this server
//! answers it ([`crate::function_url`]).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use quiver_model::format_iso_millis;
use quiver_model::function_url::{check_qualifier, FunctionUrlConfig, FunctionUrlInput};
use quiver_store::StoreError;
use serde_json::{json, Value};

use super::{FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// A config body is small.
const BODY_LIMIT: u64 = 1 << 20;
/// ListFunctionUrlConfigs' MaxItems: 1-50 (the model). Markers are base64url of
/// `q:<last qualifier>` (empty for the unqualified function).
const LIST_MAX: i64 = 50;

/// The function and the alias (None = unqualified) a request names: `$LATEST` and
/// version numbers cannot have URLs (the model's `FunctionUrlQualifier`).
fn target(state: &AppState, raw: &str, q: Option<&str>) -> Result<Target, ApiError> {
    if let Some(q) = q {
        check_qualifier(q)?;
    }
    let t = Target::parse(state, raw, q)?;
    if let Some(q) = &t.qualifier {
        check_qualifier(q)?;
    }
    Ok(t)
}

/// The configuration as the API writes it; `with_modified`: Get/Update/List carry
/// LastModifiedTime, Create does not (the model's output shapes).
pub fn render(state: &AppState, c: &FunctionUrlConfig, with_modified: bool) -> Value {
    let mut v = json!({
        "FunctionUrl": state.function_url(&c.url_id),
        "FunctionArn": state.partition.function_arn(&c.function_name, c.qualifier.as_deref()),
        "AuthType": c.auth_type.as_str(),
        "CreationTime": c.creation_time,
        "InvokeMode": c.invoke_mode.as_str(),
    });
    if let Some(cors) = &c.cors {
        v["Cors"] = json!(cors);
    }
    if with_modified {
        v["LastModifiedTime"] = json!(c.last_modified_time);
    }
    v
}

fn not_found() -> ApiError {
    ApiError::NotFound("The resource you requested does not exist.".into())
}

/// Lambda's generated url id: 32 characters of `[a-z0-9]`.
fn new_url_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn input(headers: &HeaderMap, body: Body, op: &str) -> Result<FunctionUrlInput, ApiError> {
    let bytes = read_limited(headers, body, BODY_LIMIT, op).await?;
    crate::members::check(&bytes, &crate::members::FUNCTION_URL_CONFIG)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(FunctionUrlInput::default());
    }
    parse_json(&bytes)
}

pub async fn create(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let change = input(&headers, body, "CreateFunctionUrlConfig")
        .await?
        .validate(true)?;
    let now = format_iso_millis(time::OffsetDateTime::now_utc());
    let config = FunctionUrlConfig {
        url_id: new_url_id(),
        function_name: target.name.clone(),
        qualifier: target.qualifier.clone(),
        auth_type: change
            .auth_type
            .ok_or_else(|| ApiError::Validation("authType is required".into()))?,
        cors: change.cors,
        invoke_mode: change.invoke_mode.unwrap_or_default(),
        creation_time: now.clone(),
        last_modified_time: now,
    };
    let stored = config.clone();
    let arn = target.arn.clone();
    state
        .store(move |s| s.create_function_url(&stored))
        .await?
        .map_err(|e| match e {
            StoreError::AlreadyExists => ApiError::Conflict(format!(
                "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
            )),
            other => ApiError::from_store(other, &arn),
        })?;
    tracing::info!(function = %target.name, url_id = %config.url_id, "function URL created");
    Ok((StatusCode::CREATED, Json(render(&state, &config, false))).into_response())
}

/// The stored config of a target, telling a missing function from a missing config.
async fn load(state: &AppState, target: &Target) -> Result<FunctionUrlConfig, ApiError> {
    let name = target.name.clone();
    let qualifier = target.qualifier.clone();
    let found = state
        .store(move |s| {
            let c = s.get_function_url(&name, qualifier.as_deref())?;
            if c.is_none() && s.resolve(&name, qualifier.as_deref())?.is_none() {
                return Err(StoreError::NotFound);
            }
            Ok(c)
        })
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    found.ok_or_else(not_found)
}

pub async fn get(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let config = load(&state, &target).await?;
    Ok(Json(render(&state, &config, true)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let change = input(&headers, body, "UpdateFunctionUrlConfig")
        .await?
        .validate(false)?;
    load(&state, &target).await?;
    let name = target.name.clone();
    let qualifier = target.qualifier.clone();
    let config = state
        .store(move |s| s.update_function_url(&name, qualifier.as_deref(), &change))
        .await?
        .map_err(|e| match e {
            StoreError::NotFound => not_found(),
            other => ApiError::from_store(other, &target.arn),
        })?;
    Ok(Json(render(&state, &config, true)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    load(&state, &target).await?;
    let name = target.name.clone();
    let qualifier = target.qualifier.clone();
    let removed = state
        .store(move |s| s.delete_function_url(&name, qualifier.as_deref()))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    if !removed {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::parse(&state, &raw, None)?.unqualified()?;
    let limit = match query::first(&pairs, "MaxItems") {
        None => LIST_MAX,
        Some(raw) => {
            let n: i64 = raw.parse().map_err(|_| {
                ApiError::Validation(format!(
                    "1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy constraint: Member must be a number"
                ))
            })?;
            let mut v = quiver_model::Violations::new();
            if n < 1 {
                v.push(
                    raw,
                    "maxItems",
                    "Member must have value greater than or equal to 1",
                );
            } else if n > LIST_MAX {
                v.push(
                    raw,
                    "maxItems",
                    "Member must have value less than or equal to 50",
                );
            }
            v.into_result()?;
            n
        }
    } as usize;
    let after = match query::first(&pairs, "Marker") {
        None => None,
        Some(m) => {
            let bad = || ApiError::InvalidParameter(format!("Invalid Marker: {m}"));
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(m)
                .map_err(|_| bad())?;
            let s = String::from_utf8(raw).map_err(|_| bad())?;
            Some(s.strip_prefix("q:").ok_or_else(bad)?.to_string())
        }
    };
    let name = target.name.clone();
    let mut configs = state
        .store(move |s| s.list_function_urls(&name, after.as_deref(), limit + 1))
        .await?
        .map_err(|e| ApiError::from_store(e, &target.arn))?;
    let next = (configs.len() > limit).then(|| {
        configs.truncate(limit);
        let last = configs
            .last()
            .and_then(|c| c.qualifier.clone())
            .unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("q:{last}"))
    });
    let items: Vec<Value> = configs.iter().map(|c| render(&state, c, true)).collect();
    let mut out = json!({ "FunctionUrlConfigs": items });
    if let Some(n) = next {
        out["NextMarker"] = json!(n);
    }
    Ok(Json(out).into_response())
}
