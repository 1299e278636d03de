//! Refuse clearly on hosts where sandboxes cannot work, naming exactly what is missing.

use crate::SandboxError;
use std::path::Path;

/// Root is required (an unprivileged user-namespace mode is not implemented yet).
pub fn check_privileges() -> Result<(), SandboxError> {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        return Ok(());
    }
    let userns = [
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/user/max_user_namespaces",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ]
    .iter()
    .filter_map(|p| {
        std::fs::read_to_string(p)
            .ok()
            .map(|v| format!("{p}={}", v.trim()))
    })
    .collect::<Vec<_>>();
    let userns = if userns.is_empty() {
        "no user-namespace sysctls found".to_string()
    } else {
        userns.join(", ")
    };
    Err(SandboxError::Unsupported(format!(
        "quiver needs root to create sandboxes (an unprivileged user-namespace mode is not implemented): running as uid {uid}; {userns}"
    )))
}

/// The spawner binary must exist and be executable.
pub fn check_spawner(exe: &Path) -> Result<(), SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(exe) {
        Ok(md) if md.is_file() && md.permissions().mode() & 0o111 != 0 => Ok(()),
        _ => Err(SandboxError::Unsupported(format!(
            "spawner executable {} is missing or not executable",
            exe.display()
        ))),
    }
}

/// `/usr` must exist to be bound (the only host tree every runtime needs).
pub fn check_host_tree() -> Result<(), SandboxError> {
    if Path::new("/usr/bin").is_dir() {
        Ok(())
    } else {
        Err(SandboxError::Unsupported(
            "/usr/bin is missing: nothing to bind into sandboxes".into(),
        ))
    }
}
