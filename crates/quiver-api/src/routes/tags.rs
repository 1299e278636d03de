//! TagResource, UntagResource, ListTags on `/2017-03-31/tags/{ARN}`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::FunctionRef;
use serde::Deserialize;
use serde_json::json;

use super::FnPath;
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// The function a tag resource ARN names: must be an unqualified function ARN of this server.
fn resource(state: &AppState, raw: &str) -> Result<(String, String), ApiError> {
    let r = FunctionRef::parse(raw, "resource")?;
    if !raw.starts_with("arn:") {
        return Err(ApiError::InvalidParameter(format!(
            "{raw} is not a valid ARN: tag operations take a function ARN."
        )));
    }
    if r.qualifier.is_some() {
        return Err(ApiError::InvalidParameter(
            "Tags are not supported on qualified function ARNs: use the unqualified function ARN."
                .into(),
        ));
    }
    if r.is_foreign(&state.partition) {
        return Err(ApiError::function_not_found(raw));
    }
    let arn = state.partition.function_arn(&r.name, None);
    Ok((r.name, arn))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    tags: Option<BTreeMap<String, String>>,
}

pub async fn tag(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, 1 << 20, "TagResource").await?;
    crate::members::check(&bytes, &crate::members::TAG_RESOURCE)?;
    let input: TagInput = parse_json(&bytes)?;
    let (name, arn) = resource(&state, &raw)?;
    let Some(tags) = input.tags else {
        return Err(ApiError::Validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    quiver_model::tags::validate_tags(&tags)?;
    let merged_limit = quiver_model::limits::TAGS_MAX;
    state
        .store(move |s| {
            let mut all = s.tags(&name)?;
            all.extend(tags.clone());
            if all.len() > merged_limit {
                return Err(quiver_store::StoreError::Conflict(String::new()));
            }
            s.tag(&name, &tags)
        })
        .await?
        .map_err(|e| match e {
            quiver_store::StoreError::Conflict(_) => ApiError::InvalidParameter(format!(
                "A resource can have at most {merged_limit} tags."
            )),
            e => ApiError::from_store(e, &arn),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn untag(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let (name, arn) = resource(&state, &raw)?;
    let keys: Vec<String> = query::all(&pairs, "tagKeys")
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut v = quiver_model::Violations::new();
    if keys.is_empty() {
        v.push("null", "tagKeys", "Member must not be null");
    }
    for k in &keys {
        quiver_model::tags::check_key(&mut v, k, "tagKeys");
    }
    v.into_result()?;
    state
        .store(move |s| s.untag(&name, &keys))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
) -> Result<Response, ApiError> {
    let (name, arn) = resource(&state, &raw)?;
    let tags = state
        .store(move |s| s.tags(&name))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))?;
    Ok(Json(json!({ "Tags": tags })).into_response())
}
