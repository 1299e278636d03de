//! Admission: who may run now. The one place concurrency limits are enforced.
//!
//! The account limit (`EngineConfig::account_concurrency`, the server's
//! `--max-concurrency`) is split the way Lambda splits it:
//! - a function with reserved concurrency N (PutFunctionConcurrency) runs at most N
//!   invocations at once, and those N are its own: they come out of the account limit
//!   whether used or not. Beyond N: 429 `ReservedFunctionConcurrentInvocationLimitExceeded`
//!   (N = 0 throttles every invocation, Lambda's way to switch a function off);
//! - every other function shares the unreserved pool, the account limit less the sum of
//!   all reservations. Beyond it: 429 `ConcurrentInvocationLimitExceeded`.
//!
//! The engine never reads the store. It learns the two figures from outside:
//! a function's own reservation travels in its [`crate::FunctionSpec`]
//! (`reserved_concurrency`), which the invoker resolves and caches together with the
//! version, so the warm path stays query-free; the sum of all reservations is pushed by
//! the invoker through [`crate::Engine::set_reserved_concurrency`] whenever the store's
//! change counter moved. Neither is part of the pool key: changing a reservation
//! drains no environment.
//!
//! Provisioned concurrency (docs/wire.md §15) takes its places the same way. Inside a
//! reservation it changes nothing: the provisioned environments are part of the N.
//! For a function without one, a version's provisioned environments are its own
//! places, carved out of the unreserved pool like a reservation
//! ([`Concurrency::set_provisioned_unreserved`]); an invocation beyond them spills into
//! the unreserved pool as any on-demand one.
//!
//! Each admitted invocation remembers which count it took ([`Ticket`]) and gives that
//! one back, so a reservation changed while invocations run never unbalances the counts.
//! While the two figures briefly disagree (a reservation was just put and a spec cached
//! before it is still in use), the account limit still caps the total.

use std::collections::HashMap;

use crate::EngineError;

/// Which count an admitted invocation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ticket {
    /// One of the named function's reserved places.
    Reserved(String),
    /// A place in the unreserved pool.
    Unreserved,
    /// One of a version's provisioned places (function without a reservation), by the
    /// version's `(function, version)` key.
    Provisioned(String),
}

/// The counts behind admission (kept inside the pool, under its lock).
#[derive(Debug, Default)]
pub(crate) struct Concurrency {
    /// The account limit.
    account: usize,
    /// The sum of every function's reservation, as last pushed.
    reserved_total: usize,
    /// Invocations admitted and not finished, all kinds.
    in_flight: usize,
    /// Of those, the ones in the unreserved pool.
    unreserved: usize,
    /// Of those, per function with a reservation.
    reserved: HashMap<String, usize>,
    /// Provisioned places of functions without a reservation, summed: carved out of
    /// the unreserved pool.
    provisioned_total: usize,
    /// Invocations in provisioned places, per `(function, version)` key.
    provisioned: HashMap<String, usize>,
}

impl Concurrency {
    pub(crate) fn new(account: usize) -> Self {
        Concurrency {
            account,
            ..Concurrency::default()
        }
    }

    /// Invocations admitted and not finished.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The sum of all reservations, as the control plane last read it.
    pub(crate) fn set_reserved_total(&mut self, total: u64) {
        self.reserved_total = usize::try_from(total).unwrap_or(usize::MAX);
    }

    /// The provisioned places of functions without a reservation, summed (the engine
    /// sets it whenever the provisioned configs change).
    pub(crate) fn set_provisioned_unreserved(&mut self, total: usize) {
        self.provisioned_total = total;
    }

    /// The unreserved pool's size: the account limit less every reservation and every
    /// provisioned place outside a reservation.
    pub(crate) fn unreserved_limit(&self) -> usize {
        self.account
            .saturating_sub(self.reserved_total)
            .saturating_sub(self.provisioned_total)
    }

    /// Takes a place for an invocation of `function` (whose reservation is `reserved`),
    /// or refuses the way Lambda does. `provisioned`: the version's `(function,
    /// version)` key and its provisioned places, when it has some outside a reservation.
    pub(crate) fn admit(
        &mut self,
        function: &str,
        reserved: Option<u32>,
        provisioned: Option<(&str, u32)>,
    ) -> Result<Ticket, EngineError> {
        if let (None, Some((fv, places))) = (reserved, provisioned) {
            let used = self.provisioned.get(fv).copied().unwrap_or(0);
            if used < places as usize {
                self.account_room()?;
                *self.provisioned.entry(fv.to_string()).or_insert(0) += 1;
                self.in_flight += 1;
                return Ok(Ticket::Provisioned(fv.to_string()));
            }
        }
        let ticket = match reserved {
            Some(n) => {
                let used = self.reserved.get(function).copied().unwrap_or(0);
                if used >= n as usize {
                    return Err(throttled(
                        "ReservedFunctionConcurrentInvocationLimitExceeded",
                        format!("reserved concurrency of {n} for function {function} reached"),
                    ));
                }
                self.account_room()?;
                *self.reserved.entry(function.to_string()).or_insert(0) += 1;
                Ticket::Reserved(function.to_string())
            }
            None => {
                let limit = self.unreserved_limit();
                if self.unreserved >= limit {
                    return Err(throttled(
                        "ConcurrentInvocationLimitExceeded",
                        format!(
                            "unreserved concurrency of {limit} reached (account limit {} less {} reserved)",
                            self.account, self.reserved_total
                        ),
                    ));
                }
                self.account_room()?;
                self.unreserved += 1;
                Ticket::Unreserved
            }
        };
        self.in_flight += 1;
        Ok(ticket)
    }

    /// The account limit caps the total whatever the split says; checked after the
    /// function's own limit, so a function at its reservation hears that reason.
    fn account_room(&self) -> Result<(), EngineError> {
        if self.in_flight >= self.account {
            return Err(throttled(
                "ConcurrentInvocationLimitExceeded",
                format!("account concurrency limit of {} reached", self.account),
            ));
        }
        Ok(())
    }

    /// Gives back the place `ticket` took.
    pub(crate) fn release(&mut self, ticket: &Ticket) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match ticket {
            Ticket::Unreserved => self.unreserved = self.unreserved.saturating_sub(1),
            Ticket::Reserved(f) => give_back(&mut self.reserved, f),
            Ticket::Provisioned(fv) => give_back(&mut self.provisioned, fv),
        }
    }
}

fn give_back(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = counts.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(key);
        }
    }
}

fn throttled(reason: &'static str, detail: String) -> EngineError {
    EngineError::Throttled { reason, detail }
}
