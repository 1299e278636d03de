//! Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) on
//! `/2019-09-25/functions/{FunctionName}/event-invoke-config[/list]`.
//!
//! Configs are stored per qualifier *string* (`$LATEST`, `3`, `live`), as Lambda does: an
//! alias keeps its own config whatever version it points to. The qualifier is resolved only
//! to check that it exists. Rules live in `quiver_model::event_config`; this file parses and
//! renders.
//!
//! The async dispatcher reads the result through [`effective_config`] (or, off the async
//! threads, [`quiver_store::Store::effective_invoke_config`]).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quiver_model::{
    Destination, EffectiveInvokeConfig, EventInvokeConfig, EventInvokeConfigInput, Partition,
    StoredEventInvokeConfig,
};
use serde_json::{json, Map, Value};

use super::{FnPath, Target};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

const BODY_MAX_BYTES: u64 = 1 << 20;
/// ListFunctionEventInvokeConfigs' `MaxItems` range.
const LIST_MAX_ITEMS: i64 = 50;

/// The effective asynchronous-invocation settings for an event sent to `name` with the
/// qualifier it was invoked with (None = `$LATEST`): the qualifier's EventInvokeConfig with
/// Lambda's defaults (MaximumRetryAttempts 2, MaximumEventAgeInSeconds 21600, no
/// destinations) and the executed version's DeadLetterConfig queue. 404-shaped error if the
/// function or qualifier no longer exists.
pub async fn effective_config(
    state: &AppState,
    name: &str,
    qualifier: Option<&str>,
) -> Result<EffectiveInvokeConfig, ApiError> {
    let (n, q) = (name.to_string(), qualifier.map(str::to_string));
    let arn = state.partition.function_arn(name, qualifier);
    state
        .store(move |s| s.effective_invoke_config(&n, q.as_deref()))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))
}

/// The target plus the qualifier string the config is keyed by.
fn target(state: &AppState, raw: &str, q: Option<&str>) -> Result<(Target, String), ApiError> {
    let t = Target::parse(state, raw, q.filter(|q| !q.is_empty()))?;
    let key = t.qualifier.clone().unwrap_or_else(|| "$LATEST".to_string());
    Ok((t, key))
}

fn no_config(p: &Partition, name: &str, qualifier: &str) -> ApiError {
    ApiError::NotFound(format!(
        "The function {} doesn't have an EventInvokeConfig",
        p.function_arn(name, Some(qualifier))
    ))
}

/// `FunctionEventInvokeConfig` as Lambda writes it: LastModified is an epoch-seconds number,
/// FunctionArn is qualified, unset limits are left out, DestinationConfig always has both sides.
pub fn render(c: &StoredEventInvokeConfig, p: &Partition) -> Value {
    let dest = |d: &Option<String>| match d {
        Some(arn) => json!({ "Destination": arn }),
        None => json!({}),
    };
    let mut out = Map::new();
    out.insert("LastModified".into(), json!(c.last_modified));
    out.insert(
        "FunctionArn".into(),
        json!(p.function_arn(&c.function_name, Some(&c.qualifier))),
    );
    if let Some(n) = c.config.maximum_retry_attempts {
        out.insert("MaximumRetryAttempts".into(), json!(n));
    }
    if let Some(n) = c.config.maximum_event_age_in_seconds {
        out.insert("MaximumEventAgeInSeconds".into(), json!(n));
    }
    out.insert(
        "DestinationConfig".into(),
        json!({ "OnSuccess": dest(&c.config.on_success), "OnFailure": dest(&c.config.on_failure) }),
    );
    Value::Object(out)
}

async fn read_input(
    headers: &HeaderMap,
    body: Body,
    op: &str,
) -> Result<EventInvokeConfigInput, ApiError> {
    let bytes = read_limited(headers, body, BODY_MAX_BYTES, op).await?;
    crate::members::check(&bytes, &crate::members::EVENT_INVOKE_CONFIG)?;
    parse_json(&bytes)
}

