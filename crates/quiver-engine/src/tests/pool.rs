//! Admission, warm reuse, the memory budget, draining and retiring.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{limits, spec, FakeEnv, FakeSandbox, Harness};
use crate::config::Limits;
use crate::pool::{admit, Pool};
use crate::EngineError;

fn throttle_reason(r: Result<impl Sized, EngineError>) -> &'static str {
    match r {
        Err(EngineError::Throttled { reason, .. }) => reason,
        Err(e) => panic!("expected a throttle, got {e}"),
        Ok(_) => panic!("expected a throttle, got admitted"),
    }
}

#[test]
fn the_21st_invocation_is_refused_at_a_concurrency_limit_of_20() {
    let pool: Pool<FakeEnv, FakeSandbox> = Pool::new(Limits {
        account_concurrency: 20,
        ..limits()
    });
    let shared = Arc::new(Mutex::new(pool));
    let f = spec("f", "r", 128);
    let mut admitted: Vec<_> = (0..20)
        .map(|_| admit(&shared, &f).expect("within limit"))
        .collect();
    assert_eq!(shared.lock().unwrap().concurrency.in_flight(), 20);
    assert_eq!(
        throttle_reason(admit(&shared, &f)),
        "ConcurrentInvocationLimitExceeded"
    );
    assert_eq!(
        shared.lock().unwrap().concurrency.in_flight(),
        20,
        "a refusal takes no place"
    );
    admitted.pop();
    assert_eq!(
        shared.lock().unwrap().concurrency.in_flight(),
        19,
        "a finished invocation frees its place"
    );
    admitted.push(admit(&shared, &f).expect("room again"));
    drop(admitted);
    assert_eq!(shared.lock().unwrap().concurrency.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn warm_reuse_takes_the_most_recently_used_environment() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r1", 256);
    let first = h.begin(&f).unwrap();
    let second = h.begin(&f).unwrap();
    assert!(
        first.cold && second.cold,
        "two at once need two environments"
    );
    let (first_id, second_id) = (first.id(), second.id());
    assert_ne!(first_id, second_id);
    assert!(h.end(first, &f, 50, true));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(h.end(second, &f, 50, true));
    assert_eq!(h.pool.idle_count(), 2);
    let warm = h.begin(&f).unwrap();
    assert!(!warm.cold);
    assert_eq!(warm.id(), second_id, "the most recently used one");
    assert_eq!(h.state_of(&second_id).as_deref(), Some("busy"));
    assert_eq!(h.state_of(&first_id).as_deref(), Some("idle"));
    assert_eq!(h.pool.idle_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn busy_counts_memory_size_idle_counts_what_it_used() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r1", 256);
    let lease = h.begin(&f).unwrap();
    assert_eq!(h.pool.reserved_mb, 256, "cold start reserves MemorySize");
    assert!(h.end(lease, &f, 40, true));
    assert_eq!(h.pool.reserved_mb, 40, "idle: what it used");
    let lease = h.begin(&f).unwrap();
    assert_eq!(h.pool.reserved_mb, 256, "busy again: MemorySize");
    assert!(h.end(lease, &f, 0, true));
    assert_eq!(h.pool.reserved_mb, 1, "at least 1 MB");
    let lease = h.begin(&f).unwrap();
    assert!(h.end(lease, &f, 999, true));
    assert_eq!(h.pool.reserved_mb, 256, "never more than MemorySize");
    let lease = h.begin(&f).unwrap();
    let id = lease.id();
    assert!(
        !h.end(lease, &f, 40, false),
        "a failed environment is not kept"
    );
    assert_eq!(h.pool.reserved_mb, 0);
    assert_eq!(h.destroyed, [id]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_cold_start_gives_back_its_reservation() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r1", 256);
    let mut doomed = crate::pool::Doomed::default();
    let acquired = h.pool.acquire(&f, &f.pool_key(), &mut doomed).unwrap();
    assert!(matches!(acquired, crate::pool::Acquired::Cold { .. }));
    let env = h.cold_env(&f, &f.pool_key());
    assert_eq!(h.state_of("env1").as_deref(), Some("starting"));
    assert_eq!(h.pool.reserved_mb, 256);
    h.pool.start_failed("env1", f.memory_mb);
    drop(env);
    assert_eq!(h.pool.reserved_mb, 0);
    assert!(h.pool.environments().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_full_budget_evicts_the_least_recently_used_idle_environment() {
    let mut h = Harness::new(Limits {
        memory_budget_mb: 512,
        ..limits()
    });
    let (a, b, c) = (
        spec("a", "r", 256),
        spec("b", "r", 256),
        spec("c", "r", 256),
    );
    let a_env = h.invoke(&a, 200);
    tokio::time::advance(Duration::from_secs(1)).await;
    let b_env = h.invoke(&b, 200);
    assert_eq!(h.pool.reserved_mb, 400);
    let lease = h.begin(&c).unwrap();
    assert!(lease.cold);
    assert_eq!(h.destroyed, vec![a_env.clone()], "a was used longest ago");
    assert_eq!(h.pool.reserved_mb, 200 + 256);
    assert_eq!(h.state_of(&b_env).as_deref(), Some("idle"));
    assert_eq!(h.state_of(&a_env), None);
    assert!(h.end(lease, &c, 100, true));
}

#[tokio::test(start_paused = true)]
async fn no_room_even_without_idle_environments_is_throttled() {
    let mut h = Harness::new(Limits {
        memory_budget_mb: 512,
        ..limits()
    });
    let f = spec("f", "r", 256);
    let one = h.begin(&f).unwrap();
    let two = h.begin(&f).unwrap();
    assert_eq!(
        throttle_reason(h.begin(&f)),
        "ConcurrentInvocationLimitExceeded"
    );
    assert_eq!(h.pool.reserved_mb, 512, "a refusal reserves nothing");
    assert!(h.end(one, &f, 100, true));
    assert!(h.end(two, &f, 100, true));
    // Both idle now (200 MB). Another function fits beside them, a second one only
    // by evicting both, and a third not at all.
    let g = spec("g", "r", 256);
    let _g1 = h.begin(&g).unwrap();
    assert!(h.destroyed.is_empty());
    assert_eq!(h.pool.reserved_mb, 200 + 256);
    let _g2 = h.begin(&g).unwrap();
    assert_eq!(h.destroyed.len(), 2, "both idle ones made room");
    assert_eq!(h.pool.reserved_mb, 512);
    assert_eq!(
        throttle_reason(h.begin(&g)),
        "ConcurrentInvocationLimitExceeded"
    );
}

#[tokio::test(start_paused = true)]
async fn premade_sandboxes_are_given_up_before_idle_environments() {
    let mut h = Harness::new(Limits {
        memory_budget_mb: 300,
        ..limits()
    });
    let a = spec("a", "r", 256);
    let a_env = h.invoke(&a, 100);
    assert!(
        h.pool.premade_begin(),
        "the cold start made the stock wanted"
    );
    assert!(h.pool.premade_built(FakeSandbox(1), false).is_ok());
    assert_eq!(h.pool.reserved_mb, 100 + 16);
    let b = spec("b", "r", 190);
    let lease = h.begin(&b).unwrap();
    assert_eq!(h.sandboxes_destroyed, [FakeSandbox(1)]);
    assert!(h.destroyed.is_empty(), "the warm environment stays");
    assert_eq!(h.state_of(&a_env).as_deref(), Some("idle"));
    assert_eq!(h.pool.reserved_mb, 100 + 190);
    drop(lease);
}

#[tokio::test(start_paused = true)]
async fn an_exited_idle_runtime_is_never_handed_an_event() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 256);
    let gone = h.invoke(&f, 50);
    h.ctl(&gone).exited.store(true, Ordering::SeqCst);
    let lease = h.begin(&f).unwrap();
    assert!(lease.cold, "replaced by a new environment");
    assert_ne!(lease.id(), gone);
    assert_eq!(h.destroyed, [gone]);
    assert_eq!(h.pool.reserved_mb, 256, "its idle charge went with it");
}

#[tokio::test(start_paused = true)]
async fn a_new_revision_drains_the_old_one() {
    let mut h = Harness::new(limits());
    let (v1, v2) = (spec("f", "r1", 128), spec("f", "r2", 128));
    let mut other_version = spec("f", "r1", 128);
    other_version.version = "1".into();
    let kept = h.invoke(&other_version, 10);
    let busy = h.begin(&v1).unwrap();
    let idle = h.invoke(&v1, 10);
    let busy_id = busy.id();

    let new = h.begin(&v2).unwrap();
    assert!(new.cold, "no environment of the old code serves the new");
    assert_eq!(h.destroyed, vec![idle.clone()], "idle old ones go at once");
    assert_eq!(h.state_of(&busy_id).as_deref(), Some("draining"));
    assert_eq!(
        h.state_of(&kept).as_deref(),
        Some("idle"),
        "version 1 is untouched"
    );

    assert!(
        !h.end(busy, &v1, 10, true),
        "a draining one never goes back"
    );
    assert_eq!(h.destroyed, [idle, busy_id]);
    assert!(h.end(new, &v2, 10, true));
    assert_eq!(h.pool.reserved_mb, 20, "the two idle ones");
}

#[tokio::test(start_paused = true)]
async fn past_its_lifetime_or_after_shutdown_an_environment_is_not_kept() {
    let mut h = Harness::new(Limits {
        max_lifetime: Duration::from_secs(60),
        ..limits()
    });
    let f = spec("f", "r", 128);
    let lease = h.begin(&f).unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(h.end(lease, &f, 10, true), "59 s old: kept");
    let lease = h.begin(&f).unwrap();
    assert!(!lease.cold);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(!h.end(lease, &f, 10, true), "60 s old: retired");
    let lease = h.begin(&f).unwrap();
    assert!(!h.end_closed(lease, &f, 10, true, true), "closed: not kept");
    assert_eq!(h.pool.reserved_mb, 0);
    assert_eq!(h.destroyed.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn retire_takes_only_the_deleted_functions_environments() {
    let mut h = Harness::new(limits());
    let f = spec("f", "r", 128);
    let mut f1 = spec("f", "r", 128);
    f1.version = "1".into();
    let g = spec("g", "r", 128);
    let (fl, f1e, ge) = (h.invoke(&f, 10), h.invoke(&f1, 10), h.invoke(&g, 10));
    let gone: Vec<String> = h
        .pool
        .retire("f", Some("1"))
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(gone, [f1e]);
    let gone: Vec<String> = h
        .pool
        .retire("f", None)
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(gone, [fl]);
    assert_eq!(h.state_of(&ge).as_deref(), Some("idle"));
    assert_eq!(h.pool.reserved_mb, 10);
    assert!(!h.pool.current.keys().any(|k| k.starts_with("f\u{0}")));
    // A busy one finishes its invocation, then goes: its function is no longer current.
    let busy = h.begin(&g).unwrap();
    assert_eq!(busy.id(), ge);
    assert!(h.pool.retire("g", None).is_empty());
    assert!(!h.end(busy, &g, 10, true), "not back in the pool");
    assert_eq!(h.destroyed, [ge]);
    assert_eq!(h.pool.reserved_mb, 0);
    let h2 = h.invoke(&g, 10);
    let shutdown = h.pool.take_all();
    assert_eq!(
        shutdown.envs.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&h2]
    );
    assert_eq!(h.pool.reserved_mb, 0);
}
