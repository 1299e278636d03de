//! Put/Get/Delete/ListProvisionedConcurrencyConfig(s) on
//! `/2019-09-30/functions/{FunctionName}/provisioned-concurrency` (docs/wire.md §15).
//!
//! Configs are stored per qualifier (a version number or an alias name); the rules and
//! Lambda's wording are the model's (`quiver_model::provisioned`), the account check
//! runs inside the store's write. After a Put or Delete the invoker's reconciler tells
//! the engine at once; Status and the counts are read from the engine's environments
//! through the invoker, never made up here.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::provisioned::{
    self, Account, ProvisionedConfig, LIST_MAX_ITEMS, NOT_ALIAS_OR_VERSION, UNPUBLISHED,
};
use quiver_triggers::TriggerError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::members::Shape;
use crate::query;
use crate::state::AppState;

/// The body of a Put: small, like every config body.
const BODY_LIMIT: u64 = 1 << 20;

const PUT_SHAPE: Shape = Shape {
    members: &["ProvisionedConcurrentExecutions"],
    nested: &[],
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    provisioned_concurrent_executions: Option<i64>,
}

/// The target and its qualifier, refused with `unpublished` when it is `$LATEST` or
/// missing (Lambda words Put and Get/Delete differently).
fn target(
    state: &AppState,
    raw: &str,
    pairs: &[(String, String)],
    unpublished: &str,
) -> Result<(Target, String), ApiError> {
    let q = query::first(pairs, "Qualifier").filter(|q| !q.is_empty());
    let t = Target::parse(state, raw, q)?;
    match t.qualifier.clone() {
        Some(q) if q != "$LATEST" => Ok((t, q)),
        _ => Err(ApiError::InvalidParameter(unpublished.into())),
    }
}

/// Tells the engine now rather than at the reconciler's next look; a failure here is
/// logged, the background loop tries again.
async fn reconcile(state: &AppState) {
    if let Err(e) = state.invoker.reconcile_provisioned().await {
        tracing::warn!("reconciling provisioned concurrency: {e}");
    }
}

/// A config as Lambda shows it, with the engine's figures for it.
async fn render(
    state: &AppState,
    c: &ProvisionedConfig,
    with_arn: bool,
) -> Result<Value, ApiError> {
    let arn = state
        .partition
        .function_arn(&c.function, Some(&c.qualifier));
    let figures = state
        .invoker
        .provisioned_figures(&c.function, &c.qualifier, c.requested)
        .await
        .map_err(|e| match e {
            TriggerError::NotFound => ApiError::function_not_found(&arn),
            other => ApiError::Service(other.to_string()),
        })?;
    let status = provisioned::status(c.requested, figures.allocated, figures.failed.is_some());
    let mut out = json!({
        "RequestedProvisionedConcurrentExecutions": c.requested,
        "AvailableProvisionedConcurrentExecutions": figures.allocated,
        "AllocatedProvisionedConcurrentExecutions": figures.allocated,
        "Status": status.as_str(),
        "LastModified": c.last_modified,
    });
    if status == provisioned::Status::Failed {
        out["StatusReason"] = json!(figures.failed);
    }
    if with_arn {
        out["FunctionArn"] = json!(arn);
    }
    Ok(out)
}

pub async fn put(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(
        &headers,
        body,
        BODY_LIMIT,
        "PutProvisionedConcurrencyConfig",
    )
    .await?;
    crate::members::check(&bytes, &PUT_SHAPE)?;
    let input: PutInput = parse_json(&bytes)?;
    let n = provisioned::validate_requested(input.provisioned_concurrent_executions)?;
    let (t, qualifier) = target(&state, &raw, &query::pairs(q.as_deref()), UNPUBLISHED)?;
    let limit = state.account_concurrency;
    let (name, qual) = (t.name.clone(), qualifier.clone());
    let config = state
        .store(move |s| {
            s.put_provisioned(&name, &qual, n, &|a| {
                provisioned::check_put(&Account { limit, ..*a }, n)
            })
        })
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    tracing::info!(function = %t.name, qualifier = %qualifier, requested = n, "provisioned concurrency config put");
    reconcile(&state).await;
    let out = render(&state, &config, false).await?;
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}

/// GET: GetProvisionedConcurrencyConfig, or ListProvisionedConcurrencyConfigs with
/// `?List=ALL` (the same path).
pub async fn get(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    if query::first(&pairs, "List") == Some("ALL") {
        return list(&state, &raw, &pairs).await;
    }
    let (t, qualifier) = target(&state, &raw, &pairs, NOT_ALIAS_OR_VERSION)?;
    let name = t.name.clone();
    let found = state
        .store(move |s| s.get_provisioned(&name, &qualifier))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    let Some(config) = found else {
        return Err(ApiError::ProvisionedConcurrencyConfigNotFound(
            provisioned::NOT_FOUND.into(),
        ));
    };
    Ok(Json(render(&state, &config, false).await?).into_response())
}

/// Idempotent, as Lambda's: 204 whether or not the qualifier had a config (the
/// function and the qualifier must exist).
pub async fn delete(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (t, qualifier) = target(
        &state,
        &raw,
        &query::pairs(q.as_deref()),
        NOT_ALIAS_OR_VERSION,
    )?;
    let (name, qual) = (t.name.clone(), qualifier.clone());
    let removed = state
        .store(move |s| s.delete_provisioned(&name, &qual))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    if removed {
        tracing::info!(function = %t.name, qualifier = %qualifier, "provisioned concurrency config deleted");
        reconcile(&state).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list(
    state: &AppState,
    raw: &str,
    pairs: &[(String, String)],
) -> Result<Response, ApiError> {
    let t = Target::parse(state, raw, None)?.unqualified()?;
    let limit = max_items(query::first(pairs, "MaxItems"))?;
    let after = query::first(pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(|m| decode_marker(m, &t.name))
        .transpose()?;
    let name = t.name.clone();
    let arn = state.partition.function_arn(&t.name, None);
    let mut items = state
        .store(move |s| s.list_provisioned(&name, after.as_deref(), limit + 1))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        encode_marker(items.last().expect("limit >= 1"))
    });
    let mut configs = Vec::with_capacity(items.len());
    for c in &items {
        configs.push(render(state, c, true).await?);
    }
    let mut out = json!({ "ProvisionedConcurrencyConfigs": configs });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

fn max_items(raw: Option<&str>) -> Result<usize, ApiError> {
    super::max_items(raw, LIST_MAX_ITEMS, LIST_MAX_ITEMS)
}

fn encode_marker(c: &ProvisionedConfig) -> String {
    super::qualifier_marker(&c.function, &c.qualifier)
}

use super::decode_qualifier_marker as decode_marker;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_are_bound_to_the_function() {
        let c = ProvisionedConfig {
            function: "f".into(),
            qualifier: "live".into(),
            requested: 1,
            last_modified: String::new(),
        };
        let m = encode_marker(&c);
        assert_eq!(decode_marker(&m, "f").unwrap(), "live");
        assert!(decode_marker(&m, "g").is_err());
        assert!(decode_marker("!!", "f").is_err());
    }

    #[test]
    fn max_items_is_one_to_fifty() {
        assert_eq!(max_items(None).unwrap(), 50);
        assert_eq!(max_items(Some("50")).unwrap(), 50);
        assert!(matches!(max_items(Some("0")), Err(ApiError::Validation(_))));
        assert!(matches!(
            max_items(Some("51")),
            Err(ApiError::Validation(_))
        ));
        assert!(max_items(Some("x")).is_err());
    }
}