async fn load(
    state: &AppState,
    name: &str,
    key: &str,
) -> Result<Option<StoredEventInvokeConfig>, ApiError> {
    let (n, k) = (name.to_string(), key.to_string());
    let arn = state.partition.function_arn(name, Some(key));
    state
        .store(move |s| s.get_event_invoke_config(&n, &k))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))
}

/// Destinations must be deliverable from here: this server's region and account, and a
/// destination function must exist (as Lambda checks).
async fn check_destinations(state: &AppState, config: &EventInvokeConfig) -> Result<(), ApiError> {
    for arn in [&config.on_success, &config.on_failure]
        .into_iter()
        .flatten()
    {
        let Some(d) = Destination::parse(arn) else {
            continue;
        };
        let (region, account) = match &d {
            Destination::Queue {
                region, account, ..
            }
            | Destination::Topic {
                region, account, ..
            }
            | Destination::Function {
                region, account, ..
            } => (region, account),
        };
        if region != &state.partition.region || account != &state.partition.account {
            return Err(ApiError::InvalidParameter(format!(
                "The destination ARN {arn} is invalid: Quiver delivers only to queues, topics and functions in its own region and account ({}, {}).",
                state.partition.region, state.partition.account
            )));
        }
        if let Destination::Function {
            name, qualifier, ..
        } = d
        {
            let t = Target {
                arn: state.partition.function_arn(&name, qualifier.as_deref()),
                name,
                qualifier,
            };
            t.load(state).await.map_err(|_| {
                ApiError::InvalidParameter(format!("The destination ARN {arn} is invalid."))
            })?;
        }
    }
    Ok(())
}

async fn save(
    state: &AppState,
    t: &Target,
    key: &str,
    config: EventInvokeConfig,
) -> Result<Response, ApiError> {
    let (n, k) = (t.name.clone(), key.to_string());
    let stored = state
        .store(move |s| s.put_event_invoke_config(&n, &k, &config))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    Ok(Json(render(&stored, &state.partition)).into_response())
}

/// PutFunctionEventInvokeConfig: replaces the whole config (members left out are removed).
pub async fn put(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let input = read_input(&headers, body, "PutFunctionEventInvokeConfig").await?;
    let pairs = query::pairs(q.as_deref());
    let (t, key) = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    t.load(&state).await?;
    let config = EventInvokeConfig::put(&input, &t.name)?;
    check_destinations(&state, &config).await?;
    save(&state, &t, &key, config).await
}

/// UpdateFunctionEventInvokeConfig: merges into the existing config (404 if there is none).
pub async fn update(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let input = read_input(&headers, body, "UpdateFunctionEventInvokeConfig").await?;
    let pairs = query::pairs(q.as_deref());
    let (t, key) = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    t.load(&state).await?;
    // Read-merge-write is last-writer-wins between concurrent updates, like two Puts.
    let current = load(&state, &t.name, &key)
        .await?
        .ok_or_else(|| no_config(&state.partition, &t.name, &key))?;
    let config = current.config.update(&input, &t.name)?;
    // Only destinations given now are checked: a kept one may name a function deleted since.
    if input.destination_config.is_some() {
        check_destinations(&state, &config).await?;
    }
    save(&state, &t, &key, config).await
}

/// GetFunctionEventInvokeConfig.
pub async fn get(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let (t, key) = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    require_function(&state, &t).await?;
    let found = load(&state, &t.name, &key)
        .await?
        .ok_or_else(|| no_config(&state.partition, &t.name, &key))?;
    Ok(Json(render(&found, &state.partition)).into_response())
}

