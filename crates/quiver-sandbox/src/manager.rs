//! The server-side owner of all sandboxes of one quiver instance (one data dir).
//!
//! `Manager::start` checks the host, locks the data dir, sweeps what a crashed
//! predecessor of *this* instance left behind, and starts the spawner. It must be
//! called inside a tokio runtime (it registers the spawner socket with the reactor).

use crate::cgroup::{Instance, Layout, RealCgroupFs};
use crate::proto::{self, Event, Request, SpawnRequest};
use crate::sandbox::{Sandbox, Shared};
use crate::spec::SandboxSpec;
use crate::{preflight, SandboxError};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};

/// How to start a [`Manager`].
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// The server's data dir. Its canonical path names the instance (cgroups) and
    /// holds scratch files under `sandboxes/`.
    pub data_dir: PathBuf,
    /// The quiver binary, re-executed as `quiver __spawner --fd 3`
    /// (normally `std::env::current_exe()`).
    pub spawner_exe: PathBuf,
}

/// What the spawner said about one spawn request.
pub(crate) type SpawnReply = Result<(i32, Vec<OwnedFd>), String>;

/// Raw end of a sandbox, as the spawner saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawExit {
    pub init_status: i32,
    pub runtime_status: Option<i32>,
}

/// Per-sandbox channels the reader task feeds.
pub(crate) struct Slot {
    pub ready: watch::Sender<Option<Result<(), String>>>,
    pub exit: watch::Sender<Option<RawExit>>,
}

pub(crate) struct Inner {
    pub instance_id: String,
    pub scratch: PathBuf,
    pub cgroups: Instance,
    sock: AsyncFd<OwnedFd>,
    send_lock: tokio::sync::Mutex<()>,
    pending: Mutex<HashMap<u64, oneshot::Sender<SpawnReply>>>,
    pub slots: Mutex<HashMap<String, Slot>>,
    pub live: Mutex<HashMap<String, Arc<Shared>>>,
    next: AtomicU64,
    spawner: Mutex<Option<std::process::Child>>,
    closed: AtomicBool,
    _lock: std::fs::File,
}

/// Owns the spawner and every sandbox of one instance. `Send + Sync`; share it in an `Arc`.
pub struct Manager {
    inner: Arc<Inner>,
}

/// `quiver-<first 12 hex of sha256(canonical data dir)>`: stable across restarts,
/// distinct between data dirs, so a sweep never touches another server's sandboxes.
pub fn instance_id_for(data_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    format!("quiver-{}", &hex::encode(digest)[..12])
}

impl Manager {
    /// Preflight, lock the data dir, sweep this instance's leftovers, start the spawner.
    pub fn start(cfg: ManagerConfig) -> Result<Manager, SandboxError> {
        preflight::check_privileges()?;
        preflight::check_host_tree()?;
        preflight::check_spawner(&cfg.spawner_exe)?;
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| SandboxError::io(format!("create {}", cfg.data_dir.display()), e))?;
        let data_dir = cfg
            .data_dir
            .canonicalize()
            .map_err(|e| SandboxError::io(format!("canonicalize {}", cfg.data_dir.display()), e))?;
        let instance_id = instance_id_for(&data_dir);
        let lock = lock_data_dir(&data_dir)?;

