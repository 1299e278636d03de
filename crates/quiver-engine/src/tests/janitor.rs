//! The janitor's decisions on paused time: freeze, reap, retire, let the stock go.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{limits, spec, FakeSandbox, Harness};
use crate::config::Limits;

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn an_idle_environment_is_frozen_after_freeze_after_and_thawed_to_serve() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    let id = h.invoke(&f, 10);
    tokio::time::advance(Duration::from_millis(200) - MS).await;
    h.janitor();
    assert_eq!(h.state_of(&id).as_deref(), Some("idle"));
    assert_eq!(h.ctl(&id).freezes.load(Ordering::SeqCst), 0);
    tokio::time::advance(MS).await;
    h.janitor();
    assert_eq!(h.state_of(&id).as_deref(), Some("frozen"));
    h.janitor();
    assert_eq!(h.ctl(&id).freezes.load(Ordering::SeqCst), 1, "frozen once");
    let lease = h.begin(&f).unwrap();
    assert!(!lease.cold && lease.was_frozen, "the caller must thaw it");
    assert_eq!(h.state_of(&id).as_deref(), Some("busy"));
    assert!(h.end(lease, &f, 10, true));
    assert_eq!(
        h.state_of(&id).as_deref(),
        Some("idle"),
        "thawed ones start over"
    );
}

#[tokio::test(start_paused = true)]
async fn a_runtime_not_parked_in_next_is_not_frozen() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    let id = h.invoke(&f, 10);
    h.ctl(&id).runtime_busy.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(1)).await;
    h.janitor();
    assert_eq!(h.state_of(&id).as_deref(), Some("idle"));
    h.ctl(&id).runtime_busy.store(false, Ordering::SeqCst);
    h.janitor();
    assert_eq!(h.state_of(&id).as_deref(), Some("frozen"));
}

#[tokio::test(start_paused = true)]
async fn an_environment_that_cannot_be_frozen_is_destroyed() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    let id = h.invoke(&f, 10);
    h.ctl(&id).freeze_fails.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(1)).await;
    h.janitor();
    assert_eq!(h.destroyed, [id]);
    assert_eq!(h.pool.reserved_mb, 0);
}

#[tokio::test(start_paused = true)]
async fn an_idle_environment_is_destroyed_at_idle_timeout() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    let id = h.invoke(&f, 10);
    tokio::time::advance(Duration::from_secs(600) - MS).await;
    h.janitor();
    assert_eq!(h.state_of(&id).as_deref(), Some("frozen"), "still there");
    tokio::time::advance(MS).await;
    h.janitor();
    assert_eq!(h.destroyed, vec![id.clone()]);
    assert_eq!(h.state_of(&id), None);
    assert_eq!(h.pool.idle_count(), 0);
    assert_eq!(h.pool.reserved_mb, 0);
}

#[tokio::test(start_paused = true)]
async fn a_busy_life_still_ends_at_max_lifetime() {
    let mut h = Harness::new(Limits {
        max_lifetime: Duration::from_secs(10),
        ..limits()
    });
    let f = spec("f", "r", 128);
    let id = h.invoke(&f, 10);
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(h.invoke(&f, 10), id, "warm all along");
    }
    h.janitor();
    assert!(h.destroyed.is_empty(), "9 s old");
    tokio::time::advance(Duration::from_secs(1)).await;
    h.janitor();
    assert_eq!(h.destroyed, [id], "10 s old, used 1 s ago");
}

#[tokio::test(start_paused = true)]
async fn an_exited_runtime_is_reaped() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    let id = h.invoke(&f, 10);
    h.ctl(&id).exited.store(true, Ordering::SeqCst);
    h.janitor();
    assert_eq!(h.destroyed, [id]);
}

#[tokio::test(start_paused = true)]
async fn the_premade_stock_idles_out_without_cold_starts_and_comes_back_with_one() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    h.invoke(&f, 10);
    assert_eq!(h.refiller_wakes, 1, "the first cold start wants the stock");
    for n in 1..=2 {
        assert!(h.pool.premade_begin());
        assert!(h.pool.premade_built(FakeSandbox(n), false).is_ok());
    }
    assert_eq!(h.pool.reserved_mb, 10 + 2 * 16);
    // Warm invocations keep the environment but are no cold starts.
    tokio::time::advance(Duration::from_secs(300)).await;
    h.invoke(&f, 10);
    tokio::time::advance(Duration::from_secs(300) - MS).await;
    h.janitor();
    assert_eq!(
        h.pool.premade.ready.len(),
        2,
        "599.999 s after the last cold start"
    );
    tokio::time::advance(MS).await;
    h.janitor();
    assert_eq!(h.sandboxes_destroyed, [FakeSandbox(2), FakeSandbox(1)]);
    assert!(h.pool.premade.ready.is_empty());
    assert_eq!(h.pool.reserved_mb, 10, "only the warm environment");
    assert!(h.destroyed.is_empty(), "used 300 s ago: it stays");
    assert!(!h.pool.premade_begin(), "not refilled while unwanted");
    h.invoke(&spec("g", "r", 128), 10);
    assert_eq!(h.refiller_wakes, 2, "the next cold start brings it back");
    assert!(h.pool.premade_begin());
}
