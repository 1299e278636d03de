//! OOM in cgroup v1: the kernel kills one task; we kill the rest of the sandbox.
//!
//! An eventfd armed through `cgroup.event_control` on `memory.oom_control` wakes a
//! tokio task, which marks the sandbox as OOM-killed and kills its whole cgroup.
//! (cgroup2 needs none of this: `memory.oom.group=1` kills the group in the kernel.)

use crate::cgroup::SandboxCgroup;
use crate::sandbox::Shared;
use crate::SandboxError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;

pub(crate) struct OomWatch {
    efd: AsyncFd<OwnedFd>,
    _control: std::fs::File,
}

impl OomWatch {
    /// Arm the notification (v1 only; `None` on cgroup2).
    pub fn arm(cg: &SandboxCgroup) -> Result<Option<OomWatch>, SandboxError> {
        let Some((oom_control, event_control)) = cg.v1_oom_control() else {
            return Ok(None);
        };
        // SAFETY: eventfd(2) with constant flags returns a new fd or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(SandboxError::io("eventfd", std::io::Error::last_os_error()));
        }
        // SAFETY: we own the fresh descriptor.
        let efd = unsafe { OwnedFd::from_raw_fd(raw) };
        let control = std::fs::File::open(&oom_control)
            .map_err(|e| SandboxError::cg("open", &oom_control, e))?;
        std::fs::write(
            &event_control,
            format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()),
        )
        .map_err(|e| SandboxError::cg("write", &event_control, e))?;
        // SAFETY: `efd` is an owned, open eventfd that AsyncFd now owns until drop.
        let efd = unsafe { AsyncFd::register(efd) }.map_err(|e| {
            SandboxError::io("register eventfd", std::io::Error::other(e.to_string()))
        })?;
        Ok(Some(OomWatch {
            efd,
            _control: control,
        }))
    }

    /// Until the sandbox ends: on OOM, kill everything in it.
    pub async fn run(self, shared: Arc<Shared>) {
        tokio::select! {
            _ = shared.wait() => {}
            fired = self.efd.readable() => {
                if let Ok(mut g) = fired {
                    let mut buf = [0u8; 8];
                    let _ = nix::unistd::read(self.efd.get_ref().as_raw_fd(), &mut buf);
                    g.clear_ready();
                    // The eventfd also fires when the cgroup is removed; only a real
                    // OOM kill counts.
                    if shared.cgroup.oom_kills() > 0 {
                        shared.oom_seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        tracing::info!(sandbox = %shared.id, "out of memory: killing the sandbox");
                        let cg = shared.cgroup.clone();
                        let _ = tokio::task::spawn_blocking(move || cg.kill_all()).await;
                        let _ = shared.signal(libc::SIGKILL);
                    }
                }
            }
        }
    }
}
