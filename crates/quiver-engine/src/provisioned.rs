//! Provisioned concurrency: environments started and initialised ahead of time.
//!
//! The control plane tells the engine the whole picture at once
//! ([`Engine::set_provisioned`]: a spec and a count per version); the engine keeps that
//! many environments of the spec initialised — the runtime has reached `/next`, with
//! `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency` in its environment — in
//! the pool's `prov_idle`, apart from on-demand ones: the janitor never freezes, reaps
//! or evicts them, and an invocation of their pool key takes one before any other
//! ([`crate::pool::Pool::acquire`]). Their INIT is over before their first event, so
//! no REPORT of theirs carries an `Init Duration`.
//!
//! One that dies (or ends on a crash) is replaced by the janitor's next tick
//! ([`Engine::top_up`]); one that fails to initialise marks the version failed
//! (`FUNCTION_ERROR_INIT_FAILURE`) and nothing more is started until the config or the
//! function changes. [`Engine::provisioned_status`] reports what is really there, which
//! is all the API's Status and counts come from. docs/wire.md §15.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;

use crate::engine::{bury, Engine};
use crate::environment::Environment;
use crate::pool::{fv_key, lock, Active, Doomed, Pool, PoolEnv, Provision, Slot};
use crate::state::{EnvState, SharedState};
use crate::FunctionSpec;

/// One version to keep provisioned.
#[derive(Debug, Clone)]
pub struct ProvisionedTarget {
    /// The version's resolved spec (with the function's reservation).
    pub spec: FunctionSpec,
    /// How many environments to keep initialised.
    pub count: u32,
    /// Changes whenever a config behind it is put again (its LastModified): a
    /// version that failed is tried again then.
    pub stamp: String,
}

/// What one version's provisioned environments are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStatus {
    /// Environments initialised (idle or serving).
    pub allocated: u32,
    /// Why an environment failed to initialise, if one did.
    pub failed: Option<String>,
}

/// A provisioned cold start to begin: its spec, pool key, environment id and state.
pub(crate) type Start = (FunctionSpec, String, String, SharedState);

impl<E: PoolEnv, S> Pool<E, S> {
    /// Provisioned environments of `key`: (initialised, starting).
    fn provisioned_count(&self, key: &str) -> (u32, u32) {
        let idle = self.prov_idle.get(key).map_or(0, Vec::len);
        let (mut busy, mut starting) = (0, 0);
        for a in self
            .active
            .values()
            .filter(|a| a.provisioned && a.key == key)
        {
            if a.state.get() == EnvState::Starting {
                starting += 1;
            } else {
                busy += 1;
            }
        }
        ((idle + busy) as u32, starting)
    }

    /// Whether one more initialised environment of `key` is wanted (the caller's own
    /// environment is no longer counted).
    pub(crate) fn wants_provisioned(&self, key: &str) -> bool {
        let Some(p) = self.provisions.values().find(|p| p.spec.pool_key() == key) else {
            return false;
        };
        self.provisioned_count(key).0 < p.target
    }

    /// Tells admission what provisioned places outside reservations take out of the
    /// unreserved pool.
    pub(crate) fn update_provisioned_total(&mut self) {
        let total: u64 = self
            .provisions
            .values()
            .filter(|p| p.spec.reserved_concurrency.is_none())
            .map(|p| u64::from(p.target))
            .sum();
        self.concurrency
            .set_provisioned_unreserved(usize::try_from(total).unwrap_or(usize::MAX));
    }

