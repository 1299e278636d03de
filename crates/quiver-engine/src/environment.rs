//! One execution environment: a sandbox running a runtime, the Runtime API served
//! inside its network namespace, and its captured output.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use quiver_runtime_api::{InitOutcome, Invocation, InvokeOutcome, RuntimeApi, RuntimeApiConfig};
use quiver_sandbox::{Assignment, ExitReport, Manager, Sandbox};

use crate::launch::{Launch, RUNTIME_API_ADDR};
use crate::logs::LogCapture;
use crate::pool::PoolEnv;
use crate::state::{EnvState, SharedState};
use crate::EngineError;

/// Lambda gives INIT 10 s before it moves on (and retries init inside the invoke).
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// How long a runtime may take, after answering, to either ask for the next event or
/// end (see [`Environment::back_in_next`]).
const SETTLE_LIMIT: Duration = Duration::from_millis(250);
const SETTLE_POLL: Duration = Duration::from_millis(1);

/// How one hand-off to the runtime ended.
#[derive(Debug)]
pub enum Handoff {
    /// The runtime posted `/response`.
    Response(bytes::Bytes),
    /// The runtime posted `/error` (the environment stays usable).
    FunctionError(bytes::Bytes),
    /// The runtime posted `/init/error` (the environment is discarded).
    InitError(bytes::Bytes),
    /// The response was larger than the limit.
    TooLarge(usize),
    /// The deadline passed.
    Timeout,
    /// The runtime process ended.
    Exited(ExitReport),
    /// The runtime of a warm environment ended before it took the event with `/next`
    /// (it answered its last event and exited, and the exit came later than
    /// [`Environment::ready_for_event`] waits for): the function never saw this event,
    /// so the engine runs it on another environment.
    Undelivered(ExitReport),
}

impl Handoff {
    /// Whether the environment may serve another event afterwards.
    pub fn reusable(&self) -> bool {
        matches!(self, Handoff::Response(_) | Handoff::FunctionError(_))
    }
}

/// A live environment.
pub struct Environment {
    /// 32 hex chars; also the tail of its log stream name.
    pub id: String,
    /// The pool key of the function version it was made for.
    pub key: String,
    /// `YYYY/MM/DD/[version]id`.
    pub log_stream: String,
    sandbox: Sandbox,
    api: RuntimeApi,
    logs: LogCapture,
    started: Instant,
    /// INIT duration, reported on the first invocation's REPORT only.
    pending_init_ms: Option<f64>,
    /// Where it is in its life; [`EnvState::Starting`] until INIT is over. Shared with
    /// the pool's record of it (see [`SharedState`]).
    state: SharedState,
    /// Invocations served.
    pub invocations: u64,
    /// Where this environment's cold start spent its time.
    pub cold_start: ColdStart,
    released: Instant,
    /// Started ahead of time for provisioned concurrency (never on-demand).
    pub provisioned: bool,
}

/// Where a cold start goes, in ms: building the sandbox (clone, cgroups, mounts),
/// opening the Runtime API inside it, and the runtime's own start-up until its first
/// `/next` (interpreter start, bootstrap, the user's imports).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ColdStart {
    /// Whether a pre-made sandbox was used; `sandbox_ms` is then its assignment.
    pub premade: bool,
    pub sandbox_ms: f64,
    pub runtime_api_ms: f64,
    pub runtime_init_ms: f64,
}

impl Environment {
    /// Creates the sandbox — or assigns the pre-made one given with its assignment —
    /// serves the Runtime API in it and starts the runtime. `state` is the new
    /// environment's (Starting) state, already known to the pool. `log` is the
    /// environment's stream in the log store (None: the server keeps no logs).
    pub async fn start(
        manager: &Manager,
        launch: Launch,
        key: String,
        id: String,
        state: SharedState,
        log: Option<quiver_logs::StreamLog>,
        premade: Option<(Sandbox, Assignment)>,
    ) -> Result<Environment, EngineError> {
        let started = Instant::now();
        let mut used_premade = false;
        let mut sandbox = match premade {
            Some((mut sb, a)) => match sb.assign(&a) {
                Ok(()) => {
                    used_premade = true;
                    sb
                }
                Err(e) => {
                    // A pre-made sandbox that died or refused is not worth an error.
                    tracing::warn!(env = %id, "pre-made sandbox unusable, building one: {e}");
                    tokio::spawn(sb.destroy());
                    manager.create(launch.sandbox).await?
                }
            },
            None => manager.create(launch.sandbox).await?,
        };
        let sandbox_ready = Instant::now();
        let fds: Vec<_> = [sandbox.take_stdout(), sandbox.take_stderr()]
            .into_iter()
            .flatten()
            .collect();
        let logs =
            LogCapture::start(fds, log.map(std::sync::Arc::new)).map_err(EngineError::LogPipes)?;
        let addr: SocketAddr = RUNTIME_API_ADDR.parse().expect("constant address");
        let listener = sandbox.listen_tcp(addr)?;
        let (api, _task) = RuntimeApi::serve(listener, RuntimeApiConfig::default())?;
        let api_ready = Instant::now();
        // Only now may the runtime run: its first request must find the listener.
        sandbox.release()?;
        let released = Instant::now();
        let cold_start = ColdStart {
            premade: used_premade,
            sandbox_ms: (sandbox_ready - started).as_secs_f64() * 1000.0,
            runtime_api_ms: (api_ready - sandbox_ready).as_secs_f64() * 1000.0,
            runtime_init_ms: 0.0,
        };
        Ok(Environment {
            cold_start,
            released,
            id,
            key,
            log_stream: launch.log_stream,
            sandbox,
            api,
            logs,
            started,
            pending_init_ms: None,
            state,
            invocations: 0,
            provisioned: false,
        })
    }

