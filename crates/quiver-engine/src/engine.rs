//! The invoke path: find or start an environment, hand the event over, turn what
//! happened into Lambda's answer, keep the environment warm if it is still good.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quiver_runtime_api::{Invocation, MAX_RESPONSE_BYTES};
use quiver_sandbox::Manager;
use time::OffsetDateTime;

use crate::environment::{Environment, Handoff};
use quiver_model::runtime::kind_of;
use quiver_model::{RuntimeCatalogue, RuntimeKind};

use crate::launch::launch;
use crate::outcome::{self, Report};
use crate::{EngineError, FunctionSpec, InvokeRequest, InvokeResult};

/// The built-in bootstraps, compiled into the binary so that one file is the whole
/// platform; written to the data dir at start and shown read-only at /var/runtime.
const PYTHON_BOOTSTRAP: &str = include_str!("../../../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../../../runtimes/node/bootstrap.mjs");

/// Largest log tail returned with `X-Amz-Log-Type: Tail`.
const TAIL_BYTES: usize = 4096;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data dir (built-in runtimes are installed under it).
    pub data_dir: PathBuf,
    /// Runtime ids → interpreter paths on this host.
    pub catalogue: RuntimeCatalogue,
}

/// Runs invocations in sandboxed environments and keeps idle ones warm.
pub struct Engine {
    manager: Arc<Manager>,
    catalogue: RuntimeCatalogue,
    runtime_dir: PathBuf,
    /// Idle environments per pool key, most recently used last.
    idle: Mutex<HashMap<String, Vec<Environment>>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Engine {
    /// Installs the built-in runtimes under `<data_dir>/runtime` and returns the engine.
    pub fn new(manager: Arc<Manager>, cfg: EngineConfig) -> Result<Engine, EngineError> {
        let runtime_dir = cfg.data_dir.join("runtime");
        install_runtimes(&runtime_dir)?;
        Ok(Engine {
            manager,
            catalogue: cfg.catalogue,
            runtime_dir,
            idle: Mutex::new(HashMap::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Runs one synchronous invocation. Function failures of every kind are results
    /// (`function_error` set), never `Err`: `Err` means the platform itself failed.
    pub async fn invoke(&self, spec: &FunctionSpec, req: InvokeRequest) -> Result<InvokeResult, EngineError> {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let key = spec.pool_key();
        self.retire_stale(spec);
        let (mut env, cold) = match self.take_idle(&key) {
            Some(env) => (env, false),
            None => (self.start_env(spec, &key).await?, true),
        };
        let mut log = vec![outcome::start_line(&req.request_id, &spec.version)];
        let started = Instant::now();
        let timeout = Duration::from_secs(u64::from(spec.timeout_s));

        let mut handoff = if cold { env.wait_init().await } else { None };
        // INIT time is not part of the function's timeout.
        let invoke_start = Instant::now();
        if handoff.is_none() {
            let deadline = invoke_start + timeout;
            let deadline_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64 + timeout.as_millis() as u64;
            let inv = Invocation {
                request_id: req.request_id.clone(),
                payload: req.payload.clone(),
                deadline_ms,
                invoked_function_arn: req.invoked_arn.clone(),
                trace_id: None,
                client_context: req.client_context.clone(),
                cognito_identity: None,
            };
            handoff = Some(env.invoke(inv, deadline).await);
        }
        let handoff = handoff.expect("set above");
        let elapsed = invoke_start.elapsed();
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        let _ = started;
        log.extend(env.drain_logs());
        let init_ms = env.take_init_ms().or_else(|| if cold && !matches!(handoff, Handoff::Response(_) | Handoff::FunctionError(_)) { Some(duration_ms) } else { None });

        let now = OffsetDateTime::now_utc();
        let rid = &req.request_id;
        let (payload, error_type, extra_line): (Bytes, Option<String>, Option<String>) = match &handoff {
            Handoff::Response(b) => (b.clone(), None, None),
            Handoff::FunctionError(b) | Handoff::InitError(b) => (b.clone(), Some(error_type_of(b)), None),
            Handoff::TooLarge(size) => {
                let body = outcome::too_large_body(*size, MAX_RESPONSE_BYTES);
                (Bytes::from(body), Some("Function.ResponseSizeTooLarge".into()), None)
            }
            Handoff::Timeout => {
                let secs = elapsed.as_secs_f64();
                (
                    Bytes::from(outcome::timeout_body(rid, secs, now)),
                    Some("Sandbox.Timedout".into()),
                    Some(outcome::timeout_log_line(rid, secs, now)),
                )
            }
            Handoff::Exited(report) => {
                let body = outcome::exit_body(rid, &report.description, report.oom_killed);
                let t = if report.oom_killed { "Runtime.OutOfMemory" } else { "Runtime.ExitError" };
                let line = format!("RequestId: {rid} Error: Runtime exited with error: {}", report.description);
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
        for line in &log {
            tracing::debug!(target: "function", stream = %env.log_stream, "{line}");
        }

        if handoff.reusable() && !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            self.put_idle(env);
        } else {
            tokio::spawn(env.destroy());
        }
        Ok(InvokeResult {
            payload,
            function_error: error_type.map(|_| "Unhandled".to_string()),
            executed_version: spec.version.clone(),
            log_tail: req.want_log_tail.then(|| outcome::log_tail(&log, TAIL_BYTES)),
            cold_start: cold,
        })
    }

    async fn start_env(&self, spec: &FunctionSpec, key: &str) -> Result<Environment, EngineError> {
        let unavailable = || EngineError::RuntimeUnavailable(spec.runtime.clone());
        let kind = kind_of(&spec.runtime).ok_or_else(unavailable)?;
        let available = self.catalogue.get(&spec.runtime).ok_or_else(unavailable)?;
        let interpreter = available.interpreter.as_deref();
        if kind != RuntimeKind::Provided && interpreter.is_none() {
            return Err(unavailable());
        }
        let env_id = uuid::Uuid::new_v4().simple().to_string();
        let today = OffsetDateTime::now_utc();
        let date = format!("{:04}/{:02}/{:02}", today.year(), u8::from(today.month()), today.day());
        let l = launch(spec, &kind, interpreter, &self.runtime_dir, &env_id, &date).map_err(EngineError::RuntimeUnavailable)?;
        Environment::start(&self.manager, l, key.to_string(), env_id).await
    }

    fn take_idle(&self, key: &str) -> Option<Environment> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get_mut(key).and_then(|v| v.pop())
    }

    fn put_idle(&self, env: Environment) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.entry(env.key.clone()).or_default().push(env);
    }

    /// Destroys idle environments of older revisions of this function: after an
    /// update they must never serve again.
    fn retire_stale(&self, spec: &FunctionSpec) {
        let key = spec.pool_key();
        let prefix = format!("{}\u{0}", spec.name);
        let stale: Vec<Environment> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<String> = idle.keys().filter(|k| k.starts_with(&prefix) && **k != key).cloned().collect();
            keys.into_iter().flat_map(|k| idle.remove(&k).unwrap_or_default()).collect()
        };
        for env in stale {
            tokio::spawn(env.destroy());
        }
    }

    /// Destroys every idle environment of a function (on update or delete).
    pub async fn retire_function(&self, name: &str) {
        let prefix = format!("{name}\u{0}");
        let envs: Vec<Environment> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<String> = idle.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
            keys.into_iter().flat_map(|k| idle.remove(&k).unwrap_or_default()).collect()
        };
        for env in envs {
            env.destroy().await;
        }
    }

    /// Number of idle environments (for tests and `quiver ps`).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
    }

    /// Stops every idle environment; in-flight ones are destroyed when they finish.
    pub async fn shutdown(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let envs: Vec<Environment> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.drain().flat_map(|(_, v)| v).collect()
        };
        let mut set = tokio::task::JoinSet::new();
        for env in envs {
            set.spawn(env.destroy());
        }
        while set.join_next().await.is_some() {}
    }
}

/// `errorType` of a runtime's error JSON, for REPORT's `Error Type`.
fn error_type_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "Runtime.Unknown".into())
}

fn install_runtimes(dir: &Path) -> Result<(), EngineError> {
    let err = |source| EngineError::InstallRuntimes { path: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(err)?;
    for (name, text) in [("bootstrap.py", PYTHON_BOOTSTRAP), ("bootstrap.mjs", NODE_BOOTSTRAP)] {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
    }
    Ok(())
}
