//! The invoke path: admit (account concurrency), find a warm environment or start one
//! (within the host memory budget), run the invocation, return the environment to its
//! pool if it is still good.
//!
//! This module is the glue that does the slow, async parts — thawing, checking a warm
//! runtime is still there, building sandboxes, destroying what the pool gave up —
//! around the pool's bookkeeping ([`crate::pool`]), which decides everything under
//! its lock. The janitor ([`crate::janitor`]), the pre-made stock
//! ([`crate::premade`]) and reporting ([`crate::report`]) add their own methods to
//! [`Engine`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use quiver_model::runtime::kind_of;
use quiver_model::RuntimeKind;
use quiver_sandbox::{Manager, Sandbox};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::config::{EngineConfig, Limits};
use crate::environment::Environment;
use crate::launch::launch;
use crate::pool::{admit, lock, Acquired, Doomed, Pool, Shared};
use crate::state::SharedState;
use crate::{EngineError, FunctionSpec, InvokeRequest, InvokeResult};

/// Runs invocations in sandboxed environments and keeps idle ones warm.
pub struct Engine {
    pub(crate) manager: Arc<Manager>,
    pub(crate) cfg: EngineConfig,
    pub(crate) runtime_dir: PathBuf,
    pub(crate) pools: Shared<Environment, Sandbox>,
    pub(crate) closed: AtomicBool,
    /// Wakes the refiller (a pre-made sandbox was taken, or the stock became wanted).
    pub(crate) refill: Arc<tokio::sync::Notify>,
}

/// Destroys, in the background, what the pool gave up.
pub(crate) fn bury(doomed: Doomed<Environment, Sandbox>) {
    for env in doomed.envs {
        tokio::spawn(env.destroy());
    }
    for sb in doomed.sandboxes {
        tokio::spawn(sb.destroy());
    }
}

