//! The janitor: what happens to environments nobody is using. Idle ones are frozen
//! after `freeze_after` (no CPU while they wait, as on Lambda), destroyed after
//! `idle_timeout` without an event or once past `max_lifetime` however busy they
//! were, and the pre-made stock is let go when no cold start happened for
//! `idle_timeout` — so an idle server ends up holding no sandboxes at all.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::engine::Engine;
use crate::pool::{lock, Doomed, Pool, PoolEnv};
use crate::state::EnvState;

impl<E: PoolEnv, S> Pool<E, S> {
    /// One pass over the idle environments and the pre-made stock; what is to be
    /// destroyed goes to `doomed`.
    pub(crate) fn janitor_pass(&mut self, doomed: &mut Doomed<E, S>) {
        let limits = self.limits;
        let mut released = 0;
        for slots in self.idle.values_mut() {
            let mut i = 0;
            while i < slots.len() {
                let s = &slots[i];
                let idle_for = s.last_used.elapsed();
                let gone = s.env.has_exited()
                    || idle_for >= limits.idle_timeout
                    || s.created.elapsed() >= limits.max_lifetime;
                // Only a runtime parked in `/next` is frozen: one still finishing its
                // answer would be stopped half-way through writing it.
                let freeze_now = !gone
                    && s.env.state().get() == EnvState::Idle
                    && idle_for >= limits.freeze_after
                    && s.env.runtime_idle();
                let frozen = freeze_now
                    && match s.env.freeze() {
                        Ok(()) => s.env.state().become_(EnvState::Frozen, s.env.id()),
                        Err(e) => {
                            tracing::warn!(env = %s.env.id(), "freeze failed, destroying the environment: {e}");
                            false
                        }
                    };
                if gone || (freeze_now && !frozen) {
                    let slot = slots.remove(i);
                    released += slot.charge_mb;
                    doomed.envs.push(slot.env);
                    continue;
                }
                i += 1;
            }
        }
        self.idle.retain(|_, v| !v.is_empty());
        self.reserved_mb = self.reserved_mb.saturating_sub(released);
        // No cold start for idle_timeout: let the pre-made stock go too (it comes back
        // at the next cold start).
        if self.premade.wanted
            && self
                .premade
                .last_cold
                .is_some_and(|t| t.elapsed() >= limits.idle_timeout)
        {
            self.premade.wanted = false;
            while let Some(sb) = self.take_premade_charge() {
                doomed.sandboxes.push(sb);
            }
        }
    }
}

impl Engine {
    /// The janitor's loop: a pass every half `freeze_after` (20 ms to 1 s), so that an
    /// environment is frozen soon after it becomes due.
    pub(crate) fn spawn_janitor_task(self: &Arc<Self>) {
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
                let mut doomed = Doomed::default();
                lock(&engine.pools).janitor_pass(&mut doomed);
                crate::engine::bury(doomed);
                // Replace provisioned environments that died.
                engine.top_up();
            }
        });
    }
}
