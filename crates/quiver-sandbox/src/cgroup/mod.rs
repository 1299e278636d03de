//! cgroups v1, v2 and hybrid: one instance directory per quiver data dir, one child per sandbox.
//!
//! Decisions (which hierarchy does memory, CPU, pids, freeze, kill) are made once in
//! [`Plan`]; every kernel write goes through [`CgroupFs`] so the exact sequences are
//! unit-tested for all three layouts with a recording fake.
//!
//! Paths: v1 `<mount>/quiver-<id>/<sandbox>`; v2 `<mount>/<own cgroup>/quiver-<id>/<sandbox>`.
//! On a hybrid host limits live in v1 while freeze, kill and "populated" use the
//! cgroup2 mount (0.05 ms instead of v1's 0.2–0.5 ms, and v2-frozen tasks can be killed).

mod fs;
mod layout;

pub use fs::{CgroupFs, RealCgroupFs};
pub use layout::{Layout, Mode, Unified};

use crate::SandboxError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// On pure v2 the server moves itself into this leaf so that its own cgroup may
/// enable controllers for children ("no internal processes").
pub const SERVER_LEAF: &str = "quiver-server";
/// Lambda's ratio: 1,769 MB of memory buys one vCPU.
pub const MB_PER_VCPU: u64 = 1769;
/// Short CFS period so a small quota means short, frequent slices (docs/sandbox.md §7).
pub const CPU_PERIOD_US: u64 = 20_000;
/// Lambda's limit on processes + threads.
pub const PIDS_MAX: u64 = 1024;

/// Where one function of the cgroup interface is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Where {
    /// A v1 hierarchy, by mount point.
    V1(PathBuf),
    /// The cgroup2 hierarchy.
    V2,
}

/// The per-host decisions, fixed at Manager start.
#[derive(Debug, Clone)]
pub struct Plan {
    memory: Where,
    cpu: Where,
    cpuacct: Where,
    pids: Option<Where>,
    /// v1 freezer hierarchy, used only when cgroup2 cannot freeze.
    v1_freezer: Option<PathBuf>,
    unified: Option<PathBuf>,
    unified_freeze: bool,
    unified_kill: bool,
    instance: String,
}

/// cpu.shares in proportion to memory (1,769 MB = 1024, the default weight of one task).
pub fn cpu_shares(memory_mb: u32) -> u64 {
    (memory_mb as u64 * 1024 / MB_PER_VCPU).max(2)
}

/// cgroup2 cpu.weight from shares, with runc's conversion.
pub fn cpu_weight(memory_mb: u32) -> u64 {
    1 + ((cpu_shares(memory_mb) - 2) * 9999) / 262_142
}

/// CFS quota in µs per [`CPU_PERIOD_US`] (kernel minimum 1 ms).
pub fn cpu_quota_us(memory_mb: u32) -> u64 {
    (CPU_PERIOD_US * memory_mb as u64 / MB_PER_VCPU).max(1000)
}

/// One quiver instance's cgroup directories, in every hierarchy it uses.
pub struct Instance {
    fs: Arc<dyn CgroupFs>,
    plan: Arc<Plan>,
}

