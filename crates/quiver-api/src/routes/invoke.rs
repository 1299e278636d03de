//! Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`).
//!
//! Function failures of every kind (handler error, crash, OOM, timeout, oversized
//! response) are 200 with `X-Amz-Function-Error`, never 5xx: clients retry 5xx and
//! would run the function twice (docs/wire.md §2.2, §3).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use quiver_model::Chain;
use quiver_triggers::{Invocation, Source, TriggerError};

use super::{FnPath, Target};
use crate::body::read_limited;
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// Largest synchronous request payload (Lambda's 6 MB).
pub const MAX_SYNC_PAYLOAD: u64 = 6_291_456;
/// Largest `X-Amz-Client-Context`: "up to 3,583 bytes of base64-encoded data" (the
/// model), so the limit applies to the header as sent, not to the decoded JSON.
const MAX_CLIENT_CONTEXT: usize = 3583;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::InvalidParameter(format!("Header {name} is not valid text."))
            })
        })
        .transpose()
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, ApiError> {
    match header(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ))),
    }
}

pub(crate) fn wants_tail(headers: &HeaderMap) -> Result<bool, ApiError> {
    match header(headers, "x-amz-log-type")? {
        None | Some("None") => Ok(false),
        Some("Tail") => Ok(true),
        Some(other) => Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
        ))),
    }
}

/// `X-Amz-Client-Context` is base64 JSON; the runtime gets the decoded JSON text.
pub(crate) fn client_context(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = header(headers, "x-amz-client-context")? else {
        return Ok(None);
    };
    let bad = || {
        ApiError::InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object.".into(),
        )
    };
    if raw.trim().len() > MAX_CLIENT_CONTEXT {
        return Err(ApiError::InvalidParameter(format!(
            "Client context must be smaller than {MAX_CLIENT_CONTEXT} bytes."
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&decoded).map_err(|_| bad())?;
    if !v.is_object() {
        return Err(bad());
    }
    Ok(Some(String::from_utf8(decoded).map_err(|_| bad())?))
}

pub async fn invoke(
    State(state): State<AppState>,
    FnPath(raw): FnPath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = query::pairs(q.as_deref());
    let target = Target::namespaced(&state, &raw, query::first(&pairs, "Qualifier"))?;
    let kind = invocation_type(&headers)?;
    let tail = wants_tail(&headers)?;
    let context = client_context(&headers)?;
    let chain = chain_of(&headers);
    let payload = read_limited(&headers, body, MAX_SYNC_PAYLOAD, "InvokeFunction").await?;
    let payload = if payload.iter().all(u8::is_ascii_whitespace) {
        bytes::Bytes::from_static(b"{}")
    } else {
        payload
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(ApiError::InvalidRequestContent(format!(
            "Could not parse request body into json: Could not parse payload into json: {e}"
        )));
    }
    let function = target.function_target();
    match kind {
        InvocationType::DryRun => {
            // Only that it exists (Lambda also checks permission here).
            state
                .invoker
                .resolve(&function)
                .await
                .map_err(|e| invoke_error(e, &target))?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        InvocationType::Event => return enqueue(&state, &target, payload, chain).await,
        InvocationType::RequestResponse => {}
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let call = Invocation {
        target: function,
        invoked_arn: target.arn.clone(),
        payload,
        request_id: request_id.clone(),
        client_context: context,
        want_log_tail: tail,
        source: Source::Api,
        chain,
    };
    let result = state
        .invoker
        .invoke(call)
        .await
        .map_err(|e| invoke_error(e, &target))?;
    let mut resp = (StatusCode::OK, result.payload).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Ok(v) = HeaderValue::from_str(&result.executed_version) {
        h.insert("X-Amz-Executed-Version", v);
    }
    if let Some(fe) = result.function_error {
        if let Ok(v) = HeaderValue::from_str(&fe) {
            h.insert("X-Amz-Function-Error", v);
        }
    }
    if let Some(tail) = result.log_tail {
        let b64 = base64::engine::general_purpose::STANDARD.encode(tail.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&b64) {
            h.insert("X-Amz-Log-Result", v);
        }
    }
    Ok(resp)
}

/// The chain this request continues: a caller inside a chain sends its own trace header
/// (`X-Amzn-Trace-Id` with Quiver's `Lineage`), so this invocation is one deeper; any
/// other request starts a chain (docs/wire.md §18).
pub(crate) fn chain_of(headers: &HeaderMap) -> Chain {
    headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(Chain::from_trace_header)
        .map(|c| c.child())
        .unwrap_or_else(new_chain)
}

/// A fresh chain, its root from the clock and a random id.
pub fn new_chain() -> Chain {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Chain::start(secs, uuid::Uuid::new_v4().as_u128())
}

/// Why an invocation did not run, in Lambda's words.
pub(crate) fn invoke_error(e: TriggerError, target: &Target) -> ApiError {
    match e {
        TriggerError::NotFound => ApiError::function_not_found(&target.arn),
        TriggerError::Throttled { reason, .. } => ApiError::TooManyRequests { reason },
        TriggerError::RecursiveLoop { depth } => ApiError::RecursiveInvocation(format!(
            "Recursive invocation detected: {} was invoked {depth} times in one chain of requests (limit {}).",
            target.arn,
            quiver_model::recursion::MAX_CHAIN_DEPTH
        )),
        other => ApiError::Service(other.to_string()),
    }
}

/// `InvocationType: Event`: the event is on disk before 202 is answered.
async fn enqueue(
    state: &AppState,
    target: &Target,
    payload: bytes::Bytes,
    chain: Chain,
) -> Result<Response, ApiError> {
    if payload.len() > quiver_triggers::MAX_ASYNC_PAYLOAD {
        return Err(ApiError::TooLarge(format!(
            "{} byte payload is too large for the Event invocation type (limit {} bytes)",
            payload.len(),
            quiver_triggers::MAX_ASYNC_PAYLOAD
        )));
    }
    // The function must exist now; the dispatcher checks again when it runs.
    let resolved = state
        .invoker
        .resolve(&target.function_target())
        .await
        .map_err(|e| invoke_error(e, target))?;
    let Some(invoker) = state.async_invoker.clone() else {
        return Err(ApiError::Service(
            "this server runs without an async dispatcher".into(),
        ));
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let ev = quiver_triggers::AsyncEvent {
        request_id: request_id.clone(),
        function: resolved.version.name.clone(),
        qualifier: target.qualifier.clone(),
        invoked_arn: target.arn.clone(),
        payload: String::from_utf8_lossy(&payload).into_owned(),
        chain,
    };
    invoker
        .enqueue(ev)
        .await
        .map_err(|e| ApiError::Service(format!("could not queue the event: {e}")))?;
    let mut resp = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    Ok(resp)
}
