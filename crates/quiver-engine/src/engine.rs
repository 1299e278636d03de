//! The invoke path: admit (account concurrency), find a warm environment or start one
//! (within the host memory budget), run the invocation, return the environment to its
//! pool if it is still good. A janitor freezes idle environments, reaps old ones and
//! retires those past their lifetime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use quiver_model::runtime::kind_of;
use quiver_model::{RuntimeCatalogue, RuntimeKind};
use quiver_sandbox::{Manager, PremadeSpec, Sandbox};
use time::OffsetDateTime;

use crate::environment::Environment;
use crate::launch::launch;
use crate::state::EnvState;
use crate::{EngineError, FunctionSpec, InvokeRequest, InvokeResult};

/// The built-in bootstraps, compiled into the binary so that one file is the whole
/// platform; written to the data dir at start and shown read-only at /var/runtime.
const PYTHON_BOOTSTRAP: &str = include_str!("../../../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../../../runtimes/node/bootstrap.mjs");

/// Memory limit of an empty pre-made sandbox (it holds only init; raised at assignment).
const PREMADE_MEMORY_MB: u32 = 64;
/// What one pre-made sandbox counts against the memory budget. An empty one uses a
/// few MB (init's private pages and the root tmpfs); see BENCHMARKS.md.
const PREMADE_CHARGE_MB: u64 = 16;
/// How often the refiller looks again when it could not or need not build.
const REFILL_TICK: Duration = Duration::from_secs(1);

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data dir (built-in runtimes are installed under it).
    pub data_dir: PathBuf,
    /// Runtime ids → interpreters on this host.
    pub catalogue: RuntimeCatalogue,
    /// Account concurrency: invocations in flight at once (Lambda's default 1000).
    pub account_concurrency: usize,
    /// Host memory budget for environments, in MB. Busy and starting environments
    /// count their MemorySize, idle ones what they actually used.
    pub memory_budget_mb: u64,
    /// Idle environments are frozen after this long without an event.
    pub freeze_after: Duration,
    /// Idle environments are destroyed after this long without an event.
    pub idle_timeout: Duration,
    /// Environments retire (are not reused) after this long, however busy.
    pub max_lifetime: Duration,
    /// Where every environment's output and START/END/REPORT lines are stored
    /// (None: only the Invoke Tail and the debug trace see them).
    pub logs: Option<Arc<quiver_logs::LogSink>>,
    /// Pre-made empty sandboxes kept ready for cold starts (0: none). The pool follows
    /// demand: it is filled after the first cold start, refilled in the background
    /// after one is taken (within free budget only, never by evicting), and let go
    /// when no cold start happened for `idle_timeout`, like idle environments. An
    /// idle server therefore holds no sandboxes at all.
    pub prewarm: usize,
}

impl EngineConfig {
    /// Defaults: 1000 concurrent, 10 min idle, 2 h lifetime, freeze after 200 ms.
    pub fn new(data_dir: PathBuf, catalogue: RuntimeCatalogue, memory_budget_mb: u64) -> Self {
        EngineConfig {
            data_dir,
            catalogue,
            account_concurrency: 1000,
            memory_budget_mb,
            freeze_after: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(2 * 3600),
            logs: None,
            prewarm: 2,
        }
    }
}

/// One environment, as `quiver ps` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvInfo {
    pub id: String,
    pub function: String,
    pub version: String,
    pub state: String,
    pub age_ms: u64,
    pub idle_ms: Option<u64>,
    pub invocations: u64,
    pub memory_size_mb: u32,
    /// Peak memory of the environment (idle ones only: busy ones are measured at REPORT).
    pub max_memory_used_mb: Option<u64>,
    pub cpu_ms: Option<u64>,
    /// The memory cgroup directory (idle ones only).
    pub cgroup: Option<String>,
    /// Where its cold start spent its time (idle ones only).
    pub cold_start: Option<crate::environment::ColdStart>,
}

/// An idle (or frozen) environment in a pool.
struct Slot {
    env: Environment,
    state: EnvState,
    function: String,
    version: String,
    memory_mb: u32,
    created: Instant,
    last_used: Instant,
    /// MB counted against the budget while idle.
    charge_mb: u64,
}

/// An environment out of the pool: starting, busy or draining.
struct Active {
    key: String,
    function: String,
    version: String,
    state: EnvState,
    memory_mb: u32,
    created: Instant,
    invocations: u64,
}

