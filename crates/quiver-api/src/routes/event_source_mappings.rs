//! Event source mappings: Create/Get/Update/Delete/ListEventSourceMapping(s) under
//! `/2015-03-31/event-source-mappings/` (docs/wire.md §28). The rules are the model's
//! (`quiver_model::event_source_mapping`); the source is looked up here through
//! [`source_check`], the one seam where the stream service plugs in; delivery is the
//! supervisor's (`quiver_triggers::esm`), told of every change.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use quiver_model::event_source_mapping::{
    sqs_queue_name, EventSourceMapping, MappingSettings, MappingState, SourceKind,
};
use quiver_store::StoreError;
use serde_json::{json, Value};

use super::Target;
use crate::body::read_limited;
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

const BODY_LIMIT: u64 = 1 << 20;
/// ListEventSourceMappings' MaxItems: 1–10000 (the model), 100 when not given.
const LIST_MAX: usize = 10_000;
const LIST_DEFAULT: usize = 100;

fn now_secs() -> f64 {
    let t = time::OffsetDateTime::now_utc();
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

fn mapping_arn(state: &AppState, uuid: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
        state.partition.region, state.partition.account
    )
}

/// The mapping as Lambda writes it (EventSourceMappingConfiguration).
pub fn render(state: &AppState, m: &EventSourceMapping) -> Value {
    let s = &m.settings;
    let mut v = json!({
        "UUID": m.uuid,
        "EventSourceArn": m.event_source_arn,
        "FunctionArn": state.partition.function_arn(&m.function_name, m.qualifier.as_deref()),
        "LastModified": m.last_modified,
        "LastProcessingResult": m.last_processing_result,
        "State": m.state.as_str(),
        "StateTransitionReason": m.state_transition_reason,
        "FunctionResponseTypes": s.function_response_types.clone().unwrap_or_default(),
        "EventSourceMappingArn": mapping_arn(state, &m.uuid),
    });
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            v[k] = val;
        }
    };
    put("BatchSize", s.batch_size.map(|x| json!(x)));
    put(
        "MaximumBatchingWindowInSeconds",
        s.maximum_batching_window_in_seconds.map(|x| json!(x)),
    );
    put("FilterCriteria", s.filter_criteria.clone());
    put(
        "ScalingConfig",
        s.maximum_concurrency
            .map(|c| json!({ "MaximumConcurrency": c })),
    );
    put(
        "StartingPosition",
        s.starting_position.clone().map(Value::from),
    );
    put(
        "StartingPositionTimestamp",
        s.starting_position_timestamp.map(|x| json!(x)),
    );
    put(
        "ParallelizationFactor",
        s.parallelization_factor.map(|x| json!(x)),
    );
    put(
        "BisectBatchOnFunctionError",
        s.bisect_batch_on_function_error.map(|x| json!(x)),
    );
    put(
        "MaximumRetryAttempts",
        s.maximum_retry_attempts.map(|x| json!(x)),
    );
    put(
        "MaximumRecordAgeInSeconds",
        s.maximum_record_age_in_seconds.map(|x| json!(x)),
    );
    put(
        "DestinationConfig",
        s.on_failure_destination
            .clone()
            .map(|d| json!({ "OnFailure": { "Destination": d } })),
    );
    put(
        "TumblingWindowInSeconds",
        s.tumbling_window_in_seconds.map(|x| json!(x)),
    );
    v
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::InvalidRequestContent(m.into())
}

fn uint(v: &Value, key: &str) -> Result<Option<u32>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| bad(format!("{key} must be a non-negative integer"))),
    }
}

fn int(v: &Value, key: &str) -> Result<Option<i64>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(format!("{key} must be an integer"))),
    }
}

/// The tunables of a Create or Update body.
fn settings(v: &Value) -> Result<MappingSettings, ApiError> {
    let types = match v.get("FunctionResponseTypes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("FunctionResponseTypes must be a list of strings"))?,
        ),
        Some(_) => return Err(bad("FunctionResponseTypes must be a list")),
    };
    let filter = match v.get("FilterCriteria") {
        None | Some(Value::Null) => None,
        Some(f @ Value::Object(_)) => Some(f.clone()),
        Some(_) => return Err(bad("FilterCriteria must be an object")),
    };
    let concurrency = match v.get("ScalingConfig") {
        None | Some(Value::Null) => None,
        Some(sc) => uint(sc, "MaximumConcurrency")?,
    };
    let on_failure = v
        .pointer("/DestinationConfig/OnFailure/Destination")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(MappingSettings {
        batch_size: uint(v, "BatchSize")?,
        maximum_batching_window_in_seconds: uint(v, "MaximumBatchingWindowInSeconds")?,
        filter_criteria: filter,
        function_response_types: types,
        maximum_concurrency: concurrency,
        starting_position: v
            .get("StartingPosition")
            .and_then(Value::as_str)
            .map(str::to_string),
        starting_position_timestamp: v.get("StartingPositionTimestamp").and_then(Value::as_f64),
        parallelization_factor: uint(v, "ParallelizationFactor")?,
        bisect_batch_on_function_error: v
            .get("BisectBatchOnFunctionError")
            .and_then(Value::as_bool),
        maximum_retry_attempts: int(v, "MaximumRetryAttempts")?,
        maximum_record_age_in_seconds: int(v, "MaximumRecordAgeInSeconds")?,
        on_failure_destination: on_failure,
        tumbling_window_in_seconds: uint(v, "TumblingWindowInSeconds")?,
    })
}