        let layout = Layout::detect().map_err(|e| SandboxError::io("read cgroup mounts", e))?;
        let cgroups = Instance::open(Arc::new(RealCgroupFs), &layout, &instance_id)?;
        let swept = cgroups.sweep();
        if !swept.is_empty() {
            tracing::warn!(instance = %instance_id, count = swept.len(), "swept leftover sandboxes of a previous run");
        }
        let scratch = data_dir.join("sandboxes");
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)
            .map_err(|e| SandboxError::io(format!("create {}", scratch.display()), e))?;

        let (mine, theirs) = proto::socketpair()?;
        let child = start_spawner(&cfg.spawner_exe, theirs)?;
        nix::fcntl::fcntl(
            mine.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(|e| SandboxError::io("spawner socket", e.into()))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SandboxError::Spawner(
                "Manager::start must be called inside a tokio runtime".into(),
            ));
        }
        // SAFETY: `mine` is an owned, open socket that AsyncFd now owns until drop.
        let sock = unsafe { AsyncFd::register(mine) }.map_err(|e| {
            SandboxError::io(
                "register spawner socket",
                std::io::Error::other(e.to_string()),
            )
        })?;
        tracing::info!(instance = %instance_id, mode = ?layout.mode(), spawner = child.id(), "sandbox manager started");
        let inner = Arc::new(Inner {
            instance_id,
            scratch,
            cgroups,
            sock,
            send_lock: tokio::sync::Mutex::new(()),
            pending: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            spawner: Mutex::new(Some(child)),
            closed: AtomicBool::new(false),
            _lock: lock,
        });
        tokio::spawn(read_events(inner.clone()));
        Ok(Manager { inner })
    }

    /// `quiver-<12 hex>`, the name of this instance's cgroup directories.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// Build a sandbox and start `spec.argv` in it; returns once the runtime was forked.
    pub async fn create(&self, spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        spec.validate()?;
        self.spawn(spec, None).await
    }

    /// Build an empty sandbox (namespaces, cgroups, root; no code, no runtime) that
    /// waits for [`Sandbox::assign`] and then [`Sandbox::release`]. Returns once built.
    /// Dropping or destroying it unassigned ends it at once (init sees the gate close).
    pub async fn create_premade(&self, spec: crate::PremadeSpec) -> Result<Sandbox, SandboxError> {
        spec.validate()?;
        let base = spec.code_base.clone();
        self.spawn(spec.to_spec(), Some(base)).await
    }

    async fn spawn(
        &self,
        spec: SandboxSpec,
        premade_code_base: Option<PathBuf>,
    ) -> Result<Sandbox, SandboxError> {
        let premade = premade_code_base.is_some();
        let inner = &self.inner;
        if inner.closed.load(Ordering::SeqCst) {
            return Err(SandboxError::Spawner("manager is shut down".into()));
        }
        let n = inner.next.fetch_add(1, Ordering::SeqCst);
        let id = format!("sb-{}-{n}", std::process::id());
        let cg = inner.cgroups.sandbox(&id);
        let scratch = inner.scratch.join(&id);
        let root_dir = scratch.join("root");
        {
            let (cg, root_dir, memory) = (cg.clone(), root_dir.clone(), spec.memory_mb);
            tokio::task::spawn_blocking(move || -> Result<(), SandboxError> {
                std::fs::create_dir_all(&root_dir)
                    .map_err(|e| SandboxError::io(format!("create {}", root_dir.display()), e))?;
                if let Err(e) = cg.create(memory) {
                    let _ = cg.remove(std::time::Duration::from_millis(100));
                    return Err(e);
                }
                Ok(())
            })
            .await
            .map_err(|e| SandboxError::Spawner(e.to_string()))??;
        }
        let cleanup = |e: SandboxError| {
            let _ = cg.remove(std::time::Duration::from_millis(500));
            let _ = std::fs::remove_dir_all(&scratch);
            e
        };
        let oom = crate::oom::OomWatch::arm(&cg).map_err(cleanup)?;

        let (ready_tx, mut ready_rx) = watch::channel(None);
        let (exit_tx, exit_rx) = watch::channel(None);
        inner.slots.lock().unwrap().insert(
            id.clone(),
            Slot {
                ready: ready_tx,
                exit: exit_tx,
            },
        );
        let (tx, rx) = oneshot::channel();
        inner.pending.lock().unwrap().insert(n, tx);
        let req = Request::Spawn(SpawnRequest {
            req: n,
            id: id.clone(),
            root_dir,
            procs_files: cg.procs_files(),
            spec: spec.clone(),
            premade_code_base,
        });
        let forget = |e: SandboxError| {
            inner.slots.lock().unwrap().remove(&id);
            inner.pending.lock().unwrap().remove(&n);
            cleanup(e)
        };
        if let Err(e) = self.send(&req).await {
            return Err(forget(e));
        }
        let (init_pid, mut fds) = match rx.await {
            Ok(Ok(v)) => v,
            Ok(Err(msg)) => return Err(forget(SandboxError::Spawner(msg))),
            Err(_) => return Err(forget(SandboxError::Spawner("spawner exited".into()))),
        };
        let want = if spec.hold { 4 } else { 3 };
        if fds.len() != want {
            return Err(forget(SandboxError::Spawner(format!(
                "expected {want} fds, got {}",
                fds.len()
            ))));
        }
        let gate = if spec.hold { fds.pop() } else { None };
        let pidfd = fds.pop().unwrap();
        let stderr = fds.pop();
        let stdout = fds.pop();
        let shared = Arc::new(Shared::new(
            id.clone(),
            init_pid,
            spec.memory_mb,
            cg,
            pidfd,
            exit_rx,
            scratch,
            Arc::downgrade(&self.inner),
        ));
        inner
            .live
            .lock()
            .unwrap()
            .insert(id.clone(), shared.clone());
        if let Some(w) = oom {
            tokio::spawn(w.run(shared.clone()));
        }
        let sandbox = Sandbox::new(shared, stdout, stderr, gate, premade);
        // Wait for init to report that the root is built and the runtime forked.
        let ready = loop {
            if let Some(r) = ready_rx.borrow_and_update().clone() {
                break r;
            }
            if ready_rx.changed().await.is_err() {
                break Err("spawner gone before the sandbox was ready".into());
            }
        };
        match ready {
            Ok(()) => Ok(sandbox),
            Err(msg) => {
                let _ = sandbox.destroy().await;
                Err(SandboxError::Setup(msg))
            }
        }
    }

    /// Stop every sandbox (SIGTERM, 2 s grace, kill), remove cgroups and scratch
    /// files, stop the spawner. Idempotent.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        let all: Vec<Arc<Shared>> = inner.live.lock().unwrap().values().cloned().collect();
        let mut set = tokio::task::JoinSet::new();
        for s in all {
            set.spawn(async move { s.stop().await });
        }
        while set.join_next().await.is_some() {}
        // EOF on its socket makes the spawner kill anything left and exit.
        let _ = nix::sys::socket::shutdown(
            inner.sock.get_ref().as_raw_fd(),
            nix::sys::socket::Shutdown::Both,
        );
        let child = inner.spawner.lock().unwrap().take();
        if let Some(mut child) = child {
            let _ = tokio::task::spawn_blocking(move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if std::time::Instant::now() > deadline => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                        Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
                    }
                }
            })
            .await;
        }
        inner.cgroups.sweep();
        inner.cgroups.remove();
        let _ = std::fs::remove_dir_all(&inner.scratch);
    }

    /// Sandboxes currently alive (for metrics and tests).
    pub fn live_count(&self) -> usize {
        self.inner.live.lock().unwrap().len()
    }

    /// This instance's cgroup directories in every hierarchy.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.inner.cgroups.dirs()
    }

    async fn send(&self, req: &Request) -> Result<(), SandboxError> {
        let _guard = self.inner.send_lock.lock().await;
        loop {
            let mut ready = self
                .inner
                .sock
                .writable()
                .await
                .map_err(|e| SandboxError::io("spawner socket", e))?;
            match proto::send(self.inner.sock.get_ref().as_raw_fd(), req, &[]) {
                Err(SandboxError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::WouldBlock =>
                {
                    ready.clear_ready();
                }
                other => return other,
            }
        }
    }
}

fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, SandboxError> {
    let path = data_dir.join("sandboxes.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| SandboxError::io(format!("open {}", path.display()), e))?;
    // SAFETY: flock on an fd we own; released when the file closes (even on kill -9).
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(SandboxError::Locked(path));
    }
    Ok(file)
}

fn start_spawner(exe: &Path, sock: OwnedFd) -> Result<std::process::Child, SandboxError> {
    use std::os::unix::process::CommandExt;
    let fd = sock.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["__spawner", "--fd", "3"])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    // SAFETY: between fork and exec only dup2/fcntl (async-signal-safe) run.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| SandboxError::io(format!("start spawner {}", exe.display()), e))?;
    drop(sock);
    Ok(child)
}

/// Dispatch spawner events until its socket closes.
async fn read_events(inner: Arc<Inner>) {
    let mut buf = vec![0u8; proto::MAX_MSG];
    loop {
        let mut guard = match inner.sock.readable().await {
            Ok(g) => g,
            Err(_) => break,
        };
        let got = proto::recv::<Event>(inner.sock.get_ref().as_raw_fd(), &mut buf);
        match got {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                guard.clear_ready();
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                tracing::error!(error = %e, "bad message from spawner");
                continue;
            }
            Err(_) | Ok(None) => break,
            Ok(Some((ev, fds))) => dispatch(&inner, ev, fds),
        }
    }
    // The spawner is gone: everything it ran was killed with it.
    if !inner.closed.load(Ordering::SeqCst) {
        tracing::error!("sandbox spawner exited; all sandboxes are gone");
    }
    inner.pending.lock().unwrap().clear();
    for (_, slot) in inner.slots.lock().unwrap().drain() {
        slot.ready.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(Err("spawner exited".into()));
                true
            } else {
                false
            }
        });
        slot.exit.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(RawExit {
                    init_status: libc::SIGKILL,
                    runtime_status: None,
                });
                true
            } else {
                false
            }
        });
    }
}

fn dispatch(inner: &Inner, ev: Event, fds: Vec<OwnedFd>) {
    match ev {
        Event::Spawned { req, init_pid, .. } => {
            if let Some(tx) = inner.pending.lock().unwrap().remove(&req) {
                let _ = tx.send(Ok((init_pid, fds)));
            }
        }
        Event::SpawnFailed { req, error } => {
            if let Some(tx) = inner.pending.lock().unwrap().remove(&req) {
                let _ = tx.send(Err(error));
            }
        }
        Event::Ready { id } => {
            if let Some(slot) = inner.slots.lock().unwrap().get(&id) {
                let _ = slot.ready.send(Some(Ok(())));
            }
        }
        Event::SetupFailed { id, error } => {
            // After `Ready` (a pre-made sandbox's assignment failed) the exit report
            // carries the reason.
            if let Some(s) = inner.live.lock().unwrap().get(&id) {
                *s.setup_error.lock().unwrap() = Some(error.clone());
            }
            if let Some(slot) = inner.slots.lock().unwrap().get(&id) {
                let _ = slot.ready.send(Some(Err(error)));
            }
        }
        Event::Exited {
            id,
            init_status,
            runtime_status,
        } => {
            if let Some(slot) = inner.slots.lock().unwrap().remove(&id) {
                slot.ready.send_if_modified(|v| {
                    if v.is_none() {
                        *v = Some(Err("sandbox init exited during setup".into()));
                        true
                    } else {
                        false
                    }
                });
                let _ = slot.exit.send(Some(RawExit {
                    init_status,
                    runtime_status,
                }));
            }
        }
    }
}
