//! The pool and the host memory budget: who may run (account concurrency), which warm
//! environment an invocation gets (the most recently used one of its pool key), what
//! is evicted when memory is short (the least recently used idle environment, of any
//! function), and what happens to an environment afterwards (back to the pool, or
//! destroyed because it failed, retired or its code changed).
//!
//! Pure bookkeeping under one mutex, no IO and no awaits: the engine does the slow
//! parts (thawing, building, destroying) outside the lock, with what these methods
//! hand back. The pool is generic over the environment ([`PoolEnv`]) and the pre-made
//! sandbox type so that its rules are unit-tested with fakes, without root; it reads
//! time through [`tokio::time::Instant`] so that those tests can run on paused time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use crate::admission::{Concurrency, Ticket};
use crate::config::Limits;
use crate::environment::ColdStart;
use crate::premade::Stock;
use crate::state::{EnvState, SharedState};
use crate::{EngineError, FunctionSpec};

/// What the pool needs of an environment. The real one is
/// [`crate::environment::Environment`]; the unit tests use a fake.
pub(crate) trait PoolEnv {
    /// 32 hex chars, unique.
    fn id(&self) -> &str;
    /// The pool key of the function version it was made for.
    fn key(&self) -> &str;
    /// Its lifecycle state (shared with the pool's record of it while it is busy).
    fn state(&self) -> &SharedState;
    /// Invocations served.
    fn invocations(&self) -> u64;
    /// Whether the runtime process already ended.
    fn has_exited(&self) -> bool;
    /// Whether the runtime is parked in `/next` with nothing queued: safe to freeze.
    fn runtime_idle(&self) -> bool;
    /// Freezes every task of the environment.
    fn freeze(&self) -> Result<(), EngineError>;
    /// Peak memory in MB.
    fn max_memory_used_mb(&self) -> u64;
    /// CPU time used so far, in ns.
    fn cpu_usage_ns(&self) -> u64;
    /// Its memory cgroup directory.
    fn cgroup_path(&self) -> PathBuf;
    /// Where its cold start spent its time.
    fn cold_start(&self) -> ColdStart;
    /// Whether it was started ahead of time for provisioned concurrency.
    fn provisioned(&self) -> bool {
        false
    }
}

/// An idle (or frozen) environment in the pool.
pub(crate) struct Slot<E> {
    pub env: E,
    pub function: String,
    pub version: String,
    pub memory_mb: u32,
    pub created: Instant,
    pub last_used: Instant,
    /// MB counted against the budget while idle.
    pub charge_mb: u64,
}

/// An environment out of the pool: starting, busy or draining. The environment itself
/// belongs to the invocation using it; this is the pool's record of it.
pub(crate) struct Active {
    pub key: String,
    pub function: String,
    pub version: String,
    /// The environment's own state (the same cell it holds).
    pub state: SharedState,
    pub memory_mb: u32,
    pub created: Instant,
    pub invocations: u64,
    /// Started ahead of time for provisioned concurrency ([`crate::provisioned`]).
    pub provisioned: bool,
}

/// What a pool operation took out of it, to be destroyed by the caller outside the
/// lock: environments and pre-made sandboxes.
pub(crate) struct Doomed<E, S> {
    pub envs: Vec<E>,
    pub sandboxes: Vec<S>,
}

impl<E, S> Default for Doomed<E, S> {
    fn default() -> Self {
        Doomed {
            envs: Vec::new(),
            sandboxes: Vec::new(),
        }
    }
}

/// What [`Pool::acquire`] found for an invocation.
pub(crate) enum Acquired<E> {
    /// A warm environment, now Busy; the caller thaws it if it was frozen.
    Warm {
        env: E,
        was_frozen: bool,
        created: Instant,
    },
    /// None: the function's memory is reserved for a cold start. `wake_refiller`: this
    /// is the first cold start since the pre-made pool idled out, so it should be built.
    Cold { wake_refiller: bool },
}

/// Every environment's bookkeeping.
pub(crate) struct Pool<E, S> {
    pub limits: Limits,
    /// Idle environments per pool key, most recently used last.
    pub idle: HashMap<String, Vec<Slot<E>>>,
    /// Environments outside the pool, by environment id.
    pub active: HashMap<String, Active>,
    /// MB reserved against the budget by every live environment and pre-made sandbox.
    pub reserved_mb: u64,
    /// Invocations admitted and not finished, per kind of place ([`crate::admission`]).
    pub concurrency: Concurrency,
    /// The current pool key of each (function, version): environments of any other
    /// key are drained.
    pub current: HashMap<String, String>,
    /// Pre-made empty sandboxes.
    pub premade: Stock<S>,
    /// Idle provisioned environments per pool key: never frozen, reaped or evicted,
    /// and taken before any on-demand one ([`crate::provisioned`]).
    pub prov_idle: HashMap<String, Vec<Slot<E>>>,
    /// What is to be kept provisioned, per `(function, version)` key.
    pub provisions: HashMap<String, Provision>,
}