    /// Its lifecycle state now.
    pub(crate) fn state_now(&self) -> EnvState {
        self.state.get()
    }

    /// Whether INIT is over (the runtime called `/next`, or answered an event).
    fn initialised(&self) -> bool {
        self.state.get() != EnvState::Starting
    }

    /// INIT is over: the environment is serving the invocation that waited for it.
    fn init_done(&self) {
        self.state.become_(EnvState::Busy, &self.id);
    }

    /// Waits for INIT to finish (first `/next`), bounded by Lambda's 10 s init limit.
    /// `None` when ready (or still initialising after the limit), `Some(handoff)` when
    /// init failed.
    pub async fn wait_init(&mut self) -> Option<Handoff> {
        if self.initialised() {
            return None;
        }
        let outcome = tokio::select! {
            r = self.api.wait_ready() => r,
            report = self.sandbox.wait() => return Some(Handoff::Exited(report)),
            _ = tokio::time::sleep(INIT_LIMIT) => {
                // Lambda retries init inside the invoke; here the invoke simply keeps
                // waiting for the same runtime, bounded by the function timeout.
                return None;
            }
        };
        match outcome {
            Ok(InitOutcome::Ready) => {
                self.init_done();
                self.pending_init_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
                self.cold_start.runtime_init_ms = self.released.elapsed().as_secs_f64() * 1000.0;
                tracing::debug!(env = %self.id, cold_start = ?self.cold_start, "environment ready");
                // The hard CPU quota only after INIT (docs/sandbox.md §7: a small quota
                // would stretch init to seconds).
                if let Err(e) = self.sandbox.apply_cpu_quota() {
                    tracing::warn!(env = %self.id, "could not apply the CPU quota: {e}");
                }
                None
            }
            Ok(InitOutcome::InitError { body, .. }) => Some(Handoff::InitError(body)),
            Err(_) => Some(Handoff::Exited(self.sandbox.wait().await)),
        }
    }

    /// Milliseconds since the environment started to be built (Init Duration of an INIT
    /// that failed or never finished).
    pub fn age_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// INIT duration to report, once.
    pub fn take_init_ms(&mut self) -> Option<f64> {
        self.pending_init_ms.take()
    }

    /// Hands one event to the runtime and waits for its answer, its death or the deadline.
    pub async fn invoke(&mut self, inv: Invocation, deadline: Instant) -> Handoff {
        self.invocations += 1;
        let before = self.api.deliveries();
        let sleep = tokio::time::sleep_until(deadline.into());
        let outcome = tokio::select! {
            r = self.api.invoke(inv) => r,
            report = self.sandbox.wait() => return self.exited(report, before),
            _ = sleep => return Handoff::Timeout,
        };
        match outcome {
            Ok(InvokeOutcome::Response(b)) => {
                if !self.initialised() {
                    self.init_done();
                }
                Handoff::Response(b)
            }
            Ok(InvokeOutcome::Error { body, .. }) => {
                if self.initialised() {
                    self.settle_after_error().await;
                    Handoff::FunctionError(body)
                } else {
                    Handoff::InitError(body)
                }
            }
            Ok(InvokeOutcome::ResponseTooLarge { size }) => Handoff::TooLarge(size),
            Err(_) => {
                let report = self.sandbox.wait().await;
                self.exited(report, before)
            }
        }
    }

    /// The runtime ended during a hand-off: `Undelivered` when it was initialised and
    /// never took the event (deliveries still at `before`), else `Exited`.
    fn exited(&self, report: ExitReport, before: u64) -> Handoff {
        if self.initialised() && self.api.deliveries() == before {
            Handoff::Undelivered(report)
        } else {
            Handoff::Exited(report)
        }
    }

