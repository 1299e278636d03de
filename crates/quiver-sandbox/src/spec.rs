//! What a sandbox runs and how it ended: plain data shared by the Manager, the
//! spawner protocol and the CLI.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything needed to build one sandbox and start its runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// cgroup memory limit (swap off); CPU weight and quota follow it.
    pub memory_mb: u32,
    /// Size of the writable `/tmp`.
    pub ephemeral_mb: u32,
    /// Host directory shown read-only at `/var/task`.
    pub code_dir: PathBuf,
    /// Extra host paths (runtime installs outside /usr) bound read-only at the same path.
    pub extra_ro_binds: Vec<PathBuf>,
    /// The runtime's command line; `argv[0]` without `/` is searched in the spec's PATH.
    pub argv: Vec<String>,
    /// The runtime's entire environment (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Working directory inside the sandbox, normally `/var/task`.
    pub cwd: String,
    /// UTS hostname inside the sandbox.
    pub hostname: String,
    /// Host directory shown read-only at `/var/runtime` (the platform's bootstraps).
    #[serde(default)]
    pub runtime_dir: Option<PathBuf>,
    /// A runtime image's unpacked root, shown read-only as `/` instead of the host's
    /// `/usr` (docs/sandbox.md §15); None: the host's.
    #[serde(default)]
    pub image_root: Option<PathBuf>,
    /// Build the sandbox but start the runtime only at [`crate::Sandbox::release`], so
    /// the host can first open listeners inside it (the Runtime API must be there
    /// before the runtime's first request).
    #[serde(default)]
    pub hold: bool,
    /// Host directory shown read-only at `/opt` (a function's merged layers); `None`
    /// leaves `/opt` an empty directory.
    #[serde(default)]
    pub opt_dir: Option<std::path::PathBuf>,
}

impl SandboxSpec {
    /// Reject what cannot work before any kernel object exists.
    pub fn validate(&self) -> Result<(), crate::SandboxError> {
        let bad = |m: String| Err(crate::SandboxError::Spec(m));
        if self.argv.is_empty() {
            return bad("argv is empty".into());
        }
        check_limits_and_dirs(
            self.memory_mb,
            self.ephemeral_mb,
            ("code_dir", &self.code_dir),
            self.runtime_dir.as_deref(),
        )?;
        if let Some(p) = &self.opt_dir {
            if !p.is_absolute() || !p.is_dir() {
                return bad(format!(
                    "opt_dir {} is not an absolute directory",
                    p.display()
                ));
            }
        }
        for p in &self.extra_ro_binds {
            if !p.is_absolute() || !p.exists() {
                return bad(format!(
                    "extra bind {} is not an existing absolute path",
                    p.display()
                ));
            }
        }
        if let Some(root) = &self.image_root {
            if !root.is_absolute() || !root.is_dir() {
                return bad(format!(
                    "image root {} is not an absolute directory",
                    root.display()
                ));
            }
        }
        if !self.cwd.starts_with('/') {
            return bad(format!("cwd {:?} is not absolute", self.cwd));
        }
        let has_nul = |s: &str| s.contains('\0');
        if self.argv.iter().any(|a| has_nul(a))
            || self
                .env
                .iter()
                .any(|(k, v)| has_nul(k) || has_nul(v) || k.contains('=') || k.is_empty())
            || has_nul(&self.hostname)
        {
            return bad("NUL byte or malformed environment name".into());
        }
        if self.hostname.is_empty() || self.hostname.len() > 64 {
            return bad("hostname must be 1..=64 bytes".into());
        }
        Ok(())
    }
}

/// The checks every sandbox (built for a function or pre-made) passes before any kernel
/// object exists: sane limits, and the directories it binds exist as absolute paths.
pub(crate) fn check_limits_and_dirs(
    memory_mb: u32,
    ephemeral_mb: u32,
    code: (&str, &std::path::Path),
    runtime_dir: Option<&std::path::Path>,
) -> Result<(), crate::SandboxError> {
    let bad = |m: String| Err(crate::SandboxError::Spec(m));
    if memory_mb < 16 {
        return bad(format!("memory_mb {memory_mb} is below 16"));
    }
    if ephemeral_mb == 0 {
        return bad("ephemeral_mb is 0".into());
    }
    for (what, p) in std::iter::once(code).chain(runtime_dir.map(|p| ("runtime_dir", p))) {
        if !p.is_absolute() || !p.is_dir() {
            return bad(format!(
                "{what} {} is not an absolute directory",
                p.display()
            ));
        }
    }
    Ok(())
}

