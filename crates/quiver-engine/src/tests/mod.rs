//! Unit tests of the pool's rules, with a fake environment and fake pre-made
//! sandboxes instead of real ones, on tokio's paused clock: no root, no sandboxes, no
//! sleeping. [`Harness`] drives the pool the way `Engine::invoke` does.

mod concurrency;
mod janitor;
mod pool;
mod premade;
mod provisioned;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Limits;
use crate::environment::ColdStart;
use crate::pool::{Acquired, Doomed, Pool, PoolEnv};
use crate::state::{EnvState, SharedState};
use crate::{EngineError, FunctionSpec};

/// What a test can change about a fake environment after the pool took it.
#[derive(Default)]
pub(super) struct Ctl {
    pub exited: AtomicBool,
    /// The runtime is not parked in `/next` (still finishing an answer).
    pub runtime_busy: AtomicBool,
    pub freeze_fails: AtomicBool,
    pub freezes: AtomicUsize,
    pub used_mb: AtomicU64,
}

pub(super) struct FakeEnv {
    id: String,
    key: String,
    state: SharedState,
    ctl: Arc<Ctl>,
    provisioned: bool,
}

impl PoolEnv for FakeEnv {
    fn id(&self) -> &str {
        &self.id
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn state(&self) -> &SharedState {
        &self.state
    }
    fn invocations(&self) -> u64 {
        0
    }
    fn has_exited(&self) -> bool {
        self.ctl.exited.load(Ordering::SeqCst)
    }
    fn runtime_idle(&self) -> bool {
        !self.ctl.runtime_busy.load(Ordering::SeqCst)
    }
    fn freeze(&self) -> Result<(), EngineError> {
        if self.ctl.freeze_fails.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        self.ctl.freezes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn max_memory_used_mb(&self) -> u64 {
        self.ctl.used_mb.load(Ordering::SeqCst)
    }
    fn cpu_usage_ns(&self) -> u64 {
        0
    }
    fn cgroup_path(&self) -> PathBuf {
        PathBuf::from("/fake").join(&self.id)
    }
    fn cold_start(&self) -> ColdStart {
        ColdStart::default()
    }
    fn provisioned(&self) -> bool {
        self.provisioned
    }
}

/// A pre-made sandbox, by number.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct FakeSandbox(pub u32);

/// The engine's defaults, except a 1 GB budget.
pub(super) fn limits() -> Limits {
    Limits {
        account_concurrency: 1000,
        memory_budget_mb: 1024,
        freeze_after: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(600),
        max_lifetime: Duration::from_secs(2 * 3600),
        prewarm: 2,
    }
}

/// Function `name` at `$LATEST`, revision `revision`, with `memory_mb`.
pub(super) fn spec(name: &str, revision: &str, memory_mb: u32) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        version: "$LATEST".into(),
        arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        runtime: "python3.11".into(),
        handler: "app.handler".into(),
        memory_mb,
        timeout_s: 3,
        ephemeral_mb: 512,
        environment: Vec::new(),
        code_dir: "/code".into(),
        opt_dir: None,
        image: None,
        log_group: format!("/aws/lambda/{name}"),
        revision: revision.into(),
        region: "us-east-1".into(),
        reserved_concurrency: None,
    }
}

/// An environment handed to an invocation.
pub(super) struct Lease {
    pub env: FakeEnv,
    pub cold: bool,
    pub was_frozen: bool,
    created: Instant,
}

impl Lease {
    pub fn id(&self) -> String {
        self.env.id.clone()
    }
}

/// The pool plus what the engine would do around it.
pub(super) struct Harness {
    pub pool: Pool<FakeEnv, FakeSandbox>,
    /// Every environment made, by id.
    pub ctls: HashMap<String, Arc<Ctl>>,
    /// Ids of the environments the pool gave up, in order.
    pub destroyed: Vec<String>,
    /// Pre-made sandboxes the pool gave up.
    pub sandboxes_destroyed: Vec<FakeSandbox>,
    /// How often the refiller would have been woken by a cold start.
    pub refiller_wakes: usize,
    next: u32,
}

