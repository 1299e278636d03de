//! One running sandbox, as the server sees it.

use crate::cgroup::SandboxCgroup;
use crate::manager::{Inner, RawExit};
use crate::spec::ExitReport;
use crate::SandboxError;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// SIGTERM grace before the sandbox is killed (Lambda gives extensions 2 s too).
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// State shared by the [`Sandbox`] handle, the OOM watcher and Manager shutdown.
pub(crate) struct Shared {
    pub id: String,
    pub init_pid: i32,
    /// Current memory limit (a pre-made sandbox's changes at assignment).
    pub memory_mb: std::sync::atomic::AtomicU32,
    pub cgroup: SandboxCgroup,
    pidfd: OwnedFd,
    exit: watch::Receiver<Option<RawExit>>,
    report: OnceLock<ExitReport>,
    stop: tokio::sync::Mutex<bool>,
    scratch: PathBuf,
    manager: Weak<Inner>,
    pub oom_seen: std::sync::atomic::AtomicBool,
    pub setup_error: Mutex<Option<String>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        init_pid: i32,
        memory_mb: u32,
        cgroup: SandboxCgroup,
        pidfd: OwnedFd,
        exit: watch::Receiver<Option<RawExit>>,
        scratch: PathBuf,
        manager: Weak<Inner>,
    ) -> Shared {
        Shared {
            id,
            init_pid,
            memory_mb: memory_mb.into(),
            cgroup,
            pidfd,
            exit,
            report: OnceLock::new(),
            stop: tokio::sync::Mutex::new(false),
            scratch,
            manager,
            oom_seen: Default::default(),
            setup_error: Mutex::new(None),
        }
    }

    pub fn exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// Signal init through its pidfd (immune to pid reuse).
    pub fn signal(&self, sig: i32) -> std::io::Result<()> {
        // SAFETY: pidfd_send_signal on a pidfd we own, no siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig,
                0usize,
                0u32,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    pub async fn wait(&self) -> ExitReport {
        let mut rx = self.exit.clone();
        let raw = loop {
            if let Some(raw) = *rx.borrow_and_update() {
                break raw;
            }
            if rx.changed().await.is_err() {
                break RawExit {
                    init_status: libc::SIGKILL,
                    runtime_status: None,
                };
            }
        };
        self.report.get_or_init(|| self.build_report(raw)).clone()
    }

    fn build_report(&self, raw: RawExit) -> ExitReport {
        let oom =
            self.oom_seen.load(std::sync::atomic::Ordering::SeqCst) || self.cgroup.oom_kills() > 0;
        if let Some(status) = raw.runtime_status {
            return ExitReport::from_wait_status(status, oom);
        }
        if libc::WIFSIGNALED(raw.init_status) {
            return ExitReport::from_signal(libc::WTERMSIG(raw.init_status), oom);
        }
        let mut r = ExitReport::from_wait_status(raw.init_status, oom);
        r.setup_error = self.setup_error.lock().unwrap().clone();
        r
    }

    async fn wait_timeout(&self, d: Duration) -> Option<ExitReport> {
        tokio::time::timeout(d, self.wait()).await.ok()
    }

    /// SIGTERM (forwarded by init to the runtime), grace, kill; then remove cgroups
    /// and scratch files. Idempotent; concurrent callers wait for the first.
    pub async fn stop(&self) -> ExitReport {
        let mut done = self.stop.lock().await;
        if !*done {
            if !self.exited() {
                let cg = self.cgroup.clone();
                let _ = tokio::task::spawn_blocking(move || cg.thaw()).await;
                let _ = self.signal(libc::SIGTERM);
            }
            if self.wait_timeout(STOP_GRACE).await.is_none() {
                let cg = self.cgroup.clone();
                let _ = tokio::task::spawn_blocking(move || cg.kill_all()).await;
                let _ = self.signal(libc::SIGKILL);
                if self.wait_timeout(Duration::from_secs(5)).await.is_none() {
                    tracing::error!(sandbox = %self.id, "sandbox init did not die after SIGKILL");
                }
            }
            let report = self.wait_timeout(Duration::from_millis(1)).await;
            let cg = self.cgroup.clone();
            let scratch = self.scratch.clone();
            let removed = tokio::task::spawn_blocking(move || {
                let _ = cg.kill_all();
                let r = cg.remove(Duration::from_secs(3));
                let _ = std::fs::remove_dir_all(&scratch);
                r
            })
            .await;
            if let Ok(Err(e)) = removed {
                tracing::warn!(sandbox = %self.id, error = %e, "could not remove sandbox cgroup");
            }
            if let Some(m) = self.manager.upgrade() {
                m.live.lock().unwrap().remove(&self.id);
                m.slots.lock().unwrap().remove(&self.id);
            }
            if report.is_none() {
                let _ = self
                    .report
                    .set(ExitReport::from_signal(libc::SIGKILL, false));
            }
            *done = true;
        }
        self.report
            .get()
            .cloned()
            .unwrap_or_else(|| ExitReport::from_signal(libc::SIGKILL, false))
    }
}