#[derive(Default)]
struct Pools {
    /// Idle environments per pool key, most recently used last.
    idle: HashMap<String, Vec<Slot>>,
    /// Environments outside the pool, by environment id.
    active: HashMap<String, Active>,
    /// MB reserved against the budget by every live environment.
    reserved_mb: u64,
    /// Invocations admitted and not finished.
    in_flight: usize,
    /// The current pool key of each (function, version): environments of any other
    /// key are drained.
    current: HashMap<String, String>,
    /// Pre-made empty sandboxes, newest last. Each counts [`PREMADE_CHARGE_MB`].
    premade: Vec<Premade>,
    /// Pre-made sandboxes being built (already counted in `reserved_mb`).
    premade_building: usize,
    /// Whether the pool should be kept full (from the first cold start until it idles out).
    premade_wanted: bool,
    /// The last cold start (the pool idles out `idle_timeout` after it).
    last_cold: Option<Instant>,
}

/// An empty sandbox waiting for a cold start.
struct Premade {
    sandbox: Sandbox,
}

/// Runs invocations in sandboxed environments and keeps idle ones warm.
pub struct Engine {
    manager: Arc<Manager>,
    cfg: EngineConfig,
    runtime_dir: PathBuf,
    pools: Arc<Mutex<Pools>>,
    closed: AtomicBool,
    /// Wakes the refiller (a pre-made sandbox was taken).
    refill: Arc<tokio::sync::Notify>,
}

/// Releases an admission when the invocation ends, however it ends.
struct Admission(Arc<Mutex<Pools>>);

impl Drop for Admission {
    fn drop(&mut self) {
        let mut p = lock(&self.0);
        p.in_flight = p.in_flight.saturating_sub(1);
    }
}

fn lock(p: &Mutex<Pools>) -> MutexGuard<'_, Pools> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn fv_key(name: &str, version: &str) -> String {
    format!("{name}\u{0}{version}")
}

impl Engine {
    /// Installs the built-in runtimes under `<data_dir>/runtime` and returns the engine.
    /// Call [`Engine::spawn_janitor`] once it is in an `Arc`.
    pub fn new(manager: Arc<Manager>, cfg: EngineConfig) -> Result<Engine, EngineError> {
        let runtime_dir = cfg.data_dir.join("runtime");
        install_runtimes(&runtime_dir)?;
        Ok(Engine {
            manager,
            cfg,
            runtime_dir,
            pools: Arc::new(Mutex::new(Pools::default())),
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
        let weak: Weak<Engine> = Arc::downgrade(self);
        let tick =
            (self.cfg.freeze_after / 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(engine) = weak.upgrade() else { return };
                if engine.closed.load(Ordering::SeqCst) {
                    return;
                }
                engine.janitor_pass();
            }
        });
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
        let _admission = self.admit()?;
        let key = spec.pool_key();
        let (mut env, cold, created) = self.acquire(spec, &key).await?;
        let (result, reusable) = crate::run::run(&mut env, spec, &req, cold).await;
        self.release(env, spec, &key, created, reusable);
        Ok(result)
    }

    fn admit(&self) -> Result<Admission, EngineError> {
        let mut p = lock(&self.pools);
        if p.in_flight >= self.cfg.account_concurrency {
            return Err(EngineError::Throttled {
                reason: "ConcurrentInvocationLimitExceeded",
                detail: format!(
                    "account concurrency limit of {} reached",
                    self.cfg.account_concurrency
                ),
            });
        }
        p.in_flight += 1;
        Ok(Admission(self.pools.clone()))
    }

