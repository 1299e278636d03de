//! The life of an execution environment as an explicit state machine. Transitions
//! not listed in [`EnvState::can_become`] are bugs; the engine checks every one.

use std::fmt;

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvState {
    /// Sandbox created, runtime initialising.
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
}
