//! Code signing configs (docs/wire.md §14.2): Create/Get/List/Update/Delete, the
//! per-function attachment (Put/Get/DeleteFunctionCodeSigningConfig) and
//! ListFunctionsByCodeSigningConfig.
//!
//! Stored and reported only: verifying a signature needs a signing service to check the
//! signing profile versions against, which Quiver does not have, so no policy (`Warn`
//! or `Enforce`) changes what CreateFunction or UpdateFunctionCode accept.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::code_signing::{self, CodeSigningConfig, CodeSigningInput};
use quiver_model::Partition;
use quiver_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{page_size, FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

const BODY_LIMIT: u64 = 1 << 20;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Publishers {
    signing_profile_version_arns: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Policies {
    untrusted_artifact_on_deployment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigInput {
    description: Option<String>,
    allowed_publishers: Option<Publishers>,
    code_signing_policies: Option<Policies>,
    /// Create only (the Update shape has no Tags; members::check refuses it there).
    tags: Option<std::collections::BTreeMap<String, String>>,
}

impl ConfigInput {
    fn validate(&self, create: bool) -> Result<code_signing::CodeSigningChange, ApiError> {
        let input = CodeSigningInput {
            description: self.description.as_deref(),
            signing_profile_version_arns: self
                .allowed_publishers
                .as_ref()
                .and_then(|p| p.signing_profile_version_arns.as_deref()),
            policy: self
                .code_signing_policies
                .as_ref()
                .and_then(|p| p.untrusted_artifact_on_deployment.as_deref()),
        };
        Ok(code_signing::validate(&input, create)?)
    }
}

pub(super) fn arn(p: &Partition, id: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:code-signing-config:{id}",
        p.region, p.account
    )
}

pub(super) fn not_found_message(arn: &str) -> String {
    format!("The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}.")
}

fn render(p: &Partition, c: &CodeSigningConfig) -> Value {
    json!({
        "CodeSigningConfigId": c.id,
        "CodeSigningConfigArn": arn(p, &c.id),
        "Description": c.description,
        "AllowedPublishers": { "SigningProfileVersionArns": c.signing_profile_version_arns },
        "CodeSigningPolicies": {
            "UntrustedArtifactOnDeployment": c.untrusted_artifact_on_deployment.as_str()
        },
        "LastModified": c.last_modified,
    })
}

/// The config id a path or body ARN names; Lambda's pattern refusal otherwise.
fn config_id(raw: &str) -> Result<String, ApiError> {
    code_signing::id_from_arn(raw).map(str::to_string).ok_or_else(|| {
        ApiError::Validation(format!(
            "1 validation error detected: Value '{raw}' at 'codeSigningConfigArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:code-signing-config:csc-[a-z0-9]{{17}}"
        ))
    })
}

fn now() -> String {
    quiver_model::format_last_modified(time::OffsetDateTime::now_utc())
}

/// `csc-` + 17 lowercase hex digits: inside Lambda's `csc-[a-z0-9]{17}`.
fn new_id() -> String {
    format!("csc-{}", &uuid::Uuid::new_v4().simple().to_string()[..17])
}

fn store_err(e: StoreError, arn: &str) -> ApiError {
    match e {
        StoreError::CodeSigningConfigNotFound(_) => ApiError::NotFound(not_found_message(arn)),
        other => ApiError::from_store(other, arn),
    }
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_LIMIT, "CreateCodeSigningConfig").await?;
    crate::members::check(&bytes, &crate::members::CREATE_CODE_SIGNING_CONFIG)?;
    let input: ConfigInput = parse_json(&bytes)?;
    let change = input.validate(true)?;
    let tags = input.tags.unwrap_or_default();
    quiver_model::tags::validate_tags(&tags)?;
    let config = CodeSigningConfig {
        id: new_id(),
        description: change.description.unwrap_or_default(),
        signing_profile_version_arns: change.signing_profile_version_arns.unwrap_or_default(),
        untrusted_artifact_on_deployment: change.policy.unwrap_or_default(),
        last_modified: now(),
        tags,
    };
    let stored = config.clone();
    state
        .store(move |s| s.create_code_signing_config(&stored))
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?;
    tracing::info!(id = %config.id, "code signing config created");
    let out = json!({ "CodeSigningConfig": render(&state.partition, &config) });
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn load(state: &AppState, raw: &str) -> Result<CodeSigningConfig, ApiError> {
    let id = config_id(raw)?;
    let arn = arn(&state.partition, &id);
    state
        .store(move |s| s.code_signing_config(&id))
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(not_found_message(&arn)))
}

pub async fn get(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let c = load(&state, &raw).await?;
    Ok(Json(json!({ "CodeSigningConfig": render(&state.partition, &c) })).into_response())
}

/// `Marker` is the last id returned (ids are opaque already).
pub async fn list(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let limit = page_size(query::first(&pairs, "MaxItems"))?;
    let after = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let mut items = state
        .store(move |s| s.list_code_signing_configs(after.as_deref(), limit + 1))
        .await?
        .map_err(|e| ApiError::Service(e.to_string()))?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().expect("limit >= 1").id.clone()
    });
    let configs: Vec<_> = items.iter().map(|c| render(&state.partition, c)).collect();
    let mut out = json!({ "CodeSigningConfigs": configs });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_LIMIT, "UpdateCodeSigningConfig").await?;
    crate::members::check(&bytes, &crate::members::UPDATE_CODE_SIGNING_CONFIG)?;
    let input: ConfigInput = parse_json(&bytes)?;
    let change = input.validate(false)?;
    let mut c = load(&state, &raw).await?;
    if let Some(d) = change.description {
        c.description = d;
    }
    if let Some(a) = change.signing_profile_version_arns {
        c.signing_profile_version_arns = a;
    }
    if let Some(p) = change.policy {
        c.untrusted_artifact_on_deployment = p;
    }
    c.last_modified = now();
    let stored = c.clone();
    let a = arn(&state.partition, &c.id);
    state
        .store(move |s| s.replace_code_signing_config(&stored))
        .await?
        .map_err(|e| store_err(e, &a))?;
    Ok(Json(json!({ "CodeSigningConfig": render(&state.partition, &c) })).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = config_id(&raw)?;
    let a = arn(&state.partition, &id);
    state
        .store(move |s| s.delete_code_signing_config(&id))
        .await?
        .map_err(|e| store_err(e, &a))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_functions(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = config_id(&raw)?;
    let a = arn(&state.partition, &id);
    let pairs = query::pairs(q.as_deref());
    let limit = page_size(query::first(&pairs, "MaxItems"))?;
    let after = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let mut names = state
        .store(move |s| s.functions_by_code_signing_config(&id, after.as_deref(), limit + 1))
        .await?
        .map_err(|e| store_err(e, &a))?;
    let next = (names.len() > limit).then(|| {
        names.truncate(limit);
        names.last().expect("limit >= 1").clone()
    });
    let arns: Vec<_> = names
        .iter()
        .map(|n| state.partition.function_arn(n, None))
        .collect();
    let mut out = json!({ "FunctionArns": arns });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    code_signing_config_arn: Option<String>,
}

pub async fn put_function(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_LIMIT, "PutFunctionCodeSigningConfig").await?;
    crate::members::check(&bytes, &crate::members::PUT_FUNCTION_CODE_SIGNING_CONFIG)?;
    let input: PutInput = parse_json(&bytes)?;
    let raw_arn = input.code_signing_config_arn.ok_or_else(|| {
        ApiError::Validation("1 validation error detected: Value null at 'codeSigningConfigArn' failed to satisfy constraint: Member must not be null".into())
    })?;
    let id = config_id(&raw_arn)?;
    let t = Target::function_only(&state, &raw)?;
    let a = arn(&state.partition, &id);
    let (name, fn_arn) = (t.name.clone(), t.arn.clone());
    state
        .store(move |s| s.set_function_code_signing_config(&name, Some(&id)))
        .await?
        .map_err(|e| match e {
            StoreError::CodeSigningConfigNotFound(_) => {
                ApiError::CodeSigningConfigNotFound(not_found_message(&a))
            }
            other => ApiError::from_store(other, &fn_arn),
        })?;
    Ok(Json(json!({ "CodeSigningConfigArn": a, "FunctionName": t.name })).into_response())
}

/// A function without a config answers 200 with an empty `CodeSigningConfigArn`.
pub async fn get_function(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
) -> Result<Response, ApiError> {
    let t = Target::function_only(&state, &raw)?;
    let name = t.name.clone();
    let id = state
        .store(move |s| s.function_code_signing_config(&name))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    let a = id.map(|id| arn(&state.partition, &id)).unwrap_or_default();
    Ok(Json(json!({ "CodeSigningConfigArn": a, "FunctionName": t.name })).into_response())
}

pub async fn delete_function(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
) -> Result<Response, ApiError> {
    let t = Target::function_only(&state, &raw)?;
    let name = t.name.clone();
    state
        .store(move |s| s.set_function_code_signing_config(&name, None))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
