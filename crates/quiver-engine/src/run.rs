//! One invocation on one environment: hand the event over and turn what happened
//! into Lambda's answer and log lines. Knows nothing of pools.

use std::time::{Duration, Instant};

use bytes::Bytes;
use quiver_runtime_api::{Invocation, MAX_RESPONSE_BYTES};
use time::OffsetDateTime;

use crate::environment::{Environment, Handoff};
use crate::outcome::{self, Report};
use crate::{FunctionSpec, InvokeRequest, InvokeResult};

/// Largest log tail returned with `X-Amz-Log-Type: Tail`.
const TAIL_BYTES: usize = 4096;

/// Runs `req` on `env`. Returns the result and whether the environment may serve again,
/// or None when the runtime ended before it took the event (`Handoff::Undelivered`) and
/// `may_retry`: the function never saw it, so the caller runs it elsewhere.
pub(crate) async fn run(
    env: &mut Environment,
    spec: &FunctionSpec,
    req: &InvokeRequest,
    cold: bool,
    may_retry: bool,
) -> Option<(InvokeResult, bool)> {
    let timeout = Duration::from_secs(u64::from(spec.timeout_s));
    let mut handoff = if cold { env.wait_init().await } else { None };
    // What the runtime printed during INIT comes before START, as on Lambda.
    let mut log = if cold { env.drain_logs() } else { Vec::new() };
    let start = outcome::start_line(&req.request_id, &spec.version);
    env.log_platform(&start);
    log.push(start);
    // INIT time is not part of the function's timeout.
    let invoke_start = Instant::now();
    if handoff.is_none() {
        let deadline = invoke_start + timeout;
        let deadline_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
            + timeout.as_millis() as u64;
        let inv = Invocation {
            request_id: req.request_id.clone(),
            payload: req.payload.clone(),
            deadline_ms,
            invoked_function_arn: req.invoked_arn.clone(),
            trace_id: req.trace_id.clone(),
            client_context: req.client_context.clone(),
            cognito_identity: None,
            chunks: req.chunks.clone(),
        };
        handoff = Some(env.invoke(inv, deadline).await);
    }
    let handoff = handoff.expect("set above");
    if may_retry && matches!(handoff, Handoff::Undelivered(_)) {
        tracing::info!(env = %env.id, request_id = %req.request_id, "runtime ended before taking the event; running it on another environment");
        return None;
    }
    let elapsed = invoke_start.elapsed();
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    log.extend(env.drain_logs());
    // Everything before here is already in the log store; the platform's closing lines
    // (exit line, END, REPORT, timeout line) follow, in this order.
    let closing_from = log.len();
    let init_ms = env.take_init_ms().or_else(|| {
        (cold && !matches!(handoff, Handoff::Response(_) | Handoff::FunctionError(_)))
            .then(|| env.age_ms())
    });

    let now = OffsetDateTime::now_utc();
    let rid = &req.request_id;
    let (payload, error_type, extra_line): (Bytes, Option<String>, Option<String>) = match &handoff
    {
        Handoff::Response(b) => (b.clone(), None, None),
        Handoff::FunctionError(b) | Handoff::InitError(b) => {
            (b.clone(), Some(error_type_of(b)), None)
        }
        Handoff::TooLarge(size) => {
            let body = outcome::too_large_body(*size, MAX_RESPONSE_BYTES);
            (
                Bytes::from(body),
                Some("Function.ResponseSizeTooLarge".into()),
                None,
            )
        }
        Handoff::Timeout => {
            let secs = elapsed.as_secs_f64();
            (
                Bytes::from(outcome::timeout_body(rid, secs, now)),
                Some("Sandbox.Timedout".into()),
                Some(outcome::timeout_log_line(rid, secs, now)),
            )
        }
        Handoff::Exited(report) | Handoff::Undelivered(report) => {
            let body = outcome::exit_body(rid, &report.description, report.oom_killed);
            let t = if report.oom_killed {
                "Runtime.OutOfMemory"
            } else {
                "Runtime.ExitError"
            };
            let line = format!(
                "RequestId: {rid} Error: Runtime exited with error: {}",
                report.description
            );
            (Bytes::from(body), Some(t.to_string()), Some(line))
        }
    };
    let billed = match handoff {
        Handoff::Timeout => u64::from(spec.timeout_s) * 1000,
        _ => outcome::billed_ms(duration_ms),
    };
    if let Some(line) = &extra_line {
        if !matches!(handoff, Handoff::Timeout) {
            log.push(line.clone());
        }
    }
    log.push(outcome::end_line(rid));
    let report = Report {
        duration_ms,
        billed_ms: billed,
        memory_mb: spec.memory_mb,
        max_memory_used_mb: env.max_memory_used_mb(),
        init_ms,
        error_type: error_type.clone(),
    };
    log.push(outcome::report_line(rid, &report));
    if let (Handoff::Timeout, Some(line)) = (&handoff, &extra_line) {
        log.push(line.clone());
    }
    for line in &log[closing_from..] {
        env.log_platform(line);
    }
    for line in &log {
        tracing::debug!(target: "function", stream = %env.log_stream, "{line}");
    }
    let result = InvokeResult {
        payload,
        function_error: error_type.map(|_| "Unhandled".to_string()),
        executed_version: spec.version.clone(),
        log_tail: req
            .want_log_tail
            .then(|| outcome::log_tail(&log, TAIL_BYTES)),
        cold_start: cold,
    };
    Some((result, handoff.reusable()))
}

/// `errorType` of a runtime's error JSON, for REPORT's `Error Type`.
fn error_type_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Runtime.Unknown".into())
}