/// The pool as the engine and its background tasks share it.
pub(crate) type Shared<E, S> = Arc<Mutex<Pool<E, S>>>;

/// Locks the pool. A panic while it was held poisons nothing worth refusing service
/// for: every method leaves the counts consistent before anything can panic.
pub(crate) fn lock<E, S>(p: &Mutex<Pool<E, S>>) -> MutexGuard<'_, Pool<E, S>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `(function, version)` part of a pool key.
pub(crate) fn fv_key(name: &str, version: &str) -> String {
    format!("{name}\u{0}{version}")
}

/// One version's provisioned concurrency as the engine was last told it.
pub(crate) struct Provision {
    /// The spec its environments run (its pool key is the current one).
    pub spec: FunctionSpec,
    /// How many environments to keep initialised.
    pub target: u32,
    /// Changes whenever a config behind it is put again: a failure is retried then.
    pub stamp: String,
    /// Why an environment failed to initialise; no more are started until the
    /// config or the function changes.
    pub failed: Option<String>,
}

/// One admitted invocation; releases its place when dropped, however the invocation
/// ends (result, error or a cancelled future).
pub(crate) struct Admission<E, S>(Shared<E, S>, Ticket);

impl<E, S> Drop for Admission<E, S> {
    fn drop(&mut self) {
        lock(&self.0).concurrency.release(&self.1);
    }
}

/// Admits one invocation of `spec`, or refuses it the way Lambda does when its
/// reservation or the unreserved pool is used up (429, see [`crate::admission`]).
pub(crate) fn admit<E, S>(
    shared: &Shared<E, S>,
    spec: &FunctionSpec,
) -> Result<Admission<E, S>, EngineError> {
    let mut pool = lock(shared);
    let fv = fv_key(&spec.name, &spec.version);
    let places = pool.provisions.get(&fv).map(|p| p.target);
    let ticket = pool.concurrency.admit(
        &spec.name,
        spec.reserved_concurrency,
        places.map(|n| (fv.as_str(), n)),
    )?;
    drop(pool);
    Ok(Admission(shared.clone(), ticket))
}

impl<E: PoolEnv, S> Pool<E, S> {
    pub(crate) fn new(limits: Limits) -> Self {
        Pool {
            limits,
            idle: HashMap::new(),
            active: HashMap::new(),
            reserved_mb: 0,
            concurrency: Concurrency::new(limits.account_concurrency),
            current: HashMap::new(),
            premade: Stock::default(),
            prov_idle: HashMap::new(),
            provisions: HashMap::new(),
        }
    }

    /// Finds work for an invocation of `spec` (pool key `key`): the most recently used
    /// idle environment whose runtime is alive (now Busy, its full MemorySize reserved),
    /// or a reservation for a cold start. Makes `key` current first, so environments of
    /// an older revision are drained. Refuses when the budget has no room even after
    /// evicting every idle environment.
    pub(crate) fn acquire(
        &mut self,
        spec: &FunctionSpec,
        key: &str,
        doomed: &mut Doomed<E, S>,
    ) -> Result<Acquired<E>, EngineError> {
        self.make_current(spec, key, doomed);
        let mut found = None;
        // Provisioned environments first: that is what they are kept for.
        while let Some(s) = self.prov_idle.get_mut(key).and_then(Vec::pop) {
            if s.env.has_exited() {
                self.reserved_mb = self.reserved_mb.saturating_sub(s.charge_mb);
                doomed.envs.push(s.env);
                continue;
            }
            found = Some(s);
            break;
        }
        if self.prov_idle.get(key).is_some_and(Vec::is_empty) {
            self.prov_idle.remove(key);
        }
        while found.is_none() {
            let Some(s) = self.idle.get_mut(key).and_then(Vec::pop) else {
                break;
            };
            if s.env.has_exited() {
                self.reserved_mb = self.reserved_mb.saturating_sub(s.charge_mb);
                doomed.envs.push(s.env);
                continue;
            }
            found = Some(s);
            break;
        }
        if self.idle.get(key).is_some_and(Vec::is_empty) {
            self.idle.remove(key);
        }
        let Some(slot) = found else {
            self.premade.last_cold = Some(Instant::now());
            let wake_refiller = !self.premade.wanted;
            self.premade.wanted = true;
            self.make_room(u64::from(spec.memory_mb), doomed)?;
            self.reserved_mb += u64::from(spec.memory_mb);
            return Ok(Acquired::Cold { wake_refiller });
        };
        // Busy, it counts its whole MemorySize again, not what it used while idle.
        self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
        if let Err(e) = self.make_room(u64::from(slot.memory_mb), doomed) {
            // Not even this one fits busy: put it back and refuse.
            self.reserved_mb += slot.charge_mb;
            let home = if slot.env.provisioned() {
                &mut self.prov_idle
            } else {
                &mut self.idle
            };
            home.entry(key.to_string()).or_default().push(slot);
            return Err(e);
        }
        self.reserved_mb += u64::from(slot.memory_mb);
        let was_frozen = slot.env.state().get() == EnvState::Frozen;
        slot.env.state().become_(EnvState::Busy, slot.env.id());
        self.active.insert(
            slot.env.id().to_string(),
            Active {
                key: key.to_string(),
                function: slot.function,
                version: slot.version,
                state: slot.env.state().clone(),
                memory_mb: slot.memory_mb,
                created: slot.created,
                invocations: slot.env.invocations(),
                provisioned: slot.env.provisioned(),
            },
        );
        Ok(Acquired::Warm {
            env: slot.env,
            was_frozen,
            created: slot.created,
        })
    }

