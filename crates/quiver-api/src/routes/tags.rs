//! TagResource, UntagResource, ListTags on `/2017-03-31/tags/{ARN}`: functions and code
//! signing configs (docs/wire.md §14.3).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::tags::{Taggable, TaggableKind};
use quiver_store::StoreError;
use serde::Deserialize;
use serde_json::json;

use super::{code_signing, FnPath};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// What a tag operation acts on, resolved against this server.
enum Resource {
    Function {
        name: String,
        arn: String,
    },
    CodeSigningConfig {
        id: String,
        arn: String,
    },
    /// An event source mapping, by UUID (docs/wire.md §28).
    Mapping {
        uuid: String,
    },
}

/// Lambda's answer for an ARN of a kind the model admits but this server has none of
/// (event source mappings, capacity providers, network connectors).
const NO_SUCH_RESOURCE: &str = "The resource you requested does not exist.";

/// Parses the `{ARN}` label with the model's `TaggableResource` pattern; functions must
/// be unqualified. Another region or account names nothing here.
fn resource(state: &AppState, raw: &str) -> Result<Resource, ApiError> {
    let t = Taggable::parse(raw)?;
    let here = t.region == state.partition.region && t.account == state.partition.account;
    match t.kind {
        TaggableKind::Function { name, qualifier } => {
            if qualifier.is_some() {
                return Err(ApiError::InvalidParameter(
                    "Tags are not supported on qualified function ARNs: use the unqualified function ARN."
                        .into(),
                ));
            }
            if !here {
                return Err(ApiError::function_not_found(raw));
            }
            let arn = state.partition.function_arn(&name, None);
            Ok(Resource::Function { name, arn })
        }
        TaggableKind::CodeSigningConfig { id } => {
            if !here {
                return Err(ApiError::NotFound(code_signing::not_found_message(raw)));
            }
            let arn = code_signing::arn(&state.partition, &id);
            Ok(Resource::CodeSigningConfig { id, arn })
        }
        TaggableKind::Other { kind } if kind == "event-source-mapping" && here => {
            let uuid = raw.rsplit(':').next().unwrap_or_default().to_string();
            Ok(Resource::Mapping { uuid })
        }
        TaggableKind::Other { .. } => Err(ApiError::NotFound(NO_SUCH_RESOURCE.into())),
    }
}

/// Reads a code signing config's tags, changes them with `f`, writes the document back.
/// `f` answers the new tag map or a refusal.
async fn change_config_tags(
    state: &AppState,
    id: String,
    arn: &str,
    f: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError> + Send + 'static,
) -> Result<(), ApiError> {
    let missing = ApiError::NotFound(code_signing::not_found_message(arn));
    let outcome = state
        .store(move |s| {
            let Some(mut c) = s.code_signing_config(&id)? else {
                return Ok(Err(missing));
            };
            if let Err(e) = f(&mut c.tags) {
                return Ok(Err(e));
            }
            s.replace_code_signing_config(&c).map(Ok)
        })
        .await?;
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(StoreError::CodeSigningConfigNotFound(_)) => {
            Err(ApiError::NotFound(code_signing::not_found_message(arn)))
        }
        Err(e) => Err(ApiError::from_store(e, arn)),
    }
}

/// Reads a mapping's tags, changes them with `f`, writes them back.
async fn change_mapping_tags(
    state: &AppState,
    uuid: String,
    f: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ApiError> + Send + 'static,
) -> Result<(), ApiError> {
    let outcome = state
        .store(move |s| {
            let mut tags = s.mapping_tags(&uuid)?;
            if let Err(e) = f(&mut tags) {
                return Ok(Err(e));
            }
            s.put_mapping_tags(&uuid, &tags).map(Ok)
        })
        .await?;
    match outcome {
        Ok(r) => r,
        Err(StoreError::NotFound) => Err(ApiError::NotFound(NO_SUCH_RESOURCE.into())),
        Err(e) => Err(ApiError::from_store(e, "")),
    }
}

fn too_many() -> ApiError {
    ApiError::InvalidParameter(format!(
        "A resource can have at most {} tags.",
        quiver_model::limits::TAGS_MAX
    ))
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
    let target = resource(&state, &raw)?;
    let Some(tags) = input.tags else {
        return Err(ApiError::Validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    quiver_model::tags::validate_tags(&tags)?;
    let merged_limit = quiver_model::limits::TAGS_MAX;
    let (name, arn) = match target {
        Resource::Function { name, arn } => (name, arn),
        Resource::Mapping { uuid } => {
            change_mapping_tags(&state, uuid, move |all| {
                all.extend(tags);
                if all.len() > merged_limit {
                    return Err(too_many());
                }
                Ok(())
            })
            .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Resource::CodeSigningConfig { id, arn } => {
            change_config_tags(&state, id, &arn, move |all| {
                all.extend(tags);
                if all.len() > merged_limit {
                    return Err(too_many());
                }
                Ok(())
            })
            .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    };
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
            quiver_store::StoreError::Conflict(_) => too_many(),
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
    let target = resource(&state, &raw)?;
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
    let (name, arn) = match target {
        Resource::Function { name, arn } => (name, arn),
        Resource::Mapping { uuid } => {
            change_mapping_tags(&state, uuid, move |all| {
                for k in &keys {
                    all.remove(k);
                }
                Ok(())
            })
            .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Resource::CodeSigningConfig { id, arn } => {
            change_config_tags(&state, id, &arn, move |all| {
                for k in &keys {
                    all.remove(k);
                }
                Ok(())
            })
            .await?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    };
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
    let tags =
        match resource(&state, &raw)? {
            Resource::Mapping { uuid } => state
                .store(move |s| s.mapping_tags(&uuid))
                .await?
                .map_err(|e| match e {
                    StoreError::NotFound => ApiError::NotFound(NO_SUCH_RESOURCE.into()),
                    e => ApiError::from_store(e, ""),
                })?,
            Resource::Function { name, arn } => state
                .store(move |s| s.tags(&name))
                .await?
                .map_err(|e| ApiError::from_store(e, &arn))?,
            Resource::CodeSigningConfig { id, arn } => {
                state
                    .store(move |s| s.code_signing_config(&id))
                    .await?
                    .map_err(|e| ApiError::from_store(e, &arn))?
                    .ok_or_else(|| ApiError::NotFound(code_signing::not_found_message(&arn)))?
                    .tags
            }
        };
    Ok(Json(json!({ "Tags": tags })).into_response())
}
