//! Provisioned environments: started for what is missing, taken first, kept out of
//! the janitor's reach, replaced when they die, released when no longer wanted, and
//! their own places in admission.

use std::sync::Arc;

use super::*;
use crate::pool::admit;
use crate::provisioned::ProvisionedTarget;

fn version(name: &str, v: &str) -> FunctionSpec {
    FunctionSpec {
        version: v.into(),
        ..spec(name, "r1", 128)
    }
}

fn target(spec: &FunctionSpec, count: u32) -> ProvisionedTarget {
    ProvisionedTarget {
        spec: spec.clone(),
        count,
        stamp: "t1".into(),
    }
}

impl Harness {
    fn provision(&mut self, targets: Vec<ProvisionedTarget>) {
        let mut doomed = Doomed::default();
        self.pool.set_provisions(targets, &mut doomed);
        self.bury(doomed);
    }

    /// Starts what the pool asks for; each INIT ends (`ok`) or fails at once.
    fn top_up(&mut self, ok: bool) -> Vec<String> {
        let mut doomed = Doomed::default();
        let starts = self.pool.provision_starts(&mut doomed);
        self.bury(doomed);
        let mut ids = Vec::new();
        for (spec, key, id, state) in starts {
            let ctl = Arc::new(Ctl::default());
            self.ctls.insert(id.clone(), ctl.clone());
            let env = FakeEnv {
                id: id.clone(),
                key,
                state,
                ctl,
                provisioned: true,
            };
            if !ok {
                self.pool
                    .provision_failed(&id, &spec, "FUNCTION_ERROR_INIT_FAILURE");
                continue;
            }
            env.state.become_(EnvState::Busy, &id);
            assert!(self.pool.provisioned_ready(env, &spec, false).is_none());
            ids.push(id);
        }
        ids
    }

    fn allocated(&self, spec: &FunctionSpec) -> Option<u32> {
        self.pool
            .provisioned_status(&spec.name, &spec.version)
            .map(|s| s.allocated)
    }
}

#[tokio::test(start_paused = true)]
async fn provisioned_environments_are_started_taken_first_and_never_reaped() {
    let mut h = Harness::new(limits());
    let v1 = version("f", "1");
    h.provision(vec![target(&v1, 2)]);
    assert_eq!(
        h.allocated(&v1),
        Some(0),
        "IN_PROGRESS until they are there"
    );
    let ids = h.top_up(true);
    assert_eq!(ids.len(), 2);
    assert_eq!(h.allocated(&v1), Some(2));
    assert!(h.top_up(true).is_empty(), "nothing more is missing");

    // An on-demand environment of the same version exists too; the provisioned ones
    // are still taken first.
    let lease = h.begin(&v1).unwrap();
    assert!(!lease.cold && ids.contains(&lease.id()));
    let other = h.begin(&v1).unwrap();
    assert!(ids.contains(&other.id()));
    let third = h.begin(&v1).unwrap();
    assert!(third.cold, "beyond the provisioned two: on-demand");
    assert_eq!(h.allocated(&v1), Some(2), "busy ones still count");
    for l in [lease, other, third] {
        assert!(h.end(l, &v1, 10, true));
    }

    // Long idle: the janitor reaps the on-demand one, never the provisioned ones.
    tokio::time::advance(Duration::from_secs(3 * 3600)).await;
    h.janitor();
    assert_eq!(h.destroyed.len(), 1);
    assert!(!ids.contains(&h.destroyed[0]));
    assert_eq!(h.allocated(&v1), Some(2));
    assert!(ids
        .iter()
        .all(|id| h.ctl(id).freezes.load(Ordering::SeqCst) == 0));

    // One dies: it is replaced.
    h.ctl(&ids[0]).exited.store(true, Ordering::SeqCst);
    let new = h.top_up(true);
    assert_eq!(new.len(), 1);
    assert!(h.destroyed.contains(&ids[0]));
    assert_eq!(h.allocated(&v1), Some(2));

    // Lowered, then dropped: the surplus and then the rest go.
    h.provision(vec![target(&v1, 1)]);
    assert_eq!(h.allocated(&v1), Some(1));
    h.provision(Vec::new());
    assert_eq!(h.allocated(&v1), None);
    assert!(h.pool.prov_idle.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_init_stops_starts_until_the_config_changes() {
    let mut h = Harness::new(limits());
    let v1 = version("f", "1");
    h.provision(vec![target(&v1, 1)]);
    assert!(h.top_up(false).is_empty());
    let s = h.pool.provisioned_status("f", "1").unwrap();
    assert_eq!(s.failed.as_deref(), Some("FUNCTION_ERROR_INIT_FAILURE"));
    assert_eq!(h.pool.reserved_mb, 0, "its memory was given back");
    assert!(h.pool.provision_starts(&mut Doomed::default()).is_empty());
    // The same picture again keeps the failure; a new Put (stamp) retries.
    h.provision(vec![target(&v1, 1)]);
    assert!(h
        .pool
        .provisioned_status("f", "1")
        .unwrap()
        .failed
        .is_some());
    h.provision(vec![ProvisionedTarget {
        stamp: "t2".into(),
        ..target(&v1, 1)
    }]);
    assert_eq!(h.top_up(true).len(), 1);
    assert_eq!(h.pool.provisioned_status("f", "1").unwrap().failed, None);
}

#[tokio::test(start_paused = true)]
async fn provisioned_places_come_out_of_the_unreserved_pool() {
    let mut h = Harness::new(Limits {
        account_concurrency: 3,
        ..limits()
    });
    let v1 = version("f", "1");
    h.provision(vec![target(&v1, 2)]);
    let shared = Arc::new(std::sync::Mutex::new(std::mem::replace(
        &mut h.pool,
        Pool::new(limits()),
    )));
    let g = spec("g", "r1", 128);
    let g1 = admit(&shared, &g).expect("one unreserved place is left");
    assert!(admit(&shared, &g).is_err(), "the other two are f's");
    let f1 = admit(&shared, &v1).expect("f's own place");
    let f2 = admit(&shared, &v1).expect("f's own place");
    assert!(admit(&shared, &v1).is_err(), "account limit reached");
    drop(g1);
    let f3 = admit(&shared, &v1).expect("beyond its places f spills into the unreserved pool");
    drop((f1, f2, f3));
}