impl Instance {
    /// Decide the plan, create the instance directories (checking they are writable),
    /// and enable v2 controllers where v2 provides limits.
    pub fn open(
        fs: Arc<dyn CgroupFs>,
        layout: &Layout,
        instance: &str,
    ) -> Result<Instance, SandboxError> {
        let pick = |ctrl: &str| -> Option<Where> {
            if let Some(p) = layout.v1.get(ctrl) {
                return Some(Where::V1(p.clone()));
            }
            match &layout.unified {
                Some(u) if u.controllers.contains(ctrl) => Some(Where::V2),
                _ => None,
            }
        };
        let need = |ctrl: &str| {
            pick(ctrl).ok_or_else(|| {
                SandboxError::Unsupported(format!(
                    "no cgroup hierarchy offers the {ctrl} controller (v1 mounts: {:?}; cgroup2: {})",
                    layout.v1.keys().collect::<Vec<_>>(),
                    layout.unified.as_ref().map_or("none".to_string(), |u| format!(
                        "{} with [{}]",
                        u.base.display(),
                        u.controllers.iter().cloned().collect::<Vec<_>>().join(" ")
                    ))
                ))
            })
        };
        let memory = need("memory")?;
        let cpu = need("cpu")?;
        let cpuacct = match (layout.v1.get("cpuacct"), &layout.unified) {
            (Some(p), _) => Where::V1(p.clone()),
            (None, Some(_)) => Where::V2,
            (None, None) => need("cpuacct")?,
        };
        let pids = pick("pids");
        let unified = layout.unified.as_ref().map(|u| u.base.clone());
        let mut plan = Plan {
            memory,
            cpu,
            cpuacct,
            pids,
            v1_freezer: None,
            unified,
            unified_freeze: false,
            unified_kill: false,
            instance: instance.to_string(),
        };

        let v2_ctrls = plan.v2_controllers();
        if let (Some(base), false) = (&plan.unified, v2_ctrls.is_empty()) {
            delegate_v2(&*fs, base, &v2_ctrls)?;
        }
        for base in plan.hierarchy_bases(layout) {
            let dir = base.join(instance);
            match fs.mkdir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(writable_error(&base, e)),
            }
        }
        if let Some(base) = &plan.unified {
            let dir = base.join(instance);
            if !v2_ctrls.is_empty() {
                write(&*fs, &dir.join("cgroup.subtree_control"), &plus(&v2_ctrls))?;
            }
            plan.unified_freeze = fs.exists(&dir.join("cgroup.freeze"));
            plan.unified_kill = fs.exists(&dir.join("cgroup.kill"));
        }
        if !plan.unified_freeze {
            let p = layout.v1.get("freezer").ok_or_else(|| {
                SandboxError::Unsupported(
                    "no cgroup freezer: neither cgroup2 cgroup.freeze nor a v1 freezer hierarchy"
                        .into(),
                )
            })?;
            let dir = p.join(instance);
            match fs.mkdir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(writable_error(p, e)),
            }
            plan.v1_freezer = Some(p.clone());
        }
        Ok(Instance {
            fs,
            plan: Arc::new(plan),
        })
    }

    /// Every directory of this instance (for reports and tests).
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.plan.instance_dirs()
    }

    /// Names of sandbox cgroups present under this instance (leftovers after a crash).
    pub fn children(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for dir in self.plan.instance_dirs() {
            for n in self.fs.subdirs(&dir).unwrap_or_default() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names.sort();
        names
    }

    /// Kill and remove every leftover sandbox cgroup of *this* instance only.
    pub fn sweep(&self) -> Vec<String> {
        let names = self.children();
        for name in &names {
            let cg = self.sandbox(name);
            let _ = cg.thaw();
            let _ = cg.kill_all();
            if let Err(e) = cg.remove(Duration::from_secs(3)) {
                tracing::warn!(sandbox = %name, error = %e, "sweep could not remove a leftover cgroup");
            }
        }
        names
    }

    /// Handle on a sandbox's cgroups (they may or may not exist yet).
    pub fn sandbox(&self, id: &str) -> SandboxCgroup {
        SandboxCgroup {
            fs: self.fs.clone(),
            plan: self.plan.clone(),
            id: id.to_string(),
        }
    }

    /// Remove the (empty) instance directories at shutdown.
    pub fn remove(&self) {
        for dir in self.plan.instance_dirs().into_iter().rev() {
            let _ = self.fs.rmdir(&dir);
        }
    }
}

fn writable_error(base: &Path, e: std::io::Error) -> SandboxError {
    SandboxError::Unsupported(format!(
        "no writable cgroup hierarchy at {}: {} (quiver needs root and a writable cgroup mount, or a delegated cgroup2 subtree)",
        base.display(),
        if e.raw_os_error() == Some(libc::EROFS) { "it is read-only".to_string() } else { e.to_string() }
    ))
}

/// Pure v2: make `base` able to hand controllers to children by moving its own
/// processes into a leaf, then enabling the controllers in `subtree_control`.
fn delegate_v2(fs: &dyn CgroupFs, base: &Path, ctrls: &[&str]) -> Result<(), SandboxError> {
    let procs = fs.read(&base.join("cgroup.procs")).unwrap_or_default();
    let is_root = !fs.exists(&base.join("cgroup.freeze")) && !fs.exists(&base.join("cgroup.type"));
    if !is_root && !procs.trim().is_empty() {
        let leaf = base.join(SERVER_LEAF);
        match fs.mkdir(&leaf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(writable_error(base, e)),
        }
        for pid in procs.split_whitespace() {
            // A process may have exited meanwhile; that is fine.
            let _ = fs.write(&leaf.join("cgroup.procs"), pid);
        }
    }
    write(fs, &base.join("cgroup.subtree_control"), &plus(ctrls))
}