async fn body_json(headers: &HeaderMap, body: Body, op: &str) -> Result<Value, ApiError> {
    let bytes = read_limited(headers, body, BODY_LIMIT, op).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|_| bad("Could not parse request body into json"))?;
    if !v.is_object() {
        return Err(bad("Could not parse request body into json"));
    }
    Ok(v)
}

/// Whether the source exists: SQS queues are looked up in this server's queues, Kinesis
/// streams in its streams. A stream that exists is still refused, with a sentence
/// saying why: its poller (shard checkpoints, bisection, OnFailure) is not built yet,
/// and a mapping that is accepted but never delivers would be worse (docs/wire.md §28).
pub async fn source_check(state: &AppState, arn: &str, kind: SourceKind) -> Result<(), ApiError> {
    match kind {
        SourceKind::Sqs => {
            let missing = || {
                ApiError::InvalidParameter(
                    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist for this wsdl version.".into(),
                )
            };
            let name = sqs_queue_name(arn).ok_or_else(missing)?;
            let same_place = arn.split(':').nth(3) == Some(state.partition.region.as_str())
                && arn.split(':').nth(4) == Some(state.partition.account.as_str());
            let queues = state.queues.as_ref().ok_or_else(missing)?;
            if !same_place || queues.get_queue(name).await.is_err() {
                return Err(missing());
            }
            Ok(())
        }
        SourceKind::Kinesis => {
            let name = arn.rsplit_once(":stream/").map(|(_, n)| n).filter(|_| {
                arn.split(':').nth(3) == Some(state.partition.region.as_str())
                    && arn.split(':').nth(4) == Some(state.partition.account.as_str())
            });
            let exists = match (name, &state.streams) {
                (Some(n), Some(streams)) => streams.describe(n).await.is_ok(),
                _ => false,
            };
            if exists {
                Err(ApiError::InvalidParameter(format!(
                    "Event source mappings for Kinesis streams are not supported by this server yet: {arn}"
                )))
            } else {
                Err(ApiError::InvalidParameter(format!(
                    "Stream not found: {arn}"
                )))
            }
        }
        // The model refuses the other kinds before a lookup.
        _ => Ok(()),
    }
}

fn not_found(uuid: &str) -> ApiError {
    ApiError::NotFound(format!(
        "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
    ))
}

fn tell(state: &AppState) {
    if let Some(m) = &state.mappings {
        m.changed();
    }
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = body_json(&headers, body, "CreateEventSourceMapping").await?;
    let function = v
        .get("FunctionName")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::Validation("1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null".into())
        })?;
    let source = v
        .get("EventSourceArn")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::InvalidParameter("Unrecognized event source.".into()))?
        .to_string();
    let enabled = match v.get("Enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("Enabled must be a boolean")),
    };
    let tags: std::collections::BTreeMap<String, String> = match v.get("Tags") {
        None | Some(Value::Null) => Default::default(),
        Some(t) => {
            serde_json::from_value(t.clone()).map_err(|_| bad("Tags must be a map of strings"))?
        }
    };
    quiver_model::tags::validate_tags(&tags)?;
    let target = Target::parse(&state, function, None)?;
    let kind = SourceKind::of(&source);
    let fifo = source.ends_with(".fifo");
    let asked = settings(&v)?;
    asked.validate(kind, fifo, true)?;
    source_check(&state, &source, kind).await?;
    let m = EventSourceMapping {
        uuid: uuid::Uuid::new_v4().to_string(),
        event_source_arn: source.clone(),
        function_name: target.name.clone(),
        qualifier: target.qualifier.clone(),
        enabled,
        state: MappingState::Creating,
        state_transition_reason: "USER_INITIATED".into(),
        last_modified: now_secs(),
        last_processing_result: "No records processed".into(),
        settings: asked.with_defaults(kind),
    };
    let stored = m.clone();
    let (name, qualifier) = (target.name.clone(), target.qualifier.clone());
    let written = state
        .store(move |s| {
            if s.resolve(&name, qualifier.as_deref())?.is_none() {
                return Err(StoreError::NotFound);
            }
            s.create_mapping(&stored)?;
            if tags.is_empty() {
                return Ok(());
            }
            s.put_mapping_tags(&stored.uuid, &tags)
        })
        .await?;
    if let Err(e) = written {
        return Err(match e {
            StoreError::AlreadyExists => {
                let (src, f, q) = (
                    source.clone(),
                    target.name.clone(),
                    target.qualifier.clone(),
                );
                let existing = state
                    .store(move |s| s.list_mappings())
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .find(|x| x.event_source_arn == src && x.function_name == f && x.qualifier == q)
                    .map(|x| x.uuid)
                    .unwrap_or_default();
                ApiError::Conflict(format!(
                    "An event source mapping with SQS arn (\" {source} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {existing}",
                    target.name
                ))
            }
            other => ApiError::from_store(other, &target.arn),
        });
    }
    tracing::info!(mapping = %m.uuid, function = %m.function_name, source = %m.event_source_arn, "event source mapping created");
    tell(&state);
    Ok((StatusCode::ACCEPTED, Json(render(&state, &m))).into_response())
}

