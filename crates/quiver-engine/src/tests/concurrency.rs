//! Reserved concurrency and the unreserved pool ([`crate::admission`]), through the
//! pool's admission as `Engine::invoke` uses it, on the fake environment.

use std::sync::{Arc, Mutex};

use super::{limits, spec, FakeEnv, FakeSandbox, Harness};
use crate::config::Limits;
use crate::pool::{admit, Admission, Pool, Shared};
use crate::{EngineError, FunctionSpec};

type Fake = Shared<FakeEnv, FakeSandbox>;

fn shared(account: usize) -> Fake {
    Arc::new(Mutex::new(Pool::new(Limits {
        account_concurrency: account,
        ..limits()
    })))
}

fn reserved(name: &str, n: u32) -> FunctionSpec {
    let mut s = spec(name, "r", 128);
    s.reserved_concurrency = Some(n);
    s
}

fn reason(r: Result<Admission<FakeEnv, FakeSandbox>, EngineError>) -> &'static str {
    match r {
        Err(EngineError::Throttled { reason, .. }) => reason,
        Err(e) => panic!("expected a throttle, got {e}"),
        Ok(_) => panic!("expected a throttle, got admitted"),
    }
}

fn admit_n(p: &Fake, spec: &FunctionSpec, n: usize) -> Vec<Admission<FakeEnv, FakeSandbox>> {
    (0..n)
        .map(|i| admit(p, spec).unwrap_or_else(|e| panic!("{} #{i}: {e}", spec.name)))
        .collect()
}

#[test]
fn a_reserved_function_runs_at_most_its_reservation() {
    let p = shared(1000);
    let f = reserved("f", 3);
    p.lock().unwrap().concurrency.set_reserved_total(3);
    let mut held = admit_n(&p, &f, 3);
    assert_eq!(
        reason(admit(&p, &f)),
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    // Another function is not affected by f's limit.
    let _g = admit_n(&p, &spec("g", "r", 128), 10);
    held.pop();
    held.push(admit(&p, &f).expect("a finished invocation frees f's place"));
    drop(held);
    assert_eq!(p.lock().unwrap().concurrency.in_flight(), 10);
}

#[test]
fn a_reservation_of_zero_throttles_every_invocation() {
    let p = shared(1000);
    assert_eq!(
        reason(admit(&p, &reserved("off", 0))),
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert_eq!(p.lock().unwrap().concurrency.in_flight(), 0);
}

#[test]
fn unreserved_functions_share_the_limit_less_every_reservation() {
    // Account 110, f reserves 5: g and h share 105, and f keeps its 5 even when
    // the unreserved pool is full.
    let p = shared(110);
    p.lock().unwrap().concurrency.set_reserved_total(5);
    assert_eq!(p.lock().unwrap().concurrency.unreserved_limit(), 105);
    let (g, h) = (spec("g", "r", 128), spec("h", "r", 128));
    let _g = admit_n(&p, &g, 100);
    let mut hs = admit_n(&p, &h, 5);
    assert_eq!(reason(admit(&p, &g)), "ConcurrentInvocationLimitExceeded");
    assert_eq!(reason(admit(&p, &h)), "ConcurrentInvocationLimitExceeded");
    let f = reserved("f", 5);
    let fs = admit_n(&p, &f, 5);
    assert_eq!(
        reason(admit(&p, &f)),
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    // Freeing a reserved place does not give the unreserved pool more room.
    drop(fs);
    assert_eq!(reason(admit(&p, &g)), "ConcurrentInvocationLimitExceeded");
    hs.pop();
    admit(&p, &g).expect("a freed unreserved place");
}

#[test]
fn deleting_a_reservation_gives_its_places_back_to_the_pool() {
    let p = shared(110);
    p.lock().unwrap().concurrency.set_reserved_total(10);
    let g = spec("g", "r", 128);
    let _held = admit_n(&p, &g, 100);
    assert_eq!(reason(admit(&p, &g)), "ConcurrentInvocationLimitExceeded");
    p.lock().unwrap().concurrency.set_reserved_total(0);
    let _more = admit_n(&p, &g, 10);
    assert_eq!(reason(admit(&p, &g)), "ConcurrentInvocationLimitExceeded");
}

#[test]
fn a_reservation_changed_mid_flight_keeps_the_counts_balanced() {
    let p = shared(1000);
    // Admitted while f had no reservation: these hold unreserved places...
    let unreserved_f = spec("f", "r", 128);
    let old = admit_n(&p, &unreserved_f, 4);
    // ...then f reserves 2: new invocations count against the reservation only.
    p.lock().unwrap().concurrency.set_reserved_total(2);
    let f = reserved("f", 2);
    let new = admit_n(&p, &f, 2);
    assert_eq!(
        reason(admit(&p, &f)),
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    drop(old);
    assert_eq!(
        reason(admit(&p, &f)),
        "ReservedFunctionConcurrentInvocationLimitExceeded",
        "the old invocations gave back unreserved places, not f's"
    );
    drop(new);
    let _again = admit_n(&p, &f, 2);
    assert_eq!(p.lock().unwrap().concurrency.in_flight(), 2);
}

#[test]
fn the_account_limit_caps_everything_while_figures_disagree() {
    // A stale total (0) and a spec that already carries a reservation: the account
    // limit of 4 still holds.
    let p = shared(4);
    let _g = admit_n(&p, &spec("g", "r", 128), 3);
    let f = reserved("f", 3);
    let _f = admit(&p, &f).unwrap();
    assert_eq!(reason(admit(&p, &f)), "ConcurrentInvocationLimitExceeded");
}

#[tokio::test(start_paused = true)]
async fn a_new_reservation_drains_no_environment() {
    let mut h = Harness::new(limits());
    let plain = spec("f", "r", 128);
    let env = h.invoke(&plain, 10);
    let with = reserved("f", 3);
    assert_eq!(plain.pool_key(), with.pool_key());
    let lease = h.begin(&with).unwrap();
    assert!(!lease.cold, "the same warm environment serves it");
    assert_eq!(lease.id(), env);
    assert!(h.end(lease, &with, 10, true));
    assert!(h.destroyed.is_empty());
}
