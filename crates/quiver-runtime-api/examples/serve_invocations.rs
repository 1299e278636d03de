//! Serves the Runtime API for a few invocations and prints what happened as JSON lines.
//!
//! Why: it proves a runtime (an official RIC, a `provided.*` binary) against the real
//! server without a sandbox or the rest of Quiver. `tests/test_fixtures_host.py` runs it
//! beside each fixture's `bootstrap`.
//!
//! ```text
//! cargo run -p quiver-runtime-api --example serve_invocations -- \
//!     [--listen 127.0.0.1:0] [--event JSON]... [--arn ARN] [--timeout-secs N]
//! ```
//!
//! stdout, one JSON object per line:
//! 1. `{"listening":"127.0.0.1:PORT"}` — start the runtime with that as `AWS_LAMBDA_RUNTIME_API`;
//! 2. `{"init":"ready","ms":…}` or `{"init":"error","error_type":…,"body":…}`;
//! 3. per event (default one, `{"hello":"quiver"}`), in order:
//!    `{"request_id":…,"outcome":"response"|"error"|"too_large","body":…,"error_type":…,"ms":…}`;
//!    bodies that are JSON are embedded as JSON, others as a string.
//!
//! Exits 0 after the last event was answered (whatever the outcome), 1 if init or an
//! invocation did not finish within `--timeout-secs` (default 60), 2 on bad arguments.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use quiver_runtime_api::{InitOutcome, Invocation, InvokeOutcome, RuntimeApi, RuntimeApiConfig};
use serde_json::{json, Value};

struct Args {
    listen: String,
    events: Vec<String>,
    arn: String,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:0".into(),
        events: Vec::new(),
        arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        timeout: Duration::from_secs(60),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => args.listen = value()?,
            "--event" => {
                let v = value()?;
                serde_json::from_str::<Value>(&v)
                    .map_err(|e| format!("--event is not JSON ({e}): {v}"))?;
                args.events.push(v);
            }
            "--arn" => args.arn = value()?,
            "--timeout-secs" => {
                let v = value()?;
                let secs = v
                    .parse::<u64>()
                    .map_err(|_| format!("--timeout-secs wants whole seconds, got {v:?}"))?;
                args.timeout = Duration::from_secs(secs);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.events.is_empty() {
        args.events.push(r#"{"hello":"quiver"}"#.into());
    }
    Ok(args)
}

/// JSON bodies embedded as JSON, anything else as (lossy) text.
fn body_value(b: &Bytes) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into()))
}

fn emit(v: Value) {
    // Rust's stdout is line-buffered even into a pipe: each line reaches the reader at once.
    println!("{v}");
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn drive(api: &RuntimeApi, args: &Args) -> Result<(), String> {
    let start = Instant::now();
    let init = tokio::time::timeout(args.timeout, api.wait_ready())
        .await
        .map_err(|_| format!("init not finished within {:?}", args.timeout))?
        .map_err(|e| e.to_string())?;
    let ms = start.elapsed().as_millis() as u64;
    match init {
        InitOutcome::Ready => emit(json!({"init": "ready", "ms": ms})),
        InitOutcome::InitError { body, error_type } => {
            emit(
                json!({"init": "error", "error_type": error_type, "body": body_value(&body), "ms": ms}),
            );
            return Ok(());
        }
    }
    for event in &args.events {
        let inv = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload: Bytes::from(event.clone()),
            deadline_ms: now_ms() + args.timeout.as_millis() as u64,
            invoked_function_arn: args.arn.clone(),
            ..Default::default()
        };
        let request_id = inv.request_id.clone();
        let start = Instant::now();
        let outcome = tokio::time::timeout(args.timeout, api.invoke(inv))
            .await
            .map_err(|_| {
                format!(
                    "invocation {request_id} not answered within {:?}",
                    args.timeout
                )
            })?
            .map_err(|e| e.to_string())?;
        let ms = start.elapsed().as_millis() as u64;
        let line = match outcome {
            InvokeOutcome::Response(b) => {
                json!({"request_id": request_id, "outcome": "response", "body": body_value(&b), "ms": ms})
            }
            InvokeOutcome::Error { body, error_type } => json!({
                "request_id": request_id, "outcome": "error", "error_type": error_type,
                "body": body_value(&body), "ms": ms,
            }),
            InvokeOutcome::ResponseTooLarge { size } => {
                json!({"request_id": request_id, "outcome": "too_large", "size": size, "ms": ms})
            }
        };
        emit(line);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("serve_invocations: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match std::net::TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("serve_invocations: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let (api, task) = match RuntimeApi::serve(listener, RuntimeApiConfig::default()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("serve_invocations: {e}");
            return ExitCode::from(2);
        }
    };
    emit(json!({"listening": api.local_addr().to_string()}));
    let result = drive(&api, &args).await;
    api.shutdown();
    let _ = task.await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            emit(json!({"error": e}));
            ExitCode::from(1)
        }
    }
}