    /// Replaces what is provisioned with `targets`: versions no longer in it lose
    /// their idle provisioned environments (busy ones go when they finish), lowered
    /// counts lose the surplus, a new revision drains the old one.
    pub(crate) fn set_provisions(
        &mut self,
        targets: Vec<ProvisionedTarget>,
        doomed: &mut Doomed<E, S>,
    ) {
        let wanted: HashMap<String, ProvisionedTarget> = targets
            .into_iter()
            .map(|t| (fv_key(&t.spec.name, &t.spec.version), t))
            .collect();
        let gone: Vec<String> = self
            .provisions
            .keys()
            .filter(|fv| !wanted.contains_key(*fv))
            .cloned()
            .collect();
        for fv in gone {
            self.provisions.remove(&fv);
            let prefix = format!("{fv}\u{0}");
            let keys: Vec<String> = self
                .prov_idle
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            for k in keys {
                for slot in self.prov_idle.remove(&k).unwrap_or_default() {
                    self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                    doomed.envs.push(slot.env);
                }
            }
        }
        for (fv, t) in wanted {
            let key = t.spec.pool_key();
            self.make_current(&t.spec, &key, doomed);
            let failed = match self.provisions.get(&fv) {
                Some(p) if p.spec.pool_key() == key && p.stamp == t.stamp => p.failed.clone(),
                _ => None,
            };
            self.provisions.insert(
                fv,
                Provision {
                    spec: t.spec,
                    target: t.count,
                    stamp: t.stamp,
                    failed,
                },
            );
            // Lowered: the surplus idle ones go now.
            while self.provisioned_count(&key).0 > t.count {
                let Some(slot) = self.prov_idle.get_mut(&key).and_then(Vec::pop) else {
                    break;
                };
                self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                doomed.envs.push(slot.env);
            }
            if self.prov_idle.get(&key).is_some_and(Vec::is_empty) {
                self.prov_idle.remove(&key);
            }
        }
        self.update_provisioned_total();
    }

    /// The provisioned cold starts to begin now: what each version lacks (initialised
    /// and starting ones counted), unless it failed. Each one's memory is reserved
    /// here; when the budget has no room the rest wait for the next tick.
    pub(crate) fn provision_starts(&mut self, doomed: &mut Doomed<E, S>) -> Vec<Start> {
        // Dead idle ones first, so that they are replaced.
        for slots in self.prov_idle.values_mut() {
            let mut i = 0;
            while i < slots.len() {
                if slots[i].env.has_exited() {
                    let slot = slots.remove(i);
                    self.reserved_mb = self.reserved_mb.saturating_sub(slot.charge_mb);
                    doomed.envs.push(slot.env);
                } else {
                    i += 1;
                }
            }
        }
        self.prov_idle.retain(|_, v| !v.is_empty());
        let mut lacking: Vec<(FunctionSpec, u32)> = Vec::new();
        for p in self.provisions.values().filter(|p| p.failed.is_none()) {
            let (ready, starting) = self.provisioned_count(&p.spec.pool_key());
            let missing = p.target.saturating_sub(ready + starting);
            if missing > 0 {
                lacking.push((p.spec.clone(), missing));
            }
        }
        let mut starts = Vec::new();
        for (spec, missing) in lacking {
            let key = spec.pool_key();
            for _ in 0..missing {
                if let Err(e) = self.make_room(u64::from(spec.memory_mb), doomed) {
                    tracing::warn!(function = %spec.name, version = %spec.version, "provisioned environment waits for memory: {e}");
                    return starts;
                }
                self.reserved_mb += u64::from(spec.memory_mb);
                let env_id = uuid::Uuid::new_v4().simple().to_string();
                let state = SharedState::new();
                self.active.insert(
                    env_id.clone(),
                    Active {
                        key: key.clone(),
                        function: spec.name.clone(),
                        version: spec.version.clone(),
                        state: state.clone(),
                        memory_mb: spec.memory_mb,
                        created: Instant::now(),
                        invocations: 0,
                        provisioned: true,
                    },
                );
                starts.push((spec.clone(), key.clone(), env_id, state));
            }
        }
        starts
    }

    /// A provisioned environment finished INIT: into `prov_idle` if it is still
    /// wanted, else handed back to be destroyed (its reservation released).
    pub(crate) fn provisioned_ready(
        &mut self,
        env: E,
        spec: &FunctionSpec,
        closed: bool,
    ) -> Option<E> {
        let key = env.key().to_string();
        self.active.remove(env.id());
        let memory = u64::from(spec.memory_mb);
        if closed || env.has_exited() || !self.wants_provisioned(&key) {
            self.reserved_mb = self.reserved_mb.saturating_sub(memory);
            return Some(env);
        }
        let charge = env.max_memory_used_mb().clamp(1, memory);
        self.reserved_mb = self.reserved_mb.saturating_sub(memory) + charge;
        env.state().become_(EnvState::Idle, env.id());
        let now = Instant::now();
        self.prov_idle.entry(key).or_default().push(Slot {
            env,
            function: spec.name.clone(),
            version: spec.version.clone(),
            memory_mb: spec.memory_mb,
            created: now,
            last_used: now,
            charge_mb: charge,
        });
        None
    }