/// A running sandbox. Dropping it without [`destroy`](Sandbox::destroy) still tears it
/// down in the background (when a tokio runtime is available).
pub struct Sandbox {
    shared: std::sync::Arc<Shared>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// Write end of the start gate of a held sandbox (`SandboxSpec::hold`).
    gate: Option<OwnedFd>,
    /// Built by [`crate::Manager::create_premade`] and not yet assigned.
    awaiting_assignment: bool,
}

impl Sandbox {
    pub(crate) fn new(
        shared: std::sync::Arc<Shared>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        gate: Option<OwnedFd>,
        premade: bool,
    ) -> Sandbox {
        Sandbox {
            shared,
            stdout,
            stderr,
            gate,
            awaiting_assignment: premade,
        }
    }

    /// Whether this is a pre-made sandbox still waiting for [`assign`](Self::assign).
    pub fn awaiting_assignment(&self) -> bool {
        self.awaiting_assignment
    }

    /// Makes a pre-made sandbox the sandbox of one function: sets its cgroup's memory
    /// limit and CPU weight first (so nothing of the function ever runs under the
    /// empty sandbox's limits), then writes the assignment to the gate; init then
    /// shows the code tree at `/var/task`, drops the code base, resizes `/tmp`. The
    /// runtime still starts only at [`release`](Self::release), so the host can open
    /// its listeners in between. Blocking but sub-millisecond (a few cgroup writes and
    /// one pipe write).
    pub fn assign(&mut self, a: &crate::Assignment) -> Result<(), SandboxError> {
        if !self.awaiting_assignment {
            return Err(SandboxError::Spec(format!(
                "sandbox {} is not a pre-made sandbox awaiting assignment",
                self.shared.id
            )));
        }
        a.validate()?;
        if self.shared.exited() {
            return Err(SandboxError::NotRunning(self.shared.id.clone()));
        }
        let wire = a.encode()?;
        let old = self
            .shared
            .memory_mb
            .load(std::sync::atomic::Ordering::SeqCst);
        self.shared.cgroup.resize(old, a.memory_mb)?;
        self.shared
            .memory_mb
            .store(a.memory_mb, std::sync::atomic::Ordering::SeqCst);
        let gate = self
            .gate
            .as_ref()
            .ok_or_else(|| SandboxError::NotRunning(self.shared.id.clone()))?;
        let mut sent = 0;
        while sent < wire.len() {
            match nix::unistd::write(gate, &wire[sent..]) {
                Ok(n) => sent += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    return Err(SandboxError::io(
                        "write the assignment to the sandbox's gate",
                        e.into(),
                    ))
                }
            }
        }
        self.awaiting_assignment = false;
        Ok(())
    }

    /// Starts the runtime of a held sandbox (`SandboxSpec::hold`). A no-op otherwise
    /// or when already released.
    pub fn release(&mut self) -> Result<(), SandboxError> {
        if self.awaiting_assignment {
            return Err(SandboxError::Spec(format!(
                "pre-made sandbox {} was released before its assignment",
                self.shared.id
            )));
        }
        if let Some(gate) = self.gate.take() {
            nix::unistd::write(&gate, b"G")
                .map_err(|e| SandboxError::io("release the sandbox's runtime", e.into()))?;
        }
        Ok(())
    }

    /// Unique id (also the cgroup directory name).
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Host pid of the sandbox's init (PID 1 inside).
    pub fn init_pid(&self) -> i32 {
        self.shared.init_pid
    }

    /// Read end of the runtime's stdout pipe. Wrap it with
    /// `tokio::net::unix::pipe::Receiver::from_owned_fd` to read lines asynchronously.
    pub fn take_stdout(&mut self) -> Option<OwnedFd> {
        self.stdout.take()
    }

    /// Read end of the runtime's stderr pipe.
    pub fn take_stderr(&mut self) -> Option<OwnedFd> {
        self.stderr.take()
    }

    /// A TCP listener bound inside the sandbox's network namespace (e.g. the Runtime
    /// API on 127.0.0.1:9001). Non-blocking; hand it to `tokio::net::TcpListener::from_std`.
    /// The listener keeps the namespace alive: drop it when the sandbox ends.
    pub fn listen_tcp(&self, addr: SocketAddr) -> Result<std::net::TcpListener, SandboxError> {
        if self.shared.exited() {
            return Err(SandboxError::NotRunning(self.shared.id.clone()));
        }
        crate::netns::listen_in(self.shared.init_pid, addr)
    }

    /// Wait until the runtime (and with it the sandbox) ended.
    pub async fn wait(&self) -> ExitReport {
        self.shared.wait().await
    }

    /// Whether the sandbox already ended.
    pub fn has_exited(&self) -> bool {
        self.shared.exited()
    }

    /// Freeze every task (cgroup2 `cgroup.freeze` where available, else the v1 freezer
    /// with a 1 s deadline). Blocking, sub-millisecond on cgroup2.
    pub fn freeze(&self) -> Result<(), SandboxError> {
        self.shared.cgroup.freeze()
    }

    pub fn thaw(&self) -> Result<(), SandboxError> {
        self.shared.cgroup.thaw()
    }

    /// Apply the hard CPU quota (memory/1769 of a CPU, 20 ms period). The engine
    /// calls this after INIT, i.e. at the runtime's first `/next`.
    pub fn apply_cpu_quota(&self) -> Result<(), SandboxError> {
        self.shared.cgroup.apply_cpu_quota(
            self.shared
                .memory_mb
                .load(std::sync::atomic::Ordering::SeqCst),
        )
    }

    /// Peak memory of the sandbox's cgroup, for REPORT's "Max Memory Used".
    pub fn memory_peak_bytes(&self) -> Result<u64, SandboxError> {
        self.shared.cgroup.memory_peak_bytes()
    }

    /// CPU time used by every task of the sandbox, in nanoseconds.
    pub fn cpu_usage_ns(&self) -> Result<u64, SandboxError> {
        self.shared.cgroup.cpu_usage_ns()
    }

    /// The memory cgroup directory (for reports and debugging).
    pub fn cgroup_path(&self) -> PathBuf {
        self.shared.cgroup.display_path()
    }

    /// Send a signal to the sandbox's init, which forwards it to the runtime.
    pub fn signal(&self, sig: i32) -> Result<(), SandboxError> {
        self.shared
            .signal(sig)
            .map_err(|e| SandboxError::io("signal sandbox init", e))
    }

    /// SIGTERM, 2 s grace, kill, cgroup rmdir, scratch cleanup; the runtime's end.
    pub async fn destroy(mut self) -> Result<ExitReport, SandboxError> {
        self.stdout = None;
        self.stderr = None;
        self.gate = None;
        Ok(self.shared.stop().await)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            handle.spawn(async move {
                shared.stop().await;
            });
        }
    }
}
