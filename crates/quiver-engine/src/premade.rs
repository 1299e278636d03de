//! Pre-made sandboxes: empty sandboxes (init only, no code yet) built ahead of demand,
//! so that a cold start assigns one instead of building a sandbox from nothing.
//!
//! Why the stock follows demand instead of being kept full: an idle server should
//! hold nothing. It is wanted from the first cold start, refilled in the background
//! when one is taken, only ever from free budget (building one never evicts a warm
//! environment, which would trade a sure warm start for a possible faster cold one),
//! given up first when an invocation needs memory, and let go by the janitor when no
//! cold start happened for `idle_timeout`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use quiver_sandbox::{PremadeSpec, Sandbox};
use tokio::time::Instant;

use crate::engine::Engine;
use crate::pool::{lock, Pool, PoolEnv};

/// Memory limit of an empty pre-made sandbox (it holds only init; raised at assignment).
const PREMADE_MEMORY_MB: u32 = 64;
/// What one pre-made sandbox counts against the memory budget. An empty one uses a
/// few MB (init's private pages and the root tmpfs); see BENCHMARKS.md.
pub(crate) const PREMADE_CHARGE_MB: u64 = 16;
/// How often the refiller looks again when it could not or need not build.
const REFILL_TICK: Duration = Duration::from_secs(1);

/// The stock of pre-made sandboxes, part of the [`Pool`].
pub(crate) struct Stock<S> {
    /// Ready sandboxes, newest last. Each counts [`PREMADE_CHARGE_MB`].
    pub ready: Vec<S>,
    /// Sandboxes being built (already counted in the pool's reservation, unless
    /// cancelled).
    pub building: usize,
    /// How many of the `building` ones were given up for memory by
    /// [`Pool::make_room`]: their charge is already released, and the sandboxes are
    /// destroyed when their builds end. Without this a build in progress held budget
    /// that no invocation could reclaim, and a call needing the last few MB got a 429.
    pub cancelled: usize,
    /// Whether the stock should be kept full (from the first cold start until it
    /// idles out).
    pub wanted: bool,
    /// The last cold start (the stock idles out `idle_timeout` after it).
    pub last_cold: Option<Instant>,
}

impl<S> Default for Stock<S> {
    fn default() -> Self {
        Stock {
            ready: Vec::new(),
            building: 0,
            cancelled: 0,
            wanted: false,
            last_cold: None,
        }
    }
}

impl<E, S> Pool<E, S> {
    /// Takes the newest pre-made sandbox and releases its budget charge.
    pub(crate) fn take_premade_charge(&mut self) -> Option<S> {
        let sb = self.premade.ready.pop()?;
        self.reserved_mb = self.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
        Some(sb)
    }

    /// Gives up one build in progress for memory (see [`Stock::cancelled`]): its charge
    /// is released now; false when none is left to give up.
    pub(crate) fn cancel_premade_build(&mut self) -> bool {
        if self.premade.building <= self.premade.cancelled {
            return false;
        }
        self.premade.cancelled += 1;
        self.reserved_mb = self.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
        true
    }
}

impl<E: PoolEnv, S> Pool<E, S> {
    /// Whether to build one more pre-made sandbox now: the stock is wanted, short of
    /// `prewarm`, and the budget has room for it without evicting anything. When true
    /// its charge is reserved and it counts as being built; report the outcome with
    /// [`Pool::premade_built`] or [`Pool::premade_failed`].
    pub(crate) fn premade_begin(&mut self) -> bool {
        let stock = &self.premade;
        if !stock.wanted
            || stock.ready.len() + stock.building >= self.limits.prewarm
            || self.reserved_mb + PREMADE_CHARGE_MB > self.limits.memory_budget_mb
        {
            return false;
        }
        self.reserved_mb += PREMADE_CHARGE_MB;
        self.premade.building += 1;
        true
    }

    /// A build finished. The sandbox joins the stock unless the stock stopped being
    /// wanted meanwhile (it idled out) or the engine is `closed`; then it is handed back
    /// to be destroyed.
    pub(crate) fn premade_built(&mut self, sandbox: S, closed: bool) -> Result<(), S> {
        self.premade.building -= 1;
        if self.premade.cancelled > 0 {
            // Given up for memory while it was built: its charge is gone already.
            self.premade.cancelled -= 1;
            return Err(sandbox);
        }
        if self.premade.wanted && !closed {
            self.premade.ready.push(sandbox);
            Ok(())
        } else {
            self.reserved_mb = self.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
            Err(sandbox)
        }
    }

    /// A build failed: its charge goes.
    pub(crate) fn premade_failed(&mut self) {
        self.premade.building -= 1;
        if self.premade.cancelled > 0 {
            self.premade.cancelled -= 1;
        } else {
            self.reserved_mb = self.reserved_mb.saturating_sub(PREMADE_CHARGE_MB);
        }
    }
}

impl Engine {
    /// The background task that keeps `prewarm` pre-made sandboxes ready.
    pub(crate) fn spawn_refiller(self: &Arc<Self>) {
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

    /// Builds one pre-made sandbox if the stock is short and the budget has room
    /// without evicting anything. True when it built one (look again at once).
    async fn refill_once(&self) -> bool {
        let code_base = self.cfg.code_base.clone();
        // Without the code store's directory nothing could be assigned to it.
        if !code_base.is_dir() || !lock(&self.pools).premade_begin() {
            return false;
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
        match built {
            Ok(sandbox) => match p.premade_built(sandbox, self.closed.load(Ordering::SeqCst)) {
                Ok(()) => true,
                Err(sandbox) => {
                    drop(p);
                    tokio::spawn(sandbox.destroy());
                    false
                }
            },
            Err(e) => {
                p.premade_failed();
                drop(p);
                tracing::warn!("could not build a pre-made sandbox: {e}");
                false
            }
        }
    }

    /// A pre-made sandbox for a cold start, its budget charge released (the caller has
    /// reserved the function's memory already); wakes the refiller to replace it.
    pub(crate) fn take_premade(&self) -> Option<Sandbox> {
        let sb = lock(&self.pools).take_premade_charge()?;
        self.refill.notify_one();
        Some(sb)
    }
}