fn plus(ctrls: &[&str]) -> String {
    ctrls
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write(fs: &dyn CgroupFs, path: &Path, value: &str) -> Result<(), SandboxError> {
    fs.write(path, value)
        .map_err(|e| SandboxError::cg("write", path, e))
}

fn read(fs: &dyn CgroupFs, path: &Path) -> Result<String, SandboxError> {
    fs.read(path).map_err(|e| SandboxError::cg("read", path, e))
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

impl Plan {
    fn v2_controllers(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.memory == Where::V2 {
            v.push("memory");
        }
        if self.cpu == Where::V2 {
            v.push("cpu");
        }
        if self.pids == Some(Where::V2) {
            v.push("pids");
        }
        v
    }

    /// Hierarchy roots in a fixed order: memory, cpu, cpuacct, pids, freezer, unified.
    fn hierarchy_bases(&self, _layout: &Layout) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        let mut add = |p: &PathBuf| {
            if !out.contains(p) {
                out.push(p.clone());
            }
        };
        for w in [
            Some(&self.memory),
            Some(&self.cpu),
            Some(&self.cpuacct),
            self.pids.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Where::V1(p) = w {
                add(p);
            }
        }
        if let Some(p) = &self.v1_freezer {
            add(p);
        }
        if let Some(p) = &self.unified {
            add(p);
        }
        out
    }

    fn instance_dirs(&self) -> Vec<PathBuf> {
        self.hierarchy_bases(&Layout::default())
            .iter()
            .map(|b| b.join(&self.instance))
            .collect()
    }

    fn dir(&self, w: &Where, id: &str) -> PathBuf {
        match w {
            Where::V1(p) => p.join(&self.instance).join(id),
            Where::V2 => self
                .unified
                .as_ref()
                .expect("v2 chosen only when mounted")
                .join(&self.instance)
                .join(id),
        }
    }
}

/// One sandbox's cgroups across all hierarchies.
#[derive(Clone)]
pub struct SandboxCgroup {
    fs: Arc<dyn CgroupFs>,
    plan: Arc<Plan>,
    id: String,
}

impl SandboxCgroup {
    /// All of this sandbox's directories, in creation order.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.plan
            .instance_dirs()
            .into_iter()
            .map(|d| d.join(&self.id))
            .collect()
    }

    /// `cgroup.procs` files the spawner writes the init pid into before releasing it.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// The directory shown in reports (the memory cgroup).
    pub fn display_path(&self) -> PathBuf {
        self.plan.dir(&self.plan.memory, &self.id)
    }

    /// mkdir everywhere, then memory (swap off), CPU weight and pids limits.
    /// The hard CPU quota comes later, from [`apply_cpu_quota`](Self::apply_cpu_quota).
    pub fn create(&self, memory_mb: u32) -> Result<(), SandboxError> {
        for dir in self.dirs() {
            self.fs
                .mkdir(&dir)
                .map_err(|e| SandboxError::cg("mkdir", &dir, e))?;
        }
        let fs = &*self.fs;
        let bytes = (memory_mb as u64 * 1024 * 1024).to_string();
        let mem = self.plan.dir(&self.plan.memory, &self.id);
        match self.plan.memory {
            Where::V1(_) => {
                // Both start unlimited: lower the plain limit first, then memsw (which
                // must stay >= the limit). memsw == limit means no swap at all.
                write(fs, &mem.join("memory.limit_in_bytes"), &bytes)?;
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                if fs.exists(&memsw) {
                    write(fs, &memsw, &bytes)?;
                }
            }
            Where::V2 => {
                write(fs, &mem.join("memory.max"), &bytes)?;
                write(fs, &mem.join("memory.swap.max"), "0")?;
                write(fs, &mem.join("memory.oom.group"), "1")?;
            }
        }
        let cpu = self.plan.dir(&self.plan.cpu, &self.id);
        match self.plan.cpu {
            Where::V1(_) => write(
                fs,
                &cpu.join("cpu.shares"),
                &cpu_shares(memory_mb).to_string(),
            )?,
            Where::V2 => write(
                fs,
                &cpu.join("cpu.weight"),
                &cpu_weight(memory_mb).to_string(),
            )?,
        }
        if let Some(w) = &self.plan.pids {
            write(
                fs,
                &self.plan.dir(w, &self.id).join("pids.max"),
                &PIDS_MAX.to_string(),
            )?;
        }
        Ok(())
    }

    /// Changes the memory limit (swap stays off) and CPU weight of a live sandbox from
    /// `old_mb` to `new_mb` (a pre-made sandbox at assignment). v1 keeps
    /// `memsw >= limit` at every step: raise memsw first, lower the limit first.
    pub fn resize(&self, old_mb: u32, new_mb: u32) -> Result<(), SandboxError> {
        let fs = &*self.fs;
        let bytes = (new_mb as u64 * 1024 * 1024).to_string();
        let mem = self.plan.dir(&self.plan.memory, &self.id);
        match self.plan.memory {
            Where::V1(_) => {
                let limit = mem.join("memory.limit_in_bytes");
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                let memsw = fs.exists(&memsw).then_some(memsw);
                if new_mb >= old_mb {
                    if let Some(sw) = &memsw {
                        write(fs, sw, &bytes)?;
                    }
                    write(fs, &limit, &bytes)?;
                } else {
                    write(fs, &limit, &bytes)?;
                    if let Some(sw) = &memsw {
                        write(fs, sw, &bytes)?;
                    }
                }
            }
            Where::V2 => write(fs, &mem.join("memory.max"), &bytes)?,
        }
        let cpu = self.plan.dir(&self.plan.cpu, &self.id);
        match self.plan.cpu {
            Where::V1(_) => write(fs, &cpu.join("cpu.shares"), &cpu_shares(new_mb).to_string()),
            Where::V2 => write(fs, &cpu.join("cpu.weight"), &cpu_weight(new_mb).to_string()),
        }
    }

    /// The hard quota (memory/1769 of a CPU, 20 ms period). Call after INIT.
    pub fn apply_cpu_quota(&self, memory_mb: u32) -> Result<(), SandboxError> {
        let cpu = self.plan.dir(&self.plan.cpu, &self.id);
        let quota = cpu_quota_us(memory_mb);
        match self.plan.cpu {
            Where::V1(_) => {
                write(
                    &*self.fs,
                    &cpu.join("cpu.cfs_period_us"),
                    &CPU_PERIOD_US.to_string(),
                )?;
                write(&*self.fs, &cpu.join("cpu.cfs_quota_us"), &quota.to_string())
            }
            Where::V2 => write(
                &*self.fs,
                &cpu.join("cpu.max"),
                &format!("{quota} {CPU_PERIOD_US}"),
            ),
        }
    }

    fn unified_dir(&self) -> Option<PathBuf> {
        self.plan
            .unified
            .as_ref()
            .map(|b| b.join(&self.plan.instance).join(&self.id))
    }

    /// Stop every task. Polls for the frozen state with a deadline (a v1 freeze
    /// can hang in FREEZING; then it thaws and reports a timeout).
    pub fn freeze(&self) -> Result<(), SandboxError> {
        let deadline = Instant::now() + Duration::from_secs(1);
        if self.plan.unified_freeze {
            let dir = self.unified_dir().expect("unified");
            write(&*self.fs, &dir.join("cgroup.freeze"), "1")?;
            while keyed(&read(&*self.fs, &dir.join("cgroup.events"))?, "frozen") != Some(1) {
                if Instant::now() > deadline {
                    let _ = write(&*self.fs, &dir.join("cgroup.freeze"), "0");
                    return Err(SandboxError::FreezeTimeout(dir));
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            return Ok(());
        }
        let dir = self
            .plan
            .v1_freezer
            .as_ref()
            .expect("v1 freezer")
            .join(&self.plan.instance)
            .join(&self.id);
        write(&*self.fs, &dir.join("freezer.state"), "FROZEN")?;
        while read(&*self.fs, &dir.join("freezer.state"))?.trim() != "FROZEN" {
            if Instant::now() > deadline {
                let _ = write(&*self.fs, &dir.join("freezer.state"), "THAWED");
                return Err(SandboxError::FreezeTimeout(dir));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        Ok(())
    }

    pub fn thaw(&self) -> Result<(), SandboxError> {
        if self.plan.unified_freeze {
            let dir = self.unified_dir().expect("unified");
            return write(&*self.fs, &dir.join("cgroup.freeze"), "0");
        }
        let dir = self
            .plan
            .v1_freezer
            .as_ref()
            .expect("v1 freezer")
            .join(&self.plan.instance)
            .join(&self.id);
        write(&*self.fs, &dir.join("freezer.state"), "THAWED")
    }

    /// SIGKILL every task: `cgroup.kill` when the kernel has it, else freeze, kill each
    /// pid, thaw (so nothing forks in between, and v1-frozen tasks get to die).
    pub fn kill_all(&self) -> Result<(), SandboxError> {
        if self.plan.unified_kill {
            let dir = self.unified_dir().expect("unified");
            return write(&*self.fs, &dir.join("cgroup.kill"), "1");
        }
        let frozen = self.freeze().is_ok();
        let procs_dir = self.plan.dir(&self.plan.memory, &self.id);
        let procs = read(&*self.fs, &procs_dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = self.fs.kill_pid(pid);
        }
        if frozen {
            self.thaw()?;
        }
        Ok(())
    }

    /// Whether any task is left (cgroup2 `populated`, else the memory cgroup's procs).
    pub fn is_empty(&self) -> bool {
        if let Some(dir) = self.unified_dir() {
            if let Ok(ev) = self.fs.read(&dir.join("cgroup.events")) {
                return keyed(&ev, "populated") == Some(0);
            }
        }
        let dir = self.plan.dir(&self.plan.memory, &self.id);
        self.fs
            .read(&dir.join("cgroup.procs"))
            .map(|p| p.trim().is_empty())
            .unwrap_or(true)
    }

    /// rmdir in every hierarchy, retrying while tasks are still exiting.
    pub fn remove(&self, wait: Duration) -> Result<(), SandboxError> {
        let deadline = Instant::now() + wait;
        for dir in self.dirs().into_iter().rev() {
            loop {
                match self.fs.rmdir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => return Err(SandboxError::cg("rmdir", &dir, e)),
                }
            }
        }
        Ok(())
    }

    /// Peak memory (bytes) for REPORT lines.
    pub fn memory_peak_bytes(&self) -> Result<u64, SandboxError> {
        let dir = self.plan.dir(&self.plan.memory, &self.id);
        let file = match self.plan.memory {
            Where::V1(_) => "memory.max_usage_in_bytes",
            Where::V2 => "memory.peak",
        };
        let p = dir.join(file);
        read(&*self.fs, &p)?
            .trim()
            .parse()
            .map_err(|_| SandboxError::cg("parse", &p, std::io::ErrorKind::InvalidData.into()))
    }

    /// CPU time used by all tasks, in nanoseconds.
    pub fn cpu_usage_ns(&self) -> Result<u64, SandboxError> {
        let dir = self.plan.dir(&self.plan.cpuacct, &self.id);
        match self.plan.cpuacct {
            Where::V1(_) => {
                let p = dir.join("cpuacct.usage");
                read(&*self.fs, &p)?.trim().parse().map_err(|_| {
                    SandboxError::cg("parse", &p, std::io::ErrorKind::InvalidData.into())
                })
            }
            Where::V2 => {
                let p = dir.join("cpu.stat");
                keyed(&read(&*self.fs, &p)?, "usage_usec")
                    .map(|us| us * 1000)
                    .ok_or_else(|| {
                        SandboxError::cg("parse", &p, std::io::ErrorKind::InvalidData.into())
                    })
            }
        }
    }

    /// How many times the kernel OOM-killed a task of this sandbox.
    pub fn oom_kills(&self) -> u64 {
        let dir = self.plan.dir(&self.plan.memory, &self.id);
        let (file, key) = match self.plan.memory {
            Where::V1(_) => ("memory.oom_control", "oom_kill"),
            Where::V2 => ("memory.events", "oom_kill"),
        };
        self.fs
            .read(&dir.join(file))
            .ok()
            .and_then(|t| keyed(&t, key))
            .unwrap_or(0)
    }

    /// v1 only: the `memory.oom_control` file to arm an eventfd on (cgroup.event_control).
    pub fn v1_oom_control(&self) -> Option<(PathBuf, PathBuf)> {
        match self.plan.memory {
            Where::V1(_) => {
                let dir = self.plan.dir(&self.plan.memory, &self.id);
                Some((
                    dir.join("memory.oom_control"),
                    dir.join("cgroup.event_control"),
                ))
            }
            Where::V2 => None,
        }
    }

    /// The sandbox id (the cgroup directory name).
    pub fn id(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests;
