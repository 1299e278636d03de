//! The life of an execution environment as an explicit state machine. Transitions
//! not listed in [`EnvState::can_become`] are bugs; the engine checks every one.
//!
//! This is the only lifecycle state an environment has. The environment moves it
//! through init and its invocations, the pool moves it in and out of the pool and
//! marks it draining; both hold the same [`SharedState`]. The Runtime API keeps its
//! own small phase (has the runtime called `/next` yet?), but that is the protocol's
//! view of one HTTP conversation, not a second record of the environment's life.

use std::fmt;
use std::sync::{Arc, Mutex};

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvState {
    /// Sandbox being built or runtime initialising (INIT, until its first `/next`
    /// or its first answer).
    Starting,
    /// Runtime parked in `/next`, in the pool, ready for an event.
    Idle,
    /// Serving exactly one invocation.
    Busy,
    /// Idle and frozen (no CPU); thawed before it gets an event.
    Frozen,
    /// Finishing its in-flight invocation; never gets another (code or config changed).
    Draining,
    /// Destroyed or being destroyed.
    Dead,
}

impl EnvState {
    /// Whether `self → next` is a legal transition.
    pub fn can_become(self, next: EnvState) -> bool {
        use EnvState::*;
        matches!(
            (self, next),
            (Starting, Busy)
                | (Starting, Dead)
                | (Busy, Idle)
                | (Busy, Draining)
                | (Busy, Dead)
                | (Idle, Busy)
                | (Idle, Frozen)
                | (Idle, Dead)
                | (Frozen, Busy)
                | (Frozen, Dead)
                | (Draining, Dead)
        )
    }

    /// Moves to `next`, or reports the illegal transition (a bug) and goes to Dead.
    pub fn become_(&mut self, next: EnvState) -> Result<(), (EnvState, EnvState)> {
        if self.can_become(next) {
            *self = next;
            Ok(())
        } else {
            let from = *self;
            *self = EnvState::Dead;
            Err((from, next))
        }
    }

    /// Lower-case name for `quiver ps`.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvState::Starting => "starting",
            EnvState::Idle => "idle",
            EnvState::Busy => "busy",
            EnvState::Frozen => "frozen",
            EnvState::Draining => "draining",
            EnvState::Dead => "dead",
        }
    }
}

/// An environment's [`EnvState`], shared by the environment and the pool's record of
/// it. Why shared: while an environment serves an invocation it is owned by that
/// invocation, not by the pool, yet the pool must still be able to mark it draining
/// (its code changed) and `quiver ps` must still see what it is doing. Sharing one
/// cell instead of keeping two copies means they can never disagree.
#[derive(Debug, Clone)]
pub(crate) struct SharedState(Arc<Mutex<EnvState>>);

impl SharedState {
    /// A new environment: [`EnvState::Starting`].
    pub(crate) fn new() -> Self {
        SharedState(Arc::new(Mutex::new(EnvState::Starting)))
    }

    /// The state now.
    pub(crate) fn get(&self) -> EnvState {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves to `next`. An illegal transition is a bug: it is logged (naming `env`)
    /// and the state becomes Dead, as [`EnvState::become_`] does.
    pub(crate) fn become_(&self, next: EnvState, env: &str) -> bool {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match s.become_(next) {
            Ok(()) => true,
            Err((from, to)) => {
                tracing::error!(env, "illegal state transition {from} -> {to}");
                false
            }
        }
    }

    /// Marks the environment Dead (legal from every state; a no-op when it already is).
    pub(crate) fn end(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = EnvState::Dead;
    }
}

impl fmt::Display for EnvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::EnvState::*;

    #[test]
    fn the_normal_life() {
        let mut s = Starting;
        for next in [Busy, Idle, Frozen, Busy, Idle, Busy, Draining, Dead] {
            s.become_(next).unwrap();
        }
        assert_eq!(s, Dead);
    }

    #[test]
    fn illegal_transitions_are_refused() {
        assert!(
            !Frozen.can_become(Idle),
            "a frozen env is thawed only to serve"
        );
        assert!(!Dead.can_become(Idle));
        assert!(
            !Draining.can_become(Idle),
            "a draining env never goes back to the pool"
        );
        assert!(!Idle.can_become(Starting));
        let mut s = Dead;
        assert_eq!(s.become_(Busy), Err((Dead, Busy)));
        assert_eq!(s, Dead);
    }

    #[test]
    fn shared_state_is_one_cell() {
        let a = super::SharedState::new();
        let b = a.clone();
        assert_eq!(b.get(), Starting);
        assert!(a.become_(Busy, "e"));
        assert_eq!(b.get(), Busy, "a clone sees the move");
        assert!(!b.become_(Starting, "e"), "illegal moves are refused");
        assert_eq!(a.get(), Dead);
        a.end();
        assert_eq!(b.get(), Dead);
    }
}