    /// A warm environment from [`Pool::acquire`] turned out unusable (thaw failed, the
    /// runtime ended): forget it. Its reservation carries over to the cold start that
    /// replaces it.
    pub(crate) fn forget(&mut self, env_id: &str) {
        self.active.remove(env_id);
    }

    /// A cold start of `spec` begins, as environment `env_id` with state `state`; its
    /// memory was reserved by [`Pool::acquire`].
    pub(crate) fn starting(
        &mut self,
        spec: &FunctionSpec,
        key: &str,
        env_id: &str,
        state: SharedState,
    ) {
        self.active.insert(
            env_id.to_string(),
            Active {
                key: key.to_string(),
                function: spec.name.clone(),
                version: spec.version.clone(),
                state,
                memory_mb: spec.memory_mb,
                created: Instant::now(),
                invocations: 0,
                provisioned: false,
            },
        );
    }

    /// The cold start of `env_id` failed: its record and reservation go.
    pub(crate) fn start_failed(&mut self, env_id: &str, memory_mb: u32) {
        self.active.remove(env_id);
        self.reserved_mb = self.reserved_mb.saturating_sub(u64::from(memory_mb));
    }

    /// An invocation is over. The environment goes back to the pool (Idle, counting
    /// what it actually used) if it is `reusable`, still of the current key, not past
    /// its lifetime, alive and the engine is not `closed`; otherwise it is handed back
    /// to be destroyed and its reservation released.
    pub(crate) fn release(
        &mut self,
        env: E,
        spec: &FunctionSpec,
        key: &str,
        created: Instant,
        reusable: bool,
        closed: bool,
    ) -> Option<E> {
        self.active.remove(env.id());
        let current = env.key() == key
            && self
                .current
                .get(&fv_key(&spec.name, &spec.version))
                .is_some_and(|k| k == key);
        let alive = reusable
            && current
            && !closed
            && env.state().get() != EnvState::Draining
            && !env.has_exited();
        // A provisioned environment is kept for as long as its config wants it (no
        // lifetime limit); an unwanted one is not turned into an on-demand one.
        let keep = if env.provisioned() {
            alive && self.wants_provisioned(key)
        } else {
            alive && created.elapsed() < self.limits.max_lifetime
        };
        let memory = u64::from(spec.memory_mb);
        if !keep {
            self.reserved_mb = self.reserved_mb.saturating_sub(memory);
            return Some(env);
        }
        let charge = env.max_memory_used_mb().clamp(1, memory);
        self.reserved_mb = self.reserved_mb.saturating_sub(memory) + charge;
        env.state().become_(EnvState::Idle, env.id());
        let home = if env.provisioned() {
            &mut self.prov_idle
        } else {
            &mut self.idle
        };
        home.entry(key.to_string()).or_default().push(Slot {
            env,
            function: spec.name.clone(),
            version: spec.version.clone(),
            memory_mb: spec.memory_mb,
            created,
            last_used: Instant::now(),
            charge_mb: charge,
        });
        None
    }