impl Engine {
    /// Installs the built-in runtimes under `<data_dir>/runtime` and returns the engine.
    /// Call [`Engine::spawn_janitor`] once it is in an `Arc`.
    pub fn new(manager: Arc<Manager>, cfg: EngineConfig) -> Result<Engine, EngineError> {
        let runtime_dir = cfg.data_dir.join("runtime");
        crate::runtimes::install(&runtime_dir)?;
        let limits = Limits::from(&cfg);
        Ok(Engine {
            manager,
            cfg,
            runtime_dir,
            pools: Arc::new(Mutex::new(Pool::new(limits))),
            closed: AtomicBool::new(false),
            refill: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Starts the background tasks: the janitor that freezes, reaps and retires idle
    /// environments, and (with `prewarm > 0`) the refiller of pre-made sandboxes.
    pub fn spawn_janitor(self: &Arc<Self>) {
        if self.cfg.prewarm > 0 {
            self.spawn_refiller();
        }
        self.spawn_janitor_task();
    }

    /// The account concurrency limit this engine enforces (the figure GetAccountSettings
    /// reports as ConcurrentExecutions).
    pub fn account_concurrency(&self) -> usize {
        self.cfg.account_concurrency
    }

    /// Tells the engine the sum of every function's reserved concurrency, which the
    /// unreserved pool is carved out of (see [`crate::admission`]). Called by the
    /// control plane's invoker whenever the store changed, before the invocation it
    /// resolved; each function's own reservation travels in its [`FunctionSpec`].
    pub fn set_reserved_concurrency(&self, total: u64) {
        lock(&self.pools).concurrency.set_reserved_total(total);
    }

    /// Runs one synchronous invocation. Function failures of every kind are results
    /// (`function_error` set), never `Err`: `Err` means the platform could not run it
    /// (throttled, shutting down, runtime missing, sandbox failure).
    pub async fn invoke(
        &self,
        spec: &FunctionSpec,
        req: InvokeRequest,
    ) -> Result<InvokeResult, EngineError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let _admission = admit(&self.pools, spec)?;
        let key = spec.pool_key();
        // Two attempts at most: the second only when the first environment's runtime
        // ended before it took the event (a one-shot runtime whose exit came late).
        let mut may_retry = true;
        loop {
            let (mut env, cold, created) = self.acquire(spec, &key).await?;
            let ran = crate::run::run(&mut env, spec, &req, cold, may_retry).await;
            let closed = self.closed.load(Ordering::SeqCst);
            let reusable = ran.as_ref().is_some_and(|(_, r)| *r);
            let unwanted = lock(&self.pools).release(env, spec, &key, created, reusable, closed);
            if let Some(env) = unwanted {
                tokio::spawn(env.destroy());
            }
            match ran {
                Some((result, _)) => return Ok(result),
                None => may_retry = false,
            }
        }
    }

    /// A warm environment of `key` (thawed) or a new one; true when new.
    async fn acquire(
        &self,
        spec: &FunctionSpec,
        key: &str,
    ) -> Result<(Environment, bool, Instant), EngineError> {
        let mut doomed = Doomed::default();
        let acquired = lock(&self.pools).acquire(spec, key, &mut doomed);
        bury(doomed);
        match acquired? {
            Acquired::Cold { wake_refiller } => {
                if wake_refiller {
                    self.refill.notify_one();
                }
            }
            Acquired::Warm {
                env,
                was_frozen,
                created,
            } => {
                let thawed = if was_frozen {
                    env.thaw().map_err(|e| e.to_string())
                } else {
                    Ok(())
                };
                // A runtime that answered and then exited (one-shot custom runtimes,
                // Node's exit after an unhandled rejection) is not back in /next: never
                // hand it an event. The check is ~free for a runtime parked in /next.
                let usable = match thawed {
                    Ok(()) => env.ready_for_event().await,
                    Err(e) => {
                        tracing::warn!(env = %env.id, "thaw failed, replacing the environment: {e}");
                        false
                    }
                };
                if usable {
                    return Ok((env, false, created));
                }
                // Not worth saving: replace it; its reservation carries over.
                lock(&self.pools).forget(&env.id);
                tokio::spawn(env.destroy());
            }
        }
        self.cold_start(spec, key)
            .await
            .map(|env| (env, true, Instant::now()))
    }

    /// Starts a new environment; its memory is already reserved.
    async fn cold_start(&self, spec: &FunctionSpec, key: &str) -> Result<Environment, EngineError> {
        let env_id = uuid::Uuid::new_v4().simple().to_string();
        let state = SharedState::new();
        lock(&self.pools).starting(spec, key, &env_id, state.clone());
        match self
            .start_env(spec, key, env_id.clone(), state, false)
            .await
        {
            Ok(env) => Ok(env),
            Err(e) => {
                lock(&self.pools).start_failed(&env_id, spec.memory_mb);
                Err(e)
            }
        }
    }

    /// Builds and starts one environment of `spec`; `provisioned` ones are told so
    /// (`AWS_LAMBDA_INITIALIZATION_TYPE`).
    pub(crate) async fn start_env(
        &self,
        spec: &FunctionSpec,
        key: &str,
        env_id: String,
        state: SharedState,
        provisioned: bool,
    ) -> Result<Environment, EngineError> {
        let today = OffsetDateTime::now_utc();
        let date = format!(
            "{:04}/{:02}/{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        );
        if let Some(image) = &spec.image {
            // A container image brings its runtime: no catalogue entry is involved.
            let mut l = crate::image_launch::launch_function_image(
                spec,
                image,
                &self.runtime_dir,
                &env_id,
                &date,
            )
            .map_err(EngineError::RuntimeUnavailable)?;
            if provisioned {
                crate::launch::mark_provisioned(&mut l);
            }
            return self
                .start_launch(spec, key, env_id, state, l, provisioned)
                .await;
        }
        let unavailable = || EngineError::RuntimeUnavailable(spec.runtime.clone());
        let kind = kind_of(&spec.runtime).ok_or_else(unavailable)?;
        let available = self
            .cfg
            .catalogue
            .get(&spec.runtime)
            .ok_or_else(unavailable)?;
        let interpreter = available.interpreter.as_deref();
        // An image brings its own runtime client (and interpreter).
        if kind != RuntimeKind::Provided
            && interpreter.is_none()
            && available.image_runtime().is_none()
        {
            return Err(unavailable());
        }
        let mut l = match available.image_runtime() {
            Some(image) => crate::image_launch::launch_image(
                spec,
                &kind,
                image,
                interpreter,
                &self.runtime_dir,
                &env_id,
                &date,
            ),
            None => launch(spec, &kind, interpreter, &self.runtime_dir, &env_id, &date),
        }
        .map_err(EngineError::RuntimeUnavailable)?;
        if provisioned {
            crate::launch::mark_provisioned(&mut l);
        }
        // Only the sandboxes of this runtime see its install prefix (added to what the
        // launch itself needs).
        for bind in available.binds() {
            if !l.sandbox.extra_ro_binds.contains(&bind) {
                l.sandbox.extra_ro_binds.push(bind);
            }
        }
        self.start_launch(spec, key, env_id, state, l, provisioned)
            .await
    }

    /// Starts the environment `l` describes (a pre-made sandbox when it fits).
    async fn start_launch(
        &self,
        spec: &FunctionSpec,
        key: &str,
        env_id: String,
        state: SharedState,
        l: crate::launch::Launch,
        provisioned: bool,
    ) -> Result<Environment, EngineError> {
        let log = self
            .cfg
            .logs
            .as_ref()
            .map(|s| s.stream(&spec.log_group, &l.log_stream));
        let premade =
            match crate::launch::assignment(&l.sandbox, &self.cfg.code_base, &self.runtime_dir) {
                Some(a) => self.take_premade().map(|sb| (sb, a)),
                None => None,
            };
        let mut env = Environment::start(
            &self.manager,
            l,
            key.to_string(),
            env_id,
            state,
            log,
            premade,
        )
        .await?;
        env.provisioned = provisioned;
        Ok(env)
    }

    /// Destroys the idle environments of a deleted function (all versions, or one).
    /// Busy ones finish their invocation and are then destroyed (no longer current).
    pub async fn retire(&self, name: &str, version: Option<&str>) {
        let envs = lock(&self.pools).retire(name, version);
        for env in envs {
            env.destroy().await;
        }
    }

    /// Stops every idle environment; in-flight ones are destroyed when they finish.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let doomed = lock(&self.pools).take_all();
        let mut set = tokio::task::JoinSet::new();
        for sb in doomed.sandboxes {
            set.spawn(async move {
                let _ = sb.destroy().await;
            });
        }
        for env in doomed.envs {
            set.spawn(env.destroy());
        }
        while set.join_next().await.is_some() {}
    }
}
