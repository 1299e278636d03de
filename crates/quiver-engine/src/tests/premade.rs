//! The pre-made stock's bookkeeping: filled to `prewarm` from free budget only.

use super::{limits, spec, FakeSandbox, Harness};
use crate::config::Limits;

#[tokio::test(start_paused = true)]
async fn the_stock_is_built_only_once_wanted_and_only_up_to_prewarm() {
    let mut h = Harness::new(limits());
    assert!(
        !h.pool.premade_begin(),
        "no cold start yet: an idle server holds nothing"
    );
    h.invoke(&spec("f", "r", 128), 10);
    assert!(h.pool.premade_begin());
    assert!(h.pool.premade_begin());
    assert!(
        !h.pool.premade_begin(),
        "two being built is the whole stock"
    );
    assert_eq!(h.pool.reserved_mb, 10 + 32, "charged while being built");
    assert!(h.pool.premade_built(FakeSandbox(1), false).is_ok());
    h.pool.premade_failed();
    assert_eq!(
        h.pool.reserved_mb,
        10 + 16,
        "a failed build gives its charge back"
    );
    assert!(h.pool.premade_begin(), "and may be retried");
}

#[tokio::test(start_paused = true)]
async fn building_never_evicts_a_warm_environment() {
    let mut h = Harness::new(Limits {
        memory_budget_mb: 270,
        ..limits()
    });
    let f = spec("f", "r", 256);
    let id = h.invoke(&f, 256);
    assert_eq!(h.pool.reserved_mb, 256);
    assert!(!h.pool.premade_begin(), "256 + 16 > 270");
    assert!(h.destroyed.is_empty());
    assert_eq!(h.state_of(&id).as_deref(), Some("idle"));
}

#[tokio::test(start_paused = true)]
async fn a_sandbox_built_after_the_stock_was_let_go_is_handed_back() {
    let mut h = Harness::new(limits());
    h.invoke(&spec("f", "r", 128), 10);
    assert!(h.pool.premade_begin());
    assert!(h.pool.premade_begin());
    h.pool.premade.wanted = false;
    assert_eq!(
        h.pool.premade_built(FakeSandbox(1), false),
        Err(FakeSandbox(1))
    );
    h.pool.premade.wanted = true;
    assert_eq!(
        h.pool.premade_built(FakeSandbox(2), true),
        Err(FakeSandbox(2)),
        "shutting down"
    );
    assert!(h.pool.premade.ready.is_empty());
    assert_eq!(h.pool.reserved_mb, 10);
}

#[tokio::test(start_paused = true)]
async fn taking_one_releases_its_charge() {
    let mut h = Harness::new(limits());
    h.invoke(&spec("f", "r", 128), 10);
    assert!(h.pool.premade_begin());
    assert!(h.pool.premade_built(FakeSandbox(7), false).is_ok());
    assert_eq!(h.pool.reserved_mb, 26);
    assert_eq!(h.pool.take_premade_charge(), Some(FakeSandbox(7)));
    assert_eq!(h.pool.reserved_mb, 10);
    assert_eq!(h.pool.take_premade_charge(), None);
}

#[tokio::test(start_paused = true)]
async fn a_build_in_progress_is_given_up_for_an_invocation_that_needs_its_memory() {
    // The whole budget for one call: the 16 MB charge of a sandbox still being built
    // must not turn that call into a 429.
    let mut h = Harness::new(Limits {
        memory_budget_mb: 256,
        ..limits()
    });
    h.invoke(&spec("f", "r", 128), 10);
    assert!(h.pool.premade_begin());
    assert_eq!(h.pool.reserved_mb, 10 + 16);
    let g = spec("g", "r", 256);
    let lease = h
        .begin(&g)
        .expect("the build's charge is given up, f's idle env evicted");
    assert_eq!(h.pool.reserved_mb, 256);
    assert_eq!(
        h.pool.premade_built(FakeSandbox(3), false),
        Err(FakeSandbox(3)),
        "the given-up build is destroyed when it ends"
    );
    assert_eq!(h.pool.reserved_mb, 256, "its charge was released only once");
    assert!(h.pool.premade.ready.is_empty());
    drop(lease);
    // A failed build that was given up does not release its charge twice either.
    let mut h = Harness::new(Limits {
        memory_budget_mb: 256,
        ..limits()
    });
    h.invoke(&spec("f", "r", 128), 10);
    assert!(h.pool.premade_begin());
    let lease = h.begin(&g).unwrap();
    h.pool.premade_failed();
    assert_eq!(h.pool.reserved_mb, 256);
    assert!(!h.pool.cancel_premade_build(), "nothing left to give up");
    drop(lease);
}