    /// A provisioned environment failed to start or initialise: its record and
    /// reservation go, and its version is marked failed (no more starts) — unless the
    /// provision changed meanwhile.
    pub(crate) fn provision_failed(&mut self, env_id: &str, spec: &FunctionSpec, reason: &str) {
        self.start_failed(env_id, spec.memory_mb);
        if let Some(p) = self
            .provisions
            .get_mut(&fv_key(&spec.name, &spec.version))
            .filter(|p| p.spec.pool_key() == spec.pool_key())
        {
            p.failed = Some(reason.to_string());
        }
    }

    /// What `(name, version)` has provisioned now, if it is provisioned.
    pub(crate) fn provisioned_status(
        &self,
        name: &str,
        version: &str,
    ) -> Option<ProvisionedStatus> {
        let p = self.provisions.get(&fv_key(name, version))?;
        Some(ProvisionedStatus {
            allocated: self.provisioned_count(&p.spec.pool_key()).0,
            failed: p.failed.clone(),
        })
    }
}

impl Engine {
    /// Replaces what the engine keeps provisioned with `targets` (every provisioned
    /// version of every function; an empty list provisions nothing) and starts what is
    /// missing. Called by the control plane whenever the configs, versions, aliases or
    /// reservations behind them may have changed; cheap when nothing did.
    pub fn set_provisioned(self: &Arc<Self>, targets: Vec<ProvisionedTarget>) {
        let mut doomed = Doomed::default();
        lock(&self.pools).set_provisions(targets, &mut doomed);
        bury(doomed);
        self.top_up();
    }

    /// What one version has provisioned now; None when it is not provisioned.
    pub fn provisioned_status(&self, name: &str, version: &str) -> Option<ProvisionedStatus> {
        lock(&self.pools).provisioned_status(name, version)
    }

    /// Starts the provisioned environments that are missing (new, raised, or replacing
    /// one that died). Called after every change and by the janitor's tick.
    pub(crate) fn top_up(self: &Arc<Self>) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let mut doomed = Doomed::default();
        let starts = lock(&self.pools).provision_starts(&mut doomed);
        bury(doomed);
        for (spec, key, env_id, state) in starts {
            let engine = self.clone();
            tokio::spawn(async move { engine.provision_one(spec, key, env_id, state).await });
        }
    }

    /// Cold-starts one provisioned environment and waits for its INIT.
    async fn provision_one(
        self: Arc<Self>,
        spec: FunctionSpec,
        key: String,
        env_id: String,
        state: SharedState,
    ) {
        let mut env: Environment = match self
            .start_env(&spec, &key, env_id.clone(), state, true)
            .await
        {
            Ok(env) => env,
            Err(e) => {
                tracing::warn!(function = %spec.name, version = %spec.version, "provisioned environment could not start: {e}");
                lock(&self.pools).provision_failed(&env_id, &spec, &e.to_string());
                return;
            }
        };
        let outcome = env.wait_init().await;
        // Still Starting after the init limit counts as a failure too.
        let ready = outcome.is_none() && env.state_now() == EnvState::Busy;
        if !ready {
            tracing::warn!(function = %spec.name, version = %spec.version, env = %env.id, ?outcome, "provisioned environment failed to initialise");
            lock(&self.pools).provision_failed(
                &env_id,
                &spec,
                quiver_model::provisioned::INIT_FAILURE,
            );
            env.destroy().await;
            return;
        }
        // INIT happened before any event: no invocation reports it, and what the
        // runtime printed during it is in the log stream, not in a first call's tail.
        env.take_init_ms();
        env.drain_logs();
        tracing::info!(function = %spec.name, version = %spec.version, env = %env.id, "provisioned environment ready");
        let closed = self.closed.load(Ordering::SeqCst);
        let unwanted = lock(&self.pools).provisioned_ready(env, &spec, closed);
        if let Some(env) = unwanted {
            env.destroy().await;
        }
    }
}