/// DeleteFunctionEventInvokeConfig: 204, or 404 if there was none.
pub async fn delete(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let (t, key) = target(&state, &raw, query::first(&pairs, "Qualifier"))?;
    require_function(&state, &t).await?;
    let (n, k) = (t.name.clone(), key.clone());
    let removed = state
        .store(move |s| s.delete_event_invoke_config(&n, &k))
        .await?
        .map_err(|e| ApiError::from_store(e, &t.arn))?;
    if !removed {
        return Err(no_config(&state.partition, &t.name, &key));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// ListFunctionEventInvokeConfigs: qualifier order, `MaxItems` 1–50, opaque `Marker`.
pub async fn list(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let t = Target::parse(&state, &raw, None)?.unqualified()?;
    let limit = max_items(query::first(&pairs, "MaxItems"))?;
    let after = query::first(&pairs, "Marker")
        .filter(|m| !m.is_empty())
        .map(|m| decode_marker(m, &t.name))
        .transpose()?;
    let name = t.name.clone();
    let arn = state.partition.function_arn(&t.name, None);
    let mut items = state
        .store(move |s| s.list_event_invoke_configs(&name, after.as_deref(), limit + 1))
        .await?
        .map_err(|e| ApiError::from_store(e, &arn))?;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        encode_marker(items.last().expect("limit >= 1"))
    });
    let configs: Vec<Value> = items.iter().map(|c| render(c, &state.partition)).collect();
    let mut out = json!({ "FunctionEventInvokeConfigs": configs });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(Json(out).into_response())
}

/// Get and Delete need the function, not the qualifier: a config can outlive nothing but
/// its function, and must stay readable/deletable whatever its qualifier points to.
async fn require_function(state: &AppState, t: &Target) -> Result<(), ApiError> {
    let unqualified = Target {
        name: t.name.clone(),
        qualifier: None,
        arn: state.partition.function_arn(&t.name, None),
    };
    unqualified.load(state).await.map(|_| ())
}

fn max_items(raw: Option<&str>) -> Result<usize, ApiError> {
    super::max_items(raw, LIST_MAX_ITEMS as usize, LIST_MAX_ITEMS as usize)
}

fn encode_marker(c: &StoredEventInvokeConfig) -> String {
    super::qualifier_marker(&c.function_name, &c.qualifier)
}

use super::decode_qualifier_marker as decode_marker;

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(q: &str, config: EventInvokeConfig) -> StoredEventInvokeConfig {
        StoredEventInvokeConfig {
            function_name: "f".into(),
            qualifier: q.into(),
            config,
            last_modified: 1569284520.333,
        }
    }

    #[test]
    fn renders_lambdas_shape() {
        let p = Partition::new("us-east-1", "000000000000");
        let v = render(
            &stored(
                "$LATEST",
                EventInvokeConfig {
                    maximum_event_age_in_seconds: Some(60),
                    ..Default::default()
                },
            ),
            &p,
        );
        assert_eq!(
            v,
            json!({
                "LastModified": 1569284520.333,
                "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
                "MaximumEventAgeInSeconds": 60,
                "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}
            })
        );
        let q = "arn:aws:sqs:us-east-1:000000000000:q";
        let v = render(
            &stored(
                "live",
                EventInvokeConfig {
                    maximum_retry_attempts: Some(0),
                    on_failure: Some(q.into()),
                    ..Default::default()
                },
            ),
            &p,
        );
        assert_eq!(v["MaximumRetryAttempts"], 0);
        assert_eq!(v["DestinationConfig"]["OnFailure"]["Destination"], q);
        assert!(v["LastModified"].is_f64());
    }

    #[test]
    fn markers_round_trip_and_are_bound_to_the_function() {
        let m = encode_marker(&stored("7", EventInvokeConfig::default()));
        assert_eq!(decode_marker(&m, "f").unwrap(), "7");
        assert!(decode_marker(&m, "g").is_err());
        assert!(decode_marker("!!", "f").is_err());
    }

    #[test]
    fn max_items_is_one_to_fifty() {
        assert_eq!(max_items(None).unwrap(), 50);
        assert_eq!(max_items(Some("1")).unwrap(), 1);
        assert!(matches!(max_items(Some("0")), Err(ApiError::Validation(_))));
        assert!(
            matches!(max_items(Some("51")), Err(ApiError::Validation(m)) if m.contains("less than or equal to 50"))
        );
        assert!(max_items(Some("x")).is_err());
    }
}