/// How a sandbox's runtime ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitReport {
    /// Lambda's wording: "exit status 3", "signal: killed".
    pub description: String,
    /// The runtime's exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it (or ended init, which kills everything).
    pub signal: Option<i32>,
    /// The kernel OOM killer fired in this sandbox's memory cgroup.
    pub oom_killed: bool,
    /// Set when the environment never started (setup failed inside init).
    pub setup_error: Option<String>,
}

impl ExitReport {
    /// From a raw `wait(2)` status.
    pub fn from_wait_status(status: i32, oom_killed: bool) -> ExitReport {
        if libc::WIFEXITED(status) {
            let code = libc::WEXITSTATUS(status);
            ExitReport {
                description: format!("exit status {code}"),
                exit_code: Some(code),
                signal: None,
                oom_killed,
                setup_error: None,
            }
        } else {
            let sig = if libc::WIFSIGNALED(status) {
                libc::WTERMSIG(status)
            } else {
                libc::SIGKILL
            };
            Self::from_signal(sig, oom_killed)
        }
    }

    pub fn from_signal(sig: i32, oom_killed: bool) -> ExitReport {
        ExitReport {
            description: format!("signal: {}", signal_name(sig)),
            exit_code: None,
            signal: Some(sig),
            oom_killed,
            setup_error: None,
        }
    }

    /// The code a CLI wrapper should exit with (128+signal like a shell).
    pub fn shell_code(&self) -> i32 {
        self.exit_code
            .unwrap_or_else(|| 128 + self.signal.unwrap_or(libc::SIGKILL))
    }
}

/// Go's `os.ProcessState` wording, which Lambda's messages use.
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGHUP => "hangup".into(),
        libc::SIGBUS => "bus error".into(),
        libc::SIGFPE => "floating point exception".into(),
        libc::SIGILL => "illegal instruction".into(),
        libc::SIGPIPE => "broken pipe".into(),
        libc::SIGQUIT => "quit".into(),
        libc::SIGTRAP => "trace/breakpoint trap".into(),
        libc::SIGUSR1 => "user defined signal 1".into(),
        libc::SIGUSR2 => "user defined signal 2".into(),
        libc::SIGALRM => "alarm clock".into(),
        libc::SIGXCPU => "CPU time limit exceeded".into(),
        libc::SIGSYS => "bad system call".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_dirs_are_checked() {
        use std::path::Path;
        let tmp = std::env::temp_dir();
        assert!(check_limits_and_dirs(128, 512, ("code_dir", &tmp), None).is_ok());
        assert!(check_limits_and_dirs(8, 512, ("code_dir", &tmp), None).is_err());
        assert!(check_limits_and_dirs(128, 0, ("code_dir", &tmp), None).is_err());
        let e = check_limits_and_dirs(128, 512, ("code_base", Path::new("relative")), None)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("code_base relative is not an absolute directory"),
            "{e}"
        );
        let e = check_limits_and_dirs(
            128,
            512,
            ("code_dir", &tmp),
            Some(Path::new("/nonexistent-quiver")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("runtime_dir"), "{e}");
    }

    #[test]
    fn lambda_wording() {
        assert_eq!(
            ExitReport::from_wait_status(3 << 8, false).description,
            "exit status 3"
        );
        let k = ExitReport::from_wait_status(libc::SIGKILL, true);
        assert_eq!(k.description, "signal: killed");
        assert!(k.oom_killed);
        assert_eq!(k.shell_code(), 137);
        assert_eq!(
            ExitReport::from_signal(libc::SIGTERM, false).description,
            "signal: terminated"
        );
    }
}