    /// Records `key` as current for its (function, version): idle environments of
    /// older keys are destroyed, busy ones marked Draining (they finish their
    /// invocation and are destroyed by [`Pool::release`]).
    pub(crate) fn make_current(
        &mut self,
        spec: &FunctionSpec,
        key: &str,
        doomed: &mut Doomed<E, S>,
    ) {
        let fv = fv_key(&spec.name, &spec.version);
        if self.current.get(&fv).is_some_and(|k| k == key) {
            return;
        }
        self.current.insert(fv.clone(), key.to_string());
        let prefix = format!("{fv}\u{0}");
        let stale: Vec<String> = self
            .idle
            .keys()
            .filter(|k| k.starts_with(&prefix) && *k != key)
            .cloned()
            .collect();
        let stale_prov: Vec<String> = self
            .prov_idle
            .keys()
            .filter(|k| k.starts_with(&prefix) && *k != key)
            .cloned()
            .collect();
        for k in stale {
            for slot in self.idle.remove(&k).unwrap_or_default() {
                self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                doomed.envs.push(slot.env);
            }
        }
        for k in stale_prov {
            for slot in self.prov_idle.remove(&k).unwrap_or_default() {
                self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                doomed.envs.push(slot.env);
            }
        }
        for (id, a) in &self.active {
            if a.key.starts_with(&prefix) && a.key != key && a.state.get() == EnvState::Busy {
                a.state.become_(EnvState::Draining, id);
            }
        }
    }

    /// Makes room for `need_mb` more within the budget: pre-made sandboxes go first
    /// (the cheapest thing to give up: ready ones, then builds in progress), then idle
    /// environments, least recently used
    /// first, of any function. Refuses (429) when even an empty pool would not do.
    pub(crate) fn make_room(
        &mut self,
        need_mb: u64,
        doomed: &mut Doomed<E, S>,
    ) -> Result<(), EngineError> {
        while self.reserved_mb + need_mb > self.limits.memory_budget_mb {
            if let Some(sb) = self.take_premade_charge() {
                doomed.sandboxes.push(sb);
                continue;
            }
            if self.cancel_premade_build() {
                continue;
            }
            let lru = self
                .idle
                .iter()
                .flat_map(|(k, v)| v.iter().enumerate().map(move |(i, s)| (k, i, s.last_used)))
                .min_by_key(|(_, _, t)| *t)
                .map(|(k, i, _)| (k.clone(), i));
            let Some((k, i)) = lru else {
                return Err(EngineError::Throttled {
                    reason: "ConcurrentInvocationLimitExceeded",
                    detail: format!(
                        "host memory budget of {} MB is in use ({} MB reserved, {need_mb} MB more needed)",
                        self.limits.memory_budget_mb, self.reserved_mb
                    ),
                });
            };
            let slots = self.idle.get_mut(&k).expect("key from iteration");
            let slot = slots.remove(i);
            if slots.is_empty() {
                self.idle.remove(&k);
            }
            self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
            tracing::info!(env = %slot.env.id(), function = %slot.function, "evicting idle environment for memory");
            doomed.envs.push(slot.env);
        }
        Ok(())
    }

    /// Takes the idle environments of a deleted function (all versions, or one) and
    /// forgets its current keys, so busy ones are destroyed when they finish.
    pub(crate) fn retire(&mut self, name: &str, version: Option<&str>) -> Vec<E> {
        let prefix = match version {
            Some(v) => format!("{}\u{0}", fv_key(name, v)),
            None => format!("{name}\u{0}"),
        };
        let keys: Vec<String> = self
            .idle
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        let prov_keys: Vec<String> = self
            .prov_idle
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for k in keys {
            for slot in self.idle.remove(&k).unwrap_or_default() {
                self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                out.push(slot.env);
            }
        }
        for k in prov_keys {
            for slot in self.prov_idle.remove(&k).unwrap_or_default() {
                self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                out.push(slot.env);
            }
        }
        // A deleted version is provisioned no more (the control plane drops its
        // config too; this stops a replacement starting in between).
        self.provisions
            .retain(|fv, _| !format!("{fv}\u{0}").starts_with(&prefix));
        self.update_provisioned_total();
        self.current
            .retain(|fv, _| !format!("{fv}\u{0}").starts_with(&prefix));
        out
    }

    /// Takes every idle environment and pre-made sandbox (shutdown).
    pub(crate) fn take_all(&mut self) -> Doomed<E, S> {
        let mut doomed = Doomed::default();
        let prov: Vec<Slot<E>> = self.prov_idle.drain().flat_map(|(_, v)| v).collect();
        for slot in self.idle.drain().flat_map(|(_, v)| v).chain(prov) {
            self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
            doomed.envs.push(slot.env);
        }
        while let Some(sb) = self.take_premade_charge() {
            doomed.sandboxes.push(sb);
        }
        doomed
    }
}
