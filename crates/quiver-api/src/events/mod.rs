//! EventBridge-compatible API (JSON 1.1, `X-Amz-Target: AWSEvents.<Op>`, docs/wire.md
//! §24). This module is the wire: it parses requests and renders answers and errors
//! in EventBridge's shape (`{"__type": …, "message": …}`). The pattern language and
//! the resources' rules are quiver-events', storage quiver-store's, delivery
//! quiver-triggers'.

mod ops;
mod put_events;
mod targets;
#[cfg(test)]
mod tests;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_store::StoreError;
use serde_json::{json, Value};

use crate::state::AppState;

/// Largest request body (PutEvents' 256 KB of entries plus the JSON around them).
const MAX_BODY: u64 = 1_048_576;

/// An error as an EventBridge client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl EventsApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let status = if code == "InternalException" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        EventsApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }

    /// A store failure: NotFound is the caller's to word; the rest is internal.
    pub fn store(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::validation(m),
            other => {
                tracing::error!("eventbridge store: {other}");
                Self::new(
                    "InternalException",
                    "The store failed; see the Quiver server log.",
                )
            }
        }
    }
}

impl IntoResponse for EventsApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "__type": self.code, "message": self.message }),
        )
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

/// Handles one EventBridge operation.
pub async fn handle(state: AppState, op: String, headers: HeaderMap, body: Body) -> Response {
    match run(state, &op, &headers, body).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: AppState,
    op: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, EventsApiError> {
    let bytes = crate::body::read_limited(headers, body, MAX_BODY, op)
        .await
        .map_err(|e| EventsApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "ValidationException",
            message: e.to_string(),
        })?;
    let req: Value = if bytes.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            EventsApiError::new("SerializationException", format!("Invalid JSON: {e}"))
        })?
    };
    if !req.is_object() {
        return Err(EventsApiError::new(
            "SerializationException",
            "The request body must be a JSON object",
        ));
    }
    if op == "PutEvents" {
        return put_events::put_events(&state, &req).await;
    }
    let op = op.to_string();
    tokio::task::spawn_blocking(move || {
        let answer = ops::dispatch(&state, &op, &req)?;
        sync_schedule(&state, &op, &req);
        Ok(answer)
    })
    .await
    .map_err(|e| EventsApiError::new("InternalException", format!("task failed: {e}")))?
}

/// After a change to a rule or its targets, tells the schedule ticker the rule as it is
/// stored now (scheduled rules live on the default bus only). Runs on the blocking
/// thread of the change, after it succeeded.
fn sync_schedule(state: &AppState, op: &str, req: &Value) {
    let member = match op {
        "PutRule" | "EnableRule" | "DisableRule" | "DeleteRule" => "Name",
        "PutTargets" | "RemoveTargets" => "Rule",
        _ => return,
    };
    let Some(schedules) = state.schedules.as_ref() else {
        return;
    };
    let (Ok(bus), Some(name)) = (
        ops::bus_name(req, "EventBusName"),
        req.get(member).and_then(Value::as_str),
    ) else {
        return;
    };
    if bus != quiver_events::bridge::DEFAULT_BUS {
        return;
    }
    let arn = quiver_triggers::EventBridge::rule_arn(&state.partition, &bus, name);
    match state.store.get_event_rule(&bus, name) {
        Ok(rule) => schedules.sync_rule(&arn, rule.as_ref()),
        Err(e) => tracing::warn!(rule = %arn, "could not read the rule for its schedule: {e}"),
    }
}

/// `1 validation error detected: Value null at '<member>' ...`.
pub(crate) fn missing(member: &str) -> EventsApiError {
    EventsApiError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(member)
    ))
}

pub(crate) fn lower_first(member: &str) -> String {
    let mut c = member.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An optional string member (a wrong type is a SerializationException, as botocore
/// never sends one).
pub(crate) fn opt_string(req: &Value, member: &str) -> Result<Option<String>, EventsApiError> {
    match req.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EventsApiError::new(
            "SerializationException",
            format!("{member} must be a string"),
        )),
    }
}

pub(crate) fn string(req: &Value, member: &str) -> Result<String, EventsApiError> {
    opt_string(req, member)?.ok_or_else(|| missing(member))
}
