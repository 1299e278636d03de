//! Reporting: what `quiver ps` and the admin endpoints see of the pool. Read-only;
//! nothing here changes an environment.

use crate::engine::Engine;
use crate::environment::ColdStart;
use crate::pool::{lock, Pool, PoolEnv};

/// One environment, as `quiver ps` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvInfo {
    pub id: String,
    pub function: String,
    pub version: String,
    pub state: String,
    pub age_ms: u64,
    pub idle_ms: Option<u64>,
    pub invocations: u64,
    pub memory_size_mb: u32,
    /// Peak memory of the environment (idle ones only: busy ones are measured at REPORT).
    pub max_memory_used_mb: Option<u64>,
    pub cpu_ms: Option<u64>,
    /// The memory cgroup directory (idle ones only).
    pub cgroup: Option<String>,
    /// Where its cold start spent its time (idle ones only).
    pub cold_start: Option<ColdStart>,
}

impl<E: PoolEnv, S> Pool<E, S> {
    /// Every environment, idle ones with their measurements, sorted by function,
    /// version and id. Busy ones are not measured: their invocation owns them, and
    /// REPORT measures them when it ends.
    pub(crate) fn environments(&self) -> Vec<EnvInfo> {
        let mut out = Vec::new();
        for s in self.idle.values().chain(self.prov_idle.values()).flatten() {
            out.push(EnvInfo {
                id: s.env.id().to_string(),
                function: s.function.clone(),
                version: s.version.clone(),
                state: s.env.state().get().to_string(),
                age_ms: s.created.elapsed().as_millis() as u64,
                idle_ms: Some(s.last_used.elapsed().as_millis() as u64),
                invocations: s.env.invocations(),
                memory_size_mb: s.memory_mb,
                max_memory_used_mb: Some(s.env.max_memory_used_mb()),
                cpu_ms: Some(s.env.cpu_usage_ns() / 1_000_000),
                cgroup: Some(s.env.cgroup_path().display().to_string()),
                cold_start: Some(s.env.cold_start()),
            });
        }
        for (id, a) in &self.active {
            out.push(EnvInfo {
                id: id.clone(),
                function: a.function.clone(),
                version: a.version.clone(),
                state: a.state.get().to_string(),
                age_ms: a.created.elapsed().as_millis() as u64,
                idle_ms: None,
                invocations: a.invocations,
                memory_size_mb: a.memory_mb,
                max_memory_used_mb: None,
                cpu_ms: None,
                cgroup: None,
                cold_start: None,
            });
        }
        out.sort_by(|a, b| (&a.function, &a.version, &a.id).cmp(&(&b.function, &b.version, &b.id)));
        out
    }

    /// Number of idle (and frozen) environments.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle
            .values()
            .chain(self.prov_idle.values())
            .map(Vec::len)
            .sum()
    }
}

impl Engine {
    /// Every environment with its state (for `quiver ps`).
    pub fn environments(&self) -> Vec<EnvInfo> {
        lock(&self.pools).environments()
    }

    /// Number of idle environments.
    pub fn idle_count(&self) -> usize {
        lock(&self.pools).idle_count()
    }

    /// Pre-made sandboxes ready now (for `quiver ps`).
    pub fn premade_ready(&self) -> usize {
        lock(&self.pools).premade.ready.len()
    }
}