    /// After a function error, waits (briefly) until the runtime is back in `/next` or
    /// has ended. Runtimes often post `/error` and then exit on purpose (the Node
    /// clients do after an uncaught exception or unhandled rejection: exit 129/128);
    /// without this wait the environment went back to the pool still "alive" and the
    /// *next* invocation failed with `Runtime.ExitError`. Afterwards
    /// [`Environment::has_exited`] tells the pool the truth. Costs ~1 ms, on errors only.
    async fn settle_after_error(&self) {
        let _ = self.back_in_next().await;
    }

    /// Whether a warm environment can take an event: its runtime is parked in `/next`,
    /// or gets there within [`SETTLE_LIMIT`], and has not ended. The pool asks this
    /// before handing a warm environment an event. A runtime can end *after* answering
    /// — a Node function with a stray unhandled rejection gets its answer posted, then
    /// the client exits 128; a custom runtime may handle one event and exit 0 — and an
    /// invocation that arrives in that gap must go to a fresh environment instead of
    /// failing with `Runtime.ExitError` for an exit that happened before it began.
    /// Immediate in the usual case (the runtime went back to `/next` long ago).
    pub async fn ready_for_event(&self) -> bool {
        if !self.initialised() {
            // Still initialising: the first `/next` will take the event.
            return !self.sandbox.has_exited();
        }
        self.back_in_next().await
    }

    /// Waits until the runtime is parked in `/next` (true) or has ended (false), at
    /// most [`SETTLE_LIMIT`] (then true unless it ended: a slow runtime is not dead).
    async fn back_in_next(&self) -> bool {
        if self.api.is_idle() {
            return !self.sandbox.has_exited();
        }
        let parked = async {
            while !self.api.is_idle() {
                tokio::time::sleep(SETTLE_POLL).await;
            }
        };
        tokio::select! {
            _ = parked => {}
            _ = self.sandbox.wait() => return false,
            _ = tokio::time::sleep(SETTLE_LIMIT) => {}
        }
        !self.sandbox.has_exited()
    }

    /// Reads everything the runtime has written so far and returns the new lines.
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.drain();
        self.logs.take()
    }

    /// Stores a platform line in this environment's log stream (after what the runtime
    /// printed so far, so call [`Environment::drain_logs`] first).
    pub fn log_platform(&self, line: &str) {
        self.logs.platform(line);
    }

    /// Peak memory in MB, rounded up, for REPORT.
    pub fn max_memory_used_mb(&self) -> u64 {
        self.sandbox
            .memory_peak_bytes()
            .map(|b| b.div_ceil(1024 * 1024))
            .unwrap_or(0)
    }

    /// Whether the runtime is parked in `/next` with nothing queued: safe to freeze.
    pub fn runtime_idle(&self) -> bool {
        self.api.is_idle()
    }

    /// Freezes every task of the environment (no CPU while idle).
    pub fn freeze(&self) -> Result<(), EngineError> {
        Ok(self.sandbox.freeze()?)
    }

    /// Thaws a frozen environment before it gets an event.
    pub fn thaw(&self) -> Result<(), EngineError> {
        Ok(self.sandbox.thaw()?)
    }

    /// CPU time used so far, in ns (for `quiver ps` and the frozen-uses-no-CPU test).
    pub fn cpu_usage_ns(&self) -> u64 {
        self.sandbox.cpu_usage_ns().unwrap_or(0)
    }

    /// Whether the runtime process already ended.
    pub fn has_exited(&self) -> bool {
        self.sandbox.has_exited()
    }

    /// The sandbox's memory cgroup directory.
    pub fn cgroup_path(&self) -> std::path::PathBuf {
        self.sandbox.cgroup_path()
    }

    /// Stops the runtime, the Runtime API and the sandbox.
    pub async fn destroy(self) {
        self.state.end();
        self.api.shutdown();
        if let Err(e) = self.sandbox.destroy().await {
            tracing::warn!(env = %self.id, "destroying environment: {e}");
        }
    }
}

impl PoolEnv for Environment {
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
        self.invocations
    }
    fn has_exited(&self) -> bool {
        Environment::has_exited(self)
    }
    fn runtime_idle(&self) -> bool {
        Environment::runtime_idle(self)
    }
    fn freeze(&self) -> Result<(), EngineError> {
        Environment::freeze(self)
    }
    fn max_memory_used_mb(&self) -> u64 {
        Environment::max_memory_used_mb(self)
    }
    fn cpu_usage_ns(&self) -> u64 {
        Environment::cpu_usage_ns(self)
    }
    fn cgroup_path(&self) -> std::path::PathBuf {
        Environment::cgroup_path(self)
    }
    fn cold_start(&self) -> ColdStart {
        self.cold_start
    }
    fn provisioned(&self) -> bool {
        self.provisioned
    }
}
