//! CreateAlias, GetAlias, UpdateAlias, DeleteAlias and ListAliases on
//! `/2015-03-31/functions/{FunctionName}/aliases[/{Name}]` (docs/wire.md §11).
//!
//! Rules (names, versions, routing) live in `quiver_model::alias`; whether the versions
//! exist is checked by the store in the same transaction as the write. This file parses,
//! maps errors to Lambda's words and renders `AliasConfiguration`.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use quiver_model::alias::{parse_version_filter, validate_alias_name};
use quiver_model::{Alias, AliasInput, Partition, Version};
use quiver_store::StoreError;
use serde_json::{json, Value};

use super::{page_size, FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

const BODY_MAX_BYTES: u64 = 1 << 20;

/// The `{FunctionName}` and `{Name}` path labels, percent-decoded.
pub struct AliasPath(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for AliasPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((f, a))| AliasPath(f, a))
            .map_err(|e| ApiError::Validation(format!("1 validation error detected: {e}")))
    }
}

/// `AliasConfiguration` as Lambda writes it: Description always (empty by default),
/// RoutingConfig only when there is one.
pub fn render(a: &Alias, p: &Partition) -> Value {
    let mut out = json!({
        "AliasArn": p.function_arn(&a.function_name, Some(&a.name)),
        "Name": a.name,
        "FunctionVersion": a.function_version.to_string(),
        "Description": a.description,
        "RevisionId": a.revision_id,
    });
    if let Some(r) = &a.routing {
        out["RoutingConfig"] =
            json!({"AdditionalVersionWeights": {r.additional_version.to_string(): r.weight}});
    }
    out
}

/// The function an alias operation acts on: a name or an unqualified ARN.
fn function(state: &AppState, raw: &str) -> Result<Target, ApiError> {
    Target::parse(state, raw, None)?.unqualified()
}

fn alias_arn(state: &AppState, t: &Target, alias: &str) -> String {
    state.partition.function_arn(&t.name, Some(alias))
}

/// Store errors of alias writes in Lambda's words.
fn write_error(e: StoreError, state: &AppState, t: &Target, alias: &str) -> ApiError {
    match e {
        StoreError::VersionNotFound(v) => ApiError::function_not_found(
            &state.partition.function_arn(&t.name, Some(&v.to_string())),
        ),
        StoreError::AlreadyExists => ApiError::Conflict(format!(
            "Alias already exists: {}",
            alias_arn(state, t, alias)
        )),
        StoreError::NotFound => {
            ApiError::NotFound(format!("Alias not found: {}", alias_arn(state, t, alias)))
        }
        StoreError::RevisionMismatch { .. } => ApiError::from_store(e, ""),
        other => ApiError::from_store(other, &t.arn),
    }
}

/// The alias, or Lambda's not-found: the function's when the function is missing,
/// otherwise `missing` (GetAlias and UpdateAlias word it differently).
async fn load(
    state: &AppState,
    t: &Target,
    alias: &str,
    missing: impl FnOnce(String) -> ApiError,
) -> Result<Alias, ApiError> {
    let (n, a) = (t.name.clone(), alias.to_string());
    let (found, function_exists) = state
        .store(move |s| {
            let found = s.get_alias(&n, &a)?;
            let exists = found.is_some() || s.get_version(&n, Version::Latest)?.is_some();
            Ok((found, exists))
        })
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    match found {
        Some(a) => Ok(a),
        None if !function_exists => Err(ApiError::function_not_found(&t.arn)),
        None => Err(missing(alias_arn(state, t, alias))),
    }
}

pub async fn create(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_MAX_BYTES, "CreateAlias").await?;
    crate::members::check(&bytes, &crate::members::CREATE_ALIAS)?;
    let input: AliasInput = parse_json(&bytes)?;
    let t = function(&state, &raw)?;
    let draft = input.create()?;
    let (n, d) = (t.name.clone(), draft.clone());
    let alias = state
        .store(move |s| s.create_alias(&n, &d))
        .await?
        .map_err(|e| write_error(e, &state, &t, &draft.name))?;
    tracing::info!(function = %t.name, alias = %alias.name, version = %alias.function_version, "created alias");
    Ok((StatusCode::CREATED, Json(render(&alias, &state.partition))).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    AliasPath(raw, name): AliasPath,
) -> Result<Response, ApiError> {
    let t = function(&state, &raw)?;
    validate_alias_name(&name, "name")?;
    let alias = load(&state, &t, &name, |arn| {
        ApiError::NotFound(format!("Cannot find alias arn: {arn}"))
    })
    .await?;
    Ok(Json(render(&alias, &state.partition)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    AliasPath(raw, name): AliasPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, BODY_MAX_BYTES, "UpdateAlias").await?;
    crate::members::check(&bytes, &crate::members::UPDATE_ALIAS)?;
    let input: AliasInput = parse_json(&bytes)?;
    let t = function(&state, &raw)?;
    validate_alias_name(&name, "name")?;
    let current = load(&state, &t, &name, |arn| {
        ApiError::NotFound(format!("Alias not found: {arn}"))
    })
    .await?;
    let given = input.revision_id.is_some();
    if input
        .revision_id
        .as_ref()
        .is_some_and(|r| r != &current.revision_id)
    {
        return Err(ApiError::from_store(
            StoreError::RevisionMismatch {
                current: current.revision_id,
            },
            "",
        ));
    }
    let next = input.update(&current.draft())?;
    let (n, d, base) = (t.name.clone(), next, current.revision_id.clone());
    let alias = state
        .store(move |s| s.update_alias(&n, &d, &base))
        .await?
        .map_err(|e| match e {
            // Another update got there first and the caller did not ask for a revision.
            StoreError::RevisionMismatch { .. } if !given => ApiError::Conflict(format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {}",
                alias_arn(&state, &t, &name)
            )),
            other => write_error(other, &state, &t, &name),
        })?;
    tracing::info!(function = %t.name, alias = %alias.name, version = %alias.function_version, "updated alias");
    Ok(Json(render(&alias, &state.partition)).into_response())
}

/// DeleteAlias: 204 also when the alias does not exist (as Lambda answers).
pub async fn delete(
    State(state): State<AppState>,
    AliasPath(raw, name): AliasPath,
) -> Result<Response, ApiError> {
    let t = function(&state, &raw)?;
    validate_alias_name(&name, "name")?;
    let (n, a) = (t.name.clone(), name.clone());
    let existed = state
        .store(move |s| s.delete_alias(&n, &a))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    if existed {
        tracing::info!(function = %t.name, alias = %name, "deleted alias");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Opaque pagination markers: base64url of the last alias name returned.
fn encode_marker(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn decode_marker(m: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(m)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::InvalidParameter(format!("Invalid Marker: {m}")))
}

pub async fn list(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let t = function(&state, &raw)?;
    let limit = page_size(query::first(&pairs, "MaxItems"))?;
    let version = query::first(&pairs, "FunctionVersion")
        .map(parse_version_filter)
        .transpose()?;
    let after = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(decode_marker)
        .transpose()?;
    let n = t.name.clone();
    let mut items = state
        .store(move |s| s.list_aliases(&n, version, after.as_deref(), limit + 1))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        encode_marker(&items.last().expect("limit >= 1").name)
    });
    let aliases: Vec<_> = items.iter().map(|a| render(a, &state.partition)).collect();
    let mut out = json!({ "Aliases": aliases });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}