impl Harness {
    pub fn new(limits: Limits) -> Self {
        Harness {
            pool: Pool::new(limits),
            ctls: HashMap::new(),
            destroyed: Vec::new(),
            sandboxes_destroyed: Vec::new(),
            refiller_wakes: 0,
            next: 0,
        }
    }

    fn bury(&mut self, doomed: Doomed<FakeEnv, FakeSandbox>) {
        for env in doomed.envs {
            env.state.end();
            self.destroyed.push(env.id);
        }
        self.sandboxes_destroyed.extend(doomed.sandboxes);
    }

    /// An invocation of `spec` gets an environment: a warm one, or a cold start whose
    /// INIT ends at once (Starting → Busy, as the environment does on its first `/next`).
    pub fn begin(&mut self, spec: &FunctionSpec) -> Result<Lease, EngineError> {
        let key = spec.pool_key();
        let mut doomed = Doomed::default();
        let acquired = self.pool.acquire(spec, &key, &mut doomed);
        self.bury(doomed);
        match acquired? {
            Acquired::Warm {
                env,
                was_frozen,
                created,
            } => Ok(Lease {
                env,
                cold: false,
                was_frozen,
                created,
            }),
            Acquired::Cold { wake_refiller } => {
                self.refiller_wakes += usize::from(wake_refiller);
                let env = self.cold_env(spec, &key);
                assert_eq!(env.state.get(), EnvState::Starting);
                env.state.become_(EnvState::Busy, &env.id);
                Ok(Lease {
                    env,
                    cold: true,
                    was_frozen: false,
                    created: Instant::now(),
                })
            }
        }
    }

    /// A cold start's environment, recorded by the pool as Starting.
    pub fn cold_env(&mut self, spec: &FunctionSpec, key: &str) -> FakeEnv {
        self.next += 1;
        let id = format!("env{}", self.next);
        let ctl = Arc::new(Ctl::default());
        self.ctls.insert(id.clone(), ctl.clone());
        let state = SharedState::new();
        self.pool.starting(spec, key, &id, state.clone());
        FakeEnv {
            id,
            key: key.to_string(),
            state,
            ctl,
            provisioned: false,
        }
    }

    /// The invocation ended having used `used_mb`; false when the pool destroyed the
    /// environment instead of keeping it.
    pub fn end(&mut self, lease: Lease, spec: &FunctionSpec, used_mb: u64, reusable: bool) -> bool {
        self.end_closed(lease, spec, used_mb, reusable, false)
    }

    pub fn end_closed(
        &mut self,
        lease: Lease,
        spec: &FunctionSpec,
        used_mb: u64,
        reusable: bool,
        closed: bool,
    ) -> bool {
        lease.env.ctl.used_mb.store(used_mb, Ordering::SeqCst);
        let key = spec.pool_key();
        match self
            .pool
            .release(lease.env, spec, &key, lease.created, reusable, closed)
        {
            Some(env) => {
                self.bury(Doomed {
                    envs: vec![env],
                    sandboxes: Vec::new(),
                });
                false
            }
            None => true,
        }
    }

    /// One whole successful invocation; the id of the environment that served it.
    pub fn invoke(&mut self, spec: &FunctionSpec, used_mb: u64) -> String {
        let lease = self.begin(spec).expect("admitted");
        let id = lease.id();
        assert!(
            self.end(lease, spec, used_mb, true),
            "{id} back in the pool"
        );
        id
    }

    pub fn janitor(&mut self) {
        let mut doomed = Doomed::default();
        self.pool.janitor_pass(&mut doomed);
        self.bury(doomed);
    }

    /// The state `quiver ps` shows for `id` (None: not in the pool's records).
    pub fn state_of(&self, id: &str) -> Option<String> {
        self.pool
            .environments()
            .into_iter()
            .find(|e| e.id == id)
            .map(|e| e.state)
    }

    pub fn ctl(&self, id: &str) -> &Ctl {
        &self.ctls[id]
    }
}
