//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong creating, driving or tearing down a sandbox.
/// Messages name what is missing so an operator can act on them.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The host cannot run sandboxes at all (preflight).
    #[error("{0}")]
    Unsupported(String),
    /// Another live process already manages sandboxes for this data dir.
    #[error("another quiver instance holds {0} (sandboxes for this data dir are already managed)")]
    Locked(PathBuf),
    /// A cgroup file could not be written or read.
    #[error("cgroup {op} {path}: {source}")]
    Cgroup {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A v1 freeze did not reach FROZEN before its deadline.
    #[error("freezing {0} timed out")]
    FreezeTimeout(PathBuf),
    /// The spawner process died or answered nonsense.
    #[error("sandbox spawner: {0}")]
    Spawner(String),
    /// The sandbox's init failed while building the environment.
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    /// An invalid spec (relative paths, NUL bytes, …).
    #[error("invalid sandbox spec: {0}")]
    Spec(String),
    /// The sandbox already ended.
    #[error("sandbox {0} is not running")]
    NotRunning(String),
    /// Other I/O.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }
    pub(crate) fn cg(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        SandboxError::Cgroup {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