async fn load(state: &AppState, uuid: &str) -> Result<EventSourceMapping, ApiError> {
    let u = uuid.to_string();
    state
        .store(move |s| s.get_mapping(&u))
        .await?
        .map_err(|e| ApiError::from_store(e, uuid))?
        .ok_or_else(|| not_found(uuid))
}

pub async fn get(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let m = load(&state, &uuid).await?;
    Ok(Json(render(&state, &m)).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = body_json(&headers, body, "UpdateEventSourceMapping").await?;
    let current = load(&state, &uuid).await?;
    let change = settings(&v)?;
    let kind = SourceKind::of(&current.event_source_arn);
    let merged = current.settings.merged(&change);
    // StartingPosition belongs to Create only; the stored one is not a change.
    let mut check = merged.clone();
    if change.starting_position.is_none() {
        check.starting_position = None;
        check.starting_position_timestamp = None;
    }
    if kind == SourceKind::Sqs {
        check.validate(kind, current.event_source_arn.ends_with(".fifo"), false)?;
    } else {
        check.validate(kind, false, false)?;
    }
    let enabled = match v.get("Enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("Enabled must be a boolean")),
    };
    let retarget = match v.get("FunctionName").and_then(Value::as_str) {
        Some(f) => Some(Target::parse(&state, f, None)?),
        None => None,
    };
    if let Some(t) = &retarget {
        let (n, q) = (t.name.clone(), t.qualifier.clone());
        let found = state
            .store(move |s| s.resolve(&n, q.as_deref()))
            .await?
            .map_err(|e| ApiError::from_store(e, &t.arn))?;
        if found.is_none() {
            return Err(ApiError::from_store(StoreError::NotFound, &t.arn));
        }
    }
    let u = uuid.clone();
    let updated = state
        .store(move |s| {
            s.update_mapping(&u, &mut |m| {
                m.settings = merged.clone();
                if let Some(t) = &retarget {
                    m.function_name = t.name.clone();
                    m.qualifier = t.qualifier.clone();
                }
                m.state = match enabled {
                    Some(true) if !m.enabled => MappingState::Enabling,
                    Some(false) if m.enabled => MappingState::Disabling,
                    _ => MappingState::Updating,
                };
                if let Some(e) = enabled {
                    m.enabled = e;
                }
                m.state_transition_reason = "USER_INITIATED".into();
                m.last_modified = now_secs();
                Ok(())
            })
        })
        .await?
        .map_err(|e| match e {
            StoreError::NotFound => not_found(&uuid),
            other => ApiError::from_store(other, &uuid),
        })?;
    tell(&state);
    Ok((StatusCode::ACCEPTED, Json(render(&state, &updated))).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let mut m = load(&state, &uuid).await?;
    let u = uuid.clone();
    let gone = state
        .store(move |s| s.delete_mapping(&u))
        .await?
        .map_err(|e| ApiError::from_store(e, &uuid))?;
    if !gone {
        return Err(not_found(&uuid));
    }
    tell(&state);
    m.state = MappingState::Deleting;
    tracing::info!(mapping = %uuid, "event source mapping deleted");
    Ok((StatusCode::ACCEPTED, Json(render(&state, &m))).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let max = match query::first(&pairs, "MaxItems") {
        None => LIST_DEFAULT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=LIST_MAX).contains(&n) => n,
            _ => {
                return Err(ApiError::Validation(format!(
                    "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to {LIST_MAX}"
                )))
            }
        },
    };
    let after = match query::first(&pairs, "Marker") {
        None => None,
        Some(m) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::InvalidParameter("Invalid marker".into()))?,
        ),
    };
    let function = match query::first(&pairs, "FunctionName") {
        Some(f) => Some(Target::parse(&state, f, None)?),
        None => None,
    };
    let source = query::first(&pairs, "EventSourceArn").map(str::to_string);
    let all = state
        .store(move |s| s.list_mappings())
        .await?
        .map_err(|e| ApiError::from_store(e, ""))?;
    let mut rows = all.into_iter().filter(|m| {
        function.as_ref().is_none_or(|t| {
            t.name == m.function_name && (t.qualifier.is_none() || t.qualifier == m.qualifier)
        }) && source.as_ref().is_none_or(|s| *s == m.event_source_arn)
            && after.as_ref().is_none_or(|a| m.uuid.as_str() > a.as_str())
    });
    let page: Vec<EventSourceMapping> = rows.by_ref().take(max).collect();
    let more = rows.next().is_some();
    let mut out = json!({
        "EventSourceMappings": page.iter().map(|m| render(&state, m)).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = page.last() {
            out["NextMarker"] =
                json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.uuid));
        }
    }
    Ok(Json(out).into_response())
}
