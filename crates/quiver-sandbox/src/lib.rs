//! Execution-environment sandboxes: a single-threaded spawner clones each sandbox into
//! new pid/mount/ipc/uts/net namespaces with a tiny init as PID 1, a minimal read-only
//! root, a non-root identity without capabilities, and cgroup limits (v1, v2 or hybrid).
//!
//! The only crate of the workspace with `unsafe`; every block says why it is sound.
//!
//! Public API (what the engine and `quiver serve` use):
//! - [`Manager::start`]`(ManagerConfig)` inside a tokio runtime; [`Manager::create`]`(SandboxSpec)`;
//!   [`Manager::create_premade`]`(PremadeSpec)` then [`Sandbox::assign`]`(Assignment)` (pre-made sandboxes);
//!   [`Manager::shutdown`]; [`Manager::instance_id`].
//! - [`Sandbox`]: `id`, `init_pid`, `take_stdout`/`take_stderr` (pipe read ends),
//!   `listen_tcp` (a listener inside the sandbox's netns), `wait` → [`ExitReport`],
//!   `freeze`/`thaw`/`apply_cpu_quota`, `memory_peak_bytes`/`cpu_usage_ns`, `destroy`.
//! - [`run_spawner`]: body of the hidden `quiver __spawner --fd N` verb (no tokio!).

pub mod cgroup;
mod error;
mod identity;
mod image_root;
mod init;
mod manager;
mod netns;
mod oom;
mod preflight;
mod premade;
mod proto;
mod rootfs;
mod sandbox;
mod spawner;
mod spec;

pub use error::SandboxError;
pub use image_root::ETC_FILES;
pub use manager::{instance_id_for, Manager, ManagerConfig};
pub use premade::{is_code_name, Assignment, PremadeSpec};
pub use rootfs::{SANDBOX_GID, SANDBOX_UID, SANDBOX_USER};
pub use sandbox::{Sandbox, STOP_GRACE};
pub use spec::{ExitReport, SandboxSpec};

/// Body of `quiver __spawner --fd N`: serve spawn requests on the inherited socket `fd`
/// until the server's end closes. Must run in a single-threaded process without tokio.
pub fn run_spawner(fd: std::os::fd::RawFd) -> Result<(), SandboxError> {
    use std::os::fd::FromRawFd;
    let st = nix::sys::stat::fstat(fd)
        .map_err(|e| SandboxError::io(format!("spawner fd {fd}"), e.into()))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(SandboxError::Spawner(format!("fd {fd} is not a socket")));
    }
    // SAFETY: fd was inherited from the Manager for us alone and is a socket (checked).
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // Close-on-exec so no sandbox or later child inherits the Manager's socket.
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    spawner::run(sock)
}