    /// A warm environment of `key` (thawed) or a new one.
    async fn acquire(
        &self,
        spec: &FunctionSpec,
        key: &str,
    ) -> Result<(Environment, bool, Instant), EngineError> {
        let mut doomed = Vec::new();
        let taken = {
            let mut p = lock(&self.pools);
            self.make_current(&mut p, spec, key, &mut doomed);
            // The most recently used environment whose runtime is still alive.
            let mut slot = None;
            while let Some(s) = p.idle.get_mut(key).and_then(Vec::pop) {
                if s.env.has_exited() {
                    p.reserved_mb = p.reserved_mb.saturating_sub(s.charge_mb);
                    doomed.push(s.env);
                    continue;
                }
                slot = Some(s);
                break;
            }
            match slot {
                Some(mut slot) => {
                    let extra = u64::from(slot.memory_mb).saturating_sub(slot.charge_mb);
                    p.reserved_mb = p.reserved_mb.saturating_sub(slot.charge_mb);
                    if let Err(e) = self.make_room(&mut p, u64::from(slot.memory_mb), &mut doomed) {
                        // Not even this one fits busy: put it back and refuse.
                        p.reserved_mb += slot.charge_mb;
                        p.idle.entry(key.to_string()).or_default().push(slot);
                        drop(p);
                        destroy_all(doomed);
                        return Err(e);
                    }
                    let _ = extra;
                    p.reserved_mb += u64::from(slot.memory_mb);
                    let was_frozen = slot.state == EnvState::Frozen;
                    if let Err((from, to)) = slot.state.become_(EnvState::Busy) {
                        tracing::error!(env = %slot.env.id, "illegal state transition {from} -> {to}");
                    }
                    p.active.insert(
                        slot.env.id.clone(),
                        Active {
                            key: key.to_string(),
                            function: slot.function.clone(),
                            version: slot.version.clone(),
                            state: EnvState::Busy,
                            memory_mb: slot.memory_mb,
                            created: slot.created,
                            invocations: slot.env.invocations,
                        },
                    );
                    Some((slot.env, was_frozen, slot.created))
                }
                None => {
                    p.last_cold = Some(Instant::now());
                    if !p.premade_wanted {
                        p.premade_wanted = true;
                        self.refill.notify_one();
                    }
                    if let Err(e) = self.make_room(&mut p, u64::from(spec.memory_mb), &mut doomed) {
                        drop(p);
                        destroy_all(doomed);
                        return Err(e);
                    }
                    p.reserved_mb += u64::from(spec.memory_mb);
                    None
                }
            }
        };
        destroy_all(doomed);
        if let Some((env, was_frozen, created)) = taken {
            let thawed = if was_frozen {
                env.thaw().map_err(|e| e.to_string())
            } else {
                Ok(())
            };
            // A runtime that answered and then exited (one-shot custom runtimes, Node's
            // exit after an unhandled rejection) is not back in /next: never hand it an
            // event. The check is ~free for a runtime already parked in /next.
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
            lock(&self.pools).active.remove(&env.id);
            tokio::spawn(env.destroy());
        }
        self.cold_start(spec, key)
            .await
            .map(|env| (env, true, Instant::now()))
    }

    /// Starts a new environment; its memory is already reserved.
    async fn cold_start(&self, spec: &FunctionSpec, key: &str) -> Result<Environment, EngineError> {
        let env_id = uuid::Uuid::new_v4().simple().to_string();
        {
            let mut p = lock(&self.pools);
            p.active.insert(
                env_id.clone(),
                Active {
                    key: key.to_string(),
                    function: spec.name.clone(),
                    version: spec.version.clone(),
                    state: EnvState::Starting,
                    memory_mb: spec.memory_mb,
                    created: Instant::now(),
                    invocations: 0,
                },
            );
        }
        match self.start_env(spec, key, env_id.clone()).await {
            Ok(env) => {
                if let Some(a) = lock(&self.pools).active.get_mut(&env_id) {
                    let _ = a.state.become_(EnvState::Busy);
                }
                Ok(env)
            }
            Err(e) => {
                let mut p = lock(&self.pools);
                p.active.remove(&env_id);
                p.reserved_mb = p.reserved_mb.saturating_sub(u64::from(spec.memory_mb));
                Err(e)
            }
        }
    }

    /// Back to the pool if still good and current, else destroyed.
    fn release(
        &self,
        env: Environment,
        spec: &FunctionSpec,
        key: &str,
        created: Instant,
        reusable: bool,
    ) {
        let mut p = lock(&self.pools);
        p.active.remove(&env.id);
        let current = env.key == key
            && p.current
                .get(&fv_key(&spec.name, &spec.version))
                .is_some_and(|k| k == key);
        let keep = reusable
            && current
            && !self.closed.load(Ordering::SeqCst)
            && created.elapsed() < self.cfg.max_lifetime
            && !env.has_exited();
        if keep {
            let charge = env.max_memory_used_mb().clamp(1, u64::from(spec.memory_mb));
            p.reserved_mb = p.reserved_mb.saturating_sub(u64::from(spec.memory_mb)) + charge;
            let now = Instant::now();
            p.idle.entry(key.to_string()).or_default().push(Slot {
                env,
                state: EnvState::Idle,
                function: spec.name.clone(),
                version: spec.version.clone(),
                memory_mb: spec.memory_mb,
                created,
                last_used: now,
                charge_mb: charge,
            });
        } else {
            p.reserved_mb = p.reserved_mb.saturating_sub(u64::from(spec.memory_mb));
            drop(p);
            tokio::spawn(env.destroy());
        }
    }

