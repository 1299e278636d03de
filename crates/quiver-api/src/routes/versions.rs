//! PublishVersion and ListVersionsByFunction.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::limits::DESCRIPTION_MAX;
use quiver_store::PublishRequest;
use serde::Deserialize;
use serde_json::json;

use super::{decode_marker, encode_marker, page_size, FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::render::{configuration, Flavor};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

pub async fn publish(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, 1 << 20, "PublishVersion").await?;
    crate::members::check(&bytes, &crate::members::PUBLISH_VERSION)?;
    let input: PublishInput = parse_json(&bytes)?;
    let target = Target::parse(&state, &raw, None)?.unqualified()?;
    if let Some(d) = &input.description {
        let mut v = quiver_model::Violations::new();
        if d.chars().count() > DESCRIPTION_MAX {
            v.push(
                d.as_str(),
                "description",
                format!("Member must have length less than or equal to {DESCRIPTION_MAX}"),
            );
        }
        v.into_result()?;
    }
    let req = PublishRequest {
        code_sha256: input.code_sha256,
        revision_id: input.revision_id,
        description: input.description,
    };
    let name = target.name.clone();
    let arn = state.partition.function_arn(&target.name, None);
    let v = state
        .store(move |s| s.publish_version(&name, &req))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))?;
    let body = configuration(&v, &state.partition, &state.runtimes, Flavor::Full, true);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::parse(&state, &raw, None)?.unqualified()?;
    let limit = page_size(query::first(&pairs, "MaxItems"))?;
    let after = match query::first(&pairs, "Marker").filter(|m| !m.is_empty()) {
        Some(m) => {
            let (name, ord) = decode_marker(m)?;
            if name != target.name {
                return Err(ApiError::InvalidParameter(format!("Invalid Marker: {m}")));
            }
            Some(ord)
        }
        None => None,
    };
    let name = target.name.clone();
    let arn = state.partition.function_arn(&target.name, None);
    let mut items = state
        .store(move |s| s.list_versions(&name, after, limit + 1))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        encode_marker(items.last().expect("limit >= 1"))
    });
    let versions: Vec<_> = items
        .iter()
        .map(|v| configuration(v, &state.partition, &state.runtimes, Flavor::ListItem, true))
        .collect();
    let mut out = json!({ "Versions": versions });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}