    /// Records `key` as current for its (function, version); idle environments of
    /// older keys are destroyed, busy ones marked draining.
    fn make_current(
        &self,
        p: &mut Pools,
        spec: &FunctionSpec,
        key: &str,
        doomed: &mut Vec<Environment>,
    ) {
        let fv = fv_key(&spec.name, &spec.version);
        if p.current.get(&fv).is_some_and(|k| k == key) {
            return;
        }
        p.current.insert(fv.clone(), key.to_string());
        let prefix = format!("{fv}\u{0}");
        let stale: Vec<String> = p
            .idle
            .keys()
            .filter(|k| k.starts_with(&prefix) && *k != key)
            .cloned()
            .collect();
        for k in stale {
            for slot in p.idle.remove(&k).unwrap_or_default() {
                p.reserved_mb = p.reserved_mb.saturating_sub(slot.charge_mb);
                doomed.push(slot.env);
            }
        }
        for a in p.active.values_mut() {
            if a.key.starts_with(&prefix) && a.key != key && a.state == EnvState::Busy {
                let _ = a.state.become_(EnvState::Draining);
            }
        }
    }

    /// Evicts idle environments, least recently used first, until `need_mb` more fits
    /// the budget; refuses (429) when even an empty pool would not make room.
    fn make_room(
        &self,
        p: &mut Pools,
        need_mb: u64,
        doomed: &mut Vec<Environment>,
    ) -> Result<(), EngineError> {
        while p.reserved_mb + need_mb > self.cfg.memory_budget_mb {
            // Pre-made sandboxes are the cheapest thing to give up.
            if let Some(pm) = p.premade.pop() {
                p.reserved_mb = p.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
                tokio::spawn(pm.sandbox.destroy());
                continue;
            }
            let lru = p
                .idle
                .iter()
                .flat_map(|(k, v)| {
                    v.iter()
                        .enumerate()
                        .map(move |(i, s)| (k.clone(), i, s.last_used))
                })
                .min_by_key(|(_, _, t)| *t);
            let Some((k, i, _)) = lru else {
                return Err(EngineError::Throttled {
                    reason: "ConcurrentInvocationLimitExceeded",
                    detail: format!(
                        "host memory budget of {} MB is in use ({} MB reserved, {need_mb} MB more needed)",
                        self.cfg.memory_budget_mb, p.reserved_mb
                    ),
                });
            };
            let slot = p
                .idle
                .get_mut(&k)
                .map(|v| v.remove(i))
                .expect("index from iteration");
            if p.idle.get(&k).is_some_and(Vec::is_empty) {
                p.idle.remove(&k);
            }
            p.reserved_mb = p.reserved_mb.saturating_sub(slot.charge_mb);
            tracing::info!(env = %slot.env.id, function = %slot.function, "evicting idle environment for memory");
            doomed.push(slot.env);
        }
        Ok(())
    }

    fn janitor_pass(&self) {
        let mut doomed = Vec::new();
        {
            let mut p = lock(&self.pools);
            let mut released = 0;
            for slots in p.idle.values_mut() {
                let mut i = 0;
                while i < slots.len() {
                    let s = &mut slots[i];
                    let idle_for = s.last_used.elapsed();
                    if s.env.has_exited()
                        || idle_for >= self.cfg.idle_timeout
                        || s.created.elapsed() >= self.cfg.max_lifetime
                    {
                        let slot = slots.remove(i);
                        released += slot.charge_mb;
                        doomed.push(slot.env);
                        continue;
                    }
                    if s.state == EnvState::Idle
                        && idle_for >= self.cfg.freeze_after
                        && s.env.runtime_idle()
                    {
                        match s.env.freeze() {
                            Ok(()) => {
                                let _ = s.state.become_(EnvState::Frozen);
                            }
                            Err(e) => {
                                tracing::warn!(env = %s.env.id, "freeze failed, destroying the environment: {e}");
                                let slot = slots.remove(i);
                                released += slot.charge_mb;
                                doomed.push(slot.env);
                                continue;
                            }
                        }
                    }
                    i += 1;
                }
            }
            p.idle.retain(|_, v| !v.is_empty());
            p.reserved_mb = p.reserved_mb.saturating_sub(released);
            // No cold start for idle_timeout: let the pre-made pool go too (it comes
            // back at the next cold start), so an idle server holds nothing.
            if p.premade_wanted
                && p.last_cold
                    .is_some_and(|t| t.elapsed() >= self.cfg.idle_timeout)
            {
                p.premade_wanted = false;
                let gone: Vec<Premade> = p.premade.drain(..).collect();
                p.reserved_mb = p
                    .reserved_mb
                    .saturating_sub(PREMADE_CHARGE_MB * gone.len() as u64);
                for pm in gone {
                    tokio::spawn(pm.sandbox.destroy());
                }
            }
        }
        destroy_all(doomed);
    }

    /// The background task that keeps `prewarm` pre-made sandboxes ready.
    fn spawn_refiller(self: &Arc<Self>) {
        let weak: Weak<Engine> = Arc::downgrade(self);
        let notify = self.refill.clone();
        tokio::spawn(async move {
            loop {
                let Some(engine) = weak.upgrade() else { return };
                if engine.closed.load(Ordering::SeqCst) {
                    return;
                }
                let again = engine.refill_once().await;
                drop(engine);
                if !again {
                    tokio::select! {
                        _ = notify.notified() => {}
                        _ = tokio::time::sleep(REFILL_TICK) => {}
                    }
                }
            }
        });
    }

    /// Builds one pre-made sandbox if the pool is short and the budget has room
    /// without evicting anything. True when it built one (look again at once).
    async fn refill_once(&self) -> bool {
        let code_base = self.code_base();
        {
            let mut p = lock(&self.pools);
            if !p.premade_wanted
                || p.premade.len() + p.premade_building >= self.cfg.prewarm
                || p.reserved_mb + PREMADE_CHARGE_MB > self.cfg.memory_budget_mb
                || !code_base.is_dir()
            {
                return false;
            }
            p.reserved_mb += PREMADE_CHARGE_MB;
            p.premade_building += 1;
        }
        let spec = PremadeSpec {
            memory_mb: PREMADE_MEMORY_MB,
            ephemeral_mb: 512,
            code_base,
            runtime_dir: Some(self.runtime_dir.clone()),
            hostname: crate::launch::HOSTNAME.into(),
        };
        let built = self.manager.create_premade(spec).await;
        let mut p = lock(&self.pools);
        p.premade_building -= 1;
        match built {
            Ok(sandbox) if p.premade_wanted && !self.closed.load(Ordering::SeqCst) => {
                p.premade.push(Premade { sandbox });
                true
            }
            Ok(sandbox) => {
                p.reserved_mb = p.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
                drop(p);
                tokio::spawn(sandbox.destroy());
                false
            }
            Err(e) => {
                p.reserved_mb = p.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
                drop(p);
                tracing::warn!("could not build a pre-made sandbox: {e}");
                false
            }
        }
    }

    /// Where the code store keeps extracted trees (`<data_dir>/code/<sha256>`).
    fn code_base(&self) -> PathBuf {
        self.cfg.data_dir.join("code")
    }

    /// A pre-made sandbox, its budget charge released (the caller has reserved the
    /// function's memory already); wakes the refiller.
    fn take_premade(&self) -> Option<Sandbox> {
        let mut p = lock(&self.pools);
        let pm = p.premade.pop()?;
        p.reserved_mb = p.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
        drop(p);
        self.refill.notify_one();
        Some(pm.sandbox)
    }

    /// Pre-made sandboxes ready now (for `quiver ps`).
    pub fn premade_ready(&self) -> usize {
        lock(&self.pools).premade.len()
    }

    async fn start_env(
        &self,
        spec: &FunctionSpec,
        key: &str,
        env_id: String,
    ) -> Result<Environment, EngineError> {
        let unavailable = || EngineError::RuntimeUnavailable(spec.runtime.clone());
        let kind = kind_of(&spec.runtime).ok_or_else(unavailable)?;
        let available = self
            .cfg
            .catalogue
            .get(&spec.runtime)
            .ok_or_else(unavailable)?;
        let interpreter = available.interpreter.as_deref();
        if kind != RuntimeKind::Provided && interpreter.is_none() {
            return Err(unavailable());
        }
        let today = OffsetDateTime::now_utc();
        let date = format!(
            "{:04}/{:02}/{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        );
        let l = launch(spec, &kind, interpreter, &self.runtime_dir, &env_id, &date)
            .map_err(EngineError::RuntimeUnavailable)?;
        let log = self
            .cfg
            .logs
            .as_ref()
            .map(|s| s.stream(&spec.log_group, &l.log_stream));
        let premade =
            match crate::launch::assignment(&l.sandbox, &self.code_base(), &self.runtime_dir) {
                Some(a) => self.take_premade().map(|sb| (sb, a)),
                None => None,
            };
        Environment::start(&self.manager, l, key.to_string(), env_id, log, premade).await
    }

    /// Destroys the idle environments of a deleted function (all versions, or one).
    /// Busy ones finish their invocation and are then destroyed (no longer current).
    pub async fn retire(&self, name: &str, version: Option<&str>) {
        let prefix = match version {
            Some(v) => format!("{}\u{0}", fv_key(name, v)),
            None => format!("{name}\u{0}"),
        };
        let envs: Vec<Environment> = {
            let mut p = lock(&self.pools);
            let keys: Vec<String> = p
                .idle
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            let mut out = Vec::new();
            for k in keys {
                for slot in p.idle.remove(&k).unwrap_or_default() {
                    p.reserved_mb = p.reserved_mb.saturating_sub(slot.charge_mb);
                    out.push(slot.env);
                }
            }
            p.current
                .retain(|fv, _| !format!("{fv}\u{0}").starts_with(&prefix));
            out
        };
        for env in envs {
            env.destroy().await;
        }
    }

    /// Every environment with its state (for `quiver ps`).
    pub fn environments(&self) -> Vec<EnvInfo> {
        let p = lock(&self.pools);
        let mut out = Vec::new();
        for s in p.idle.values().flatten() {
            out.push(EnvInfo {
                id: s.env.id.clone(),
                function: s.function.clone(),
                version: s.version.clone(),
                state: s.state.to_string(),
                age_ms: s.created.elapsed().as_millis() as u64,
                idle_ms: Some(s.last_used.elapsed().as_millis() as u64),
                invocations: s.env.invocations,
                memory_size_mb: s.memory_mb,
                max_memory_used_mb: Some(s.env.max_memory_used_mb()),
                cpu_ms: Some(s.env.cpu_usage_ns() / 1_000_000),
                cgroup: Some(s.env.cgroup_path().display().to_string()),
                cold_start: Some(s.env.cold_start),
            });
        }
        for (id, a) in &p.active {
            out.push(EnvInfo {
                id: id.clone(),
                function: a.function.clone(),
                version: a.version.clone(),
                state: a.state.to_string(),
                age_ms: a.created.elapsed().as_millis() as u64,
                idle_ms: None,
                invocations: a.invocations,
                memory_size_mb: a.memory_mb,
                max_memory_used_mb: None,
                cpu_ms: None,
                cgroup: None,
                cold_start: None,
            });
        }
        out.sort_by(|a, b| (&a.function, &a.version, &a.id).cmp(&(&b.function, &b.version, &b.id)));
        out
    }

    /// Number of idle environments.
    pub fn idle_count(&self) -> usize {
        lock(&self.pools).idle.values().map(Vec::len).sum()
    }

    /// Stops every idle environment; in-flight ones are destroyed when they finish.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let envs: Vec<Environment> = {
            let mut p = lock(&self.pools);
            let all: Vec<Slot> = p.idle.drain().flat_map(|(_, v)| v).collect();
            for s in &all {
                p.reserved_mb = p.reserved_mb.saturating_sub(s.charge_mb);
            }
            all.into_iter().map(|s| s.env).collect()
        };
        let premade: Vec<Premade> = {
            let mut p = lock(&self.pools);
            p.reserved_mb = p
                .reserved_mb
                .saturating_sub(PREMADE_CHARGE_MB * p.premade.len() as u64);
            p.premade.drain(..).collect()
        };
        let mut set = tokio::task::JoinSet::new();
        for pm in premade {
            set.spawn(async move {
                let _ = pm.sandbox.destroy().await;
            });
        }
        for env in envs {
            set.spawn(env.destroy());
        }
        while set.join_next().await.is_some() {}
    }
}

fn destroy_all(envs: Vec<Environment>) {
    for env in envs {
        tokio::spawn(env.destroy());
    }
}

fn install_runtimes(dir: &Path) -> Result<(), EngineError> {
    let err = |source| EngineError::InstallRuntimes {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    for (name, text) in [
        ("bootstrap.py", PYTHON_BOOTSTRAP),
        ("bootstrap.mjs", NODE_BOOTSTRAP),
    ] {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
    }
    Ok(())
}
